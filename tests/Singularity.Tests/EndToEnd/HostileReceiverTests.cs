using System.Buffers.Binary;
using Singularity.Engine;
using Singularity.Engine.Protocol;
using Singularity.Engine.Security;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// What a broken or malicious receiver answers must end the sender's session with a clear error, never a crash or a
/// hang; what a real receiver may answer in a race must not end it.
/// </summary>
public sealed class HostileReceiverTests
{
    /// <summary>The raw receiver reads and writes plaintext; no retries, so the first session's end is the result.</summary>
    private static readonly TransferOptions Plain = new() { Cipher = CipherSuite.None, Lanes = 1 };

    /// <summary>Starts sending one file of 1000 bytes to <paramref name="receiver"/>.</summary>
    private static Task<SendResult> SendOneFile(TempDirectory temp, RawReceiver receiver, TransferOptions? options = null) =>
        SingularitySender.SendAsync([TestFiles.Create(Path.Combine(temp.Path, "f"), 1000)], receiver.Url, options ?? Plain);

    /// <summary>Takes the sender's next session and accepts its one file; returns once the file's shard is on its lane (the sender sealed it).</summary>
    private static async Task AcceptOneFileAsync(RawReceiver receiver)
    {
        await receiver.AcceptAsync();
        await receiver.ReadUntilAsync(ControlMessageType.ManifestChunk);
        await receiver.SendAsync(ControlMessageType.ManifestAccepted, RawReceiver.Fields(1));
        Assert.NotNull(await receiver.ReadUntilAsync(ControlMessageType.FilesSealed));
    }

    /// <summary>
    /// A receiver that answers in another protocol version ends the send as rsync's protocol mismatch does (exit 2),
    /// and is named by the address reached: a URL without its port reaches the default, which may be another's.
    /// </summary>
    [Fact]
    public async Task A_receiver_of_another_version_is_named_by_its_address()
    {
        using var temp = new TempDirectory();
        await using var receiver = new RawReceiver();
        var send = SendOneFile(temp, receiver);
        await receiver.AcceptAsync(version: WireFormat.Version + 1);

        var error = await Assert.ThrowsAsync<TransferAbortedException>(() => send);

        Assert.Equal(ErrorCode.VersionUnsupported, error.Code);
        Assert.Equal($"the receiver at 127.0.0.1:{receiver.Url.Port} speaks SGLTY version {WireFormat.Version + 1}, this sender {WireFormat.Version}; use the same sglty release on both sides", error.Message);
    }

    /// <summary>
    /// An acceptance must not cover entries the sender has not sent yet (lanes would take shards of files the receiver
    /// never saw announced), nor may an acknowledgement name one. Long names spread the tree over several manifest
    /// chunks, and with no file allowed ahead of the commits the sender holds back every chunk after the first until
    /// its files are committed.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Answers_about_entries_not_yet_sent_end_the_session(bool acknowledge)
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("tree");
        for (int i = 0; i < 1500; i++) TestFiles.Create(Path.Combine(tree, $"{i:D4}-{new string('n', 230)}"), 1, seed: i);
        await using var receiver = new RawReceiver();
        var send = SingularitySender.SendAsync([tree], receiver.Url, Plain with { FilesAheadOfCommits = 0 });
        await receiver.AcceptAsync();
        byte[] open = (await receiver.ReadUntilAsync(ControlMessageType.OpenSession))!;
        byte[] chunk = (await receiver.ReadUntilAsync(ControlMessageType.ManifestChunk))!;
        int declared = BinaryPrimitives.ReadInt32LittleEndian(open.AsSpan(8)), sent = BinaryPrimitives.ReadInt32LittleEndian(chunk.AsSpan(4));
        Assert.True(sent < declared, $"the tree fit in one chunk of {sent} entries");

        // The first entry of the chunk held back is a file.
        if (acknowledge) await receiver.SendAsync(ControlMessageType.ShardAcks, RawReceiver.Batch([(uint)sent, 0]));
        else await receiver.SendAsync(ControlMessageType.ManifestAccepted, RawReceiver.Fields((uint)sent + 1));

