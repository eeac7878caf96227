using Singularity.Engine;
using Singularity.Engine.Protocol;
using Singularity.Engine.Security;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// A sender's URL may name a directory below the receiver's (<see cref="ConnectionUrl.Directory"/>): the session then
/// writes into it, created if missing, as into a destination of its own, so that one receiver serves many senders
/// each into its place, and a deletion cleans that place alone.
/// </summary>
public sealed class DestinationDirectoryTests
{
    private static readonly TransferOptions Quick = new() { ShardSize = 4096, SkipUnchanged = true };

    private static string Tree(TempDirectory temp)
    {
        string tree = temp.Sub("src/tree");
        TestFiles.Create(Path.Combine(tree, "a"), 40_000, seed: 1);
        TestFiles.Create(Path.Combine(tree, "sub", "b"), 300, seed: 2);
        File.CreateSymbolicLink(Path.Combine(tree, "l"), "a");
        return tree;
    }

    private static ConnectionUrl Into(LoopbackReceiver receiver, string directory) => receiver.Url with { Directory = directory };

    /// <summary>
    /// A receiver whose own directory was removed while it ran refuses each session with a line that says so, whether
    /// it sends a file, a tree, or into a directory below: nothing is made anew where the receiver's private directory was.
    /// </summary>
    [Theory]
    [InlineData(false, "")]
    [InlineData(true, "")]
    [InlineData(false, "backups")]
    public async Task A_receivers_directory_removed_while_it_runs_is_told_and_not_made_anew(bool tree, string below)
    {
        using var temp = new TempDirectory();
        string source = tree ? Tree(temp) : TestFiles.Create(Path.Combine(temp.Sub("src"), "db.dump"), 40_000, seed: 3);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);
        Directory.Delete(destination);

        var error = await Assert.ThrowsAnyAsync<SingularityException>(() => SingularitySender.SendAsync([source], below == "" ? receiver.Url : Into(receiver, below), Quick));
        var received = await receiver.NextResultAsync();

