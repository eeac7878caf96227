using System.Buffers;
using System.Buffers.Binary;
using Singularity.Engine.Security;
using Singularity.Engine.Transport;

namespace Singularity.Engine.Protocol;

/// <summary>
/// Reads and writes control messages on one connection. Writers from any thread append to a pending buffer and one
/// loop sends it, so acknowledgements and seals from many lanes coalesce into few packets; batch messages
/// (acks, seals, commits) grow in place instead of being sent one item at a time.
/// </summary>
internal sealed class ControlChannel : IAsyncDisposable
{
    /// <summary>A peer that stops reading control messages must not make this side buffer without end.</summary>
    private const int MaxPendingBytes = 64 << 20;

    /// <summary>Bulk writers (manifest, seals, resume offers) wait for the writer once this much is queued.</summary>
    public const int BulkPauseBytes = 4 << 20;
    private const int MaxBatchItems = 4096;

    private readonly ILaneConnection _connection;
    private readonly ProtocolLimits _limits;
    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _signal = new(0);
    private readonly List<int> _messageStarts = [];
    private readonly List<TaskCompletionSource> _flushWaiters = [];
    private readonly List<TaskCompletionSource> _sendingWaiters = [];
    private readonly Task _writer;
    private byte[] _pending = ArrayPool<byte>.Shared.Rent(64 << 10);
    private byte[] _sending = ArrayPool<byte>.Shared.Rent(64 << 10);
    private int _pendingLength;
    private int _openBatchStart = -1;
    private ControlMessageType _openBatchType;
    private bool _completed;
    // Hold: what is posted meanwhile waits, unless a flush, an urgent message or the bulk pause asks for it.
    private int _held;
    private bool _urgent;
    private Exception? _writeError;
    private readonly FrameReader _reader;
    // The read buffer's first room for bodies; most control messages are far shorter.
    private const int InitialBodyBytes = 4096;

    private readonly FrameCipher? _sendCipher;
    private readonly FrameCipher? _receiveCipher;
    private byte[] _encrypted = [];

    /// <summary>With ciphers, every message body is sealed with its first eight header bytes as associated data and a 16-byte tag follows it; the check field is then zero.</summary>
    public ControlChannel(ILaneConnection connection, ProtocolLimits limits, FrameCipher? sendCipher = null, FrameCipher? receiveCipher = null)
    {
        _connection = connection;
        _reader = new FrameReader(connection, ControlHeader.Size, InitialBodyBytes);
        _limits = limits;
        _sendCipher = sendCipher;
        _receiveCipher = receiveCipher;
        _writer = Task.Run(WriteLoopAsync);
    }

    public ILaneConnection Connection => _connection;

    /// <summary>Queues one whole message.</summary>
    public void Post(ControlMessageType type, ReadOnlySpan<byte> body)
    {
        lock (_lock)
        {
            ThrowIfClosed();
            _openBatchStart = -1;
            // The Error that ends a session goes out even past the cap (once, and at most 1 KiB of reason): the cap is
            // often why the session ends, and the peer should learn why rather than see the connection drop.
            Span<byte> message = Reserve(ControlHeader.Size + body.Length, capped: type != ControlMessageType.Error);
            ControlHeader.Write(message, type, body.Length);
            body.CopyTo(message[ControlHeader.Size..]);
            _urgent |= Prompt(type);
        }
        _signal.Release();
    }

    /// <summary>
    /// What goes out whatever is held (<see cref="Hold"/>): a session's end, the sign of life a long preparation
    /// gives, and what the lanes' data waits on (acknowledgements, commits), which a held chunk must not delay.
    /// </summary>
    private static bool Prompt(ControlMessageType type) => type is ControlMessageType.Error or ControlMessageType.StillWorking
        or ControlMessageType.ShardAcks or ControlMessageType.ShardNack or ControlMessageType.FilesCommitted;

    /// <summary>
    /// Holds what is posted until <see cref="Release"/>, so that a burst of items (a manifest chunk's FilesPresent,
    /// one per file of a tree sent again) leaves in one write rather than in a write, and a wake-up of the peer, each.
    /// A flush, a message that must go at once (<see cref="Prompt"/>), and more than <see cref="BulkPauseBytes"/>
    /// queued, still send at once, with what was held before them.
    /// </summary>
    public void Hold()
    {
        lock (_lock) _held++;
    }

    /// <summary>Ends a <see cref="Hold"/>: what it kept is sent.</summary>
    public void Release()
    {
        lock (_lock) _held--;
        _signal.Release();
    }

