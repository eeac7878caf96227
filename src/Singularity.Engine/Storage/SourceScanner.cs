using Singularity.Engine.Protocol;

namespace Singularity.Engine.Storage;

/// <summary>
/// A manifest entry together with where the sender reads it from: <paramref name="Base"/> joined with the entry's
/// path, or, for a file given on its own, <paramref name="Base"/> itself. A tree's entries share one base rather than
/// each keeping its full source path: a tree of millions of files is scanned before anything is sent.
/// </summary>
internal readonly record struct SourceEntry(ManifestEntry Entry, string Base, bool BaseIsSource = false)
{
    public string SourcePath => BaseIsSource ? Base : Path.Join(Base, Entry.Path);
}

/// <summary>
/// Turns the sender's command-line paths into a manifest. A file is sent under its own name; a directory is sent
/// under its name with everything below it, or, when the path ends in '/', its contents only (as rsync does).
/// Links inside a tree are sent as links and never followed.
/// </summary>
internal static class SourceScanner
{
    public static List<SourceEntry> Scan(IReadOnlyList<string> paths)
    {
        if (paths.Count == 0) throw new SingularityException(ErrorCode.BadPath, "nothing to send: give at least one file or directory");
        var entries = new List<SourceEntry>();
        // Only two paths can map to the same name: one path's names are unique, as a directory's are.
        HashSet<string>? seen = paths.Count > 1 ? new(StringComparer.Ordinal) : null;
        foreach (string path in paths)
        {
            bool contentsOnly = path.Length > 1 && (path.EndsWith('/') || path.EndsWith(Path.DirectorySeparatorChar));
            string full = Path.GetFullPath(path);
            if (Directory.Exists(full))
            {
                var root = new DirectoryInfo(Path.TrimEndingDirectorySeparator(full));
                string prefix = contentsOnly ? "" : root.Name + "/";
                // Entry paths start with the root's name unless only its contents go, so their base is its parent.
                string treeBase = contentsOnly ? root.FullName : root.Parent?.FullName ?? root.FullName;
                if (!contentsOnly) Add(entries, seen, DirectoryEntry(root, root.Name, treeBase));
                Walk(root, prefix, treeBase, entries, seen);
            }
            else if (File.Exists(full))
            {
                var file = new FileInfo(full);
                if (file.LinkTarget is not null)
                    file = (FileInfo?)file.ResolveLinkTarget(returnFinalTarget: true) ?? file;
                Add(entries, seen, new SourceEntry(FileManifestEntry(file, Path.GetFileName(full)), file.FullName, BaseIsSource: true));
            }
            else
            {
                throw new SingularityException(ErrorCode.BadPath, $"cannot send '{path}': no such file or directory");
            }
        }
        return entries;
    }

    private static void Walk(DirectoryInfo directory, string prefix, string treeBase, List<SourceEntry> entries, HashSet<string>? seen)
    {
        FileSystemInfo[] children;
        try
        {
            children = directory.GetFileSystemInfos();
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new SingularityException(ErrorCode.IoError, $"cannot read directory '{directory.FullName}': permission denied", ex);
        }
        Array.Sort(children, static (a, b) => string.CompareOrdinal(a.Name, b.Name));
        foreach (var child in children)
        {
            string relative = prefix + child.Name;
            // The attribute comes from the status the enumeration already read: only links cost a readlink.
            if ((child.Attributes & FileAttributes.ReparsePoint) != 0 && child.LinkTarget is { } target)
            {
                Add(entries, seen, new SourceEntry(new ManifestEntry(EntryKind.Symlink, relative, 0, 0, ToNanoseconds(child.LastWriteTimeUtc), target), treeBase));
            }
            else if (child is DirectoryInfo subdirectory)
            {
                Add(entries, seen, DirectoryEntry(subdirectory, relative, treeBase));
                Walk(subdirectory, relative + "/", treeBase, entries, seen);
            }
            else if (child is FileInfo file && (file.Attributes & FileAttributes.Device) == 0)
            {
                Add(entries, seen, new SourceEntry(FileManifestEntry(file, relative), treeBase));
            }
            // Sockets, FIFOs and devices are skipped: they have no bytes to copy.
        }
    }

    private static ManifestEntry FileManifestEntry(FileInfo file, string relative) =>
        new(EntryKind.File, relative, file.Length, ModeOf(file), ToNanoseconds(file.LastWriteTimeUtc), null);

    private static SourceEntry DirectoryEntry(DirectoryInfo directory, string relative, string treeBase) =>
        new(new ManifestEntry(EntryKind.Directory, relative, 0, ModeOf(directory), ToNanoseconds(directory.LastWriteTimeUtc), null), treeBase);

    private static UnixFileMode ModeOf(FileSystemInfo info) => OperatingSystem.IsWindows() ? (UnixFileMode)0b110_100_100 : info.UnixFileMode;

    private static void Add(List<SourceEntry> entries, HashSet<string>? seen, SourceEntry entry)
    {
        if (seen is not null && !seen.Add(entry.Entry.Path))
            throw new SingularityException(ErrorCode.BadPath, $"two sources map to the same name '{entry.Entry.Path}'; send them separately or rename one");
        entries.Add(entry);
    }

    internal static long ToNanoseconds(DateTime utc) => (utc - DateTime.UnixEpoch).Ticks * 100;

    internal static DateTime FromNanoseconds(long nanoseconds) => DateTime.UnixEpoch.AddTicks(nanoseconds / 100);
}
