using System.Text.RegularExpressions;
using Singularity.Engine.Storage;

namespace Singularity.Engine;

/// <summary>
/// The command line a remote shell runs to start a receiver for <see cref="RemoteReceiver"/>: a short POSIX shell
/// script that makes the target directory as rsync makes it, then runs <c>sglty recv</c> there until its input
/// closes. Every word is quoted for a POSIX shell (ssh hands the line to the login's shell, which splits it again),
/// but a leading <c>~user</c>, which that shell expands, as it expands scp's and rsync's.
/// </summary>
internal static partial class RemoteCommand
{
    /// <summary>What the command prints when the target names a file, before the receiver prints its URL.</summary>
    public const string NamesFile = "sglty-names-a-file";

    /// <summary>
    /// The command line for <paramref name="target"/>. With <paramref name="fileName"/>, a target that is not a
    /// directory there names the file, and the receiver serves the directory above it, saying so first.
    /// </summary>
    public static string For(RemoteTarget target, RemoteShell shell, TransferOptions options, (string Parent, string Name)? fileName = null)
    {
        var words = new List<string> { "recv", "--until-stdin-closes", "--listen=" + shell.Listen };
        if (options.Cipher == CipherSuite.None) words.Add("--encrypt=none");
        if (options.Devices) words.Add("--devices");
        if (options.CongestionControl is { } congestion) words.Add("--congestion=" + congestion);
        string find = Find(shell);
        string run = $"{Program(shell)} \"$@\" \"--dir=$d\"";
        string last = Last(shell, run);
        // The directory as an absolute path: the user's words may change directory first ("cd /srv && sglty").
        string choose = (fileName is null ? "d=$1; shift; " : $"d=$1; f=$2; shift 2; if [ ! -d \"$d\" ]; then d=$f; echo {NamesFile}; fi; ")
            + "case $d in /*) ;; *) d=$PWD/$d ;; esac; ";
        // What is not there is made as rsync makes it: the last directory alone, unless --mkpath (each as mkdir makes
        // it, by the login's umask, not private as recv makes its own); the directory that holds a file named must be
        // there. A file in the way is left for recv to refuse in its own words. A dry run checks the same. The codes
        // are recv's (and rsync's) for the same: 3, a path that cannot be used; 11, a directory that cannot be made.
        string check = shell.MakePath ? ""
            : fileName is null ? "[ -e \"$d\" ] || { u=$(dirname -- \"$d\"); [ -d \"$u\" ] || { [ -e \"$u\" ] && echo \"sglty: error: '$u' is not a directory there\" >&2 || echo \"sglty: error: '$u' is not there; make it first, or send with --mkpath\" >&2; exit 3; }; }; "
            : "[ -d \"$d\" ] || { [ -e \"$d\" ] && echo \"sglty: error: '$d' is not a directory there\" >&2 || echo \"sglty: error: '$d' is not there; make it first, or send with --mkpath\" >&2; exit 3; }; ";
        // A dry run makes nothing: one into a directory not there runs in an empty one of its own, where everything is
        // new, as it would be, removed however the shell ends but killed.
        string serve = options.DryRun
            ? $"if [ -e \"$d\" ]; then {last}; exit; fi; t=$(mktemp -d) || exit 1; trap 'rm -rf -- \"$t\"' EXIT HUP INT TERM; d=$t; ({run})"
            : $"[ -e \"$d\" ] || mkdir {(shell.MakePath ? "-p " : "")}-- \"$d\" || exit 11; {last}";
        string script = choose + find + check + serve;
        // "sh" as the script's name: the shell's own errors then read "sh: ...", not as sglty's.
        var line = new List<string> { Quoted("sh"), Quoted("-c"), Quoted(script), Quoted("sh"), Word(DirectoryThere(target.Directory)) };
        if (fileName is { } named) line.Add(Word(named.Parent));
        line.AddRange(words.Select(Quoted));
        return string.Join(' ', line);
    }

