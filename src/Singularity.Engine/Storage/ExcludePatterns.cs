using System.IO.Enumeration;

namespace Singularity.Engine.Storage;

/// <summary>
/// The entries a send leaves out, named as rsync's --exclude names them, matched against an entry's path as the
/// destination sees it (relative to the receiver's directory, the path a manifest carries):
/// <list type="bullet">
/// <item>a pattern without '/' matches an entry's name at any depth (<c>*.tmp</c>, <c>.git</c>);</item>
/// <item>a pattern holding '/' matches the end of the path (<c>logs/*.gz</c> matches <c>a/logs/x.gz</c>), and one
/// that starts with '/' the whole path from the destination (<c>/tree/build</c>);</item>
/// <item>a trailing '/' matches directories only (<c>cache/</c>); links are not directories here;</item>
/// <item>within a name, '*' matches any run of characters and '?' one, and '\' makes the next character plain; a
/// whole component '**' matches any number of directories (<c>/tree/**/*.o</c>).</item>
/// </list>
/// An excluded directory is left out with everything below it. With a deletion, the receiver keeps what matches:
/// excluded entries are neither sent nor deleted, as rsync leaves them without --delete-excluded.
/// </summary>
internal sealed class ExcludePatterns
{
    /// <summary>Most patterns a send may give; the receiver refuses more.</summary>
    public const int MostPatterns = 256;

    /// <summary>Longest pattern, in UTF-8 bytes; the receiver refuses longer ones.</summary>
    public const int LongestPatternBytes = 1024;

    private readonly Rule[] _rules;

    private ExcludePatterns(IReadOnlyList<string> patterns, Rule[] rules)
    {
        Patterns = patterns;
        _rules = rules;
    }

    /// <summary>The patterns as given.</summary>
    public IReadOnlyList<string> Patterns { get; }

    /// <summary>
    /// Checks and compiles <paramref name="patterns"/>; null for none. Throws <see cref="ArgumentException"/>
    /// naming the first pattern that is empty, holds an empty component ('//') or a NUL, or is too long, and when
    /// there are more than <see cref="MostPatterns"/>.
    /// </summary>
    public static ExcludePatterns? Parse(IReadOnlyList<string>? patterns)
    {
        if (patterns is null || patterns.Count == 0) return null;
        if (patterns.Count > MostPatterns)
            throw new ArgumentException($"{patterns.Count} exclude patterns are more than the {MostPatterns} a send may give");
        var rules = new Rule[patterns.Count];
        for (int i = 0; i < patterns.Count; i++) rules[i] = Compile(patterns[i]);
        return new ExcludePatterns([.. patterns], rules);
    }

    private static Rule Compile(string pattern)
    {
        if (System.Text.Encoding.UTF8.GetByteCount(pattern) > LongestPatternBytes)
            throw new ArgumentException($"the exclude pattern '{pattern[..Math.Min(pattern.Length, 40)]}…' is longer than {LongestPatternBytes} bytes");
        if (pattern.Contains('\0')) throw new ArgumentException("an exclude pattern may not hold a NUL character");
        bool anchored = pattern.StartsWith('/'), directoryOnly = pattern.EndsWith('/');
        string body = pattern[(anchored ? 1 : 0)..];
        if (directoryOnly && body.Length > 0) body = body[..^1];
        string[] components = body.Split('/');
        if (body.Length == 0 || components.Any(c => c.Length == 0))
            throw new ArgumentException($"the exclude pattern '{pattern}' names nothing: it is empty or holds '//'");
        return new Rule(components, anchored, directoryOnly, NameOnly: !anchored && components.Length == 1 && components[0] != "**");
    }

    /// <summary>Whether the entry at <paramref name="path"/> ('/'-separated, relative to the destination) is left out.</summary>
    public bool Excludes(string path, bool isDirectory)
    {
        string[]? components = null;
        foreach (var rule in _rules)
        {
            if (rule.DirectoryOnly && !isDirectory) continue;
            if (rule.NameOnly)
            {
                if (MatchesName(rule.Components[0], path.AsSpan(path.LastIndexOf('/') + 1))) return true;
                continue;
            }
            components ??= path.Split('/');
            if (rule.Anchored ? MatchesFrom(rule.Components, 0, components, 0) : MatchesTail(rule.Components, components)) return true;
        }
        return false;
    }

    /// <summary>An unanchored pattern of several components: the path's last components, from any depth.</summary>
    private static bool MatchesTail(string[] pattern, string[] path)
    {
        for (int start = 0; start < path.Length; start++)
            if (MatchesFrom(pattern, 0, path, start)) return true;
        return false;
    }

    /// <summary>Whether pattern components from <paramref name="p"/> match exactly the path components from <paramref name="c"/>.</summary>
    private static bool MatchesFrom(string[] pattern, int p, string[] path, int c)
    {
        while (p < pattern.Length)
        {
            if (pattern[p] == "**")
            {
                // Any number of components, none included; patterns are short, so trying each is cheap.
                for (int skip = c; skip <= path.Length; skip++)
                    if (MatchesFrom(pattern, p + 1, path, skip)) return true;
                return false;
            }
            if (c == path.Length || !MatchesName(pattern[p], path[c])) return false;
            p++;
            c++;
        }
        return c == path.Length;
    }

    private static bool MatchesName(string pattern, ReadOnlySpan<char> name) => FileSystemName.MatchesSimpleExpression(pattern, name, ignoreCase: false);

    private sealed record Rule(string[] Components, bool Anchored, bool DirectoryOnly, bool NameOnly);
}
