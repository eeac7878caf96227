using System.Text;

namespace Singularity.Engine.Storage;

/// <summary>
/// rsync's per-directory merge files (a dir-merge rule, ":MODIFIERS NAME"; -F): a directory a side walks may hold a
/// file NAME, whose rules decide, in the dir-merge rule's place, for what that directory holds and (unless 'n') what
/// lies below it, ahead of the rules of the directories above; a "!" in one clears those it would inherit. A rule
/// anchored with '/' is anchored at the file's directory. The sender reads them in its source as it walks it (with
/// "/NAME", in each directory above the paths given too, from '/' down, before the walk, as rsync's -F); the
/// receiver in its destination as it deletes, each directory from the top of what it cleans, never through a link
/// below the destination. The files of the directories on the way to the one walked are held, one frame a directory,
/// and no more than <see cref="MostHeldBytes"/> and <see cref="MostHeldRules"/> of them: the memory they take is
/// bounded, whatever the tree. At a receiver, reading them and matching their rules count against the allowance of
/// <see cref="LimitWork"/>, so a sender cannot make it read them again and again without end.
/// </summary>
internal sealed partial class ExcludePatterns
{
    /// <summary>Largest per-directory merge file read.</summary>
    public const int LongestRulesFile = 256 * 1024;

    /// <summary>Most bytes of per-directory merge files held at once, those of the directories on the way to the one walked.</summary>
    public const int MostHeldBytes = 2 * 1024 * 1024;

    /// <summary>Most rules of per-directory merge files held at once, which bounds what matching an entry costs.</summary>
    public const int MostHeldRules = 10_000;

    /// <summary>Matching steps a receiver counts for looking for a merge file in a directory, beside a step a byte read.</summary>
    private const int ReadSteps = 4096;

    private readonly bool _receiving;
    private readonly MergeFile[] _merges;
    private readonly List<Frame> _frames = [];
    private int _heldBytes, _heldRules;
    // The files of the directories above the last path given (EnterGiven), by directory: a list of paths (--files-from)
    // reads each directory above them once, not once a path.
    private Dictionary<string, Frame> _aboveRead = new(StringComparer.Ordinal);

    /// <summary>Whether any dir-merge rule decides, whose files the side walking must tell this where to read (<see cref="EnterDirectory"/>).</summary>
    public bool ReadsPerDirectory => _merges.Length > 0;

    /// <summary>
    /// At a receiver, whether the destination's own directory is read too: only where the send holds what a
    /// directory holds, not the directory itself (rsync's sender reads no file of the directory above one it sends).
    /// Default true.
    /// </summary>
    public bool ReadsRoot { get; set; } = true;

    /// <summary>
    /// At a receiver, its destination: each merge file is opened below it, through no link on the way (a local user
    /// may swap a directory for one). Null: opened by its path, not through a link at its name alone (for tests).
    /// </summary>
    public string? ReceiverRoot { get; set; }

    /// <summary>Drops the files read so far: a deletion that starts reads them as they stand now, not as an earlier one (or the replacement of a directory in the way) found them.</summary>
    public void ForgetDirectories()
    {
        while (_frames.Count > 0) Drop();
    }

    /// <summary>
    /// Before the entries of the directory <paramref name="relative"/> (from the destination, "" for its root) are
    /// matched: reads its per-directory merge files at <paramref name="full"/>, where it stands on this side, and
    /// drops those of the directories walked before that are not above it. At a receiver, also reads those of the
    /// directories above it not read yet, as the receiver cleans directories in no set order.
    /// </summary>
    public void EnterDirectory(string relative, string full)
    {
        if (_merges.Length == 0) return;
        while (_frames.Count > 0 && !_frames[^1].Holds(relative)) Drop();
        if (_frames.Count > 0 && _frames[^1] is { Above: false } top && top.Directory == relative)
        {
            if (top.Full == full) return;
            Drop();
        }
        // A receiver: the directories above not read yet, from the top down (the nearest read, its root at least, stays).
        if (_receiving && _frames.Count == 0 && ReceiverRoot is { } destination) PushAbove("", destination, destination);
        if (_receiving && relative.Length > 0 && full.EndsWith("/" + relative, StringComparison.Ordinal))
        {
            if (_frames.Count == 0 || _frames[^1].Above) Push(ReadsRoot ? Read("", full[..^(relative.Length + 1)]) : Frame.Empty(""));
            for (int slash = relative.IndexOf('/', _frames[^1].Directory.Length + 1); slash >= 0; slash = relative.IndexOf('/', slash + 1))
                Push(Read(relative[..slash], full[..^(relative.Length - slash)]));
        }
        Push(relative.Length == 0 && _receiving && !ReadsRoot ? Frame.Empty("") : Read(relative, full));
    }