    /// <summary>
    /// The command line that runs <c>sglty send</c> there for <see cref="RemoteSender"/>: to <paramref name="url"/>, with
    /// <paramref name="sendWords"/>, sending <paramref name="paths"/> (relative to where the login starts), the one path
    /// as <paramref name="fileName"/> when there is one (a directory into a directory of that name). The token comes
    /// as the first line of its input, then, where <paramref name="listed"/>, the names of its --files-from, and the
    /// send ends when that input does.
    /// </summary>
    public static string ForSend(RemoteShell shell, ConnectionUrl url, IReadOnlyList<string> sendWords, IReadOnlyList<string> paths, string? fileName = null, bool listed = false)
    {
        var words = new List<string> { "send", "--until-stdin-closes", "--token-file=-" };
        if (listed) words.AddRange(["--files-from=-", "--from0"]);
        words.AddRange(sendWords);
        // Without a host, this machine's address is the one the login there came from, as ssh tells it.
        string to = url.Host.Length > 0 ? "" : "c=${SSH_CONNECTION%% *}; [ -n \"$c\" ] || { echo \"sglty: error: no SSH_CONNECTION there, so the send cannot tell where this machine is; pull with a host name this machine can look up, or through ssh\" >&2; exit 1; }; "
            + $"case $c in *:*) c=\"[$c]\";; esac; shift; set -- send \"--to={ConnectionUrl.Scheme}://$c:{url.Port}/\" \"$@\"; ";
        if (url.Host.Length > 0) words.Add("--to=" + url);
        if (fileName is not null) words.Add("--file-name=" + fileName);
        var line = new List<string> { Quoted("sh"), Quoted("-c"), Quoted(to + Find(shell) + Last(shell, $"{Program(shell)} \"$@\"")), Quoted("sh") };
        line.AddRange(words.Select(Quoted));
        line.Add("--");
        line.AddRange(paths.Select(SourceThere));
        return string.Join(' ', line);
    }

    /// <summary>
    /// The words that find sglty there: the program is the user's own words, as rsync's --rsync-path ("sudo sglty");
    /// without one, sglty on the PATH of a login there, else where the README builds it.
    /// </summary>
    private static string Find(RemoteShell shell) => shell.Program is null
        ? $"p=$(command -v sglty) || p=\"$HOME/sglty/sglty\"; [ -x \"$p\" ] || {{ echo \"{NotInstalled}\" >&2; exit 127; }}; "
        : "";

    /// <summary>What the words of <see cref="Find"/> print there, exiting 127, where sglty is neither on the PATH nor where the README builds it.</summary>
    internal const string NotInstalled = "sglty: sglty is not on the PATH of a login there, nor at ~/sglty/sglty";

    private static string Program(RemoteShell shell) => shell.Program ?? "\"$p\"";

    /// <summary>The last command: the user's words may be more than a program ("cd /srv &amp;&amp; sglty", as rsync's documented --rsync-path), so they are run, not exec'd.</summary>
    private static string Last(RemoteShell shell, string run) => shell.Program is null ? $"exec {run}" : run;

    /// <summary>
    /// Where a send of one file may give it the target's name, as scp and rsync do when the target is not a directory:
    /// the directory above the target, and the name; null where the target must be a directory (more than one source,
    /// a directory, --relative, or a target that ends in '/').
    /// </summary>
    public static (string Parent, string Name)? FileTarget(RemoteTarget target, IReadOnlyList<string> paths, TransferOptions options)
    {
        if (paths is not [var path] || options.Relative || SourceScanner.ContentsOnly(path) || Directory.Exists(path)) return null;
        string there = DirectoryThere(target.Directory);
        int slash = there.LastIndexOf('/');
        string name = there[(slash + 1)..];
        if (name is "" or "." or ".." || (slash < 0 && HomeOf().IsMatch(there))) return null;
        return (slash < 0 ? "." : slash == 0 ? "/" : there[..slash], name);
    }

    /// <summary>The directory as recv takes it there: relative to the login's home, which is where a remote shell starts.</summary>
    private static string DirectoryThere(string directory) => directory switch
    {
        "" or "~" or "~/" => ".",
        _ when directory.StartsWith("~/", StringComparison.Ordinal) => directory[2..],
        _ => directory,
    };

    /// <summary>
    /// A source there as the remote shell reads it: empty, the login's home as where the send starts ("."); a leading
    /// <c>~</c> or <c>~user</c> left for that shell to expand, as it expands scp's and rsync's, so that it names the home
    /// even where --sglty-path changes directory first; wildcards left for it to match (<see cref="Pattern"/>).
    /// </summary>
    private static string SourceThere(string path) =>
        path.Length == 0 ? "."
        : path == "~" ? "~"
        : path.StartsWith("~/", StringComparison.Ordinal) ? "~/" + (path.Length > 2 ? Pattern(path[2..]) : "")
        : Word(path, Pattern);

