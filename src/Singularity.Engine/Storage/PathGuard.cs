using System.Buffers;
using System.Text;

namespace Singularity.Engine.Storage;

/// <summary>Decides whether a relative path from the wire may be written under a destination directory, and maps it there.</summary>
internal sealed class PathGuard
{
    /// <summary>How a refusal of a file where a directory is to be goes on after its path: the words a pull reads to tell a directory pulled onto a file.</summary>
    public const string NotADirectory = "exists in the destination and is not a directory";

    private static readonly SearchValues<char> WindowsInvalid = SearchValues.Create("\\:*?\"<>|");
    private readonly string _root;
    private readonly ProtocolLimits _limits;
    // Compared as the platform's file systems usually compare names: another letter case names the same directory on
    // Windows and macOS, where a check by exact name would miss it.
    private static readonly StringComparer Names = OperatingSystem.IsLinux() ? StringComparer.Ordinal : StringComparer.OrdinalIgnoreCase;

    /// <summary>How names in the destination compare (see above).</summary>
    internal static StringComparer NameComparer => Names;

    /// <summary>The same, for comparing parts of names.</summary>
    internal static StringComparison NameComparison { get; } = OperatingSystem.IsLinux() ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase;
    private readonly HashSet<string> _checkedDirectories = new(Names);
    // Directories this guard created: nothing in them predates the session, so nothing there needs looking up.
    private readonly HashSet<string> _createdDirectories = new(Names);
    // A dry run's directories that a real session would create (Plan).
    private readonly HashSet<string> _plannedDirectories = new(Names);

    // A dry run's root that a real session would create (its destination is missing): all below it is planned.
    private readonly bool _rootPlanned;

    /// <summary>Guards <paramref name="root"/>; for a dry run whose root a real session would create, <paramref name="rootPlanned"/>: nothing below it is looked at.</summary>
    public PathGuard(string root, ProtocolLimits limits, bool rootPlanned = false)
    {
        _root = Path.GetFullPath(root);
        _limits = limits;
        _rootPlanned = rootPlanned;
    }

    public string Root => _root;

    /// <summary>Called with each directory just before it is created. Tests use it to put something at that name in between, as another session may.</summary>
    internal Action<string>? BeforeCreate { get; set; }

    /// <summary>Checks the syntax of a relative path: no absolute path, no empty, "." or ".." component, no NUL, no name too long, nothing the local file system cannot name.</summary>
    public static string? SyntaxError(string path, ProtocolLimits limits)
    {
        if (path.Length == 0) return "empty path";
        if (path[0] == '/' || (OperatingSystem.IsWindows() && (path.Length > 1 && path[1] == ':'))) return $"absolute path '{path}'";
        foreach (var range in path.AsSpan().Split('/'))
        {
            var name = path.AsSpan()[range];
            if (name.IsEmpty) return $"empty component in '{path}'";
            if (name is "." or "..") return $"'{path}' climbs out of the destination";
            if (name.Contains('\0')) return "NUL in path";
            if (IsReserved(name)) return $"'{path}' uses a name reserved for partial files";
            if (Encoding.UTF8.GetByteCount(name) > limits.MaxNameBytes) return $"a name in '{path}' is longer than {limits.MaxNameBytes} bytes";
            if (OperatingSystem.IsWindows() && (name.IndexOfAny(WindowsInvalid) >= 0 || name[^1] is '.' or ' ')) return $"'{path}' cannot be named on this system";
        }
        return null;
    }

    /// <summary>
    /// Whether <paramref name="name"/> is one of the receiver's own partial and journal names, which a sender may not
    /// plant a file or a link at. In any letter case, since on a case-insensitive file system `.X.SGLTY-PART` names
    /// the partial of `x`.
    /// </summary>
    public static bool IsReserved(ReadOnlySpan<char> name) =>
        name.EndsWith(PartialFile.PartSuffix, StringComparison.OrdinalIgnoreCase) || name.EndsWith(ResumeJournal.StateSuffix, StringComparison.OrdinalIgnoreCase);

    /// <summary>What a name <see cref="IsReserved"/> refuses does, as a sender tells it (after "its name" or the name).</summary>
    public static readonly string ReservedWhy = $"ends as a receiver's partial files do ({PartialFile.PartSuffix}, {ResumeJournal.StateSuffix}), which no receiver takes";

    /// <summary>
    /// Maps a checked relative path under the root and verifies that no existing parent is a symbolic link or a
    /// non-directory, creating the missing parents; a dry run (<paramref name="create"/> false) only plans them (see
    /// <see cref="Plan"/>).
    /// </summary>
    public string Resolve(string relative, bool create = true)
    {
        string? error = SyntaxError(relative, _limits);
        if (error is not null) throw new SingularityException(ErrorCode.BadPath, $"refused path: {error}");
        string full = FullPath(relative);
        // The syntax check above already refuses every path that could climb; this one stands on its own in case
        // that check or the platform's path rules ever let one through.
        if (!IsBelow(_root, full))
            throw new SingularityException(ErrorCode.BadPath, $"refused path '{relative}': it leaves the destination");
        CheckParents(full, create);
        return full;
    }

    /// <summary>
    /// Where a relative path of the manifest (checked already, as every path read from the wire is) names below the
    /// root, without a look at anything on the way: for a question that must create and plan nothing.
    /// </summary>
    public string FullPath(string relative) => Path.GetFullPath(Path.Combine(_root, relative.Replace('/', Path.DirectorySeparatorChar)));