    /// <summary>Appends one item that is a file id alone (FilesCommitted, FilesPresent, FilesKept, FilesDropped, FilesVanished, FilesWithdrawn) to the open batch message of <paramref name="type"/>.</summary>
    public void PostBatchItem(ControlMessageType type, uint id)
    {
        Span<byte> item = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(item, id);
        PostBatchItem(type, item);
    }

    /// <summary>Appends one item to the open batch message of <paramref name="type"/> (body: u32 count, then items), starting a new one when needed.</summary>
    public void PostBatchItem(ControlMessageType type, ReadOnlySpan<byte> item)
    {
        bool wake;
        lock (_lock)
        {
            ThrowIfClosed();
            if (_openBatchStart >= 0 && _openBatchType == type)
            {
                Span<byte> header = _pending.AsSpan(_openBatchStart);
                int count = BinaryPrimitives.ReadInt32LittleEndian(header[ControlHeader.Size..]);
                int bodyLength = BinaryPrimitives.ReadInt32LittleEndian(header);
                if (count < MaxBatchItems && bodyLength + item.Length <= _limits.MaxControlMessageBytes)
                {
                    item.CopyTo(Reserve(item.Length, newMessage: false));
                    header = _pending.AsSpan(_openBatchStart);
                    BinaryPrimitives.WriteInt32LittleEndian(header[ControlHeader.Size..], count + 1);
                    ControlHeader.Write(header, type, bodyLength + item.Length);
                    return;
                }
            }
            Span<byte> message = Reserve(ControlHeader.Size + 4 + item.Length);
            _urgent |= Prompt(type);
            _openBatchStart = _messageStarts[^1];
            _openBatchType = type;
            ControlHeader.Write(message, type, 4 + item.Length);
            BinaryPrimitives.WriteInt32LittleEndian(message[ControlHeader.Size..], 1);
            item.CopyTo(message[(ControlHeader.Size + 4)..]);
            wake = true;
        }
        if (wake) _signal.Release();
    }

    /// <summary>Bytes queued and not yet handed to the writer.</summary>
    public int PendingBytes
    {
        get { lock (_lock) return _pendingLength; }
    }

    /// <summary>Lets a bulk writer keep the queue short: waits for the writer when more than <see cref="BulkPauseBytes"/> are queued.</summary>
    public ValueTask PaceAsync() => PendingBytes > BulkPauseBytes ? new ValueTask(FlushAsync()) : ValueTask.CompletedTask;