    /// <summary>
    /// Before a path given to a send is matched and walked (<paramref name="relative"/> from the destination, "" for a
    /// directory's contents; <paramref name="full"/> where it stands): drops every frame, and for a dir-merge rule
    /// "/NAME", reads NAME in each directory above <paramref name="full"/>, from '/' down, for that path and all below it.
    /// </summary>
    public void EnterGiven(string relative, string full)
    {
        if (_merges.Length == 0) return;
        ForgetDirectories();
        if (!_merges.Any(merge => merge.AlsoAbove) || (relative.Length > 0 && !full.EndsWith("/" + relative, StringComparison.Ordinal))) return;
        // Where the destination's root stands on this side: each entry's path from a directory above is found from it.
        PushAbove(relative, full, relative.Length == 0 ? full : full[..^(relative.Length + 1)]);
    }

    /// <summary>
    /// For a dir-merge rule "/NAME": reads NAME in each directory above <paramref name="full"/>, from '/' down, for
    /// <paramref name="relative"/> (the path given, "" for all) and all below it, each entry matched from there as the
    /// path from that directory to <paramref name="root"/> (where the destination's root stands on this side) and on.
    /// </summary>
    private void PushAbove(string relative, string full, string root)
    {
        if (!_merges.Any(merge => merge.AlsoAbove)) return;
        var above = new List<string>();
        for (string? directory = Path.GetDirectoryName(full); directory is not null; directory = Path.GetDirectoryName(directory)) above.Add(directory);
        var read = new Dictionary<string, Frame>(StringComparer.Ordinal);
        for (int i = above.Count - 1; i >= 0; i--)
        {
            string directory = above[i].TrimEnd('/'), rootTrimmed = root.TrimEnd('/');
            // The entry at PATH is ROOT/PATH; from DIRECTORY, the rest of that after DIRECTORY/.
            var (lead, cut) = directory.Length <= rootTrimmed.Length
                ? ((rootTrimmed + "/")[(directory.Length + 1)..], 0)
                : ("", directory.Length - rootTrimmed.Length);
            var frame = _aboveRead.GetValueOrDefault(above[i]) ?? Read(relative, above[i], above: true);
            read[above[i]] = frame;
            Push(frame with { Directory = relative, Above = true, Lead = lead, Cut = cut });
        }
        _aboveRead = read;
    }

    /// <summary>What the files of a dir-merge rule say of the entry at <paramref name="path"/>: the deepest directory's first, and up while none is cleared.</summary>
    private bool? DecidesBelow(MergeFile merge, string path, bool isDirectory)
    {
        for (int i = _frames.Count - 1; i >= 0; i--)
        {
            var frame = _frames[i];
            if (!frame.Covers(path) || frame.Files[merge.Index] is not { } file) continue;
            ReadOnlySpan<char> text = frame.Lead.Length == 0 ? path.AsSpan(frame.Cut) : string.Concat(frame.Lead, path.AsSpan(frame.Cut));
            // 'n': for what the directory holds itself.
            if (!(merge.NotInherited && text.Contains('/')) && Decides(file.Rules, path, text, isDirectory, scansCharged: true) is { } decided) return decided;
            if (file.Cleared) break;
        }
        return null;
    }

    private void Push(Frame frame)
    {
        _heldBytes += frame.Bytes;
        _heldRules += frame.Rules;
        _frames.Add(frame);
        if (_heldBytes > MostHeldBytes || _heldRules > MostHeldRules)
            throw new SingularityException(ErrorCode.LimitExceeded, $"the per-directory merge files on the way to '{frame.Directory}' hold more than {(_heldBytes > MostHeldBytes ? $"{MostHeldBytes / (1024 * 1024)} MiB" : $"{MostHeldRules:N0} rules")} together, the most {(_receiving ? "a receiver" : "a send")} holds; give fewer or shorter ones");
    }

    private void Drop()
    {
        _heldBytes -= _frames[^1].Bytes;
        _heldRules -= _frames[^1].Rules;
        _frames.RemoveAt(_frames.Count - 1);
    }

    /// <summary>Counts <paramref name="steps"/> against a receiver's allowance (<see cref="LimitWork"/>).</summary>
    private void Charge(long steps)
    {
        if (_workLeft != long.MaxValue && (_workLeft -= steps) < 0)
            throw new SingularityException(ErrorCode.LimitExceeded, "reading and matching the per-directory merge files costs more than this receiver allows; give fewer or smaller ones");
    }

