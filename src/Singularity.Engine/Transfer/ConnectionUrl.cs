using System.Globalization;

namespace Singularity.Engine;

/// <summary>Where a receiver listens and the secret that opens it, written as <c>sglty://HOST:PORT/?token=TOKEN</c>; the URL the receiver prints is what the sender passes to --to.</summary>
public sealed partial record ConnectionUrl(string Host, int Port, string? Token = null)
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
            && !int.TryParse(PortPart(text.AsSpan(Scheme.Length + 1)), NumberStyles.None, CultureInfo.InvariantCulture, out _);
        string candidate = text.Contains("://", StringComparison.Ordinal) ? text : $"{Scheme}://{text}";
        if (schemeWithoutSlashes || !Uri.TryCreate(candidate, UriKind.Absolute, out var uri) || uri.Scheme != Scheme || string.IsNullOrEmpty(uri.Host))
            throw new FormatException($"'{WithoutToken(text)}' is not a connection URL; expected sglty://HOST:PORT/ as printed by `sglty recv`");
        // Where files go is the receiver's --dir alone: a path here would be silently ignored, and files land elsewhere
        // than the user meant.
        if (uri.AbsolutePath is not ("" or "/"))
            throw new FormatException($"'{WithoutToken(text)}' names a directory ('{Uri.UnescapeDataString(uri.AbsolutePath)}'), but files go where the receiver's --dir says; leave the path out, or start a receiver with --dir there");
        string host = uri.HostNameType == UriHostNameType.IPv6 ? uri.Host.Trim('[', ']') : uri.Host;
        string? token = null;
        foreach (string pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            if (pair.StartsWith("token=", StringComparison.Ordinal)) token = Uri.UnescapeDataString(pair["token=".Length..]);
        }
        return new ConnectionUrl(host, uri.IsDefaultPort || uri.Port < 0 ? DefaultPort : uri.Port, string.IsNullOrEmpty(token) ? null : token);
    }

    /// <summary>What follows "HOST:" up to a path or query: the port, in a bare HOST:PORT.</summary>
    private static ReadOnlySpan<char> PortPart(ReadOnlySpan<char> rest)
    {
        int end = rest.IndexOfAny('/', '?');
        return end < 0 ? rest : rest[..end];
    }

    /// <summary>The text with a token's value hidden, for messages: errors are logged, and the token opens the receiver.</summary>
    private static string WithoutToken(string text) => TokenValue().Replace(text, "${name}…");

    // Every value after "token=", in any case and wherever it appears: a malformed URL may hold more than one.
    [System.Text.RegularExpressions.GeneratedRegex("(?<name>token=)[^&]*", System.Text.RegularExpressions.RegexOptions.IgnoreCase)]
    private static partial System.Text.RegularExpressions.Regex TokenValue();

    /// <summary>The URL as text.</summary>
    public override string ToString()
    {
        string host = Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]" : Host;
        string query = Token is null ? "" : "?token=" + Uri.EscapeDataString(Token);
        return $"{Scheme}://{host}:{Port.ToString(CultureInfo.InvariantCulture)}/{query}";
    }
}
