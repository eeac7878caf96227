using System.Net;

namespace Singularity.Engine.Transport;

/// <summary>One reliable, ordered byte stream between sender and receiver: the control connection or a data lane. TCP today; the seam lets another transport (QUIC) slot in without touching session logic.</summary>
internal interface ILaneConnection : IAsyncDisposable
{
    EndPoint? RemoteEndPoint { get; }

    /// <summary>One round trip of the path, measured when an outgoing connection was established (the kernel's sample where it tells it, else the connect's duration); zero for an accepted one.</summary>
    TimeSpan SetupTime { get; }

    /// <summary>The congestion control this side's end uses, such as "cubic" or "bbr", where the transport has one and tells it.</summary>
    string? CongestionControl { get; }

    /// <summary>Receives what has arrived, at least one byte and at most <paramref name="buffer"/>'s length, waiting for it if none has; 0 at the end of the stream.</summary>
    ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default);

    /// <summary>Fills <paramref name="buffer"/> completely; returns false if the stream ended cleanly before the first byte, and throws if it ends in the middle.</summary>
    async ValueTask<bool> ReadExactlyOrEndAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int filled = 0;
        while (filled < buffer.Length)
        {
            int read = await ReadAsync(buffer[filled..], cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                if (filled == 0) return false;
                throw ClosedMidFrame(RemoteEndPoint);
            }
            filled += read;
        }
        return true;
    }

    /// <summary>Writes all of <paramref name="buffer"/>.</summary>
    ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default);

    /// <summary>Signals the end of this side's data; the peer then reads a clean end of stream.</summary>
    void CompleteWrites();

    /// <summary>Tears the connection down at once, waking any pending read or write.</summary>
    void Abort();

    /// <summary>The error for a stream that ended inside a frame, wherever frames are read.</summary>
    static TransferAbortedException ClosedMidFrame(EndPoint? remote) =>
        new(ErrorCode.ConnectionLost, $"connection from {remote} closed in the middle of a frame");
}

/// <summary>Accepts incoming connections on one endpoint.</summary>
internal interface ILaneListener : IAsyncDisposable
{
    EndPoint LocalEndPoint { get; }

    ValueTask<ILaneConnection> AcceptAsync(CancellationToken cancellationToken = default);
}

/// <summary>Creates connections and listeners for one kind of transport.</summary>
internal interface ILaneTransport
{
    ValueTask<ILaneConnection> ConnectAsync(string host, int port, CancellationToken cancellationToken = default);

    ILaneListener Listen(IPEndPoint endpoint);
}