    /// <summary>The frame of the directory <paramref name="relative"/>, standing at <paramref name="full"/>: its merge files, each read and compiled for this side.</summary>
    private Frame Read(string relative, string full, bool above = false)
    {
        var files = new FileRules?[_merges.Length];
        int bytes = 0, rules = 0;
        foreach (var merge in _merges)
        {
            if (above && !merge.AlsoAbove) continue;
            Charge(ReadSteps);
            string path = Path.Join(full, merge.Name);
            // Named to the peer as from the destination (above it, by its path), and never with a line of the receiver's file.
            string? below = above ? null : relative.Length == 0 ? merge.Name : $"{relative}/{merge.Name}";
            string shown = _receiving && below is not null ? below : path;
            if (ReadText(path, below, shown) is not var (text, length)) continue;
            Charge(length);
            bytes += length;
            var file = CompileFile(text, merge, shown);
            rules += file.Rules.Length;
            files[merge.Index] = file;
        }
        return new Frame(relative, full, files, bytes) { Rules = rules };
    }

    /// <summary>
    /// The text of the merge file at <paramref name="path"/> (<paramref name="below"/> the receiver's destination, null
    /// above it) and its length in bytes, null where there is none (nothing, a link to nothing, or a directory, as
    /// rsync takes them); the sender reads it through a link, as rsync does, a receiver refuses one, at its name or, in
    /// its destination, on the way.
    /// </summary>
    private (string Text, int Length)? ReadText(string path, string? below, string shown)
    {
        string where = _receiving ? $"the receiver's per-directory merge file '{shown}'" : $"the per-directory merge file '{shown}'";
        // Most directories hold none: one look, rather than an open that fails.
        if (!Path.Exists(path) || Directory.Exists(path)) return null;
        Microsoft.Win32.SafeHandles.SafeFileHandle? handle;
        try
        {
            // The sender opens what a link leads to (OpenRegular follows none), without waiting on a FIFO there.
            handle = !_receiving ? SpecialFiles.OpenRegular(new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? path)
                : ReceiverRoot is { } root && below is not null ? SpecialFiles.OpenRegularBelow(root, below)
                : SpecialFiles.OpenRegularNotFollowing(path);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new SingularityException(ErrorCode.IoError, $"cannot read {where}: {(ex is UnauthorizedAccessException ? "permission denied" : ex.Message)}");
        }
        if (handle is null)
        {
            // Gone since the look above (or a link to nothing now): none.
            if (!Path.Exists(path)) return null;
            throw new SingularityException(ErrorCode.BadPath, $"{where} is not a regular file{(_receiving ? " (a link there, or on the way to it, is not followed)" : "")}; rename it, or leave out the rule that reads it");
        }
        using (handle)
        {
            long length = RandomAccess.GetLength(handle);
            if (length > LongestRulesFile)
                throw new SingularityException(ErrorCode.LimitExceeded, $"{where} holds {length:N0} bytes, more than the {LongestRulesFile / 1024} KiB of rules a per-directory merge file may hold");
            byte[] bytes = new byte[length];
            int read = 0;
            while (read < bytes.Length && RandomAccess.Read(handle, bytes.AsSpan(read), read) is var got and > 0) read += got;
            try
            {
                return (Protocol.WireFormat.StrictUtf8.GetString(bytes, 0, read), read);
            }
            catch (DecoderFallbackException)
            {
                throw new SingularityException(ErrorCode.BadPath, $"{where} is not UTF-8 text");
            }
        }
    }

    /// <summary>The rules of one merge file's <paramref name="text"/>, for this side, and whether a "!" in it clears those above.</summary>
    private FileRules CompileFile(string text, MergeFile merge, string shown)
    {
        var rules = new List<Rule>();
        bool cleared = false;
        // As rsync reads them: a line ends at LF, CR LF, or CR alone.
        string[] lines = text.Split(["\r\n", "\n", "\r"], StringSplitOptions.None);
        for (int number = 1; number <= lines.Length; number++)
        {
            string line = lines[number - 1];
            try
            {
                if (FilterRules.LineOf(line, merge.EachLine) is not { } pattern) continue;
                if (ForSide(pattern, sender: !_receiving, merge.ProtectsOnly) is not { } kept) continue;
                if (kept == "!")
                {
                    rules.Clear();
                    cleared = true;
                    continue;
                }
                Compile(kept, rules);
            }
            catch (Exception ex) when (ex is FormatException or ArgumentException)
            {
                string why = ex is ArgumentException argument ? argument.Message.Split(" (Parameter")[0] : ex.Message;
                throw new SingularityException(ErrorCode.BadPath, _receiving
                    ? $"the receiver's per-directory merge file '{shown}' holds a line that is not a rule it reads (line {number}); mend it, or leave out the rule that reads it"
                    : $"the per-directory merge file '{shown}', line {number}: {why}");
            }
        }
        return new FileRules([.. rules], cleared);
    }

