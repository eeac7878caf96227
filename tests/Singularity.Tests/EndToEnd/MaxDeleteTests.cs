using Singularity.Engine;
using Singularity.Engine.Protocol;
using Singularity.Engine.Security;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// With <see cref="TransferOptions.MaxDelete"/> (rsync --max-delete), the receiver's deletion stops once it has
/// deleted that many entries, leaves the rest, and says how many it left: a safety net for a source gone empty.
/// </summary>
public sealed class MaxDeleteTests
{
    private static readonly TransferOptions Deleting = new() { ShardSize = 4096, SkipUnchanged = true, DeleteExtraneous = true };

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task The_deletion_stops_at_the_limit_and_counts_what_it_left()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        TestFiles.Create(Path.Combine(tree, "a"), 10_000, seed: 1);
        TestFiles.Create(Path.Combine(tree, "sub", "b"), 20_000, seed: 2);
        string destination = temp.Sub("dst"), received = Path.Combine(destination, "tree");
        await using var receiver = new LoopbackReceiver(destination);
        await SingularitySender.SendAsync([tree], receiver.Url, Deleting);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        // Six entries the source does not have: three files, and a directory with two.
        string[] extraneous = ["s1", "s2", "sub/s3", "old", "old/x", "old/y"];
        foreach (string path in extraneous.Where(path => path != "old")) TestFiles.Create(Path.Combine(received, path), 10);

        // Nothing at all with 0, in a dry run as in a real send: each entry met is left, a directory once.
        var dry = await SingularitySender.SendAsync([tree], receiver.Url, Deleting with { MaxDelete = 0, DryRun = true });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((0, 4), (dry.EntriesDeleted, dry.EntriesLeftByLimit));
        Assert.Empty(dry.WouldDelete);
        var none = await SingularitySender.SendAsync([tree], receiver.Url, Deleting with { MaxDelete = 0 });
        var noneAtReceiver = await receiver.NextResultAsync();
        Assert.Equal((0, 4, 4), (none.EntriesDeleted, none.EntriesLeftByLimit, noneAtReceiver.EntriesLeftByLimit));
        Assert.All(extraneous, path => Assert.True(Path.Exists(Path.Combine(received, path)), path));

        var two = await SingularitySender.SendAsync([tree], receiver.Url, Deleting with { MaxDelete = 2 });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((2, 0, false), (two.EntriesDeleted, two.EntriesNotDeleted, two.DeletionSkipped));
        Assert.Equal(4, extraneous.Count(path => Path.Exists(Path.Combine(received, path))));
        // Whichever two went first (the directory's order): each file met after them once, and old once, whether
        // met whole, met with one of its two left, or emptied just as the limit was reached.
        int filesLeft = new[] { "s1", "s2", "sub/s3" }.Count(path => File.Exists(Path.Combine(received, path)));
        Assert.Equal(filesLeft + (Directory.Exists(Path.Combine(received, "old")) ? 1 : 0), two.EntriesLeftByLimit);

