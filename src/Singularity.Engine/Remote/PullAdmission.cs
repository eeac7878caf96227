using System.Text;
using System.Text.RegularExpressions;
using Singularity.Engine.Storage;

namespace Singularity.Engine;

/// <summary>
/// What the receiver of one pull admits from the machine pulled from: what the user asked for, and nothing else, as
/// scp's and rsync's clients check what a server sends (scp's CVE-2019-6111). Entries only under a first name a path
/// asked for (a pattern's matches, a listed name's first directory, a named directory; anything for a directory's
/// contents); deleting what the source does not have, cleaning the target itself, deleting names and replacing full
/// directories (--force) only when asked; a directory to write into (a directory pulled to a name) only under such a
/// first name too.
/// </summary>
internal sealed class PullAdmission
{
    /// <summary>How the receiver's refusal of what was not asked for begins.</summary>
    public const string Refusal = "the machine pulled from sent ";

    private readonly List<Func<string, bool>>? _firstNames;

    private PullAdmission(List<Func<string, bool>>? firstNames, TransferOptions options)
    {
        _firstNames = firstNames;
        Deletion = options.DeleteExtraneous;
        NamesDeleted = options.DeleteMissingArgs;
        // A deletion the sender skips (something was left out there) still replaces directories in the way, as --force.
        Force = options.Force || options.DeleteExtraneous;
        DelayUpdates = options.DelayUpdates;
        DeleteBefore = options.DeleteBefore;
    }

    /// <summary>Whether the user asked to delete what the source does not have (--delete).</summary>
    public bool Deletion { get; }

    /// <summary>Whether the deletion may clean the target itself: where what arrives there is a directory's contents, whatever its names.</summary>
    public bool RootCleaned => _firstNames is null;

    /// <summary>Whether the user asked to delete what missing paths name (--delete-missing-args).</summary>
    public bool NamesDeleted { get; }

    /// <summary>Whether the user asked to replace full directories in the way (--force).</summary>
    public bool Force { get; }

    /// <summary>Whether the user asked for the files to go into place together at the end (--delay-updates).</summary>
    public bool DelayUpdates { get; }

    /// <summary>Whether the user asked to delete before the files arrive (--delete-before).</summary>
    public bool DeleteBefore { get; }

    /// <summary>Whether an entry (a path relative to the target) lies under a first name the pull asked for.</summary>
    public bool Admits(string path)
    {
        if (_firstNames is null) return true;
        int slash = path.IndexOf('/');
        string first = slash < 0 ? path : path[..slash];
        return _firstNames.Exists(admits => admits(first));
    }

    /// <summary>
    /// What a pull of <paramref name="paths"/> there may send here: into a name (<paramref name="fileName"/>), that
    /// name alone; with <paramref name="filesFrom"/>, the first names of what it lists below the one path.
    /// </summary>
    public static PullAdmission For(IReadOnlyList<string> paths, TransferOptions options, string? fileName, IReadOnlyList<string>? filesFrom)
    {
        if (fileName is not null) return new PullAdmission([name => name == fileName], options);
        var firstNames = new List<Func<string, bool>>();
        // As the send there keeps them: a listed name below its directory, a relative path by its "/./" (one from '~'
        // keeps the home the shell there expands it to, unknown here); one holding ".." it leaves out.
        IEnumerable<string?> kept = filesFrom is not null ? filesFrom.Select(name => SourceScanner.KeptPath(ListedPaths.Join(".", name)))
            : options.Relative ? paths.Select(path => path.StartsWith('~') && !path.Contains("/./", StringComparison.Ordinal) ? "" : SourceScanner.KeptPath(path))
            : paths.Select(LastName);
        foreach (string? part in kept)
        {
            if (part is null) continue;
            // A directory's contents (or a path whose name is only known there): any name.
            if (part.Length == 0) return new PullAdmission(null, options);
            int slash = part.IndexOf('/');
            firstNames.Add(Matcher(slash < 0 ? part : part[..slash]));
        }
        return new PullAdmission(firstNames, options);
    }

    /// <summary>The name a path sent arrives under; empty for a directory's contents, or a name only known there ('~', '~user', '..').</summary>
    private static string LastName(string path)
    {
        if (path.Length == 0 || SourceScanner.ContentsOnly(path) || path is "~" || (path.StartsWith('~') && !path.Contains('/'))) return "";
        string name = path[(path.LastIndexOf('/') + 1)..];
        return name is "." or ".." ? "" : name;
    }

    /// <summary>
    /// What a name of a path matches: itself, or for a pattern, what the shell there matches
    /// (<see cref="RemoteCommand.Pattern"/>), not a leading '.' but by one, and the pattern's own text, which a shell
    /// that matched nothing leaves as a name ('a[1].txt', where no 'a1.txt' stands).
    /// </summary>
    private static Func<string, bool> Matcher(string name)
    {
        // Cut once: the text the shell leaves of it, and what it matches.
        var parts = RemoteCommand.Parts(name);
        string literal = string.Concat(parts.Select(part => part.Text));
        if (!parts.Exists(part => part.Bare)) return first => first == literal;
        var pattern = new StringBuilder("^");
        foreach (var (text, bare) in parts)
        {
            if (!bare) pattern.Append(Regex.Escape(text));
            else if (text == "*") pattern.Append("[^/]*");
            else if (text == "?") pattern.Append("[^/]");
            else pattern.Append('[').Append(text[1] is '!' or '^' ? "^" + text[2..^1] : text[1..^1]).Append(']');
        }
        var regex = new Regex(pattern.Append('$').ToString(), RegexOptions.CultureInvariant);
        bool leadingDot = parts is [({ Length: > 0 } first, false), ..] && first[0] == '.';
        return first => first == literal || ((leadingDot || !first.StartsWith('.')) && regex.IsMatch(first));
    }
}
