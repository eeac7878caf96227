namespace Singularity.Engine.Storage;

/// <summary>
/// The entries a send leaves out, named as rsync's --exclude and --include name them, matched against an entry's path
/// as the destination sees it (relative to the receiver's directory, the path a manifest carries):
/// <list type="bullet">
/// <item>a pattern without '/' or '**' matches an entry's name at any depth (<c>*.tmp</c>, <c>.git</c>);</item>
/// <item>one with a '/' inside, or '**', matches the end of the path at a '/' (<c>logs/*.gz</c> matches
/// <c>a/logs/x.gz</c>), and one that starts with '/' the whole path from the destination (<c>/tree/build</c>);</item>
/// <item>a trailing '/' matches directories only (<c>cache/</c>; links are not directories here), and a trailing
/// '/***' a directory and everything below it;</item>
/// <item>'*' matches any run of characters but '/', '**' any run at all, '?' one character but '/', and
/// <c>[a-z]</c>, <c>[!0-9]</c>, <c>[[:digit:]_]</c> one character of a class (never '/'); where the pattern holds a wildcard, '\' makes
/// the next character plain, and elsewhere it is a character like any other;</item>
/// <item>as in rsync's filter rules, a leading "+ " makes a pattern an include and a leading "- " (or none) an
/// exclude; "!" alone clears the patterns before it. The first pattern that matches an entry decides: an exclude
/// leaves it out, an include keeps it, and an entry none matches is kept.</item>
/// </list>
/// An excluded directory is left out with everything below it, so an include below it is never reached (rsync users
/// give <c>+ */</c> first to walk every directory). With a deletion, the receiver keeps what is excluded: excluded
/// entries are neither sent nor deleted, as rsync leaves them without --delete-excluded. Matching costs at most the
/// pattern's length times the path's, whatever the pattern: it never backtracks; a path without the pattern's longest
/// plain run is passed over at once. A receiver matching a sender's patterns also caps the work (see
/// <see cref="LimitWork"/>).
/// </summary>
internal sealed partial class ExcludePatterns
{
    /// <summary>Most patterns a send may give; the receiver refuses more.</summary>
    public const int MostPatterns = 256;

    /// <summary>Longest pattern, in UTF-8 bytes; the receiver refuses longer ones.</summary>
    public const int LongestPatternBytes = 1024;

    /// <summary>Most bytes of all patterns together, which bound the receiver's cost of matching an entry.</summary>
    public const int MostPatternBytes = 8192;

    /// <summary>Matching steps (a token against a character) a receiver allows a session's patterns, about a second's work...</summary>
    public const long ReceiverAllowance = 2_000_000_000;

    /// <summary>...and the steps each entry it walks adds to that: patterns cost a receiver at most about what walking costs it.</summary>
    public const long ReceiverAllowancePerEntry = 20_000;

    private readonly Rule[] _rules;
    private long _workLeft = long.MaxValue;
    private long _workPerEntry;

    private ExcludePatterns(IReadOnlyList<string> patterns, Rule[] rules, bool receiving)
    {
        Patterns = patterns;
        _rules = rules;
        _receiving = receiving;
        _merges = [.. rules.Where(rule => rule.Merge is not null).Select(rule => rule.Merge!)];
        for (int i = 0; i < _merges.Length; i++) _merges[i].Index = i;
    }

    /// <summary>The patterns as given.</summary>
    public IReadOnlyList<string> Patterns { get; }

    /// <summary>
    /// Caps the matching work (a token against a character; for per-directory merge files, a byte read, and a
    /// character scanned for each of their rules, too) at <paramref name="allowance"/> steps plus
    /// <paramref name="perEntry"/> for each entry matched; beyond it, <see cref="Excludes"/> throws LimitExceeded. For a
    /// receiver, whose sender chose the patterns: without it, patterns made to be slow, against a tree of long paths,
    /// would cost far more than the walk they serve.
    /// </summary>
    public void LimitWork(long allowance, long perEntry)
    {
        _workLeft = allowance;
        _workPerEntry = perEntry;
    }