        // Within the limit, the deletion is whole, and nothing is left.
        var rest = await SingularitySender.SendAsync([tree], receiver.Url, Deleting with { MaxDelete = 4 });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((4, 0), (rest.EntriesDeleted, rest.EntriesLeftByLimit));
        TestFiles.AssertSameTree(tree, received);
    }

    /// <summary>A directory in the way of a file counts against the limit too, and past it the file's entry fails, naming the limit.</summary>
    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task A_directory_in_the_way_past_the_limit_stays_and_its_entry_fails()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        TestFiles.Create(Path.Combine(tree, "a"), 10_000, seed: 1);
        string destination = temp.Sub("dst");
        TestFiles.Create(Path.Combine(destination, "tree", "a", "x"), 10);
        TestFiles.Create(Path.Combine(destination, "tree", "a", "y"), 10);
        await using var receiver = new LoopbackReceiver(destination);

        var send = await SingularitySender.SendAsync([tree], receiver.Url, Deleting with { MaxDelete = 1 });
        var result = await receiver.NextResultAsync();

        Assert.Equal("tree/a", Assert.Single(send.NotSent).Path);
        Assert.Contains("--max-delete limit of 1", Assert.Single(send.NotSent).Reason);
        Assert.Equal((1, 1), (result.EntriesDeleted, result.EntriesLeftByLimit));
        Assert.True(Directory.Exists(Path.Combine(destination, "tree", "a")));
    }

    [Theory]
    [InlineData(OpenSessionFlags.MostDeletions | OpenSessionFlags.DeleteExtraneous, -1, "fewer than none")]
    public async Task A_receiver_refuses_a_limit_it_cannot_keep(ushort flags, int most, string reason)
    {
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { Cipher = CipherSuite.None });
        await using var peer = await RawPeer.ConnectAsync(receiver.Url);

        var (_, answer, body) = await peer.OpenWithManifestAsync(receiver.Token, 4096, flags, most,
            new ManifestEntry(EntryKind.Directory, "made", 0, (UnixFileMode)0b111_101_101, 0, null));

        Assert.Equal(ControlMessageType.Error, answer);
        Assert.Contains(reason, ErrorMessage.Decode(body).Reason);
        Assert.False((await receiver.NextResultAsync()).Succeeded);
        Assert.Empty(Directory.EnumerateFileSystemEntries(destination));
    }

    /// <summary>A receiver's SessionDone must carry what the limit left, and may not count more deletions than it allows.</summary>
    [Theory]
    [InlineData(null, 0, "SessionDone does not match the transfer")]
    [InlineData(0, 2, "SessionDone counts deletions this sender did not ask for")]
    [InlineData(-1, 0, "SessionDone counts deletions this sender did not ask for")]
    public async Task A_receiver_that_misreports_the_limit_is_refused(int? left, int deleted, string error)
    {
        using var temp = new TempDirectory();
        await using var receiver = new RawReceiver();
        var send = SingularitySender.SendAsync([TestFiles.Create(Path.Combine(temp.Path, "f"), 1000)], receiver.Url, new TransferOptions { Cipher = CipherSuite.None, Lanes = 1, DeleteExtraneous = true, MaxDelete = 1 });
        await receiver.AcceptAsync();
        await receiver.ReadUntilAsync(ControlMessageType.ManifestChunk);
        await receiver.SendAsync(ControlMessageType.ManifestAccepted, RawReceiver.Fields(1));
        Assert.NotNull(await receiver.ReadUntilAsync(ControlMessageType.FilesSealed));
        await receiver.SendAsync(ControlMessageType.ShardAcks, RawReceiver.Batch([0, 0]));
        await receiver.SendAsync(ControlMessageType.FilesCommitted, RawReceiver.Batch([0]));
        await receiver.EndSessionAsync(1, 1000, deleted, left);

        var failure = await Assert.ThrowsAnyAsync<SingularityException>(() => send);
        Assert.Equal(ErrorCode.ProtocolViolation, failure.Code);
        Assert.Contains(error, failure.Message);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task The_command_exits_25_saying_what_the_limit_left()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        TestFiles.Create(Path.Combine(tree, "a"), 1000);
        string destination = temp.Sub("dst");
        TestFiles.Create(Path.Combine(destination, "tree", "gone1"), 10);
        TestFiles.Create(Path.Combine(destination, "tree", "gone2"), 10);
        await using var receiver = new LoopbackReceiver(destination);

        var (exit, output, error) = await SgltyProcess.RunAsync("send", tree, "--to", receiver.Url.ToString(), "--delete", "--max-delete", "1", "--json");

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.True(exit == 25, error);
        Assert.Contains("deletions stopped at the --max-delete limit of 1: 1 entry at the receiver was left", error);
        Assert.Contains("\"left_by_max_delete\":1", output);
        Assert.Contains("\"exit_code\":25", output);
        TestFiles.AssertSameBytes(Path.Combine(tree, "a"), Path.Combine(destination, "tree", "a"));
        Assert.Single(Directory.GetFiles(Path.Combine(destination, "tree"), "gone*"));

        var (refused, _, why) = await SgltyProcess.RunAsync("send", tree, "--to", receiver.Url.ToString(), "--max-delete", "1");
        Assert.NotEqual(0, refused);
        Assert.Contains("--max-delete limits what --delete (or --delete-missing-args, or --force) deletes; give one of them too", why);
    }
}
