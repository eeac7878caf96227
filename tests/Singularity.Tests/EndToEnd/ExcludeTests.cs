using Singularity.Engine;
using Singularity.Engine.Protocol;
using Singularity.Engine.Storage;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// With <see cref="TransferOptions.Exclude"/>, what the patterns match is neither sent nor, with a deletion, deleted at
/// the receiver, as rsync's --exclude leaves it; everything else arrives byte for byte.
/// </summary>
public sealed class ExcludeTests
{
    private static readonly TransferOptions Quick = new() { ShardSize = 4096, SkipUnchanged = true };
    private static readonly string[] Patterns = ["*.tmp", "logs/*.gz", "cache/", ".git", "/tree/build"];

    [Fact]
    public async Task What_the_patterns_match_is_not_sent_and_the_rest_arrives()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        TestFiles.Create(Path.Combine(tree, "a", "kept.txt"), 10_000, seed: 1);
        string tmp = TestFiles.Create(Path.Combine(tree, "a", "x.tmp"), 5_000, seed: 2);
        string log = TestFiles.Create(Path.Combine(tree, "b", "logs", "old.gz"), 9_000, seed: 3);
        TestFiles.Create(Path.Combine(tree, "b", "logs", "today.log"), 300, seed: 4);
        TestFiles.Create(Path.Combine(tree, "b", "top.gz"), 7_000, seed: 5);
        string cache = Path.GetDirectoryName(TestFiles.Create(Path.Combine(tree, "cache", "deep", "c"), 20_000, seed: 6))!;
        // Only directories are named by "cache/": a file of that name goes.
        TestFiles.Create(Path.Combine(tree, "b", "cache"), 100, seed: 7);
        string git = Path.GetDirectoryName(TestFiles.Create(Path.Combine(tree, ".git", "HEAD"), 30, seed: 8))!;
        string build = TestFiles.Create(Path.Combine(tree, "build"), 40, seed: 9);
        // Anchored at the destination: a 'build' deeper down goes.
        TestFiles.Create(Path.Combine(tree, "a", "build"), 50, seed: 10);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([tree], receiver.Url, Quick with { Exclude = Patterns });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(5, result.Files);
        File.Delete(tmp);
        File.Delete(log);
        File.Delete(build);
        Directory.Delete(Path.GetDirectoryName(cache)!, recursive: true);
        Directory.Delete(git, recursive: true);
        TestFiles.AssertSameTree(tree, Path.Combine(destination, "tree"));
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task A_deletion_keeps_what_the_patterns_match_at_the_receiver()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        TestFiles.Create(Path.Combine(tree, "a", "kept.txt"), 10_000, seed: 1);
        TestFiles.Create(Path.Combine(tree, "b", "logs", "today.log"), 300, seed: 2);
        string destination = temp.Sub("dst");
        string received = Path.Combine(destination, "tree");
        string[] protectedFiles =
        [
            TestFiles.Create(Path.Combine(received, "a", "old.tmp"), 10),
            TestFiles.Create(Path.Combine(received, "b", "logs", "old.gz"), 10),
            TestFiles.Create(Path.Combine(received, "cache", "deep", "c"), 10),
            TestFiles.Create(Path.Combine(received, ".git", "HEAD"), 10),
            TestFiles.Create(Path.Combine(received, "build"), 10),
            // Inside a directory the source no longer has: it stays, and so does the directory.
            TestFiles.Create(Path.Combine(received, "gone", "keep.tmp"), 10),
        ];
        string[] extraneous =
        [
            TestFiles.Create(Path.Combine(received, "a", "junk"), 10),
            TestFiles.Create(Path.Combine(received, "b", "logs", "old.log"), 10),
            TestFiles.Create(Path.Combine(received, "gone", "junk"), 10),
            TestFiles.Create(Path.Combine(received, "a", "build"), 10),
        ];
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([tree], receiver.Url, Quick with { Exclude = Patterns, DeleteExtraneous = true });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((4, 0, false), (result.EntriesDeleted, result.EntriesNotDeleted, result.DeletionSkipped));
        Assert.All(protectedFiles, path => Assert.True(File.Exists(path), $"{path} was deleted"));
        Assert.All(extraneous, path => Assert.False(File.Exists(path), $"{path} was kept"));
        foreach (string path in protectedFiles) File.Delete(path);
        foreach (string directory in new[] { "cache", ".git", "gone" }) Directory.Delete(Path.Combine(received, directory), recursive: true);
        TestFiles.AssertSameTree(tree, received);
    }

    /// <summary>
    /// Includes before an exclude of everything, as rsync users write them: only what they name travels, with every
    /// directory, and the deletion removes what they name at the receiver but keeps the rest, which is left out.
    /// </summary>
    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Includes_send_what_they_name_and_the_first_match_decides()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        TestFiles.Create(Path.Combine(tree, "a", "x.log"), 10_000, seed: 1);
        TestFiles.Create(Path.Combine(tree, "a", "b", "y.log"), 20_000, seed: 2);
        TestFiles.Create(Path.Combine(tree, "a", "keep.tmp"), 3_000, seed: 3);
        TestFiles.Create(Path.Combine(tree, "top.log"), 500, seed: 4);
        string[] leftOut =
        [
            TestFiles.Create(Path.Combine(tree, "a", "notes.txt"), 7_000, seed: 5),
            TestFiles.Create(Path.Combine(tree, "big.bin"), 50_000, seed: 6),
            TestFiles.Create(Path.Combine(tree, "a", "b", "other.tmp"), 100, seed: 7),
        ];
        string destination = temp.Sub("dst");
        string received = Path.Combine(destination, "tree");
        string kept = TestFiles.Create(Path.Combine(received, "a", "old.txt"), 10);
        string[] extraneous =
        [
            TestFiles.Create(Path.Combine(received, "a", "old.log"), 10),
            TestFiles.Create(Path.Combine(received, "gone", "z.log"), 10),
        ];
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([tree], receiver.Url, Quick with { Exclude = ["+ */", "+ *.log", "+ keep.tmp", "- *"], DeleteExtraneous = true });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(4, result.Files);
        // The two logs and the directory "gone", emptied of its log.
        Assert.Equal((3, 0, false), (result.EntriesDeleted, result.EntriesNotDeleted, result.DeletionSkipped));
        Assert.True(File.Exists(kept), "an excluded file at the receiver was deleted");
        Assert.All(extraneous, path => Assert.False(File.Exists(path), $"{path} was kept"));
        Assert.False(Directory.Exists(Path.Combine(received, "gone")));
        foreach (string path in leftOut) File.Delete(path);
        File.Delete(kept);
        TestFiles.AssertSameTree(tree, received);
    }

    /// <summary>With --delete-excluded, the receiver deletes what the patterns leave out too, and ends up holding just what was sent.</summary>
    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Delete_excluded_removes_what_the_patterns_leave_out_too()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        TestFiles.Create(Path.Combine(tree, "a", "kept.txt"), 10_000, seed: 1);
        string tmp = TestFiles.Create(Path.Combine(tree, "a", "x.tmp"), 5_000, seed: 2);
        string destination = temp.Sub("dst");
        string received = Path.Combine(destination, "tree");
        string[] extraneous =
        [
            TestFiles.Create(Path.Combine(received, "a", "old.tmp"), 10),
            TestFiles.Create(Path.Combine(received, ".git", "HEAD"), 10),
            TestFiles.Create(Path.Combine(received, "a", "junk"), 10),
        ];
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([tree], receiver.Url, Quick with { Exclude = ["*.tmp", ".git"], DeleteExtraneous = true, DeleteExcluded = true });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(1, result.Files);
        // The two files, and .git with its HEAD.
        Assert.Equal((4, 0, false), (result.EntriesDeleted, result.EntriesNotDeleted, result.DeletionSkipped));
        Assert.All(extraneous, path => Assert.False(File.Exists(path), $"{path} was kept"));
        File.Delete(tmp);
        TestFiles.AssertSameTree(tree, received);
    }

    /// <summary>An entry left out is never looked at further: one whose name could not be sent does not stop the send.</summary>
    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task An_excluded_name_that_is_not_UTF8_does_not_stop_the_send()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        TestFiles.Create(Path.Combine(tree, "kept.txt"), 1000, seed: 1);
        Assert.True(Commands.Run("bash", "-c", "touch \"$1/caf$(printf '\\351').bak\"", "bash", tree));
        try
        {
            string destination = temp.Sub("dst");
            await using var receiver = new LoopbackReceiver(destination);

            var result = await SingularitySender.SendAsync([tree], receiver.Url, Quick with { Exclude = ["*.bak"] });

            Assert.True((await receiver.NextResultAsync()).Succeeded);
            Assert.Equal(1, result.Files);
            TestFiles.AssertSameBytes(Path.Combine(tree, "kept.txt"), Path.Combine(destination, "tree", "kept.txt"));
            Assert.Equal(["kept.txt"], Directory.GetFileSystemEntries(Path.Combine(destination, "tree")).Select(Path.GetFileName));
        }
        finally
        {
            // .NET can neither spell nor delete a name that is not UTF-8.
            Assert.True(Commands.Run("bash", "-c", "rm -rf \"$1\"", "bash", tree));
        }
    }

    /// <summary>A directory in the way of a file is not replaced while it holds what the patterns keep, and the entry says so.</summary>
    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task A_directory_in_the_way_that_holds_an_excluded_entry_is_named_with_that_reason()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        TestFiles.Create(Path.Combine(tree, "x"), 1000, seed: 1);
        TestFiles.Create(Path.Combine(tree, "y"), 1000, seed: 2);
        string destination = temp.Sub("dst");
        string kept = TestFiles.Create(Path.Combine(destination, "tree", "x", "a.tmp"), 10);
        string other = TestFiles.Create(Path.Combine(destination, "tree", "x", "other"), 10);
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([tree], receiver.Url, Quick with { Exclude = ["*.tmp"], DeleteExtraneous = true });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        var failed = Assert.Single(result.NotSent);
        Assert.Equal("tree/x", failed.Path);
        Assert.Contains("it holds entries the exclude patterns keep", failed.Reason);
        Assert.True(File.Exists(kept) && !File.Exists(other));
        TestFiles.AssertSameBytes(Path.Combine(tree, "y"), Path.Combine(destination, "tree", "y"));
    }

    /// <summary>Exclude comes once, before the manifest, and only with a deletion: anything else ends the session before any entry is prepared.</summary>
    [Theory]
    [InlineData(false, false)]
    [InlineData(true, true)]
    public async Task Exclude_out_of_its_place_is_refused(bool deleting, bool afterTheManifest)
    {
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { Cipher = CipherSuite.None });
        await using var peer = await RawPeer.ConnectAsync(receiver.Url);
        byte[] exclude = ExcludeMessage.Encode(ExcludePatterns.Parse(["*.tmp"])!);

        var (code, reason) = await peer.SendAroundManifestAsync(receiver.Token, ControlMessageType.Exclude, exclude, afterTheManifest, deleting ? OpenSessionFlags.DeleteExtraneous : (ushort)0, entries: 2);

        Assert.Equal(ErrorCode.ProtocolViolation, code);
        Assert.Contains("Exclude", reason);
        Assert.False((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(afterTheManifest, Directory.Exists(Path.Combine(destination, "made")));
    }
}