    /// <summary>
    /// Checks and compiles <paramref name="patterns"/>, in their order; null for none. A pattern that starts with ':'
    /// is a dir-merge rule where <paramref name="dirMerge"/> (a receiver's sender announced them), else a pattern, as
    /// it was before them; its files are read as the <paramref name="receiving"/> side reads them
    /// (<see cref="ForSide(IReadOnlyList{string}, bool, bool)"/>). Throws <see cref="ArgumentException"/> naming the
    /// first pattern that names nothing, is malformed, or is too long, and when there are too many.
    /// </summary>
    public static ExcludePatterns? Parse(IReadOnlyList<string>? patterns, bool receiving = false, bool dirMerge = true)
    {
        if (patterns is null || patterns.Count == 0) return null;
        if (patterns.Count > MostPatterns)
            throw Refused($"{patterns.Count} patterns (--exclude, --include and --filter together, on one side of the send) are more than the {MostPatterns} a send may give");
        if (patterns.Sum(System.Text.Encoding.UTF8.GetByteCount) > MostPatternBytes)
            throw Refused($"the patterns (--exclude, --include and --filter, on one side of the send) hold more than {MostPatternBytes} bytes together, the most a send may give");
        var rules = new List<Rule>(patterns.Count);
        foreach (string pattern in patterns) Compile(pattern, rules, dirMerge);
        return new ExcludePatterns([.. patterns], [.. rules], receiving);
    }

    /// <summary>
    /// The rules one side of a send applies, as rsync's filter rules split them: the sender, what it leaves out
    /// ("- " and "+ ", and "H " hide and "S " show, its own); the receiver, what its deletion keeps ("- " and "+ "
    /// unless <paramref name="deleteExcluded"/>, and "P " protect and "R " risk, its own). "!" clears both; a pattern
    /// with none of these prefixes is an exclude. Each rule comes back as "- ", "+ " or "!", but a dir-merge rule
    /// (":MODIFIERS NAME"), which each side keeps, to read its files' rules for its side: for a receiver that deletes
    /// what is excluded, without 'e' and with 'x', which keeps only the files' protect and risk rules.
    /// </summary>
    public static List<string> ForSide(IReadOnlyList<string> rules, bool sender, bool deleteExcluded = false)
    {
        var side = new List<string>(rules.Count);
        foreach (string rule in rules)
            if (ForSide(rule, sender, deleteExcluded) is { } kept) side.Add(kept);
        return side;
    }

    /// <summary>One rule as <see cref="ForSide(IReadOnlyList{string}, bool, bool)"/> gives it to a side; null where the side has no part in it.</summary>
    private static string? ForSide(string rule, bool sender, bool deleteExcluded)
    {
        if (rule.StartsWith(':'))
        {
            if (sender || !deleteExcluded) return rule;
            int space = rule.IndexOf(' ');
            return space < 0 ? rule : ":" + rule[1..space].Replace("e", "", StringComparison.Ordinal) + "x" + rule[space..];
        }
        char kind = rule.Length > 1 && rule[1] == ' ' && "HSPR".Contains(rule[0]) ? rule[0] : '\0';
        return kind switch
        {
            'H' or 'S' when sender => (kind == 'H' ? "- " : "+ ") + rule[2..],
            'P' or 'R' when !sender => (kind == 'P' ? "- " : "+ ") + rule[2..],
            'H' or 'S' or 'P' or 'R' => null,
            _ => sender || !deleteExcluded || rule == "!" ? rule : null,
        };
    }

