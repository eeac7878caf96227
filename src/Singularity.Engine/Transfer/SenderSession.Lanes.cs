using System.Buffers;
using System.Buffers.Binary;
using Singularity.Engine.Protocol;
using Singularity.Engine.Transport;

namespace Singularity.Engine.Transfer;

internal sealed partial class SenderSession
{
    private readonly List<ILaneConnection> _lanes = [];

    /// <summary>Opens a connection and completes the hello exchange, turning a refusal into a one-line reason.</summary>
    private async Task<ILaneConnection> ConnectAsync(ConnectionRole role, SessionId session, ushort lane)
    {
        var connection = await _transport.ConnectAsync(_url.Host, _url.Port, _cts.Token).ConfigureAwait(false);
        try
        {
            byte[] hello = new byte[Hello.Size];
            new Hello(role, session, lane).WriteTo(hello);
            await connection.WriteAsync(hello, _cts.Token).ConfigureAwait(false);
            byte[] reply = new byte[HelloReply.Size];
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_cts.Token);
            timeout.CancelAfter(_options.HandshakeTimeout);
            bool answered;
            try
            {
                answered = await connection.ReadExactlyOrEndAsync(reply, timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!_cts.IsCancellationRequested)
            {
                throw new TransferAbortedException(ErrorCode.ProtocolViolation, $"{_url} did not answer the handshake; is it a Singularity receiver?");
            }
            catch (TransferAbortedException)
            {
                throw new TransferAbortedException(ErrorCode.ProtocolViolation, $"{_url} closed the connection during the handshake; is it a Singularity receiver of the same version?");
            }
            if (!answered)
                throw new TransferAbortedException(ErrorCode.ProtocolViolation, $"{_url} closed the connection during the handshake; is it a Singularity receiver of the same version?");
            if (!HelloReply.TryRead(reply, out var answer, out string? error))
                throw new TransferAbortedException(ErrorCode.ProtocolViolation, $"{_url}: {error}");
            if (answer.Status != ErrorCode.None)
            {
                byte[] length = new byte[2];
                string reason = answer.Status.ToString();
                if (await connection.ReadExactlyOrEndAsync(length, timeout.Token).ConfigureAwait(false))
                {
                    int size = BinaryPrimitives.ReadUInt16LittleEndian(length);
                    if (size <= HelloReply.MaxReasonBytes)
                    {
                        byte[] text = new byte[size];
                        if (size == 0 || await connection.ReadExactlyOrEndAsync(text, timeout.Token).ConfigureAwait(false))
                            reason = System.Text.Encoding.UTF8.GetString(text);
                    }
                }
                throw new TransferAbortedException(answer.Status, $"the receiver refused the connection: {reason}");
            }
            if (answer.Version != WireFormat.Version)
                throw new TransferAbortedException(ErrorCode.VersionUnsupported, $"the receiver speaks SGLTY version {answer.Version}, this sender {WireFormat.Version}; use the same sglty release on both sides");
            if (role == ConnectionRole.Control) _session = answer.Session;
            else if (answer.Session != session) throw new TransferAbortedException(ErrorCode.ProtocolViolation, "the receiver joined this lane to another session");
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// One lane: pull a shard, read it straight into this lane's buffer behind room for its header, hash it, and
    /// put header and payload on the wire in one send. The buffer is this lane's for its whole life: no per-shard allocation.
    /// </summary>
    private async Task LaneAsync(ushort index)
    {
        ILaneConnection? connection = null;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(ShardHeader.Size + _options.ShardSize);
        var cancellationToken = _cts.Token;
        bool counted = false;
        try
        {
            connection = await ConnectAsync(ConnectionRole.Data, _session, index).ConfigureAwait(false);
            lock (_lanes)
            {
                _lanes.Add(connection);
                if (_failure is not null) return;
            }
            Interlocked.Increment(ref _activeLanes);
            counted = true;
            await _manifestAccepted.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            while (true)
            {
                if (!_scheduler.TryNext(out var file, out int shard, out bool retransmit))
                {
                    if (await _scheduler.WaitForWorkAsync(cancellationToken).ConfigureAwait(false)) continue;
                    break;
                }
                int length = file.ShardLength(shard);
                await _window.AcquireAsync(length, cancellationToken).ConfigureAwait(false);
                ulong digest = file.Read(shard, buffer.AsSpan(ShardHeader.Size, length), retransmit);
                if (retransmit && !file.MatchesFirstSend(shard, digest))
                    throw new SingularityException(ErrorCode.SourceChanged, $"'{file.SourcePath}' changed while it was being sent; send it again once it is stable");
                new ShardHeader(_session.Tag, file.Id, (uint)shard, (long)shard * _options.ShardSize, length, digest, retransmit ? ShardHeader.FlagRetransmit : (byte)0)
                    .WriteTo(buffer);
                await connection.WriteAsync(buffer.AsMemory(0, ShardHeader.Size + length), cancellationToken).ConfigureAwait(false);
                Interlocked.Add(ref _bytesSent, length);
                if (!retransmit && file.MarkSent() is { } fileDigest) Seal(file, fileDigest);
            }
            connection.CompleteWrites();
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
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void AbortLanes()
    {
        lock (_lanes)
        {
            foreach (var lane in _lanes) lane.Abort();
        }
    }
}
