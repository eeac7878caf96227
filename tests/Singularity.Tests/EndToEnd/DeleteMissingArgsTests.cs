using Singularity.Engine;
using Singularity.Engine.Protocol;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// With <see cref="TransferOptions.DeleteMissingArgs"/> (rsync --delete-missing-args), a path given or listed that the
/// source does not have is deleted at the receiver: a file, a link, an empty directory, and with --delete a directory
/// with what it holds.
/// </summary>
public sealed class DeleteMissingArgsTests
{
    private static readonly TransferOptions Quick = new() { ShardSize = 4096, SkipUnchanged = true, DeleteMissingArgs = true };

    [Fact]
    public async Task Missing_paths_given_are_deleted_at_the_receiver()
    {
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), destination = temp.Sub("dst");
        TestFiles.Create(Path.Combine(source, "keep", "f"), 5_000, seed: 1);
        TestFiles.Create(Path.Combine(destination, "gone.log"), 10, seed: 2);
        Directory.CreateDirectory(Path.Combine(destination, "empty"));
        string full = TestFiles.Create(Path.Combine(destination, "full", "sub", "f"), 10, seed: 3);
        string other = TestFiles.Create(Path.Combine(destination, "other"), 10, seed: 4);
        string[] paths = [Path.Combine(source, "keep"), Path.Combine(source, "gone.log"), Path.Combine(source, "empty"), Path.Combine(source, "full")];
        await using var receiver = new LoopbackReceiver(destination);

        // A dry run names what would go, and removes nothing.
        var dry = await SingularitySender.SendAsync(paths, receiver.Url, Quick with { DryRun = true });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(["empty/", "gone.log"], dry.WouldDelete.Order(StringComparer.Ordinal));
        Assert.Equal((2, 1), (dry.EntriesDeleted, dry.EntriesNotDeleted));
        Assert.True(File.Exists(Path.Combine(destination, "gone.log")));

        // Without --delete, a directory with anything in it stays, named.
        var result = await SingularitySender.SendAsync(paths, receiver.Url, Quick);
        var received = await receiver.NextResultAsync();
        Assert.True(received.Succeeded);
        Assert.Equal((2, 1), (result.EntriesDeleted, result.EntriesNotDeleted));
        Assert.Contains("'full': it is a directory that is not empty", Assert.Single(received.DeletionFailures));
        Assert.False(Path.Exists(Path.Combine(destination, "gone.log")));
        Assert.False(Path.Exists(Path.Combine(destination, "empty")));
        Assert.True(File.Exists(full));
        Assert.True(File.Exists(other));
        TestFiles.AssertSameTree(Path.Combine(source, "keep"), Path.Combine(destination, "keep"));

