using Singularity.Engine.Protocol;
using Singularity.Engine.Storage;

namespace Singularity.Engine.Transfer;

/// <summary>
/// Hard links (OpenSession flag, as rsync -H): a file marked linked is remembered by its path, and a later hard link
/// entry that names it gets that file's further name once the file is in place: at once if it is (committed, or left
/// as it was), else when it commits. A link whose file could not be written fails as that file did.
/// </summary>
internal sealed partial class ReceiverSession
{
    // The files marked linked, by their path's hash, and the links waiting for a file still arriving (by its id), with
    // how many wait: a sender naming the same arriving file again and again cannot make that list grow without end.
    // Linked files the sender could not read: their slots read as settled, as a committed file's do.
    private Dictionary<UInt128, uint>? _linkedFiles;
    private HashSet<uint>? _linkedDropped;
    private Dictionary<uint, List<(uint Id, string Path, string Full)>>? _waitingLinks;
    private int _linksWaiting;

    private void KeepHardLinks() => (_linkedFiles, _waitingLinks) = ([], []);

    /// <summary>Checks an entry of a chunk being accepted against the hard links asked for: in manifest order, so a link names a file before it.</summary>
    private void CheckHardLink(int id, ManifestEntry entry)
    {
        if (!entry.Linked && entry.Kind != EntryKind.HardLink) return;
        if (_linkedFiles is null) throw new ProtocolViolationException($"'{entry.Path}' is a hard link or a linked file, in a session that did not ask to keep hard links");
        if (entry.Linked) _linkedFiles[NameHash(entry.Path)] = (uint)id;
        else if (!_linkedFiles.ContainsKey(NameHash(entry.LinkTarget!)))
            throw new ProtocolViolationException($"hard link '{entry.Path}' names '{entry.LinkTarget}', which is no file marked linked before it in the manifest");
    }

    /// <summary>Prepares a hard link entry: what stands at its name goes as for a link, and the name is given to its file now, or when the file is in place.</summary>
    private void PrepareHardLink(uint id, ManifestEntry entry, string full)
    {
        if (Directory.Exists(full) && new DirectoryInfo(full).LinkTarget is null) RemoveDirectoryInTheWay(entry, full);
        uint file = _linkedFiles![NameHash(entry.LinkTarget!)];
        lock (_filesLock)
        {
            var slot = Volatile.Read(ref _files)[file];
            if (slot == Failed) throw new EntryConflictException(NotLinked(entry.Path, entry.LinkTarget!, "that file could not be written"));
            if (_linkedDropped?.Contains(file) == true) throw new EntryConflictException(NotLinked(entry.Path, entry.LinkTarget!, Unread));
            if (slot != Released)
            {
                if (++_linksWaiting > _limits.MaxUncommittedFiles)
                    throw new ProtocolViolationException($"more than {_limits.MaxUncommittedFiles} hard links wait for their files", ErrorCode.LimitExceeded);
                if (!_waitingLinks!.TryGetValue(file, out var links)) _waitingLinks[file] = links = [];
                links.Add((id, entry.Path, full));
                return;
            }
        }
        MakeHardLink(full, entry.Path, _guard.Resolve(entry.LinkTarget!, create: false), entry.LinkTarget!);
    }

    /// <summary>
    /// Gives the links waiting for <paramref name="file"/>, now settled, its name; or, when <paramref name="failure"/>
    /// says why the file is not in place, fails them. Called before the sender is told of the file, so that what it
    /// hears of the links comes first: it finishes only once it has heard of every file.
    /// </summary>
    private void SettleLinks(PartialFile file, string? failure = null)
    {
        if (_waitingLinks is null) return;
        List<(uint Id, string Path, string Full)>? links;
        lock (_filesLock)
        {
            if (failure == Unread && file.Entry.Linked) (_linkedDropped ??= []).Add(file.Id);
            if (!_waitingLinks.Remove(file.Id, out links)) return;
            _linksWaiting -= links.Count;
        }
        foreach (var (id, path, full) in links)
        {
            try
            {
                if (failure is not null) throw new EntryConflictException(NotLinked(path, file.Entry.Path, failure));
                MakeHardLink(full, path, file.FinalPath, file.Entry.Path);
            }
            catch (Exception ex) when (StorageErrors.ConcernsOneEntry(ex))
            {
                ReportFailed(id, StorageErrors.Describe(ex, $"linking '{path}'"));
            }
            catch (Exception ex) when (ex is not SingularityException)
            {
                throw StorageErrors.Describe(ex, $"linking '{path}'");
            }
        }
    }

    /// <summary>
    /// Makes <paramref name="full"/> a further name of the file at <paramref name="fileFull"/>, replacing a file or a
    /// link that stands there (never followed), unless it already is that file. A link at the file's name is never
    /// followed either: the name is given to the link itself.
    /// </summary>
    private static void MakeHardLink(string full, string path, string fileFull, string filePath)
    {
        if (SpecialFiles.IdentityOf(full) is { } standing && SpecialFiles.IdentityOf(fileFull) is { } named
            && (standing.Device, standing.Inode) == (named.Device, named.Inode)) return;
        if (File.Exists(full) || new FileInfo(full).LinkTarget is not null) File.Delete(full);
        try
        {
            SpecialFiles.Link(fileFull, full);
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or PlatformNotSupportedException || ex is IOException io && !StorageErrors.IsDiskFull(io))
        {
            throw new EntryConflictException(NotLinked(path, filePath, ex.Message));
        }
    }

    private const string Unread = "the sender could not read that file";

    private static string NotLinked(string path, string filePath, string why) => $"'{path}' was not linked to '{filePath}': {why}";
}
