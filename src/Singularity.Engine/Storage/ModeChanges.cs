namespace Singularity.Engine.Storage;

/// <summary>
/// The permission changes of rsync's --chmod, applied to the modes a send gives its files and directories: a
/// comma-separated list of chmod(1) symbolic modes ("u+rwx,g-w,o=rX"), each optionally prefixed with D (directories
/// only) or F (files only), or an octal mode ("D775,F664"). As rsync applies them, a clause without a who ("+x")
/// means all of u, g and o, with no umask. Clauses apply in order, each to the result of the last.
/// </summary>
internal sealed class ModeChanges
{
    private const int Special = 0b111_000_000_000;
    private const int AllBits = 0b111_111_111_111;

    // Who: the bits of one class (u, g, o), each with its special bit (setuid, setgid, sticky).
    private const int User = 0b100_111_000_000, Group = 0b010_000_111_000, Other = 0b001_000_000_111;

    private readonly List<Clause> _clauses;

    private ModeChanges(List<Clause> clauses) => _clauses = clauses;

    /// <summary>Whether there is nothing to change.</summary>
    public bool IsEmpty => _clauses.Count == 0;

    /// <summary>
    /// One change: for <see cref="Directories"/> true, directories only; false, files only; null, both. An octal
    /// clause sets the mode to <see cref="Bits"/>; a symbolic one applies <see cref="Operator"/> ('+', '-', '=') to
    /// the classes <see cref="Who"/> covers, with the permissions of <see cref="Permissions"/> ("rwxXst").
    /// </summary>
    private readonly record struct Clause(bool? Directories, bool Octal, int Bits, int Who, char Operator, string Permissions);

    /// <summary>Reads each of <paramref name="specs"/> as rsync reads a --chmod value; throws <see cref="FormatException"/> naming the first clause it cannot read.</summary>
    public static ModeChanges Parse(IEnumerable<string> specs)
    {
        var clauses = new List<Clause>();
        foreach (string spec in specs)
            foreach (string item in spec.Split(','))
                ParseItem(item, clauses);
        return new ModeChanges(clauses);
    }

    private static void ParseItem(string item, List<Clause> clauses)
    {
        FormatException Unreadable(string why) =>
            new($"'{item}' is not a mode change rsync's --chmod takes ({why}); give chmod's symbolic modes such as 'u+rwx,g-w,o=rX' or octal such as '644', each with an optional D (directories) or F (files) before it");
        string text = item.Trim();
        bool? directories = null;
        if (text.StartsWith('D')) (directories, text) = (true, text[1..]);
        else if (text.StartsWith('F')) (directories, text) = (false, text[1..]);
        if (text.Length == 0) throw Unreadable("it changes nothing");
        if (char.IsAsciiDigit(text[0]))
        {
            if (text.Length > 4 || !text.All(c => c is >= '0' and <= '7')) throw Unreadable("an octal mode is 1 to 4 digits from 0 to 7");
            clauses.Add(new Clause(directories, true, Convert.ToInt32(text, 8), 0, '=', ""));
            return;
        }
        int at = 0, who = 0;
        for (; at < text.Length && text[at] is 'u' or 'g' or 'o' or 'a'; at++)
            who |= text[at] switch { 'u' => User, 'g' => Group, 'o' => Other, _ => User | Group | Other };
        if (who == 0) who = User | Group | Other;
        if (at == text.Length) throw Unreadable("it names no '+', '-' or '='");
        while (at < text.Length)
        {
            char op = text[at++];
            if (op is not ('+' or '-' or '=')) throw Unreadable($"'{op}' is not '+', '-' or '='");
            int start = at;
            while (at < text.Length && text[at] is 'r' or 'w' or 'x' or 'X' or 's' or 't') at++;
            if (at < text.Length && text[at] is not ('+' or '-' or '=')) throw Unreadable($"'{text[at]}' is not one of r, w, x, X, s and t");
            clauses.Add(new Clause(directories, false, 0, who, op, text[start..at]));
        }
    }

    /// <summary>The mode <paramref name="mode"/> becomes, for a directory if <paramref name="directory"/>, else a file.</summary>
    public UnixFileMode Apply(UnixFileMode mode, bool directory)
    {
        int bits = (int)mode & AllBits;
        foreach (var clause in _clauses)
        {
            if (clause.Directories is { } forDirectories && forDirectories != directory) continue;
            if (clause.Octal)
            {
                bits = clause.Bits;
                continue;
            }
            int permissions = PermissionsOf(clause, bits, directory);
            bits = clause.Operator switch
            {
                '+' => bits | permissions,
                '-' => bits & ~permissions,
                _ => (bits & ~clause.Who) | permissions,
            };
        }
        return (UnixFileMode)bits;
    }

    /// <summary>The bits a clause's permissions stand for in the classes it names.</summary>
    private static int PermissionsOf(Clause clause, int bits, bool directory)
    {
        int each = 0, special = 0;
        foreach (char permission in clause.Permissions)
        {
            switch (permission)
            {
                case 'r': each |= 0b100; break;
                case 'w': each |= 0b010; break;
                case 'x': each |= 0b001; break;
                // Execute only where it means search, or some class may already execute.
                case 'X': if (directory || (bits & 0b001_001_001) != 0) each |= 0b001; break;
                case 's': special |= 0b110_000_000_000; break;
                case 't': special |= 0b001_000_000_000; break;
            }
        }
        int result = each << 6 | each << 3 | each;
        return (result | special) & clause.Who;
    }
}
