using Singularity.Engine;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// With <see cref="TransferOptions.ListSent"/>, as with rsync -v, the result names each file that travelled, once,
/// whatever the attempts; and <see cref="TransferOptions.OnFileSent"/> is told each as it goes, the same ones.
/// </summary>
public sealed class SentListTests
{
    /// <summary>Forty files of 200,000 bytes in four directories of "tree", below temp's "src"; their paths as the receiver names them.</summary>
    private static string[] FortyFiles(TempDirectory temp)
    {
        string[] names = [.. Enumerable.Range(0, 40).Select(i => $"tree/d{i % 4}/f{i:00}.bin")];
        for (int i = 0; i < names.Length; i++) TestFiles.Create(Path.Combine(temp.Path, "src", names[i]), 200_000, seed: i);
        return names;
    }

    /// <summary>A relay to <paramref name="receiver"/> that cuts every connection once, when the lane has carried 3 MiB: one retry, part way.</summary>
    private static TcpRelay CutOnce(LoopbackReceiver receiver)
    {
        var relay = new TcpRelay(receiver.Url);
        relay.CutAllOnce((connection, forwarded) => connection == 1 && forwarded > (3 << 20));
        return relay;
    }

    /// <summary>One lane and a small window, so that the cut comes part way; each file listed, and told to <paramref name="told"/>.</summary>
    private static TransferOptions Listing(System.Collections.Concurrent.ConcurrentQueue<string> told) =>
        new() { ShardSize = 64 << 10, Lanes = 1, MaxInFlightBytes = 1 << 20, Retries = 2, ListSent = true, OnFileSent = told.Enqueue };

    [Fact]
    public async Task Each_file_that_travelled_is_named_once_across_retries()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        string[] names = FortyFiles(temp);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);
        await using var relay = CutOnce(receiver);
        // Without the quick check in the cut send: a file committed just as the cut came, before the sender heard of
        // it, would be found in place by the retry, and counted unchanged rather than sent.
        var told = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var options = Listing(told) with { SkipUnchanged = false };

        var cut = await SingularitySender.SendAsync([tree], relay.Url, options);
        var again = await SingularitySender.SendAsync([tree], relay.Url, options with { SkipUnchanged = true });

        Assert.Equal(1, cut.Retries);
        Assert.Equal(names.Order(StringComparer.Ordinal), cut.Sent.Order(StringComparer.Ordinal));
        Assert.Equal(names.Order(StringComparer.Ordinal), told.Order(StringComparer.Ordinal));
        TestFiles.AssertSameTree(tree, Path.Combine(destination, "tree"));
        Assert.Equal((0, 40), (again.FilesTransferred, again.FilesUnchanged));
        Assert.Empty(again.Sent);
        // Not asked for: nothing is listed.
        Assert.Empty((await SingularitySender.SendAsync([tree], relay.Url, options with { ListSent = false })).Sent);
    }

    /// <summary>
    /// A file an attempt committed, which a retry sends again (named sent before, as with a deletion, and changed at
    /// the receiver meanwhile), is named once, in the result and to <see cref="TransferOptions.OnFileSent"/>.
    /// </summary>
    [Fact]
    public async Task A_file_a_retry_sends_again_is_named_once()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        string[] names = FortyFiles(temp);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);
        await using var relay = CutOnce(receiver);
        var told = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var options = Listing(told) with { SkipUnchanged = true, DeleteExtraneous = true };
        // Between the attempts, every file at the receiver changes: the retry sends again those told (and any
        // committed just as the cut came, before the sender heard of it, which it would otherwise find in place).
        int toldBeforeRetry = 0;
        void Changed(string line)
        {
            if (!line.StartsWith("retry", StringComparison.Ordinal)) return;
            toldBeforeRetry = told.Count;
            foreach (string path in Directory.EnumerateFiles(Path.Combine(destination, "tree"), "*", SearchOption.AllDirectories))
                File.SetLastWriteTimeUtc(path, new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        }

        var result = await SingularitySender.SendAsync([tree], relay.Url, options, progress: null, Changed);

        Assert.Equal(1, result.Retries);
        Assert.True(toldBeforeRetry < names.Length);
        Assert.Equal(names.Order(StringComparer.Ordinal), result.Sent.Order(StringComparer.Ordinal));
        Assert.Equal(names.Order(StringComparer.Ordinal), told.Order(StringComparer.Ordinal));
        TestFiles.AssertSameTree(tree, Path.Combine(destination, "tree"));
    }
}
