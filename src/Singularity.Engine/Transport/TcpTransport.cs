using System.Net;
using System.Net.Sockets;

namespace Singularity.Engine.Transport;

/// <summary>
/// Lanes over TCP: Nagle off (headers and payloads go out together anyway), optional fixed socket buffers, dual-stack
/// listening. With <paramref name="unansweredTimeout"/> (Linux, TCP_USER_TIMEOUT), the kernel ends a connection whose
/// sent bytes stay unacknowledged that long, or whose peer offers no room in its window that long: a path that went
/// silent under one lane, or a peer that stopped reading it, ends that lane alone, while a lane that is merely slow
/// keeps being acknowledged and lives on. With <paramref name="traffic"/>, its connections count what they write and read there.
/// </summary>
internal sealed class TcpTransport(int socketBufferSize, string? congestionControl = null, TimeSpan? unansweredTimeout = null, Traffic? traffic = null, AddressFamily family = AddressFamily.Unspecified) : ILaneTransport
{
    private const int IpProtoTcp = 6;
    private const int TcpInfo = 11;
    private const int TcpCongestion = 13;
    private const int TcpUserTimeout = 18;
    // struct tcp_info (linux/tcp.h): u32 tcpi_rtt, the smoothed round trip in microseconds, sits at byte 68.
    private const int TcpInfoRttOffset = 68;

    /// <summary>Where this transport's connections count their bytes; null where none counts.</summary>
    internal Traffic? Traffic => traffic;

