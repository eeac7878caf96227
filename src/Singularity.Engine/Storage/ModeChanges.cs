namespace Singularity.Engine.Storage;

/// <summary>
/// The permission changes of rsync's --chmod, applied as rsync applies them to the modes a send gives its files and
/// directories: a comma-separated list of clauses, each optionally marked D (directories only) or F (files only),
/// and each either chmod's symbolic form with one operator ("u+rwx", "go-w", "a=rX", "g=u") or an octal mode
/// ("D775", "F664"). Where rsync's reading differs from chmod(1)'s, rsync's is kept: a clause without u, g, o or a
/// is masked by the sender's umask ("+w" gives u+w under umask 022); '=' leaves the setuid, setgid and sticky bits
/// unless it names s or t; "+s" without u, g or a sets the setuid bit only; X adds execute to a file only if the
/// file had any before the changes. One quirk of rsync's is not copied: there, an s after a t in a clause without u,
/// g or a ("+ts") takes the t back; here both are set. Clauses apply in order, each to the result of the last.
/// </summary>
internal sealed class ModeChanges
{
    private const int Permissions = 0b111_111_111;
    private const int AllBits = 0b111_111_111_111;
    private const int SetUser = 0b100_000_000_000, SetGroup = 0b010_000_000_000, Sticky = 0b001_000_000_000;

    private readonly List<Clause> _clauses;

    private ModeChanges(List<Clause> clauses) => _clauses = clauses;

    /// <summary>
    /// One clause: the mode is ANDed with <see cref="Keep"/> and ORed with <see cref="Add"/> (without its execute
    /// bits for a file that had none, with <see cref="ExecuteIfAny"/>), then gains, or with
    /// <see cref="Subtracts"/> loses, the bits of the class <see cref="CopyFrom"/> copied into the classes
    /// <see cref="CopyTo"/> (within <see cref="CopyMask"/>). <see cref="Directories"/>: true for directories only,
    /// false for files only, null for both.
    /// </summary>
    private readonly record struct Clause(bool? Directories, int Keep, int Add, bool ExecuteIfAny, int CopyFrom, int CopyTo, int CopyMask, bool Subtracts);

    /// <summary>
    /// Reads each of <paramref name="specs"/> as rsync reads a --chmod value, masking clauses without a class by
    /// <paramref name="umask"/> (default: this process's); throws <see cref="FormatException"/> naming the first clause
    /// it cannot read.
    /// </summary>
    public static ModeChanges Parse(IEnumerable<string> specs, int? umask = null)
    {
        int mask = umask ?? ProcessUmask.Value;
        var clauses = new List<Clause>();
        foreach (string spec in specs)
            foreach (string item in spec.Split(','))
                clauses.Add(ParseClause(item, mask));
        return new ModeChanges(clauses);
    }