    private static void Compile(string pattern, List<Rule> rules, bool dirMerge = false)
    {
        string shown = pattern.Length > 60 ? pattern[..60] + "…" : pattern;
        if (System.Text.Encoding.UTF8.GetByteCount(pattern) > LongestPatternBytes)
            throw Refused($"the pattern '{shown}' is longer than {LongestPatternBytes} bytes");
        if (pattern.Contains('\0')) throw Refused("a pattern may not hold a NUL character");
        // As rsync: "!" clears the list so far, and what follows starts a new one.
        if (pattern == "!")
        {
            rules.Clear();
            return;
        }
        if (dirMerge && pattern.StartsWith(':'))
        {
            CompileMerge(pattern, shown, rules);
            return;
        }
        bool include = pattern.StartsWith("+ ", StringComparison.Ordinal);
        string body = include || pattern.StartsWith("- ", StringComparison.Ordinal) ? pattern[2..] : pattern;
        if (body.Contains("//", StringComparison.Ordinal))
            throw Refused($"the pattern '{shown}' names nothing: it holds '//'");
        bool anchored = body.StartsWith('/');
        if (anchored) body = body[1..];
        bool directoryOnly = false, andBelow = false;
        if (body.EndsWith("/***", StringComparison.Ordinal))
        {
            body = body[..^4];
            andBelow = true;
        }
        else if (body.EndsWith('/'))
        {
            body = body[..^1];
            directoryOnly = true;
        }
        if (body.Length == 0) throw Refused($"the pattern '{shown}' names nothing: it is empty");
        bool fullPath = anchored || body.Contains('/') || body.Contains("**", StringComparison.Ordinal);
        rules.Add(Rule.Of(Tokenize(body, shown), anchored, fullPath, directoryOnly || andBelow, include));
        // "dir/***": the directory itself, above, and everything below it.
        if (andBelow) rules.Add(Rule.Of(Tokenize(body + "/**", shown), anchored, fullPath: true, directoryOnly: false, include));
    }

    /// <summary>Names the option the caller set, TransferOptions.Exclude, rather than a parameter here.</summary>
#pragma warning disable CA2208
    private static ArgumentException Refused(string message) => new(message, nameof(TransferOptions.Exclude));
#pragma warning restore CA2208

    private static Token[] Tokenize(string body, string shown)
    {
        // As rsync: a backslash escapes only in a pattern that holds a wildcard.
        bool wildcards = body.AsSpan().IndexOfAny('*', '?', '[') >= 0;
        var tokens = new List<Token>(body.Length);
        for (int i = 0; i < body.Length; i++)
        {
            char c = body[i];
            if (!wildcards) tokens.Add(Token.Literal(c));
            else if (c == '\\')
            {
                if (++i == body.Length) throw Refused($"the pattern '{shown}' ends in a '\\' that escapes nothing");
                tokens.Add(Token.Literal(body[i]));
            }
            else if (c == '*')
            {
                bool twice = i + 1 < body.Length && body[i + 1] == '*';
                if (twice) i++;
                // Runs of stars mean no more than one or two: kept short, so no pattern costs more than its length.
                var kind = twice ? TokenKind.AnyPath : TokenKind.AnyName;
                if (tokens.Count > 0 && tokens[^1].Kind is TokenKind.AnyName or TokenKind.AnyPath)
                {
                    if (kind == TokenKind.AnyPath) tokens[^1] = Token.Of(TokenKind.AnyPath);
                }
                else
                {
                    tokens.Add(Token.Of(kind));
                }
            }
            else if (c == '?') tokens.Add(Token.Of(TokenKind.OneCharacter));
            else if (c == '[') tokens.Add(ParseClass(body, ref i, shown));
            else tokens.Add(Token.Literal(c));
        }
        return [.. tokens];
    }

    /// <summary>
    /// The classes a bracket expression may name, as in rsync's patterns (<c>[[:digit:]]</c>): those of the C locale,
    /// ASCII alone, as rsync matches a name's bytes against them.
    /// </summary>
    private static readonly Dictionary<string, (char From, char To)[]> NamedClasses = new(StringComparer.Ordinal)
    {
        ["alnum"] = [('0', '9'), ('A', 'Z'), ('a', 'z')],
        ["alpha"] = [('A', 'Z'), ('a', 'z')],
        ["blank"] = [(' ', ' '), ('\t', '\t')],
        ["cntrl"] = [('\0', '\x1f'), ('\x7f', '\x7f')],
        ["digit"] = [('0', '9')],
        ["graph"] = [('!', '~')],
        ["lower"] = [('a', 'z')],
        ["print"] = [(' ', '~')],
        ["punct"] = [('!', '/'), (':', '@'), ('[', '`'), ('{', '~')],
        ["space"] = [(' ', ' '), ('\t', '\r')],
        ["upper"] = [('A', 'Z')],
        ["xdigit"] = [('0', '9'), ('A', 'F'), ('a', 'f')],
    };

