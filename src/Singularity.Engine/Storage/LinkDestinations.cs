using System.Text;
using Microsoft.Win32.SafeHandles;
using Singularity.Engine.Protocol;

namespace Singularity.Engine.Storage;

/// <summary>
/// rsync's --link-dest: directories of earlier copies (an older snapshot, say) below the receiver's directory. A file
/// the session would receive where nothing stands at its name is instead given a further name (a hard link) of the
/// file at the same path in the first of them that holds it unchanged: a regular file of the entry's size, mtime and
/// mode (and owner, when kept). Each copy is reached from the receiver's directory one name at a time, never through
/// a link, so nothing outside it is ever linked in. Linux receivers only; elsewhere nothing is found.
/// </summary>
internal sealed class LinkDestinations : IDisposable
{
    /// <summary>The most directories a session may name, as rsync allows.</summary>
    public const int Most = 20;

    private readonly string _receiverRoot;
    // Each directory's names below the receiver's directory, as the kernel reaches it (none: that directory itself;
    // null: a directory that is not there, which links nothing).
    private readonly string[]?[] _bases;
    // The directory below each base last opened for an entry, and its handle (null: not there): entries come in
    // manifest order, a directory's files together, so each directory's chain is walked once a base.
    private readonly (string? Below, SafeFileHandle? Handle)[] _held;

    private LinkDestinations(string receiverRoot, string[]?[] bases, List<string> notices)
    {
        _receiverRoot = receiverRoot;
        _bases = bases;
        _held = new (string?, SafeFileHandle?)[bases.Length];
        Notices = notices;
    }

    /// <summary>What the receiver's log should say of the directories given: those that are not there, and link nothing.</summary>
    public IReadOnlyList<string> Notices { get; }

    /// <summary>
    /// What is wrong with a directory given to --link-dest (relative to the destination; it may climb with "..", as
    /// rsync's "../yesterday"), or null. Where it leads is checked by <see cref="Resolve"/>, against the receiver's directory.
    /// </summary>
    public static string? Error(string directory, ProtocolLimits limits)
    {
        if (directory.Length == 0) return "an empty directory";
        if (directory[0] == '/') return $"'{directory}' is not relative to the destination";
        if (Encoding.UTF8.GetByteCount(directory) > limits.MaxPathBytes) return $"'{directory}' is longer than {limits.MaxPathBytes} bytes";
        foreach (string name in directory.Split('/'))
        {
            if (name.Length == 0) return $"an empty name in '{directory}'";
            if (name.Contains('\0')) return "NUL in a directory";
            if (Encoding.UTF8.GetByteCount(name) > limits.MaxNameBytes) return $"a name in '{directory}' is longer than {limits.MaxNameBytes} bytes";
            if (PathGuard.IsReserved(name)) return $"'{directory}' uses a name reserved for partial files";
        }
        return null;
    }

    /// <summary>
    /// The directories, relative to the session's <paramref name="destination"/> (relative to <paramref name="receiverRoot"/>),
    /// each brought to its names below the receiver's directory; throws <see cref="ErrorCode.BadPath"/> for one that
    /// leads out of it, by its names or through a link. A link on the way to a directory (a `latest` link to the last
    /// snapshot, as rsync users keep one) is followed, and where it leads must be inside the receiver's directory too;
    /// below it, nothing is followed. A directory that is not there is named in <see cref="Notices"/>, and errors and
    /// notices name the option <paramref name="use"/> comes from.
    /// </summary>
    public static LinkDestinations Resolve(string receiverRoot, string destination, IReadOnlyList<string> directories, EarlierCopies use = EarlierCopies.Linked)
    {
        var (option, made) = use switch
        {
            EarlierCopies.Compared => ("--compare-dest", "compared"),
            EarlierCopies.Copied => ("--copy-dest", "copied"),
            _ => ("--link-dest", "linked"),
        };
        var bases = new string[]?[directories.Count];
        var notices = new List<string>();
        if (!OperatingSystem.IsLinux()) notices.Add("--link-dest links on Linux receivers only: nothing is linked here");
        string root = SpecialFiles.RealPath(receiverRoot) ?? receiverRoot;
        for (int i = 0; i < directories.Count; i++)
        {
            var names = new List<string>(destination.Length == 0 ? [] : destination.Split('/'));
            foreach (string name in directories[i].Split('/'))
            {
                if (name == ".") continue;
                if (name != "..") names.Add(name);
                else if (names.Count > 0) names.RemoveAt(names.Count - 1);
                else throw new SingularityException(ErrorCode.BadPath, $"refused {option} '{directories[i]}': it leads out of the receiver's directory, where nothing may be linked from");
            }
            string? real = SpecialFiles.RealPath(Path.Combine(root, string.Join('/', names)));
            if (real is null || !Directory.Exists(real))
            {
                if (OperatingSystem.IsLinux()) notices.Add($"{option} '{directories[i]}' is not a directory here: nothing is {made} from it");
                continue;
            }
            if (real != root && !PathGuard.IsBelow(root, real))
                throw new SingularityException(ErrorCode.BadPath, $"refused {option} '{directories[i]}': a link leads it out of the receiver's directory, to '{real}', where nothing may be linked from");
            bases[i] = real == root ? [] : real[(root.Length + (root.EndsWith('/') ? 0 : 1))..].Split('/');
        }
        return new LinkDestinations(root, bases, notices);
    }

