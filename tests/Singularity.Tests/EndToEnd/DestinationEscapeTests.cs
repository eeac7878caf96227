using System.Buffers.Binary;
using Singularity.Engine;
using Singularity.Engine.Integrity;
using Singularity.Engine.Protocol;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// A session trusts the directories it checked and opens the files it prepared in them later, by path. A directory
/// replaced by a link after that would redirect those writes, and the mode and the deletion at the end, out of the
/// destination. A receiver replaces a directory only when nothing of the session lies below it and no other session
/// is receiving; these senders try both, and nothing outside the destination may change.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class DestinationEscapeTests
{
    private static readonly TransferOptions Plain = new() { Cipher = CipherSuite.None };
    private static ManifestEntry File(string path) => new(EntryKind.File, path, 0, (UnixFileMode)0b110_100_100, 0, null);
    private static ManifestEntry Directory(string path) => new(EntryKind.Directory, path, 0, (UnixFileMode)0b111_111_111, 0, null);
    private static ManifestEntry Link(string path, string target) => new(EntryKind.Symlink, path, 0, 0, 0, target);

    /// <summary>The seal of an empty file.</summary>
    private static byte[] Seal(uint fileId)
    {
        byte[] seal = new byte[16];
        BinaryPrimitives.WriteInt32LittleEndian(seal, 1);
        BinaryPrimitives.WriteUInt32LittleEndian(seal.AsSpan(4), fileId);
        BinaryPrimitives.WriteUInt64LittleEndian(seal.AsSpan(8), Digests.File([]));
        return seal;
    }

    /// <summary>Reads FilesCommitted messages until <paramref name="files"/> files were named (they may come batched).</summary>
    private static async Task CommittedAsync(RawPeer peer, int files)
    {
        while (files > 0)
        {
            byte[] body = (await peer.ReadUntilAsync(ControlMessageType.FilesCommitted))!;
            Assert.NotNull(body);
            files -= BinaryPrimitives.ReadInt32LittleEndian(body);
        }
    }

    private static async Task FinishAsync(RawPeer peer)
    {
        await peer.SendControlAsync(ControlMessageType.Finish, []);
        Assert.NotNull(await peer.ReadUntilAsync(ControlMessageType.SessionDone));
    }

    /// <summary>One session: files prepared in x, then a link at x (x was still empty: partials are made at the first shard), then another file below it.</summary>
    [Fact]
    public async Task A_link_does_not_replace_a_directory_the_session_writes_into()
    {
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst"), outside = temp.Sub("outside");
        string victim = temp.Sub("outside/y");
        System.IO.File.SetUnixFileMode(victim, (UnixFileMode)0b111_000_000);
        await using var receiver = new LoopbackReceiver(destination, Plain);
        await using var peer = await RawPeer.ConnectAsync(receiver.Url);

        var (_, answer, _) = await peer.OpenWithManifestAsync(receiver.Token, 4096, File("x/a"), Link("x", outside), File("x/b"), Directory("x/y"));
        Assert.Equal(ControlMessageType.ManifestAccepted, answer);
        await peer.SendControlAsync(ControlMessageType.FilesSealed, Seal(0));
        await peer.SendControlAsync(ControlMessageType.FilesSealed, Seal(2));
        await CommittedAsync(peer, 2);
        await FinishAsync(peer);

        Assert.Equal([victim], System.IO.Directory.GetFileSystemEntries(outside));
        Assert.Equal((UnixFileMode)0b111_000_000, System.IO.File.GetUnixFileMode(victim));
        Assert.True(System.IO.File.Exists(Path.Combine(destination, "x", "a")) && System.IO.File.Exists(Path.Combine(destination, "x", "b")));
        Assert.Equal(1, (await receiver.NextResultAsync()).EntriesFailed);
    }

    /// <summary>With deletion asked: a link in place of a directory of the manifest would make the deletion at the end walk outside.</summary>
    [Fact]
    public async Task Deletion_never_walks_through_a_link_that_replaced_a_directory()
    {
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst"), outside = temp.Sub("outside");
        string precious = TestFiles.Create(Path.Combine(outside, "y", "precious"), 10);
        await using var receiver = new LoopbackReceiver(destination, Plain);
        await using var peer = await RawPeer.ConnectAsync(receiver.Url);

        var (_, answer, _) = await peer.OpenWithManifestAsync(receiver.Token, 4096, OpenSessionFlags.DeleteExtraneous, Directory("x/y"), Link("x", outside));
        Assert.Equal(ControlMessageType.ManifestAccepted, answer);
        await FinishAsync(peer);

        Assert.True(System.IO.File.Exists(precious), "a file outside the destination was deleted");
        Assert.Null(new DirectoryInfo(Path.Combine(destination, "x")).LinkTarget);
    }

    /// <summary>
    /// A manifest that names d and d/sub/deeper but not d/sub: deletion must not remove d/sub, which the session
    /// checked and still sets modes and times below by path (a link there would pass them out of the destination).
    /// </summary>
    [Fact]
    public async Task Deletion_keeps_every_directory_the_session_checked()
    {
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination, Plain);
        await using var peer = await RawPeer.ConnectAsync(receiver.Url);

        var (_, answer, _) = await peer.OpenWithManifestAsync(receiver.Token, 4096, OpenSessionFlags.DeleteExtraneous, Directory("d/sub/deeper"), Directory("d"));
        Assert.Equal(ControlMessageType.ManifestAccepted, answer);
        await FinishAsync(peer);

        Assert.True(System.IO.Directory.Exists(Path.Combine(destination, "d", "sub", "deeper")));
        var result = await receiver.NextResultAsync();
        Assert.Equal((0, 0, 0), (result.EntriesDeleted, result.EntriesNotDeleted, result.EntriesFailed));
    }

    /// <summary>Two sessions: while A has a file prepared in x, B sends a link at x. Replacing the directory waits until no other session receives.</summary>
    [Fact]
    public async Task Another_session_cannot_replace_a_directory_a_session_writes_into()
    {
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst"), outside = temp.Sub("outside");
        await using var receiver = new LoopbackReceiver(destination, Plain);
        await using var a = await RawPeer.ConnectAsync(receiver.Url);
        var (_, answerA, _) = await a.OpenWithManifestAsync(receiver.Token, 4096, File("x/a"));
        Assert.Equal(ControlMessageType.ManifestAccepted, answerA);

        await using (var b = await RawPeer.ConnectAsync(receiver.Url))
        {
            var (_, answerB, _) = await b.OpenWithManifestAsync(receiver.Token, 4096, Link("x", outside));
            Assert.Equal(ControlMessageType.ManifestAccepted, answerB);
            await FinishAsync(b);
        }
        await a.SendControlAsync(ControlMessageType.FilesSealed, Seal(0));
        await CommittedAsync(a, 1);
        await FinishAsync(a);

        Assert.Empty(System.IO.Directory.GetFileSystemEntries(outside));
        Assert.True(System.IO.File.Exists(Path.Combine(destination, "x", "a")));
    }

    /// <summary>
    /// A session that fails with a file already given up (here one blocked by a full directory) abandons its files:
    /// the placeholder of the given-up one names no file, and abandoning it deleted a name in the receiver's working
    /// directory.
    /// </summary>
    [Fact]
    public async Task A_failed_session_deletes_nothing_outside_its_partials()
    {
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        TestFiles.Create(Path.Combine(destination, "d", "kept"), 10);
        string stray = Path.Combine(Environment.CurrentDirectory, "..0000000000000000.sglty-part");
        System.IO.File.WriteAllText(stray, "not the receiver's");
        try
        {
            await using var receiver = new LoopbackReceiver(destination, Plain);
            await using (var peer = await RawPeer.ConnectAsync(receiver.Url))
            {
                var (_, answer, _) = await peer.OpenWithManifestAsync(receiver.Token, 4096, File("d"));
                Assert.Equal(ControlMessageType.ManifestAccepted, answer);
            }
            Assert.False((await receiver.NextResultAsync()).Succeeded);
            Assert.True(System.IO.File.Exists(stray), "the receiver deleted a file in its working directory");
        }
        finally
        {
            System.IO.File.Delete(stray);
        }
    }
}