        Assert.Equal(ErrorCode.IoError, error.Code);
        Assert.Contains("the receiver's directory is gone (removed while the receiver ran); start the receiver again, which makes it", error.Message);
        Assert.False(received.Succeeded);
        Assert.False(Path.Exists(destination));
    }

    /// <summary>The tree lands below the named directory, which is created with its parents; a second send finds it in place there.</summary>
    [Fact]
    public async Task A_tree_lands_in_the_directory_the_url_names()
    {
        using var temp = new TempDirectory();
        string tree = Tree(temp);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);

        var sent = await SingularitySender.SendAsync([tree], Into(receiver, "backups/web1"), Quick);
        var received = await receiver.NextResultAsync();

        Assert.True(received.Succeeded, received.Error?.Message);
        Assert.Equal("backups/web1", received.Destination);
        TestFiles.AssertSameTree(tree, Path.Combine(destination, "backups", "web1", "tree"));
        Assert.Equal(["backups"], Directory.GetFileSystemEntries(destination).Select(Path.GetFileName));
        Assert.Equal((2, 0), (sent.Files, sent.FilesUnchanged));

        var again = await SingularitySender.SendAsync([tree], Into(receiver, "backups/web1"), Quick);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((2, 2), (again.Files, again.FilesUnchanged));
    }

    /// <summary>
    /// A directory's contents sent with a deletion clean the named directory alone, as rsync cleans its destination:
    /// what other senders put beside it stays. A backup directory and the patterns are the named directory's too.
    /// </summary>
    [Fact]
    public async Task A_deletion_cleans_the_named_directory_alone()
    {
        using var temp = new TempDirectory();
        string tree = Tree(temp);
        string destination = temp.Sub("dst");
        string other = TestFiles.Create(Path.Combine(destination, "backups", "web2", "keep"), 100, seed: 3);
        string beside = TestFiles.Create(Path.Combine(destination, "backups", "top"), 100, seed: 4);
        string stale = TestFiles.Create(Path.Combine(destination, "backups", "web1", "stale"), 100, seed: 5);
        string excluded = TestFiles.Create(Path.Combine(destination, "backups", "web1", "sub", "x.tmp"), 100, seed: 6);
        await using var receiver = new LoopbackReceiver(destination);

        var sent = await SingularitySender.SendAsync([tree + "/"], Into(receiver, "backups/web1"),
            Quick with { DeleteExtraneous = true, BackupDirectory = ".old", Exclude = ["/sub/*.tmp"] });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(1, sent.EntriesDeleted);
        Assert.False(File.Exists(stale));
        Assert.True(File.Exists(Path.Combine(destination, "backups", "web1", ".old", "stale")));
        Assert.True(File.Exists(excluded));
        Assert.True(File.Exists(other) && File.Exists(beside));
        TestFiles.AssertSameBytes(Path.Combine(tree, "a"), Path.Combine(destination, "backups", "web1", "a"));
        TestFiles.AssertSameBytes(Path.Combine(tree, "sub", "b"), Path.Combine(destination, "backups", "web1", "sub", "b"));
    }

    /// <summary>A link or a file on the way to the named directory ends the session with a clear error, and nothing is written through it.</summary>
    [Theory]
    [InlineData("a link")]
    [InlineData("a link at its end")]
    [InlineData("a file")]
    public async Task A_link_or_a_file_on_the_way_is_refused(string what)
    {
        using var temp = new TempDirectory();
        string tree = Tree(temp);
        string destination = temp.Sub("dst");
        string outside = temp.Sub("outside");
        if (what == "a file") TestFiles.Create(Path.Combine(destination, "backups"), 10, seed: 1);
        else if (what == "a link") File.CreateSymbolicLink(Path.Combine(destination, "backups"), outside);
        else
        {
            Directory.CreateDirectory(Path.Combine(destination, "backups"));
            File.CreateSymbolicLink(Path.Combine(destination, "backups", "web1"), outside);
        }
        await using var receiver = new LoopbackReceiver(destination);

        var error = await Assert.ThrowsAnyAsync<SingularityException>(() => SingularitySender.SendAsync([tree], Into(receiver, "backups/web1"), Quick));

        Assert.Equal(ErrorCode.BadPath, error.Code);
        Assert.Contains("cannot receive into 'backups/web1' below the receiver's directory", error.Message);
        var received = await receiver.NextResultAsync();
        Assert.False(received.Succeeded);
        Assert.Empty(Directory.GetFileSystemEntries(outside));
    }

    /// <summary>A dry run into a directory that does not exist yet lists what it would send there, and creates nothing.</summary>
    [Fact]
    public async Task A_dry_run_into_a_new_directory_creates_nothing()
    {
        using var temp = new TempDirectory();
        string tree = Tree(temp);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);

        var dry = await SingularitySender.SendAsync([tree + "/"], Into(receiver, "new/place"), Quick with { DryRun = true, DeleteExtraneous = true });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(["a", "sub/b"], dry.WouldSend.Order(StringComparer.Ordinal));
        Assert.Empty(dry.WouldDelete);
        Assert.Empty(Directory.GetFileSystemEntries(destination));
    }

    /// <summary>
    /// A dry run's destination that a real session would create is not looked into, even where a link comes to stand
    /// at its name while the dry run goes on (another session may make one): its deletion lists nothing beyond the
    /// receiver's directory.
    /// </summary>
    [Fact]
    public async Task A_dry_run_does_not_look_through_a_link_made_at_its_new_destination()
    {
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        string elsewhere = temp.Sub("elsewhere");
        TestFiles.Create(Path.Combine(elsewhere, "outside", "secret"), 10, seed: 1);
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { Cipher = CipherSuite.None });
        await using var peer = await RawPeer.ConnectAsync(receiver.Url);
        const ushort dryDeletionOfTheRoot = OpenSessionFlags.SkipUnchanged | OpenSessionFlags.DeleteExtraneous | OpenSessionFlags.RootIsSent | OpenSessionFlags.DryRun;

        Assert.Equal(ErrorCode.None, (await peer.HelloAsync(ConnectionRole.Control, receiver.Token)).Status);
        await peer.SendControlAsync(ControlMessageType.Destination, DestinationMessage.Encode("new/outside"));
        await peer.SendControlAsync(ControlMessageType.OpenSession, RawPeer.OpenSession(4096, 1, 0, 0, dryDeletionOfTheRoot));
        Assert.NotNull(await peer.ReadUntilAsync(ControlMessageType.ManifestAccepted));
        File.CreateSymbolicLink(Path.Combine(destination, "new"), elsewhere);
        await peer.SendControlAsync(ControlMessageType.Finish, []);
        var seen = new List<ControlMessageType>();
        Assert.NotNull(await peer.ReadUntilAsync(ControlMessageType.SessionDone, seen.Add));

        Assert.DoesNotContain(ControlMessageType.WouldDelete, seen);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.True(File.Exists(Path.Combine(elsewhere, "outside", "secret")));
    }

    /// <summary>
    /// A session does not write into a directory another process holds a lock on: a send moving its files out of it
    /// takes one before it connects, however it reaches that directory (through a bind mount, say, where the names
    /// above it differ), and its own session into there is refused rather than its copies taken for its sources.
    /// </summary>
    [Fact]
    public async Task A_destination_a_moving_sender_holds_is_refused()
    {
        using var temp = new TempDirectory();
        string tree = Tree(temp);
        string destination = temp.Sub("dst");
        string held = temp.Sub("dst/web1");
        await using var receiver = new LoopbackReceiver(destination);
        using var sendersLock = Singularity.Engine.Storage.DestinationLock.TryShare(held, out _);
        Assert.NotNull(sendersLock);

        var error = await Assert.ThrowsAnyAsync<SingularityException>(() => SingularitySender.SendAsync([tree], Into(receiver, "web1"), Quick));

        Assert.Equal(ErrorCode.BadPath, error.Code);
        Assert.Contains("cannot receive into 'web1' below the receiver's directory: another process holds a lock on it: a sglty send moving files out of it", error.Message);
        Assert.False((await receiver.NextResultAsync()).Succeeded);
        Assert.Empty(Directory.GetFileSystemEntries(held));
    }

    /// <summary>The receiver refuses a Destination that climbs out, comes after OpenSession or comes twice, before anything is written.</summary>
    [Theory]
    [InlineData("climbing", "refused destination: the destination must be a relative path inside the receiver's directory")]
    [InlineData("absolute", "refused destination: the destination must be a relative path inside the receiver's directory")]
    [InlineData("after OpenSession", "Destination outside its place: once, before OpenSession")]
    [InlineData("twice", "Destination outside its place: once, before OpenSession")]
    [InlineData("truncated", "Destination has the wrong length")]
    public async Task A_destination_out_of_its_place_or_malformed_ends_the_session(string wrong, string expected)
    {
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { Cipher = CipherSuite.None });
        await using var peer = await RawPeer.ConnectAsync(receiver.Url);
        byte[] body = wrong switch
        {
            "climbing" => DestinationMessage.Encode("a/../../x"),
            "absolute" => DestinationMessage.Encode("/x"),
            "truncated" => DestinationMessage.Encode("x")[..^1],
            _ => DestinationMessage.Encode("x"),
        };

        Assert.Equal(ErrorCode.None, (await peer.HelloAsync(ConnectionRole.Control, receiver.Token)).Status);
        for (int i = 0; i < (wrong == "twice" ? 2 : wrong == "after OpenSession" ? 0 : 1); i++) await peer.SendControlAsync(ControlMessageType.Destination, body);
        await peer.SendControlAsync(ControlMessageType.OpenSession, RawPeer.OpenSession(4096, 1, 1, 0));
        if (wrong == "after OpenSession") await peer.SendControlAsync(ControlMessageType.Destination, body);
        await peer.SendControlAsync(ControlMessageType.ManifestChunk, RawPeer.Manifest(RawPeer.MadeDirectory));
        byte[]? error = await peer.ReadUntilAsync(ControlMessageType.Error);

        Assert.NotNull(error);
        Assert.Contains(expected, ErrorMessage.Decode(error).Reason);
        Assert.False((await receiver.NextResultAsync()).Succeeded);
        Assert.Empty(Directory.GetFileSystemEntries(destination));
        Assert.DoesNotContain(Directory.GetFileSystemEntries(temp.Path), p => Path.GetFileName(p) is "x" or "made");
    }

    /// <summary>A pull's receiver refuses a Destination below what it asked for before it makes anything there.</summary>
    [Fact]
    public async Task A_pull_refuses_a_destination_it_did_not_ask_for()
    {
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { Cipher = CipherSuite.None },
            adjust: options => options with { Admission = PullAdmission.For(["/srv/app"], new TransferOptions(), null, null) });
        await using var peer = await RawPeer.ConnectAsync(receiver.Url);

        Assert.Equal(ErrorCode.None, (await peer.HelloAsync(ConnectionRole.Control, receiver.Token)).Status);
        await peer.SendControlAsync(ControlMessageType.Destination, DestinationMessage.Encode("evil/deep"));
        await peer.SendControlAsync(ControlMessageType.OpenSession, RawPeer.OpenSession(4096, 1, 1, 0));
        await peer.SendControlAsync(ControlMessageType.ManifestChunk, RawPeer.Manifest(RawPeer.MadeDirectory));
        byte[]? error = await peer.ReadUntilAsync(ControlMessageType.Error);

        Assert.NotNull(error);
        Assert.Contains("sent 'evil/deep', which it was not asked for; the pull refuses it", ErrorMessage.Decode(error).Reason);
        Assert.False((await receiver.NextResultAsync()).Succeeded);
        Assert.Empty(Directory.GetFileSystemEntries(destination));
    }
}