    /// <summary>A path as the remote shell reads it: <paramref name="rest"/> (quoted), but for a leading <c>~user</c>, left for that shell to expand.</summary>
    private static string Word(string path, Func<string, string>? rest = null)
    {
        rest ??= Quoted;
        if (!HomeOf().IsMatch(path)) return rest(path);
        int slash = path.IndexOf('/');
        return slash < 0 ? path : path[..(slash + 1)] + (slash + 1 < path.Length ? rest(path[(slash + 1)..]) : "");
    }

    /// <summary>
    /// A source as the remote shell expands it, as it expands scp's and rsync's: '*', '?' and a class such as
    /// <c>[a-z]</c> or <c>[!0-9]</c> are left bare for it to match, everything else is quoted. A class holds letters,
    /// digits and '._-' alone (any other '[' is a name's own, which keeps the line safe to hand a shell); as in
    /// --exclude patterns, '\' makes the next character a name's own in a path that holds '*', '?' or '['. A pattern
    /// that matches nothing is left as it is by a POSIX shell, and the send there says it is not there.
    /// </summary>
    internal static string Pattern(string path) => string.Concat(Parts(path).Select(part => part.Bare ? part.Text : Quoted(part.Text)));

    /// <summary>Whether the remote shell expands <paramref name="path"/> into what matches it (<see cref="Pattern"/>).</summary>
    public static bool HasWildcards(string path) => Parts(path).Exists(part => part.Bare);

    /// <summary>What a POSIX shell leaves of <paramref name="path"/> where it matches nothing, past a leading <c>~</c> or <c>~user/</c>.</summary>
    public static string Unmatched(string path)
    {
        if (path.StartsWith("~/", StringComparison.Ordinal) || HomeOf().IsMatch(path)) path = path.IndexOf('/') is >= 0 and var slash ? path[(slash + 1)..] : "";
        return string.Concat(Parts(path).Select(part => part.Text));
    }

    /// <summary>A source cut into what the remote shell matches (bare: '*', '?', a class, whose '^' is written '!') and a name's own characters.</summary>
    internal static List<(string Text, bool Bare)> Parts(string path)
    {
        var parts = new List<(string Text, bool Bare)>();
        // As rsync's patterns: a backslash escapes only in one that holds a wildcard.
        if (path.AsSpan().IndexOfAny('*', '?', '[') < 0)
        {
            parts.Add((path, false));
            return parts;
        }
        var literal = new System.Text.StringBuilder();
        void Flush()
        {
            if (literal.Length > 0) parts.Add((literal.ToString(), false));
            literal.Clear();
        }
        for (int i = 0; i < path.Length; i++)
        {
            char c = path[i];
            int length = c switch { '*' or '?' => 1, '[' => ClassLength(path, i), _ => 0 };
            if (length > 0)
            {
                Flush();
                // '[!' negates in every POSIX shell; dash reads '[^' as a '^'.
                string bare = path.Substring(i, length);
                parts.Add((bare.StartsWith("[^", StringComparison.Ordinal) ? "[!" + bare[2..] : bare, true));
                i += length - 1;
            }
            else if (c == '\\' && i + 1 < path.Length) literal.Append(path[++i]);
            else literal.Append(c);
        }
        Flush();
        return parts;
    }

    /// <summary>The length of the class "[...]" at <paramref name="start"/>, of letters, digits and '._-' after an optional '!' or '^'; 0 where there is none.</summary>
    private static int ClassLength(string path, int start)
    {
        int i = start + 1;
        if (i < path.Length && path[i] is '!' or '^') i++;
        int body = i;
        while (i < path.Length && (char.IsAsciiLetterOrDigit(path[i]) || path[i] is '.' or '_' or '-')) i++;
        return i > body && i < path.Length && path[i] == ']' ? i - start + 1 : 0;
    }

    // ~user or ~user/..., with a user name a shell expands (POSIX's portable names).
    [GeneratedRegex("^~[A-Za-z_][A-Za-z0-9._-]*(/|$)")]
    private static partial Regex HomeOf();

    /// <summary>A word as a POSIX shell reads it back: as it is when it holds nothing the shell treats apart (nor starts with '=', which zsh expands), else in single quotes.</summary>
    public static string Quoted(string word) =>
        word.Length > 0 && word[0] != '=' && word.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '=' or '.' or '/' or ':' or ',' or '+' or '@')
            ? word
            : "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
