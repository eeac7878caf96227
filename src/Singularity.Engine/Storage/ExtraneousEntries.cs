namespace Singularity.Engine.Storage;

/// <summary>
/// Deletes what a destination directory holds beyond what a session's manifest names, as rsync's --delete does, once
/// every file of the session is in place. Links are deleted as links and never followed, so nothing outside the
/// destination is reached; a directory not named is deleted with everything below it. Partial files and journals
/// (of this or another session) are left for <see cref="PartialFiles"/> to clean, and a name that is not UTF-8, which
/// .NET cannot give back to the system, is left too and named as not deleted. What the send's exclude patterns match
/// is left without a word, at any depth, and so is a directory holding it, as rsync leaves it. For a dry run,
/// <paramref name="listOnly"/> is told each entry that would be deleted (a directory after what it holds, with a
/// trailing '/'), and nothing is deleted. With <paramref name="backups"/>, each file and link is moved to its backup
/// rather than deleted, and the backups already made are left alone, as rsync -b --delete leaves them.
/// </summary>
internal sealed class ExtraneousEntries(Func<string, string, bool> kept, Action stillBusy, ExcludePatterns? excluded = null, Action<string>? listOnly = null, Backups? backups = null)
{
    /// <summary>Failures named one by one; more are only counted, so a directory of a million undeletable files costs no memory.</summary>
    public const int MostFailuresNamed = 100;

    private static readonly EnumerationOptions AllEntries = new() { AttributesToSkip = 0, IgnoreInaccessible = false, RecurseSubdirectories = false };
    private readonly List<string> _failures = [];

    /// <summary>
    /// Whether directories may be deleted now; when not (another session is receiving, see RemovalGate), each
    /// directory to delete is named as not deleted, and what it holds is left. Default true.
    /// </summary>
    public bool RemoveDirectories { get; set; } = true;

    /// <summary>
    /// With rsync -x, the device of the destination: a directory on another file system (a mount point) is neither
    /// cleaned nor deleted, and stays without a word, as rsync leaves it. Default null: every directory is.
    /// </summary>
    public ulong? Device { get; init; }

    /// <summary>
    /// The most entries to delete (rsync --max-delete): once <see cref="Deleted"/> reaches it, each entry met is left
    /// and counted in <see cref="LeftByLimit"/>, a directory once, without a look inside. Default null: no limit.
    /// </summary>
    public int? Most { get; init; }

    /// <summary>
    /// Whether the destination may be a link (the receiver's own directory, given so by its user): it is then cleaned
    /// where the link leads. A session's directory named by a URL was made without links, and one swapped in since
    /// is not walked through. Default false.
    /// </summary>
    public bool RootMayBeLink { get; init; }

    /// <summary>Told each entry deleted (or moved to its backup), as <c>listOnly</c> is told it in a dry run. Default null.</summary>
    public Action<string>? Removed { get; init; }

    /// <summary>Entries left because <see cref="Most"/> was reached.</summary>
    public int LeftByLimit { get; private set; }

    /// <summary>Directories kept because they are on another file system (<see cref="Device"/>), not counted otherwise.</summary>
    public int KeptElsewhere { get; private set; }

    /// <summary>Entries deleted, counting everything below a deleted directory.</summary>
    public int Deleted { get; private set; }

    /// <summary>Entries that could not be deleted.</summary>
    public int Failed { get; private set; }

    /// <summary>The sizes of the regular files deleted (not moved to a backup, nor in a dry run): about the room the deletion freed.</summary>
    public long BytesDeleted { get; private set; }

    /// <summary>Entries kept below a directory being deleted because the exclude patterns match them (and not counted otherwise).</summary>
    public int KeptByPatterns { get; private set; }

    /// <summary>Backups kept below a directory being deleted (and not counted otherwise): the directory stays with them.</summary>
    public int KeptAsBackups { get; private set; }

    /// <summary>The first <see cref="MostFailuresNamed"/> failures, each as "'PATH': reason".</summary>
    public IReadOnlyList<string> Failures => _failures;

