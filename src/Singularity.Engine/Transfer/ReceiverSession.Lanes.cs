using System.Buffers.Binary;
using System.Diagnostics;
using Singularity.Engine.Compression;
using Singularity.Engine.Integrity;
using Singularity.Engine.Protocol;
using Singularity.Engine.Security;
using Singularity.Engine.Storage;
using Singularity.Engine.Transport;

namespace Singularity.Engine.Transfer;

internal sealed partial class ReceiverSession
{
    // Files whose last shard was written and which are being flushed at once, at most: enough for a file system to
    // commit many together, few enough to keep the files open for it bounded.
    private const int FlushesInFlight = 16;
    private readonly SemaphoreSlim _flushSlots = new(FlushesInFlight, FlushesInFlight);
    private readonly FlushWorkers _flushWorkers = new(FlushesInFlight);
    // A moving average of how long this session's flushes take, and the average at which they are handed on.
    private long _flushTicks;
    private readonly long _slowFlushTicks;
    private bool _joinClosed;
    private int _lanesActive;
    private int _lanesLost;
    private readonly HashSet<ushort> _laneNumbers = [];

    /// <summary>Attaches a data lane; false if the session does not take more lanes.</summary>
    public bool TryJoin(ILaneConnection connection, ushort lane, out string? reason)
    {
        lock (_laneConnections)
        {
            reason = null;
            // Each lane number joins once: it names the lane's nonce stream, which must never be used twice.
            if (lane >= _limits.MaxLanes) { reason = $"lane {lane} is out of range"; return false; }
            if (!_laneNumbers.Add(lane)) { reason = $"lane {lane} already joined"; return false; }
            if (_joinClosed || _failure is not null) { reason = "the session is over"; return false; }
            // Lanes may arrive before OpenSession is read; until then the protocol limit caps them. The declared
            // count is set under this lock, so no lane slips in between OpenSession's count of them and its limit.
            // Twice the declared lanes: a replacement may arrive before this side has noticed that the lane it
            // replaces is dead (a stalled path can keep a dead lane open here for a long time).
            int allowed = _lanesAllowed > 0 ? Math.Min(2 * _lanesAllowed, _limits.MaxLanes) : _limits.MaxLanes;
            if (_lanesActive >= allowed) { reason = $"the session already has its {allowed} lanes"; return false; }
            _lanesActive++;
            _laneConnections.Add(connection);
            _laneTasks.Add(Task.Run(() => LaneLoopAsync(connection, lane)));
            return true;
        }
    }

