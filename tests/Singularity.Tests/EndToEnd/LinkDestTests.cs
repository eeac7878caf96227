using Singularity.Engine;
using Singularity.Engine.Protocol;
using Singularity.Engine.Security;
using Singularity.Engine.Storage;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// With <see cref="TransferOptions.LinkDestinations"/>, as with rsync --link-dest, a file the destination does not
/// hold yet that an earlier copy holds unchanged is given a further name of that copy rather than sent: a tree of
/// daily snapshots then takes the space of what changed.
/// </summary>
public sealed class LinkDestTests
{
    private static readonly TransferOptions Quick = new() { ShardSize = 4096, SkipUnchanged = true };

    /// <summary>Files "a" (ten shards), "sub/b", "sub/c" and "same", and a link "l" to "a".</summary>
    private static string Tree(TempDirectory temp)
    {
        string tree = temp.Sub("src/tree");
        TestFiles.Create(Path.Combine(tree, "a"), 40_000, seed: 1);
        TestFiles.Create(Path.Combine(tree, "sub", "b"), 300, seed: 2);
        TestFiles.Create(Path.Combine(tree, "sub", "c"), 700, seed: 3);
        TestFiles.Create(Path.Combine(tree, "same"), 500, seed: 4);
        File.CreateSymbolicLink(Path.Combine(tree, "l"), "a");
        return tree;
    }

    private static ulong Inode(string path) => SpecialFiles.IdentityOf(path)!.Value.Inode;

    /// <summary>Sends the tree's contents into <paramref name="directory"/> below the receiver's: an earlier snapshot.</summary>
    private static async Task SnapshotAsync(LoopbackReceiver receiver, string tree, string directory)
    {
        await SingularitySender.SendAsync([tree + "/"], receiver.Url with { Directory = directory }, Quick);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
    }

    /// <summary>Sends the tree's contents into <paramref name="directory"/> with <paramref name="options"/>, and checks that the session succeeded and the snapshot holds the tree byte for byte.</summary>
    private static async Task<(SendResult Sent, ReceiveResult Received)> LinkedSnapshotAsync(LoopbackReceiver receiver, string tree, string destination, string directory, TransferOptions options)
    {
        var sent = await SingularitySender.SendAsync([tree + "/"], receiver.Url with { Directory = directory }, options);
        var received = await receiver.NextResultAsync();
        Assert.True(received.Succeeded, received.Error?.Message);
        TestFiles.AssertSameTree(tree, Path.Combine(destination, directory));
        return (sent, received);
    }

    /// <summary>
    /// The second snapshot holds the source byte for byte; its unchanged files are the first snapshot's (the same
    /// inode) and did not travel; a changed and a new file travelled, and the first snapshot keeps its old version.
    /// </summary>
    [Fact]
    public async Task Unchanged_files_are_linked_from_the_earlier_snapshot()
    {
        using var temp = new TempDirectory();
        string tree = Tree(temp);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);
        await SnapshotAsync(receiver, tree, "snap/1");
        string first = Path.Combine(destination, "snap", "1");
        byte[] oldB = File.ReadAllBytes(Path.Combine(first, "sub", "b"));
        TestFiles.Create(Path.Combine(tree, "sub", "b"), 301, seed: 5);
        TestFiles.Create(Path.Combine(tree, "new"), 900, seed: 6);

        var (sent, received) = await LinkedSnapshotAsync(receiver, tree, destination, "snap/2", Quick with { LinkDestinations = ["../1"] });

