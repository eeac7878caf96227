using System.Globalization;

namespace Singularity.Engine;

/// <summary>
/// Where a receiver listens and the secret that opens it, written as <c>sglty://HOST:PORT/?token=TOKEN</c>; the URL the
/// receiver prints is what the sender passes to --to. A sender's URL may name a directory below the receiver's
/// (<c>sglty://HOST:PORT/backups/web1/?token=TOKEN</c>): <see cref="Directory"/>.
/// </summary>
public sealed partial record ConnectionUrl(string Host, int Port, string? Token = null, string? Directory = null)
{
    /// <summary>
    /// Whether <see cref="Directory"/> is a directory whatever stands there (true unless set otherwise). False for a
    /// URL parsed from a path that does not end with '/' (<c>sglty://HOST/backups/db-1206.dump</c>): a send of one file
    /// (not a directory) then names the file by the path's last name where no directory stands at the whole path at
    /// the receiver, as rsync and scp name what they copy to a path that is not a directory.
    /// </summary>
    public bool NamesDirectory { get; init; } = true;

    /// <summary>The URL scheme.</summary>
    public const string Scheme = "sglty";

    /// <summary>The port a receiver listens on when none is given.</summary>
    public const int DefaultPort = 7700;

    /// <summary>Parses <c>sglty://HOST[:PORT][/DIR/...][/][?token=TOKEN]</c>, or a bare <c>HOST:PORT</c>.</summary>
    public static ConnectionUrl Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        // As Uri reads it: a URL pasted with a space or a line end after it names no directory ending in one.
        text = text.Trim();
        // A URL with a slash missing ("sglty:/host") would otherwise read as a host named "sglty".
        bool schemeWithoutSlashes = text.StartsWith($"{Scheme}:", StringComparison.OrdinalIgnoreCase) && !text.Contains("://", StringComparison.Ordinal)
            && !int.TryParse(PortPart(text.AsSpan(Scheme.Length + 1)), NumberStyles.None, CultureInfo.InvariantCulture, out _);
        string candidate = text.Contains("://", StringComparison.Ordinal) ? text : $"{Scheme}://{text}";
        if (schemeWithoutSlashes || !Uri.TryCreate(candidate, UriKind.Absolute, out var uri) || uri.Scheme != Scheme || string.IsNullOrEmpty(uri.Host))
            throw new FormatException($"'{WithoutToken(text)}' is not a connection URL; expected sglty://HOST:PORT/ as printed by `sglty recv`");
        if (CutInItsPath(candidate))
            throw new FormatException($"'{WithoutToken(text)}' has a '?' or '#' inside its directory's path, which cuts the URL there; write them in a name as %3F and %23");
        string? directory = DirectoryOf(text, candidate, out bool namesDirectory);
        string host = uri.HostNameType == UriHostNameType.IPv6 ? uri.Host.Trim('[', ']') : uri.Host;
        string? token = null;
        foreach (string pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            if (pair.StartsWith("token=", StringComparison.Ordinal)) token = Uri.UnescapeDataString(pair["token=".Length..]);
        }
        return new ConnectionUrl(host, uri.IsDefaultPort || uri.Port < 0 ? DefaultPort : uri.Port, string.IsNullOrEmpty(token) ? null : token, directory)
        {
            NamesDirectory = directory is null || namesDirectory,
        };
    }

    /// <summary>
    /// The directory the URL's path names, below the receiver's, as a relative path with '/' separators (null for none).
    /// Read from the text as given, since <see cref="Uri"/> would drop a ".." quietly: a path that climbs is refused,
    /// not taken for another. <paramref name="namesDirectory"/>: whether the path ends with '/'.
    /// </summary>
    private static string? DirectoryOf(string text, string candidate, out bool namesDirectory)
    {
        string rest = candidate[(candidate.IndexOf("://", StringComparison.Ordinal) + 3)..];
        int end = rest.IndexOfAny(['?', '#']);
        if (end >= 0) rest = rest[..end];
        namesDirectory = rest.EndsWith('/');
        int slash = rest.IndexOf('/');
        if (slash < 0) return null;
        var names = new List<string>();
        foreach (string part in rest[(slash + 1)..].Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            string name = Unescaped(part)
                ?? throw new FormatException($"'{WithoutToken(text)}' names a directory with '{part}' in its path, which is not UTF-8 written as a URL writes it ('%' and two hex digits a byte)");
            if (name is "." or ".." || name.Contains('/') || name.Contains('\\') || name.Contains('\0'))
                throw new FormatException($"'{WithoutToken(text)}' names a directory with '{name}' in its path; name one below the receiver's directory, as `backups/web1`");
            names.Add(name);
        }
        return names.Count == 0 ? null : string.Join('/', names);
    }

    /// <summary>
    /// Whether a '?' or '#' meant as part of a directory's name cuts the URL's path, and the token with it: a '/' in
    /// the query before its first '=' (`/e?f/?token=`), or a token after a '#' (`/x#y/?token=`).
    /// </summary>
    private static bool CutInItsPath(string url)
    {
        int fragment = url.IndexOf('#');
        if (fragment >= 0 && url.AsSpan(fragment).Contains("token=", StringComparison.OrdinalIgnoreCase)) return true;
        int query = url.IndexOf('?');
        if (query < 0) return false;
        var rest = url.AsSpan(query + 1);
        int slash = rest.IndexOf('/'), equals = rest.IndexOf('=');
        return slash >= 0 && (equals < 0 || slash < equals);
    }

    /// <summary>A name of the URL's path with its %-escapes decoded, as UTF-8; null when an escape is malformed or the bytes are not UTF-8.</summary>
    private static string? Unescaped(string part)
    {
        var bytes = new List<byte>(part.Length);
        for (int at = 0; at < part.Length;)
        {
            int escape = part.IndexOf('%', at);
            bytes.AddRange(System.Text.Encoding.UTF8.GetBytes(part[at..(escape < 0 ? part.Length : escape)]));
            if (escape < 0) break;
            if (escape + 2 >= part.Length || !byte.TryParse(part.AsSpan(escape + 1, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte value)) return null;
            bytes.Add(value);
            at = escape + 3;
        }
        try
        {
            return Protocol.WireFormat.StrictUtf8.GetString([.. bytes]);
        }
        catch (System.Text.DecoderFallbackException)
        {
            return null;
        }
    }

    /// <summary>What follows "HOST:" up to a path or query: the port, in a bare HOST:PORT.</summary>
    internal static ReadOnlySpan<char> PortPart(ReadOnlySpan<char> rest)
    {
        int end = rest.IndexOfAny('/', '?');
        return end < 0 ? rest : rest[..end];
    }

    /// <summary>The text with a token's value hidden, for messages: errors are logged, and the token opens the receiver.</summary>
    private static string WithoutToken(string text) => TokenValue().Replace(text, "${name}…");

    // Every value after "token=", in any case and wherever it appears: a malformed URL may hold more than one.
    [System.Text.RegularExpressions.GeneratedRegex("(?<name>token=)[^&]*", System.Text.RegularExpressions.RegexOptions.IgnoreCase)]
    private static partial System.Text.RegularExpressions.Regex TokenValue();

    /// <summary>HOST:PORT as a URL writes it: an IPv6 address in brackets.</summary>
    public static string Endpoint(string host, int port) => $"{Bracketed(host)}:{port.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>A host as a URL or [USER@]HOST:DIR writes it: an IPv6 address in brackets, which keeps its ':' from the port's.</summary>
    internal static string Bracketed(string host) => host.Contains(':', StringComparison.Ordinal) ? $"[{host}]" : host;

    /// <summary>The URL as text.</summary>
    public override string ToString()
    {
        string query = Token is null ? "" : "?token=" + Uri.EscapeDataString(Token);
        string path = Directory is null ? "" : string.Join('/', Directory.Split('/').Select(Uri.EscapeDataString)) + (NamesDirectory ? "/" : "");
        return $"{Scheme}://{Endpoint(Host, Port)}/{path}{query}";
    }
}
