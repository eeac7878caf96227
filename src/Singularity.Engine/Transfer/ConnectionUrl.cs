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
        // A URL with a slash missing ("sglty:/host") would otherwise read as a host named "sglty".
        bool schemeWithoutSlashes = text.StartsWith($"{Scheme}:", StringComparison.OrdinalIgnoreCase) && !text.Contains("://", StringComparison.Ordinal)
            && !int.TryParse(text.AsSpan(Scheme.Length + 1), NumberStyles.None, CultureInfo.InvariantCulture, out _);
        string candidate = text.Contains("://", StringComparison.Ordinal) ? text : $"{Scheme}://{text}";
        if (schemeWithoutSlashes || !Uri.TryCreate(candidate, UriKind.Absolute, out var uri) || uri.Scheme != Scheme || string.IsNullOrEmpty(uri.Host))
            throw new FormatException($"'{WithoutToken(text)}' is not a connection URL; expected sglty://HOST:PORT/ as printed by `sglty recv`");
        string host = uri.HostNameType == UriHostNameType.IPv6 ? uri.Host.Trim('[', ']') : uri.Host;
        string? token = null;
        foreach (string pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            if (pair.StartsWith("token=", StringComparison.Ordinal)) token = Uri.UnescapeDataString(pair["token=".Length..]);
        }
        return new ConnectionUrl(host, uri.IsDefaultPort || uri.Port < 0 ? DefaultPort : uri.Port, string.IsNullOrEmpty(token) ? null : token);
    }

    /// <summary>The text with a token's value hidden, for messages: errors are logged, and the token opens the receiver.</summary>
    private static string WithoutToken(string text)
    {
        int start = text.IndexOf("token=", StringComparison.OrdinalIgnoreCase);
        if (start < 0) return text;
        start += "token=".Length;
        int end = text.IndexOf('&', start);
        return string.Concat(text.AsSpan(0, start), "…", end < 0 ? "" : text.AsSpan(end));
    }

    /// <summary>The URL as text.</summary>
    public override string ToString()
    {
        string host = Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]" : Host;
        string query = Token is null ? "" : "?token=" + Uri.EscapeDataString(Token);
        return $"{Scheme}://{host}:{Port.ToString(CultureInfo.InvariantCulture)}/{query}";
    }
}
