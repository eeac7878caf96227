using Singularity.Engine;
using Singularity.Engine.Protocol;
using Singularity.Engine.Storage;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// With <see cref="TransferOptions.Checksum"/>, as with rsync --checksum, a file the receiver holds with the source's
/// size is judged by its contents, not its mtime: one that differs is sent although its size and time match, and one
/// that matches stays in place (the same file) with the source's time and mode.
/// </summary>
public sealed class ChecksumTests
{
    private static readonly TransferOptions Quick = new() { ShardSize = 4096, SkipUnchanged = true };
    private static readonly DateTime Then = new(2024, 5, 6, 7, 8, 9, DateTimeKind.Utc);

    [Fact]
    public async Task Contents_decide_what_is_sent_whatever_the_times_say()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        string damaged = TestFiles.Create(Path.Combine(tree, "damaged"), 10_000, seed: 1);
        string same = TestFiles.Create(Path.Combine(tree, "sub", "same"), 50_000, seed: 2);
        TestFiles.Create(Path.Combine(tree, "resized"), 100, seed: 3);
        TestFiles.Create(Path.Combine(tree, "new"), 7_000, seed: 4);
        TestFiles.Create(Path.Combine(tree, "empty"), 0);
        foreach (string file in Directory.EnumerateFiles(tree, "*", SearchOption.AllDirectories)) File.SetLastWriteTimeUtc(file, Then);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(same, (UnixFileMode)0b110_100_000);
        string destination = temp.Sub("dst");
        // The same size and time with other bytes (a disk that rotted, a copy cut short and padded): the quick check
        // takes it for unchanged.
        string rotted = TestFiles.Create(Path.Combine(destination, "tree", "damaged"), 10_000, seed: 9);
        File.SetLastWriteTimeUtc(rotted, Then);
        // The same bytes with another time and mode: only those change.
        string kept = Path.Combine(destination, "tree", "sub", "same");
        Directory.CreateDirectory(Path.GetDirectoryName(kept)!);
        File.Copy(same, kept);
        File.SetLastWriteTimeUtc(kept, Then.AddDays(3));
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(kept, (UnixFileMode)0b110_110_110);
        var keptIdentity = SpecialFiles.IdentityOf(kept);
        TestFiles.Create(Path.Combine(destination, "tree", "resized"), 200, seed: 5);
        TestFiles.Create(Path.Combine(destination, "tree", "empty"), 0);
        File.SetLastWriteTimeUtc(Path.Combine(destination, "tree", "empty"), Then.AddDays(1));
        await using var receiver = new LoopbackReceiver(destination);

        var quick = await SingularitySender.SendAsync([tree], receiver.Url, Quick with { DryRun = true });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        var dry = await SingularitySender.SendAsync([tree], receiver.Url, Quick with { Checksum = true, DryRun = true });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        var result = await SingularitySender.SendAsync([tree], receiver.Url, Quick with { Checksum = true });
        Assert.True((await receiver.NextResultAsync()).Succeeded);

