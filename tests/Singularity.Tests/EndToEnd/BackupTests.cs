using Singularity.Engine;
using Singularity.Engine.Protocol;
using Singularity.Engine.Security;
using Singularity.Engine.Storage;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// With <see cref="TransferOptions.Backup"/> or <see cref="TransferOptions.BackupDirectory"/>, what a send replaces or
/// deletes at the receiver is kept, as rsync --backup keeps it: renamed with a suffix beside it, or moved to its path
/// under the backup directory. What the send leaves as it is gets no backup, and a deletion leaves the backups alone.
/// </summary>
public sealed class BackupTests
{
    private static readonly TransferOptions Quick = new() { ShardSize = 4096, SkipUnchanged = true };

    /// <summary>Writes the first version of a tree: files "a" (ten shards), "sub/b", "same", and a link "l" to "a".</summary>
    private static string FirstVersion(TempDirectory temp)
    {
        string tree = temp.Sub("src/tree");
        TestFiles.Create(Path.Combine(tree, "a"), 40_000, seed: 1);
        TestFiles.Create(Path.Combine(tree, "sub", "b"), 300, seed: 2);
        TestFiles.Create(Path.Combine(tree, "same"), 500, seed: 3);
        File.CreateSymbolicLink(Path.Combine(tree, "l"), "a");
        return tree;
    }

    /// <summary>Changes "a" (one shard of it, a day later), "sub/b" (its size) and the link's target, and leaves "same"; returns copies of the old files.</summary>
    private static (string A, string B) SecondVersion(TempDirectory temp, string tree)
    {
        string oldA = Path.Combine(temp.Sub("old"), "a"), oldB = Path.Combine(temp.Sub("old"), "b");
        File.Copy(Path.Combine(tree, "a"), oldA);
        File.Copy(Path.Combine(tree, "sub", "b"), oldB);
        string a = Path.Combine(tree, "a");
        using (var file = File.OpenHandle(a, FileMode.Open, FileAccess.Write)) RandomAccess.Write(file, new byte[] { 1, 2, 3, 4, 5 }, 8192);
        File.SetLastWriteTimeUtc(a, File.GetLastWriteTimeUtc(a).AddDays(1));
        TestFiles.Create(Path.Combine(tree, "sub", "b"), 301, seed: 4);
        File.Delete(Path.Combine(tree, "l"));
        File.CreateSymbolicLink(Path.Combine(tree, "l"), "sub/b");
        return (oldA, oldB);
    }

    /// <summary>
    /// Each replaced file and link is kept beside it under its name and the suffix ("~" unless given), with the old
    /// bytes, a delta send's included; a file left as it is gets none, and a send of an unchanged tree adds none.
    /// </summary>
    [Theory]
    [InlineData(null, false)]
    [InlineData(".bak", false)]
    [InlineData(null, true)]
    public async Task Replaced_files_and_links_are_kept_beside_them(string? suffix, bool delta)
    {
        using var temp = new TempDirectory();
        string tree = FirstVersion(temp);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);
        await SingularitySender.SendAsync([tree], receiver.Url, Quick);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        var (oldA, oldB) = SecondVersion(temp, tree);
        var options = Quick with { Backup = true, BackupSuffix = suffix, Delta = delta };

