using Singularity.Engine;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// With <see cref="TransferOptions.DeleteExtraneous"/>, the receiver ends up holding exactly the sent tree, as rsync
/// --delete leaves it: what the sent directories held beyond it is deleted once every file is in place, and nothing
/// else is touched.
/// </summary>
public sealed class DeleteTests
{
    private static readonly TransferOptions Quick = new() { ShardSize = 4096, SkipUnchanged = true };

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task What_the_sent_directories_no_longer_hold_is_deleted_only_when_asked()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        TestFiles.Create(Path.Combine(tree, "a"), 10_000, seed: 1);
        TestFiles.Create(Path.Combine(tree, "sub", "b"), 20_000, seed: 2);
        string removed = TestFiles.Create(Path.Combine(tree, "sub", "c"), 30, seed: 3);
        Directory.CreateDirectory(Path.Combine(tree, "empty"));
        string destination = temp.Sub("dst"), outside = temp.Sub("outside");
        string precious = TestFiles.Create(Path.Combine(outside, "precious"), 10);
        await using var receiver = new LoopbackReceiver(destination);
        await SingularitySender.SendAsync([tree], receiver.Url, Quick);
        Assert.True((await receiver.NextResultAsync()).Succeeded);

        string received = Path.Combine(destination, "tree");
        TestFiles.Create(Path.Combine(received, "stale"), 10);
        TestFiles.Create(Path.Combine(received, "sub", "old", "deep", "f"), 10);
        TestFiles.Create(Path.Combine(received, ".hidden"), 10);
        Directory.CreateSymbolicLink(Path.Combine(received, "link-out"), outside);
        Directory.CreateSymbolicLink(Path.Combine(received, "sub", "old", "out"), outside);
        string partial = TestFiles.Create(Path.Combine(received, "sub", ".other.sglty-part"), 10);
        string beside = TestFiles.Create(Path.Combine(destination, "beside-the-tree"), 10);
        File.Delete(removed);

        var keeping = await SingularitySender.SendAsync([tree], receiver.Url, Quick);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((0, 2), (keeping.EntriesDeleted, keeping.FilesUnchanged));
        Assert.True(File.Exists(Path.Combine(received, "sub", "c")) && File.Exists(Path.Combine(received, "stale")));

        var deleting = await SingularitySender.SendAsync([tree], receiver.Url, Quick with { DeleteExtraneous = true });
        var result = await receiver.NextResultAsync();