    /// <summary>Reads shard after shard: validate the header against the session, read the payload into this lane's one buffer, verify, write at its offset.</summary>
    private async Task LaneLoopAsync(ILaneConnection connection, ushort lane)
    {
        var frames = new FrameReader(connection, ShardHeader.Size);
        var cancellationToken = _cts.Token;
        using var cipher = Keys.SenderToReceiver(SessionKeys.StreamOf(lane));
        int tag = cipher is null ? 0 : FrameCipher.TagSize;
        // Compressed sessions: the lane's own buffer to unpack into, and its decompressor, made at the first packed shard.
        byte[]? unpacked = null;
        ShardUnpacker? unpacker = null;
        // Delta sessions: a slice of the basis at a time for a patch's copies, and its hash, made at the first patched shard.
        byte[]? basisSlice = null;
        System.IO.Hashing.XxHash3? patchHash = null;
        try
        {
            while (await frames.TryReadHeaderAsync(cancellationToken).ConfigureAwait(false))
            {
                Touch();
                if (!ShardHeader.TryRead(frames.Header, out var shard, out string? error))
                    throw new ProtocolViolationException(error!);
                var file = Validate(shard);
                // Grown at the first shard, to one frame: a lane may join before OpenSession fixed the shard size.
                frames.Reserve(_shardSize + tag);
                // A hole's bytes are zeros and do not travel: only its tag follows, in an encrypted session.
                var frame = await frames.ReadFrameAsync(shard.CarriedLength + tag, cancellationToken).ConfigureAwait(false);
                var header = frame.Span[..ShardHeader.Size];
                var body = frame.Span[ShardHeader.Size..];
                var data = body[..shard.CarriedLength];
                // Encrypted: the tag proves header and payload intact and the digest field is zero on the wire, so the
                // digest is computed here. Plain: the digest in the header is what the payload must match.
                // A failed tag means the header may be forged as well, so its file and shard cannot be named in a
                // NACK: the lane is dropped and the sender resends everything it had in flight there.
                if (cipher is not null && !cipher.TryOpen(data, body[shard.CarriedLength..], header))
                    throw new ProtocolViolationException("a shard failed authentication: it was altered on the way");
                if (file == Released || file == Failed)
                {
                    Acknowledge(shard);
                    continue;
                }
                if (shard.IsPatched)
                {
                    int length = file.ExpectedLength(shard.ShardIndex);
                    // Plain, the bytes may have been damaged on the way, and are asked for again; encrypted, the tag
                    // proved them as sent, so the sender made a patch that cannot make the shard.
                    if (!ShardPatch.TryCheck(data, length, file.PatchBlockSize, file.PatchCoverage, out ulong expected, out int pieces, out string? malformed) || (cipher is null && expected != shard.PayloadDigest))
                    {
                        if (cipher is not null) throw new ProtocolViolationException($"shard {shard.ShardIndex} of '{file.Entry.Path}' is a patch that {malformed}");
                        Reject(file, shard.ShardIndex);
                        continue;
                    }
                    basisSlice ??= GC.AllocateUninitializedArray<byte>(PatchSlice);
                    patchHash ??= new System.IO.Hashing.XxHash3();
                    if (Store(file, shard, data, expected, new Patching(pieces, basisSlice, patchHash))) await FinishFileAsync(file, cancellationToken).ConfigureAwait(false);
                    continue;
                }
                if (shard.IsCompressed)
                {
                    int length = file.ExpectedLength(shard.ShardIndex);
                    unpacker ??= new ShardUnpacker(_limits.MaxShardSize);
                    unpacked ??= GC.AllocateUninitializedArray<byte>(_shardSize);
                    if (!unpacker.TryUnpack(data, unpacked.AsSpan(0, length)))
                    {
                        // Plain, the bytes may have been damaged on the way, and are asked for again; encrypted, the tag
                        // proved them as sent, so the sender packed something else than the shard.
                        if (cipher is not null) throw new ProtocolViolationException($"shard {shard.ShardIndex} of '{file.Entry.Path}' does not unpack to its {length} bytes");
                        Reject(file, shard.ShardIndex);
                        continue;
                    }
                    data = unpacked.AsSpan(0, length);
                }
                ulong digest = shard.IsHole ? file.HoleDigest(_holeDigests!, shard.ShardIndex) : Digests.Shard(data);
                // A hole's header passed its check, so a digest other than its zeros' is the sender's fault, not the link's.
                if (cipher is null && shard.IsHole && digest != shard.PayloadDigest)
                    throw new ProtocolViolationException($"hole shard {shard.ShardIndex} of '{file.Entry.Path}' carries a digest that is not that of zeros");
                if (cipher is null && digest != shard.PayloadDigest)
                {
                    Reject(file, shard.ShardIndex);
                    continue;
                }
                if (Store(file, shard, data, digest)) await FinishFileAsync(file, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (IsLaneLocal(ex))
        {
            // A broken lane costs only itself: the sender requeues what it had in flight on another lane.
            connection.Abort();
            if (Interlocked.Increment(ref _lanesLost) > 2 * _limits.MaxLanes)
                Fail(new TransferAbortedException(ErrorCode.ConnectionLost, $"too many lanes failed; the last: {ex.Message}", ex));
        }
        catch (Exception ex)
        {
            Fail(ex);
        }
        finally
        {
            unpacker?.Dispose();
            lock (_laneConnections) _lanesActive--;
        }
    }

    /// <summary>Errors that concern only the bytes of one lane; storage and integrity failures end the session.</summary>
    private bool IsLaneLocal(Exception ex) =>
        _failure is null && ex is TransferAbortedException { Code: ErrorCode.ConnectionLost } or ProtocolViolationException { Code: ErrorCode.ProtocolViolation };

    /// <summary>The shard's file; <see cref="Released"/> for a file already committed, whose shard is read and acknowledged but not written.</summary>
    private PartialFile Validate(in ShardHeader shard)
    {
        if (shard.SessionTag != Id.Tag) throw new ProtocolViolationException("shard belongs to another session");
        if (shard.IsHole && _holeDigests is null) throw new ProtocolViolationException("a hole shard in a session that did not ask for holes");
        if (shard.IsCompressed && (!_compressed || shard.IsHole)) throw new ProtocolViolationException(shard.IsHole ? "a shard both a hole and compressed" : "a compressed shard in a session that did not ask for compression");
        if (shard.IsPatched && (shard.IsHole || shard.IsCompressed)) throw new ProtocolViolationException(shard.IsHole ? "a shard both a hole and patched" : "a shard both compressed and patched");
        var file = SlotOf(shard.FileId);
        if (file == Released || file == Failed)
        {
            // A copy the sender resent after losing the lane of the first, too late: the file is committed and its
            // entry gone, so only the bounds every shard keeps are checked.
            if (shard.PayloadLength <= 0 || shard.PayloadLength > _shardSize || shard.Offset != (long)shard.ShardIndex * _shardSize)
                throw new ProtocolViolationException($"shard {shard.ShardIndex} of file id {shard.FileId} is malformed");
            return file;
        }
        if (shard.ShardIndex >= (uint)file.ShardCount)
            throw new ProtocolViolationException($"shard {shard.ShardIndex} is beyond the {file.ShardCount} shards of '{file.Entry.Path}'");
        if (shard.IsPatched && file.PatchCoverage == 0)
            throw new ProtocolViolationException($"shard {shard.ShardIndex} of '{file.Entry.Path}' is a patch, and no sums of a basis were sent for it");
        if (shard.Offset != (long)shard.ShardIndex * _shardSize)
            throw new ProtocolViolationException($"shard {shard.ShardIndex} of '{file.Entry.Path}' claims offset {shard.Offset}");
        // Packed or patched, a shard must be shorter than itself: never longer than the lane's buffer, whatever it makes.
        bool shorter = shard.IsCompressed || shard.IsPatched;
        if (shorter ? shard.PayloadLength >= file.ExpectedLength(shard.ShardIndex) : shard.PayloadLength != file.ExpectedLength(shard.ShardIndex))
            throw new ProtocolViolationException($"shard {shard.ShardIndex} of '{file.Entry.Path}' has {shard.PayloadLength} bytes{(shard.IsCompressed ? " packed" : shard.IsPatched ? " patched" : "")}, expected {(shorter ? "fewer than " : "")}{file.ExpectedLength(shard.ShardIndex)}");
        return file;
    }

    /// <summary>
    /// Writes a shard at its offset and acknowledges it; true if it was the file's last, which the caller then
    /// finishes. A whole shard was verified already. A patch (<paramref name="patch"/>: <paramref name="data"/> is the
    /// patch, <paramref name="digest"/> the shard's as the patch carries it) is written from the basis (the version at
    /// the file's name, which its sums were gathered from) and its literal bytes, hashing what is written: where that
    /// is not the shard's digest (the basis changed or went since its sums were sent), the claim is given back and the
    /// shard asked for again, which the sender then sends whole.
    /// </summary>
    private bool Store(PartialFile file, in ShardHeader shard, ReadOnlySpan<byte> data, ulong digest, Patching? patch = null)
    {
        bool last = false;
        try
        {
            // A shard already claimed is a copy the sender resent after losing the lane of the first: it is acknowledged
            // again and not written twice; but while a patch of it is being written, whose outcome answers for it.
            if (file.TryClaim(shard.ShardIndex, out var handle, out bool beingPatched, patch: patch is not null))
            {
                if (patch is { } patching)
                {
                    if (WritePatched(file, handle, shard.Offset, data, patching) != digest)
                    {
                        file.ReleaseClaim(shard.ShardIndex);
                        Reject(file, shard.ShardIndex);
                        return false;
                    }
                }
                // Sparse: a hole is punched (a resumed partial may hold old bytes there), and long runs of zeros too.
                else if (shard.IsHole) SparseFiles.Zero(handle, shard.Offset, shard.PayloadLength);
                else if (_holeDigests is not null) SparseFiles.WriteLeavingHoles(handle, data, shard.Offset);
                else RandomAccess.Write(handle, data, shard.Offset);
                last = file.CompleteShard(shard.ShardIndex, digest);
            }
            else if (beingPatched) return false;
        }
        catch (Exception ex) when (ex is not SingularityException)
        {
            var described = StorageErrors.Describe(ex, $"writing '{file.Entry.Path}'");
            // A file that could not even be opened ends alone; one that failed part way ends the session.
            if (!file.OpenFailed || !StorageErrors.ConcernsOneEntry(ex)) throw described;
            FailFile(file, described);
        }
        Acknowledge(shard);
        return last;
    }

    /// <summary>Bytes of the basis read at a time for a patch's copies: a lane holds one such slice.</summary>
    private const int PatchSlice = 64 << 10;

    /// <summary>A checked patch's count of pieces, and the lane's slice of the basis and hash to make its shard with.</summary>
    private readonly record struct Patching(int Pieces, byte[] Slice, System.IO.Hashing.XxHash3 Hash);

    /// <summary>The digest of what a patch wrote at <paramref name="offset"/>; null where the basis could not be read (gone, replaced by what is not a regular file, or shorter than a copy).</summary>
    private ulong? WritePatched(PartialFile file, Microsoft.Win32.SafeHandles.SafeFileHandle handle, long offset, ReadOnlySpan<byte> patch, Patching patching)
    {
        var (pieces, slice, hash) = patching;
        hash.Reset();
        Microsoft.Win32.SafeHandles.SafeFileHandle? basis = null;
        try
        {
            int literal = ShardPatch.LiteralsAt(pieces);
            long at = offset;
            for (int i = 0; i < pieces; i++)
            {
                var (source, length) = ShardPatch.Piece(patch, i);
                if (source == ShardPatch.Literal)
                {
                    Write(patch.Slice(literal, length));
                    literal += length;
                    continue;
                }
                basis ??= BasisSeed.Open(file.FinalPath);
                if (basis is null) return null;
                for (int done = 0; done < length;)
                {
                    int read = ReadBasis(basis, slice.AsSpan(0, Math.Min(slice.Length, length - done)), source + done);
                    if (read <= 0) return null;
                    Write(slice.AsSpan(0, read));
                    done += read;
                }
            }
            return hash.GetCurrentHashAsUInt64();

            void Write(ReadOnlySpan<byte> bytes)
            {
                hash.Append(bytes);
                if (_holeDigests is not null) SparseFiles.WriteLeavingHoles(handle, bytes, at);
                else RandomAccess.Write(handle, bytes, at);
                at += bytes.Length;
            }
        }
        finally
        {
            basis?.Dispose();
        }

        static int ReadBasis(Microsoft.Win32.SafeHandles.SafeFileHandle basis, Span<byte> into, long at)
        {
            try
            {
                return RandomAccess.Read(basis, into, at);
            }
            catch (IOException)
            {
                return -1;
            }
        }
    }

    private void Acknowledge(in ShardHeader shard)
    {
        Span<byte> ack = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(ack, shard.FileId);
        BinaryPrimitives.WriteUInt32LittleEndian(ack[4..], shard.ShardIndex);
        _control!.PostBatchItem(ControlMessageType.ShardAcks, ack);
    }

    /// <summary>
    /// Flushes a file whose last shard was written, then commits it if its seal is in. Flushing to disk can take
    /// milliseconds per file: once flushes in this session take <see cref="ReceiverOptions.SlowFlush"/> or more on
    /// average, the lane hands them to the session's <see cref="FlushWorkers"/> and goes on receiving, and several
    /// flushes in flight let the file system commit them together. When <see cref="FlushesInFlight"/> of this
    /// session are running the lane waits, so the files being flushed stay few. A quick flush (no fsync, or
    /// memory-backed storage) is cheaper done here than handed on.
    /// </summary>
    private async Task FinishFileAsync(PartialFile file, CancellationToken cancellationToken)
    {
        await _flushSlots.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (!(FlushesAreSlow && HandedToFlushWorkers(() => FinishAndCommit(file)))) FinishAndCommit(file);
    }

    private bool FlushesAreSlow => Volatile.Read(ref _flushTicks) >= _slowFlushTicks;

    /// <summary>Hands <paramref name="work"/> to the session's flush threads; false if no thread could be started, and the caller must see to it.</summary>
    private bool HandedToFlushWorkers(Action work)
    {
        try
        {
            _flushWorkers.Run(work);
            return true;
        }
        catch (Exception)
        {
            return false;
        }
    }

    /// <summary>The flush and commit of <see cref="FinishFileAsync"/>; gives back its slot and never throws: a failure ends the session.</summary>
    private void FinishAndCommit(PartialFile file)
    {
        try
        {
            // A failed session abandons its files: their flush is left to that, and is not worth waiting for here.
            if (_failure is not null) return;
            long start = Stopwatch.GetTimestamp();
            try
            {
                file.FinishWriting();
            }
            catch (Exception ex) when (ex is not SingularityException)
            {
                throw StorageErrors.Describe(ex, $"writing '{file.Entry.Path}'");
            }
            // A moving average over about the last eight files; concurrent updates may lose one, which is harmless.
            long ticks = Volatile.Read(ref _flushTicks);
            Volatile.Write(ref _flushTicks, ticks + (Stopwatch.GetTimestamp() - start - ticks) / 8);
            TryCommit(file);
        }
        catch (Exception ex)
        {
            Fail(ex);
        }
        finally
        {
            _flushSlots.Release();
        }
    }

    /// <summary>Waits until no flush handed on by a lane is running; call once the lanes have ended.</summary>
    private async Task WhenFlushesEndAsync()
    {
        for (int slot = 0; slot < FlushesInFlight; slot++) await _flushSlots.WaitAsync().ConfigureAwait(false);
        _flushSlots.Release(FlushesInFlight);
        _flushWorkers.Dispose();
    }

    /// <summary>Asks for a shard again after a digest mismatch; too many failures of one shard end the session instead of looping.</summary>
    private void Reject(PartialFile file, uint index)
    {
        int failures;
        lock (_failures)
        {
            _failures.TryGetValue((file.Id, index), out failures);
            _failures[(file.Id, index)] = ++failures;
            if (_failures.Count > 65536) throw new IntegrityException("too many shards failed verification; the link corrupts data");
        }
        if (failures > _limits.MaxShardRetries)
            throw new IntegrityException($"shard {index} of '{file.Entry.Path}' failed verification {failures} times; the link or the source is corrupting data");
        Span<byte> nack = stackalloc byte[12];
        BinaryPrimitives.WriteUInt32LittleEndian(nack, file.Id);
        BinaryPrimitives.WriteUInt32LittleEndian(nack[4..], index);
        BinaryPrimitives.WriteUInt16LittleEndian(nack[8..], (ushort)ErrorCode.IntegrityFailure);
        BinaryPrimitives.WriteUInt16LittleEndian(nack[10..], 0);
        _control!.Post(ControlMessageType.ShardNack, nack);
    }
}
