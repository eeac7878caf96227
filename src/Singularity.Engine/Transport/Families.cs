using System.Net.Sockets;

namespace Singularity.Engine.Transport;

/// <summary>The words for an address family, as -4 and -6 choose one.</summary>
internal static class Families
{
    public static string Name(AddressFamily family) => family == AddressFamily.InterNetworkV6 ? "IPv6" : "IPv4";

    public static string Option(AddressFamily family) => family == AddressFamily.InterNetworkV6 ? "-6" : "-4";
}