    /// <summary>A class from the '[' at <paramref name="i"/> to its ']': '!' or '^' first negates it, a ']' first is itself, "a-z" is a range, "[:digit:]" a named class (<see cref="NamedClasses"/>), '\' makes the next character plain.</summary>
    private static Token ParseClass(string body, ref int i, string shown)
    {
        i++;
        bool negated = i < body.Length && body[i] is '!' or '^';
        if (negated) i++;
        var ranges = new List<(char From, char To)>();
        for (bool first = true; ; first = false)
        {
            if (i >= body.Length) throw Refused($"the pattern '{shown}' has a '[' without its ']'");
            char c = body[i];
            if (c == ']' && !first) break;
            if (c == '[' && i + 1 < body.Length && body[i + 1] == ':')
            {
                int close = body.IndexOf(":]", i + 2, StringComparison.Ordinal);
                string name = close < 0 ? "" : body[(i + 2)..close];
                if (!NamedClasses.TryGetValue(name, out var named))
                    throw Refused($"the pattern '{shown}' names a character class that is none of [:{string.Join(":], [:", NamedClasses.Keys)}:]");
                ranges.AddRange(named);
                i = close + 2;
                continue;
            }
            if (c == '\\' && ++i >= body.Length) continue;
            char from = body[i++];
            if (i + 1 < body.Length && body[i] == '-' && body[i + 1] != ']')
            {
                char to = body[i + 1] == '\\' && i + 2 < body.Length ? body[i += 2] : body[++i];
                i++;
                ranges.Add((from, to));
            }
            else
            {
                ranges.Add((from, from));
            }
        }
        return new Token(TokenKind.Class, '\0', [.. ranges], negated);
    }

    /// <summary>Whether the entry at <paramref name="path"/> ('/'-separated, relative to the destination) is left out: the first pattern that matches it is an exclude.</summary>
    public bool Excludes(string path, bool isDirectory)
    {
        if (_workLeft != long.MaxValue) _workLeft += _workPerEntry;
        return Decides(_rules, path, path.AsSpan(), isDirectory) ?? false;
    }

    /// <summary>
    /// What the first of <paramref name="rules"/> that matches says of the entry at <paramref name="path"/> (an
    /// anchored rule matched against <paramref name="text"/>, its path from the directory the rules were read in):
    /// true to leave it out, false to keep it, null where none matches.
    /// </summary>
    private bool? Decides(Rule[] rules, string path, ReadOnlySpan<char> text, bool isDirectory, bool scansCharged = false)
    {
        foreach (var rule in rules)
        {
            if (rule.Merge is { } merge)
            {
                if (DecidesBelow(merge, path, isDirectory) is { } decided) return decided;
                continue;
            }
            if (rule.DirectoryOnly && !isDirectory) continue;
            // A merge file's rule anchored with '/' matches from its file's directory (text); any other, as rsync's, the
            // path from the destination.
            var matched = rule.Anchored ? text : rule.FullPath ? path.AsSpan() : path.AsSpan(path.LastIndexOf('/') + 1);
            // Most paths lack what a pattern spells out plainly: they cost a scan, not a match (counted for the rules of
            // merge files, which may be thousands).
            if (scansCharged) Charge(matched.Length + 1);
            if (rule.Required.Length > 0 && matched.IndexOf(rule.Required, StringComparison.Ordinal) < 0) continue;
            if (_workLeft != long.MaxValue && (_workLeft -= (long)rule.Tokens.Length * (matched.Length + 1)) < 0)
                throw new SingularityException(ErrorCode.LimitExceeded, "matching the send's exclude and include patterns costs more than this receiver allows; give fewer or simpler patterns");
            if (Matches(rule.Tokens, matched, fromAnyComponent: rule.FullPath && !rule.Anchored)) return !rule.Include;
        }
        return null;
    }