        // stale, sub/old, sub/old/deep, sub/old/deep/f, sub/old/out, .hidden, link-out and sub/c.
        Assert.Equal((8, 0, false), (deleting.EntriesDeleted, deleting.EntriesNotDeleted, deleting.DeletionSkipped));
        Assert.Equal((8, 0), (result.EntriesDeleted, result.EntriesNotDeleted));
        Assert.True(File.Exists(precious) && File.Exists(beside));
        Assert.True(File.Exists(partial), "another session's partial file was deleted");
        File.Delete(partial);
        TestFiles.AssertSameTree(tree, received);
    }

    /// <summary>
    /// A directory's contents sent into the destination itself (a source ending in '/') clean it too, as with rsync;
    /// also where the receiver's directory was given as a link (a /data leading to a disk's directory).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Contents_sent_into_the_destination_clean_it_too(bool givenAsLink)
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        TestFiles.Create(Path.Combine(tree, "a"), 10_000, seed: 1);
        TestFiles.Create(Path.Combine(tree, "sub", "b"), 20_000, seed: 2);
        string destination = temp.Sub("dst");
        TestFiles.Create(Path.Combine(destination, "older", "x"), 10);
        TestFiles.Create(Path.Combine(destination, "sub", "y"), 10);
        TestFiles.Create(Path.Combine(destination, "z"), 10);
        string given = destination;
        if (givenAsLink) Directory.CreateSymbolicLink(given = Path.Combine(temp.Path, "data"), destination);
        await using var receiver = new LoopbackReceiver(given);

        var result = await SingularitySender.SendAsync([tree + "/"], receiver.Url, Quick with { DeleteExtraneous = true });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(4, result.EntriesDeleted);
        TestFiles.AssertSameTree(tree, destination);
    }

    /// <summary>
    /// While another session receives into the destination, directories are not deleted (that session may hold them
    /// checked, see RemovalGate): each is named as not deleted, and files and links are still deleted.
    /// </summary>
    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Directories_are_not_deleted_while_another_session_receives()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        TestFiles.Create(Path.Combine(tree, "a"), 100);
        string destination = temp.Sub("dst");
        string staleFile = TestFiles.Create(Path.Combine(destination, "tree", "stale"), 10);
        string staleDirectory = TestFiles.Create(Path.Combine(destination, "tree", "old", "f"), 10);
        // Plaintext allowed, for the raw peer that stands for the other session.
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { Cipher = CipherSuite.None });
        await using var other = await RawPeer.ConnectAsync(receiver.Url);
        var (_, answer, _) = await other.OpenWithManifestAsync(receiver.Token, 4096, new Singularity.Engine.Protocol.ManifestEntry(Singularity.Engine.Protocol.EntryKind.File, "elsewhere/x", 1, (UnixFileMode)0b110_100_100, 0, null));
        Assert.Equal(Singularity.Engine.Protocol.ControlMessageType.ManifestAccepted, answer);

        var result = await SingularitySender.SendAsync([tree], receiver.Url, Quick with { DeleteExtraneous = true });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((1, 1), (result.EntriesDeleted, result.EntriesNotDeleted));
        Assert.False(File.Exists(staleFile));
        Assert.True(File.Exists(staleDirectory));
    }

    /// <summary>
    /// A directory in the way of a file that holds a partial file of an interrupted send: deletion leaves partial
    /// files, so the directory stays, and the file is named as not written, saying why; the rest arrives.
    /// </summary>
    [Fact]
    public async Task A_directory_in_the_way_that_holds_a_partial_file_is_named_and_the_rest_arrives()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        TestFiles.Create(Path.Combine(tree, "bigdir"), 100);
        TestFiles.Create(Path.Combine(tree, "other"), 200, seed: 2);
        string destination = temp.Sub("dst");
        string partial = TestFiles.Create(Path.Combine(destination, "tree", "bigdir", "deeper", ".big.sglty-part"), 10);
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([tree], receiver.Url, Quick with { DeleteExtraneous = true });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        var left = Assert.Single(result.NotSent);
        Assert.Equal("tree/bigdir", left.Path);
        Assert.Contains("it holds partial files of an interrupted send (`sglty partials --clean` removes them)", left.Reason);
        Assert.True(File.Exists(partial));
        TestFiles.AssertSameBytes(Path.Combine(tree, "other"), Path.Combine(destination, "tree", "other"));
        Assert.True(result.DeletionSkipped);
    }

    /// <summary>
    /// While it deletes, the receiver tells the sender it is still at work (StillWorking), so that a long deletion
    /// does not read as silence; here it says so as often as it can, over 3,000 entries, before SessionDone.
    /// </summary>
    [Fact]
    public async Task A_receiver_deleting_says_it_is_still_at_work()
    {
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        for (int i = 0; i < 3000; i++) TestFiles.Create(Path.Combine(destination, "d", $"stale{i}"), 1, seed: i);
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { Cipher = CipherSuite.None }, adjust: options => options with { StillWorkingInterval = TimeSpan.Zero });
        await using var peer = await RawPeer.ConnectAsync(receiver.Url);
        var (_, answer, _) = await peer.OpenWithManifestAsync(receiver.Token, 4096, Singularity.Engine.Protocol.OpenSessionFlags.DeleteExtraneous,
            new Singularity.Engine.Protocol.ManifestEntry(Singularity.Engine.Protocol.EntryKind.Directory, "d", 0, (UnixFileMode)0b111_101_101, 0, null));
        Assert.Equal(Singularity.Engine.Protocol.ControlMessageType.ManifestAccepted, answer);

        int stillWorking = 0;
        await peer.SendControlAsync(Singularity.Engine.Protocol.ControlMessageType.Finish, []);
        Assert.NotNull(await peer.ReadUntilAsync(Singularity.Engine.Protocol.ControlMessageType.SessionDone, type =>
        {
            if (type == Singularity.Engine.Protocol.ControlMessageType.StillWorking) stillWorking++;
        }));

        Assert.True(stillWorking >= 2, $"{stillWorking} StillWorking messages");
        Assert.Equal(3000, (await receiver.NextResultAsync()).EntriesDeleted);
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(destination, "d")));
    }

    /// <summary>
    /// A retry names again, as sent before, the files an earlier attempt committed, rather than leaving them out of
    /// its manifest: the receiver would otherwise take them for gone from the source and delete them. They are not
    /// sent again, even when every file is to be sent (no quick check).
    /// </summary>
    [Fact]
    public async Task A_retry_keeps_and_does_not_resend_what_an_earlier_attempt_committed()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        for (int i = 0; i < 40; i++) TestFiles.Create(Path.Combine(tree, $"f{i:00}.bin"), 200_000, seed: i);
        string destination = temp.Sub("dst");
        TestFiles.Create(Path.Combine(destination, "tree", "stale"), 10);
        await using var receiver = new LoopbackReceiver(destination);
        await using var relay = new TcpRelay(receiver.Url);
        relay.CutAllOnce((connection, forwarded) => connection == 1 && forwarded > (3 << 20));
        var options = new TransferOptions { ShardSize = 64 << 10, Lanes = 1, MaxInFlightBytes = 1 << 20, Retries = 2, DeleteExtraneous = true };

        var result = await SingularitySender.SendAsync([tree], relay.Url, options);

        Assert.Equal((1, 1, 0), (result.Retries, result.EntriesDeleted, result.FilesUnchanged));
        Assert.True(result.BytesSent < 40 * 200_000 + (2 << 20), $"sent {result.BytesSent}");
        TestFiles.AssertSameTree(tree, Path.Combine(destination, "tree"));
    }

    /// <summary>
    /// As rsync: where --delete is given but skipped (an entry was left out at the sender), a directory in the way of a
    /// file is still replaced, as --force replaces it; what the source no longer has stays.
    /// </summary>
    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task A_skipped_deletion_still_replaces_a_directory_in_the_way()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        string file = TestFiles.Create(Path.Combine(tree, "x"), 1_000, seed: 1);
        File.CreateSymbolicLink(Path.Combine(tree, "dangling"), "nowhere");
        string destination = temp.Sub("dst"), received = Path.Combine(destination, "tree");
        TestFiles.Create(Path.Combine(received, "x", "inner"), 10, seed: 2);
        string stale = TestFiles.Create(Path.Combine(received, "stale"), 10, seed: 3);
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([tree], receiver.Url, Quick with { DeleteExtraneous = true, CopyLinks = true });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(["tree/dangling"], result.NotSent.Select(entry => entry.Path));
        Assert.True(result.DeletionSkipped);
        TestFiles.AssertSameBytes(file, Path.Combine(received, "x"));
        Assert.True(File.Exists(stale));
    }

    /// <summary>
    /// With --ignore-errors (rsync's), the deletion runs although entries were left out: here a link -L cannot follow
    /// (left out at the sender, its old copy then deleted as rsync deletes it) and a file the receiver cannot write (a
    /// directory in its way holds a partial file). Without it, the same send deletes nothing.
    /// </summary>
    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Ignore_errors_deletes_although_entries_were_left_out()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        TestFiles.Create(Path.Combine(tree, "a"), 1_000, seed: 1);
        TestFiles.Create(Path.Combine(tree, "blocked"), 100, seed: 2);
        File.CreateSymbolicLink(Path.Combine(tree, "dangling"), "nowhere");
        string destination = temp.Sub("dst"), received = Path.Combine(destination, "tree");
        string partial = TestFiles.Create(Path.Combine(received, "blocked", ".x.sglty-part"), 10);
        string stale = TestFiles.Create(Path.Combine(received, "stale"), 10);
        File.CreateSymbolicLink(Path.Combine(received, "dangling"), "nowhere");
        await using var receiver = new LoopbackReceiver(destination);
        var options = Quick with { DeleteExtraneous = true, CopyLinks = true };

        var skipped = await SingularitySender.SendAsync([tree], receiver.Url, options);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((true, 0), (skipped.DeletionSkipped, skipped.EntriesDeleted));
        Assert.True(File.Exists(stale));

        var result = await SingularitySender.SendAsync([tree], receiver.Url, options with { IgnoreErrors = true });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(["tree/blocked", "tree/dangling"], result.NotSent.Select(entry => entry.Path).Order(StringComparer.Ordinal));
        Assert.False(result.DeletionSkipped);
        Assert.Equal(2, result.EntriesDeleted);
        Assert.False(File.Exists(stale));
        Assert.False(Path.Exists(Path.Combine(received, "dangling")));
        // What the receiver could not replace stays, with the partial file in it.
        Assert.True(File.Exists(partial));
        TestFiles.AssertSameBytes(Path.Combine(tree, "a"), Path.Combine(received, "a"));

        // Without --delete it is taken, and does nothing, as with rsync: the blocked file is still named (exit 23).
        var (exit, _, error) = await SgltyProcess.RunAsync("send", tree, "--to", receiver.Url.ToString(), "--ignore-errors");
        Assert.True(exit == 23, error);
        Assert.Contains("'tree/blocked' is a directory in the destination", error);
        Assert.DoesNotContain("deleted", error);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
    }

    /// <summary>A destination that holds d/f (its bytes returned), which the sessions below name, and d/stale, which they do not.</summary>
    private static (string Destination, string Kept, byte[] Old, string Stale) HeldAndStale(TempDirectory temp)
    {
        string destination = temp.Sub("dst");
        string kept = TestFiles.Create(Path.Combine(destination, "d", "f"), 50, seed: 1);
        string stale = TestFiles.Create(Path.Combine(destination, "d", "stale"), 10, seed: 2);
        return (destination, kept, File.ReadAllBytes(kept), stale);
    }

    /// <summary>A raw sender's session that asks for the deletion (with <paramref name="moreFlags"/>), its manifest the directory d and the files of 100 bytes <paramref name="files"/> (ids 1, 2, ...), accepted.</summary>
    private static async Task<RawPeer> OpenDeletingAsync(LoopbackReceiver receiver, uint moreFlags, params string[] files)
    {
        var peer = await RawPeer.ConnectAsync(receiver.Url);
        var (_, answer, _) = await peer.OpenWithMoreFlagsAsync(receiver.Token, 4096, Singularity.Engine.Protocol.OpenSessionFlags.DeleteExtraneous, moreFlags, 0,
            [new Singularity.Engine.Protocol.ManifestEntry(Singularity.Engine.Protocol.EntryKind.Directory, "d", 0, (UnixFileMode)0b111_101_101, 0, null),
             .. files.Select(file => new Singularity.Engine.Protocol.ManifestEntry(Singularity.Engine.Protocol.EntryKind.File, file, 100, (UnixFileMode)0b110_100_100, 0, null))]);
        Assert.Equal(Singularity.Engine.Protocol.ControlMessageType.ManifestAccepted, answer);
        return peer;
    }

    /// <summary>
    /// With ignore errors, a file the sender gave up (it could not open it) keeps its copy at the receiver, since its
    /// name was sent; what the source does not have goes. Without it, nothing goes.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_file_given_up_keeps_its_copy_when_errors_are_ignored(bool ignoreErrors)
    {
        using var temp = new TempDirectory();
        var (destination, kept, old, stale) = HeldAndStale(temp);
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { Cipher = CipherSuite.None });
        await using var peer = await OpenDeletingAsync(receiver, ignoreErrors ? Singularity.Engine.Protocol.MoreSessionFlags.IgnoreErrors : 0u, "d/f");

        await peer.SendControlAsync(Singularity.Engine.Protocol.ControlMessageType.FilesDropped, RawReceiver.Batch([1]));
        await peer.SendControlAsync(Singularity.Engine.Protocol.ControlMessageType.Finish, []);
        Assert.NotNull(await peer.ReadUntilAsync(Singularity.Engine.Protocol.ControlMessageType.SessionDone));

        var result = await receiver.NextResultAsync();
        Assert.True(result.Succeeded, result.Error?.Message);
        Assert.Equal(old, File.ReadAllBytes(kept));
        Assert.Equal(!ignoreErrors, File.Exists(stale));
        Assert.Equal(ignoreErrors ? 1 : 0, result.EntriesDeleted);
    }

    /// <summary>
    /// Files gone since the scan (FilesVanished) do not stop the deletion, and keep their copies at the receiver, their
    /// names being sent; beside one given up for another reason (FilesDropped), nothing goes.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Files_that_vanished_do_not_stop_the_deletion_unless_another_was_given_up(bool alsoDropped)
    {
        using var temp = new TempDirectory();
        var (destination, kept, old, stale) = HeldAndStale(temp);
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { Cipher = CipherSuite.None });
        await using var peer = await OpenDeletingAsync(receiver, 0u, "d/f", "d/g");

        await peer.SendControlAsync(Singularity.Engine.Protocol.ControlMessageType.FilesVanished, (alsoDropped ? RawReceiver.Batch([1]) : RawReceiver.Batch([1], [2])));
        if (alsoDropped) await peer.SendControlAsync(Singularity.Engine.Protocol.ControlMessageType.FilesDropped, RawReceiver.Batch([2]));
        await peer.SendControlAsync(Singularity.Engine.Protocol.ControlMessageType.Finish, []);
        Assert.NotNull(await peer.ReadUntilAsync(Singularity.Engine.Protocol.ControlMessageType.SessionDone));

        var result = await receiver.NextResultAsync();
        Assert.True(result.Succeeded, result.Error?.Message);
        Assert.Equal(old, File.ReadAllBytes(kept));
        Assert.Equal(alsoDropped, File.Exists(stale));
        Assert.Equal(alsoDropped ? 0 : 1, result.EntriesDeleted);
        Assert.Equal(2, result.FilesNotSent);
    }

    /// <summary>
    /// A directory whose contents go into the destination's root, and that could not be listed (named by its full
    /// path in what was left out), leaves the root uncleaned: with --ignore-errors the root would otherwise be emptied.
    /// </summary>
    [Fact]
    public void A_root_that_could_not_be_listed_is_not_cleaned()
    {
        using var temp = new TempDirectory();
        string source = temp.Sub("src");
        var options = new TransferOptions { DeleteExtraneous = true, IgnoreErrors = true };
        Assert.True(Singularity.Engine.Transfer.SenderSession.CleansRoot([source + "/"], options, [new NotSentEntry("sub/", "cannot read directory") { IsDirectory = true }]));
        Assert.False(Singularity.Engine.Transfer.SenderSession.CleansRoot([source + "/"], options, [new NotSentEntry(source + "/", "cannot read directory: permission denied") { IsDirectory = true }]));
        Assert.False(Singularity.Engine.Transfer.SenderSession.CleansRoot([source], options, []));
    }
}
