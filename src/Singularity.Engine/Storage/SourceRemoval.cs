using Singularity.Engine.Protocol;

namespace Singularity.Engine.Storage;

/// <summary>
/// Moves rather than copies (<see cref="TransferOptions.RemoveSourceFiles"/>), as rsync --remove-source-files does:
/// once a send succeeded, each file and link the receiver confirmed it holds is removed here, but only if it is still
/// as the send read it. Directories stay.
/// </summary>
internal static class SourceRemoval
{
    /// <summary>
    /// Keeps receivers out of every directory where <paramref name="paths"/> would land if received there, for as
    /// long as the send runs: there, the receiver's copy is the source itself (or replaces it), and removing the
    /// source would remove the only copy. A directory's contents land in the receiver's directory itself, a named
    /// file or directory in the directory that holds it; with relative paths, every source in the directory its kept
    /// path starts from. Each such directory gets a shared lock, which a running
    /// receiver's (<see cref="DestinationLock"/>) excludes; throws <see cref="ErrorCode.BadPath"/> when one holds it.
    /// Linux only, as that lock is.
    /// </summary>
    public static IDisposable Guard(IReadOnlyList<string> paths, bool relative)
    {
        var held = new List<DestinationLock>();
        try
        {
            foreach (string path in paths)
            {
                foreach (string landing in relative ? [SourceScanner.RelativeBase(path)] : LandingDirectories(path))
                {
                    if (!DestinationLock.TryShare(landing, out var shared))
                        throw new SingularityException(ErrorCode.BadPath, $"'{landing}' is locked by another process, as a running sglty recv locks its destination: what '{path}' sends would land where it is read, and --remove-source-files would then delete the only copy; send to another destination, or stop that receiver");
                    if (shared is not null) held.Add(shared);
                }
            }
        }
        catch
        {
            foreach (var taken in held) taken.Dispose();
            throw;
        }
        return new Held(held);
    }

    /// <summary>Where the entries of <paramref name="path"/> land if a receiver has that directory: by the path as given, and, for a link, by what it points to.</summary>
    private static IEnumerable<string> LandingDirectories(string path)
    {
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        if (SourceScanner.ContentsOnly(path) && Directory.Exists(full))
        {
            // Opening the link follows it: the lock is on the directory it points to.
            yield return full;
            yield break;
        }
        if (Path.GetDirectoryName(full) is { } holder) yield return holder;
        FileSystemInfo named = Directory.Exists(full) ? new DirectoryInfo(full) : new FileInfo(full);
        if (named.LinkTarget is not null && named.ResolveLinkTarget(returnFinalTarget: true) is { } target && Path.GetDirectoryName(target.FullName) is { } targetHolder)
            yield return targetHolder;
    }

    /// <summary>
    /// The links among <paramref name="paths"/> that name a file: the scan follows each and sends the file under the
    /// link's name (<see cref="SourceScanner"/>), and neither is removed. Keyed by the file's full path and the
    /// link's name, as the scan records the entry; the value is the link as given.
    /// </summary>
    public static Dictionary<(string File, string Name), string> FollowedLinks(IReadOnlyList<string> paths, bool relative)
    {
        var followed = new Dictionary<(string, string), string>();
        foreach (string path in paths)
        {
            var named = new FileInfo(Path.TrimEndingDirectorySeparator(Path.GetFullPath(path)));
            if (named.LinkTarget is not null && named.ResolveLinkTarget(returnFinalTarget: true) is FileInfo { Exists: true } file)
                followed[(file.FullName, relative ? SourceScanner.KeptPath(path) : named.Name)] = path;
        }
        return followed;
    }

    /// <summary>
    /// Removes each of <paramref name="delivered"/> (entries the receiver holds, as the send scanned them) that is
    /// still as scanned: a file of the same size and modification time, not a link to one; a link with the same
    /// target; a further name that is still a name of its file. Anything else, and a file sent through a link named as
    /// a source (<see cref="FollowedLinks"/>), is kept and named, with why.
    /// </summary>
    public static (int Removed, List<KeptSource> Kept) Remove(IReadOnlyCollection<SourceEntry> delivered, Dictionary<(string File, string Name), string> followedLinks)
    {
        int removed = 0;
        var kept = new List<KeptSource>();
        var byPath = new Dictionary<string, SourceEntry>(StringComparer.Ordinal);
        foreach (var entry in delivered) byPath[entry.Entry.Path] = entry;
        // Further names first, while the first name each is checked against is still there.
        foreach (var entry in delivered.Where(e => e.Entry.Kind == EntryKind.HardLink).Concat(delivered.Where(e => e.Entry.Kind is EntryKind.File or EntryKind.Symlink)))
        {
            string source = entry.SourcePath;
            // A file named as a source is its own root; through a link, the root is the file the link points to.
            if (entry.Entry.Path.Length <= entry.Skip && followedLinks.TryGetValue((entry.Root, entry.Entry.Path), out string? link))
            {
                kept.Add(new KeptSource(link, "it is a link, followed to send its file; neither is removed"));
                continue;
            }
            string? changed;
            try
            {
                changed = entry.Entry.Kind switch
                {
                    EntryKind.File => FileChanged(source, entry.Entry),
                    EntryKind.Symlink => new FileInfo(source).LinkTarget == entry.Entry.LinkTarget ? null : "it is no longer the link that was sent",
                    _ => LinkChanged(source, entry.Entry, byPath),
                };
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                changed = $"it could not be checked: {ex.Message}";
            }
            if (changed == Gone) continue;
            if (changed is not null)
            {
                kept.Add(new KeptSource(source, changed));
                continue;
            }
            try
            {
                File.Delete(source);
                removed++;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                kept.Add(new KeptSource(source, $"it could not be removed: {ex.Message}"));
            }
        }
        return (removed, kept);
    }

    // Removed by someone else since: nothing to do, nothing to report.
    private const string Gone = "";

    private static string? FileChanged(string source, ManifestEntry sent)
    {
        var info = new FileInfo(source);
        if (info.LinkTarget is not null) return "it is a link now";
        if (Directory.Exists(source)) return "it is a directory now";
        if (!info.Exists) return Gone;
        if (info.Length != sent.Size) return $"it changed after it was read ({info.Length} bytes now, {sent.Size} sent)";
        if (SourceScanner.ToNanoseconds(info.LastWriteTimeUtc) != sent.MtimeNanoseconds) return "it was modified after it was read";
        return null;
    }

    /// <summary>A further name (hard link) is removed only while it still names the file sent under its first name, and that file is as sent.</summary>
    private static string? LinkChanged(string source, ManifestEntry link, Dictionary<string, SourceEntry> byPath)
    {
        if (link.LinkTarget is null || !byPath.TryGetValue(link.LinkTarget, out var file)) return "the file it names did not arrive";
        if (SpecialFiles.IdentityOf(source) is not { } identity) return File.Exists(source) ? "its file could not be identified" : Gone;
        if (SpecialFiles.IdentityOf(file.SourcePath) is not { } first || (first.Device, first.Inode) != (identity.Device, identity.Inode))
            return $"it is no longer a name of '{file.SourcePath}'";
        return FileChanged(file.SourcePath, file.Entry) is { Length: > 0 } changed ? changed : null;
    }

    private sealed class Held(List<DestinationLock> locks) : IDisposable
    {
        public void Dispose()
        {
            foreach (var held in locks) held.Dispose();
        }
    }
}
