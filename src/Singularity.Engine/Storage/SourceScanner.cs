using System.IO.Enumeration;
using Singularity.Engine.Protocol;

namespace Singularity.Engine.Storage;

/// <summary>
/// A manifest entry together with where the sender reads it from: <paramref name="Root"/> (the directory or file
/// given on the command line) joined with the entry's path after its first <paramref name="Skip"/> characters (the
/// root's own name and '/', when a directory is sent by its name). A tree's entries share their root rather than each
/// keeping its full source path: a tree of millions of files is scanned before anything is sent.
/// </summary>
internal readonly record struct SourceEntry(ManifestEntry Entry, string Root, int Skip)
{
    /// <summary>A directory on another file system that -x sends without what it holds: no empty chain for -m to prune.</summary>
    public bool MountPoint { get; init; }

    /// <summary>
    /// A file's device and inode as the scan saw it, with its count of names; null where they could not be read with
    /// its size and time (not Linux, or changed between the two looks). The file the sender opens must be this one: a
    /// file renamed over it since is not the one scanned, whatever its size.
    /// </summary>
    public (ulong Device, ulong Inode, uint Names)? Identity { get; init; }

    public string SourcePath
    {
        get
        {
            if (Entry.Path.Length <= Skip) return Root;
            string below = Below;
            return Path.Join(Root, Path.DirectorySeparatorChar == '/' ? below : below.Replace('/', Path.DirectorySeparatorChar));
        }
    }

    /// <summary>The entry's path below <see cref="Root"/> ('/' between its names), or empty where it is the root itself.</summary>
    public string Below => Entry.Path.Length <= Skip ? "" : Entry.Path[Skip..];
}

/// <summary>
/// Turns the sender's command-line paths into a manifest. A file is sent under its own name; a directory is sent
/// under its name with everything below it, or, when the path ends in '/' or '/.', its contents only (as rsync does).
/// Links inside a tree are sent as links and never followed; a link named as a source is followed, as scp follows it.
/// Sockets, FIFOs and devices are sent as what they are where the rules say (rsync --specials, --devices), else skipped
/// with one line each to <c>skipped</c>, as rsync skips them without -D, where <see cref="SpecialFiles"/> can tell
/// them (Linux); elsewhere they are sent as empty files.
/// </summary>
internal static class SourceScanner
{
    // Why a name with the receiver's partial or journal suffix is skipped in a tree or a list, and refused as a source.
    private const string PartialSkipped = "a partial file of a receive not finished, which no receiver takes (`sglty partials --dir DIR --clean` removes those of DIR)";
    private static readonly string ReservedName = $"its name {PathGuard.ReservedWhy}";

