using System.Buffers.Binary;
using Singularity.Engine.Integrity;
using Singularity.Engine.Protocol;
using Singularity.Engine.Security;
using Singularity.Engine.Storage;
using Singularity.Engine.Transport;

namespace Singularity.Engine.Transfer;

internal sealed partial class ReceiverSession
{
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
            // Lanes may arrive before OpenSession is read; until then the protocol limit caps them.
            // Twice the declared lanes: a replacement may arrive before this side has noticed that the lane it
            // replaces is dead (a stalled path can keep a dead lane open here for a long time).
            int allowed = _opened ? Math.Min(2 * _lanesAllowed, _limits.MaxLanes) : _limits.MaxLanes;
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
        byte[] header = new byte[ShardHeader.Size];
        byte[]? payload = null;
        var cancellationToken = _cts.Token;
        using var cipher = Keys.SenderToReceiver(SessionKeys.StreamOf(lane));
        int tag = cipher is null ? 0 : FrameCipher.TagSize;
        try
        {
            while (await connection.ReadExactlyOrEndAsync(header, cancellationToken).ConfigureAwait(false))
            {
                Touch();
                if (!ShardHeader.TryRead(header, out var shard, out string? error))
                    throw new ProtocolViolationException(error!);
                var file = Validate(shard);
                // Made at the first shard (a lane may join before OpenSession fixed the shard size), exactly one frame
                // long: a pooled array would round up to the next power of two and could double the lane's memory.
                payload ??= GC.AllocateUninitializedArray<byte>(_shardSize + tag);
                Memory<byte> frame = payload.AsMemory(0, shard.PayloadLength + tag);
                if (!await connection.ReadExactlyOrEndAsync(frame, cancellationToken).ConfigureAwait(false))
                    throw new TransferAbortedException(ErrorCode.ConnectionLost, "lane closed between a shard header and its payload");
                var data = frame.Span[..shard.PayloadLength];
                // Encrypted: the tag proves header and payload intact and the digest field is zero on the wire, so the
                // digest is computed here. Plain: the digest in the header is what the payload must match.
                // A failed tag means the header may be forged as well, so its file and shard cannot be named in a
                // NACK: the lane is dropped and the sender resends everything it had in flight there.
                if (cipher is not null && !cipher.TryOpen(data, frame.Span[shard.PayloadLength..], header))
                    throw new ProtocolViolationException("a shard failed authentication: it was altered on the way");
                ulong digest = Digests.Shard(data);
                if (cipher is null && digest != shard.PayloadDigest)
                {
                    Reject(file, shard.ShardIndex);
                    continue;
                }
                Store(file, shard, data, digest);
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
            lock (_laneConnections) _lanesActive--;
        }
    }

    /// <summary>Errors that concern only the bytes of one lane; storage and integrity failures end the session.</summary>
    private bool IsLaneLocal(Exception ex) =>
        _failure is null && ex is TransferAbortedException { Code: ErrorCode.ConnectionLost } or ProtocolViolationException { Code: ErrorCode.ProtocolViolation };

    private PartialFile Validate(in ShardHeader shard)
    {
        if (shard.SessionTag != Id.Tag) throw new ProtocolViolationException("shard belongs to another session");
        var file = FileById(shard.FileId);
        if (shard.ShardIndex >= (uint)file.ShardCount)
            throw new ProtocolViolationException($"shard {shard.ShardIndex} is beyond the {file.ShardCount} shards of '{file.Entry.Path}'");
        if (shard.Offset != (long)shard.ShardIndex * _shardSize)
            throw new ProtocolViolationException($"shard {shard.ShardIndex} of '{file.Entry.Path}' claims offset {shard.Offset}");
        if (shard.PayloadLength != file.ExpectedLength(shard.ShardIndex))
            throw new ProtocolViolationException($"shard {shard.ShardIndex} of '{file.Entry.Path}' has {shard.PayloadLength} bytes, expected {file.ExpectedLength(shard.ShardIndex)}");
        return file;
    }

    private void Store(PartialFile file, in ShardHeader shard, ReadOnlySpan<byte> data, ulong digest)
    {
        bool last;
        try
        {
            // A shard already claimed is a copy the sender resent after losing the lane of the first: it is acknowledged
            // again and not written twice.
            last = false;
            if (file.TryClaim(shard.ShardIndex, ref _openFiles, _limits.MaxOpenFiles, out var handle))
            {
                RandomAccess.Write(handle, data, shard.Offset);
                last = file.CompleteShard(shard.ShardIndex, digest, ref _openFiles);
            }
        }
        catch (Exception ex) when (ex is not SingularityException)
        {
            throw StorageErrors.Describe(ex, $"writing '{file.Entry.Path}'");
        }
        Span<byte> ack = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(ack, shard.FileId);
        BinaryPrimitives.WriteUInt32LittleEndian(ack[4..], shard.ShardIndex);
        _control!.PostBatchItem(ControlMessageType.ShardAcks, ack);
        if (last) TryCommit(file);
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