    /// <summary>Completes when everything posted so far has been handed to the transport.</summary>
    public Task FlushAsync()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            if (_writeError is not null) return Task.FromException(_writeError);
            _flushWaiters.Add(done);
        }
        _signal.Release();
        return done.Task;
    }

    /// <summary>Reads the next message; its body stays valid until the next call. Returns false at a clean end of stream.</summary>
    public async ValueTask<(bool Ok, ControlMessageType Type, ReadOnlyMemory<byte> Body)> ReadAsync(CancellationToken cancellationToken = default)
    {
        if (!await _reader.TryReadHeaderAsync(cancellationToken).ConfigureAwait(false))
            return (false, default, default);
        int tag = _receiveCipher is null ? 0 : FrameCipher.TagSize;
        if (!ControlHeader.TryRead(_reader.Header, _limits.MaxControlMessageBytes + tag, out var type, out int length, out string? error))
            throw new ProtocolViolationException(error!);
        if (length < tag) throw new ProtocolViolationException("control message shorter than its tag");
        // The buffer doubles until the message fits, so a peer's ever longer messages cost few allocations; the check
        // above keeps it within the limit.
        if (length > _reader.BodyCapacity)
            _reader.Reserve(Math.Min(Math.Max(length, 2 * _reader.BodyCapacity), _limits.MaxControlMessageBytes + tag));
        var message = await _reader.ReadFrameAsync(length, cancellationToken).ConfigureAwait(false);
        var header = message[..ControlHeader.Size];
        var body = message[ControlHeader.Size..];
        if (_receiveCipher is not null)
        {
            if (WireFormat.ReadCheck(header.Span[8..]) != 0) throw new ProtocolViolationException("the check field of an encrypted control message is not zero");
            if (!_receiveCipher.TryOpen(body.Span[..^tag], body.Span[^tag..], header.Span[..8]))
                throw new ProtocolViolationException("a control message failed authentication: it was altered, dropped or replayed on the way");
            return (true, type, body[..^tag]);
        }
        if (ControlHeader.Check(header.Span, body.Span) != WireFormat.ReadCheck(header.Span[8..]))
            throw new ProtocolViolationException($"control message {type} failed its check");
        return (true, type, body);
    }

    /// <summary>Stops accepting messages; the writer sends what is queued, then ends.</summary>
    public void Complete()
    {
        lock (_lock) _completed = true;
        _signal.Release();
    }

    private Span<byte> Reserve(int size, bool newMessage = true, bool capped = true)
    {
        // Checked on every reserve, not only when the buffer must grow: the buffer may be one the writer grew (an
        // encrypted batch's sealed copy is rented larger than the batch), and the cap holds whatever buffer queues.
        if (capped && _pendingLength + size > MaxPendingBytes)
            throw new TransferAbortedException(ErrorCode.LimitExceeded, "the peer stopped reading control messages");
        if (_pendingLength + size > _pending.Length)
        {
            byte[] larger = ArrayPool<byte>.Shared.Rent(Math.Max(_pending.Length * 2, _pendingLength + size));
            _pending.AsSpan(0, _pendingLength).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(_pending);
            _pending = larger;
        }
        if (newMessage) _messageStarts.Add(_pendingLength);
        Span<byte> span = _pending.AsSpan(_pendingLength, size);
        _pendingLength += size;
        return span;
    }

    /// <summary>Rewrites the pending messages sealed, each body followed by its tag; called under the lock.</summary>
    private void EncryptPending()
    {
        int needed = _pendingLength + _messageStarts.Count * FrameCipher.TagSize;
        if (_encrypted.Length < needed)
        {
            if (_encrypted.Length > 0) ArrayPool<byte>.Shared.Return(_encrypted);
            _encrypted = ArrayPool<byte>.Shared.Rent(Math.Max(needed, 64 << 10));
        }
        int output = 0;
        foreach (int start in _messageStarts)
        {
            int bodyLength = BinaryPrimitives.ReadInt32LittleEndian(_pending.AsSpan(start));
            Span<byte> message = _encrypted.AsSpan(output, ControlHeader.Size + bodyLength + FrameCipher.TagSize);
            ControlHeader.Write(message, (ControlMessageType)_pending[start + 4], bodyLength + FrameCipher.TagSize);
            message.Slice(8, 8).Clear();
            _pending.AsSpan(start + ControlHeader.Size, bodyLength).CopyTo(message[ControlHeader.Size..]);
            _sendCipher!.Seal(message.Slice(ControlHeader.Size, bodyLength), message[^FrameCipher.TagSize..], message[..8]);
            output += message.Length;
        }
        (_pending, _encrypted) = (_encrypted, _pending);
        _pendingLength = output;
    }

    private void ThrowIfClosed()
    {
        if (_writeError is not null) throw new TransferAbortedException(ErrorCode.ConnectionLost, "control connection failed", _writeError);
        if (_completed) throw new InvalidOperationException("control channel is complete");
    }

    private async Task WriteLoopAsync()
    {
        while (true)
        {
            await _signal.WaitAsync().ConfigureAwait(false);
            int length;
            bool last;
            lock (_lock)
            {
                if (_held > 0 && !_urgent && !_completed && _flushWaiters.Count == 0 && _pendingLength <= BulkPauseBytes) continue;
                _urgent = false;
                if (_sendCipher is null)
                {
                    foreach (int start in _messageStarts)
                        ControlHeader.Seal(_pending.AsSpan(start));
                }
                else
                {
                    EncryptPending();
                }
                _messageStarts.Clear();
                _openBatchStart = -1;
                (_pending, _sending) = (_sending, _pending);
                length = _pendingLength;
                _pendingLength = 0;
                _sendingWaiters.AddRange(_flushWaiters);
                _flushWaiters.Clear();
                last = _completed;
            }
            try
            {
                if (length > 0)
                    await _connection.WriteAsync(_sending.AsMemory(0, length)).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                lock (_lock)
                {
                    _writeError = ex;
                    _sendingWaiters.AddRange(_flushWaiters);
                    _flushWaiters.Clear();
                }
                foreach (var waiter in _sendingWaiters) waiter.TrySetException(ex);
                _sendingWaiters.Clear();
                return;
            }
            foreach (var waiter in _sendingWaiters) waiter.TrySetResult();
            _sendingWaiters.Clear();
            if (last)
            {
                lock (_lock)
                {
                    if (_pendingLength == 0) return;
                }
            }
        }
    }

    /// <summary>Sends what is queued (for at most a few seconds), closes this side gracefully, and releases the connection.</summary>
    public async ValueTask DisposeAsync()
    {
        Complete();
        try { await _writer.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false); }
        catch (Exception) { _connection.Abort(); }
        _connection.CompleteWrites();
        // The read buffer is left to the collector: a reader may still be parked on it until the socket closes.
        await _connection.DisposeAsync().ConfigureAwait(false);
    }
}