    private static Clause ParseClause(string item, int umask)
    {
        FormatException Unreadable(string why) =>
            new($"'{item}' is not a mode change rsync's --chmod takes ({why}); give chmod's symbolic modes such as 'u+rwx,g-w,o=rX' or octal such as '644', each with an optional D (directories) or F (files) before it");
        bool? directories = null;
        int at = 0, who = 0, specials = 0;
        // The class letters, and D or F among them.
        for (; at < item.Length && item[at] is 'D' or 'F' or 'u' or 'g' or 'o' or 'a'; at++)
        {
            char c = item[at];
            if (c is 'D' or 'F')
            {
                if (directories is { } marked && marked != (c == 'D')) throw Unreadable("it is marked both D and F");
                directories = c == 'D';
                continue;
            }
            who |= c switch { 'u' => 0b001_000_000, 'g' => 0b000_001_000, 'o' => 0b000_000_001, _ => 0b001_001_001 };
            specials |= c switch { 'u' => SetUser, 'g' => SetGroup, 'a' => SetUser | SetGroup, _ => 0 };
        }
        if (at == item.Length) throw Unreadable(item.Length == 0 || at == 0 ? "it changes nothing" : "it names no '+', '-' or '='");
        if (char.IsAsciiDigit(item[at]))
        {
            if (who != 0) throw Unreadable("an octal mode takes no u, g, o or a");
            int octal = 0;
            foreach (char digit in item.AsSpan(at))
            {
                // Digit by digit, as rsync reads it: past 7777 it stops, before any number could overflow.
                if (digit is < '0' or > '7' || (octal = octal * 8 + (digit - '0')) > AllBits) throw Unreadable("an octal mode is digits from 0 to 7, at most 7777");
            }
            return new Clause(directories, 0, octal, false, 0, 0, 0, false);
        }
        char op = item[at++];
        if (op is not ('+' or '-' or '=')) throw Unreadable($"'{op}' is not '+', '-' or '='");
        int what = 0, special = 0, copyFrom = 0;
        bool executeIfAny = false;
        for (; at < item.Length; at++)
        {
            char c = item[at];
            if (copyFrom != 0 || (c is 'u' or 'g' or 'o' && (what | special) != 0))
                throw Unreadable("a class to copy from (u, g or o) stands alone after the operator");
            switch (c)
            {
                case 'r': what |= 0b100; break;
                case 'w': what |= 0b010; break;
                case 'x': what |= 0b001; break;
                case 'X': what |= 0b001; executeIfAny = true; break;
                // As rsync: setuid and setgid of the classes named (a: both), and setuid alone when neither u, g nor a is.
                case 's': special |= specials != 0 ? specials : SetUser; break;
                case 't': special |= Sticky; break;
                case 'u': copyFrom = 0b001_000_000; break;
                case 'g': copyFrom = 0b000_001_000; break;
                case 'o': copyFrom = 0b000_000_001; break;
                default: throw Unreadable(c is '+' or '-' or '=' ? "one operator a clause: give 'u=rw,u+x' for 'u=rw+x'" : $"'{c}' is not one of r, w, x, X, s, t, or a class u, g or o to copy");
            }
        }
        // Without a class, rsync means all three, less what the umask withholds.
        int bits = who != 0 ? who * what : 0b001_001_001 * what & ~umask;
        int copyTo = who != 0 ? who : 0b001_001_001, copyMask = who != 0 ? AllBits : ~umask & AllBits;
        int keep = op switch
        {
            '+' => AllBits,
            '-' => AllBits & ~(bits | special),
            // '=' clears the classes' permissions, and their setuid and setgid only when it names s (or copies).
            _ => AllBits & ~(copyTo * 0b111) & ~(special != 0 ? specials : 0) & ~(copyFrom != 0 ? SpecialsOf(copyTo) : 0),
        };
        return new Clause(directories, keep, op == '-' ? 0 : bits | special, executeIfAny, copyFrom, copyTo, copyMask, op == '-');
    }

    /// <summary>The setuid, setgid and sticky bits of the classes in <paramref name="classes"/> (one bit each: u 0100, g 0010, o 0001).</summary>
    private static int SpecialsOf(int classes) =>
        ((classes & 0b001_000_000) != 0 ? SetUser : 0) | ((classes & 0b000_001_000) != 0 ? SetGroup : 0) | ((classes & 0b000_000_001) != 0 ? Sticky : 0);

    /// <summary>The mode <paramref name="mode"/> becomes, for a directory if <paramref name="directory"/>, else a file.</summary>
    public UnixFileMode Apply(UnixFileMode mode, bool directory)
    {
        int bits = (int)mode & AllBits;
        // X looks at the mode before any change, as rsync's does.
        bool executable = (bits & 0b001_001_001) != 0;
        foreach (var clause in _clauses)
        {
            if (clause.Directories is { } forDirectories && forDirectories != directory) continue;
            int copied = CopiedBits(bits, clause);
            bits &= clause.Keep;
            bits |= clause.ExecuteIfAny && !executable && !directory ? clause.Add & ~0b001_001_001 : clause.Add;
            bits = clause.Subtracts ? bits & ~copied : bits | copied;
        }
        return (UnixFileMode)(bits & AllBits);
    }

    /// <summary>The permissions of the class a clause copies from, as they stand, put in the classes it names.</summary>
    private static int CopiedBits(int bits, Clause clause)
    {
        if (clause.CopyFrom == 0) return 0;
        int shift = clause.CopyFrom switch { 0b001_000_000 => 6, 0b000_001_000 => 3, _ => 0 };
        return clause.CopyTo * ((bits >> shift) & 0b111) & clause.CopyMask;
    }

    /// <summary>This process's umask, which rsync applies to a clause without a class; 022 where it cannot be read.</summary>
    private static readonly Lazy<int> ProcessUmask = new(() =>
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("Umask:", StringComparison.Ordinal))
                    return Convert.ToInt32(line[6..].Trim(), 8) & Permissions;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
        }
        return 0b000_010_010;
    });
}
