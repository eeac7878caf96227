using System.Net;
using System.Net.Sockets;

namespace Singularity.Engine.Transport;

/// <summary>A TCP connection; socket errors become <see cref="TransferAbortedException"/> here and nowhere else. What it writes and reads is counted in <paramref name="traffic"/>, where given.</summary>
internal sealed class TcpLaneConnection(Socket socket, TimeSpan setupTime = default, Traffic? traffic = null) : ILaneConnection
{
    private int _disposed;

    public EndPoint? RemoteEndPoint { get; } = Plain(socket.RemoteEndPoint);

    public TimeSpan SetupTime => setupTime;

    public string? CongestionControl => TcpTransport.CongestionControlOf(socket);

    public async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try
        {
            int read = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            traffic?.Took(read);
            return read;
        }
        catch (SocketException ex)
        {
            throw Lost(ex);
        }
        catch (ObjectDisposedException ex)
        {
            throw new TransferAbortedException(ErrorCode.ConnectionLost, $"connection to {RemoteEndPoint} was closed", ex);
        }
    }

    public async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try
        {
            while (!buffer.IsEmpty)
            {
                int sent = await socket.SendAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
                traffic?.Wrote(sent);
                buffer = buffer[sent..];
            }
        }
        catch (SocketException ex)
        {
            throw Lost(ex);
        }
        catch (ObjectDisposedException ex)
        {
            throw new TransferAbortedException(ErrorCode.ConnectionLost, $"connection to {RemoteEndPoint} was closed", ex);
        }
    }

    public void CompleteWrites()
    {
        try { socket.Shutdown(SocketShutdown.Send); }
        catch (SocketException) { }
        catch (ObjectDisposedException) { }
    }

    public void Abort()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            try { socket.Close(0); }
            catch (SocketException) { }
        }
    }

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
            socket.Dispose();
        return ValueTask.CompletedTask;
    }

    private TransferAbortedException Lost(SocketException ex) =>
        new(ErrorCode.ConnectionLost, $"connection to {RemoteEndPoint} lost: {Describe(ex.SocketErrorCode)}", ex);

    internal static string Describe(SocketError error) => error switch
    {
        SocketError.ConnectionRefused => "connection refused",
        SocketError.ConnectionReset => "connection reset by peer",
        SocketError.TimedOut => "timed out",
        SocketError.HostNotFound or SocketError.NoData => "no host of that name",
        SocketError.TryAgain => "the name could not be looked up (DNS did not answer)",
        SocketError.HostUnreachable or SocketError.NetworkUnreachable => "host unreachable",
        SocketError.AddressAlreadyInUse => "address already in use",
        SocketError.AddressNotAvailable => "address not available on this machine",
        SocketError.Shutdown or SocketError.OperationAborted => "connection closed",
        _ => error.ToString(),
    };

    /// <summary>
    /// An IPv4 peer of a dual-stack socket as users write it (127.0.0.1:N, not [::ffff:127.0.0.1]:N), so that errors
    /// and logs name it as the URL and the receiver's own lines do.
    /// </summary>
    internal static EndPoint? Plain(EndPoint? endpoint) =>
        endpoint is IPEndPoint { Address.IsIPv4MappedToIPv6: true } mapped ? new IPEndPoint(mapped.Address.MapToIPv4(), mapped.Port) : endpoint;
}