    public async ValueTask<ILaneConnection> ConnectAsync(string host, int port, CancellationToken cancellationToken = default)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        try
        {
            Configure(socket);
            // Name resolution first, so the connect alone is timed (a TCP connect takes one round trip) where the kernel does not say.
            IPAddress[] addresses = IPAddress.TryParse(host, out var address) ? [address] : await Dns.GetHostAddressesAsync(host, family, cancellationToken).ConfigureAwait(false);
            // As -4 and -6 ask: an address of the other family given as such is refused, not tried.
            if (family != AddressFamily.Unspecified && (addresses = Array.FindAll(addresses, found => (found.IsIPv4MappedToIPv6 ? AddressFamily.InterNetwork : found.AddressFamily) == family)).Length == 0)
                throw new TransferAbortedException(ErrorCode.ConnectionLost, $"cannot connect to {ConnectionUrl.Endpoint(host, port)}: it has no {Families.Name(family)} address, which {Families.Option(family)} asks for; leave out {Families.Option(family)}",
                    new SocketException((int)SocketError.AddressFamilyNotSupported));
            long started = System.Diagnostics.Stopwatch.GetTimestamp();
            await socket.ConnectAsync(addresses, port, cancellationToken).ConfigureAwait(false);
            var elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(started);
            // The kernel's own sample of the handshake where it tells it: the first connect of a process also pays
            // for setting up the socket engine, which on a local path is many times the round trip itself.
            return new TcpLaneConnection(socket, RoundTripOf(socket) ?? elapsed, traffic);
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            bool unnamed = ex.SocketErrorCode is SocketError.HostNotFound or SocketError.NoData;
            if (unnamed && family != AddressFamily.Unspecified)
                throw new TransferAbortedException(ErrorCode.ConnectionLost, $"cannot connect to {ConnectionUrl.Endpoint(host, port)}: it has no {Families.Name(family)} address, which {Families.Option(family)} asks for (or no host has that name); leave out {Families.Option(family)}", ex);
            string advice = unnamed || ex.SocketErrorCode is SocketError.TryAgain
                ? "check the host name in the URL"
                : "check that `sglty recv` is running there and the port is reachable";
            throw new TransferAbortedException(ErrorCode.ConnectionLost, $"cannot connect to {ConnectionUrl.Endpoint(host, port)}: {TcpLaneConnection.Describe(ex.SocketErrorCode)}; {advice}", ex);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public ILaneListener Listen(IPEndPoint endpoint)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (endpoint.AddressFamily == AddressFamily.InterNetworkV6 && endpoint.Address.Equals(IPAddress.IPv6Any))
                socket.DualMode = true;
            // No ReuseAddress: on Unix .NET maps it to SO_REUSEPORT as well, which let a second receiver listen on a
            // port already in use and split the senders' connections between the two. .NET sets SO_REUSEADDR for
            // every TCP bind on Unix by itself, so a receiver restarted on its port still listens at once.
            // Accepted sockets inherit buffer sizes from the listener, and the window scale is fixed at SYN time.
            Configure(socket);
            socket.Bind(endpoint);
            socket.Listen(512);
            return new TcpLaneListener(socket, this);
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            string advice = ex.SocketErrorCode == SocketError.AddressNotAvailable ? "listen on an address of this machine (or 0.0.0.0 for all)" : "pick another port";
            // A socket's failure, as rsync's daemon exits 10 for a port it cannot bind, not a file's.
            throw new SingularityException(ErrorCode.ConnectionLost, $"cannot listen on {endpoint}: {TcpLaneConnection.Describe(ex.SocketErrorCode)}; {advice}", ex);
        }
    }

    internal void Configure(Socket socket)
    {
        socket.NoDelay = true;
        if (congestionControl is not null) SetCongestionControl(socket, congestionControl);
        if (unansweredTimeout is { } timeout && OperatingSystem.IsLinux())
        {
            // A kernel without it leaves the session's stall watchdog alone to notice.
            try { socket.SetRawSocketOption(IpProtoTcp, TcpUserTimeout, BitConverter.GetBytes((uint)timeout.TotalMilliseconds)); }
            catch (SocketException) { }
        }
        if (socketBufferSize > 0)
        {
            socket.SendBufferSize = socketBufferSize;
            socket.ReceiveBufferSize = socketBufferSize;
        }
    }

    /// <summary>Picks the congestion control algorithm per socket, so a user can ask for BBR without changing the system default.</summary>
    private static void SetCongestionControl(Socket socket, string name)
    {
        if (!OperatingSystem.IsLinux())
            throw new SingularityException(ErrorCode.IoError, "choosing the congestion control per connection needs Linux");
        try
        {
            socket.SetRawSocketOption(IpProtoTcp, TcpCongestion, System.Text.Encoding.ASCII.GetBytes(name));
        }
        catch (SocketException ex)
        {
            throw new SingularityException(ErrorCode.IoError, $"congestion control '{name}' is not available here ({TcpLaneConnection.Describe(ex.SocketErrorCode)}); see /proc/sys/net/ipv4/tcp_available_congestion_control, and load its module or add it to net.ipv4.tcp_allowed_congestion_control", ex);
        }
    }

    /// <summary>The round trip the kernel measured on a connected socket (Linux, from TCP_INFO), or null where it cannot be read.</summary>
    internal static TimeSpan? RoundTripOf(Socket socket)
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            Span<byte> info = stackalloc byte[256];
            int length = socket.GetRawSocketOption(IpProtoTcp, TcpInfo, info);
            if (length < TcpInfoRttOffset + 4) return null;
            // The kernel writes the structure in the machine's own byte order.
            uint microseconds = System.Runtime.InteropServices.MemoryMarshal.Read<uint>(info[TcpInfoRttOffset..]);
            return microseconds == 0 ? null : TimeSpan.FromMicroseconds(microseconds);
        }
        catch (SocketException)
        {
            return null;
        }
    }

    /// <summary>The congestion control a connected socket uses (Linux), or null where it cannot be read.</summary>
    internal static string? CongestionControlOf(Socket socket)
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            Span<byte> name = stackalloc byte[16];
            int length = socket.GetRawSocketOption(IpProtoTcp, TcpCongestion, name);
            return System.Text.Encoding.ASCII.GetString(name[..length]).TrimEnd('\0');
        }
        catch (SocketException)
        {
            return null;
        }
    }

    private sealed class TcpLaneListener(Socket socket, TcpTransport transport) : ILaneListener
    {
        public EndPoint LocalEndPoint => socket.LocalEndPoint!;

        public async ValueTask<ILaneConnection> AcceptAsync(CancellationToken cancellationToken = default)
        {
            var accepted = await socket.AcceptAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                transport.Configure(accepted);
            }
            catch
            {
                accepted.Dispose();
                throw;
            }
            return new TcpLaneConnection(accepted, traffic: transport.Traffic);
        }

        public ValueTask DisposeAsync()
        {
            socket.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
