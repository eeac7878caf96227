using System.Net;
using System.Net.Sockets;

namespace Singularity.Engine.Transport;

/// <summary>The words and the loopback for an address family, as -4 and -6 choose one.</summary>
internal static class Families
{
    /// <summary>The loopback a tunnel's ends listen on: IPv6's under -6, where ssh takes no IPv4 address, else IPv4's.</summary>
    public static IPAddress Loopback(AddressFamily family) => family == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Loopback : IPAddress.Loopback;

    public static string Name(AddressFamily family) => family == AddressFamily.InterNetworkV6 ? "IPv6" : "IPv4";

    public static string Option(AddressFamily family) => family == AddressFamily.InterNetworkV6 ? "-6" : "-4";
}
