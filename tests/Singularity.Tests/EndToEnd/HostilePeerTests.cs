using System.Buffers.Binary;
using System.Security.Cryptography;
using Singularity.Engine;
using Singularity.Engine.Integrity;
using Singularity.Engine.Protocol;
using Singularity.Engine.Security;
using Singularity.Engine.Storage;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>What a broken or malicious peer sends must end its own session with a clear error, write nothing outside the destination, and leave the receiver serving others.</summary>
public sealed class HostilePeerTests
{
    /// <summary>Hand-written frames are plaintext, so these receivers allow unencrypted sessions.</summary>
    private static readonly TransferOptions Plain = new() { Cipher = CipherSuite.None };

    private static ManifestEntry File(string path, long size) => new(EntryKind.File, path, size, (UnixFileMode)0b110_100_100, 0, null);

    private static ManifestEntry DirectoryEntry(string path) => new(EntryKind.Directory, path, 0, (UnixFileMode)0b111_101_101, 0, null);

    [Theory]
    [InlineData("../escaped.txt")]
    [InlineData("/tmp/escaped.txt")]
    [InlineData("a/../../escaped.txt")]
    [InlineData("a/./b")]
    public async Task Escaping_paths_are_refused_and_nothing_is_written(string path)
    {
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination, Plain);
        await using var peer = await RawPeer.ConnectAsync(receiver.Url);

        var (_, answer, body) = await peer.OpenWithManifestAsync(receiver.Token, 4096, File(path, 0));