        string second = Path.Combine(destination, "snap", "2");
        Assert.Equal(3, received.FilesLinked);
        Assert.Equal((5, 3), (sent.Files, sent.FilesUnchanged));
        Assert.Equal(301 + 900, sent.BytesSent);
        foreach (string name in new[] { "a", "sub/c", "same" })
            Assert.Equal(Inode(Path.Combine(first, name)), Inode(Path.Combine(second, name)));
        Assert.NotEqual(Inode(Path.Combine(first, "sub", "b")), Inode(Path.Combine(second, "sub", "b")));
        Assert.Equal(oldB, File.ReadAllBytes(Path.Combine(first, "sub", "b")));
        Assert.Equal(new FileInfo(Path.Combine(first, "l")).LinkTarget, new FileInfo(Path.Combine(second, "l")).LinkTarget);
    }

    /// <summary>
    /// Only an unchanged copy is linked: one whose mode differs, or whose time does, is not (the file is sent), and a
    /// file the destination already holds is left as it is. Later directories are tried when the first lacks a file.
    /// </summary>
    [Fact]
    public async Task Only_unchanged_copies_are_linked_and_later_directories_are_tried()
    {
        using var temp = new TempDirectory();
        string tree = Tree(temp);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);
        await SnapshotAsync(receiver, tree, "old");
        string old = Path.Combine(destination, "old");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(Path.Combine(old, "a"), UnixFileMode.UserRead);
        File.SetLastWriteTimeUtc(Path.Combine(old, "sub", "b"), File.GetLastWriteTimeUtc(Path.Combine(old, "sub", "b")).AddSeconds(-5));
        // "same" only in the second directory given.
        string older = temp.Sub("dst/older");
        File.Move(Path.Combine(old, "same"), Path.Combine(older, "same"));
        // The destination already holds sub/c, of another size: it is sent over it, not linked.
        TestFiles.Create(Path.Combine(destination, "new", "sub", "c"), 10, seed: 9);

        var (sent, received) = await LinkedSnapshotAsync(receiver, tree, destination, "new", Quick with { LinkDestinations = ["../old", "../older"] });

        string fresh = Path.Combine(destination, "new");
        Assert.Equal(1, received.FilesLinked);
        Assert.Equal(Inode(Path.Combine(older, "same")), Inode(Path.Combine(fresh, "same")));
        foreach (string name in new[] { "a", "sub/b" })
            Assert.NotEqual(Inode(Path.Combine(old, name)), Inode(Path.Combine(fresh, name)));
        Assert.Equal(40_000 + 300 + 700, sent.BytesSent);
    }

    /// <summary>
    /// With delta, a file that changed since the earlier copy, where the destination holds nothing yet, is compared
    /// with that copy, as rsync compares with it: a file that grew sends its new tail; the earlier copy stays as it was.
    /// </summary>
    [Fact]
    public async Task A_changed_file_is_sent_as_a_delta_against_the_earlier_copy()
    {
        using var temp = new TempDirectory();
        string tree = Tree(temp);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);
        await SnapshotAsync(receiver, tree, "1");
        string a = Path.Combine(tree, "a");
        byte[] old = File.ReadAllBytes(a);
        using (var grown = new FileStream(a, FileMode.Append)) grown.Write(new byte[1000].Select((_, i) => (byte)i).ToArray());

        var (sent, received) = await LinkedSnapshotAsync(receiver, tree, destination, "2", Quick with { LinkDestinations = ["../1"], Delta = true });

        Assert.Equal(3, received.FilesLinked);
        // The nine whole shards the earlier copy holds matched; the rest of the grown file travelled.
        Assert.Equal(9 * 4096, sent.BytesMatched);
        Assert.Equal(41_000 - 9 * 4096, sent.BytesSent);
        Assert.Equal(old, File.ReadAllBytes(Path.Combine(destination, "1", "a")));
    }

    /// <summary>
    /// With delta, a file whose unchanged copy could not be linked (its mode differs) is seeded from that copy rather
    /// than from an older, useless one given first: nothing of it travels.
    /// </summary>
    [Fact]
    public async Task The_delta_seeds_from_the_copy_of_the_same_size_and_time_first()
    {
        if (OperatingSystem.IsWindows()) return;
        using var temp = new TempDirectory();
        string tree = Tree(temp);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);
        await SnapshotAsync(receiver, tree, "old2");
        File.SetUnixFileMode(Path.Combine(destination, "old2", "a"), UnixFileMode.UserRead);
        File.WriteAllBytes(temp.Sub("dst/old1") + "/a", []);

        var (sent, received) = await LinkedSnapshotAsync(receiver, tree, destination, "new", Quick with { LinkDestinations = ["../old1", "../old2"], Delta = true });

        Assert.Equal(3, received.FilesLinked);
        Assert.Equal((40_000L, 0L), (sent.BytesMatched, sent.BytesSent));
    }

    /// <summary>
    /// A partial of another version left at a file's resumable name (an interrupted send whose source changed since)
    /// does not keep the file from being linked: it goes, as the file's own preparation would remove it.
    /// </summary>
    [Fact]
    public async Task A_stale_partial_beside_a_file_goes_and_the_file_is_linked()
    {
        using var temp = new TempDirectory();
        string tree = Tree(temp);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);
        await SnapshotAsync(receiver, tree, "1");
        string stale = TestFiles.Create(Path.Combine(destination, "2", ".a.sglty-part"), 10, seed: 9);

        var (sent, received) = await LinkedSnapshotAsync(receiver, tree, destination, "2", Quick with { LinkDestinations = ["../1"] });

        Assert.Equal(4, received.FilesLinked);
        Assert.Equal(0, sent.BytesSent);
        Assert.Equal(Inode(Path.Combine(destination, "1", "a")), Inode(Path.Combine(destination, "2", "a")));
        Assert.False(File.Exists(stale));
    }

    /// <summary>
    /// A copy of another owner is not linked without owners kept: a received file would be the receiver's user's, and
    /// the copy stays writable by its owner. Nor is one with a setuid bit, which no received file has.
    /// </summary>
    [SkippableTheory]
    [InlineData("another owner")]
    [InlineData("setuid")]
    public async Task A_copy_of_another_owner_or_with_a_setuid_bit_is_not_linked(string how)
    {
        Skip.IfNot(SpecialFiles.MayChangeOwners, "giving files owners needs root on Linux");
        using var temp = new TempDirectory();
        string tree = Tree(temp);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination, adjust: o => how == "setuid" ? o with { PreserveMode = false } : o);
        await SnapshotAsync(receiver, tree, "old");
        string old = Path.Combine(destination, "old", "sub", "c");
        if (how == "another owner") Assert.True(SpecialFiles.TrySetOwnerNotFollowing(old, (4242, 4242)));
        else if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(old, File.GetUnixFileMode(old) | UnixFileMode.SetUser);
        File.SetLastWriteTimeUtc(old, File.GetLastWriteTimeUtc(Path.Combine(tree, "sub", "c")));

        var (sent, received) = await LinkedSnapshotAsync(receiver, tree, destination, "new", Quick with { LinkDestinations = ["../old"] });

        Assert.Equal(3, received.FilesLinked);
        Assert.Equal(700, sent.BytesSent);
        Assert.NotEqual(Inode(old), Inode(Path.Combine(destination, "new", "sub", "c")));
    }

    /// <summary>
    /// A copy reached through a link (in the earlier snapshot, or as the directory given) is never linked in, even one
    /// that matches: the link could lead anywhere on the receiver. A directory that leads out of the receiver's is refused.
    /// </summary>
    [Theory]
    [InlineData("a link inside")]
    [InlineData("a link given")]
    [InlineData("climbing out")]
    public async Task Nothing_is_linked_through_a_link_or_from_outside(string how)
    {
        using var temp = new TempDirectory();
        string tree = Tree(temp);
        string destination = temp.Sub("dst");
        // An exact copy of the tree outside the receiver's directory, times and modes kept.
        string outside = Path.Combine(temp.Path, "outside");
        using (var cp = System.Diagnostics.Process.Start("cp", ["-a", tree, outside])) cp.WaitForExit();
        Assert.True(File.Exists(Path.Combine(outside, "sub", "b")));
        if (how == "a link inside")
        {
            Directory.CreateDirectory(Path.Combine(destination, "old"));
            File.CreateSymbolicLink(Path.Combine(destination, "old", "sub"), Path.Combine(outside, "sub"));
        }
        else if (how == "a link given") File.CreateSymbolicLink(Path.Combine(destination, "old"), outside);
        await using var receiver = new LoopbackReceiver(destination);
        var options = Quick with { LinkDestinations = [how == "climbing out" ? "../../outside" : "../old"] };

        if (how != "a link inside")
        {
            var error = await Assert.ThrowsAnyAsync<SingularityException>(() => SingularitySender.SendAsync([tree + "/"], receiver.Url with { Directory = "new" }, options));
            Assert.Equal(ErrorCode.BadPath, error.Code);
            Assert.Contains(how == "climbing out" ? "refused --link-dest '../../outside': it leads out of the receiver's directory"
                : $"refused --link-dest '../old': a link leads it out of the receiver's directory, to '{outside}'", error.Message);
            Assert.False((await receiver.NextResultAsync()).Succeeded);
            Assert.False(Directory.Exists(Path.Combine(destination, "new")) && Directory.EnumerateFileSystemEntries(Path.Combine(destination, "new")).Any());
            return;
        }
        var (sent, received) = await LinkedSnapshotAsync(receiver, tree, destination, "new", options);

        Assert.Equal(0, received.FilesLinked);
        Assert.Equal(0, sent.FilesUnchanged);
        Assert.All(Directory.GetFiles(Path.Combine(destination, "new"), "*", SearchOption.AllDirectories),
            file => Assert.Equal(1u, SpecialFiles.IdentityOf(file)!.Value.Names));
    }

    /// <summary>
    /// A link to the last snapshot inside the receiver's directory, as rsync users keep one ("latest"), is followed to
    /// it; a directory that is not there (the first snapshot, a name mistyped) links nothing, and the receiver's log
    /// says so.
    /// </summary>
    [Theory]
    [InlineData("../latest", 4)]
    [InlineData("../0", 0)]
    public async Task A_link_to_the_last_snapshot_is_followed_and_a_missing_one_is_named(string given, int linked)
    {
        using var temp = new TempDirectory();
        string tree = Tree(temp);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);
        await SnapshotAsync(receiver, tree, "1");
        File.CreateSymbolicLink(Path.Combine(destination, "latest"), "1");

        var (sent, received) = await LinkedSnapshotAsync(receiver, tree, destination, "2", Quick with { LinkDestinations = [given] });

        Assert.Equal((linked, linked), (received.FilesLinked, sent.FilesUnchanged));
        Assert.Equal(linked == 0 ? ["--link-dest '../0' is not a directory here: nothing is linked from it"] : [], received.Notices);
        if (linked > 0) Assert.Equal(Inode(Path.Combine(destination, "1", "a")), Inode(Path.Combine(destination, "2", "a")));
    }

    /// <summary>A dry run names the files it would link as unchanged, lists only those it would send, and links nothing.</summary>
    [Fact]
    public async Task A_dry_run_lists_only_what_would_travel()
    {
        using var temp = new TempDirectory();
        string tree = Tree(temp);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);
        await SnapshotAsync(receiver, tree, "1");
        TestFiles.Create(Path.Combine(tree, "sub", "b"), 301, seed: 5);
        // A stale partial of a file of one shard, which a real run removes as it prepares the file: the dry run too
        // takes the file for linked.
        TestFiles.Create(Path.Combine(destination, "2", ".same.sglty-part"), 10, seed: 6);

        var dry = await SingularitySender.SendAsync([tree + "/"], receiver.Url with { Directory = "2" }, Quick with { LinkDestinations = ["../1"], DryRun = true });
        var received = await receiver.NextResultAsync();

        Assert.True(received.Succeeded, received.Error?.Message);
        Assert.Equal(["sub/b"], dry.WouldSend);
        Assert.Equal(3, received.FilesLinked);
        Assert.Equal([".same.sglty-part"], Directory.GetFileSystemEntries(Path.Combine(destination, "2")).Select(Path.GetFileName));
        Assert.All(Directory.GetFiles(Path.Combine(destination, "1"), "*", SearchOption.AllDirectories),
            file => Assert.Equal(1u, SpecialFiles.IdentityOf(file)!.Value.Names));
    }

    /// <summary>
    /// A partial an interrupted send left with other shards is resumed, read again in this send's, rather than the
    /// file linked from the earlier copy, where it holds some of this send's shards whole; one that holds none (a
    /// 64 KiB shard, in shards of 128 KiB) goes, and the file is linked. A dry run says the same.
    /// </summary>
    [Theory]
    [InlineData(2, 4096, true)]
    [InlineData(1, 128 << 10, false)]
    public async Task A_partial_of_other_shards_is_resumed_where_it_keeps_some_and_a_dry_run_says_so(int journaled, int shardSize, bool resumed)
    {
        using var temp = new TempDirectory();
        byte[] data = PartialFixtures.Data(4 * PartialFixtures.Shard, seed: 12);
        string tree = temp.Sub("src/tree");
        PartialFixtures.Source(Path.Combine(tree, "big"), data);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);
        await SnapshotAsync(receiver, tree, "1");
        PartialFixtures.LeaveJournaled(Path.Combine(temp.Sub("dst/2"), "big"), data, shards: journaled);
        var options = Quick with { LinkDestinations = ["../1"], ShardSize = shardSize };

        var dry = await SingularitySender.SendAsync([tree + "/"], receiver.Url with { Directory = "2" }, options with { DryRun = true });
        var looked = await receiver.NextResultAsync();
        var sent = await SingularitySender.SendAsync([tree + "/"], receiver.Url with { Directory = "2" }, options);
        var received = await receiver.NextResultAsync();

        Assert.Equal(resumed ? ["big"] : [], dry.WouldSend);
        Assert.Equal(resumed ? 0 : 1, looked.FilesLinked);
        Assert.True(received.Succeeded, received.Error?.Message);
        Assert.Equal((resumed ? 0 : 1, resumed ? journaled * PartialFixtures.Shard : 0L), (received.FilesLinked, sent.BytesSkipped));
        TestFiles.AssertSameBytes(Path.Combine(tree, "big"), Path.Combine(destination, "2", "big"));
    }

    /// <summary>The receiver refuses a LinkDest out of its place, without the quick check, with --checksum, or malformed, before anything is written.</summary>
    [Theory]
    [InlineData("twice", 1, "LinkDest outside its place")]
    [InlineData("after the manifest", 1, "LinkDest outside its place")]
    [InlineData("without the quick check", 0, "LinkDest without the quick check it rests on, or with --checksum")]
    [InlineData("with checksum", 1 | 0x800, "LinkDest without the quick check it rests on, or with --checksum")]
    [InlineData("no directory", 1, "LinkDest names 0 directories")]
    [InlineData("absolute", 1, "refused --link-dest: '/x' is not relative to the destination")]
    [InlineData("truncated", 1, "LinkDest is truncated")]
    public async Task A_link_dest_out_of_its_place_or_malformed_ends_the_session(string wrong, int flags, string expected)
    {
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { Cipher = CipherSuite.None });
        await using var peer = await RawPeer.ConnectAsync(receiver.Url);
        byte[] body = wrong switch
        {
            "no directory" => [0],
            "absolute" => LinkDestMessage.Encode(["/x"]),
            "truncated" => LinkDestMessage.Encode(["x"])[..^1],
            _ => LinkDestMessage.Encode(["x"]),
        };

        var (_, reason) = await peer.SendAroundManifestAsync(receiver.Token, ControlMessageType.LinkDest, body, afterTheManifest: wrong == "after the manifest", flags: (ushort)flags, times: wrong == "twice" ? 2 : 1);

        Assert.Contains(expected, reason);
        Assert.False((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(wrong == "after the manifest", Directory.Exists(Path.Combine(destination, "made")));
    }

    /// <summary>
    /// A --link-dest that names a FIFO in the destination, or a link there to one anywhere (a sender may make both), is
    /// no directory: nothing is linked from it, and the session goes on, where the receiver opened it to read where it
    /// leads and waited for a writer for ever. (Found by a fuzz test of the receiver.)
    /// </summary>
    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_link_dest_that_names_a_fifo_links_nothing_and_the_send_goes_on(bool throughLink)
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "FIFOs and --link-dest: Linux receivers");
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        string fifo = TestFiles.CreateFifo(Path.Combine(throughLink ? temp.Sub("elsewhere") : destination, "pipe"));
        if (throughLink) File.CreateSymbolicLink(Path.Combine(destination, "lnk"), fifo);
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "f"), 5000, seed: 12);
        await using var receiver = new LoopbackReceiver(destination, Quick);

        var send = SingularitySender.SendAsync([source], receiver.Url, Quick with { LinkDestinations = [throughLink ? "lnk" : "pipe"] });
        bool ended = await Task.WhenAny(send, Task.Delay(TimeSpan.FromMinutes(1))) == send;
        if (!ended) await Task.Run(() => new FileStream(fifo, FileMode.Open, FileAccess.Write).Dispose()); // lets a receiver that waits go

        Assert.True(ended, "the receiver waited on the FIFO --link-dest named");
        await send;
        TestFiles.AssertSameBytes(source, Path.Combine(destination, "f"));
        Assert.Contains((await receiver.NextResultAsync()).Notices, notice => notice.Contains("is not a directory here: nothing is linked from it", StringComparison.Ordinal));
    }
}
