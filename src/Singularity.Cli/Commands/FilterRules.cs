namespace Singularity.Cli.Commands;

/// <summary>
/// rsync's --filter rules, read into the engine's patterns (TransferOptions.Exclude): "- PATTERN" or "exclude
/// PATTERN", "+" / include, "H" / hide and "S" / show (the sender's alone), "P" / protect and "R" / risk (the
/// receiver's deletion's alone), "!" / clear, and ". FILE" / merge FILE, whose lines are rules too. A space or an '_'
/// ends the rule's name. Per-directory merge files (":" / dir-merge, and so -F) and rule modifiers are refused, named.
/// </summary>
internal static class FilterRules
{
    /// <summary>How deep merge files may name further merge files: deeper is taken for a loop.</summary>
    private const int DeepestMerge = 10;

    private static readonly Dictionary<string, char> LongNames = new(StringComparer.Ordinal)
    {
        ["exclude"] = '-', ["include"] = '+', ["hide"] = 'H', ["show"] = 'S', ["protect"] = 'P', ["risk"] = 'R',
        ["merge"] = '.', ["dir-merge"] = ':', ["clear"] = '!',
    };

    /// <summary>The engine's patterns for one rule, a merge file's in order; <paramref name="readFile"/> gives a merge file's lines.</summary>
    public static IEnumerable<string> Parse(string rule, Func<string, IEnumerable<string>> readFile) => Parse(rule, readFile, depth: 0);

    private static IEnumerable<string> Parse(string rule, Func<string, IEnumerable<string>> readFile, int depth)
    {
        var (kind, argument) = Split(rule);
        switch (kind)
        {
            case '!':
                return ["!"];
            case '.':
                if (depth >= DeepestMerge) throw new FormatException($"--filter '{rule}': merge files name each other more than {DeepestMerge} deep; is there a loop?");
                var rules = new List<string>();
                foreach (string line in readFile(argument))
                {
                    try
                    {
                        rules.AddRange(Parse(line, readFile, depth + 1));
                    }
                    catch (FormatException ex) when (depth == 0)
                    {
                        throw new FormatException($"{ex.Message} (in the merge file '{argument}')");
                    }
                }
                return rules;
            default:
                return [$"{kind} {argument}"];
        }
    }

    /// <summary>The rule's kind ('-', '+', 'H', 'S', 'P', 'R', '.', '!') and what follows its name; a per-directory merge (':') is refused here.</summary>
    private static (char Kind, string Argument) Split(string rule)
    {
        if (rule is "!" or "clear") return ('!', "");
        int end = 0;
        while (end < rule.Length && rule[end] is not (' ' or '_' or ',')) end++;
        string name = rule[..end];
        char kind;
        if (LongNames.TryGetValue(name, out char named)) kind = named;
        else if (name.Length >= 1 && "-+HSPR.:!".Contains(name[0])) kind = name[0];
        else throw new FormatException($"--filter '{rule}' is not a filter rule: it starts with a rule (-, +, H, S, P, R, ., !) or its name (exclude, include, hide, show, protect, risk, merge, clear), then a space and the pattern");
        // Before its modifiers: without them (':- .gitignore' is the usual one) it would be refused all the same.
        if (kind == ':')
            throw new FormatException($"--filter '{rule}': per-directory merge files (dir-merge, ':', and so -F) are not offered; give the rules with --filter, --exclude or --exclude-from");
        // What follows a short name's letter, or a ',' after either, is rsync's modifiers (an empty list too).
        bool comma = end < rule.Length && rule[end] == ',';
        string modifiers = (LongNames.ContainsKey(name) ? "" : name[1..]) + (comma ? rule[(end + 1)..].Split(' ', '_')[0] : "");
        if (modifiers.Length > 0 || comma) throw new FormatException($"--filter '{rule}': rule modifiers ('{modifiers}') are not offered; give the rule without them");
        // "!" and "clear" alone returned above; anything after them is refused, as rsync refuses it.
        if (kind == '!') throw new FormatException($"--filter '{rule}': a clear rule takes nothing after it");
        if (end + 1 >= rule.Length)
            throw new FormatException($"--filter '{rule}' names no {(kind is '.' or ':' ? "file" : "pattern")}: write the rule, a space, then it");
        return (kind, rule[(end + 1)..]);
    }
}