        // With --delete, it goes with what it holds; nothing the source has is touched.
        var deleting = await SingularitySender.SendAsync(paths, receiver.Url, Quick with { DeleteExtraneous = true });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((3, 0), (deleting.EntriesDeleted, deleting.EntriesNotDeleted));
        Assert.False(Path.Exists(Path.Combine(destination, "full")));
        Assert.True(File.Exists(other));
        TestFiles.AssertSameTree(Path.Combine(source, "keep"), Path.Combine(destination, "keep"));
    }

    /// <summary>A listed name is deleted where the list puts it, never through a link on its way, and not when the patterns exclude it.</summary>
    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Listed_names_are_deleted_below_real_directories_only()
    {
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), destination = temp.Sub("dst"), outside = temp.Sub("outside");
        TestFiles.Create(Path.Combine(source, "logs", "a.log"), 1_000, seed: 1);
        TestFiles.Create(Path.Combine(destination, "logs", "rotated.log"), 10, seed: 2);
        string kept = TestFiles.Create(Path.Combine(destination, "logs", "kept.tmp"), 10, seed: 3);
        string through = TestFiles.Create(Path.Combine(outside, "f"), 10, seed: 4);
        Directory.CreateSymbolicLink(Path.Combine(destination, "l"), outside);
        string list = Path.Combine(temp.Path, "list");
        File.WriteAllLines(list, ["logs/a.log", "logs/rotated.log", "logs/kept.tmp", "l/f"]);
        await using var receiver = new LoopbackReceiver(destination);

        var (exit, _, error) = await SgltyProcess.RunAsync("send", source, "--to", receiver.Url.ToString(), "--files-from", list, "--delete-missing-args", "--exclude", "*.tmp");
        Assert.True(exit == 0, error);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Contains("deleted 1 entry at the receiver", error);
        Assert.False(Path.Exists(Path.Combine(destination, "logs", "rotated.log")));
        Assert.True(File.Exists(kept));
        Assert.True(File.Exists(through));
        TestFiles.AssertSameBytes(Path.Combine(source, "logs", "a.log"), Path.Combine(destination, "logs", "a.log"));
    }

    /// <summary>
    /// A missing name that something sent also names is no deletion (two paths of one name); one below a directory a
    /// relative send sends whole is; one the patterns exclude is with --delete-excluded, as rsync deletes it.
    /// </summary>
    [Fact]
    public async Task Missing_names_meet_the_rest_of_the_send_as_rsync_meets_them()
    {
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), destination = temp.Sub("dst");
        TestFiles.Create(Path.Combine(source, "b", "x"), 3_000, seed: 1);
        TestFiles.Create(Path.Combine(source, "d", "kept"), 1_000, seed: 2);
        TestFiles.Create(Path.Combine(destination, "x"), 10, seed: 3);
        TestFiles.Create(Path.Combine(destination, "d", "gone"), 10, seed: 4);
        TestFiles.Create(Path.Combine(destination, "old.tmp"), 10, seed: 5);
        await using var receiver = new LoopbackReceiver(destination);

        var same = await SingularitySender.SendAsync([Path.Combine(source, "a", "x"), Path.Combine(source, "b", "x")], receiver.Url, Quick);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(0, same.EntriesDeleted);
        TestFiles.AssertSameBytes(Path.Combine(source, "b", "x"), Path.Combine(destination, "x"));

        var below = await SingularitySender.SendAsync([$"{source}/./d", $"{source}/./d/gone"], receiver.Url, Quick with { Relative = true });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(1, below.EntriesDeleted);
        Assert.False(File.Exists(Path.Combine(destination, "d", "gone")));

        var excluded = await SingularitySender.SendAsync([Path.Combine(source, "old.tmp")], receiver.Url, Quick with { Exclude = ["*.tmp"] });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.True(File.Exists(Path.Combine(destination, "old.tmp")));
        var deletingExcluded = await SingularitySender.SendAsync([Path.Combine(source, "old.tmp"), Path.Combine(source, "d")], receiver.Url,
            Quick with { Exclude = ["*.tmp"], DeleteExtraneous = true, DeleteExcluded = true });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(0, excluded.EntriesDeleted);
        Assert.False(File.Exists(Path.Combine(destination, "old.tmp")));
        Assert.True(deletingExcluded.EntriesDeleted >= 1);
    }

    /// <summary>--max-delete caps these deletions too, without --delete, as rsync's does: past it the rest stays, and send exits 25.</summary>
    [Fact]
    public async Task Max_delete_caps_the_names_deleted()
    {
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), destination = temp.Sub("dst");
        TestFiles.Create(Path.Combine(source, "f"), 100, seed: 1);
        for (int i = 0; i < 3; i++) TestFiles.Create(Path.Combine(destination, $"gone{i}"), 10, seed: i);
        string[] paths = [Path.Combine(source, "f"), .. Enumerable.Range(0, 3).Select(i => Path.Combine(source, $"gone{i}"))];
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync(paths, receiver.Url, Quick with { MaxDelete = 1 });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((1, 2), (result.EntriesDeleted, result.EntriesLeftByLimit));
        Assert.Equal(3, Directory.EnumerateFiles(destination).Count());

        var (exit, _, error) = await SgltyProcess.RunAsync(["send", .. paths, "--to", receiver.Url.ToString(), "--delete-missing-args", "--max-delete", "1"]);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.True(exit == 25, error);
        Assert.Equal(2, Directory.EnumerateFiles(destination).Count());
    }

    /// <summary>Names past one message (about 256 KiB) count once against the receiver's entries limit, and all go.</summary>
    [Fact]
    public async Task Many_missing_names_count_once_against_the_limit()
    {
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), destination = temp.Sub("dst");
        TestFiles.Create(Path.Combine(source, "f"), 100, seed: 1);
        string[] missing = [.. Enumerable.Range(0, 20_000).Select(i => Path.Combine(source, $"missing-file-number-{i:00000}"))];
        for (int i = 0; i < 20_000; i += 1000) TestFiles.Create(Path.Combine(destination, $"missing-file-number-{i:00000}"), 10, seed: i);
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { Limits = new ProtocolLimits { MaxEntries = 30_000 } });

        var result = await SingularitySender.SendAsync([Path.Combine(source, "f"), .. missing], receiver.Url, Quick with { Limits = new ProtocolLimits { MaxEntries = 30_000 } });
        var received = await receiver.NextResultAsync();
        Assert.True(received.Succeeded, received.Error?.Message);
        Assert.Equal(20, result.EntriesDeleted);
        Assert.Equal(["f"], Directory.EnumerateFileSystemEntries(destination).Select(Path.GetFileName));
    }

    [Theory]
    [InlineData("../x", false, ErrorCode.BadPath, "refused path")]
    [InlineData("made", false, ErrorCode.ProtocolViolation, "twice")]
    [InlineData("x", true, ErrorCode.ProtocolViolation, "DeleteNamed outside its place")]
    public async Task A_receiver_refuses_names_out_of_place(string path, bool afterTheManifest, ErrorCode code, string why)
    {
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        string kept = TestFiles.Create(Path.Combine(temp.Path, "x"), 10);
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { Cipher = CipherSuite.None });
        await using var peer = await RawPeer.ConnectAsync(receiver.Url);
        // "made" is also the manifest's one entry.
        var (refused, reason) = await peer.SendAroundManifestAsync(receiver.Token, ControlMessageType.DeleteNamed, [.. PathListMessage.Encode([path]).Single()], afterTheManifest);
        Assert.Equal(code, refused);
        Assert.Contains(why, reason);
        Assert.False((await receiver.NextResultAsync()).Succeeded);
        Assert.True(File.Exists(kept));
    }
}
