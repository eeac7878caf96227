using System.Diagnostics.CodeAnalysis;

namespace Singularity.Engine;

/// <summary>
/// A destination written as scp and rsync write one, <c>[USER@]HOST:DIR</c>: a directory on another machine that a
/// remote shell (ssh) reaches, where <see cref="RemoteReceiver"/> starts a receiver. DIR is relative to the login's
/// home directory unless it starts with '/'; empty, it is the home directory itself.
/// </summary>
public sealed record RemoteTarget(string? User, string Host, string Directory)
{
    /// <summary>
    /// Reads <paramref name="text"/> as <c>[USER@]HOST:DIR</c> (an IPv6 host in brackets), by rsync's rule: a ':'
    /// before any '/'. False for anything else: a local path (<c>./a:b</c>), a <c>sglty://</c> URL, or a bare
    /// <c>HOST:PORT</c>, which is a URL (so a directory named by digits alone is written <c>HOST:./2024</c>). Throws a
    /// <see cref="FormatException"/> for rsync's daemon form (<c>HOST::MODULE</c>) and for a host or user a shell
    /// would take for an option. On Windows, a drive's letter (<c>C:\dst</c>, <c>D:</c>) is a local path, as Windows' scp takes it.
    /// </summary>
    public static bool TryParse(string text, [NotNullWhen(true)] out RemoteTarget? target) => TryParse(text, OperatingSystem.IsWindows(), out target);

    internal static bool TryParse(string text, bool windows, [NotNullWhen(true)] out RemoteTarget? target)
    {
        ArgumentNullException.ThrowIfNull(text);
        target = null;
        if (text.Contains("://", StringComparison.Ordinal)) return false;
        int colon = text.IndexOf(':');
        if (windows && colon == 1 && char.IsAsciiLetter(text[0])) return false;
        int slash = text.IndexOf('/');
        if (colon <= 0 || (slash >= 0 && slash < colon)) return false;
        string head, host, directory;
        int bracket = text.IndexOf('[');
        if (bracket >= 0 && bracket < colon)
        {
            // [USER@][v6]:DIR: the address's own colons are inside the brackets.
            int close = text.IndexOf(']', bracket);
            head = text[..bracket];
            if (close < 0 || close + 1 >= text.Length || text[close + 1] != ':' || (head.Length > 0 && !head.EndsWith('@'))) return false;
            host = text[(bracket + 1)..close];
            directory = text[(close + 2)..];
        }
        else
        {
            head = text[..colon];
            int at = head.LastIndexOf('@');
            host = head[(at + 1)..];
            head = head[..(at + 1)];
            directory = text[(colon + 1)..];
        }
        if (directory.StartsWith(':'))
            throw new FormatException($"'{text}' is rsync's form for a daemon's module; sglty reaches a receiver by the sglty:// URL it prints, or HOST:DIR through ssh");
        // HOST:PORT[/...] is the bare form of a receiver's URL.
        if (ConnectionUrl.PortPart(directory) is { Length: > 0 } port && !port.ContainsAnyExceptInRange('0', '9')) return false;
        string? user = head.Length > 0 ? head[..^1] : null;
        if (host.Length == 0) return false;
        // What reaches the shell's command line must not read as an option (ssh -oProxyCommand=...) or split in two.
        if (host.StartsWith('-') || host.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c == '@'))
            throw new FormatException($"'{host}' in '{text}' is not a host name");
        if (user is not null && (user.Length == 0 || user.StartsWith('-') || user.Any(c => char.IsWhiteSpace(c) || char.IsControl(c))))
            throw new FormatException($"'{user}' in '{text}' is not a user name");
        if (directory.Contains('\0', StringComparison.Ordinal))
            throw new FormatException($"the directory in '{text}' holds a NUL character");
        target = new RemoteTarget(user, host, directory);
        return true;
    }

    /// <summary>The target as written: <c>[USER@]HOST:DIR</c>.</summary>
    public override string ToString() => $"{(User is null ? "" : User + "@")}{ConnectionUrl.Bracketed(Host)}:{Directory}";
}