    /// <summary>
    /// Deletes the entries of <paramref name="directory"/> (a directory of the manifest, <paramref name="relative"/>
    /// from the destination, "" for its root) that are not to be kept (by their relative and full paths).
    /// </summary>
    public void Clean(string directory, string relative)
    {
        var info = new DirectoryInfo(directory);
        // Prepared as a real directory; one swapped for a link since (by a local user) is not walked through. The
        // receiver's directory itself may be a link, as its user gave it: it is where the link leads.
        bool followed = relative.Length == 0 && RootMayBeLink;
        if (!info.Exists || (!followed && info.LinkTarget is not null) || Elsewhere(directory, followed)) return;
        FileSystemInfo[] children;
        try
        {
            children = info.GetFileSystemInfos("*", AllEntries);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Fail(relative.Length == 0 ? "." : relative, ex);
            return;
        }
        var unspellable = Unspellable(children);
        excluded?.EnterDirectory(relative, directory);
        foreach (var child in children)
        {
            // Also where nothing is deleted: the caller's check of the session, and its signs of life, come per entry.
            stillBusy();
            string path = relative.Length == 0 ? child.Name : $"{relative}/{child.Name}";
            if (PathGuard.IsReserved(child.Name) || kept(path, child.FullName) || Excluded(child, path) || backups?.Protects(path) == true) continue;
            Remove(child, path, unspellable);
        }
    }

    /// <summary>
    /// Names .NET read from bytes that are not UTF-8: as U+FFFD, which gives the system another name (a file truly
    /// named so, if one is beside it, which then cannot be told from it either).
    /// </summary>
    private static HashSet<string>? Unspellable(FileSystemInfo[] children)
    {
        HashSet<string>? seen = null, unspellable = null;
        foreach (var child in children)
        {
            if (!child.Name.Contains('\uFFFD')) continue;
            if (!(seen ??= new(StringComparer.Ordinal)).Add(child.Name) || Utf8Names.NameIsNotUtf8(child))
                (unspellable ??= new(StringComparer.Ordinal)).Add(child.Name);
        }
        return unspellable;
    }

    /// <summary>
    /// Deletes what stands at <paramref name="full"/> (<paramref name="relative"/> from the destination), a name the
    /// sender gave that its source does not have (rsync --delete-missing-args): a file or a link itself, a directory
    /// with everything below it only <paramref name="withContents"/>, else only when empty (one that is not is named
    /// as failed). Nothing there is nothing to do. False if anything stayed.
    /// </summary>
    public bool RemoveNamed(string full, string relative, bool withContents)
    {
        FileSystemInfo entry = new DirectoryInfo(full) is { Exists: true, LinkTarget: null } directory ? directory : new FileInfo(full);
        if (!entry.Exists && entry.LinkTarget is null) return true;
        if (backups?.Protects(relative) == true) return false;
        if (entry is DirectoryInfo named && !withContents && named.EnumerateFileSystemInfos("*", AllEntries).Any())
        {
            Fail(relative, "it is a directory that is not empty; send with --force (or --delete) too to delete it with what it holds");
            return false;
        }
        return Remove(entry, relative, null);
    }

    /// <summary>
    /// Deletes the real directory <paramref name="full"/> (<paramref name="relative"/> from the destination) with
    /// everything below it, to make room for what takes its name: what it held is named (listed, or told to
    /// <see cref="Removed"/>), the directory itself not, as rsync names it. False if anything stayed.
    /// </summary>
    public bool Remove(string full, string relative) => Remove(new DirectoryInfo(full), relative, null, named: false);

