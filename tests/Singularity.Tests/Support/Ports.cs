using System.Net;
using System.Net.Sockets;

namespace Singularity.Tests.Support;

public static class Ports
{
    /// <summary>A loopback port that was free a moment ago (nothing listens on it now).</summary>
    public static int Free()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