        var result = await SingularitySender.SendAsync([tree], receiver.Url, options);
        await SingularitySender.SendAsync([tree], receiver.Url, options);

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(2, result.FilesTransferred);
        if (delta && OperatingSystem.IsLinux()) Assert.True(result.BytesMatched > 0);
        string kept = Path.Combine(destination, "tree"), end = suffix ?? "~";
        foreach (string name in (string[])["a", "sub/b", "same"]) TestFiles.AssertSameBytes(Path.Combine(tree, name), Path.Combine(kept, name));
        Assert.Equal("sub/b", new FileInfo(Path.Combine(kept, "l")).LinkTarget);
        TestFiles.AssertSameBytes(oldA, Path.Combine(kept, "a" + end));
        TestFiles.AssertSameBytes(oldB, Path.Combine(kept, "sub", "b" + end));
        Assert.Equal("a", new FileInfo(Path.Combine(kept, "l" + end)).LinkTarget);
        Assert.Equal(
            ["a", "a" + end, "l", "l" + end, "same", "sub", "sub/b", "sub/b" + end],
            Directory.EnumerateFileSystemEntries(kept, "*", SearchOption.AllDirectories).Select(path => Path.GetRelativePath(kept, path).Replace('\\', '/')).Order(StringComparer.Ordinal));
    }

    /// <summary>
    /// Under a backup directory, replaced and deleted entries keep their paths (a deleted directory's files too, and
    /// the directory goes); the deletion of the destination's root leaves the backup directory alone, and the
    /// directory holding it, which the source does not have, with an earlier send's backups there.
    /// </summary>
    [Fact]
    public async Task Under_a_backup_directory_replaced_and_deleted_entries_keep_their_paths()
    {
        using var temp = new TempDirectory();
        string tree = FirstVersion(temp);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);
        await SingularitySender.SendAsync([tree + "/"], receiver.Url, Quick);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        var (oldA, oldB) = SecondVersion(temp, tree);
        string junk = TestFiles.Create(Path.Combine(destination, "junk"), 70, seed: 5);
        string deep = TestFiles.Create(Path.Combine(destination, "gone", "deep", "x"), 80, seed: 6);
        // The backup directory's own directories take the modes of those they mirror, as rsync makes them.
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(Path.Combine(destination, "gone"), (UnixFileMode)0x1C0); // 0700
            File.SetUnixFileMode(Path.Combine(destination, "gone", "deep"), (UnixFileMode)0x1E8); // 0750
        }
        string junkBytes = TestFiles.Sha256(junk), deepBytes = TestFiles.Sha256(deep);
        string earlier = TestFiles.Create(Path.Combine(destination, "versions", "0", "a"), 90, seed: 7);
        string earlierBytes = TestFiles.Sha256(earlier);
        var options = Quick with { BackupDirectory = "versions/1", DeleteExtraneous = true };

        var result = await SingularitySender.SendAsync([tree + "/"], receiver.Url, options);
        var again = await SingularitySender.SendAsync([tree + "/"], receiver.Url, options);

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((2, 4, 0), (result.FilesTransferred, result.EntriesDeleted, again.EntriesDeleted));
        string backups = Path.Combine(destination, "versions", "1");
        TestFiles.AssertSameBytes(oldA, Path.Combine(backups, "a"));
        TestFiles.AssertSameBytes(oldB, Path.Combine(backups, "sub", "b"));
        Assert.Equal("a", new FileInfo(Path.Combine(backups, "l")).LinkTarget);
        Assert.Equal(junkBytes, TestFiles.Sha256(Path.Combine(backups, "junk")));
        Assert.Equal(deepBytes, TestFiles.Sha256(Path.Combine(backups, "gone", "deep", "x")));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal((UnixFileMode)0x1C0, File.GetUnixFileMode(Path.Combine(backups, "gone")));
            Assert.Equal((UnixFileMode)0x1E8, File.GetUnixFileMode(Path.Combine(backups, "gone", "deep")));
        }
        Assert.False(Directory.Exists(Path.Combine(destination, "gone")));
        Assert.Equal(earlierBytes, TestFiles.Sha256(earlier));
        Assert.Equal(["0", "1"], Directory.EnumerateFileSystemEntries(Path.Combine(destination, "versions")).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.False(File.Exists(junk));
        Assert.Equal(["a", "l", "same", "sub", "versions"], Directory.EnumerateFileSystemEntries(destination).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    /// <summary>
    /// Beside the files, a deletion leaves every name ending in the suffix (rsync's `P *~`): a file deleted in a
    /// directory that goes keeps its backup there, and the directory stays with it, without an error. A dry run lists
    /// none of the backups as to be deleted, and makes none.
    /// </summary>
    [Fact]
    public async Task A_deletion_beside_the_files_leaves_the_backups()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        TestFiles.Create(Path.Combine(tree, "a"), 100, seed: 1);
        string destination = temp.Sub("dst");
        string olderBackup = TestFiles.Create(Path.Combine(destination, "tree", "a~"), 5, seed: 2);
        string gone = TestFiles.Create(Path.Combine(destination, "tree", "gone", "x"), 6, seed: 3);
        string goneBytes = TestFiles.Sha256(gone);
        await using var receiver = new LoopbackReceiver(destination);
        var options = Quick with { Backup = true, DeleteExtraneous = true };

        var dry = await SingularitySender.SendAsync([tree], receiver.Url, options with { DryRun = true });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(["tree/gone/x"], dry.WouldDelete);
        Assert.True(File.Exists(gone));
        var result = await SingularitySender.SendAsync([tree], receiver.Url, options);

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((1, 0), (result.EntriesDeleted, result.EntriesNotDeleted));
        Assert.Equal(5, new FileInfo(olderBackup).Length);
        Assert.False(File.Exists(gone));
        Assert.Equal(goneBytes, TestFiles.Sha256(gone + "~"));
        TestFiles.AssertSameBytes(Path.Combine(tree, "a"), Path.Combine(destination, "tree", "a"));
    }

    /// <summary>
    /// A backup that cannot be made (a directory stands at its name) fails that file alone, which is left as it was;
    /// an entry inside the backup directory fails too; the rest arrives.
    /// </summary>
    [Fact]
    public async Task A_backup_that_cannot_be_made_leaves_the_file_as_it_was()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        // "a" of three shards, so that its partial stays for a later send.
        TestFiles.Create(Path.Combine(tree, "a"), 10_000, seed: 1);
        TestFiles.Create(Path.Combine(tree, "b"), 100, seed: 2);
        TestFiles.Create(Path.Combine(tree, "c"), 100, seed: 3);
        TestFiles.Create(Path.Combine(tree, "keep", "x"), 100, seed: 4);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(Path.Combine(tree, "a"), (UnixFileMode)0b110_110_110);
        string destination = temp.Sub("dst");
        string oldA = TestFiles.Create(Path.Combine(destination, "tree", "a"), 10, seed: 5);
        string oldABytes = TestFiles.Sha256(oldA);
        Directory.CreateDirectory(Path.Combine(destination, "tree", "keep", "tree", "a"));
        string oldB = TestFiles.Create(Path.Combine(destination, "tree", "b"), 11, seed: 6);
        string oldBBytes = TestFiles.Sha256(oldB);
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([tree], receiver.Url, Quick with { BackupDirectory = "tree/keep" });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(["tree/a", "tree/keep", "tree/keep/x"], result.NotSent.Select(entry => entry.Path).Order(StringComparer.Ordinal));
        Assert.Equal("the receiver could not write it: 'tree/a' was left as it was: its backup 'tree/keep/tree/a' could not be made: a directory stands there", result.NotSent.Single(entry => entry.Path == "tree/a").Reason);
        // Its partial stays private: the file took no mode of its own.
        string partial = Singularity.Engine.Storage.PartialFile.ResumablePathFor(oldA);
        Assert.True(File.Exists(partial));
        if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(partial));
        Assert.Contains("the directory this send keeps its backups in", result.NotSent.Single(entry => entry.Path == "tree/keep").Reason);
        Assert.Equal(oldABytes, TestFiles.Sha256(oldA));
        Assert.Equal(oldBBytes, TestFiles.Sha256(Path.Combine(destination, "tree", "keep", "tree", "b")));
        TestFiles.AssertSameBytes(Path.Combine(tree, "b"), oldB);
        TestFiles.AssertSameBytes(Path.Combine(tree, "c"), Path.Combine(destination, "tree", "c"));
    }

    /// <summary>
    /// What a send replaces by another kind is kept too: a file where the source has a directory or a link, what a
    /// directory in the way held (with --delete; the directory itself goes), and a file a hard link is made over.
    /// </summary>
    [Fact]
    public async Task What_another_kind_replaces_is_kept()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        TestFiles.Create(Path.Combine(tree, "dir", "inside"), 100, seed: 1);
        File.CreateSymbolicLink(Path.Combine(tree, "link"), "dir");
        TestFiles.Create(Path.Combine(tree, "file"), 200, seed: 2);
        string first = TestFiles.Create(Path.Combine(tree, "first"), 300, seed: 3);
        bool links = OperatingSystem.IsLinux();
        if (links) SpecialFiles.Link(first, Path.Combine(tree, "second"));
        string destination = temp.Sub("dst");
        var old = new Dictionary<string, string>();
        foreach (var (name, seed) in (ReadOnlySpan<(string, int)>)[("dir", 4), ("link", 5), ("file/a", 6), ("file/b/c", 7), ("second", 8)])
        {
            if (name == "second" && !links) continue;
            old[name] = TestFiles.Sha256(TestFiles.Create(Path.Combine(destination, "tree", name), 10 + seed, seed));
        }
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([tree], receiver.Url, Quick with { BackupDirectory = "old", DeleteExtraneous = true, HardLinks = links });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Empty(result.NotSent);
        foreach (var (name, bytes) in old) Assert.Equal(bytes, TestFiles.Sha256(Path.Combine(destination, "old", "tree", name)));
        TestFiles.AssertSameBytes(Path.Combine(tree, "dir", "inside"), Path.Combine(destination, "tree", "dir", "inside"));
        Assert.Equal("dir", new FileInfo(Path.Combine(destination, "tree", "link")).LinkTarget);
        TestFiles.AssertSameBytes(Path.Combine(tree, "file"), Path.Combine(destination, "tree", "file"));
        if (links) Assert.Equal(SpecialFiles.IdentityOf(Path.Combine(destination, "tree", "first"))!.Value.Inode, SpecialFiles.IdentityOf(Path.Combine(destination, "tree", "second"))!.Value.Inode);
    }

    /// <summary>
    /// Beside the files, a backup's name must not be one the source has: a send that has both x and x~ is refused
    /// before anything moves; and the deletion does not rename a file the source no longer has over the source's x~,
    /// but leaves it, named as not deleted.
    /// </summary>
    [Fact]
    public async Task A_backup_never_takes_the_place_of_a_name_the_source_has()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        TestFiles.Create(Path.Combine(tree, "x~"), 100, seed: 1);
        string destination = temp.Sub("dst");
        string gone = TestFiles.Create(Path.Combine(destination, "tree", "x"), 10, seed: 2);
        string goneBytes = TestFiles.Sha256(gone);
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([tree], receiver.Url, Quick with { Backup = true, DeleteExtraneous = true });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.Create(Path.Combine(tree, "x"), 50, seed: 3);
        var both = await Assert.ThrowsAsync<SingularityException>(() => SingularitySender.SendAsync([tree], receiver.Url, Quick with { Backup = true }));

        Assert.Equal((0, 1), (result.EntriesDeleted, result.EntriesNotDeleted));
        Assert.Equal(goneBytes, TestFiles.Sha256(gone));
        TestFiles.AssertSameBytes(Path.Combine(tree, "x~"), Path.Combine(destination, "tree", "x~"));
        Assert.Equal("'tree/x~' would be the backup of 'tree/x', and this send has both: give another --suffix, or a --backup-dir", both.Message);
        Assert.Equal(goneBytes, TestFiles.Sha256(gone));
    }

    /// <summary>
    /// A link where the source has a directory, whose backup cannot be made, fails that directory and what is below
    /// it, each alone, and nothing is written through the link; the rest of the send arrives.
    /// </summary>
    [Fact]
    public async Task A_link_in_the_way_that_cannot_be_kept_fails_what_is_below_it_alone()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        TestFiles.Create(Path.Combine(tree, "d", "f"), 100, seed: 1);
        TestFiles.Create(Path.Combine(tree, "z"), 100, seed: 2);
        string destination = temp.Sub("dst");
        string elsewhere = temp.Sub("elsewhere");
        Directory.CreateDirectory(Path.Combine(destination, "tree"));
        File.CreateSymbolicLink(Path.Combine(destination, "tree", "d"), elsewhere);
        Directory.CreateDirectory(Path.Combine(destination, "tree", "d~"));
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([tree], receiver.Url, Quick with { Backup = true });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(["tree/d", "tree/d/f"], result.NotSent.Select(entry => entry.Path).Order(StringComparer.Ordinal));
        Assert.Equal("the receiver could not write it: refused: 'tree/d' is not a directory in the destination, and what stands there could not be replaced", result.NotSent.Single(entry => entry.Path == "tree/d/f").Reason);
        Assert.Empty(Directory.EnumerateFileSystemEntries(elsewhere));
        Assert.Equal(elsewhere, new FileInfo(Path.Combine(destination, "tree", "d")).LinkTarget);
        TestFiles.AssertSameBytes(Path.Combine(tree, "z"), Path.Combine(destination, "tree", "z"));
    }

    /// <summary>
    /// A file whose backup name already names it (a hard link, as `cp -al` leaves them) is deleted under its own name
    /// only: the backup holds it already, where rename(2) would do nothing.
    /// </summary>
    [SkippableFact]
    public async Task A_file_already_linked_at_its_backup_name_is_deleted_under_its_own()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "the receiver tells two names of one file apart on Linux");
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        TestFiles.Create(Path.Combine(tree, "a"), 100, seed: 1);
        string destination = temp.Sub("dst");
        string gone = TestFiles.Create(Path.Combine(destination, "tree", "gone"), 10, seed: 2);
        string goneBytes = TestFiles.Sha256(gone);
        SpecialFiles.Link(gone, gone + "~");
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([tree], receiver.Url, Quick with { Backup = true, DeleteExtraneous = true });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((1, 0), (result.EntriesDeleted, result.EntriesNotDeleted));
        Assert.False(File.Exists(gone));
        Assert.Equal(goneBytes, TestFiles.Sha256(gone + "~"));
    }

    /// <summary>Beside the files, a directory in the way of a file keeps the backups of what it held, stays, and its entry fails saying so.</summary>
    [Fact]
    public async Task A_directory_in_the_way_keeps_the_backups_beside_its_files()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        TestFiles.Create(Path.Combine(tree, "d"), 100, seed: 1);
        string destination = temp.Sub("dst");
        string inside = TestFiles.Create(Path.Combine(destination, "tree", "d", "f"), 10, seed: 2);
        string insideBytes = TestFiles.Sha256(inside);
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([tree], receiver.Url, Quick with { Backup = true, DeleteExtraneous = true });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal("the receiver could not write it: refused: 'tree/d' is a directory in the destination, where the source has a file, and it holds backups, which stay", result.NotSent.Single().Reason);
        Assert.Equal(insideBytes, TestFiles.Sha256(inside + "~"));
    }

    /// <summary>A suffix without backups, an empty suffix beside the files, and a backup directory outside the destination are refused before anything is sent.</summary>
    [Theory]
    [InlineData(false, null, "~x", nameof(TransferOptions.BackupSuffix))]
    [InlineData(true, null, "", nameof(TransferOptions.BackupSuffix))]
    [InlineData(true, null, "a/b", nameof(TransferOptions.BackupSuffix))]
    [InlineData(true, null, ".sglty-part", nameof(TransferOptions.BackupSuffix))]
    [InlineData(false, "bak", "a/b", nameof(TransferOptions.BackupSuffix))]
    [InlineData(false, "/elsewhere", null, nameof(TransferOptions.BackupDirectory))]
    [InlineData(false, "../up", null, nameof(TransferOptions.BackupDirectory))]
    public async Task Backup_options_that_cannot_work_are_refused(bool backup, string? directory, string? suffix, string parameter)
    {
        var url = new ConnectionUrl("127.0.0.1", 9, "token");

        var refused = await Assert.ThrowsAsync<ArgumentException>(() => SingularitySender.SendAsync(["/x"], url, Quick with { Backup = backup, BackupDirectory = directory, BackupSuffix = suffix }));

        Assert.Equal(parameter, refused.ParamName);
    }

    /// <summary>
    /// Backup comes once, after OpenSession and before the manifest, with a suffix and a directory a sender may
    /// give: anything else ends the session with a clear error, before any entry is prepared.
    /// </summary>
    [Theory]
    [InlineData("after the manifest", "Backup outside its place")]
    [InlineData("twice", "Backup outside its place")]
    [InlineData("a directory that climbs", "climbs out of the destination")]
    [InlineData("an absolute directory", "absolute path")]
    [InlineData("an empty suffix beside", "an empty backup suffix needs a backup directory")]
    [InlineData("a suffix with a slash", "holds a '/'")]
    [InlineData("truncated", "Backup has the wrong length")]
    public async Task Backup_out_of_its_place_or_malformed_ends_the_session(string wrong, string expected)
    {
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { Cipher = CipherSuite.None });
        await using var peer = await RawPeer.ConnectAsync(receiver.Url);
        byte[] body = wrong switch
        {
            "a directory that climbs" => BackupMessage.Encode("", "old/../../x"),
            "an absolute directory" => BackupMessage.Encode("", "/old"),
            "an empty suffix beside" => BackupMessage.Encode("", null),
            "a suffix with a slash" => BackupMessage.Encode("a/b", null),
            "truncated" => BackupMessage.Encode("~", "old")[..^1],
            _ => BackupMessage.Encode("~", null),
        };

        var (_, reason) = await peer.SendAroundManifestAsync(receiver.Token, ControlMessageType.Backup, body, afterTheManifest: wrong == "after the manifest", times: wrong == "twice" ? 2 : 1);

        Assert.Contains(expected, reason);
        Assert.False((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(wrong == "after the manifest", Directory.Exists(Path.Combine(destination, "made")));
    }
}