    /// <summary>Compiles a dir-merge rule, ":MODIFIERS NAME" (<see cref="FilterRules"/>): with 'e', an exclude of the files NAME before it.</summary>
    private static void CompileMerge(string pattern, string shown, List<Rule> rules)
    {
        int space = pattern.IndexOf(' ');
        string modifiers = space < 0 ? "" : pattern[1..space], name = space < 0 ? "" : pattern[(space + 1)..];
        if (space < 0 || !FilterRules.IsMergeName(name) || FilterRules.DirMergeModifiersFault(modifiers, FilterRules.DirMergeModifiers + "x") is not null)
            throw Refused($"the dir-merge rule '{shown}' is not ':MODIFIERS NAME' (modifiers of {FilterRules.DirMergeModifiers}x, each once, not both - and +; a NAME or /NAME)");
        bool alsoAbove = name.StartsWith('/');
        if (alsoAbove) name = name[1..];
        if (modifiers.Contains('e')) Compile("- " + name, rules);
        // As rsync: a later dir-merge rule for a name already given is passed over, the first's form and modifiers
        // holding, but for the exclude of its files ('e') in its place.
        if (rules.Exists(rule => rule.Merge?.Name == name)) return;
        char eachLine = modifiers.Contains('-') ? '-' : modifiers.Contains('+') ? '+' : '\0';
        rules.Add(Rule.MergeOf(new MergeFile(name, alsoAbove, modifiers.Contains('n'), eachLine == '\0' ? "" : eachLine.ToString(), modifiers.Contains('x'))));
    }

    /// <summary>
    /// The files one dir-merge rule reads: NAME, in the directories above the paths given too (<paramref name="AlsoAbove"/>),
    /// for what a directory holds itself alone (<paramref name="NotInherited"/>, 'n'), each line an exclude or an
    /// include (<paramref name="EachLine"/>, '-' or '+'), for a receiver that deletes what is excluded with their
    /// protect and risk rules alone (<paramref name="ProtectsOnly"/>, 'x'). <see cref="Index"/> is its place among the
    /// session's dir-merge rules.
    /// </summary>
    private sealed record MergeFile(string Name, bool AlsoAbove, bool NotInherited, string EachLine, bool ProtectsOnly)
    {
        public int Index { get; set; }
    }

    /// <summary>One merge file's rules for this side, and whether a "!" in it cleared those of the directories above.</summary>
    private sealed record FileRules(Rule[] Rules, bool Cleared);

    /// <summary>
    /// The merge files of one directory (<paramref name="Directory"/> from the destination), which decide for what lies
    /// below it; or, <see cref="Above"/>, of a directory above a path given, which decide for that path and what lies
    /// below it, each entry matched as <see cref="Lead"/> and its path after <see cref="Cut"/> characters.
    /// </summary>
    private sealed record Frame(string Directory, string Full, FileRules?[] Files, int Bytes)
    {
        /// <summary>The rules its files hold, counted against <see cref="MostHeldRules"/>.</summary>
        public int Rules { get; init; }

        public bool Above { get; init; }

        public string Lead { get; init; } = "";

        public int Cut { get; init; } = Directory.Length == 0 ? 0 : Directory.Length + 1;

        public static Frame Empty(string directory) => new(directory, "", [], 0);

        /// <summary>Whether the directory <paramref name="relative"/> is this one or below it (for a frame above a path given, that path or below it).</summary>
        public bool Holds(string relative) =>
            Directory.Length == 0 || relative == Directory || (relative.StartsWith(Directory, StringComparison.Ordinal) && relative.Length > Directory.Length && relative[Directory.Length] == '/');

        /// <summary>Whether this frame's files decide for the entry at <paramref name="path"/>: one below the directory (for a frame above a path given, that path too).</summary>
        public bool Covers(string path) => Files.Length > 0 && (Above ? Holds(path) : path.Length > Directory.Length && Holds(path));
    }
}
