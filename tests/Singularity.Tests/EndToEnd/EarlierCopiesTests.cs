using Singularity.Engine;
using Singularity.Engine.Storage;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// rsync's --compare-dest and --copy-dest, beside --link-dest (<see cref="LinkDestTests"/>): a file an earlier copy
/// holds unchanged is left out of the destination, or copied there at the receiver, and travels in neither case.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class EarlierCopiesTests
{
    private static readonly TransferOptions Quick = new() { ShardSize = 4096, SkipUnchanged = true };

    /// <summary>Files "a" (ten shards), "same" and "sub/c" that stay as the base has them, "sub/b" that changes, a new "new", and a link "l".</summary>
    private static async Task<(string Tree, string Destination, LoopbackReceiver Receiver)> BaseAndChangesAsync(TempDirectory temp)
    {
        string tree = temp.Sub("src/tree"), destination = temp.Sub("dst");
        TestFiles.Create(Path.Combine(tree, "a"), 40_000, seed: 1);
        TestFiles.Create(Path.Combine(tree, "sub", "b"), 300, seed: 2);
        TestFiles.Create(Path.Combine(tree, "sub", "c"), 700, seed: 3);
        TestFiles.Create(Path.Combine(tree, "same"), 500, seed: 4);
        File.CreateSymbolicLink(Path.Combine(tree, "l"), "a");
        var receiver = new LoopbackReceiver(destination);
        await SingularitySender.SendAsync([tree + "/"], receiver.Url with { Directory = "base" }, Quick);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.Create(Path.Combine(tree, "sub", "b"), 900, seed: 20);
        TestFiles.Create(Path.Combine(tree, "new"), 1_200, seed: 21);
        return (tree, destination, receiver);
    }

    [Fact]
    public async Task Compare_dest_leaves_out_of_the_destination_what_an_earlier_copy_holds_unchanged()
    {
        using var temp = new TempDirectory();
        var (tree, destination, receiver) = await BaseAndChangesAsync(temp);
        await using var _ = receiver;
        var options = Quick with { CompareDestinations = ["../base"] };

        var dry = await SingularitySender.SendAsync([tree + "/"], receiver.Url with { Directory = "diff" }, options with { DryRun = true });
        var dryReceived = await receiver.NextResultAsync();
        Assert.True(dryReceived.Succeeded);
        Assert.Equal(3, dryReceived.FilesCompared);
        Assert.Equal(["new", "sub/b"], dry.WouldSend.Order(StringComparer.Ordinal));
        Assert.False(Directory.Exists(Path.Combine(destination, "diff")));

        var sent = await SingularitySender.SendAsync([tree + "/"], receiver.Url with { Directory = "diff" }, options);
        var received = await receiver.NextResultAsync();
        Assert.True(received.Succeeded, received.Error?.Message);
        Assert.Equal((3, 0, 0), (received.FilesCompared, received.FilesLinked, received.FilesCopied));
        Assert.Equal((3, 2), (sent.FilesUnchanged, sent.FilesTransferred));
        string diff = Path.Combine(destination, "diff");
        // Only what changed since the base, and the link (links are always made).
        Assert.Equal(["l", "new", "sub", "sub/b"], Directory.EnumerateFileSystemEntries(diff, "*", SearchOption.AllDirectories)
            .Select(path => Path.GetRelativePath(diff, path)).Order(StringComparer.Ordinal));
        TestFiles.AssertSameBytes(Path.Combine(tree, "sub", "b"), Path.Combine(diff, "sub", "b"));
        TestFiles.AssertSameBytes(Path.Combine(tree, "new"), Path.Combine(diff, "new"));
        Assert.Equal("a", new FileInfo(Path.Combine(diff, "l")).LinkTarget);
    }

    /// <summary>
    /// A send cut part way and retried with --delete names the files the first attempt found in the --compare-dest
    /// copy as sent before: the retry finds them there again, and still makes nothing of them at the destination.
    /// </summary>
    [Fact]
    public async Task Compare_dest_still_leaves_unchanged_files_out_across_a_retry()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree"), destination = temp.Sub("dst");
        for (int i = 0; i < 20; i++) TestFiles.Create(Path.Combine(tree, $"same{i:00}"), 1_000, seed: 100 + i);
        await using var receiver = new LoopbackReceiver(destination);
        await SingularitySender.SendAsync([tree + "/"], receiver.Url with { Directory = "base" }, Quick);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        for (int i = 0; i < 40; i++) TestFiles.Create(Path.Combine(tree, $"new{i:00}.bin"), 200_000, seed: i);
        await using var relay = new TcpRelay(receiver.Url);
        relay.CutAllOnce((connection, forwarded) => connection == 1 && forwarded > (3 << 20));

        var result = await SingularitySender.SendAsync([tree + "/"], relay.Url with { Directory = "diff" },
            Quick with { CompareDestinations = ["../base"], DeleteExtraneous = true, Lanes = 1, MaxInFlightBytes = 1 << 20, Retries = 2 });

        Assert.Equal(1, result.Retries);
        string diff = Path.Combine(destination, "diff");
        Assert.Equal(Enumerable.Range(0, 40).Select(i => $"new{i:00}.bin"), Directory.EnumerateFiles(diff).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        for (int i = 0; i < 40; i++) TestFiles.AssertSameBytes(Path.Combine(tree, $"new{i:00}.bin"), Path.Combine(diff, $"new{i:00}.bin"));
    }

    [Fact]
    public async Task Copy_dest_copies_at_the_receiver_what_an_earlier_copy_holds_unchanged()
    {
        using var temp = new TempDirectory();
        var (tree, destination, receiver) = await BaseAndChangesAsync(temp);
        await using var _ = receiver;

        var sent = await SingularitySender.SendAsync([tree + "/"], receiver.Url with { Directory = "copy" }, Quick with { CopyDestinations = ["../base"] });
        var received = await receiver.NextResultAsync();
        Assert.True(received.Succeeded, received.Error?.Message);
        Assert.Equal((0, 0, 3), (received.FilesCompared, received.FilesLinked, received.FilesCopied));
        Assert.Equal((3, 2), (sent.FilesUnchanged, sent.FilesTransferred));
        string copy = Path.Combine(destination, "copy");
        TestFiles.AssertSameTree(tree, copy);
        foreach (string name in new[] { "a", "same", "sub/c" })
        {
            // A copy of its own, with the source's time and mode; the base keeps its one name.
            Assert.NotEqual(SpecialFiles.IdentityOf(Path.Combine(destination, "base", name))!.Value.Inode, SpecialFiles.IdentityOf(Path.Combine(copy, name))!.Value.Inode);
            Assert.Equal(1u, SpecialFiles.IdentityOf(Path.Combine(copy, name))!.Value.Names);
            Assert.Equal(File.GetLastWriteTimeUtc(Path.Combine(tree, name)), File.GetLastWriteTimeUtc(Path.Combine(copy, name)));
            Assert.Equal(File.GetUnixFileMode(Path.Combine(tree, name)), File.GetUnixFileMode(Path.Combine(copy, name)));
        }
        // No partial is left beside them.
        Assert.Empty(Directory.EnumerateFiles(copy, "*.sglty-*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task The_command_takes_one_kind_of_earlier_copies()
    {
        using var temp = new TempDirectory();
        var (tree, destination, receiver) = await BaseAndChangesAsync(temp);
        await using var _ = receiver;
        string url = (receiver.Url with { Directory = "diff" }).ToString();

        var (exit, output, error) = await SgltyProcess.RunAsync("send", tree + "/", "--to", url, "--compare-dest", "../base", "--json");
        Assert.True(exit == 0, error);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Contains("\"files_unchanged\":3", output);
        Assert.False(File.Exists(Path.Combine(destination, "diff", "a")));
        Assert.Contains("found unchanged in --compare-dest", (await SgltyProcess.RunAsync("send", tree + "/", "--to", (receiver.Url with { Directory = "diff2" }).ToString(), "--compare-dest", "../base")).Err);
        Assert.True((await receiver.NextResultAsync()).Succeeded);

        foreach (var (options, why) in new[]
        {
            (new[] { "--compare-dest", "../base", "--copy-dest", "../base" }, "do not go together"),
            (["--link-dest", "../base", "--copy-dest", "../base"], "do not go together"),
            (["--compare-dest", "../base", "--remove-source-files"], "--remove-source-files would then remove"),
            (["--copy-dest", "../base", "--checksum"], "--checksum judges by their contents"),
        })
        {
            var (refused, _, message) = await SgltyProcess.RunAsync(["send", tree + "/", "--to", url, .. options]);
            Assert.NotEqual(0, refused);
            Assert.Contains(why, message);
        }
        Assert.True(File.Exists(Path.Combine(tree, "a")));
    }
}