        var error = await Assert.ThrowsAnyAsync<SingularityException>(() => send);
        Assert.Equal(ErrorCode.ProtocolViolation, error.Code);
        Assert.Contains(acknowledge ? $"the receiver named file {sent} shard 0, which this session does not have" : "ManifestAccepted does not match the manifest", error.Message);
        await receiver.LanesEndedAsync();
        Assert.Empty(receiver.Shards);
    }

    /// <summary>Acknowledgements and nacks (one item with a code, never batched) must name a shard of the session: anything else ends it.</summary>
    [Theory]
    [InlineData(false, 1u, 0u)]
    [InlineData(false, 0u, 1u)]
    [InlineData(true, 7u, 0u)]
    public async Task Answers_naming_a_shard_the_session_does_not_have_end_it(bool nack, uint file, uint shard)
    {
        using var temp = new TempDirectory();
        await using var receiver = new RawReceiver();
        var send = SendOneFile(temp, receiver);
        await AcceptOneFileAsync(receiver);

        if (nack) await receiver.SendAsync(ControlMessageType.ShardNack, RawReceiver.Fields(file, shard, 5));
        else await receiver.SendAsync(ControlMessageType.ShardAcks, RawReceiver.Batch([file, shard]));

        var error = await Assert.ThrowsAnyAsync<SingularityException>(() => send);
        Assert.Equal(ErrorCode.ProtocolViolation, error.Code);
        Assert.Contains($"the receiver named file {file} shard {shard}, which this session does not have", error.Message);
    }

    /// <summary>A receiver commits a file only once its seal has come: a commit before it ends the session rather than count as the file done.</summary>
    [Fact]
    public async Task A_commit_before_the_seal_ends_the_session()
    {
        using var temp = new TempDirectory();
        await using var receiver = new RawReceiver();
        var send = SendOneFile(temp, receiver);
        await receiver.AcceptAsync();
        await receiver.ReadUntilAsync(ControlMessageType.ManifestChunk);

        // Not accepted yet, so no shard of it can have been sent, nor the file sealed.
        await receiver.SendAsync(ControlMessageType.FilesCommitted, RawReceiver.Batch([0]));

        var error = await Assert.ThrowsAnyAsync<SingularityException>(() => send);
        Assert.Equal(ErrorCode.ProtocolViolation, error.Code);
        Assert.Contains("'f' was committed before it was sealed", error.Message);
    }

    /// <summary>An Error message with the code None, or one this side does not know, ends the session as a protocol violation, with its reason.</summary>
    [Theory]
    [InlineData(0)]
    [InlineData(999)]
    public async Task An_error_without_a_known_code_counts_as_a_protocol_violation(int code)
    {
        using var temp = new TempDirectory();
        await using var receiver = new RawReceiver();
        var send = SendOneFile(temp, receiver);
        await receiver.AcceptAsync();
        await receiver.ReadUntilAsync(ControlMessageType.ManifestChunk);

        byte[] reason = "gone"u8.ToArray();
        await receiver.SendAsync(ControlMessageType.Error, [(byte)code, (byte)(code >> 8), (byte)reason.Length, 0, .. reason]);

        var error = await Assert.ThrowsAnyAsync<SingularityException>(() => send);
        Assert.Equal(ErrorCode.ProtocolViolation, error.Code);
        Assert.Contains("the receiver ended the session: gone", error.Message);
    }

    /// <summary>
    /// A nack can cross the commit of its file (the receiver committed it from another copy of the shard): the sender
    /// neither resends the shard nor fails, and the session ends as it should.
    /// </summary>
    [Fact]
    public async Task A_nack_for_a_file_already_committed_resends_nothing_and_the_session_succeeds()
    {
        using var temp = new TempDirectory();
        await using var receiver = new RawReceiver();
        var send = SendOneFile(temp, receiver);
        await AcceptOneFileAsync(receiver);

        await receiver.SendAsync(ControlMessageType.FilesCommitted, RawReceiver.Batch([0]));
        await receiver.SendAsync(ControlMessageType.ShardNack, RawReceiver.Fields(0, 0, 5));
        await receiver.EndSessionAsync(1, 1000);

        var result = await send;
        Assert.Equal((1, 0), (result.Files, result.Retransmits));
        await receiver.LanesEndedAsync();
        var shard = Assert.Single(receiver.Shards);
        Assert.Equal((0u, 0u, 0), (shard.FileId, shard.ShardIndex, shard.Flags & ShardHeader.FlagRetransmit));
    }

    /// <summary>
    /// A receiver that acknowledges the same shard again and again and never commits the file is not progress: the
    /// sender's watchdog ends the session as stalled (and a retry would follow), where it used to wait for ever.
    /// </summary>
    [Fact]
    public async Task A_receiver_that_repeats_an_ack_and_never_commits_does_not_keep_the_sender_waiting()
    {
        using var temp = new TempDirectory();
        await using var receiver = new RawReceiver();
        var send = SendOneFile(temp, receiver, Plain with { StallTimeout = TimeSpan.FromSeconds(1) });
        await AcceptOneFileAsync(receiver);

        // The clock only bounds the test should the sender wait for ever (its watchdog gives up after 2 s of nothing);
        // it measures nothing.
        bool closed = false;
        for (var guard = System.Diagnostics.Stopwatch.StartNew(); !closed && !send.IsCompleted && guard.Elapsed < TimeSpan.FromSeconds(30);)
        {
            try { await receiver.SendAsync(ControlMessageType.ShardAcks, RawReceiver.Batch([0, 0])); }
            catch (IOException) { closed = true; }
            await Task.Delay(100);
        }
        Assert.True(closed || send.IsCompleted, "the sender kept waiting while the receiver repeated its ack");
        var error = await Assert.ThrowsAnyAsync<SingularityException>(() => send.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(ErrorCode.ConnectionLost, error.Code);
        Assert.Contains("stalled", error.Message);
    }

    /// <summary>A receiver that names files already in place when the sender did not ask, or after their acceptance, breaks the protocol.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Files_named_as_in_place_unasked_or_too_late_end_the_session(bool asked)
    {
        using var temp = new TempDirectory();
        await using var receiver = new RawReceiver();
        var send = SendOneFile(temp, receiver, Plain with { SkipUnchanged = asked });
        await AcceptOneFileAsync(receiver);

        await receiver.SendAsync(ControlMessageType.FilesPresent, RawReceiver.Batch([0]));

        var error = await Assert.ThrowsAnyAsync<SingularityException>(() => send);
        Assert.Equal(ErrorCode.ProtocolViolation, error.Code);
        Assert.Contains(asked ? "after its acceptance" : "which this sender did not ask for", error.Message);
    }

    /// <summary>
    /// Itemized (--itemize-changes) only where the sender asked for it, before the entry's acceptance, once an entry,
    /// and with differences that are some, known, and not "new" beside others.
    /// </summary>
    [Theory]
    [InlineData(false, false, 4, 1, "did not ask for it")]
    [InlineData(true, true, 4, 1, "not waiting for its acceptance")]
    [InlineData(true, false, 0, 1, "which are none, unknown, or new with others")]
    [InlineData(true, false, 0x80, 1, "which are none, unknown, or new with others")]
    [InlineData(true, false, 5, 1, "which are none, unknown, or new with others")]
    [InlineData(true, false, 4, 2, "was itemized twice")]
    public async Task Itemized_differences_are_checked(bool asked, bool accepted, ushort changes, int times, string refused)
    {
        using var temp = new TempDirectory();
        await using var receiver = new RawReceiver();
        var send = SendOneFile(temp, receiver, Plain with { ItemizeChanges = asked ? 1 : 0 });
        if (accepted) await AcceptOneFileAsync(receiver);
        else
        {
            await receiver.AcceptAsync();
            await receiver.ReadUntilAsync(ControlMessageType.ManifestChunk);
        }

        byte[] body = new byte[4 + 6 * times];
        BinaryPrimitives.WriteInt32LittleEndian(body, times);
        for (int i = 0; i < times; i++) BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(4 + 6 * i + 4), changes);
        await receiver.SendAsync(ControlMessageType.Itemized, body);

        var error = await Assert.ThrowsAnyAsync<SingularityException>(() => send);
        Assert.Equal(ErrorCode.ProtocolViolation, error.Code);
        Assert.Contains(refused, error.Message);
    }

    /// <summary>
    /// Basis sums come only in a delta session, for a file with basis offers or none at all (sums alone), before its
    /// acceptance, of blocks of 2 KiB to a shard, and hold what they say; to a sender from before sums alone, once; to
    /// one of now, in pieces that continue each other: anything else ends the session.
    /// </summary>
    [Theory]
    [InlineData(false, false, "none", 2048, 1, 1, 1, "BasisSums in a session that did not ask for delta")]
    [InlineData(true, false, "resumed", 2048, 1, 1, 1, "of which no shard was offered from its basis", true)]
    [InlineData(true, false, "none", 2048, 1, 1, 1, "of which no shard was offered from its basis", true)]
    [InlineData(true, false, "basis", 1024, 1, 1, 1, "outside 2048 to the shard size")]
    [InlineData(true, false, "none", 8 << 20, 1, 1, 1, "outside 2048 to the shard size")]
    [InlineData(true, false, "basis", 2048, 2, 1, 1, "does not hold its 2 sums")]
    [InlineData(true, false, "none", 2048, 0, 0, 1, "does not hold its 0 sums")]
    [InlineData(true, false, "basis", 2048, 1, 1, 2, "came twice", true)]
    [InlineData(true, false, "basis", 2048, 60_000, 60_000, 2, "more than 65536 basis sums")]
    [InlineData(true, false, "none", 2048, 40_000, 40_000, 2, "more than 65536 basis sums")]
    [InlineData(true, true, "basis", 2048, 1, 1, 1, "already accepted")]
    public async Task Basis_sums_are_checked(bool delta, bool accepted, string offered, int blockSize, int count, int items, int times, string refused, bool before = false)
    {
        using var temp = new TempDirectory();
        await using var receiver = new RawReceiver();
        var send = SendOneFile(temp, receiver, Plain with { Delta = delta, Capabilities = before ? WireFormat.CapabilityPatches : Plain.Capabilities });
        if (accepted) await AcceptOneFileAsync(receiver);
        else
        {
            await receiver.AcceptAsync();
            await receiver.ReadUntilAsync(ControlMessageType.ManifestChunk);
        }
        if (offered != "none" && !accepted)
        {
            byte[] offer = new byte[4 + 16];
            BinaryPrimitives.WriteInt32LittleEndian(offer, 1);
            await receiver.SendAsync(offered == "basis" ? ControlMessageType.BasisOffer : ControlMessageType.ResumeOffer, offer);
        }

        byte[] sums = new byte[12 + 12 * items];
        BinaryPrimitives.WriteInt32LittleEndian(sums.AsSpan(4), blockSize);
        BinaryPrimitives.WriteInt32LittleEndian(sums.AsSpan(8), count);
        for (int i = 0; i < times; i++) await receiver.SendAsync(ControlMessageType.BasisSums, sums);

        var error = await Assert.ThrowsAnyAsync<SingularityException>(() => send);
        Assert.Equal(ErrorCode.ProtocolViolation, error.Code);
        Assert.Contains(refused, error.Message);
    }

    /// <summary>A piece of basis sums continues those before it: in blocks of another size, it ends the session.</summary>
    [Fact]
    public async Task A_piece_of_basis_sums_in_other_blocks_ends_the_session()
    {
        using var temp = new TempDirectory();
        await using var receiver = new RawReceiver();
        var send = SendOneFile(temp, receiver, Plain with { Delta = true });
        await receiver.AcceptAsync();
        await receiver.ReadUntilAsync(ControlMessageType.ManifestChunk);

        foreach (int blockSize in new[] { 2048, 4096 })
        {
            byte[] sums = new byte[12 + 12];
            BinaryPrimitives.WriteInt32LittleEndian(sums.AsSpan(4), blockSize);
            BinaryPrimitives.WriteInt32LittleEndian(sums.AsSpan(8), 1);
            await receiver.SendAsync(ControlMessageType.BasisSums, sums);
        }

        var error = await Assert.ThrowsAnyAsync<SingularityException>(() => send);
        Assert.Equal(ErrorCode.ProtocolViolation, error.Code);
        Assert.Contains("of blocks of 4096 bytes continue sums of blocks of 2048", error.Message);
    }

    /// <summary>A file's offers come before its basis sums: one after them ends the session.</summary>
    [Fact]
    public async Task An_offer_after_basis_sums_ends_the_session()
    {
        using var temp = new TempDirectory();
        await using var receiver = new RawReceiver();
        var send = SendOneFile(temp, receiver, Plain with { Delta = true });
        await receiver.AcceptAsync();
        await receiver.ReadUntilAsync(ControlMessageType.ManifestChunk);

        byte[] sums = new byte[12 + 12];
        BinaryPrimitives.WriteInt32LittleEndian(sums.AsSpan(4), 2048);
        BinaryPrimitives.WriteInt32LittleEndian(sums.AsSpan(8), 1);
        await receiver.SendAsync(ControlMessageType.BasisSums, sums);
        byte[] offer = new byte[4 + 16];
        BinaryPrimitives.WriteInt32LittleEndian(offer, 1);
        await receiver.SendAsync(ControlMessageType.ResumeOffer, offer);

        var error = await Assert.ThrowsAnyAsync<SingularityException>(() => send);
        Assert.Equal(ErrorCode.ProtocolViolation, error.Code);
        Assert.Contains("offered after its basis sums", error.Message);
    }

    /// <summary>Itemized's "not made" (bit 7) names a directory --existing did not make; for a file it breaks the protocol.</summary>
    [Fact]
    public async Task Not_made_for_a_file_ends_the_session()
    {
        using var temp = new TempDirectory();
        await using var receiver = new RawReceiver();
        var send = SendOneFile(temp, receiver, Plain with { ItemizeChanges = 1, SkipUnchanged = true, ExistingOnly = true });
        await receiver.AcceptAsync();
        await receiver.ReadUntilAsync(ControlMessageType.ManifestChunk);

        byte[] body = new byte[10];
        BinaryPrimitives.WriteInt32LittleEndian(body, 1);
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(8), 0x80);
        await receiver.SendAsync(ControlMessageType.Itemized, body);

        var error = await Assert.ThrowsAnyAsync<SingularityException>(() => send);
        Assert.Equal(ErrorCode.ProtocolViolation, error.Code);
        Assert.Contains("which are none, unknown, or new with others", error.Message);
    }

    /// <summary>A receiver that names a file as kept by --size-only, --update or --ignore-existing (FilesKept) when the sender asked for none of them breaks the protocol.</summary>
    [Fact]
    public async Task Files_named_as_kept_by_a_rule_not_asked_for_end_the_session()
    {
        using var temp = new TempDirectory();
        await using var receiver = new RawReceiver();
        var send = SendOneFile(temp, receiver, Plain with { SkipUnchanged = true });
        await receiver.AcceptAsync();
        await receiver.ReadUntilAsync(ControlMessageType.ManifestChunk);

        await receiver.SendAsync(ControlMessageType.FilesKept, RawReceiver.Batch([0]));

        var error = await Assert.ThrowsAnyAsync<SingularityException>(() => send);
        Assert.Equal(ErrorCode.ProtocolViolation, error.Code);
        Assert.Contains("as kept by a rule this sender did not ask for", error.Message);
    }

    /// <summary>
    /// Shards offered from the version at a file's name (BasisOffer) only where the sender asked for delta, and never
    /// beside resume offers for the same file: the sender counts what each saved apart.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Basis_offers_unasked_or_mixed_with_resume_offers_end_the_session(bool asked)
    {
        using var temp = new TempDirectory();
        await using var receiver = new RawReceiver();
        var send = SendOneFile(temp, receiver, Plain with { Delta = asked });
        await receiver.AcceptAsync();
        await receiver.ReadUntilAsync(ControlMessageType.ManifestChunk);

        // Without delta asked, the sender refuses the BasisOffer alone and closes: both go in one write.
        await receiver.SendTogetherAsync(
            (ControlMessageType.BasisOffer, RawReceiver.Batch([0, 0, 1, 2])),
            (ControlMessageType.ResumeOffer, RawReceiver.Batch([0, 0, 1, 2])));

        var error = await Assert.ThrowsAnyAsync<SingularityException>(() => send);
        Assert.Equal(ErrorCode.ProtocolViolation, error.Code);
        Assert.Contains(asked ? "both as resumed and from its basis" : "did not ask for delta", error.Message);
    }

    /// <summary>An EntryFailed that names no entry of the session, or is cut short, is refused; a valid one leaves the file out and the session goes on.</summary>
    [Theory]
    [InlineData("valid")]
    [InlineData("unknown entry")]
    [InlineData("short")]
    public async Task EntryFailed_is_checked_and_leaves_out_only_its_entry(string kind)
    {
        using var temp = new TempDirectory();
        await using var receiver = new RawReceiver();
        var send = SendOneFile(temp, receiver);
        await AcceptOneFileAsync(receiver);
        byte[] reason = ErrorMessage.Encode(ErrorCode.IoError, "permission denied while writing 'f'");
        byte[] body = kind switch
        {
            "valid" => [.. RawReceiver.Fields(0), .. reason],
            "unknown entry" => [.. RawReceiver.Fields(7), .. reason],
            _ => [0, 0, 0],
        };

        await receiver.SendAsync(ControlMessageType.EntryFailed, body);

        if (kind == "valid")
        {
            await receiver.EndSessionAsync(1, 0);
            var result = await send;
            var left = Assert.Single(result.NotSent);
            Assert.Equal((true, 1000L), (left.AtReceiver, left.Bytes));
            Assert.Equal((0, 1), (result.FilesTransferred, result.FilesNotSent));
            return;
        }
        var error = await Assert.ThrowsAnyAsync<SingularityException>(() => send);
        Assert.Equal(ErrorCode.ProtocolViolation, error.Code);
        Assert.Contains(kind == "short" ? "EntryFailed is too short" : "the receiver named entry 7", error.Message);
    }

    /// <summary>
    /// A receiver deleting what the source no longer has may take longer than the sender waits for SessionDone: it
    /// says so about once a second (StillWorking), and the sender waits on. Here the stall timeout is 1 s and the
    /// answer comes after 3 s of such messages.
    /// </summary>
    [Fact]
    public async Task A_receiver_still_deleting_keeps_the_sender_waiting_for_its_answer()
    {
        using var temp = new TempDirectory();
        await using var receiver = new RawReceiver();
        var send = SendOneFile(temp, receiver, Plain with { DeleteExtraneous = true, StallTimeout = TimeSpan.FromSeconds(1) });
        await AcceptOneFileAsync(receiver);
        await receiver.SendAsync(ControlMessageType.ShardAcks, RawReceiver.Batch([0, 0]));
        await receiver.SendAsync(ControlMessageType.FilesCommitted, RawReceiver.Batch([0]));
        Assert.NotNull(await receiver.ReadUntilAsync(ControlMessageType.Finish));

        for (int i = 0; i < 10; i++)
        {
            await receiver.SendAsync(ControlMessageType.StillWorking, []);
            await Task.Delay(300);
        }
        byte[] done = new byte[24];
        BinaryPrimitives.WriteInt32LittleEndian(done, 1);
        BinaryPrimitives.WriteInt32LittleEndian(done.AsSpan(4), 7);
        BinaryPrimitives.WriteInt64LittleEndian(done.AsSpan(8), 1000);
        BinaryPrimitives.WriteInt32LittleEndian(done.AsSpan(20), 1);
        await receiver.SendAsync(ControlMessageType.SessionDone, done);

        var result = await send;
        Assert.Equal((7, false), (result.EntriesDeleted, result.DeletionSkipped));
    }

    /// <summary>
    /// A receiver seeding files from their old versions (delta) says so while the sender waits for the manifest's
    /// acceptance, and the sender waits on past its idle timeout (2 s here, the acceptance after 4 s of such
    /// messages); without delta asked for, such a message before Finish breaks the protocol.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_receiver_still_seeding_keeps_the_sender_waiting_for_the_acceptance(bool delta)
    {
        using var temp = new TempDirectory();
        await using var receiver = new RawReceiver();
        var send = SendOneFile(temp, receiver, Plain with { Delta = delta, IdleTimeout = TimeSpan.FromSeconds(2) });
        await receiver.AcceptAsync();
        await receiver.ReadUntilAsync(ControlMessageType.ManifestChunk);

        for (int i = 0; i < 20 && !send.IsCompleted; i++)
        {
            await receiver.SendAsync(ControlMessageType.StillWorking, []);
            await Task.Delay(200);
        }
        if (!delta)
        {
            var error = await Assert.ThrowsAnyAsync<SingularityException>(() => send);
            Assert.Equal(ErrorCode.ProtocolViolation, error.Code);
            Assert.Contains("StillWorking came neither after Finish", error.Message);
            return;
        }
        Assert.False(send.IsCompleted);
        await receiver.SendAsync(ControlMessageType.ManifestAccepted, RawReceiver.Fields(1));
        Assert.NotNull(await receiver.ReadUntilAsync(ControlMessageType.FilesSealed));
        await receiver.SendAsync(ControlMessageType.ShardAcks, RawReceiver.Batch([0, 0]));
        await receiver.SendAsync(ControlMessageType.FilesCommitted, RawReceiver.Batch([0]));
        await receiver.EndSessionAsync(1, 1000);
        Assert.Equal(1, (await send).FilesTransferred);
    }

    /// <summary>
    /// With nothing in flight after the first chunk's files are committed, a receiver seeding the next chunk keeps the
    /// sender's watchdog waiting by saying it is at work (2 s idle timeout here, 4 s of StillWorking): the quiet limit
    /// counts from its last word.
    /// </summary>
    [Fact]
    public async Task A_receiver_seeding_a_later_chunk_keeps_the_watchdog_waiting()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("tree");
        for (int i = 0; i < 1500; i++) TestFiles.Create(Path.Combine(tree, $"{i:D4}-{new string('n', 230)}"), 1, seed: i);
        await using var receiver = new RawReceiver();
        using var stop = new CancellationTokenSource();
        var send = SingularitySender.SendAsync([tree], receiver.Url, Plain with { FilesAheadOfCommits = 0, Delta = true, IdleTimeout = TimeSpan.FromSeconds(2) }, null, stop.Token);
        await receiver.AcceptAsync();
        byte[] chunk = (await receiver.ReadUntilAsync(ControlMessageType.ManifestChunk))!;
        int sent = BinaryPrimitives.ReadInt32LittleEndian(chunk.AsSpan(4));
        await receiver.SendAsync(ControlMessageType.ManifestAccepted, RawReceiver.Fields((uint)sent));
        // Every file of the first chunk (all but the directory) sealed, then acknowledged and committed: nothing is in flight.
        var sealedIds = new List<uint>();
        while (sealedIds.Count < sent - 1)
        {
            byte[] seals = (await receiver.ReadUntilAsync(ControlMessageType.FilesSealed))!;
            for (int i = 0; i < BinaryPrimitives.ReadInt32LittleEndian(seals); i++) sealedIds.Add(BinaryPrimitives.ReadUInt32LittleEndian(seals.AsSpan(4 + 12 * i)));
        }
        await receiver.SendAsync(ControlMessageType.ShardAcks, RawReceiver.Batch([.. sealedIds.Select(id => new[] { id, 0u })]));
        await receiver.SendAsync(ControlMessageType.FilesCommitted, RawReceiver.Batch([.. sealedIds.Select(id => new[] { id })]));
        Assert.NotNull(await receiver.ReadUntilAsync(ControlMessageType.ManifestChunk));

        for (int i = 0; i < 20 && !send.IsCompleted; i++)
        {
            await receiver.SendAsync(ControlMessageType.StillWorking, []);
            await Task.Delay(200);
        }

        Assert.False(send.IsCompleted, send.IsFaulted ? send.Exception!.InnerException!.Message : "the send ended");
        await stop.CancelAsync();
        Assert.Equal(ErrorCode.Cancelled, (await Assert.ThrowsAnyAsync<SingularityException>(() => send)).Code);
    }

    /// <summary>
    /// A receiver that reports deletions, or attributes it could not set, that the sender did not ask for is refused:
    /// the sender would report them (and exit 23 for nothing). So is a flag no version defines.
    /// </summary>
    [Theory]
    [InlineData(5, 0, "SessionDone counts deletions this sender did not ask for")]
    [InlineData(0, Singularity.Engine.Transfer.ReceiverSession.SessionDoneXattrsNotSet, "SessionDone names extended attributes this sender did not send")]
    [InlineData(0, 8, "SessionDone sets flag bits this sender does not know")]
    [InlineData(0, Singularity.Engine.Transfer.ReceiverSession.SessionDoneModesNotSet, "SessionDone names modes this sender did not send")]
    public async Task What_the_sender_did_not_ask_for_is_refused_at_the_end(int deleted, int flags, string refusal)
    {
        using var temp = new TempDirectory();
        await using var receiver = new RawReceiver();
        var send = SendOneFile(temp, receiver, Plain with { KeepPermissions = false });
        await AcceptOneFileAsync(receiver);

        await receiver.SendAsync(ControlMessageType.ShardAcks, RawReceiver.Batch([0, 0]));
        await receiver.SendAsync(ControlMessageType.FilesCommitted, RawReceiver.Batch([0]));
        await receiver.EndSessionAsync(1, 1000, deleted: deleted, flags: flags);

        var error = await Assert.ThrowsAnyAsync<SingularityException>(() => send);
        Assert.Equal(ErrorCode.ProtocolViolation, error.Code);
        Assert.Contains(refusal, error.Message);
    }

    /// <summary>
    /// A nack for a copy no longer in flight (here one already acknowledged; in practice one whose lane's failover
    /// queued it again already) queues nothing: the shard would be sent twice and only one copy's credit come back.
    /// </summary>
    [Fact]
    public async Task A_nack_for_a_shard_no_longer_in_flight_queues_nothing()
    {
        using var temp = new TempDirectory();
        await using var receiver = new RawReceiver();
        var send = SendOneFile(temp, receiver);
        await AcceptOneFileAsync(receiver);

        await receiver.SendAsync(ControlMessageType.ShardAcks, RawReceiver.Batch([0, 0]));
        await receiver.SendAsync(ControlMessageType.ShardNack, RawReceiver.Fields(0, 0, 5));
        await receiver.SendAsync(ControlMessageType.FilesCommitted, RawReceiver.Batch([0]));
        await receiver.EndSessionAsync(1, 1000);

        Assert.Equal(0, (await send).Retransmits);
        await receiver.LanesEndedAsync();
        Assert.Single(receiver.Shards);
    }

    /// <summary>
    /// An attempt moved data only if the receiver acknowledged a shard it sent (or committed a file): shards put on the
    /// wire and never acknowledged do not reset the retry count, so a receiver that takes data and never confirms it
    /// does not keep the sender retrying forever. With one retry allowed, two attempts that confirm nothing end the
    /// send; an acknowledged shard in the first buys a third.
    /// </summary>
    [Theory]
    [InlineData(false, 2)]
    [InlineData(true, 3)]
    public async Task Only_acknowledged_shards_count_as_progress_between_retries(bool acknowledgeFirst, int attempts)
    {
        using var temp = new TempDirectory();
        await using var receiver = new RawReceiver();
        var send = SendOneFile(temp, receiver, Plain with { Retries = 1 });
        for (int attempt = 1; attempt <= attempts; attempt++)
        {
            await AcceptOneFileAsync(receiver);
            if (attempt == 1 && acknowledgeFirst) await receiver.SendAsync(ControlMessageType.ShardAcks, RawReceiver.Batch([0, 0]));
            receiver.DropSession();
        }

        var error = await Assert.ThrowsAnyAsync<SingularityException>(() => send);
        Assert.Equal(ErrorCode.ConnectionLost, error.Code);
        Assert.Equal(attempts, receiver.ControlConnections);
    }
}
