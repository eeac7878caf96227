using System.Globalization;

namespace Singularity.Engine;

/// <summary>Where a receiver listens and the secret that opens it, written as <c>sglty://HOST:PORT/?token=TOKEN</c>; the URL the receiver prints is what the sender passes to --to.</summary>
public sealed record ConnectionUrl(string Host, int Port, string? Token = null)
{
    /// <summary>The URL scheme.</summary>
    public const string Scheme = "sglty";

    /// <summary>The port a receiver listens on when none is given.</summary>
    public const int DefaultPort = 7700;

    /// <summary>Parses <c>sglty://HOST[:PORT][/][?token=TOKEN]</c>, or a bare <c>HOST:PORT</c>.</summary>
    public static ConnectionUrl Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string candidate = text.Contains("://", StringComparison.Ordinal) ? text : $"{Scheme}://{text}";
        if (!Uri.TryCreate(candidate, UriKind.Absolute, out var uri) || uri.Scheme != Scheme || string.IsNullOrEmpty(uri.Host))
            throw new FormatException($"'{text}' is not a connection URL; expected sglty://HOST:PORT/ as printed by `sglty recv`");
        string host = uri.HostNameType == UriHostNameType.IPv6 ? uri.Host.Trim('[', ']') : uri.Host;
        string? token = null;
        foreach (string pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            if (pair.StartsWith("token=", StringComparison.Ordinal)) token = Uri.UnescapeDataString(pair["token=".Length..]);
        }
        return new ConnectionUrl(host, uri.IsDefaultPort || uri.Port < 0 ? DefaultPort : uri.Port, string.IsNullOrEmpty(token) ? null : token);
    }

    /// <summary>The URL as text.</summary>
    public override string ToString()
    {
        string host = Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]" : Host;
        string query = Token is null ? "" : "?token=" + Uri.EscapeDataString(Token);
        return $"{Scheme}://{host}:{Port.ToString(CultureInfo.InvariantCulture)}/{query}";
    }
}
