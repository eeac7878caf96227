using System.Net;
using Singularity.Engine.Transport;

namespace Singularity.Tests.Transport;

public sealed class TcpTransportTests
{
    [Fact]
    public async Task An_IPv4_peer_is_named_as_users_write_it_at_both_ends()
    {
        // A listener on every address takes IPv4 too, and the sender's sockets are dual-stack: both see the other as
        // ::ffff:127.0.0.1, which errors and logs would print as [::ffff:127.0.0.1]:N beside the URL's 127.0.0.1:N.
        var transport = new TcpTransport(1 << 16);
        await using var listener = transport.Listen(new IPEndPoint(IPAddress.IPv6Any, 0));
        int port = ((IPEndPoint)listener.LocalEndPoint).Port;
        var accepting = listener.AcceptAsync().AsTask();
        await using var connected = await transport.ConnectAsync("127.0.0.1", port);
        await using var accepted = await accepting;

        Assert.Equal($"127.0.0.1:{port}", connected.RemoteEndPoint?.ToString());
        Assert.Matches(@"^127\.0\.0\.1:\d+$", accepted.RemoteEndPoint?.ToString());
    }

    [Fact]
    public void Only_a_mapped_address_is_rewritten()
    {
        Assert.Equal("[::1]:7", TcpLaneConnection.Plain(new IPEndPoint(IPAddress.IPv6Loopback, 7))?.ToString());
        Assert.Equal("10.0.0.1:7", TcpLaneConnection.Plain(new IPEndPoint(IPAddress.Parse("::ffff:10.0.0.1"), 7))?.ToString());
        Assert.Equal("10.0.0.1:7", TcpLaneConnection.Plain(new IPEndPoint(IPAddress.Parse("10.0.0.1"), 7))?.ToString());
        Assert.Null(TcpLaneConnection.Plain(null));
    }
}
