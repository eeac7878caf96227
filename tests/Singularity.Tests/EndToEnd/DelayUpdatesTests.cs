using System.Collections.Concurrent;
using Singularity.Engine;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// <see cref="TransferOptions.DelayUpdates"/> (rsync --delay-updates): the files go into place together at the end,
/// so that the destination holds the old version of every file until then; one that cannot go into place then is
/// named as not sent, with its hard links, and the same send again puts it there without its data; a send cut part
/// way leaves nothing half done.
/// </summary>
public sealed class DelayUpdatesTests
{
    private const int Files = 40;

    /// <summary>Forty files of 200,000 bytes (several shards each) and one of 100, below "tree", in four directories; the old versions at the receiver differ from them.</summary>
    private static (string Tree, string Received, string[] Names) Versions(TempDirectory temp)
    {
        string tree = temp.Sub("src/tree"), received = temp.Sub("dst/tree");
        string[] names = [.. Enumerable.Range(0, Files).Select(i => $"d{i % 4}/f{i:00}.bin"), "small"];
        for (int i = 0; i < names.Length; i++)
        {
            TestFiles.Create(Path.Combine(tree, names[i]), i < Files ? 200_000 : 100, seed: i);
            string old = TestFiles.Create(Path.Combine(received, names[i]), i < Files ? 200_000 : 100, seed: 1000 + i);
            File.SetLastWriteTimeUtc(old, new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        }
        return (tree, received, names);
    }

    /// <summary>One lane and a small window, so that the files complete one after another.</summary>
    private static readonly TransferOptions OneByOne = new() { ShardSize = 64 << 10, Lanes = 1, MaxInFlightBytes = 1 << 20, SkipUnchanged = true };

    /// <summary>Reports progress as it comes, on the sender's thread: while files remain, the sender has not finished.</summary>
    private sealed class WhileSending(Action<TransferProgress> report) : IProgress<TransferProgress>
    {
        public void Report(TransferProgress value) => report(value);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Files_go_into_place_together_at_the_end(bool delayed)
    {
        using var temp = new TempDirectory();
        var (tree, received, names) = Versions(temp);
        // The receiver tells the sender it is at work at every file it puts into place, which the sender must take.
        await using var receiver = new LoopbackReceiver(temp.Sub("dst"), adjust: options => options with { StillWorkingInterval = TimeSpan.Zero });
        // Each time files are committed with others still to come: which of the new versions stand at the receiver.
        var seenBeforeTheEnd = new ConcurrentBag<string>();
        int looks = 0;
        var progress = new WhileSending(report =>
        {
            if (report.FilesCommitted == 0 || report.FilesCommitted >= report.TotalFiles) return;
            Interlocked.Increment(ref looks);
            foreach (string name in names)
                if (HasNewVersion(name)) seenBeforeTheEnd.Add(name);
        });

        bool HasNewVersion(string name)
        {
            try
            {
                return File.ReadAllBytes(Path.Combine(received, name)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(tree, name)));
            }
            catch (IOException)
            {
                // Held locked by the receiver just then (a basis it reads): not told apart, as a reader could not.
                return false;
            }
        }

        var result = await SingularitySender.SendAsync([tree], receiver.Url, OneByOne with { DelayUpdates = delayed, ListSent = true }, progress);

        Assert.True(looks > 0, "the send reported no progress part way");
        if (delayed) Assert.Empty(seenBeforeTheEnd);
        else Assert.NotEmpty(seenBeforeTheEnd);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameTree(tree, received);
        Assert.Equal(names.Select(name => "tree/" + name).Order(StringComparer.Ordinal), result.Sent.Order(StringComparer.Ordinal));
        Assert.Empty(Directory.EnumerateFiles(received, "*.sglty-*", SearchOption.AllDirectories));
        // Their times are the source's, though a waiting file's was kept fresh until it went into place.
        foreach (string name in names) Assert.Equal(File.GetLastWriteTimeUtc(Path.Combine(tree, name)), File.GetLastWriteTimeUtc(Path.Combine(received, name)));
    }

    /// <summary>
    /// A file whose name a directory took while it waited is named as not sent, with the hard link to it, and the rest
    /// arrive; the same send again, once the directory is gone, puts it into place, and only its digests travel.
    /// </summary>
    [SkippableFact]
    public async Task A_file_that_cannot_go_into_place_is_named_and_the_same_send_again_places_it()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "hard links are found on Linux senders");
        using var temp = new TempDirectory();
        var (tree, received, names) = Versions(temp);
        Singularity.Engine.Storage.SpecialFiles.Link(Path.Combine(tree, "d1/f05.bin"), Path.Combine(tree, "link"));
        await using var receiver = new LoopbackReceiver(temp.Sub("dst"));
        string victim = Path.Combine(received, "d1/f05.bin");
        int taken = 0;
        var progress = new WhileSending(report =>
        {
            if (report.FilesCommitted == 0 || report.FilesCommitted >= report.TotalFiles || Interlocked.Exchange(ref taken, 1) == 1) return;
            File.Delete(victim);
            TestFiles.Create(Path.Combine(victim, "in the way"), 10, seed: 1);
        });
        var options = OneByOne with { DelayUpdates = true, HardLinks = true, ListSent = true };

        var first = await SingularitySender.SendAsync([tree], receiver.Url, options, progress);