    /// <summary>
    /// Uses the first unchanged copy of <paramref name="entry"/> for <paramref name="full"/>, where nothing stands, as
    /// <paramref name="use"/> says: links it there (rsync --link-dest), copies it there (rsync --copy-dest: a new
    /// file made unnamed and named once whole, flushed when <paramref name="flush"/>; <paramref name="alive"/> is
    /// called as it is written), or only finds it (rsync --compare-dest, and a dry run's look).
    /// <paramref name="mode"/>: whether the copy's mode must be the entry's; <paramref name="user"/> and
    /// <paramref name="group"/>: the owner it must have, the entry's when owners are kept, else this process's user
    /// (any group), whose a received file would be; null for a part not looked at. A copy with a setuid, setgid or sticky bit is never taken: a
    /// received file has none. With <paramref name="xattrs"/> (rsync -X), a copy must have those extended attributes;
    /// a copy made from it gets them. False when no copy is unchanged, or none could be linked or copied (something came to
    /// stand at the name, another file system, too many links, no unnamed files): the file is then sent.
    /// </summary>
    public bool TryUse(ManifestEntry entry, string full, bool mode, uint? user, uint? group, TimeMatch times, EarlierCopies use, bool flush = false, Action? alive = null, ExtendedAttributes? xattrs = null)
    {
        var (below, name) = Split(entry.Path);
        for (int i = 0; i < _bases.Length; i++)
        {
            if (DirectoryOf(i, below) is not { } directory || SpecialFiles.OpenRegularAt(directory, name) is not { } copy) continue;
            using var file = copy.File;
            if (copy.Size != entry.Size || !times.Same(copy.ModifiedNanoseconds, entry.MtimeNanoseconds) || (copy.Mode & ~PartialFile.SafeModeBits) != 0
                || (mode && copy.Mode != (entry.Mode & PartialFile.SafeModeBits)) || (user is { } wantedUser && copy.User != wantedUser) || (group is { } wanted && copy.Group != wanted)
                || (xattrs is not null && !xattrs.StandAt($"/proc/self/fd/{file.DangerousGetHandle()}", follow: true)))
                continue;
            if (use == EarlierCopies.Compared) return true;
            // The file checked, not whatever stands at its name now. Something at the entry's name ends the search:
            // the file is sent, and its commit settles the name. Another copy may link where this one could not.
            // A copy gets the owner a received file would have: the kept user, the kept group (the rest its own).
            (uint, uint)? owner = group is null && (user is null || user == SpecialFiles.EffectiveUser) ? null : (user ?? ManifestEntry.IdNotKept, group ?? ManifestEntry.IdNotKept);
            int error = use == EarlierCopies.Linked ? SpecialFiles.LinkOpened(file, full)
                : SpecialFiles.CopyOpened(file, copy.Size, full, copy.Mode & PartialFile.SafeModeBits, owner, entry.MtimeNanoseconds, flush, alive ?? (() => { }));
            // A copy is a new file: it gets the attributes the one it was made from has (the entry's).
            if (error == 0 && use == EarlierCopies.Copied && xattrs is not null) xattrs.ApplyTo(full);
            if (error == 0) return true;
            if (error == Errno.Exists) return false;
        }
        return false;
    }

    /// <summary>
    /// An earlier copy of <paramref name="entry"/>'s path open for reading: the basis a changed file's delta is seeded
    /// from when the destination holds none (rsync compares with it too). The first of the entry's size and time (one
    /// that could not be linked) if any, else the first that can be read, whatever its size and time. Reached as
    /// <see cref="TryUse"/> reaches a copy; null when none can be read.
    /// </summary>
    public SafeFileHandle? OpenBasis(ManifestEntry entry, TimeMatch times)
    {
        var (below, name) = Split(entry.Path);
        SafeFileHandle? first = null;
        for (int i = 0; i < _bases.Length; i++)
        {
            if (DirectoryOf(i, below) is not { } directory || SpecialFiles.OpenRegularAt(directory, name) is not { } copy) continue;
            using var file = copy.File;
            bool same = copy.Size == entry.Size && times.Same(copy.ModifiedNanoseconds, entry.MtimeNanoseconds);
            if ((same || first is null) && SpecialFiles.ReopenForReading(file) is { } readable)
            {
                if (!same)
                {
                    first = readable;
                    continue;
                }
                first?.Dispose();
                return readable;
            }
        }
        return first;
    }

    /// <summary>A manifest path's directory ("" at the top) and name.</summary>
    private static (string Below, string Name) Split(string path)
    {
        int slash = path.LastIndexOf('/');
        return (slash < 0 ? "" : path[..slash], path[(slash + 1)..]);
    }

    private SafeFileHandle? DirectoryOf(int index, string below)
    {
        if (_bases[index] is not { } names) return null;
        if (_held[index].Below == below) return _held[index].Handle;
        _held[index].Handle?.Dispose();
        var handle = SpecialFiles.OpenDirectoryBelow(_receiverRoot, below.Length == 0 ? names : [.. names, .. below.Split('/')]);
        _held[index] = (below, handle);
        return handle;
    }

    public void Dispose()
    {
        for (int i = 0; i < _held.Length; i++)
        {
            _held[i].Handle?.Dispose();
            _held[i] = default;
        }
    }
}

/// <summary>What a session does with an unchanged earlier copy of a file (LinkDest's directories, PROTOCOL §3).</summary>
internal enum EarlierCopies
{
    /// <summary>Gives it the entry's path as a further name (rsync --link-dest).</summary>
    Linked,

    /// <summary>Only finds it: nothing is made at the entry's path (rsync --compare-dest).</summary>
    Compared,

    /// <summary>Copies it to the entry's path (rsync --copy-dest).</summary>
    Copied,
}
