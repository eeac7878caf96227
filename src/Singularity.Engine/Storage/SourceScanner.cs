using Singularity.Engine.Protocol;

namespace Singularity.Engine.Storage;

/// <summary>A manifest entry together with where the sender reads it from.</summary>
internal sealed record SourceEntry(ManifestEntry Entry, string SourcePath);

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
                if (!contentsOnly) Add(entries, seen, DirectoryEntry(root, root.Name));
                Walk(root, prefix, entries, seen);
            }
            else if (File.Exists(full))
            {
                var file = new FileInfo(full);
                if (file.LinkTarget is not null)
                    file = (FileInfo?)file.ResolveLinkTarget(returnFinalTarget: true) ?? file;
                Add(entries, seen, FileEntry(file, Path.GetFileName(full)));
            }
            else
            {
                throw new SingularityException(ErrorCode.BadPath, $"cannot send '{path}': no such file or directory");
            }
        }
        return entries;
    }

    private static void Walk(DirectoryInfo directory, string prefix, List<SourceEntry> entries, HashSet<string>? seen)
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
                Add(entries, seen, new SourceEntry(new ManifestEntry(EntryKind.Symlink, relative, 0, 0, ToNanoseconds(child.LastWriteTimeUtc), target), child.FullName));
            }
            else if (child is DirectoryInfo subdirectory)
            {
                Add(entries, seen, DirectoryEntry(subdirectory, relative));
                Walk(subdirectory, relative + "/", entries, seen);
            }
            else if (child is FileInfo file && (file.Attributes & FileAttributes.Device) == 0)
            {
                Add(entries, seen, FileEntry(file, relative));
            }
            // Sockets, FIFOs and devices are skipped: they have no bytes to copy.
        }
    }

    private static SourceEntry FileEntry(FileInfo file, string relative) =>
        new(new ManifestEntry(EntryKind.File, relative, file.Length, ModeOf(file), ToNanoseconds(file.LastWriteTimeUtc), null), file.FullName);

    private static SourceEntry DirectoryEntry(DirectoryInfo directory, string relative) =>
        new(new ManifestEntry(EntryKind.Directory, relative, 0, ModeOf(directory), ToNanoseconds(directory.LastWriteTimeUtc), null), directory.FullName);

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
