using Microsoft.Win32.SafeHandles;
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
    /// receiver's (<see cref="DestinationLock"/>) excludes; throws <see cref="ErrorCode.BadPath"/> when one holds it,
    /// or when it cannot be taken (a directory this process may not read, a file system without locks), as a receiver
    /// there would then go unseen. Linux only, as that lock is. When the URL names a directory below the receiver's
    /// (<paramref name="destination"/>), the receiver to keep out is the one whose directory holds that one by those
    /// names; the landing directory is locked too, for a receiver's session to find as it enters it
    /// (<see cref="DestinationLock.HeldElsewhere"/>), however it reaches it. With <paramref name="namesFile"/> (one file
    /// sent to a URL path that may name it, <see cref="ConnectionUrl.NamesDirectory"/>) whose last name is the file's
    /// own, the directory above that path is kept so too, first: the file may land there, at its own name.
    /// </summary>
    public static Held Guard(IReadOnlyList<string> paths, bool relative, string? destination = null, bool namesFile = false)
    {
        var held = new List<DestinationLock>();
        var locked = new HashSet<string>(StringComparer.Ordinal);
        // The one above first: where it is the receiver's directory itself, its lock refuses the send (receiverThere).
        int slash = destination?.LastIndexOf('/') ?? -1;
        string?[] destinations = namesFile && paths is [var one] && destination is not null && (!Directory.Exists(one) || new FileInfo(Path.TrimEndingDirectorySeparator(one)).LinkTarget is not null)
            && Path.GetFileName(Path.TrimEndingDirectorySeparator(one)) == destination[(slash + 1)..]
            ? [slash > 0 ? destination[..slash] : null, destination]
            : [destination];
        try
        {
            foreach (string path in paths)
            foreach (string? into in destinations)
            {
                foreach (string landing in relative ? [SourceScanner.RelativeBase(path)] : LandingDirectories(path))
                {
                    if (into is null)
                    {
                        Lock(landing, path, held, locked, receiverThere: true);
                        continue;
                    }
                    // The receiver whose session would land here by the URL's names, if one runs in the directory
                    // above by them, is refused now, before anything is read.
                    int reached = ReceiverAbove(landing, into, out string? above);
                    if (reached == Errno.NoEntry) continue;
                    if (reached != 0)
                        throw new SingularityException(ErrorCode.BadPath, $"cannot open '{landing}' ({Errno.ToException(reached).Message}), which shows whether a receiver writes where '{path}' would land: --remove-source-files needs to open that directory for reading");
                    if (above is not null) Lock(above, path, held, locked, receiverThere: true);
                    // The landing directory itself is locked too, however it is reached (a bind mount, another mount of
                    // its file system, where the names above differ): a receiver's session finds the lock as it enters
                    // its destination, and refuses. A receiver in the landing directory itself writes below it, not here.
                    Lock(landing, path, held, locked, receiverThere: false);
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

    /// <summary>
    /// Takes a shared lock on <paramref name="directory"/> (once), kept in <paramref name="held"/>. A receiver's lock
    /// there refuses the send when <paramref name="receiverThere"/> says its files would land where they are read;
    /// otherwise it is passed over. A directory that cannot be locked refuses the send: a receiver there would go unseen.
    /// </summary>
    private static void Lock(string directory, string path, List<DestinationLock> held, HashSet<string> locked, bool receiverThere)
    {
        // Each directory once: a list of thousands of files in one directory takes one lock.
        if (!locked.Add(directory)) return;
        int error = 0;
        // A receiver's session probing its destination holds an exclusive lock for a moment (DestinationLock.HeldElsewhere):
        // that moment is not taken for a receiver there, nor left to leave the directory unlocked.
        for (int attempt = 0; attempt < 20; attempt++)
        {
            if (attempt > 0) Thread.Sleep(10);
            if (DestinationLock.TryShare(directory, out error) is { } shared)
            {
                held.Add(shared);
                return;
            }
            if (error != Errno.WouldBlock) break;
        }
        // No such directory, so no receiver in it: the scan reports the missing source.
        if (error == Errno.NoEntry) return;
        if (error == Errno.WouldBlock)
        {
            if (!receiverThere) return;
            throw new SingularityException(ErrorCode.BadPath, $"'{directory}' is locked as a receiver locks its destination (a running sglty recv, or this copy's own): what '{path}' sends would land where it is read, and --remove-source-files would then delete the only copy; send to another destination (or stop a recv running there)");
        }
        throw new SingularityException(ErrorCode.BadPath, $"cannot lock '{directory}' ({Errno.ToException(error).Message}), which shows whether a receiver writes where '{path}' would land: --remove-source-files needs to open that directory for reading and lock it");
    }

    /// <summary>
    /// The directory a receiver would need to have for a session into <paramref name="destination"/> below it to write
    /// into <paramref name="landing"/>: the one above it by those names, as the kernel reaches it (through any link on
    /// the way, since a receiver's directory may be one). Null when <paramref name="landing"/> does not end with those
    /// names: a receiver never passes a link below its directory, so none lands there. Returns 0 or an errno.
    /// </summary>
    private static int ReceiverAbove(string landing, string destination, out string? above)
    {
        above = null;
        if (SpecialFiles.RealPath(landing, out int error) is not { } real)
            return error != 0 ? error : throw new SingularityException(ErrorCode.BadPath, $"cannot tell where '{landing}' is (/proc/self/fd is not there), which shows whether a receiver writes where the sources would land");
        string names = "/" + destination;
        if (real.EndsWith(names, StringComparison.Ordinal)) above = real.Length == names.Length ? "/" : real[..^names.Length];
        return 0;
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
    /// The names under which <paramref name="paths"/> send a file through a link named as a source (the scan follows
    /// it and sends the file under the link's name, <see cref="SourceScanner"/>), with the link as given: neither the
    /// link nor the file is removed. Read when the sources are removed, as the last attempt's scan saw them.
    /// </summary>
    private static Dictionary<string, string> FollowedLinks(IReadOnlyList<string> paths)
    {
        var followed = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string path in paths)
        {
            var named = new FileInfo(Path.TrimEndingDirectorySeparator(Path.GetFullPath(path)));
            if (named.LinkTarget is not null && named.ResolveLinkTarget(returnFinalTarget: true) is FileInfo { Exists: true })
                followed[named.Name] = path;
        }
        return followed;
    }

    /// <summary>
    /// Removes each of <paramref name="delivered"/> (entries the receiver holds, as the send scanned them from
    /// <paramref name="paths"/>) that is still as scanned: a file of the same size and modification time, not a link
    /// to one; a link with the same target; a further name that is still a name of its file. Each is looked at and
    /// removed through its directory, reached from its root without following any link below it (see
    /// <see cref="SpecialFiles.OpenDirectoryBelow"/>), so a directory swapped for a link since the scan leads nowhere
    /// else. Anything else, and a file sent through a link named as a source, is kept and named, with why.
    /// </summary>
    public static (int Removed, List<KeptSource> Kept) Remove(IReadOnlyCollection<SourceEntry> delivered, IReadOnlyList<string> paths, bool relative)
    {
        int removed = 0;
        var kept = new List<KeptSource>();
        // With relative paths, links are sent as links (SourceScanner.AddRelative), never followed.
        var followed = relative ? [] : FollowedLinks(paths);
        var byPath = new Dictionary<string, SourceEntry>(StringComparer.Ordinal);
        foreach (var entry in delivered) byPath[entry.Entry.Path] = entry;
        using var directories = new DirectoryCache(relative);
        // Further names first, while the first name each is checked against is still there.
        foreach (var entry in delivered.Where(e => e.Entry.Kind == EntryKind.HardLink).Concat(delivered.Where(e => e.Entry.Kind is EntryKind.File or EntryKind.Symlink or EntryKind.Special)))
        {
            // A file named as a source is its own root.
            if (entry.Entry.Path.Length <= entry.Skip && followed.TryGetValue(entry.Entry.Path, out string? link))
            {
                kept.Add(new KeptSource(link, "it is a link, followed to send its file; neither is removed") { AsAsked = true });
                continue;
            }
            string source = entry.SourcePath;
            var (directory, name) = directories.Of(entry);
            string? changed = directory is null ? "a directory on its path is a link, or is gone"
                : entry.Entry.Kind switch
                {
                    EntryKind.File => FileChanged(directory, name, entry.Entry),
                    EntryKind.Symlink => SymlinkChanged(directory, name, entry.Entry),
                    EntryKind.Special => SpecialChanged(directory, name, entry.Entry),
                    _ => LinkChanged(directory, name, entry.Entry, byPath, directories),
                };
            if (changed == Gone) continue;
            if (changed is not null)
            {
                kept.Add(new KeptSource(source, changed));
                continue;
            }
            try
            {
                SpecialFiles.RemoveAt(directory!, name);
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

    private static string? FileChanged(SafeFileHandle directory, string name, ManifestEntry sent)
    {
        var (status, error) = SpecialFiles.StatusAt(directory, name);
        if (status is not { } now) return Unreadable(error);
        if (now.Link) return "it is a link now";
        if (!now.Regular) return "it is no longer a file";
        if (now.Size != sent.Size) return $"it changed after it was read ({now.Size} bytes now, {sent.Size} sent)";
        if (now.ModifiedNanoseconds != sent.MtimeNanoseconds) return "it was modified after it was read";
        return null;
    }

    private static string? SymlinkChanged(SafeFileHandle directory, string name, ManifestEntry sent)
    {
        var (status, error) = SpecialFiles.StatusAt(directory, name);
        if (status is not { } now) return Unreadable(error);
        return now.Link && SpecialFiles.LinkTargetAt(directory, name) == sent.LinkTarget ? null : "it is no longer the link that was sent";
    }

    /// <summary>A FIFO, socket or device is removed only while it is still of the type, number and mtime sent (a FIFO written through since has a later one).</summary>
    private static string? SpecialChanged(SafeFileHandle directory, string name, ManifestEntry sent)
    {
        var (status, error) = SpecialFiles.StatusAt(directory, name);
        if (status is not { } now) return Unreadable(error);
        if (now.SpecialType != sent.SpecialType || now.DeviceNumber != sent.DeviceNumber) return $"it is no longer the {SpecialTypes.Name(sent.SpecialType)} that was sent";
        return now.ModifiedNanoseconds != sent.MtimeNanoseconds ? "it was modified after it was read" : null;
    }

    /// <summary>A further name (hard link) is removed only while it still names the file sent under its first name, and that file is as sent.</summary>
    private static string? LinkChanged(SafeFileHandle directory, string name, ManifestEntry link, Dictionary<string, SourceEntry> byPath, DirectoryCache directories)
    {
        if (link.LinkTarget is null || !byPath.TryGetValue(link.LinkTarget, out var file)) return "the file it names did not arrive";
        var (status, error) = SpecialFiles.StatusAt(directory, name);
        if (status is not { } now) return Unreadable(error);
        var (fileDirectory, fileName) = directories.Of(file);
        if (fileDirectory is null || SpecialFiles.StatusAt(fileDirectory, fileName).Status is not { } first || (first.Device, first.Inode) != (now.Device, now.Inode))
            return $"it is no longer a name of '{file.SourcePath}'";
        return FileChanged(fileDirectory, fileName, file.Entry) is { Length: > 0 } changed ? changed : null;
    }

    private static string Unreadable(int error) => error == Errno.NoEntry ? Gone : $"it could not be looked at: {Errno.ToException(error).Message}";

    /// <summary>
    /// The directories of the entries being removed, each opened once (<see cref="SpecialFiles.OpenDirectoryBelow"/>)
    /// and kept while the next entries are in it too; a few hundred at most are held, so a tree of any size stays
    /// within the open files allowed.
    /// </summary>
    private sealed class DirectoryCache(bool relative) : IDisposable
    {
        private const int MostHeld = 256;
        private readonly Dictionary<string, SafeFileHandle?> _held = new(StringComparer.Ordinal);

        /// <summary>
        /// The directory that holds <paramref name="entry"/> (null if it cannot be reached as scanned), and the entry's
        /// name in it. With relative paths, the whole kept path is walked from the directory it is relative to (see
        /// <see cref="SourceScanner.RelativeBase"/>): a link anywhere on it leads nowhere.
        /// </summary>
        public (SafeFileHandle? Directory, string Name) Of(SourceEntry entry)
        {
            // The root to walk from, and the entry's path below it.
            string? root;
            string path;
            if (relative)
            {
                // The root's own kept name: the whole path for an entry named on its own, empty for a directory's contents.
                string rootName = entry.Entry.Path.Length <= entry.Skip ? entry.Entry.Path : entry.Entry.Path[..entry.Skip].TrimEnd('/');
                path = entry.Entry.Path;
                root = rootName.Length == 0 ? entry.Root
                    : entry.Root.EndsWith("/" + rootName, StringComparison.Ordinal) ? (entry.Root[..^(rootName.Length + 1)] is { Length: > 0 } above ? above : "/")
                    : null;
            }
            else if (entry.Entry.Path.Length <= entry.Skip)
            {
                // A source named on its own: the directory that holds it is named as the user gave it.
                root = Path.GetDirectoryName(entry.Root) ?? "/";
                path = Path.GetFileName(entry.Root);
            }
            else
            {
                root = entry.Root;
                path = entry.Entry.Path[entry.Skip..];
            }
            int last = path.LastIndexOf('/');
            string below = last < 0 ? "" : path[..last], name = path[(last + 1)..];
            if (root is null) return (null, name);
            string key = root + "\0" + below;
            if (!_held.TryGetValue(key, out var directory))
            {
                if (_held.Count >= MostHeld) Clear();
                directory = SpecialFiles.OpenDirectoryBelow(root, below.Length == 0 ? [] : below.Split('/'));
                _held[key] = directory;
            }
            return (directory, name);
        }

        private void Clear()
        {
            foreach (var held in _held.Values) held?.Dispose();
            _held.Clear();
        }

        public void Dispose() => Clear();
    }

    /// <summary>The locks <see cref="Guard"/> holds, let go together.</summary>
    internal sealed class Held(List<DestinationLock> locks) : IDisposable
    {
        /// <summary>The directories locked.</summary>
        public int Count => locks.Count;

        public void Dispose()
        {
            foreach (var held in locks) held.Dispose();
        }
    }
}