    /// <summary>Deletes an entry and, for a real directory, everything below it; false if anything stayed. The entry itself is named unless <paramref name="named"/> is false.</summary>
    private bool Remove(FileSystemInfo entry, string path, HashSet<string>? unspellable, bool named = true)
    {
        if (unspellable?.Contains(entry.Name) == true)
        {
            Fail(path, "its name is not UTF-8, which cannot be given back to the system to delete it");
            return false;
        }
        // Made by another program a directory at a time: the system takes no path as long (PATH_MAX), and .NET gives
        // such an entry an empty FullName, which its calls refuse as no path. The directories above it stay with it,
        // as rsync's rmdir leaves them.
        if (SpecialFiles.TooLongForTheSystem(entry.FullName))
        {
            // Cut where no character of two UTF-16 units would be split.
            Fail(path.Length > 80 ? path[..(char.IsHighSurrogate(path[79]) ? 79 : 80)] + "..." : path, $"its path is longer than the system takes ({SpecialFiles.LongestPath:N0} bytes with the destination's); delete it by hand, a directory at a time");
            return false;
        }
        bool realDirectory = entry is DirectoryInfo && (entry.Attributes & FileAttributes.ReparsePoint) == 0;
        // Before the limit: a file system mounted here is no deletion, left or made.
        if (realDirectory && Elsewhere(entry.FullName)) return false;
        if (AtLimit()) return false;
        try
        {
            if (realDirectory && entry is DirectoryInfo directory)
            {
                if (!RemoveDirectories)
                {
                    Fail(path, "not deleted while another send was receiving into the destination; send again to delete it");
                    return false;
                }
                bool emptied = true;
                var children = directory.GetFileSystemInfos("*", AllEntries);
                var below = Unspellable(children);
                excluded?.EnterDirectory(path, directory.FullName);
                foreach (var child in children)
                {
                    stillBusy();
                    string childPath = $"{path}/{child.Name}";
                    // Partial files stay, here too: another session may be writing them, or a later one resume them.
                    if (PathGuard.IsReserved(child.Name)) emptied = false;
                    else if (backups?.Protects(childPath) == true)
                    {
                        emptied = false;
                        KeptAsBackups++;
                    }
                    else if (Excluded(child, childPath))
                    {
                        emptied = false;
                        KeptByPatterns++;
                    }
                    else
                    {
                        // A file or link kept beside its name stays in this directory as its backup.
                        bool keptBeside = backups is { Beside: true } && !(child is DirectoryInfo && (child.Attributes & FileAttributes.ReparsePoint) == 0);
                        bool removed = Remove(child, childPath, below);
                        if (removed && keptBeside) KeptAsBackups++;
                        emptied &= removed && !keptBeside;
                    }
                }
                // A child that stayed is named already (or is a partial file); the directory holding it stays without a word.
                if (!emptied) return false;
                if (AtLimit()) return false;
                if (listOnly is null) directory.Delete();
                if (named) (listOnly ?? Removed)?.Invoke(path + "/");
            }
            else if (listOnly is null)
            {
                // A link, to a directory too, is unlinked (or moved to its backup) itself: its target is never touched.
                // From the status the listing read: no look more.
                long size = backups is null && entry is FileInfo file && (file.Attributes & FileAttributes.ReparsePoint) == 0 ? file.Length : 0;
                Backups.Discard(backups, entry.FullName, path);
                BytesDeleted += size;
                Removed?.Invoke(path);
            }
            else
            {
                listOnly(path);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or EntryConflictException)
        {
            Fail(path, ex);
            return false;
        }
        Deleted++;
        return true;
    }

    /// <summary>Whether the most deletions are reached: the entry at hand is then left, and counted.</summary>
    private bool AtLimit()
    {
        if (!(Deleted >= Most)) return false;
        LeftByLimit++;
        return true;
    }

    private bool Elsewhere(string directory, bool follow = false)
    {
        if (Device is not { } own || SpecialFiles.DeviceOf(directory, follow) is not { } device || device == own) return false;
        KeptElsewhere++;
        return true;
    }

    private bool Excluded(FileSystemInfo entry, string path) =>
        excluded?.Excludes(path, isDirectory: entry is DirectoryInfo && (entry.Attributes & FileAttributes.ReparsePoint) == 0) == true;

    private void Fail(string path, Exception ex) => Fail(path, ex is UnauthorizedAccessException ? "permission denied" : ex.Message);

    private void Fail(string path, string reason)
    {
        Failed++;
        if (_failures.Count < MostFailuresNamed) _failures.Add($"'{path}': {reason}");
    }
}