    /// <summary>
    /// Scans <paramref name="paths"/>, leaving out what <paramref name="exclude"/> matches (a directory with everything
    /// below it, unread). A directory below them that cannot be listed is sent without its contents and recorded in
    /// <paramref name="notSent"/> (also told to <paramref name="skipped"/>), as rsync goes on past it; so is a path
    /// given that cannot be found beside others that can (when none can, the scan fails: <see cref="CheckGiven"/>). The
    /// <paramref name="rules"/> (default: none of them):
    /// <list type="bullet">
    /// <item><see cref="ScanRules.HardLinks"/> (Linux): a file met again under another name becomes a hard link entry
    /// naming the first, which is marked linked, as rsync -H sends them.</item>
    /// <item><see cref="ScanRules.OneFileSystem"/> (Linux): the walk below each path stays on that path's file system,
    /// as rsync -x keeps it: a directory on another (a mount point) is sent without what it holds, marked implied so
    /// that a deletion leaves what the receiver holds there; with <see cref="MountPoints.LeftOut"/> it is left out
    /// altogether, as rsync -xx leaves it.</item>
    /// <item><see cref="ScanRules.CopyLinks"/>: a link below the paths is sent as what it points to, as rsync -L sends
    /// it: a file, or a directory with what it holds, read from where the link leads; a link to nothing, or to a
    /// directory the walk is already in (which would never end), is named in <paramref name="notSent"/> and left
    /// out.</item>
    /// <item><see cref="ScanRules.CopyUnsafeLinks"/> and <see cref="ScanRules.CopyDirLinks"/>: as copy-links, only for
    /// the links that point outside the tree (<see cref="LinkSafety"/>), or lead to a directory.</item>
    /// <item><see cref="ScanRules.IgnoreMissing"/>: a path given that does not exist is passed over, as rsync
    /// --ignore-missing-args passes it (one that cannot be reached is still left out as not found).</item>
    /// </list>
    /// </summary>
    public static List<SourceEntry> Scan(IReadOnlyList<string> paths, Action<string>? skipped, List<NotSentEntry> notSent, ExcludePatterns? exclude = null, ScanRules? rules = null, List<string>? missing = null)
    {
        rules ??= new ScanRules();
        bool relative = rules.Relative;
        if (paths.Count == 0) throw new SingularityException(ErrorCode.BadPath, "nothing to send: give at least one file or directory");
        var entries = new List<SourceEntry>();
        // Even one path can give one name twice: names that are not UTF-8 all read as U+FFFD.
        var seen = new Names(relative);
        var walk = new Walker(entries, seen, skipped, notSent, exclude, rules, missing);
        // The same source named twice is sent once, as rsync sends it; two different ones of one name are refused.
        var given = new HashSet<(string, bool)>();
        if (!relative) CheckGiven(paths, rules);
        foreach (string path in paths)
        {
            if (relative)
            {
                walk.AddRelative(path, rules.Recursive);
                continue;
            }
            bool contentsOnly = ContentsOnly(path);
            string full = Path.GetFullPath(path);
            if (!given.Add((Path.TrimEndingDirectorySeparator(full), contentsOnly))) continue;
            string named = Path.TrimEndingDirectorySeparator(full);
            if (Directory.Exists(full))
            {
                var root = new DirectoryInfo(named);
                string prefix = contentsOnly ? "" : root.Name + "/";
                // The directory given is judged before the files above it are read, as rsync judges it.
                exclude?.ForgetDirectories();
                if (!contentsOnly && exclude?.Excludes(root.Name, isDirectory: true) == true) continue;
                exclude?.EnterGiven(contentsOnly ? "" : root.Name, named);
                if (!contentsOnly && PathGuard.IsReserved(root.Name))
                    throw new SingularityException(ErrorCode.BadPath, $"cannot send '{path}': {ReservedName}; rename it, or send what it holds with '{named}/'");
                if (!contentsOnly) Add(entries, seen, DirectoryEntry(root, root.Name, root.FullName, prefix.Length));
                walk.Tree(root, prefix, root.FullName, prefix.Length);
            }
            else if (File.Exists(named))
            {
                // A link named as a source is followed, as scp and cp follow it: the file it points to is sent under
                // the link's name. (File.Exists is true for a link to nothing too.)
                var file = new FileInfo(named);
                string name = file.Name;
                exclude?.ForgetDirectories();
                if (exclude?.Excludes(name, isDirectory: false) == true) continue;
                if (PathGuard.IsReserved(name)) throw new SingularityException(ErrorCode.BadPath, $"cannot send '{path}': {ReservedName}; rename it");
                if (file.LinkTarget is { } target)
                {
                    if (file.ResolveLinkTarget(returnFinalTarget: true) as FileInfo is { Exists: true } resolved) file = resolved;
                    // As rsync passes over a link to nothing that it would follow.
                    else if (walk.PassesOver(named, follow: true, name)) continue;
                    else
                    {
                        walk.LeaveOutGiven(path, ToNothing(target));
                        continue;
                    }
                }
                if (contentsOnly)
                    throw new SingularityException(ErrorCode.BadPath, $"cannot send '{path}': it is a file, not a directory; leave out the trailing '/' to send the file");
                if (SpecialOf(file) is { } special)
                {
                    if (!rules.Sends(special.Type)) throw new SingularityException(ErrorCode.BadPath, $"cannot send '{path}': {NotSent(special.Type)}");
                    Add(entries, seen, new SourceEntry(SpecialEntry(file, special, name), file.FullName, name.Length));
                    continue;
                }
                walk.AddFile(FileSource(file, name, file.FullName, name.Length));
            }
            else if (path.Contains('\uFFFD'))
            {
                throw NotUtf8(path, "its name");
            }
            else if (Unreachable(full) is var reason && !walk.PassesOver(reason, contentsOnly ? null : Path.GetFileName(named)))
            {
                walk.LeaveOutGiven(path, reason);
            }
        }
        // Known once every path is in: a directory added as the way to one may be named whole by a later one.
        if (relative)
            for (int i = 0; i < entries.Count; i++)
                if (entries[i].Entry.Kind == EntryKind.Directory && seen.KindOf(entries[i].Entry.Path) == Names.Implied)
                    entries[i] = entries[i] with { Entry = entries[i].Entry with { Implied = true } };
        return entries;
    }

    /// <summary>
    /// A first look at a send's paths, before anything is started for it (a receiver through ssh), which the scan
    /// takes too: when none of them can be found, the send fails naming the first, unless the rules pass over missing
    /// ones. One not found beside others is named and left out by the scan, and the rest sent, as rsync and scp go on
    /// past it. Relative paths are left to the scan.
    /// </summary>
    public static void CheckGiven(IReadOnlyList<string> paths, ScanRules rules)
    {
        if (rules.Relative) return;
        string? first = null;
        foreach (string path in paths)
        {
            string full = Path.GetFullPath(path), named = Path.TrimEndingDirectorySeparator(full);
            if (Directory.Exists(full) || path.Contains('\uFFFD')) return;
            string reason;
            if (File.Exists(named))
            {
                // A link named is followed: one to nothing is not found.
                if (new FileInfo(named) is not { LinkTarget: { } target } link || link.ResolveLinkTarget(returnFinalTarget: true) is FileInfo { Exists: true }) return;
                reason = ToNothing(target);
                if (PassedOver(rules, Unreachable(full, follow: true))) return;
            }
            else if (PassedOver(rules, reason = Unreachable(full)))
            {
                return;
            }
            first ??= $"cannot send '{path}': {reason}";
        }
        if (first is not null)
            throw new SingularityException(ErrorCode.BadPath, paths.Count == 1 ? first : $"{first}; none of the {paths.Count} paths given can be found");
    }

    private static string ToNothing(string target) => $"it is a link to '{target}', which does not exist";

