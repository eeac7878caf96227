namespace Singularity.Engine.Transport;

/// <summary>
/// Reads frames of a fixed-size header and a variable body from one connection into one buffer, asking the socket for
/// up to <see cref="ReadAhead"/> bytes beyond the frame it needs. Many small frames then cost one receive together
/// instead of two each; a large frame is read as before. The caller checks each header before asking for its body,
/// so a declared length is validated before anything waits for it, and the read-ahead keeps the buffer bounded.
/// </summary>
internal sealed class FrameReader(ILaneConnection connection, int headerSize, int initialBodyBytes = 0)
{
    /// <summary>How far a receive may run past the frame being read.</summary>
    public const int ReadAhead = 64 * 1024;

    private byte[] _buffer = GC.AllocateUninitializedArray<byte>(headerSize + initialBodyBytes + ReadAhead);
    // The current frame starts at _start; bytes up to _end have arrived. Everything from _end on is free.
    private int _start;
    private int _end;

    /// <summary>The header of the current frame, valid after <see cref="TryReadHeaderAsync"/> returned true.</summary>
    public ReadOnlySpan<byte> Header => _buffer.AsSpan(_start, headerSize);

    /// <summary>The longest body the buffer holds now.</summary>
    public int BodyCapacity => _buffer.Length - headerSize - ReadAhead;

    /// <summary>Room for bodies of up to <paramref name="bodyBytes"/>; does nothing when there is room already.</summary>
    public void Reserve(int bodyBytes)
    {
        int size = headerSize + bodyBytes + ReadAhead;
        if (_buffer.Length >= size) return;
        // Exactly this long: a pooled array would round up to the next power of two and could double a lane's memory.
        var larger = GC.AllocateUninitializedArray<byte>(size);
        _buffer.AsSpan(_start, _end - _start).CopyTo(larger);
        (_buffer, _end, _start) = (larger, _end - _start, 0);
    }

    /// <summary>Waits for the next frame's header; false if the stream ended cleanly between frames.</summary>
    public async ValueTask<bool> TryReadHeaderAsync(CancellationToken cancellationToken)
    {
        if (_start == _end) _start = _end = 0;
        if (await FillAsync(headerSize, cancellationToken).ConfigureAwait(false)) return true;
        if (_end == _start) return false;
        throw ILaneConnection.ClosedMidFrame(connection.RemoteEndPoint);
    }

    /// <summary>
    /// Waits for the current frame's body of <paramref name="bodyBytes"/> (within what <see cref="Reserve"/> allowed)
    /// and returns the whole frame, header first; the frame stays valid until the next header is read.
    /// </summary>
    public async ValueTask<Memory<byte>> ReadFrameAsync(int bodyBytes, CancellationToken cancellationToken)
    {
        int frame = headerSize + bodyBytes;
        if (!await FillAsync(frame, cancellationToken).ConfigureAwait(false)) throw ILaneConnection.ClosedMidFrame(connection.RemoteEndPoint);
        var whole = _buffer.AsMemory(_start, frame);
        _start += frame;
        return whole;
    }

    /// <summary>Receives until <paramref name="bytes"/> of the current frame are in; false if the stream ends first.</summary>
    private async ValueTask<bool> FillAsync(int bytes, CancellationToken cancellationToken)
    {
        if (bytes > _buffer.Length) throw new InvalidOperationException($"a frame of {bytes} bytes is larger than the room reserved for it");
        if (_start + bytes > _buffer.Length)
        {
            // Only what was read ahead moves: at most ReadAhead bytes and a header.
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            (_end, _start) = (_end - _start, 0);
        }
        int limit = Math.Min(_buffer.Length, _start + bytes + ReadAhead);
        while (_end - _start < bytes)
        {
            int read = await connection.ReadAsync(_buffer.AsMemory(_end, limit - _end), cancellationToken).ConfigureAwait(false);
            if (read == 0) return false;
            _end += read;
        }
        return true;
    }
}