    /// <summary>
    /// Whether the tokens match the whole of <paramref name="text"/>, or, <paramref name="fromAnyComponent"/>, its end
    /// from any '/'. One pass per token over which positions of the text can be reached: never more work than tokens
    /// times characters, however the stars are placed.
    /// </summary>
    private static bool Matches(Token[] tokens, ReadOnlySpan<char> text, bool fromAnyComponent)
    {
        int n = text.Length;
        Span<bool> reached = n < 4096 ? stackalloc bool[n + 1] : new bool[n + 1];
        Span<bool> next = n < 4096 ? stackalloc bool[n + 1] : new bool[n + 1];
        reached.Clear();
        reached[0] = true;
        if (fromAnyComponent)
            for (int j = 1; j <= n; j++) reached[j] = text[j - 1] == '/';
        foreach (var token in tokens)
        {
            bool any = false;
            switch (token.Kind)
            {
                case TokenKind.AnyName:
                    next[0] = reached[0];
                    for (int j = 1; j <= n; j++) any |= next[j] = reached[j] || (next[j - 1] && text[j - 1] != '/');
                    any |= next[0];
                    break;
                case TokenKind.AnyPath:
                    next[0] = reached[0];
                    for (int j = 1; j <= n; j++) any |= next[j] = reached[j] || next[j - 1];
                    any |= next[0];
                    break;
                default:
                    next[0] = false;
                    for (int j = 0; j < n; j++) any |= next[j + 1] = reached[j] && token.Accepts(text[j]);
                    break;
            }
            if (!any) return false;
            var swap = reached;
            reached = next;
            next = swap;
        }
        return reached[n];
    }

    private enum TokenKind : byte { Literal, OneCharacter, Class, AnyName, AnyPath }

    private readonly record struct Token(TokenKind Kind, char Character, (char From, char To)[]? Ranges, bool Negated)
    {
        public static Token Literal(char c) => new(TokenKind.Literal, c, null, false);

        public static Token Of(TokenKind kind) => new(kind, '\0', null, false);

        /// <summary>Whether this one-character token accepts <paramref name="c"/>; none accepts '/' but a literal one.</summary>
        public bool Accepts(char c)
        {
            if (Kind == TokenKind.Literal) return c == Character;
            if (c == '/') return false;
            if (Kind == TokenKind.OneCharacter) return true;
            foreach (var (from, to) in Ranges!)
                if (c >= from && c <= to) return !Negated;
            return Negated;
        }
    }

    /// <summary>A compiled pattern, an include or an exclude; <paramref name="Required"/> is its longest plain run, which any path it matches holds.</summary>
    private sealed record Rule(Token[] Tokens, bool Anchored, bool FullPath, bool DirectoryOnly, bool Include, string Required)
    {
        /// <summary>For a dir-merge rule, the files it reads, whose rules decide in its place; null for a pattern.</summary>
        public MergeFile? Merge { get; private init; }

        public static Rule MergeOf(MergeFile merge) => new([], false, false, false, false, "") { Merge = merge };

        public static Rule Of(Token[] tokens, bool anchored, bool fullPath, bool directoryOnly, bool include)
        {
            // As rsync: a leading "**/" also matches at the start, so "**/foo" is "foo" from any component, the first
            // too; anchored, "/**/foo" needs a directory above foo, as rsync's.
            if (!anchored && tokens.Length > 2 && tokens[0].Kind == TokenKind.AnyPath && tokens[1] == Token.Literal('/'))
            {
                tokens = tokens[2..];
                anchored = false;
                fullPath = true;
            }
            return new Rule(tokens, anchored, fullPath, directoryOnly, include, LongestPlainRun(tokens));
        }

        private static string LongestPlainRun(Token[] tokens)
        {
            int bestStart = 0, bestLength = 0, start = 0;
            for (int i = 0; i <= tokens.Length; i++)
            {
                if (i < tokens.Length && tokens[i].Kind == TokenKind.Literal) continue;
                if (i - start > bestLength) (bestStart, bestLength) = (start, i - start);
                start = i + 1;
            }
            var run = new char[bestLength];
            for (int i = 0; i < bestLength; i++) run[i] = tokens[bestStart + i].Character;
            return new string(run);
        }
    }
}