        Assert.Equal(1, taken);
        Assert.Equal(["tree/d1/f05.bin", "tree/link"], first.NotSent.Select(entry => entry.Path).Order(StringComparer.Ordinal));
        Assert.Contains("could not write it", first.NotSent[0].Reason);
        Assert.DoesNotContain("tree/d1/f05.bin", first.Sent);
        Assert.True(Directory.Exists(victim));
        Assert.Equal(names.Length - 1, names.Count(name => File.Exists(Path.Combine(received, name)) && File.ReadAllBytes(Path.Combine(received, name)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(tree, name)))));
        Assert.False(File.Exists(Path.Combine(received, "link")));
        await receiver.NextResultAsync();

        Directory.Delete(victim, recursive: true);
        var again = await SingularitySender.SendAsync([tree], receiver.Url, options);

        Assert.Empty(again.NotSent);
        Assert.Equal(["tree/d1/f05.bin"], again.Sent);
        Assert.True(again.BytesSent < 200_000, $"{again.BytesSent} bytes travelled for a file that waited verified");
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameTree(tree, received);
        Assert.Equal(SpecialFilesIdentity(Path.Combine(received, "d1/f05.bin")), SpecialFilesIdentity(Path.Combine(received, "link")));
    }

    /// <summary>
    /// A send cut part way, after files were verified and before they went into place: the retry puts every one of
    /// them into place (none is taken for committed), and names each sent once.
    /// </summary>
    [Fact]
    public async Task A_send_cut_part_way_puts_every_file_into_place_on_its_retry()
    {
        using var temp = new TempDirectory();
        var (tree, received, names) = Versions(temp);
        await using var receiver = new LoopbackReceiver(temp.Sub("dst"));
        await using var relay = new TcpRelay(receiver.Url);
        relay.CutAllOnce((connection, forwarded) => connection == 1 && forwarded > (3 << 20));
        var told = new ConcurrentQueue<string>();

        var result = await SingularitySender.SendAsync([tree], relay.Url, OneByOne with { DelayUpdates = true, Retries = 2, ListSent = true, OnFileSent = told.Enqueue });

        Assert.Equal(1, result.Retries);
        TestFiles.AssertSameTree(tree, received);
        string[] sent = [.. names.Select(name => "tree/" + name).Order(StringComparer.Ordinal)];
        Assert.Equal(sent, result.Sent.Order(StringComparer.Ordinal));
        Assert.Equal(sent, told.Order(StringComparer.Ordinal));
    }

    /// <summary>
    /// A waiting partial that a local user replaced by a link (to a file of the system's, say) is not followed when it
    /// goes into place: the file fails, named, and what the link leads to keeps its mode and bytes.
    /// </summary>
    [SkippableFact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task A_waiting_partial_replaced_by_a_link_is_refused_and_not_followed()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "partials are opened without following links on Linux");
        using var temp = new TempDirectory();
        var (tree, received, _) = Versions(temp);
        string victim = TestFiles.Create(Path.Combine(temp.Path, "system", "secret"), 100, seed: 9);
        File.SetUnixFileMode(victim, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        byte[] secret = File.ReadAllBytes(victim);
        await using var receiver = new LoopbackReceiver(temp.Sub("dst"));
        string? swapped = null;
        var progress = new WhileSending(report =>
        {
            if (report.FilesCommitted == 0 || report.FilesCommitted >= report.TotalFiles || swapped is not null) return;
            swapped = Directory.EnumerateFiles(received, "*.sglty-part", SearchOption.AllDirectories).First();
            File.Delete(swapped);
            File.CreateSymbolicLink(swapped, victim);
        });

        var result = await SingularitySender.SendAsync([tree], receiver.Url, OneByOne with { DelayUpdates = true }, progress);

        Assert.NotNull(swapped);
        var failed = Assert.Single(result.NotSent);
        Assert.Contains("its partial file was replaced by another program", failed.Reason);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(victim));
        Assert.Equal(secret, File.ReadAllBytes(victim));
        Assert.DoesNotContain(Directory.EnumerateFiles(received, "*", SearchOption.AllDirectories), path => new FileInfo(path).LinkTarget is not null && !path.EndsWith(".sglty-part", StringComparison.Ordinal));
        await receiver.NextResultAsync();
    }

    /// <summary>A receiver keeps at most so much waiting: more ends the session, in words that say what to do.</summary>
    [Fact]
    public async Task Files_waiting_beyond_the_receivers_limit_end_the_session()
    {
        using var temp = new TempDirectory();
        var (tree, received, _) = Versions(temp);
        await using var receiver = new LoopbackReceiver(temp.Sub("dst"), new TransferOptions { Limits = new ProtocolLimits { MaxDelayedBytes = 8 << 10 } });

        var refused = await Assert.ThrowsAnyAsync<SingularityException>(() => SingularitySender.SendAsync([tree], receiver.Url, OneByOne with { DelayUpdates = true, Retries = 0 }));

        Assert.Equal(ErrorCode.LimitExceeded, refused.Code);
        Assert.Contains("the files waiting to go into place at the end (--delay-updates) would take more than 8", refused.Message);
        // Nothing went into place: the old versions stand.
        Assert.Equal(Files + 1, Directory.EnumerateFiles(received, "*", SearchOption.AllDirectories).Count(path => !Path.GetFileName(path).StartsWith('.') && File.GetLastWriteTimeUtc(path).Year == 2020));
    }

    private static (ulong, ulong)? SpecialFilesIdentity(string path) =>
        Singularity.Engine.Storage.SpecialFiles.IdentityOf(path) is { } id ? (id.Device, id.Inode) : null;
}