    /// <summary>
    /// Leaves out each directory that holds nothing but directories, at any depth, as rsync -m (--prune-empty-dirs)
    /// prunes empty chains: what patterns leave of a tree (--include '*/' --include '*.log' --exclude '*') arrives
    /// without the directories that held no log. A mount point that -x sends without what it holds stays.
    /// </summary>
    public static List<SourceEntry> PruneEmptyDirectories(List<SourceEntry> entries)
    {
        // Every directory above something that is not a directory holds something.
        var holding = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            if (entry.Entry.Kind == EntryKind.Directory) continue;
            string path = entry.Entry.Path;
            for (int slash = path.LastIndexOf('/'); slash > 0 && holding.Add(path[..slash]); slash = path.LastIndexOf('/', slash - 1)) { }
        }
        // A mount point -x sends empty stays: a deletion leaves what the receiver holds there.
        return entries.FindAll(entry => entry.Entry.Kind != EntryKind.Directory || entry.MountPoint || holding.Contains(entry.Entry.Path));
    }

    /// <summary>Whether any of <paramref name="paths"/> sends a directory's contents into the destination's root.</summary>
    public static bool SendsContents(IReadOnlyList<string> paths) => paths.Any(path => ContentsOnly(path) && Directory.Exists(path));

    /// <summary>A trailing '/', or a last component '.', sends a directory's contents only, as rsync does.</summary>
    internal static bool ContentsOnly(string path) =>
        (path.Length > 1 && EndsWithSeparator(path)) || path == "." || (path.EndsWith('.') && path.Length > 1 && EndsWithSeparator(path[..^1]));

    private static bool EndsWithSeparator(string path) => path.EndsWith('/') || path.EndsWith(Path.DirectorySeparatorChar);

    private static SingularityException NotUtf8(string path, string what) =>
        new(ErrorCode.BadPath, $"cannot send '{path}': {what} is not valid UTF-8, which the receiver needs; rename it (for example with convmv) and send again");

    /// <summary>A socket's, a FIFO's or a device's type and number (<see cref="SpecialFiles.SpecialAt"/>), else null. They report no length, so only empty files cost a look.</summary>
    private static (ushort Type, uint Major, uint Minor)? SpecialOf(FileInfo file) => file.Length == 0 ? SpecialFiles.SpecialAt(file.FullName) : null;

    /// <summary>Why a special file of <paramref name="type"/> is not sent without the option that sends it, and what sends it.</summary>
    private static string NotSent(ushort type) =>
        SpecialTypes.IsDevice(type) ? "it is a device; send it with --devices (or -D)" : $"it is {SpecialTypes.Describe(type)}; send it with --specials (or -D)";

    private static ManifestEntry SpecialEntry(FileInfo file, (ushort Type, uint Major, uint Minor) special, string relative) =>
        new(EntryKind.Special, relative, 0, ModeOf(file), ToNanoseconds(file.LastWriteTimeUtc), null)
        {
            SpecialType = special.Type,
            DeviceNumber = SpecialTypes.IsDevice(special.Type) ? (special.Major, special.Minor) : null,
        };

    // Every name a directory holds, hidden ones too, as DirectoryInfo.GetFileSystemInfos lists them.
    private static readonly EnumerationOptions Listing = new() { AttributesToSkip = 0, IgnoreInaccessible = false, RecurseSubdirectories = false };

    /// <summary>A regular file of a tree's walk, as <see cref="SpecialFiles.StandingAt"/> read it: size, time, mode and identity in one look.</summary>
    private static SourceEntry FileSource(SpecialFiles.Standing file, string relative, string root, int skip) =>
        new(new ManifestEntry(EntryKind.File, relative, file.Size, file.Mode, file.ModifiedNanoseconds, null), root, skip) { Identity = (file.Device, file.Inode, file.Names) };

    /// <summary>
    /// A file read from <paramref name="file"/> (the path it is opened by), with its identity where one more look finds
    /// it as the first did (same size and time): what a rename swaps in after that look is not taken for this file.
    /// </summary>
    private static SourceEntry FileSource(FileInfo file, string relative, string root, int skip)
    {
        var entry = new ManifestEntry(EntryKind.File, relative, file.Length, ModeOf(file), ToNanoseconds(file.LastWriteTimeUtc), null);
        return SpecialFiles.StandingAt(file.FullName) is { Kind: EntryKind.File } standing && standing.Size == entry.Size && standing.ModifiedNanoseconds == entry.MtimeNanoseconds
            ? new SourceEntry(entry, root, skip) { Identity = (standing.Device, standing.Inode, standing.Names) }
            : new SourceEntry(entry, root, skip);
    }

    /// <summary>A link, sent as a link, never followed; its target must be UTF-8, as the receiver needs it.</summary>
    private static SourceEntry LinkEntry(FileSystemInfo link, string target, string relative, string treeRoot, int skip)
    {
        if (Utf8Names.TargetIsNotUtf8(link.FullName, target)) throw NotUtf8(relative, "its link target");
        return new(new ManifestEntry(EntryKind.Symlink, relative, 0, 0, ToNanoseconds(link.LastWriteTimeUtc), target), treeRoot, skip);
    }

    private static SourceEntry DirectoryEntry(DirectoryInfo directory, string relative, string treeRoot, int skip) =>
        new(new ManifestEntry(EntryKind.Directory, relative, 0, ModeOf(directory), ToNanoseconds(directory.LastWriteTimeUtc), null), treeRoot, skip);

    private static UnixFileMode ModeOf(FileSystemInfo info) => OperatingSystem.IsWindows() ? (UnixFileMode)0b110_100_100 : info.UnixFileMode;

    private static void Add(List<SourceEntry> entries, Names seen, SourceEntry entry, bool implied = false)
    {
        if (!seen.Add(entry.Entry.Path, entry.Entry.Kind == EntryKind.Directory ? (implied ? Names.Implied : Names.Whole) : Names.NotDirectory))
        {
            // A directory added as the way to an earlier path, now met within one sent whole, is sent whole too.
            if (seen.Relative && entry.Entry.Kind == EntryKind.Directory && !implied && seen.KindOf(entry.Entry.Path) == Names.Implied) seen.MarkWhole(entry.Entry.Path);
            if (seen.Relative) return;
            throw new SingularityException(ErrorCode.BadPath, $"two sources map to the same name '{entry.Entry.Path}'; send them separately or rename one");
        }
        entries.Add(entry);
    }

    /// <summary>
    /// The names added so far. With relative paths, where listed paths overlap (a directory and a file in it, as `find`
    /// lists them), a name met again is skipped, as rsync drops repeats from its file list; and each name's kind is
    /// kept, so that a path below one already sent whole, or below a link, is skipped too.
    /// </summary>
    private sealed class Names(bool relative)
    {
        // OneLevel: sent with what it holds at one level (its deletion cleans it), yet a later path may go below it.
        public const byte NotDirectory = 0, Whole = 1, Implied = 2, OneLevel = 3;
        private readonly HashSet<string>? _names = relative ? null : new(StringComparer.Ordinal);
        private readonly Dictionary<string, byte>? _kinds = relative ? new(StringComparer.Ordinal) : null;

        public bool Relative { get; } = relative;

        public bool Contains(string name) => _names?.Contains(name) ?? _kinds!.ContainsKey(name);

        public bool Add(string name, byte kind) => _names?.Add(name) ?? _kinds!.TryAdd(name, kind);

        /// <summary>With relative paths, the kind a name was added as, if it was.</summary>
        public byte? KindOf(string name) => _kinds is not null && _kinds.TryGetValue(name, out byte kind) ? kind : null;

        /// <summary>With relative paths, a directory first added as implied now sent whole.</summary>
        public void MarkWhole(string name) => _kinds![name] = Whole;

        /// <summary>With relative paths, a directory now sent with what it holds at one level, unless it is sent whole.</summary>
        public void MarkOneLevel(string name)
        {
            if (_kinds![name] != Whole) _kinds[name] = OneLevel;
        }
    }

    /// <summary>
    /// The path a source keeps with relative paths (rsync -R): what follows the first "/./" in it, else the whole path,
    /// without a leading '/', "./" parts or a trailing '/' (a trailing "/." is dropped, as rsync drops it); empty for
    /// "." or a path ending in "/./", whose directory's contents are sent. Null when it holds "..": the entry would
    /// name a place outside the destination.
    /// </summary>
    internal static string? KeptPath(string path)
    {
        string marked = Marked(path);
        int marker = marked.IndexOf("/./", StringComparison.Ordinal);
        string kept = marker >= 0 ? marked[(marker + 3)..] : marked;
        string[] parts = kept.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(part => part != ".").ToArray();
        return parts.Contains("..") ? null : string.Join('/', parts);
    }

    /// <summary>
    /// Where a source with relative paths lands if received into a directory: the directory its kept path is relative
    /// to (before the last "/./", or '/' for an absolute path, or the current directory).
    /// </summary>
    internal static string RelativeBase(string path)
    {
        string marked = Marked(path);
        int marker = marked.IndexOf("/./", StringComparison.Ordinal);
        return Path.TrimEndingDirectorySeparator(Path.GetFullPath(marker >= 0 ? marked[..(marker + 1)] : Path.IsPathRooted(path) ? "/" : "."));
    }

    /// <summary>
    /// A path as relative paths read it: a trailing "/." names the directory itself, as a trailing '/' does (so
    /// "t/a/." keeps "t/a", and "src/./." is "src/./", the contents of src).
    /// </summary>
    private static string Marked(string path) => path.EndsWith("/.", StringComparison.Ordinal) ? path[..^1] : path;

    internal const string Missing = "no such file or directory";

    /// <summary>Whether a path given that cannot be found for <paramref name="reason"/> is passed over (rsync --ignore-missing-args): only one that is not there.</summary>
    private static bool PassedOver(ScanRules rules, string reason) => rules.IgnoreMissing && reason == Missing;

    /// <summary>
    /// Why a path that does not seem to exist was not found: missing (<see cref="Missing"/>, the one case
    /// --ignore-missing-args passes over, as rsync's), in a directory this process may not search, or with something
    /// on its way that is not a directory or loops.
    /// </summary>
    private static string Unreachable(string full, bool follow = false)
    {
        switch (SpecialFiles.StatusError(full, follow))
        {
            case Errno.NoEntry: return Missing;
            case Errno.AccessDenied: return "cannot read it: permission denied";
            case Errno.NotADirectory: return "something on its path is not a directory";
            case Errno.TooManyLinks: return "its links lead round in a loop";
            case > 0 and var error: return $"cannot look at it (error {error})";
        }
        try
        {
            File.GetAttributes(full);
        }
        catch (UnauthorizedAccessException)
        {
            return "cannot read it: permission denied";
        }
        catch (IOException)
        {
        }
        return Missing;
    }

    /// <summary>What one scan adds to, and the rules it walks by.</summary>
    private sealed class Walker(List<SourceEntry> entries, Names seen, Action<string>? skipped, List<NotSentEntry> notSent, ExcludePatterns? exclude, ScanRules rules, List<string>? missing)
    {
        // With hard links kept, the first name of each file with more than one, by device and inode: only those files
        // cost memory.
        private readonly Dictionary<(ulong, ulong), int>? _firstNames = rules.HardLinks ? new() : null;
        // With copy-links, the directories being walked, by device and inode: a link back to one of them is a loop.
        private readonly HashSet<(ulong, ulong)> _walking = [];

        /// <summary>
        /// Whether a path given that cannot be found for <paramref name="reason"/> is passed over (rsync
        /// --ignore-missing-args): only one that is not there. Its <paramref name="name"/> at the destination, if it
        /// has one, is kept for the receiver to delete (rsync --delete-missing-args), unless its rules keep it.
        /// </summary>
        public bool PassesOver(string reason, string? name)
        {
            if (!PassedOver(rules, reason)) return false;
            if (name is not null) missing?.Add(name);
            return true;
        }

        /// <summary>Whether a path given that does not seem to exist (looked at through a link there when <paramref name="follow"/>) is passed over.</summary>
        public bool PassesOver(string full, bool follow, string? name) => rules.IgnoreMissing && PassesOver(Unreachable(full, follow), name);

        /// <summary>Why a link that copy-links would follow, and cannot, is left out.</summary>
        private static string Dangling(FileSystemInfo link) => $"it is a link to '{link.LinkTarget}', which does not exist or cannot be followed";

        /// <summary>Adds what <paramref name="root"/> holds, staying on its file system when asked.</summary>
        public void Tree(DirectoryInfo root, string prefix, string treeRoot, int skip, bool recurse = true) =>
            Walk(root, prefix, treeRoot, skip, recurse, rules.OneFileSystem == MountPoints.Crossed ? null : SpecialFiles.DeviceOf(root.FullName, follow: true));

        /// <summary>Adds what <paramref name="directory"/> holds, named <paramref name="prefix"/> and more; their source is <paramref name="treeRoot"/> and their path after <paramref name="skip"/> characters.</summary>
        private void Walk(DirectoryInfo directory, string prefix, string treeRoot, int skip, bool recurse, ulong? device)
        {
            (string Name, FileSystemInfo? Info)[] children;
            try
            {
                children = Children(directory);
            }
            catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
            {
                string reason = ex is UnauthorizedAccessException ? "permission denied" : ex.Message;
                string shown = prefix.Length > 0 ? prefix : directory.FullName + "/";
                // Gone since it was listed (ENOENT, as for rsync's opendir): vanished. Not something else standing there
                // now, whose ENOTDIR .NET throws alike.
                bool vanished = ex is DirectoryNotFoundException && !Path.Exists(directory.FullName);
                notSent.Add(new NotSentEntry(shown, $"cannot read directory: {reason}") { IsDirectory = true, Vanished = vanished });
                skipped?.Invoke($"not sending the contents of '{shown}': cannot read directory: {reason}");
                return;
            }
            // A root given through a link is the directory it leads to.
            var identity = rules.FollowsLinks ? SpecialFiles.IdentityOf(directory.FullName, follow: true) : null;
            if (identity is { } walking) _walking.Add((walking.Device, walking.Inode));
            Array.Sort(children, static (a, b) => string.CompareOrdinal(a.Name, b.Name));
            if (exclude is { ReadsPerDirectory: true }) exclude.EnterDirectory(prefix.Length == 0 ? "" : prefix[..^1], directory.FullName);
            foreach (var (name, listed) in children)
            {
                string relative = prefix + name;
                string full = Path.Join(directory.FullName, name);
                // Deeper than a path the system takes: left out and named, as rsync names what it cannot open.
                if (SpecialFiles.TooLongForTheSystem(full))
                {
                    if (exclude?.Excludes(relative, isDirectory: listed is DirectoryInfo) == true) continue;
                    string reason = $"its path is longer than the system takes ({SpecialFiles.LongestPath:N0} bytes, from the root)";
                    notSent.Add(new NotSentEntry(relative, reason) { IsDirectory = listed is DirectoryInfo });
                    skipped?.Invoke($"not sending '{relative}': {reason}");
                    continue;
                }
                // Most of a tree: a regular file, read in one look with its identity.
                if (listed is null && SpecialFiles.StandingAt(full) is { Kind: EntryKind.File } standing)
                {
                    if (exclude?.Excludes(relative, isDirectory: false) == true) continue;
                    if (PathGuard.IsReserved(name)) Reserved(new FileInfo(full), relative, isDirectory: false);
                    else AddFile(FileSource(standing, relative, treeRoot, skip));
                    continue;
                }
                // As .NET's listing tells them: a directory, or a link to one, is a DirectoryInfo (one made since the listing too).
                FileSystemInfo found = listed ?? (Directory.Exists(full) ? new DirectoryInfo(full) : new FileInfo(full));
                // The attribute comes from the status the listing read, or one look: only links cost a readlink.
                bool isLink = (found.Attributes & FileAttributes.ReparsePoint) != 0;
                // rsync -L: what the link points to, under the link's name, read from where it leads.
                var (followed, mustFollow) = isLink ? Follow(found, relative) : (null, false);
                var child = followed ?? found;
                bool isDirectory = child is DirectoryInfo && (followed is not null || !isLink);
                // Before the name's check: an entry left out may have a name that could not be sent.
                if (exclude?.Excludes(relative, isDirectory) == true) continue;
                if (PathGuard.IsReserved(found.Name))
                {
                    Reserved(found, relative, isDirectory);
                    continue;
                }
                if (Utf8Names.NameIsNotUtf8(found)) throw NotUtf8(relative, "its name");
                if (mustFollow && followed is null)
                {
                    LeaveOut(relative, Dangling(found));
                }
                else if (followed is null && isLink && found.LinkTarget is { } target)
                {
                    Add(entries, seen, LinkEntry(found, target, relative, treeRoot, skip));
                }
                else if (child is DirectoryInfo subdirectory)
                {
                    if (followed is not null && SpecialFiles.IdentityOf(subdirectory.FullName) is { } leads && _walking.Contains((leads.Device, leads.Inode))
                        && !EndsOnItsOwn(found, subdirectory, relative))
                    {
                        LeaveOut(relative, $"it is a link to '{found.LinkTarget}', a directory it is in, which would never end");
                        continue;
                    }
                    // A directory on another file system (a mount point), as rsync -x sends it: with its own status
                    // (what it hides cannot be read) and without what it holds; with -xx, not at all.
                    bool mountPoint = device is { } own && SpecialFiles.DeviceOf(subdirectory.FullName) is { } other && other != own;
                    if (mountPoint && rules.OneFileSystem == MountPoints.LeftOut) continue;
                    // What a followed link holds is read from where it leads, as a directory given by the user is.
                    var (root, from) = followed is null ? (treeRoot, skip) : (subdirectory.FullName, relative.Length + 1);
                    var entry = DirectoryEntry(subdirectory, relative, root, from);
                    // Relative sends mark their implied directories once every path is in.
                    if (mountPoint) entry = entry with { MountPoint = true, Entry = entry.Entry with { Implied = !seen.Relative || entry.Entry.Implied } };
                    // One level only (a list's "dir/" without -r): each directory below is sent without what it holds.
                    Add(entries, seen, entry, implied: !recurse || mountPoint);
                    if (recurse && !mountPoint) Walk(subdirectory, relative + "/", root, from, recurse, device);
                }
                else if (child is FileInfo file)
                {
                    var (root, from) = followed is null ? (treeRoot, skip) : (file.FullName, relative.Length);
                    if (!Special(file, relative, root, from)) AddFile(FileSource(file, relative, root, from));
                }
            }
            if (identity is { } walked) _walking.Remove((walked.Device, walked.Inode));
        }

        /// <summary>
        /// The names in <paramref name="directory"/>, each directory among them (through a link too) with its status
        /// as .NET reads it; where statx can be called (Linux), anything else is looked at by the walk, which reads a
        /// regular file, most of a tree, in one look of its own (<see cref="SpecialFiles.StandingAt"/>) rather than in
        /// .NET's and then its own. Elsewhere, every entry with .NET's status (Windows lists it with the names).
        /// </summary>
        private static (string Name, FileSystemInfo? Info)[] Children(DirectoryInfo directory) => SpecialFiles.HasStatx
            ? [.. new FileSystemEnumerable<(string, FileSystemInfo?)>(directory.FullName,
                static (ref FileSystemEntry entry) => (entry.FileName.ToString(), entry.IsDirectory ? entry.ToFileSystemInfo() : null), Listing)]
            : [.. new FileSystemEnumerable<(string, FileSystemInfo?)>(directory.FullName,
                static (ref FileSystemEntry entry) => (entry.FileName.ToString(), entry.ToFileSystemInfo()), Listing)];

        /// <summary>
        /// What the rules send in place of the link <paramref name="link"/> at <paramref name="relative"/>, and whether
        /// they must: every link with -L, one that points outside the tree with --copy-unsafe-links (which then cannot
        /// be sent as a link, and is left out if it leads nowhere), one to a directory with -k (else it stays a link).
        /// Null for a link sent as a link.
        /// </summary>
        private (FileSystemInfo? Followed, bool MustFollow) Follow(FileSystemInfo link, string relative)
        {
            if (rules.CopyLinks || (rules.CopyUnsafeLinks && link.LinkTarget is { } target && LinkSafety.IsUnsafe(target, relative))) return (Target(link), true);
            return (rules.CopyDirLinks && Target(link) is DirectoryInfo directory ? directory : null, false);
        }

        /// <summary>What the link <paramref name="link"/> finally leads to, as a file or a directory; null if nothing, or it cannot be followed (a loop of links).</summary>
        private static FileSystemInfo? Target(FileSystemInfo link)
        {
            string target;
            try
            {
                if (link.ResolveLinkTarget(returnFinalTarget: true) is not { } resolved) return null;
                target = resolved.FullName;
            }
            catch (IOException)
            {
                return null;
            }
            return Directory.Exists(target) ? new DirectoryInfo(target) : File.Exists(target) ? new FileInfo(target) : null;
        }

        /// <summary>
        /// Whether a link followed only because it points outside the tree (--copy-unsafe-links), back to a directory
        /// the walk is in, stops on its own: met again inside its target, one level further down, it no longer climbs
        /// above the top, and stays a link there, as rsync judges each link where it stands (`self -> ../tree` at the
        /// top of `tree/` is copied once, and its copy's `self` is a link). Any other such link would never end.
        /// </summary>
        private bool EndsOnItsOwn(FileSystemInfo link, DirectoryInfo target, string relative)
        {
            if (rules.CopyLinks || rules.CopyDirLinks || link.LinkTarget is not { } text
                || SpecialFiles.RealPath(target.FullName) is not { } top || SpecialFiles.RealPath(Path.GetDirectoryName(link.FullName)!) is not { } at)
                return false;
            string inside = Path.GetRelativePath(top, Path.Join(at, link.Name));
            return inside != ".." && !inside.StartsWith("../", StringComparison.Ordinal) && !Path.IsPathRooted(inside)
                && !LinkSafety.IsUnsafe(text, $"{relative}/{inside.Replace(Path.DirectorySeparatorChar, '/')}");
        }

        /// <summary>Names a path given or listed that cannot be found (or taken), and goes on, as rsync and scp go on past it: the send ends incomplete.</summary>
        public void LeaveOutGiven(string path, string reason)
        {
            notSent.Add(new NotSentEntry(path, reason) { NotFound = true });
            skipped?.Invoke($"not sending '{path}': {reason}");
        }

        /// <summary>
        /// An entry whose name no receiver takes (<see cref="PathGuard.IsReserved"/>). A tree a receiver writes into (one
        /// sent on) holds that receiver's partials while a receive runs, or after one was cut off: sglty's own working
        /// files, as `sglty partials` finds them, which are skipped with a line. Any other entry so named is the
        /// user's, and is left out as not sent, with what it holds.
        /// </summary>
        private void Reserved(FileSystemInfo found, string relative, bool isDirectory, string? above = null)
        {
            if (above is null && !isDirectory && found.LinkTarget is null && PartialFiles.IsPartialName(found.Name))
            {
                skipped?.Invoke($"skipping '{relative}': {PartialSkipped}");
                return;
            }
            string reason = above is null ? $"{ReservedName}; rename it" : $"the directory '{above}' in its path: {ReservedName}; rename it";
            notSent.Add(new NotSentEntry(relative, reason) { NameRefused = true, IsDirectory = isDirectory });
            skipped?.Invoke($"not sending '{relative}{(isDirectory ? "/' or what it holds" : "'")}: {reason}");
        }

        /// <summary>Names a link that cannot be sent (it leads nowhere, or round in a loop), and goes on, as rsync goes on past it.</summary>
        private void LeaveOut(string relative, string reason)
        {
            notSent.Add(new NotSentEntry(relative, reason) { IsLink = true });
            skipped?.Invoke($"not sending '{relative}': {reason}");
        }

        /// <summary>
        /// Adds a source with relative paths (rsync -R): the directories above its kept path (each once, as rsync sends
        /// them), then the source under that path, a link as a link, as rsync sends it. An empty kept path sends the
        /// contents of the directory before "/./". A path below one already sent whole, or below a link sent as such, is
        /// left out, as rsync leaves it; one that is missing, or keeps ".." in its path, is named and left out, and the
        /// rest goes on (as with a list from `find`, one odd name does not stop the others). Without
        /// <paramref name="recursive"/>, a directory is sent without what it holds, as rsync --files-from sends it without -r,
        /// but one named with a trailing '/' (or "/.", or ".") with what it holds at one level, as rsync's implied --dirs.
        /// </summary>
        public void AddRelative(string path, bool recursive)
        {
            if (KeptPath(path) is not { } kept)
            {
                const string Climbs = "it keeps '..' in its path, which would land outside the destination; give it from a directory above, with '/./' where the kept path starts (e.g. /srv/./app/logs)";
                // As listed: a list's names are joined to its directory with "/./".
                int marker = path.IndexOf("/./", StringComparison.Ordinal);
                string shown = marker >= 0 ? path[(marker + 3)..] : path;
                LeaveOutGiven(shown, Climbs);
                return;
            }
            string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
            exclude?.EnterGiven(kept, full);
            if (kept.Length == 0)
            {
                if (!Directory.Exists(full)) throw new SingularityException(ErrorCode.BadPath, $"cannot send '{path}': it keeps no name, and is not a directory whose contents could be sent");
                // Without -r, what the directory holds at one level, as rsync's implied --dirs sends "." of a list.
                Tree(new DirectoryInfo(full), "", full, 0, recursive);
                return;
            }
            string[] parts = kept.Split('/');
            // The nearest directory above that is in decides: below one sent whole, or below a link, the path was
            // sent or cannot be; below a mount point that -x sent empty (within a tree sent whole), it is sent.
            for (int i = parts.Length - 1; i > 0; i--)
            {
                if (seen.KindOf(string.Join('/', parts, 0, i)) is not { } nearest) continue;
                if (nearest is Names.NotDirectory or Names.Whole)
                {
                    // Missing below a directory sent whole, it is still a name to delete (rsync --delete-missing-args).
                    if (missing is not null && new FileInfo(full) is { Exists: false, LinkTarget: null } && !Directory.Exists(full)) PassesOver(Unreachable(full), kept);
                    return;
                }
                break;
            }
            var named = new FileInfo(full);
            string? linkTarget = named.LinkTarget;
            bool isLink = linkTarget is not null;
            bool isDirectory = !isLink && Directory.Exists(full);
            // rsync -L: a listed link is sent as what it points to, read from where it leads.
            string source = full;
            if (isLink && Follow(named, kept) is var (followed, mustFollow) && (followed is not null || mustFollow))
            {
                if (followed is not { } target)
                {
                    if (exclude?.Excludes(kept, isDirectory: false) == true || PassesOver(full, follow: true, kept)) return;
                    LeaveOut(kept, Dangling(named));
                    return;
                }
                source = target.FullName;
                (linkTarget, isLink, isDirectory) = (null, false, target is DirectoryInfo);
                if (target is FileInfo file) named = file;
            }
            if (seen.KindOf(kept) is { } already && !(already == Names.Implied && isDirectory)) return;
            if (!isLink && !isDirectory && !named.Exists)
            {
                if (path.Contains('\uFFFD')) throw NotUtf8(path, "its name");
                string reason = Unreachable(full);
                // rsync --ignore-missing-args: a name that is not there is no error, and the deletion still runs.
                if (PassesOver(reason, kept)) return;
                LeaveOutGiven(kept, reason);
                return;
            }
            if (exclude?.Excludes(kept, isDirectory) == true) return;
            // As in a walk: a list from find names the partials of a tree a receiver writes into.
            if (Array.FindIndex(parts, part => PathGuard.IsReserved(part)) is var at and >= 0)
            {
                Reserved(named, kept, isDirectory, at == parts.Length - 1 ? null : string.Join('/', parts, 0, at + 1));
                return;
            }
            // The directories above, from the top, each read as it is (through a link, the directory it points to).
            string directory = full;
            var above = new List<(string Name, string Source)>();
            for (int i = parts.Length - 1; i > 0; i--)
            {
                directory = Path.GetDirectoryName(directory)!;
                above.Add((string.Join('/', parts, 0, i), directory));
            }
            for (int i = above.Count - 1; i >= 0; i--)
            {
                var (name, way) = above[i];
                if (seen.Contains(name)) continue;
                var info = new DirectoryInfo(way);
                if (info.LinkTarget is not null && info.ResolveLinkTarget(returnFinalTarget: true) is DirectoryInfo target) info = target;
                Add(entries, seen, DirectoryEntry(info, name, way, name.Length), implied: true);
            }
            if (linkTarget is not null)
            {
                Add(entries, seen, LinkEntry(named, linkTarget, kept, full, kept.Length));
            }
            else if (isDirectory)
            {
                var root = new DirectoryInfo(source);
                // Without -r, a name ending in '/' (or "/.") is sent with what it holds at one level, as rsync's implied
                // --dirs sends it; any other alone.
                bool oneLevel = !recursive && ContentsOnly(path);
                if (!seen.Contains(kept)) Add(entries, seen, DirectoryEntry(root, kept, source, kept.Length + 1), implied: !recursive && !oneLevel);
                if (oneLevel)
                {
                    seen.MarkOneLevel(kept);
                    Tree(root, kept + "/", source, kept.Length + 1, recurse: false);
                    return;
                }
                if (!recursive) return;
                seen.MarkWhole(kept);
                Tree(root, kept + "/", source, kept.Length + 1);
            }
            else if (!Special(named, kept, source, kept.Length))
            {
                AddFile(FileSource(named, kept, source, kept.Length));
            }
        }

        /// <summary>
        /// Whether <paramref name="file"/> is a socket, a FIFO or a device: added as one where the rules send its type,
        /// else left out with a line to <c>skipped</c>, as rsync leaves it without -D.
        /// </summary>
        private bool Special(FileInfo file, string relative, string sourcePath, int skip)
        {
            if (SpecialOf(file) is not { } special) return false;
            if (rules.Sends(special.Type)) Add(entries, seen, new SourceEntry(SpecialEntry(file, special, relative), sourcePath, skip));
            else skipped?.Invoke($"skipping '{relative}': {NotSent(special.Type)}");
            return true;
        }

        /// <summary>
        /// Adds a file; when hard links are kept, one already added under another name is added as a hard link
        /// to that name instead, which is then marked linked.
        /// </summary>
        public void AddFile(SourceEntry file)
        {
            if (seen.Relative && seen.Contains(file.Entry.Path)) return;
            if (_firstNames is null || (file.Identity ?? SpecialFiles.IdentityOf(file.SourcePath)) is not { Names: > 1 } identity)
            {
                Add(entries, seen, file);
                return;
            }
            if (_firstNames.TryGetValue((identity.Device, identity.Inode), out int first))
            {
                var named = entries[first];
                if (!named.Entry.Linked) entries[first] = named with { Entry = named.Entry with { Linked = true } };
                Add(entries, seen, file with { Entry = new ManifestEntry(EntryKind.HardLink, file.Entry.Path, 0, 0, 0, named.Entry.Path) });
                return;
            }
            _firstNames.Add((identity.Device, identity.Inode), entries.Count);
            Add(entries, seen, file);
        }
    }

    // Clamped: 64 bits of nanoseconds hold the years 1678 to 2262 only, and a file can carry any time.
    internal static long ToNanoseconds(DateTime utc) => Math.Clamp((utc - DateTime.UnixEpoch).Ticks, long.MinValue / 100, long.MaxValue / 100) * 100;

    internal static DateTime FromNanoseconds(long nanoseconds) => DateTime.UnixEpoch.AddTicks(nanoseconds / 100);
}