        // The quick check would have left the damaged file as it is; the contents say otherwise.
        Assert.Equal(["tree/empty", "tree/new", "tree/resized", "tree/sub/same"], quick.WouldSend.Order(StringComparer.Ordinal));
        Assert.Equal(["tree/damaged", "tree/new", "tree/resized"], dry.WouldSend.Order(StringComparer.Ordinal));
        Assert.Equal((5, 2), (result.Files, result.FilesUnchanged));
        TestFiles.AssertSameTree(tree, Path.Combine(destination, "tree"));
        Assert.Equal(keptIdentity, SpecialFiles.IdentityOf(kept));
        Assert.Equal(Then, File.GetLastWriteTimeUtc(kept));
        Assert.Equal(Then, File.GetLastWriteTimeUtc(Path.Combine(destination, "tree", "empty")));
        if (!OperatingSystem.IsWindows()) Assert.Equal((UnixFileMode)0b110_100_000, File.GetUnixFileMode(kept));
    }

    /// <summary>
    /// Moving with --checksum: a file of the same size and time with other contents is sent, and its source goes once
    /// the receiver holds it; with --ignore-existing, it is kept as the receiver has it, and so is one with the same
    /// contents, which the send passed over, as rsync does: both sources stay.
    /// </summary>
    [Fact]
    public async Task A_move_removes_only_sources_whose_contents_the_receiver_holds()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        string other = TestFiles.Create(Path.Combine(tree, "other"), 9_000, seed: 1);
        string same = TestFiles.Create(Path.Combine(tree, "same"), 9_000, seed: 2);
        string destination = temp.Sub("dst");
        string theirs = TestFiles.Create(Path.Combine(destination, "tree", "other"), 9_000, seed: 3);
        File.SetLastWriteTimeUtc(theirs, File.GetLastWriteTimeUtc(other));
        File.Copy(same, Path.Combine(destination, "tree", "same"));
        byte[] theirBytes = await File.ReadAllBytesAsync(theirs), otherBytes = await File.ReadAllBytesAsync(other);
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([tree], receiver.Url, Quick with { Checksum = true, IgnoreExisting = true, RemoveSourceFiles = true });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        // With --ignore-existing, neither goes, as with rsync: the one in place too was passed over, not moved.
        Assert.Equal((1, 0), (result.FilesKept, result.SourcesRemoved));
        Assert.True(File.Exists(other));
        Assert.True(File.Exists(same));
        Assert.Equal(theirBytes, await File.ReadAllBytesAsync(theirs));

        // Without it, the one whose contents differ is sent, and both go.
        result = await SingularitySender.SendAsync([tree], receiver.Url, Quick with { Checksum = true, RemoveSourceFiles = true });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((1, 2), (result.FilesTransferred, result.SourcesRemoved));
        Assert.False(File.Exists(other));
        Assert.False(File.Exists(same));
        Assert.Equal(otherBytes, await File.ReadAllBytesAsync(theirs));
    }

    /// <summary>
    /// Reading a large file in place whole takes a while: the receiver says it is at work (StillWorking) while it
    /// hashes, so a sender waiting for the chunk's acceptance does not take it for gone; and it names the file present.
    /// </summary>
    [Fact]
    public async Task Hashing_a_file_in_place_says_it_is_at_work()
    {
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        string inPlace = TestFiles.Create(Path.Combine(destination, "f"), 8L << 20, seed: 10);
        UInt128 digest;
        using (var handle = File.OpenHandle(inPlace)) digest = Singularity.Engine.Integrity.Digests.Content(handle, 8L << 20)!.Value;
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { Cipher = CipherSuite.None }, adjust: options => options with { StillWorkingInterval = TimeSpan.Zero });
        await using var peer = await RawPeer.ConnectAsync(receiver.Url);
        var entry = new ManifestEntry(EntryKind.File, "f", 8L << 20, (UnixFileMode)0b110_100_100, SourceScanner.ToNanoseconds(Then), null) { Digest = digest };
        Assert.Equal(ErrorCode.None, (await peer.HelloAsync(ConnectionRole.Control, receiver.Token)).Status);
        await peer.SendControlAsync(ControlMessageType.OpenSession, RawPeer.OpenSession(1 << 20, 1, 1, 8L << 20, OpenSessionFlags.SkipUnchanged | OpenSessionFlags.Checksum));
        await peer.SendControlAsync(ControlMessageType.ManifestChunk, RawPeer.Manifest(entry));
        var seen = new List<ControlMessageType>();

        Assert.NotNull(await peer.ReadUntilAsync(ControlMessageType.ManifestAccepted, seen.Add));

        Assert.Equal(ControlMessageType.StillWorking, seen[0]);
        Assert.Contains(ControlMessageType.FilesPresent, seen);
        Assert.Equal(Then, File.GetLastWriteTimeUtc(inPlace));
    }

    /// <summary>A receiver that tells senders nothing of its files (--no-delta) compares no contents: under --checksum, every file of the source's size travels.</summary>
    [Fact]
    public async Task A_receiver_without_delta_compares_no_contents()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        string same = TestFiles.Create(Path.Combine(tree, "same"), 9_000, seed: 1);
        string destination = temp.Sub("dst");
        string copy = Path.Combine(destination, "tree", "same");
        Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
        File.Copy(same, copy);
        File.SetLastWriteTimeUtc(copy, Then);
        await using var receiver = new LoopbackReceiver(destination, adjust: options => options with { Delta = false });

        var result = await SingularitySender.SendAsync([tree], receiver.Url, Quick with { Checksum = true });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((1, 0, 9_000L), (result.Files, result.FilesUnchanged, result.BytesSent));
        TestFiles.AssertSameBytes(same, copy);
    }

    /// <summary>
    /// With --update too, a file modified there later is kept exactly as it is, its time too, even with the same
    /// contents, as rsync -acu keeps it; so a move keeps its source. One older there with the same contents stays and
    /// takes the source's time.
    /// </summary>
    [Fact]
    public async Task With_update_a_newer_file_there_keeps_its_time_whatever_its_contents()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        string newer = TestFiles.Create(Path.Combine(tree, "newer-there"), 9_000, seed: 1);
        string older = TestFiles.Create(Path.Combine(tree, "older-there"), 9_000, seed: 2);
        File.SetLastWriteTimeUtc(newer, Then);
        File.SetLastWriteTimeUtc(older, Then);
        string destination = temp.Sub("dst");
        Directory.CreateDirectory(Path.Combine(destination, "tree"));
        string newerThere = Path.Combine(destination, "tree", "newer-there"), olderThere = Path.Combine(destination, "tree", "older-there");
        File.Copy(newer, newerThere);
        File.Copy(older, olderThere);
        File.SetLastWriteTimeUtc(newerThere, Then.AddDays(10));
        File.SetLastWriteTimeUtc(olderThere, Then.AddDays(-10));
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([tree], receiver.Url, Quick with { Checksum = true, Update = true, RemoveSourceFiles = true });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((2, 1, 1), (result.FilesUnchanged, result.FilesKept, result.SourcesRemoved));
        Assert.Equal(Then.AddDays(10), File.GetLastWriteTimeUtc(newerThere));
        Assert.Equal(Then, File.GetLastWriteTimeUtc(olderThere));
        Assert.True(File.Exists(newer));
        Assert.False(File.Exists(older));
    }

    /// <summary>--checksum without the quick check, or with --size-only, contradicts itself: refused before anything is sent.</summary>
    [Fact]
    public async Task Checksum_with_ignore_times_or_size_only_is_refused()
    {
        var url = new ConnectionUrl("127.0.0.1", 9, "token");

        var everything = await Assert.ThrowsAsync<ArgumentException>(() => SingularitySender.SendAsync(["/x"], url, Quick with { Checksum = true, SkipUnchanged = false }));
        var sizes = await Assert.ThrowsAsync<ArgumentException>(() => SingularitySender.SendAsync(["/x"], url, Quick with { Checksum = true, SizeOnly = true }));

        Assert.Equal(nameof(TransferOptions.Checksum), everything.ParamName);
        Assert.Equal(nameof(TransferOptions.Checksum), sizes.ParamName);
    }

    /// <summary>A digest in a session that did not ask for --checksum, or --checksum without the quick check, ends the session before anything is prepared.</summary>
    [Theory]
    [InlineData(OpenSessionFlags.SkipUnchanged, "carries a digest in a session without --checksum")]
    [InlineData(OpenSessionFlags.Checksum, "--checksum without the quick check")]
    [InlineData(OpenSessionFlags.SkipUnchanged | OpenSessionFlags.Checksum | OpenSessionFlags.SizeOnly, "with --size-only")]
    public async Task A_digest_out_of_place_ends_the_session(ushort flags, string expected)
    {
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { Cipher = CipherSuite.None });
        await using var peer = await RawPeer.ConnectAsync(receiver.Url);
        var entry = new ManifestEntry(EntryKind.File, "f", 10, (UnixFileMode)0b110_100_100, 0, null) { Digest = 42 };
        Assert.Equal(ErrorCode.None, (await peer.HelloAsync(ConnectionRole.Control, receiver.Token)).Status);
        await peer.SendControlAsync(ControlMessageType.OpenSession, RawPeer.OpenSession(4096, 1, 1, 10, flags));
        await peer.SendControlAsync(ControlMessageType.ManifestChunk, RawPeer.Manifest(entry));

        byte[]? error = await peer.ReadUntilAsync(ControlMessageType.Error);

        Assert.NotNull(error);
        Assert.Equal(ErrorCode.ProtocolViolation, ErrorMessage.Decode(error).Code);
        Assert.Contains(expected, ErrorMessage.Decode(error).Reason);
        Assert.False((await receiver.NextResultAsync()).Succeeded);
        Assert.Empty(Directory.EnumerateFileSystemEntries(destination));
    }
}
