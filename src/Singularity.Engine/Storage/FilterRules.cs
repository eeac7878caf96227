namespace Singularity.Engine;

/// <summary>
/// rsync's --filter rules, read into the patterns of <see cref="TransferOptions.Exclude"/>: "- PATTERN" or "exclude
/// PATTERN", "+" / include, "H" / hide and "S" / show (the sender's alone), "P" / protect and "R" / risk (the
/// receiver's deletion's alone), "!" / clear, ". FILE" / merge FILE, whose lines are rules too, and ": NAME" /
/// dir-merge NAME (and so rsync's -F), the rules of the file NAME in each directory a side walks, for what that
/// directory holds. A space or an '_' ends the rule's name. A dir-merge rule takes rsync's modifiers 'e' (the files
/// NAME are left out too), 'n' (a file's rules are for what its directory holds itself, not below), and '-' or '+'
/// (each line of the files a pattern, an exclude or an include); "/NAME" reads NAME in the directories above those
/// sent as well. Other modifiers are refused, named.
/// </summary>
public static class FilterRules
{
    /// <summary>The modifiers a dir-merge rule may take here.</summary>
    public const string DirMergeModifiers = "en-+";

    /// <summary>How deep merge files may name further merge files: deeper is taken for a loop.</summary>
    private const int DeepestMerge = 10;

    private static readonly Dictionary<string, char> LongNames = new(StringComparer.Ordinal)
    {
        ["exclude"] = '-', ["include"] = '+', ["hide"] = 'H', ["show"] = 'S', ["protect"] = 'P', ["risk"] = 'R',
        ["merge"] = '.', ["dir-merge"] = ':', ["clear"] = '!',
    };

    /// <summary>
    /// The patterns of <see cref="TransferOptions.Exclude"/> for one rule, a merge file's in order; <paramref name="readFile"/>
    /// gives a merge file's lines (without blank lines and comments). A dir-merge rule becomes ":MODIFIERS NAME".
    /// Throws <see cref="FormatException"/> saying what is wrong with the rule.
    /// </summary>
    public static IReadOnlyList<string> Parse(string rule, Func<string, IEnumerable<string>> readFile)
    {
        ArgumentNullException.ThrowIfNull(rule);
        ArgumentNullException.ThrowIfNull(readFile);
        return Parse(rule, readFile, depth: 0);
    }

    private static List<string> Parse(string rule, Func<string, IEnumerable<string>> readFile, int depth)
    {
        var (kind, modifiers, argument) = Split(rule, "--filter ");
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
            case ':':
                return [$":{modifiers} {argument}"];
            default:
                return [$"{kind} {argument}"];
        }
    }

    /// <summary>
    /// The pattern one line of a per-directory merge file read with a dir-merge rule's <paramref name="modifiers"/>
    /// gives: null for a blank line or a comment ('#', ';'), the line itself as an exclude or an include with '-' or
    /// '+', else the rule it is ('-', '+', 'H', 'S', 'P', 'R' or '!', no merge of its own). Throws
    /// <see cref="FormatException"/> for a line that is no such rule.
    /// </summary>
    internal static string? LineOf(string line, string modifiers)
    {
        if (line.Length == 0 || line[0] is '#' or ';') return null;
        if (modifiers.Contains('-')) return "- " + line;
        if (modifiers.Contains('+')) return "+ " + line;
        var (kind, _, argument) = Split(line, "");
        if (kind is '.' or ':') throw new FormatException($"'{line}': a per-directory merge file may not merge others; give that rule with --filter");
        return kind == '!' ? "!" : $"{kind} {argument}";
    }

    /// <summary>The rule's kind ('-', '+', 'H', 'S', 'P', 'R', '.', ':', '!'), a dir-merge's modifiers, and what follows the rule's name; <paramref name="option"/> leads each error's rule.</summary>
    private static (char Kind, string Modifiers, string Argument) Split(string rule, string option)
    {
        if (rule is "!" or "clear") return ('!', "", "");
        int end = 0;
        while (end < rule.Length && rule[end] is not (' ' or '_' or ',')) end++;
        string name = rule[..end];
        char kind;
        if (LongNames.TryGetValue(name, out char named)) kind = named;
        else if (name.Length >= 1 && "-+HSPR.:!".Contains(name[0])) kind = name[0];
        else throw new FormatException($"{option}'{rule}' is not a filter rule: it starts with a rule (-, +, H, S, P, R, ., :, !) or its name (exclude, include, hide, show, protect, risk, merge, dir-merge, clear), then a space and the pattern");
        // What follows a short name's letter, or a ',' after either, is rsync's modifiers (an empty list too).
        bool comma = end < rule.Length && rule[end] == ',';
        string modifiers = (LongNames.ContainsKey(name) ? "" : name[1..]) + (comma ? rule[(end + 1)..].Split(' ', '_')[0] : "");
        if (comma) end += 1 + modifiers.Length - (LongNames.ContainsKey(name) ? 0 : name.Length - 1);
        if (kind == ':')
        {
            if (DirMergeModifiersFault(modifiers, DirMergeModifiers) is { } fault) throw new FormatException($"{option}'{rule}': {fault}");
        }
        else if (modifiers.Length > 0 || comma)
        {
            throw new FormatException($"{option}'{rule}': rule modifiers ('{modifiers}') are not offered; give the rule without them");
        }
        // "!" and "clear" alone returned above; anything after them is refused, as rsync refuses it.
        if (kind == '!') throw new FormatException($"{option}'{rule}': a clear rule takes nothing after it");
        if (end + 1 >= rule.Length)
            throw new FormatException($"{option}'{rule}' names no {(kind is '.' or ':' ? "file" : "pattern")}: write the rule, a space, then it");
        string argument = rule[(end + 1)..];
        if (kind == ':' && !IsMergeName(argument))
            throw new FormatException($"{option}'{rule}': a per-directory merge file is named by its name alone (.rsync-filter), or /NAME to read it in the directories above those sent as well");
        return (kind, modifiers, argument);
    }

    /// <summary>
    /// What is wrong with a dir-merge rule's <paramref name="modifiers"/>, each of <paramref name="offered"/> and given
    /// once, '-' or '+' not both; null where nothing is. One rule for the command line and for a receiver's Exclude.
    /// </summary>
    internal static string? DirMergeModifiersFault(string modifiers, string offered)
    {
        if (modifiers.FirstOrDefault(m => !offered.Contains(m)) is var other and not '\0')
            return $"the dir-merge modifier '{other}' is not offered; it takes e (leave the files out too), n (not for what lies below), - or + (each line an exclude, or an include)";
        if (modifiers.Distinct().Count() != modifiers.Length || (modifiers.Contains('-') && modifiers.Contains('+')))
            return "give each modifier once, and '-' or '+', not both";
        return null;
    }

    /// <summary>A per-directory merge file's name: one name, with a '/' before it to be read in the directories above too.</summary>
    internal static bool IsMergeName(string argument)
    {
        string name = argument.StartsWith('/') ? argument[1..] : argument;
        return name.Length > 0 && name is not ("." or "..") && !name.Contains('/') && !name.Contains('\0');
    }
}