    /// <summary>Creates a directory and its parents under the root, refusing to pass through links.</summary>
    public void CreateDirectory(string full)
    {
        CheckParents(full);
        var info = new DirectoryInfo(full);
        if (info.LinkTarget is not null)
            throw new SingularityException(ErrorCode.BadPath, $"refused: '{Relative(full)}' is a symbolic link in the destination");
        if (File.Exists(full))
            throw new SingularityException(ErrorCode.BadPath, $"refused: '{Relative(full)}' {NotADirectory}");
        CreateChecked(full);
    }

    /// <summary>
    /// Creates a directory found missing, and counts it as checked only once it proves to be a real one: another
    /// session may have made a link at that name meanwhile, and creating a directory where a link to one stands
    /// succeeds. A session removes a real directory only while it is the receiver's one session and has checked nothing
    /// at or below it (see RemovalGate), so one checked after it was created stays one while the session needs it.
    /// </summary>
    private void CreateChecked(string full)
    {
        BeforeCreate?.Invoke(full);
        bool existed = Directory.Exists(full);
        Directory.CreateDirectory(full);
        if (new DirectoryInfo(full) is not { LinkTarget: null, Exists: true })
            throw new SingularityException(ErrorCode.BadPath, $"refused: '{Relative(full)}' became a symbolic link or a file in the destination while it was being created");
        lock (_checkedDirectories)
        {
            _checkedDirectories.Add(full);
            if (!existed) _createdDirectories.Add(full);
        }
    }

    /// <summary>
    /// Whether this guard created <paramref name="directory"/> (it did not exist before): whatever is in it came from
    /// this session, or from another one writing the same tree at the same time.
    /// </summary>
    public bool Created(string? directory)
    {
        if (directory is null) return false;
        lock (_checkedDirectories) return _createdDirectories.Contains(directory);
    }

    /// <summary>
    /// Whether this guard checked <paramref name="full"/>: something of this session was prepared at or below it. The
    /// checked directories hold every parent (below the root) of each one they hold, so one lookup tells.
    /// </summary>
    public bool Checked(string full)
    {
        lock (_checkedDirectories) return _checkedDirectories.Contains(full) || _plannedDirectories.Contains(full);
    }

    /// <summary>
    /// For a dry run: a directory a real session would create, missing or in place of a file or a link it would
    /// replace. Later paths may pass through it, and nothing found below it counts (<see cref="Planned"/>).
    /// </summary>
    public void Plan(string full)
    {
        lock (_checkedDirectories) _plannedDirectories.Add(full);
    }

    /// <summary>For a dry run: a directory found to be a real one counts as checked, as a real session would check it; a missing one is planned.</summary>
    public void PlanOrCheck(string full)
    {
        if (!Directory.Exists(full)) Plan(full);
        else lock (_checkedDirectories) _checkedDirectories.Add(full);
    }

    /// <summary>Whether <paramref name="directory"/> or one of its parents below the root was planned, found by name alone.</summary>
    private bool BelowPlanned(string? directory)
    {
        lock (_checkedDirectories)
        {
            for (; directory is not null && directory.Length > _root.Length; directory = Path.GetDirectoryName(directory))
            {
                if (_plannedDirectories.Contains(directory)) return true;
                if (_checkedDirectories.Contains(directory)) return false;
            }
        }
        return _rootPlanned;
    }

    /// <summary>Whether a dry run planned <paramref name="directory"/>: a real session would create it fresh.</summary>
    public bool Planned(string? directory)
    {
        if (directory is null) return false;
        if (_rootPlanned && directory == _root) return true;
        lock (_checkedDirectories) return _plannedDirectories.Contains(directory);
    }

    private void CheckParents(string full, bool create = true)
    {
        string? parent = Path.GetDirectoryName(full);
        var missing = new Stack<string>();
        // Below a directory a dry run would create, nothing that stands now (through a link, say) is looked at.
        bool belowPlanned = !create && BelowPlanned(parent);
        while (parent is not null && parent.Length > _root.Length)
        {
            lock (_checkedDirectories)
            {
                if (_checkedDirectories.Contains(parent) || _plannedDirectories.Contains(parent)) break;
            }
            if (belowPlanned)
            {
                missing.Push(parent);
                parent = Path.GetDirectoryName(parent);
                continue;
            }
            var info = new DirectoryInfo(parent);
            if (info.LinkTarget is not null)
                throw new SingularityException(ErrorCode.BadPath, $"refused: '{Relative(full)}' would be written through the symbolic link '{Relative(parent)}'");
            if (File.Exists(parent))
                // This entry's alone: a file kept where the source has a directory (--ignore-existing) fails what is below it.
                throw new EntryConflictException($"refused: '{Relative(parent)}' is a file, not a directory");
            missing.Push(parent);
            parent = Path.GetDirectoryName(parent);
        }
        while (missing.TryPop(out string? directory))
        {
            if (create) CreateChecked(directory);
            else if (belowPlanned) Plan(directory);
            else PlanOrCheck(directory);
        }
    }

    /// <summary>Whether the full path <paramref name="full"/> names something strictly inside the full path <paramref name="root"/>.</summary>
    internal static bool IsBelow(string root, string full) =>
        full.StartsWith(root, StringComparison.Ordinal) && full.Length > root.Length
        && (IsSeparator(full[root.Length]) || root.EndsWith(Path.DirectorySeparatorChar));

    private string Relative(string full) => Path.GetRelativePath(_root, full);

    private static bool IsSeparator(char c) => c == Path.DirectorySeparatorChar || c == Path.AltDirectorySeparatorChar;
}
