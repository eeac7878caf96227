namespace Singularity.Engine.Storage;

/// <summary>
/// Keeps what a send replaces or deletes in the destination, as rsync --backup keeps it: each file or link is renamed,
/// never copied, to its name with <see cref="Suffix"/> beside it, or to its path (with the suffix) under
/// <see cref="Directory"/>, a directory of the destination. An older backup at that name is replaced. Directories are
/// not moved: what they hold is kept one entry at a time. Backups are taken through the session's <see cref="PathGuard"/>,
/// so none is written through a link or outside the destination.
/// </summary>
internal sealed class Backups(PathGuard guard, string suffix, string? directory)
{
    /// <summary>Appended to each backup's name ("~" by default beside the file, "" under a directory).</summary>
    public string Suffix { get; } = suffix;

    /// <summary>The backup directory, relative to the destination; null when each backup stands beside what it keeps.</summary>
    public string? Directory { get; } = directory;

    /// <summary>
    /// Whether a deletion leaves <paramref name="relative"/> alone, with all it holds, as a backup or a place of them:
    /// beside the files, any name ending in the suffix (rsync protects them so, `P *~`); else the backup directory,
    /// what is in it, and each directory above it. The deletion asks only of what the source does not name, so a
    /// directory above that the source has is cleaned as usual, and one it has not (`versions` above `versions/2`)
    /// is kept whole, with earlier sends' backups beside this one's.
    /// </summary>
    public bool Protects(string relative) => Directory is null
        ? relative.EndsWith(Suffix, PathGuard.NameComparison)
        : Within(relative, Directory) || Within(Directory, relative);

    /// <summary>Whether <see cref="Directory"/> holds the manifest path <paramref name="relative"/>, or is it.</summary>
    public bool Holds(string relative) => Directory is not null && Within(relative, Directory);

    /// <summary>Whether the relative path <paramref name="path"/> is <paramref name="directory"/> or below it.</summary>
    private static bool Within(string path, string directory) =>
        path.StartsWith(directory, PathGuard.NameComparison) && (path.Length == directory.Length || path[directory.Length] == '/');

    /// <summary>
    /// While set, whether the source names a path: a backup that would take such a name fails rather than take the
    /// place of what the session put there. Set while the deletion runs (beside the files, a file the source no longer
    /// has, `x`, would otherwise be renamed over the source's `x~`); the sender refuses a manifest that names both a
    /// path and its backup's name, so no commit needs it.
    /// </summary>
    public Func<string, bool>? NamedBySource { get; set; }

    /// <summary>Whether backups stand in the directory of what they keep, so a directory whose entries were kept is not emptied.</summary>
    public bool Beside => Directory is null;

    /// <summary>
    /// Moves the file or link at <paramref name="full"/> (<paramref name="path"/> from the destination) to its backup;
    /// false when nothing, or a real directory, stands there. Throws <see cref="EntryConflictException"/> when the
    /// backup cannot be made, and then what stands there stays.
    /// </summary>
    public bool Keep(string full, string path)
    {
        var standing = new FileInfo(full);
        // A real directory does not count as an existing file; a link, even to a directory or to nothing, is moved itself.
        if (standing.LinkTarget is null && !standing.Exists) return false;
        string backup = (Directory is null ? path : $"{Directory}/{path}") + Suffix;
        if (NamedBySource?.Invoke(backup) == true) throw new EntryConflictException(NotKept(path, backup, "the source has that name too; give another --suffix, or a --backup-dir"));
        try
        {
            string target = guard.Resolve(backup);
            if (Directory is not null) GiveModes(path);
            if (System.IO.Directory.Exists(target) && new DirectoryInfo(target).LinkTarget is null)
                throw new EntryConflictException(NotKept(path, backup, "a directory stands there"));
            // Two names of one file (a hard link, as `cp -al` leaves them): rename(2) would do nothing and succeed, so
            // the backup already holds it, and only this name goes.
            if (SpecialFiles.IdentityOf(full) is { } named && SpecialFiles.IdentityOf(target) is { } kept && (named.Device, named.Inode) == (kept.Device, kept.Inode))
                File.Delete(full);
            else
                SpecialFiles.Rename(full, target);
            return true;
        }
        catch (EntryConflictException)
        {
            throw;
        }
        catch (SingularityException ex)
        {
            // The backup's path is refused (a link on its way, a name too long): this entry's alone.
            throw new EntryConflictException(NotKept(path, backup, ex.Message));
        }
        catch (IOException ex) when (ex.HResult == Errno.CrossDevice)
        {
            throw new EntryConflictException(NotKept(path, backup, "it is on another file system (a mount inside the destination), and backups are renamed, never copied"));
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException || ex is IOException io && !StorageErrors.IsDiskFull(io))
        {
            // Whatever kept this rename from happening (EBUSY, a read-only directory) concerns this entry alone; a full
            // disk (the backup's directories) ends the session, as any write does.
            throw new EntryConflictException(NotKept(path, backup, ex is UnauthorizedAccessException ? "permission denied" : ex.Message));
        }
    }

    // The backup directory's subdirectories this session made and gave their modes.
    private readonly HashSet<string> _given = new(StringComparer.Ordinal);

    /// <summary>
    /// Gives each directory this session made under <see cref="Directory"/> for <paramref name="path"/>'s backup the
    /// mode of the destination's directory it mirrors, as rsync makes them: the backups of a private directory's files
    /// stay private. From the deepest up, until one made before (or given already). A mode that cannot be read or set
    /// leaves that directory as made; the backup is made all the same.
    /// </summary>
    private void GiveModes(string path)
    {
        if (OperatingSystem.IsWindows()) return;
        for (int slash = path.LastIndexOf('/'); slash > 0; slash = path.LastIndexOf('/', slash - 1))
        {
            string mirrored = path[..slash];
            string made = guard.FullPath($"{Directory}/{mirrored}");
            if (!guard.Created(made)) return;
            lock (_given)
                if (!_given.Add(made)) return;
            try
            {
                var mode = File.GetUnixFileMode(guard.FullPath(mirrored));
                SpecialFiles.SetModeNotFollowing(made, PartialFile.DirectoryMode(mode));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { }
        }
    }

    /// <summary>Removes the file or link at <paramref name="full"/> (<paramref name="path"/> from the destination), moved to its backup when there are <paramref name="backups"/>.</summary>
    public static void Discard(Backups? backups, string full, string path)
    {
        if (backups is null || !backups.Keep(full, path)) File.Delete(full);
    }

    private static string NotKept(string path, string backup, string why) => $"'{path}' was left as it was: its backup '{backup}' could not be made: {why}";
}