        Assert.Equal(ControlMessageType.Error, answer);
        Assert.Equal(ErrorCode.BadPath, ErrorMessage.Decode(body).Code);
        Assert.Empty(Directory.EnumerateFileSystemEntries(destination));
        Assert.False(System.IO.File.Exists(Path.Combine(temp.Path, "escaped.txt")));
        var result = await receiver.NextResultAsync();
        Assert.Equal(ErrorCode.BadPath, result.Error!.Code);
    }

    /// <summary>
    /// A lane of a session that has ended (it was still connecting when the session failed) is refused as any lane of
    /// an unknown session is, but not logged: the session's end was reported with its reason, and a line per lane
    /// saying the receiver "may have restarted" misled operators. A lane of a session never seen is still logged.
    /// </summary>
    [Fact]
    public async Task A_lane_of_an_ended_session_is_refused_without_a_log_line()
    {
        using var temp = new TempDirectory();
        await using var receiver = new LoopbackReceiver(temp.Sub("dst"), Plain);
        SessionId ended;
        SessionKeys keys;
        await using (var control = await RawPeer.ConnectAsync(receiver.Url))
        {
            var reply = await control.HelloAsync(ConnectionRole.Control, receiver.Token);
            Assert.Equal(ErrorCode.None, reply.Status);
            (ended, keys) = (reply.Session, control.Keys!);
        }
        Assert.False((await receiver.NextResultAsync()).Succeeded);

        await using (var late = await RawPeer.ConnectAsync(receiver.Url))
        {
            var answer = await late.HelloAsync(ConnectionRole.Data, receiver.Token, ended, keys: keys, lane: 0);
            Assert.Equal(ErrorCode.ConnectionLost, answer.Status);
            Assert.StartsWith("unknown session", await late.ReadRefusalAsync());
        }
        await using (var stranger = await RawPeer.ConnectAsync(receiver.Url))
        {
            var answer = await stranger.HelloAsync(ConnectionRole.Data, receiver.Token, SessionId.NewRandom(), keys: keys, lane: 0);
            Assert.Equal(ErrorCode.ConnectionLost, answer.Status);
        }
        // The stranger's line comes after its reply; the late lane's, had there been one, after the late lane's.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!receiver.Rejected.Any(r => r.Contains("lane refused", StringComparison.Ordinal)) && DateTime.UtcNow < deadline) await Task.Delay(10);
        Assert.Single(receiver.Rejected, r => r.Contains("lane refused: unknown session", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_file_under_a_symlink_that_points_out_is_refused()
    {
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        string outside = temp.Sub("outside");
        await using var receiver = new LoopbackReceiver(destination, Plain);
        await using var peer = await RawPeer.ConnectAsync(receiver.Url);

        var (_, answer, body) = await peer.OpenWithManifestAsync(receiver.Token, 4096,
            new ManifestEntry(EntryKind.Symlink, "link", 0, 0, 0, outside),
            File("link/planted.txt", 0));

        Assert.Equal(ControlMessageType.Error, answer);
        Assert.Contains("symbolic link", ErrorMessage.Decode(body).Reason);
        Assert.Empty(Directory.EnumerateFileSystemEntries(outside));
    }

    /// <summary>
    /// A device the receiver may not make (one it was not asked to make devices for, or of a number the system cannot
    /// make) fails or is skipped on its own: the session goes on, and makes the FIFO beside it. A special in a session
    /// that did not say it sends them is refused, as a receiver from before them refuses it.
    /// </summary>
    [SkippableTheory]
    [InlineData(false, 1u)]
    [InlineData(true, 5000u)]
    public async Task A_device_the_receiver_may_not_make_fails_alone(bool makeDevices, uint major)
    {
        Skip.IfNot(OperatingSystem.IsLinux() && Environment.IsPrivilegedProcess, "making devices needs root on Linux");
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination, Plain, adjust: options => options with { MakeDevices = makeDevices });
        await using var peer = await RawPeer.ConnectAsync(receiver.Url);

        var (_, answer, _) = await peer.OpenWithMoreFlagsAsync(receiver.Token, 4096, 0, MoreSessionFlags.Specials, 0,
            new ManifestEntry(EntryKind.Special, "mem", 0, (UnixFileMode)0x1B6, 0, null) { SpecialType = SpecialTypes.CharacterDevice, DeviceNumber = (major, 1) },
            new ManifestEntry(EntryKind.Special, "pipe", 0, (UnixFileMode)0x1A4, 0, null) { SpecialType = SpecialTypes.Fifo });

        Assert.Equal(ControlMessageType.ManifestAccepted, answer);
        Assert.False(Path.Exists(Path.Combine(destination, "mem")));
        Assert.Equal(((ushort)SpecialTypes.Fifo, 0u, 0u), SpecialFiles.SpecialAt(Path.Combine(destination, "pipe")));

        await using var unasked = await RawPeer.ConnectAsync(receiver.Url);
        var (_, refused, body) = await unasked.OpenWithManifestAsync(receiver.Token, 4096, new ManifestEntry(EntryKind.Special, "other", 0, (UnixFileMode)0x1A4, 0, null) { SpecialType = SpecialTypes.Fifo });
        Assert.Equal(ControlMessageType.Error, refused);
        Assert.Contains("a device, FIFO or socket in a session that sends none", ErrorMessage.Decode(body).Reason);
    }

    /// <summary>
    /// Extended attributes in a session that did not ask to keep them are a protocol violation; and more of them held
    /// for files not yet committed than the limit allows end the session, so a sender cannot make the receiver's
    /// memory grow with them.
    /// </summary>
    [Fact]
    public async Task Extended_attributes_unasked_or_beyond_what_may_be_held_are_refused()
    {
        using var temp = new TempDirectory();
        var xattrs = new ExtendedAttributes([("user.big", new byte[40_000])]);
        await using var receiver = new LoopbackReceiver(temp.Sub("dst"), Plain with { Limits = new ProtocolLimits { MaxHeldXattrBytes = 100_000 } });
        await using (var peer = await RawPeer.ConnectAsync(receiver.Url))
        {
            var (_, answer, body) = await peer.OpenWithManifestAsync(receiver.Token, 4096, File("a", 10) with { Xattrs = xattrs });
            Assert.Equal(ControlMessageType.Error, answer);
            Assert.Contains("carries the extended attribute 'user.big' in a session that keeps no extended attributes", ErrorMessage.Decode(body).Reason);
        }
        await using (var peer = await RawPeer.ConnectAsync(receiver.Url))
        {
            var acl = new ExtendedAttributes([(ExtendedAttributes.AccessAcl, [2, 0, 0, 0])]);
            var (_, answer, body) = await peer.OpenWithMoreFlagsAsync(receiver.Token, 4096, 0, MoreSessionFlags.Xattrs, 0, File("a", 10) with { Xattrs = acl });
            Assert.Equal(ControlMessageType.Error, answer);
            Assert.Contains("in a session that keeps no ACLs", ErrorMessage.Decode(body).Reason);
        }
        await using (var peer = await RawPeer.ConnectAsync(receiver.Url))
        {
            var (_, answer, body) = await peer.OpenWithMoreFlagsAsync(receiver.Token, 4096, 0, MoreSessionFlags.Xattrs, 0,
                File("a", 10) with { Xattrs = xattrs }, File("b", 10) with { Xattrs = xattrs }, File("c", 10) with { Xattrs = xattrs });
            Assert.Equal(ControlMessageType.Error, answer);
            var (code, reason) = ErrorMessage.Decode(body);
            Assert.Equal((ErrorCode.LimitExceeded, true), (code, reason.Contains("extended attributes of the files not yet committed")));
        }
    }

    [Fact]
    public async Task A_link_already_in_the_destination_is_not_written_through()
    {
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        string outside = temp.Sub("outside");
        Directory.CreateSymbolicLink(Path.Combine(destination, "trap"), outside);
        await using var receiver = new LoopbackReceiver(destination, Plain);
        await using var peer = await RawPeer.ConnectAsync(receiver.Url);

        var (_, answer, _) = await peer.OpenWithManifestAsync(receiver.Token, 4096, File("trap/x", 0));

        Assert.Equal(ControlMessageType.Error, answer);
        Assert.Empty(Directory.EnumerateFileSystemEntries(outside));
    }

    [Fact]
    public async Task Oversized_and_absurd_session_parameters_are_refused()
    {
        using var temp = new TempDirectory();
        await using var receiver = new LoopbackReceiver(temp.Sub("dst"), Plain with { Limits = new ProtocolLimits { MaxEntries = 10 } });
        foreach (var open in new[]
        {
            RawPeer.OpenSession(shardSize: 1 << 30, lanes: 1, entries: 1, totalBytes: 0),
            RawPeer.OpenSession(shardSize: 4096, lanes: 0, entries: 1, totalBytes: 0),
            RawPeer.OpenSession(shardSize: 4096, lanes: 1, entries: 11, totalBytes: 0),
            RawPeer.OpenSession(shardSize: 4096, lanes: 1, entries: 1, totalBytes: -1),
        })
        {
            await using var peer = await RawPeer.ConnectAsync(receiver.Url);
            await peer.HelloAsync(ConnectionRole.Control, receiver.Token);
            await peer.SendControlAsync(ControlMessageType.OpenSession, open);
            byte[]? error = await peer.ReadUntilAsync(ControlMessageType.Error);
            Assert.NotNull(error);
            Assert.Equal(ErrorCode.LimitExceeded, ErrorMessage.Decode(error).Code);
        }
    }

    /// <summary>A sender that does not pace its manifest by the commits is refused before its files' state is kept; directories do not count.</summary>
    [Theory]
    [InlineData(3, true)]
    [InlineData(4, false)]
    public async Task Announcing_more_uncommitted_files_than_allowed_is_refused(int files, bool accepted)
    {
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination, Plain with { Limits = new ProtocolLimits { MaxUncommittedFiles = 3 } });
        await using var peer = await RawPeer.ConnectAsync(receiver.Url);
        ManifestEntry[] entries = [DirectoryEntry("a"), DirectoryEntry("b"), .. Enumerable.Range(0, files).Select(i => File($"a/f{i}", 10))];

        var (_, answer, body) = await peer.OpenWithManifestAsync(receiver.Token, 4096, entries);

        if (accepted)
        {
            Assert.Equal(ControlMessageType.ManifestAccepted, answer);
            return;
        }
        Assert.Equal(ControlMessageType.Error, answer);
        Assert.Equal(ErrorCode.LimitExceeded, ErrorMessage.Decode(body).Code);
        Assert.Contains("more than 3 files not yet committed", ErrorMessage.Decode(body).Reason);
        Assert.Equal(ErrorCode.LimitExceeded, (await receiver.NextResultAsync()).Error!.Code);
    }

    [Fact]
    public async Task Manifest_sizes_whose_sum_would_overflow_are_refused()
    {
        await using var control = await ControlPeer.OpenAsync();
        var peer = control.Peer;
        // 300 files just under the most shards a file may have: their sizes add up past long.MaxValue, so a running
        // sum wraps negative and would slip under both the declared total and the free-space check.
        const int shard = 16 << 20;
        long size = (long)(int.MaxValue - 1) * shard;
        var entries = Enumerable.Range(0, 300).Select(i => File($"f{i}", size)).ToArray();
        await peer.SendControlAsync(ControlMessageType.OpenSession, RawPeer.OpenSession(shard, lanes: 1, entries: entries.Length + 1, totalBytes: long.MaxValue));
        await peer.SendControlAsync(ControlMessageType.ManifestChunk, RawPeer.Manifest(entries));

        byte[]? error = await peer.ReadUntilAsync(ControlMessageType.Error);
        Assert.NotNull(error);
        Assert.Equal(ErrorCode.LimitExceeded, ErrorMessage.Decode(error).Code);
        Assert.Contains("declared total", ErrorMessage.Decode(error).Reason);
        Assert.Empty(Directory.EnumerateFileSystemEntries(control.Destination));
    }

    [Fact]
    public async Task A_huge_declared_control_length_ends_the_session_without_allocating_it()
    {
        await using var control = await ControlPeer.OpenAsync();
        byte[] header = new byte[ControlHeader.Size];
        ControlHeader.Write(header, ControlMessageType.ManifestChunk, int.MaxValue);
        await control.Peer.Stream.WriteAsync(header);

        var result = await control.Receiver.NextResultAsync();
        Assert.Equal(ErrorCode.ProtocolViolation, result.Error!.Code);
        Assert.Contains("exceeds", result.Error.Message);
    }

    [Fact]
    public async Task A_shard_longer_than_its_slot_costs_its_lane_and_writes_nothing()
    {
        await using var peer = await OneFileSession.OpenAsync(size: 10_000);
        var (receiver, destination, control, lane, session) = (peer.Receiver, peer.Destination, peer.Control, peer.Lane, peer.Session);
        byte[] frame = new byte[ShardHeader.Size];
        new ShardHeader(session.Tag, 0, 0, 0, 1 << 30, 0).WriteTo(frame);
        await lane.Stream.WriteAsync(frame);

        // The receiver drops the lane without reading a byte of the declared gigabyte.
        await AssertDroppedAsync(lane);
        Assert.Empty(Directory.EnumerateFileSystemEntries(destination));

        await control.DisposeAsync();
        var result = await receiver.NextResultAsync();
        Assert.False(result.Succeeded);
        Assert.Empty(Directory.EnumerateFileSystemEntries(destination));
    }

    [Fact]
    public async Task Files_flow_as_each_manifest_chunk_is_accepted_and_a_shard_ahead_of_its_chunk_is_refused()
    {
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination, Plain);
        await using var control = await RawPeer.ConnectAsync(receiver.Url);
        var reply = await control.HelloAsync(ConnectionRole.Control, receiver.Token);
        var session = reply.Session;
        await control.SendControlAsync(ControlMessageType.OpenSession, RawPeer.OpenSession(4096, 1, 2, 200));
        // Only the first of the two declared entries.
        await control.SendControlAsync(ControlMessageType.ManifestChunk, RawPeer.Manifest(File("a", 100)));
        byte[]? accepted = await control.ReadUntilAsync(ControlMessageType.ManifestAccepted);
        Assert.Equal(1, BinaryPrimitives.ReadInt32LittleEndian(accepted));

        // The accepted file is received and committed while the rest of the manifest has not even been sent.
        await using var lane = await RawPeer.ConnectAsync(receiver.Url);
        await lane.HelloAsync(ConnectionRole.Data, receiver.Token, session, keys: control.Keys);
        byte[] payload = RandomNumberGenerator.GetBytes(100);
        await lane.Stream.WriteAsync(Frame(session, Digests.Shard(payload), payload, 0));
        Assert.NotNull(await control.ReadUntilAsync(ControlMessageType.ShardAcks));
        await control.SendControlAsync(ControlMessageType.FilesSealed, Seal(0, Digests.File([Digests.Shard(payload)])));
        Assert.NotNull(await control.ReadUntilAsync(ControlMessageType.FilesCommitted));
        Assert.Equal(payload, System.IO.File.ReadAllBytes(Path.Combine(destination, "a")));

        // A shard of the second file before its chunk is accepted costs its lane; a seal of it ends the session.
        byte[] early = new byte[ShardHeader.Size + 100];
        new ShardHeader(session.Tag, 1, 0, 0, 100, Digests.Shard(payload)).WriteTo(early);
        payload.CopyTo(early, ShardHeader.Size);
        await lane.Stream.WriteAsync(early);
        await AssertDroppedAsync(lane);
        await control.SendControlAsync(ControlMessageType.FilesSealed, Seal(1, Digests.File([Digests.Shard(payload)])));
        var result = await receiver.NextResultAsync();
        Assert.Equal(ErrorCode.ProtocolViolation, result.Error!.Code);
        Assert.Contains("before its manifest entry was accepted", result.Error.Message);
    }

    /// <summary>
    /// A peer that is slow to seal: its finished file stays locked until the commit, so cleaning partials meanwhile
    /// leaves it, and the seal still commits it.
    /// </summary>
    [Fact]
    public async Task A_finished_file_awaiting_its_seal_survives_cleaning_partials_and_commits()
    {
        await using var peer = await OneFileSession.OpenAsync();
        var (destination, control, lane, session) = (peer.Destination, peer.Control, peer.Lane, peer.Session);
        byte[] payload = RandomNumberGenerator.GetBytes(100);
        await lane.Stream.WriteAsync(Frame(session, Digests.Shard(payload), payload, 0));
        // The acknowledgement follows the write. The file stays locked from its creation, through its flush, until its
        // commit: cleaning now, while it waits for its seal, must leave it.
        Assert.NotNull(await control.ReadUntilAsync(ControlMessageType.ShardAcks));

        Assert.Empty(PartialFiles.Clean(destination, TimeSpan.Zero));
        Assert.Single(PartialFiles.Find(destination));

        await control.SendControlAsync(ControlMessageType.FilesSealed, Seal(0, Digests.File([Digests.Shard(payload)])));
        Assert.NotNull(await control.ReadUntilAsync(ControlMessageType.FilesCommitted));
        Assert.Equal(payload, System.IO.File.ReadAllBytes(Path.Combine(destination, "f")));
        Assert.Empty(PartialFiles.Find(destination));
    }

    /// <summary>
    /// A hole travels as its header alone, and only in a session that asked for holes (OpenSession's Sparse flag): it
    /// arrives as zeros, also as a file's last bytes, which no write reaches. A hole in any other session, or one whose
    /// digest is not that of its zeros, costs its lane.
    /// </summary>
    [Fact]
    public async Task A_hole_arrives_as_zeros_in_a_sparse_session_and_costs_its_lane_elsewhere()
    {
        ulong zeros = Digests.Zeros(100);
        await using (var plain = await OneFileSession.OpenAsync())
        {
            await plain.Lane.Stream.WriteAsync(Frame(plain.Session, zeros, [], ShardHeader.FlagHole, length: 100));
            await AssertDroppedAsync(plain.Lane);
            Assert.Empty(PartialFiles.Find(plain.Destination));
        }
        await using (var forged = await OneFileSession.OpenAsync(flags: OpenSessionFlags.Sparse))
        {
            await forged.Lane.Stream.WriteAsync(Frame(forged.Session, Digests.Shard(RandomNumberGenerator.GetBytes(100)), [], ShardHeader.FlagHole, length: 100));
            await AssertDroppedAsync(forged.Lane);
            Assert.Empty(PartialFiles.Find(forged.Destination));
        }
        await using var peer = await OneFileSession.OpenAsync(flags: OpenSessionFlags.Sparse);
        await peer.Lane.Stream.WriteAsync(Frame(peer.Session, zeros, [], ShardHeader.FlagHole, length: 100));
        Assert.NotNull(await peer.Control.ReadUntilAsync(ControlMessageType.ShardAcks));
        await peer.Control.SendControlAsync(ControlMessageType.FilesSealed, Seal(0, Digests.File([zeros])));
        Assert.NotNull(await peer.Control.ReadUntilAsync(ControlMessageType.FilesCommitted));
        Assert.Equal(new byte[100], System.IO.File.ReadAllBytes(Path.Combine(peer.Destination, "f")));
    }

    /// <summary>
    /// A receiver sends the sums of a changed file's basis only to a sender whose Hello takes them (capability bit 0),
    /// and takes a patched shard only for a file it sent them for: a patch that makes another shard than its digest
    /// says (its basis changed since, or the patch was damaged on the way) is asked for again, and the shard sent whole
    /// then commits; a patch of a file without sums, or one both patched and packed, costs the lane.
    /// </summary>
    [SkippableFact]
    public async Task A_patched_shard_is_made_from_the_basis_it_was_sent_sums_of_or_asked_for_again()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "a receiver seeds from old versions on Linux");
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst"), basis = Path.Combine(destination, "f");
        byte[] old = System.IO.File.ReadAllBytes(TestFiles.Create(basis, 3 * 4096, seed: 11));
        // Ten bytes inserted at the start: every shard moved.
        byte[] changed = [.. new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, .. old];
        var entry = File("f", changed.Length);
        await using var receiver = new LoopbackReceiver(destination, Plain);

        // A sender from before the sums is sent none (into a copy of the destination: a session cut off leaves its seed).
        string elsewhere = temp.Sub("before");
        System.IO.File.WriteAllBytes(Path.Combine(elsewhere, "f"), old);
        await using (var other = new LoopbackReceiver(elsewhere, Plain))
        await using (var before = await RawPeer.ConnectAsync(other.Url))
        {
            var (_, answer, _) = await before.OpenWithManifestAsync(other.Token, 4096, OpenSessionFlags.Delta, entry);
            Assert.Equal(ControlMessageType.ManifestAccepted, answer);
            Assert.Contains(before.BeforeAcceptance, message => message.Type == ControlMessageType.BasisOffer);
            Assert.DoesNotContain(before.BeforeAcceptance, message => message.Type == ControlMessageType.BasisSums);
        }

        await using var control = await RawPeer.ConnectAsync(receiver.Url, WireFormat.CapabilityPatches);
        var (session, accepted, _) = await control.OpenWithManifestAsync(receiver.Token, 4096, OpenSessionFlags.Delta, entry);
        Assert.Equal(ControlMessageType.ManifestAccepted, accepted);
        byte[] sums = Assert.Single(control.BeforeAcceptance, message => message.Type == ControlMessageType.BasisSums).Body;
        int blockSize = BinaryPrimitives.ReadInt32LittleEndian(sums.AsSpan(4)), count = BinaryPrimitives.ReadInt32LittleEndian(sums.AsSpan(8));
        Assert.Equal((0u, 2048, 6), (BinaryPrimitives.ReadUInt32LittleEndian(sums), blockSize, count));
        var table = BasisBlocks.From(blockSize, sums.AsSpan(BlockSums.MessageHeader), count);
        await using var lane2 = await RawPeer.ConnectAsync(receiver.Url);
        Assert.Equal(ErrorCode.None, (await lane2.HelloAsync(ConnectionRole.Data, receiver.Token, session, keys: control.Keys)).Status);
        var digests = new ulong[4];
        for (int index = 0; index < 4; index++) digests[index] = Digests.Shard(Shard(changed, index));

        // Shard 0 as a patch: the ten bytes inserted, a copy of the basis's first block, which is written to meanwhile,
        // and the part of the next block the shard's end cuts off.
        byte[] patch = new byte[4096];
        int length = table.TryPatch(Shard(changed, 0), digests[0], patch, [], out int literal);
        Assert.Equal((12 + 3 * 12 + 2048, 2048), (length, literal));
        System.IO.File.WriteAllBytes(basis, [.. new byte[100], .. old[100..]]);
        await lane2.Stream.WriteAsync(PatchFrame(session, 0, digests[0], patch[..length]));
        Assert.NotNull(await control.ReadUntilAsync(ControlMessageType.ShardNack));
        // Damaged on the way (a literal byte), or copying part of a block (as a sender that tries digests to learn the
        // basis a byte at a time would): asked for again too.
        System.IO.File.WriteAllBytes(basis, old);
        int patched = table.TryPatch(Shard(changed, 1), digests[1], patch, [], out _);
        Assert.InRange(patched, 1, 4000);
        byte[] damaged = patch[..patched];
        damaged[^1] ^= 0x40;
        await lane2.Stream.WriteAsync(PatchFrame(session, 1, digests[1], damaged));
        Assert.NotNull(await control.ReadUntilAsync(ControlMessageType.ShardNack));
        // The byte that starts shard 1 copied alone from where it stands in the basis, the rest as an honest patch
        // makes it: a patch that makes the shard, but for its copy of part of a block.
        byte[] oneByte = new byte[12 + 4 * 12 + 9 + 2038];
        BinaryPrimitives.WriteUInt64LittleEndian(oneByte, digests[1]);
        BinaryPrimitives.WriteInt32LittleEndian(oneByte.AsSpan(8), 4);
        (long Source, int Length)[] pieces = [(4086, 1), (-1, 9), (4096, 2048), (-1, 2038)];
        for (int i = 0; i < pieces.Length; i++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(oneByte.AsSpan(12 + 12 * i), pieces[i].Source);
            BinaryPrimitives.WriteInt32LittleEndian(oneByte.AsSpan(20 + 12 * i), pieces[i].Length);
        }
        Shard(changed, 1)[1..10].CopyTo(oneByte.AsSpan(60));
        Shard(changed, 1)[2058..].CopyTo(oneByte.AsSpan(69));
        await lane2.Stream.WriteAsync(PatchFrame(session, 1, digests[1], oneByte));
        Assert.NotNull(await control.ReadUntilAsync(ControlMessageType.ShardNack));

        // Shard 0 whole, sent again; shard 1 as a patch of the basis as it is; the rest whole.
        await lane2.Stream.WriteAsync(Data(session, 0, digests[0], Shard(changed, 0).ToArray(), ShardHeader.FlagRetransmit));
        await lane2.Stream.WriteAsync(PatchFrame(session, 1, digests[1], patch[..patched]));
        for (int index = 2; index < 4; index++) await lane2.Stream.WriteAsync(Data(session, index, digests[index], Shard(changed, index).ToArray(), 0));
        await control.SendControlAsync(ControlMessageType.FilesSealed, Seal(0, Digests.File(digests)));
        Assert.NotNull(await control.ReadUntilAsync(ControlMessageType.FilesCommitted));
        Assert.Equal(changed, System.IO.File.ReadAllBytes(basis));

        // A patch for a file no sums were sent for (a new one), and one also packed, cost the lane.
        foreach (byte flags in new[] { ShardHeader.FlagPatched, (byte)(ShardHeader.FlagPatched | ShardHeader.FlagCompressed) })
        {
            await using var fresh = await OneFileSession.OpenAsync(size: 4096, flags: (ushort)(OpenSessionFlags.Delta | OpenSessionFlags.Compressed));
            await fresh.Lane.Stream.WriteAsync(Frame(fresh.Session, digests[0], patch[..length], flags));
            await AssertDroppedAsync(fresh.Lane);
        }
    }

    /// <summary>
    /// A sender that also takes sums alone (capability bit 1) is sent the sums of a changed file's old version and no
    /// offers, in pieces as they are gathered: nothing of that version is copied before the shards come, each as a patch
    /// that copies from it, an unchanged one its blocks where they stand; the old version stays as it was until the file
    /// commits over it.
    /// </summary>
    [SkippableFact]
    public async Task A_sender_that_takes_sums_alone_is_sent_no_offers_and_patches_every_shard()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "a receiver reads old versions on Linux");
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst"), basis = Path.Combine(destination, "f");
        // 1,040 blocks of 2 KiB: a piece of 1,024 sums, then the rest.
        byte[] old = System.IO.File.ReadAllBytes(TestFiles.Create(basis, 520 * 4096, seed: 12));
        // Shards 0 and 1 unchanged, ten bytes inserted at the start of shard 2: every shard after it moved.
        byte[] changed = [.. old[..8192], .. new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, .. old[8192..]];
        var entry = File("f", changed.Length);
        await using var receiver = new LoopbackReceiver(destination, Plain);

        await using var control = await RawPeer.ConnectAsync(receiver.Url, WireFormat.CapabilityPatches | WireFormat.CapabilitySumsAlone);
        var (session, accepted, _) = await control.OpenWithManifestAsync(receiver.Token, 4096, OpenSessionFlags.Delta, entry);
        Assert.Equal(ControlMessageType.ManifestAccepted, accepted);
        Assert.DoesNotContain(control.BeforeAcceptance, message => message.Type is ControlMessageType.BasisOffer or ControlMessageType.ResumeOffer);
        var pieces = control.BeforeAcceptance.Where(message => message.Type == ControlMessageType.BasisSums).Select(message => message.Body).ToList();
        Assert.Equal([1024, 16], pieces.Select(piece => BinaryPrimitives.ReadInt32LittleEndian(piece.AsSpan(8))));
        var sums = new BasisSumsPieces(2048);
        foreach (byte[] piece in pieces)
        {
            Assert.Equal((0u, 2048), (BinaryPrimitives.ReadUInt32LittleEndian(piece), BinaryPrimitives.ReadInt32LittleEndian(piece.AsSpan(4))));
            sums.Append(piece.AsSpan(BlockSums.MessageHeader), BinaryPrimitives.ReadInt32LittleEndian(piece.AsSpan(8)));
        }
        Assert.Equal([basis], Directory.GetFiles(destination));
        var table = sums.Build();
        await using var lane = await RawPeer.ConnectAsync(receiver.Url);
        Assert.Equal(ErrorCode.None, (await lane.HelloAsync(ConnectionRole.Data, receiver.Token, session, keys: control.Keys)).Status);
        int shards = (changed.Length + 4095) / 4096;
        var digests = new ulong[shards];
        byte[] patch = new byte[4096];
        for (int index = 0; index < shards; index++)
        {
            digests[index] = Digests.Shard(Shard(changed, index));
            int length = table.TryPatch(Shard(changed, index), digests[index], patch, [], out int literal);
            // An unchanged shard copies its two blocks where they stand, in one piece; the last, of ten bytes, goes whole.
            if (index < 2) Assert.Equal((24, 0), (length, literal));
            if (index == shards - 1) Assert.Equal(0, length);
            await lane.Stream.WriteAsync(length > 0 ? PatchFrame(session, index, digests[index], patch[..length]) : Data(session, index, digests[index], Shard(changed, index).ToArray(), 0));
        }
        await control.SendControlAsync(ControlMessageType.FilesSealed, Seal(0, Digests.File(digests)));
        Assert.NotNull(await control.ReadUntilAsync(ControlMessageType.FilesCommitted));
        Assert.Equal(changed, System.IO.File.ReadAllBytes(basis));
    }

    private static ReadOnlySpan<byte> Shard(byte[] file, int index) => file.AsSpan(index * 4096, Math.Min(4096, file.Length - index * 4096));

    /// <summary>Shard <paramref name="index"/> of file 0, whole (or with <paramref name="flags"/>), in a plaintext session.</summary>
    private static byte[] Data(SessionId session, int index, ulong digest, byte[] payload, byte flags)
    {
        byte[] frame = new byte[ShardHeader.Size + payload.Length];
        new ShardHeader(session.Tag, 0, (uint)index, index * 4096L, payload.Length, digest, flags).WriteTo(frame);
        payload.CopyTo(frame, ShardHeader.Size);
        return frame;
    }

    private static byte[] PatchFrame(SessionId session, int index, ulong digest, byte[] patch) => Data(session, index, digest, patch, ShardHeader.FlagPatched);

    /// <summary>
    /// A packed shard is taken only in a session that asked for compression, shorter than the shard and unpacking to
    /// exactly its length: a packed bomb, damaged bytes or another length are asked for again (plaintext), and the
    /// resent shard commits. Anything else costs the lane.
    /// </summary>
    [Fact]
    public async Task A_compressed_shard_must_unpack_to_its_length_in_a_session_that_asked_for_it()
    {
        byte[] shard = System.Text.Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("2026-12-05 INFO request served\n", 200)))[..4096];
        ulong digest = Digests.Shard(shard);
        using var packer = new Singularity.Engine.Compression.ShardPacker(4096);
        async Task<byte[]> Pack(byte[] data)
        {
            byte[] packed = new byte[packer.Bound];
            int length = await packer.TryPackAsync(data, packed);
            Assert.InRange(length, 1, data.Length - 1);
            return packed[..length];
        }
        byte[] packed = await Pack(shard);
        const byte compressed = ShardHeader.FlagCompressed;

        await using (var plain = await OneFileSession.OpenAsync(size: 4096))
        {
            await plain.Lane.Stream.WriteAsync(Frame(plain.Session, digest, packed, compressed));
            await AssertDroppedAsync(plain.Lane);
        }
        foreach (var (payload, flags) in ((byte[], byte)[])[(packed, compressed | ShardHeader.FlagHole), (shard, compressed)])
        {
            await using var peer = await OneFileSession.OpenAsync(size: 4096, flags: OpenSessionFlags.Compressed);
            await peer.Lane.Stream.WriteAsync(Frame(peer.Session, digest, payload, flags));
            await AssertDroppedAsync(peer.Lane);
            Assert.Empty(PartialFiles.Find(peer.Destination));
        }

        await using var session = await OneFileSession.OpenAsync(size: 4096, flags: OpenSessionFlags.Compressed);
        byte[] damaged = (byte[])packed.Clone();
        damaged[damaged.Length / 2] ^= 0x5A;
        byte[] otherLength = await Pack([.. shard, .. shard]);
        byte[] bomb = await Pack(new byte[1 << 20]);
        foreach (byte[] bad in (byte[][])[damaged, otherLength, bomb, [1, 2, 3]])
        {
            await session.Lane.Stream.WriteAsync(Frame(session.Session, digest, bad, compressed));
            Assert.NotNull(await session.Control.ReadUntilAsync(ControlMessageType.ShardNack));
        }
        await session.Lane.Stream.WriteAsync(Frame(session.Session, digest, packed, compressed | ShardHeader.FlagRetransmit));
        Assert.NotNull(await session.Control.ReadUntilAsync(ControlMessageType.ShardAcks));
        await session.Control.SendControlAsync(ControlMessageType.FilesSealed, Seal(0, Digests.File([digest])));
        Assert.NotNull(await session.Control.ReadUntilAsync(ControlMessageType.FilesCommitted));
        Assert.Equal(shard, System.IO.File.ReadAllBytes(Path.Combine(session.Destination, "f")));
    }

    [Fact]
    public async Task A_corrupted_shard_is_answered_with_a_nack_and_the_resent_shard_commits()
    {
        await using var peer = await OneFileSession.OpenAsync();
        var (destination, control, lane, session) = (peer.Destination, peer.Control, peer.Lane, peer.Session);

        byte[] payload = RandomNumberGenerator.GetBytes(100);
        ulong digest = Digests.Shard(payload);
        byte[] corrupted = (byte[])payload.Clone();
        corrupted[42] ^= 0x10;
        await lane.Stream.WriteAsync(Frame(session, digest, corrupted, 0));
        byte[]? nack = await control.ReadUntilAsync(ControlMessageType.ShardNack);
        Assert.NotNull(nack);
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(nack.AsSpan(4)));

        await lane.Stream.WriteAsync(Frame(session, digest, payload, ShardHeader.FlagRetransmit));
        await control.SendControlAsync(ControlMessageType.FilesSealed, Seal(0, Digests.File([digest])));
        Assert.NotNull(await control.ReadUntilAsync(ControlMessageType.FilesCommitted));
        Assert.Equal(payload, await System.IO.File.ReadAllBytesAsync(Path.Combine(destination, "f")));
    }

    /// <summary>
    /// A copy of a shard the sender resent after losing a lane can arrive after its file was committed, when the
    /// receiver no longer keeps the file: it is acknowledged and not written, while a second seal of the file ends the
    /// session.
    /// </summary>
    [Fact]
    public async Task A_shard_resent_after_its_file_was_committed_is_acknowledged_and_not_written()
    {
        await using var peer = await OneFileSession.OpenAsync();
        var (receiver, destination, control, lane, session) = (peer.Receiver, peer.Destination, peer.Control, peer.Lane, peer.Session);
        byte[] payload = RandomNumberGenerator.GetBytes(100);
        ulong digest = Digests.Shard(payload);
        await lane.Stream.WriteAsync(Frame(session, digest, payload, 0));
        Assert.NotNull(await control.ReadUntilAsync(ControlMessageType.ShardAcks));
        await control.SendControlAsync(ControlMessageType.FilesSealed, Seal(0, Digests.File([digest])));
        Assert.NotNull(await control.ReadUntilAsync(ControlMessageType.FilesCommitted));

        byte[] other = RandomNumberGenerator.GetBytes(100);
        await lane.Stream.WriteAsync(Frame(session, Digests.Shard(other), other, ShardHeader.FlagRetransmit));
        byte[]? ack = await control.ReadUntilAsync(ControlMessageType.ShardAcks);
        Assert.NotNull(ack);
        Assert.Equal((1, 0u, 0u), (BinaryPrimitives.ReadInt32LittleEndian(ack), BinaryPrimitives.ReadUInt32LittleEndian(ack.AsSpan(4)), BinaryPrimitives.ReadUInt32LittleEndian(ack.AsSpan(8))));
        Assert.Equal(payload, await System.IO.File.ReadAllBytesAsync(Path.Combine(destination, "f")));

        await control.SendControlAsync(ControlMessageType.FilesSealed, Seal(0, Digests.File([digest])));
        var result = await receiver.NextResultAsync();
        Assert.Equal(ErrorCode.ProtocolViolation, result.Error!.Code);
        Assert.Contains("already committed", result.Error.Message);
        Assert.Equal(payload, await System.IO.File.ReadAllBytesAsync(Path.Combine(destination, "f")));
    }

    /// <summary>
    /// A sender gives a file up (FilesDropped, or FilesVanished for one gone since the scan) only before any of it
    /// arrived: one that gives up a file after sending and sealing it, so that it could count once as committed and
    /// once as given up, ends its own session, and every place it held in the receiver's budgets is given back.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Giving_up_a_file_after_its_data_arrived_is_refused(bool vanished)
    {
        await using var peer = await OneFileSession.OpenAsync();
        var (receiver, destination, control, lane, session) = (peer.Receiver, peer.Destination, peer.Control, peer.Lane, peer.Session);
        byte[] payload = RandomNumberGenerator.GetBytes(100);
        await lane.Stream.WriteAsync(Frame(session, Digests.Shard(payload), payload, 0));
        Assert.NotNull(await control.ReadUntilAsync(ControlMessageType.ShardAcks));
        await control.SendControlAsync(vanished ? ControlMessageType.FilesVanished : ControlMessageType.FilesDropped, RawReceiver.Batch([0]));

        var result = await receiver.NextResultAsync();
        Assert.Equal(ErrorCode.ProtocolViolation, result.Error!.Code);
        Assert.Contains("'f' was given up after some of it arrived", result.Error.Message);
        Assert.False(System.IO.File.Exists(Path.Combine(destination, "f")));
        Assert.Empty(PartialFiles.Find(destination));
    }

    /// <summary>
    /// A file the sender found changed while it read it is withdrawn (FilesWithdrawn) whatever of it arrived: the
    /// receiver gives it up, acknowledges and drops its later shards, commits nothing of it (what was verified stays
    /// journaled, as a failed session leaves it), and the session ends well.
    /// </summary>
    [Fact]
    public async Task A_file_withdrawn_after_some_of_it_arrived_is_given_up_and_the_session_goes_on()
    {
        await using var peer = await OneFileSession.OpenAsync(size: 8192);
        var (receiver, destination, control, lane, session) = (peer.Receiver, peer.Destination, peer.Control, peer.Lane, peer.Session);
        byte[] first = RandomNumberGenerator.GetBytes(4096), second = RandomNumberGenerator.GetBytes(4096);
        await lane.Stream.WriteAsync(Frame(session, Digests.Shard(first), first, 0));
        Assert.NotNull(await control.ReadUntilAsync(ControlMessageType.ShardAcks));

        await control.SendControlAsync(ControlMessageType.FilesWithdrawn, RawReceiver.Batch([0]));
        byte[] late = new byte[ShardHeader.Size + second.Length];
        new ShardHeader(session.Tag, 0, 1, 4096, second.Length, Digests.Shard(second)).WriteTo(late);
        second.CopyTo(late, ShardHeader.Size);
        await lane.Stream.WriteAsync(late);
        Assert.NotNull(await control.ReadUntilAsync(ControlMessageType.ShardAcks));
        await control.SendControlAsync(ControlMessageType.Finish, []);
        Assert.NotNull(await control.ReadUntilAsync(ControlMessageType.SessionDone));
        await lane.DisposeAsync();

        var result = await receiver.NextResultAsync();
        Assert.True(result.Succeeded, result.Error?.Message);
        Assert.Equal(1, result.FilesNotSent);
        Assert.False(System.IO.File.Exists(Path.Combine(destination, "f")));
        // The first shard stays journaled for a later send, which offers it; the late one was not written.
        Assert.True(PartialFiles.Find(destination) is [{ Bytes: 4096, JournalPath: not null }], string.Join(", ", PartialFiles.Find(destination)));
        var later = new PartialFile(0, File("f", 8192), Path.Combine(destination, "f"), 4096, durable: true, session: 2);
        Assert.Equal([0], later.Offered.Keys);
        later.Abandon();
    }

    /// <summary>
    /// A sender tells a file vanished or withdrawn only to a receiver whose HelloReply offered to take it; one that tells
    /// another ends its own session, and nothing of the file is committed.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_file_left_out_in_a_way_the_receiver_did_not_offer_is_refused(bool vanished)
    {
        var (type, capability) = vanished ? (ControlMessageType.FilesVanished, WireFormat.CapabilityVanished) : (ControlMessageType.FilesWithdrawn, WireFormat.CapabilityWithdrawn);
        await using var peer = await OneFileSession.OpenAsync(size: 8192, adjust: options => options with { Capabilities = options.Capabilities & ~capability });

        await peer.Control.SendControlAsync(type, RawReceiver.Batch([0]));

        var result = await peer.Receiver.NextResultAsync();
        Assert.Equal(ErrorCode.ProtocolViolation, result.Error!.Code);
        Assert.Contains($"{type} to a receiver whose HelloReply did not offer to take it", result.Error.Message);
        Assert.False(System.IO.File.Exists(Path.Combine(peer.Destination, "f")));
    }

    /// <summary>
    /// A dry run settles its files at their acceptance; one the sender leaves out counts once, and naming it again is
    /// refused, as a real session refuses it: each naming counted drove the session's count of files below none.
    /// (Found by a fuzz test of the receiver.)
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_file_left_out_twice_in_a_dry_run_is_refused(bool vanished)
    {
        await using var peer = await OneFileSession.OpenAsync(size: 100, flags: OpenSessionFlags.DryRun);
        var type = vanished ? ControlMessageType.FilesVanished : ControlMessageType.FilesDropped;

        await peer.Control.SendControlAsync(type, RawReceiver.Batch([0]));
        await peer.Control.SendControlAsync(type, RawReceiver.Batch([0]));

        var result = await peer.Receiver.NextResultAsync();
        Assert.Equal(ErrorCode.ProtocolViolation, result.Error!.Code);
        Assert.Contains("file id 0 was left out twice", result.Error.Message);
        Assert.True(result.Files >= 0, $"the session counts {result.Files} files");
    }

    /// <summary>A sender withdraws a file only before its seal: one that withdraws a sealed file ends its own session, and nothing of it is committed.</summary>
    [Fact]
    public async Task Withdrawing_a_sealed_file_is_refused()
    {
        await using var peer = await OneFileSession.OpenAsync(size: 8192);
        var (receiver, destination, control, lane, session) = (peer.Receiver, peer.Destination, peer.Control, peer.Lane, peer.Session);
        byte[] first = RandomNumberGenerator.GetBytes(4096);
        await lane.Stream.WriteAsync(Frame(session, Digests.Shard(first), first, 0));
        Assert.NotNull(await control.ReadUntilAsync(ControlMessageType.ShardAcks));
        await control.SendControlAsync(ControlMessageType.FilesSealed, Seal(0, 12345));

        await control.SendControlAsync(ControlMessageType.FilesWithdrawn, RawReceiver.Batch([0]));

        var result = await receiver.NextResultAsync();
        Assert.Equal(ErrorCode.ProtocolViolation, result.Error!.Code);
        Assert.Contains("'f' was withdrawn after its seal", result.Error.Message);
        Assert.False(System.IO.File.Exists(Path.Combine(destination, "f")));
    }

    /// <summary>
    /// A wrong whole-file digest ends the session and commits nothing, whether the seal races the data or comes after
    /// the file was finished, when the commit runs off the control connection.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_wrong_whole_file_digest_commits_nothing(bool sealAfterFinish)
    {
        await using var peer = await OneFileSession.OpenAsync();
        var (receiver, destination, control, lane, session) = (peer.Receiver, peer.Destination, peer.Control, peer.Lane, peer.Session);
        byte[] payload = RandomNumberGenerator.GetBytes(100);
        await lane.Stream.WriteAsync(Frame(session, Digests.Shard(payload), payload, 0));
        if (sealAfterFinish)
        {
            Assert.NotNull(await control.ReadUntilAsync(ControlMessageType.ShardAcks));
            // The receiver gives the partial its mtime (the manifest's, 1970) as it finishes the file.
            for (int wait = 0; PartialFiles.Find(destination) is not [{ LastWriteUtc.Year: 1970 }]; wait++)
            {
                Assert.True(wait < 1000, "the file was never finished");
                await Task.Delay(10);
            }
        }
        await control.SendControlAsync(ControlMessageType.FilesSealed, Seal(0, 12345));

        var result = await receiver.NextResultAsync();
        Assert.NotNull(result.Error);
        Assert.Equal(ErrorCode.IntegrityFailure, result.Error.Code);
        Assert.Empty(Directory.EnumerateFileSystemEntries(destination));
    }

    [Fact]
    public async Task Garbage_clients_are_dropped_while_a_real_transfer_goes_on()
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "real.bin"), 3 << 20);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { HandshakeTimeout = TimeSpan.FromSeconds(1) });

        var garbage = Enumerable.Range(0, 20).Select(async i =>
        {
            await using var peer = await RawPeer.ConnectAsync(receiver.Url);
            byte[] noise = RandomNumberGenerator.GetBytes(i * 37 + 1);
            try { await peer.Stream.WriteAsync(noise); } catch (IOException) { }
        }).ToList();
        await using var silent = await RawPeer.ConnectAsync(receiver.Url);
        var send = SingularitySender.SendAsync([source], receiver.Url, new TransferOptions { ShardSize = 64 << 10 });
        await Task.WhenAll(garbage);
        await send;

        var result = await receiver.NextResultAsync();
        Assert.True(result.Succeeded, result.Error?.Message);
        TestFiles.AssertSameBytes(source, Path.Combine(destination, "real.bin"));
        Assert.NotEmpty(receiver.Rejected);
    }

    [Fact]
    public async Task Connections_refused_for_want_of_handshake_slots_give_their_slots_back()
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "after.bin"), 1 << 20);
        string destination = temp.Sub("dst");
        var limits = new ProtocolLimits { MaxHandshakes = 2 };
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { Limits = limits });

        // Two silent connections take both slots; three more are refused for want of one.
        var silent = new List<RawPeer> { await RawPeer.ConnectAsync(receiver.Url), await RawPeer.ConnectAsync(receiver.Url) };
        var refused = new List<RawPeer>();
        for (int i = 0; i < 3; i++) refused.Add(await RawPeer.ConnectAsync(receiver.Url));
        while (receiver.Rejected.Count(r => r.Contains("too many connections in their handshake")) < 3) await Task.Delay(10);
        foreach (var peer in silent.Concat(refused)) await peer.DisposeAsync();

        // Once they are gone, every slot is free again (the guard only stops a hung test), and a sender gets them.
        var guard = Task.Delay(TimeSpan.FromSeconds(30));
        while (receiver.Receiver.HandshakesInProgress > 0 && !guard.IsCompleted) await Task.Delay(10);
        Assert.Equal(0, receiver.Receiver.HandshakesInProgress);
        await SingularitySender.SendAsync([source], receiver.Url, new TransferOptions { Lanes = 1 }).WaitAsync(TimeSpan.FromMinutes(1));
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameBytes(source, Path.Combine(destination, "after.bin"));
    }

    [Fact]
    public async Task A_sender_closed_out_by_a_receiver_at_its_handshake_limit_tries_again_and_gets_through()
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "late.bin"), 1 << 20);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { Limits = new ProtocolLimits { MaxHandshakes = 1 } });
        var silent = await RawPeer.ConnectAsync(receiver.Url);
        while (receiver.Receiver.HandshakesInProgress < 1) await Task.Delay(10);

        // The only slot is taken: the sender's first attempt is closed without a reply, and it retries.
        var events = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var send = SingularitySender.SendAsync([source], receiver.Url, new TransferOptions { Lanes = 1, Retries = 5 }, null, events.Enqueue);
        while (!receiver.Rejected.Any(r => r.Contains("too many connections in their handshake"))) await Task.Delay(10);
        await silent.DisposeAsync();

        await send.WaitAsync(TimeSpan.FromMinutes(2));
        // Closed without a reply: the sender either reads the end of the stream or, when the receiver's close resets its
        // unread Hello, fails its own write. Both are a lost connection, and the send tries again.
        Assert.Contains(events, e => e.StartsWith("retry 1 ", StringComparison.Ordinal));
        TestFiles.AssertSameBytes(source, Path.Combine(destination, "late.bin"));
    }

    [Fact]
    public async Task Another_protocol_version_is_refused_with_a_reason()
    {
        using var temp = new TempDirectory();
        await using var receiver = new LoopbackReceiver(temp.Sub("dst"), Plain);
        await using var peer = await RawPeer.ConnectAsync(receiver.Url);
        // Version 1 lacked what version 2 added (deletion, EntryFailed): its peers are refused before anything moves.
        var reply = await peer.HelloAsync(ConnectionRole.Control, receiver.Token, version: 1);
        Assert.Equal(ErrorCode.VersionUnsupported, reply.Status);
    }

    [Fact]
    public async Task A_lane_for_an_unknown_session_is_refused()
    {
        using var temp = new TempDirectory();
        await using var receiver = new LoopbackReceiver(temp.Sub("dst"), Plain);
        await using var peer = await RawPeer.ConnectAsync(receiver.Url);
        var reply = await peer.HelloAsync(ConnectionRole.Data, receiver.Token, SessionId.NewRandom(), keys: new SessionKeys(CipherSuite.None, new byte[32], new byte[32], new byte[32]));
        Assert.NotEqual(ErrorCode.None, reply.Status);
    }

    /// <summary>The receiver closed (or reset) this connection: it never writes on a lane, so a read ends.</summary>
    private static async Task AssertDroppedAsync(RawPeer lane)
    {
        int read;
        try { read = await lane.Stream.ReadAsync(new byte[16]).AsTask().WaitAsync(TimeSpan.FromSeconds(30)); } catch (IOException) { read = 0; }
        Assert.Equal(0, read);
    }

    /// <summary>A FilesSealed batch of one item: count 1, then the file id and its whole-file digest.</summary>
    private static byte[] Seal(uint fileId, ulong digest)
    {
        byte[] seal = new byte[16];
        BinaryPrimitives.WriteInt32LittleEndian(seal, 1);
        BinaryPrimitives.WriteUInt32LittleEndian(seal.AsSpan(4), fileId);
        BinaryPrimitives.WriteUInt64LittleEndian(seal.AsSpan(8), digest);
        return seal;
    }

    /// <summary>A plaintext receiver in a temporary directory, and a raw peer whose control connection is past its Hello.</summary>
    private sealed class ControlPeer : IAsyncDisposable
    {
        private TempDirectory Temp { get; init; } = null!;
        public required LoopbackReceiver Receiver { get; init; }
        public required string Destination { get; init; }
        public required RawPeer Peer { get; init; }

        public static async Task<ControlPeer> OpenAsync()
        {
            var temp = new TempDirectory();
            string destination = temp.Sub("dst");
            var receiver = new LoopbackReceiver(destination, Plain);
            var peer = await RawPeer.ConnectAsync(receiver.Url);
            await peer.HelloAsync(ConnectionRole.Control, receiver.Token);
            return new ControlPeer { Temp = temp, Receiver = receiver, Destination = destination, Peer = peer };
        }

        public async ValueTask DisposeAsync()
        {
            await Peer.DisposeAsync();
            await Receiver.DisposeAsync();
            Temp.Dispose();
        }
    }

    /// <summary>
    /// A plaintext receiver in a temporary directory, and a raw peer whose session's manifest of one file "f" (100 bytes
    /// unless given) was accepted, with one joined lane.
    /// </summary>
    private sealed class OneFileSession : IAsyncDisposable
    {
        private TempDirectory Temp { get; init; } = null!;
        public required LoopbackReceiver Receiver { get; init; }
        public required string Destination { get; init; }
        public required RawPeer Control { get; init; }
        public required RawPeer Lane { get; init; }
        public required SessionId Session { get; init; }

        public static async Task<OneFileSession> OpenAsync(long size = 100, ushort flags = 0, Func<ReceiverOptions, ReceiverOptions>? adjust = null)
        {
            var temp = new TempDirectory();
            string destination = temp.Sub("dst");
            var receiver = new LoopbackReceiver(destination, Plain, adjust: adjust);
            var control = await RawPeer.ConnectAsync(receiver.Url);
            var (session, answer, _) = await control.OpenWithManifestAsync(receiver.Token, 4096, flags, File("f", size));
            Assert.Equal(ControlMessageType.ManifestAccepted, answer);
            var lane = await RawPeer.ConnectAsync(receiver.Url);
            Assert.Equal(ErrorCode.None, (await lane.HelloAsync(ConnectionRole.Data, receiver.Token, session, keys: control.Keys)).Status);
            return new OneFileSession { Temp = temp, Receiver = receiver, Destination = destination, Control = control, Lane = lane, Session = session };
        }

        public async ValueTask DisposeAsync()
        {
            await Lane.DisposeAsync();
            await Control.DisposeAsync();
            await Receiver.DisposeAsync();
            Temp.Dispose();
        }
    }

    /// <summary>Shard 0 of file 0; <paramref name="length"/> declares another length than the payload's (a hole carries none).</summary>
    private static byte[] Frame(SessionId session, ulong digest, byte[] payload, byte flags, int? length = null)
    {
        byte[] frame = new byte[ShardHeader.Size + payload.Length];
        new ShardHeader(session.Tag, 0, 0, 0, length ?? payload.Length, digest, flags).WriteTo(frame);
        payload.CopyTo(frame, ShardHeader.Size);
        return frame;
    }
}
