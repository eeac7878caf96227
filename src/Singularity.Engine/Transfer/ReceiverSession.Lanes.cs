using System.Buffers;
using System.Buffers.Binary;
using Singularity.Engine.Integrity;
using Singularity.Engine.Protocol;
using Singularity.Engine.Storage;
using Singularity.Engine.Transport;

namespace Singularity.Engine.Transfer;

internal sealed partial class ReceiverSession
{
    private bool _joinClosed;

    /// <summary>Attaches a data lane; false if the session does not take more lanes.</summary>
    public bool TryJoin(ILaneConnection connection, out string? reason)
    {
        lock (_laneConnections)
        {
            reason = null;
            if (_joinClosed || _failure is not null) { reason = "the session is over"; return false; }
            // Lanes may arrive before OpenSession is read; until then the protocol limit caps them.
            int allowed = _opened ? _lanesAllowed : _limits.MaxLanes;
            if (_lanesJoined >= allowed) { reason = $"the session already has its {allowed} lanes"; return false; }
            _lanesJoined++;
            _laneConnections.Add(connection);
            _laneTasks.Add(Task.Run(() => LaneLoopAsync(connection)));
            return true;
        }
    }

    /// <summary>Reads shard after shard: validate the header against the session, read the payload into this lane's one buffer, verify, write at its offset.</summary>
    private async Task LaneLoopAsync(ILaneConnection connection)
    {
        byte[] header = new byte[ShardHeader.Size];
        byte[]? payload = null;
        var cancellationToken = _cts.Token;
        try
        {
            while (await connection.ReadExactlyOrEndAsync(header, cancellationToken).ConfigureAwait(false))
            {
                if (!ShardHeader.TryRead(header, out var shard, out string? error))
                    throw new ProtocolViolationException(error!);
                var file = Validate(shard);
                // Rented at the first shard: a lane may join before OpenSession fixed the shard size.
                payload ??= ArrayPool<byte>.Shared.Rent(_shardSize);
                Memory<byte> data = payload.AsMemory(0, shard.PayloadLength);
                if (!await connection.ReadExactlyOrEndAsync(data, cancellationToken).ConfigureAwait(false))
                    throw new TransferAbortedException(ErrorCode.ConnectionLost, "lane closed between a shard header and its payload");
                if (Digests.Shard(data.Span) != shard.PayloadDigest)
                {
                    Reject(file, shard.ShardIndex);
                    continue;
                }
                Store(file, shard, data.Span);
            }
        }
        catch (Exception ex)
        {
            Fail(ex);
        }
        finally
        {
            if (payload is not null) ArrayPool<byte>.Shared.Return(payload);
        }
    }

    private PartialFile Validate(in ShardHeader shard)
    {
        if (shard.SessionTag != Id.Tag) throw new ProtocolViolationException("shard belongs to another session");
        if (!_manifestAccepted) throw new ProtocolViolationException("shard arrived before the manifest was accepted");
        var file = FileById(shard.FileId);
        if (shard.ShardIndex >= (uint)file.ShardCount)
            throw new ProtocolViolationException($"shard {shard.ShardIndex} is beyond the {file.ShardCount} shards of '{file.Entry.Path}'");
        if (shard.Offset != (long)shard.ShardIndex * _shardSize)
            throw new ProtocolViolationException($"shard {shard.ShardIndex} of '{file.Entry.Path}' claims offset {shard.Offset}");
        if (shard.PayloadLength != file.ExpectedLength(shard.ShardIndex))
            throw new ProtocolViolationException($"shard {shard.ShardIndex} of '{file.Entry.Path}' has {shard.PayloadLength} bytes, expected {file.ExpectedLength(shard.ShardIndex)}");
        return file;
    }

    private void Store(PartialFile file, in ShardHeader shard, ReadOnlySpan<byte> data)
    {
        bool last;
        try
        {
            if (!file.TryClaim(shard.ShardIndex, ref _openFiles, _limits.MaxOpenFiles, _options.Transfer.Durable, out var handle))
                throw new ProtocolViolationException($"shard {shard.ShardIndex} of '{file.Entry.Path}' was sent twice");
            RandomAccess.Write(handle, data, shard.Offset);
            last = file.CompleteShard(shard.ShardIndex, shard.PayloadDigest, ref _openFiles, _options.Transfer.Durable);
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
