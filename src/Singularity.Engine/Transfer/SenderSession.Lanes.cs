using System.Buffers.Binary;
using System.Net.Sockets;
using System.Security.Cryptography;
using Singularity.Engine.Compression;
using Singularity.Engine.Protocol;
using Singularity.Engine.Security;
using Singularity.Engine.Transport;

namespace Singularity.Engine.Transfer;

internal sealed partial class SenderSession
{
    private readonly List<ILaneConnection> _lanes = [];
    private readonly List<Task> _laneTasks = [];
    private readonly Dictionary<ushort, ILaneConnection> _laneByNumber = [];
    // Each copy of a shard in flight: the lane it went on, and the window credit it holds (none for a hole).
    private readonly Dictionary<long, InFlightCopy> _inFlight = [];
    // Closing lanes that still carry unacknowledged shards, each woken by the acknowledgement of its last one.
    private readonly Dictionary<ushort, TaskCompletionSource> _draining = [];
    // Set once every file is committed: what is still in flight then is a copy of a shard already delivered.
    private bool _drainsReleased;
    private int _nextLane;
    private int _lanesLost;
    private bool _reached;

    /// <summary>Opens a connection and completes the handshake, turning a refusal into a one-line reason.</summary>
    private async Task<ILaneConnection> ConnectAsync(ConnectionRole role, SessionId session, ushort lane)
    {
        ILaneConnection connection;
        // The kernel gives up on an address that never answers only after about two minutes.
        using (var connecting = CancellationTokenSource.CreateLinkedTokenSource(_cts.Token))
        {
            connecting.CancelAfter(_options.HandshakeTimeout);
            try
            {
                connection = await (role == ConnectionRole.Control ? _transport : _laneTransport).ConnectAsync(_url.Host, _url.Port, connecting.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!_cts.IsCancellationRequested)
            {
                throw new TransferAbortedException(ErrorCode.ConnectionLost, $"cannot connect to {Where}: no answer within {_options.HandshakeTimeout.TotalSeconds:0.#} s; check the address, and that nothing on the way drops connections to that port", new SocketException((int)SocketError.TimedOut));
            }
        }
        Volatile.Write(ref _reached, true);
        ECDiffieHellman? ephemeral = null;
        try
        {
            int authLength = role == ConnectionRole.Control ? Handshake.ClientAuthSize : Handshake.LaneAuthSize;
            byte[] hello = new byte[Hello.Size];
            // The control connection tells the receiver that this sender takes basis sums, with offers or alone, and sends patches.
            new Hello(role, session, lane, capabilities: role == ConnectionRole.Control ? _options.Capabilities : 0, authMethod: Handshake.Method, authLength: (uint)authLength).WriteTo(hello);
            byte[] auth;
            if (role == ConnectionRole.Control) (auth, ephemeral) = Handshake.ClientStart(hello, _token, _options.Cipher);
            else auth = _keys!.LaneBinder(hello);
            await connection.WriteAsync(hello, _cts.Token).ConfigureAwait(false);
            await connection.WriteAsync(auth, _cts.Token).ConfigureAwait(false);

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_cts.Token);
            timeout.CancelAfter(_options.HandshakeTimeout);
            byte[] reply = new byte[HelloReply.Size];
            if (!await ReadHandshakeAsync(connection, reply, timeout.Token).ConfigureAwait(false))
                throw NotAReceiver();
            if (!HelloReply.TryRead(reply, out var answer, out string? error))
                throw new TransferAbortedException(ErrorCode.ProtocolViolation, $"{Where}: {error}");
            // A refusal says why in one of the few codes a receiver refuses with: any other (Internal, one no version
            // defines) would pass for what this receiver never said, and the unauthenticated reply is anyone's to forge.
            if (answer.Status is not (ErrorCode.None or ErrorCode.VersionUnsupported or ErrorCode.AuthFailed or ErrorCode.Busy or ErrorCode.ConnectionLost))
                throw new TransferAbortedException(ErrorCode.ProtocolViolation, $"{Where} refused the connection with status {(ushort)answer.Status}, which no receiver refuses with");
            if (answer.Status != ErrorCode.None)
            {
                string refusal = await ReadRefusalAsync(connection, answer.Status, timeout.Token).ConfigureAwait(false);
                // Which receiver: a URL without its port reaches the default one, which may be another's.
                throw new TransferAbortedException(answer.Status, answer.Status == ErrorCode.AuthFailed ? $"{Where}: {refusal}" : $"{Where} refused the connection: {refusal}");
            }
            if (answer.Version != WireFormat.Version)
                throw new TransferAbortedException(ErrorCode.VersionUnsupported, $"the receiver at {Where} speaks SGLTY version {answer.Version}, this sender {WireFormat.Version}; use the same sglty release on both sides");
            if (role == ConnectionRole.Control)
            {
                if (answer.AuthLength != Handshake.ServerAuthSize) throw new TransferAbortedException(ErrorCode.ProtocolViolation, $"{Where} sent a malformed handshake");
                byte[] serverAuth = new byte[Handshake.ServerAuthSize];
                if (!await ReadHandshakeAsync(connection, serverAuth, timeout.Token).ConfigureAwait(false)) throw NotAReceiver();
                if (!Handshake.ClientFinish(hello, auth, reply, serverAuth, ephemeral!, _token, out var pending))
                    throw new TransferAbortedException(ErrorCode.AuthFailed, $"wrong token: the receiver at {Where} could not prove it holds this token; use the URL it printed");
                if (pending.Keys.Suite != _options.Cipher)
                    throw new TransferAbortedException(ErrorCode.AuthFailed, $"the receiver chose {CipherSuites.Name(pending.Keys.Suite)} instead of {CipherSuites.Name(_options.Cipher)}");
                await connection.WriteAsync(pending.ClientFinished, _cts.Token).ConfigureAwait(false);
                _keys = pending.Keys;
                _session = answer.Session;
                _receiverTakesVanished = (answer.Capabilities & WireFormat.CapabilityVanished) != 0;
                _receiverTakesWithdrawn = (answer.Capabilities & WireFormat.CapabilityWithdrawn) != 0;
                _receiverTakesLinkedVanished = (answer.Capabilities & WireFormat.CapabilityLinkedVanished) != 0;
                _receiverNamesFile = (answer.Capabilities & WireFormat.CapabilityNamesFile) != 0;
            }
            else if (answer.Session != session)
            {
                throw new TransferAbortedException(ErrorCode.ProtocolViolation, "the receiver joined this lane to another session");
            }
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        finally
        {
            ephemeral?.Dispose();
        }
    }

    private string Where => ConnectionUrl.Endpoint(_url.Host, _url.Port);

    // Counted as a lost connection, so a send with retries tries again: a receiver at its limit of connections in
    // their handshake closes new ones without a reply.
    private TransferAbortedException NotAReceiver() =>
        new(ErrorCode.ConnectionLost, $"{Where} closed the connection during the handshake: it is either not a Singularity receiver of the same version, or too busy with other connections to answer (try again shortly)");

    private async Task<bool> ReadHandshakeAsync(ILaneConnection connection, byte[] buffer, CancellationToken timeout)
    {
        try
        {
            return await connection.ReadExactlyOrEndAsync(buffer, timeout).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!_cts.IsCancellationRequested)
        {
            // Retried (as a lost connection) only when an earlier attempt was answered: a receiver that paused or is
            // overloaded mends, something other than a receiver at the address does not.
            if (AnsweredBefore) throw new TransferAbortedException(ErrorCode.ConnectionLost, $"{Where} did not answer the handshake within {_options.HandshakeTimeout.TotalSeconds:0} s; the receiver may be paused or overloaded");
            throw new TransferAbortedException(ErrorCode.ProtocolViolation, $"{Where} did not answer the handshake; is it a Singularity receiver?");
        }
        catch (TransferAbortedException)
        {
            throw NotAReceiver();
        }
    }

    /// <summary>Reads the reason after a refusal: u16 length, UTF-8 text.</summary>
    private static async Task<string> ReadRefusalAsync(ILaneConnection connection, ErrorCode status, CancellationToken timeout)
    {
        string reason = status.ToString();
        try
        {
            byte[] length = new byte[2];
            if (await connection.ReadExactlyOrEndAsync(length, timeout).ConfigureAwait(false))
            {
                int size = BinaryPrimitives.ReadUInt16LittleEndian(length);
                byte[] text = new byte[Math.Min(size, HelloReply.MaxReasonBytes)];
                if (size <= HelloReply.MaxReasonBytes && (size == 0 || await connection.ReadExactlyOrEndAsync(text, timeout).ConfigureAwait(false)))
                    reason = System.Text.Encoding.UTF8.GetString(text);
            }
        }
        catch (Exception ex) when (ex is TransferAbortedException or OperationCanceledException) { }
        return reason;
    }

    /// <summary>
    /// Starts a lane with the next unused lane number (a number names the lane's nonce stream, so it is never reused).
    /// Once the numbers are spent (after many lanes were lost and replaced) no lane starts: the receiver would refuse it.
    /// </summary>
    private void StartLane()
    {
        lock (_laneTasks)
        {
            if (_failure is not null || _nextLane >= _options.Limits.MaxLanes) return;
            ushort number = (ushort)_nextLane++;
            Interlocked.Increment(ref _lanesStarted);
            Interlocked.Increment(ref _lanesStarting);
            _laneTasks.Add(Task.Run(() => LaneAsync(number)));
        }
    }

    private async Task WhenLanesEndAsync()
    {
        while (true)
        {
            Task[] running;
            lock (_laneTasks) running = [.. _laneTasks];
            await Task.WhenAll(running).ConfigureAwait(false);
            lock (_laneTasks)
            {
                if (_laneTasks.Count == running.Length) return;
            }
        }
    }

    private static long InFlightKey(uint file, uint index) => ((long)file << 32) | index;

    /// <summary>Patches in flight for each window's worth of shards, at most: each holds at least this part of its shard's credit.</summary>
    private const int PatchesPerWindow = 16;

    /// <summary>
    /// Ends a shard's time in flight; true if it was in flight. Only then does the credit it holds go back: a copy that
    /// was requeued already returned its credit, and each copy sent takes credit once. A copy the receiver refused
    /// (<paramref name="refused"/>) matched nothing: what its patch copied is no longer counted as matched.
    /// </summary>
    private bool ForgetInFlight(uint file, uint index, bool refused = false)
    {
        lock (_inFlight)
        {
            if (!_inFlight.Remove(InFlightKey(file, index), out var copy)) return false;
            ReleaseCredit(copy);
            if (refused) Unmatch(copy);
            // A closing lane waits for its last shard to be acknowledged.
            if (_draining.Count > 0 && _draining.TryGetValue(copy.Lane, out var drained) && !CarriesShards(copy.Lane))
            {
                _draining.Remove(copy.Lane);
                drained.TrySetResult();
            }
            return true;
        }
    }

    /// <summary>A copy of a shard on its lane: the credit it holds, and the bytes its patch copied from the receiver's basis.</summary>
    private readonly record struct InFlightCopy(ushort Lane, int Credit, int Matched);

    private void ReleaseCredit(InFlightCopy copy)
    {
        if (copy.Credit > 0) _window.Release(copy.Credit);
    }

    /// <summary>A patch refused or lost with its lane made nothing: its copies, counted as matched when it was sent, are not.</summary>
    private void Unmatch(InFlightCopy copy)
    {
        if (copy.Matched > 0) Interlocked.Add(ref _bytesMatched, -copy.Matched);
    }

    /// <summary>Whether lane <paramref name="number"/> has shards in flight; the caller holds _inFlight's lock.</summary>
    private bool CarriesShards(ushort number)
    {
        foreach (var copy in _inFlight.Values)
            if (copy.Lane == number) return true;
        return false;
    }

    /// <summary>
    /// One lane: pull a shard, read it straight into this lane's buffer behind room for its header, hash it, and
    /// put header and payload on the wire in one send. The buffer is this lane's for its whole life: no per-shard allocation.
    /// If the lane dies, the shards it sent that were not yet acknowledged go back to the queue and a new lane replaces it.
    /// </summary>
    private async Task LaneAsync(ushort number)
    {
        ILaneConnection? connection = null;
        // Exactly one frame: a pooled array would round up to the next power of two and could double the lane's memory.
        byte[] buffer = GC.AllocateUninitializedArray<byte>(ShardHeader.Size + _options.ShardSize + FrameCipher.TagSize);
        // Compressed sessions: a second frame buffer the shard is packed into, when it packs.
        var packer = _packer;
        byte[]? packed = packer is null ? null : GC.AllocateUninitializedArray<byte>(ShardHeader.Size + packer.Bound + FrameCipher.TagSize);
        // Delta sessions: a frame buffer a changed shard's patch is written into, and its pieces, made at the first patch tried.
        byte[]? patched = null;
        List<(long Source, int At, int Length)>? pieces = null;
        FrameCipher? cipher = null;
        using var laneCancel = CancellationTokenSource.CreateLinkedTokenSource(_cts.Token);
        var cancellationToken = laneCancel.Token;
        bool counted = false;
        bool starting = true;
        Task? watch = null;
        // A shard taken from the scheduler but not yet registered as in flight: if the lane dies here it goes back.
        SenderFile? taken = null;
        int takenIndex = 0;
        bool takenAgain = false, takenWhole = false;
        try
        {
            connection = await ConnectAsync(ConnectionRole.Data, _session, number).ConfigureAwait(false);
            // The receiver never writes on a lane, so the end of its stream means the lane is dead, even while idle.
            watch = WatchLaneAsync(connection, laneCancel);
            cipher = _keys!.SenderToReceiver(SessionKeys.StreamOf(number));
            int tag = cipher is null ? 0 : FrameCipher.TagSize;
            lock (_lanes)
            {
                _lanes.Add(connection);
                _laneByNumber[number] = connection;
                if (_failure is not null) return;
            }
            Interlocked.Increment(ref _activeLanes);
            counted = true;
            // Counted as running first, then no longer as starting: the two never read zero together meanwhile.
            Interlocked.Decrement(ref _lanesStarting);
            starting = false;
            while (true)
            {
                if (TryRetire(ref counted))
                {
                    await RetireAsync(number, connection, cancellationToken).ConfigureAwait(false);
                    return;
                }
                if (!_scheduler.TryNext(out var file, out int shard, out bool retransmit, out bool whole))
                {
                    if (await _scheduler.WaitForWorkAsync(cancellationToken).ConfigureAwait(false)) continue;
                    break;
                }
                // A shard queued again whose file the receiver has committed meanwhile (from another copy) stays unsent,
                // as does one of a file left out since it was handed out.
                if ((retransmit && Volatile.Read(ref _filesById[file.Id]) is null) || file.Dropped) continue;
                int length = file.ShardLength(shard);
                (taken, takenIndex, takenAgain, takenWhole) = (file, shard, retransmit, whole);
                await _window.AcquireAsync(length, cancellationToken).ConfigureAwait(false);
                ulong digest;
                bool hole;
                try
                {
                    digest = file.Read(shard, buffer.AsSpan(ShardHeader.Size, length), retransmit, _holeDigests, out hole);
                }
                catch (SingularityException ex) when (!retransmit && file.Unopenable)
                {
                    taken = null;
                    Drop(file, length, ex);
                    continue;
                }
                catch (SingularityException ex) when (ex.Code == ErrorCode.SourceChanged && _receiverTakesWithdrawn)
                {
                    taken = null;
                    Withdraw(file, length, ex);
                    continue;
                }
                if (!retransmit && file.TryGetOffer(shard, out ulong held) && held == digest)
                {
                    taken = null;
                    _window.Release(length);
                    if (Keep(file, shard, length) && file.MarkSent(shard) is { } keptDigest) Seal(file, keptDigest);
                    continue;
                }
                // Encrypted, the digest stays out of the clear header: the tag authenticates the payload instead. A
                // hole carries no payload; encrypted, its tag still seals the header.
                byte flags = (byte)((retransmit ? ShardHeader.FlagRetransmit : 0) | (hole ? ShardHeader.FlagHole : 0));
                int carried = hole ? 0 : length, literal = length;
                byte[] frame = buffer;
                // Against the receiver's basis, a changed shard goes as a patch where that saves. A copy the receiver
                // asked for again goes whole, as its basis may no longer make the patch; one lost with its lane goes as
                // it went, or a lane lost with many patches in flight would send all their shards whole. A shard past
                // what the basis held (a log's new tail) is not looked through: what it holds is new, but where bytes
                // were inserted before it, as many as were inserted.
                if (!whole && !hole && file.Basis is { } basis && (long)shard * _options.ShardSize < basis.Covered)
                {
                    patched ??= GC.AllocateUninitializedArray<byte>(ShardHeader.Size + _options.ShardSize + FrameCipher.TagSize);
                    pieces ??= [];
                    int patchLength = basis.TryPatch(buffer.AsSpan(ShardHeader.Size, length), digest, patched.AsSpan(ShardHeader.Size, length - 1), pieces, out int carriedLiterally);
                    if (patchLength > 0) (frame, carried, flags, literal) = (patched, patchLength, (byte)(flags | ShardHeader.FlagPatched), carriedLiterally);
                }
                // Compressed too, a patch that saves less than half is weighed against the shard packed.
                if (packer is not null && !hole && !file.Incompressible && (frame == buffer || carried > length / 2))
                {
                    // Packed, the length field counts the packed bytes; the digest stays the shard's own.
                    int packedLength = await packer.TryPackAsync(buffer.AsMemory(ShardHeader.Size, length), packed.AsMemory(ShardHeader.Size, packer.Bound), cancellationToken).ConfigureAwait(false);
                    if (packedLength > 0 && (frame == buffer || packedLength < carried))
                        (frame, carried, flags, literal) = (packed!, packedLength, (byte)((flags & ~ShardHeader.FlagPatched) | ShardHeader.FlagCompressed), length);
                    else if (packedLength == 0) file.Incompressible = true;
                }
                new ShardHeader(_session.Tag, file.Id, (uint)shard, (long)shard * _options.ShardSize, frame == buffer ? length : carried, cipher is null ? digest : 0, flags)
                    .WriteTo(frame);
                cipher?.Seal(frame.AsSpan(ShardHeader.Size, carried), frame.AsSpan(ShardHeader.Size + carried, tag), frame.AsSpan(0, ShardHeader.Size));
                // A hole's header is all that travels, and a patch's few KiB (the receiver holds no more of it): a hole
                // holds no credit and a patch a 16th of its shard, or what it carries where that is more, the rest going
                // back now, so they move at the pace of their acknowledgements rather than a window of bytes they do
                // not carry per round trip, and no more than 16 windows of shards are in flight.
                int credit = hole ? 0 : (flags & ShardHeader.FlagPatched) != 0 ? Math.Max(carried, length / PatchesPerWindow) : length;
                int matched = length - literal;
                lock (_inFlight) _inFlight[InFlightKey(file.Id, (uint)shard)] = new(number, credit, matched);
                if (credit < length) _window.Release(length - credit);
                taken = null;
                // In flight from here, so a lane lost while it waits for the bandwidth limit requeues the shard with its credit.
                if (_bandwidth is null) await connection.WriteAsync(frame.AsMemory(0, ShardHeader.Size + carried + tag), cancellationToken).ConfigureAwait(false);
                else await _bandwidth.WriteAsync(connection, frame.AsMemory(0, ShardHeader.Size + carried + tag), cancellationToken).ConfigureAwait(false);
                Interlocked.Add(ref hole ? ref _bytesInHoles : ref _bytesSent, literal);
                // What a patch copied from the receiver's basis did not travel: matched, as a kept shard (until the
                // patch is refused, or lost with its lane).
                if (matched > 0) Interlocked.Add(ref _bytesMatched, matched);
                Interlocked.Add(ref _wireBytes, carried);
                if (file.MarkSent(shard) is { } fileDigest) Seal(file, fileDigest);
            }
            connection.CompleteWrites();
        }
        catch (TransferAbortedException ex) when (ex.Code == ErrorCode.ConnectionLost && connection is not null && _failure is null && !_closing)
        {
            GiveBack(taken, takenIndex, takenAgain, takenWhole);
            if (counted) { Interlocked.Decrement(ref _activeLanes); counted = false; }
            if (!await EndedMeanwhileAsync().ConfigureAwait(false)) FailOver(number, connection, ex);
        }
        catch (OperationCanceledException) when (connection is not null && !_cts.IsCancellationRequested && _failure is null && !_closing)
        {
            GiveBack(taken, takenIndex, takenAgain, takenWhole);
            if (counted) { Interlocked.Decrement(ref _activeLanes); counted = false; }
            if (!await EndedMeanwhileAsync().ConfigureAwait(false)) FailOver(number, connection, new TransferAbortedException(ErrorCode.ConnectionLost, "the lane closed or stalled"));
        }
        catch (Exception ex)
        {
            // A lane refused because the session just ended: the control connection carries the real reason.
            if (connection is null) await Task.WhenAny(_failed.Task, Task.Delay(TimeSpan.FromSeconds(1))).ConfigureAwait(false);
            Fail(ex);
        }
        finally
        {
            if (counted) Interlocked.Decrement(ref _activeLanes);
            if (starting) Interlocked.Decrement(ref _lanesStarting);
            await laneCancel.CancelAsync().ConfigureAwait(false);
            connection?.Abort();
            if (watch is not null) await watch.ConfigureAwait(false);
            cipher?.Dispose();
        }
    }

    /// <summary>
    /// Claims one of the lanes the growth asked to close, if any is left to close. The claim and the lane count change
    /// together, so the last lane never closes; a close that would take it is dropped.
    /// </summary>
    private bool TryRetire(ref bool counted)
    {
        if (Volatile.Read(ref _lanesToRetire) <= 0) return false;
        lock (_retireLock)
        {
            if (_lanesToRetire <= 0) return false;
            if (Volatile.Read(ref _activeLanes) <= 1)
            {
                _lanesToRetire = 0;
                return false;
            }
            _lanesToRetire--;
            Interlocked.Decrement(ref _activeLanes);
            counted = false;
            return true;
        }
    }

    /// <summary>
    /// Closes a lane the growth no longer wants: its end of stream follows its last shard, and it is torn down only once
    /// every shard it carried is acknowledged, since tearing down discards what the socket has not delivered yet.
    /// </summary>
    private async Task RetireAsync(ushort number, ILaneConnection connection, CancellationToken lane)
    {
        // It stays known to the stall watchdog: if its last shards are never acknowledged, the watchdog aborts it and
        // they are requeued below.
        connection.CompleteWrites();
        Task drained;
        lock (_inFlight)
        {
            if (_drainsReleased || !CarriesShards(number)) return;
            var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _draining[number] = signal;
            drained = signal.Task;
        }
        try
        {
            await drained.WaitAsync(lane).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!_cts.IsCancellationRequested && _failure is null && !_closing)
        {
            // The lane died before its last shards were acknowledged: they go to the other lanes. No replacement:
            // this lane was closing anyway.
            Requeue(number);
        }
        catch (OperationCanceledException)
        {
            // The session is ending; its own path reports why.
        }
        finally
        {
            // Already gone when the last acknowledgement woke it.
            lock (_inFlight) _draining.Remove(number);
        }
    }

    /// <summary>
    /// Once every file is committed, closing lanes stop waiting for acknowledgements: what they still carry are copies
    /// of shards already delivered, and a lane that died silently meanwhile would hold the session open forever, since
    /// the stall watchdog stops with the last commit.
    /// </summary>
    private void ReleaseDrainingLanes()
    {
        lock (_inFlight)
        {
            _drainsReleased = true;
            foreach (var drained in _draining.Values) drained.TrySetResult();
            _draining.Clear();
        }
    }

    /// <summary>A shard a dying lane took but never sent goes back as what it was: a first send or a retransmission, whole or not.</summary>
    private void GiveBack(SenderFile? file, int index, bool again, bool whole)
    {
        if (file is null) return;
        if (again) _scheduler.Retransmit(file, index, whole);
        else _scheduler.Return(file, index);
    }

    private async Task WatchLaneAsync(ILaneConnection connection, CancellationTokenSource lane)
    {
        try
        {
            byte[] one = new byte[1];
            await connection.ReadExactlyOrEndAsync(one, lane.Token).ConfigureAwait(false);
        }
        catch (Exception) { }
        if (!_closing) await lane.CancelAsync().ConfigureAwait(false);
    }

    /// <summary>Aborts the lanes that hold unacknowledged shards: called when acknowledgements stopped coming for too long.</summary>
    private void AbortStalledLanes()
    {
        HashSet<ushort> stalled;
        lock (_inFlight) stalled = [.. _inFlight.Values.Select(copy => copy.Lane)];
        lock (_lanes)
        {
            foreach (var (number, connection) in _laneByNumber)
                if (stalled.Contains(number)) connection.Abort();
        }
    }

    /// <summary>
    /// Whether the session ended within a moment of a lane closing: a receiver that ends a session tells why on the
    /// control connection and then closes the lanes, so a lane may see its end first. The reason, not a lost lane, is
    /// then what the user reads.
    /// </summary>
    private async Task<bool> EndedMeanwhileAsync()
    {
        await Task.WhenAny(_failed.Task, Task.Delay(TimeSpan.FromMilliseconds(200))).ConfigureAwait(false);
        return _failure is not null;
    }

    /// <summary>Requeues what a dead lane had in flight and opens a replacement, within the session's allowance.</summary>
    private void FailOver(ushort number, ILaneConnection connection, TransferAbortedException reason)
    {
        connection.Abort();
        lock (_lanes) _laneByNumber.Remove(number);
        int requeued = Requeue(number);
        Interlocked.Add(ref _lanesLost, 1);
        _events?.Invoke($"lane {number} lost ({reason.Message}); {requeued} shards requeued");
        if (_nextLane >= _options.Limits.MaxLanes || Volatile.Read(ref _lanesLost) > 2 * _options.Lanes + 4)
        {
            // A replacement still connecting carries on; if it cannot connect, its own failure ends the session.
            if (Volatile.Read(ref _activeLanes) == 0 && Volatile.Read(ref _lanesStarting) == 0)
                Fail(new TransferAbortedException(ErrorCode.ConnectionLost, $"every lane to {Where} failed: {reason.Message}", reason));
            return;
        }
        // A short pause first: when the whole path failed, the control connection reports it meanwhile and no
        // replacement is started into a dead session.
        _ = ReplaceLaneSoonAsync();
    }

    /// <summary>Sends again, on other lanes, the shards a lost lane carried that were not acknowledged; returns how many.</summary>
    private int Requeue(ushort number)
    {
        var lost = new List<long>();
        lock (_inFlight)
        {
            foreach (var (key, copy) in _inFlight)
                if (copy.Lane == number) lost.Add(key);
            // Requeued, each takes credit again when it is sent, and its patch counts as matched again then.
            foreach (long key in lost)
            {
                if (!_inFlight.Remove(key, out var copy)) continue;
                ReleaseCredit(copy);
                Unmatch(copy);
            }
        }
        foreach (long key in lost)
        {
            uint id = (uint)(key >> 32), index = (uint)key;
            // A file committed meanwhile needs nothing more, and its state is gone.
            if (Volatile.Read(ref _filesById[id]) is not { } file) continue;
            Interlocked.Increment(ref _retransmits);
            _scheduler.Retransmit(file, (int)index, whole: false);
        }
        return lost.Count;
    }

    private async Task ReplaceLaneSoonAsync()
    {
        try { await Task.Delay(TimeSpan.FromMilliseconds(250), _cts.Token).ConfigureAwait(false); }
        catch (OperationCanceledException) { return; }
        if (_failure is null && !_closing) StartLane();
    }

    private void AbortLanes()
    {
        lock (_lanes)
        {
            foreach (var lane in _lanes) lane.Abort();
        }
    }
}
