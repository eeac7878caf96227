using System.Globalization;

namespace Singularity.Engine;

/// <summary>Where a receiver listens, written as <c>sglty://HOST:PORT/</c>; the URL the receiver prints is what the sender passes to --to.</summary>
public sealed record ConnectionUrl(string Host, int Port)
{
    /// <summary>The URL scheme.</summary>
    public const string Scheme = "sglty";

    /// <summary>The port a receiver listens on when none is given.</summary>
    public const int DefaultPort = 7700;

    /// <summary>Parses <c>sglty://HOST[:PORT][/...]</c>, or a bare <c>HOST:PORT</c>.</summary>
    public static ConnectionUrl Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string candidate = text.Contains("://", StringComparison.Ordinal) ? text : $"{Scheme}://{text}";
        if (!Uri.TryCreate(candidate, UriKind.Absolute, out var uri) || uri.Scheme != Scheme || string.IsNullOrEmpty(uri.Host))
            throw new FormatException($"'{text}' is not a connection URL; expected sglty://HOST:PORT/ as printed by `sglty recv`");
        string host = uri.HostNameType == UriHostNameType.IPv6 ? uri.Host.Trim('[', ']') : uri.Host;
        return new ConnectionUrl(host, uri.IsDefaultPort || uri.Port < 0 ? DefaultPort : uri.Port);
    }

    /// <summary>The URL as text.</summary>
    public override string ToString()
    {
        string host = Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]" : Host;
        return $"{Scheme}://{host}:{Port.ToString(CultureInfo.InvariantCulture)}/";
    }
}
