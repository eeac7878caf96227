using Singularity.Engine.Integrity;
using Singularity.Engine.Protocol;
using Singularity.Engine.Storage;

namespace Singularity.Engine.Transfer;

/// <summary>
/// Hard links (OpenSession flag, as rsync -H): a file marked linked is remembered by its path while the manifest
/// arrives, and a later hard link entry that names it gives that file a further name. A sender names hard links only
/// once every file is settled (committed, left in place, failed or left out), so each is made, or fails with its
/// file, as it is prepared: nothing waits here.
/// </summary>
internal sealed partial class ReceiverSession
{
    // The files marked linked, by their path's hash, until the manifest is in; and those the sender left out, by how
    // (FilesDropped, FilesVanished, FilesWithdrawn), whose slots read as a committed file's do.
    private Dictionary<UInt128, uint>? _linkedFiles;
    private Dictionary<uint, ControlMessageType>? _linkedDropped;

    // The sizes of the linked files the sender found vanished (FilesVanished, before their data): the manifest may
    // exceed the declared total by as much, for the further names a sender of capability bit 3 sends as files in their
    // place. Nothing of a vanished file was written, so what is written stays within the declared total.
    private long _vanishedLinkedBytes;

    private void KeepHardLinks() => _linkedFiles = [];

    /// <summary>Checks an entry of a chunk being accepted against the hard links asked for: in manifest order, so a link names a file before it.</summary>
    private void CheckHardLink(int id, ManifestEntry entry)
    {
        if (!entry.Linked && entry.Kind != EntryKind.HardLink) return;
        if (_linkedFiles is null) throw new ProtocolViolationException($"'{entry.Path}' is a hard link or a linked file, in a session that did not ask to keep hard links");
        if (entry.Linked) _linkedFiles[NameHash(entry.Path)] = (uint)id;
        else if (!_linkedFiles.ContainsKey(NameHash(entry.LinkTarget!)))
            throw new ProtocolViolationException($"hard link '{entry.Path}' names '{entry.LinkTarget}', which is no file marked linked before it in the manifest");
    }

    /// <summary>
    /// A linked file the sender left out (<paramref name="type"/>: could not read, found gone, or found changed): its
    /// links fail, and say why. One gone since the scan leaves its size to the further name the sender sends in its
    /// place, if it has one left, where this receiver set capability bit 3 (control connection only).
    /// </summary>
    private void LinkedFileDropped(PartialFile file, ControlMessageType type)
    {
        if (_linkedFiles is null || !file.Entry.Linked) return;
        (_linkedDropped ??= [])[file.Id] = type;
        // Capped so that the declared total and these together never overflow.
        if (type == ControlMessageType.FilesVanished && (_options.Capabilities & WireFormat.CapabilityLinkedVanished) != 0)
            _vanishedLinkedBytes = Math.Min(_vanishedLinkedBytes + file.Entry.Size, long.MaxValue - _declaredBytes);
    }

    /// <summary>
    /// Gives the file a hard link entry names its further name, or fails the entry with its file's failure; a file
    /// still arriving is a sender's error. Only then is a directory in the way removed.
    /// </summary>
    private void PrepareHardLink(uint id, ManifestEntry entry, string full)
    {
        uint file = _linkedFiles![NameHash(entry.LinkTarget!)];
        // Read as SlotOf reads a slot (here the file may be of the chunk still being prepared, which SlotOf refuses).
        var slot = Volatile.Read(ref _files)[file]!;
        if (slot == Failed) throw new EntryConflictException(NotLinked(entry.Path, entry.LinkTarget!, "that file could not be written"));
        // A file left out as vanished or changed does not stop the deletion, nor do its links.
        if (_linkedDropped?.GetValueOrDefault(file) is { } dropped and not 0)
            throw new EntryConflictException(NotLinked(entry.Path, entry.LinkTarget!, dropped switch
            {
                ControlMessageType.FilesWithdrawn => "the sender found that file changed while it was sent",
                ControlMessageType.FilesVanished => "that file vanished at the sender since the scan",
                _ => "the sender could not read that file",
            })) { StopsDeletion = dropped == ControlMessageType.FilesDropped };
        if (slot != Released)
            throw new ProtocolViolationException($"hard link '{entry.Path}' names '{entry.LinkTarget}', a file still arriving: a sender names hard links once every file is settled");
        // A file that goes into place at the session's end (--delay-updates) gets its further names then.
        if (DelaysLinkTo(file, id, entry, full)) return;
        if (Directory.Exists(full) && new DirectoryInfo(full).LinkTarget is null) RemoveDirectoryInTheWay(entry, full);
        MakeHardLink(full, entry.Path, _guard.Resolve(entry.LinkTarget!, create: false), entry.LinkTarget!);
    }

    /// <summary>
    /// Makes <paramref name="full"/> a further name of the file at <paramref name="fileFull"/>, unless it already is
    /// that file: the name is made beside it, under a temporary name of this session, and renamed over what stands
    /// there, so that a file or link there stays if the link cannot be made; or, where what stands there is the file in
    /// all but its inode, the file's name joins that inode. A link at the file's name is never followed: the name is
    /// given to the link itself.
    /// </summary>
    private void MakeHardLink(string full, string path, string fileFull, string filePath)
    {
        var standing = SpecialFiles.IdentityOf(full);
        var named = standing is null ? null : SpecialFiles.IdentityOf(fileFull);
        if (standing is { } there && named is { } file && (there.Device, there.Inode) == (file.Device, file.Inode)) return;
        // As rsync: a further name that stands in place already as the file (another name in its group led, and was
        // sent) keeps its inode, which its other names at the destination share, and the file's name joins it while
        // it has no other: nothing at this name is replaced, nor kept as a backup.
        if (named is { Names: 1 } && _scope == AttributeScope.None && StandsAsTheFile(full, fileFull) && JoinedStanding(full, fileFull, filePath)) return;
        try
        {
            ReplaceWithMade(full, path, temporary => SpecialFiles.Link(fileFull, temporary));
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or PlatformNotSupportedException || ex is IOException io && !StorageErrors.IsDiskFull(io))
        {
            throw new EntryConflictException(NotLinked(path, filePath, ex.Message));
        }
    }

    /// <summary>
    /// Makes an entry for <paramref name="full"/> (<paramref name="path"/> from the destination) with <paramref name="make"/>,
    /// under a temporary name of this session beside it (as a partial file's), then renames it over what stands there
    /// (kept as its backup just before, when backups are kept and <paramref name="keepsBackup"/>): what stood there stays
    /// if the making fails. The temporary name is
    /// gone when this returns (there still when something failed, or when the two names were already one file's, a
    /// rename between which does nothing); one that cannot be removed is a partial's name, and is left.
    /// </summary>
    private void ReplaceWithMade(string full, string path, Action<string> make, bool keepsBackup = true)
    {
        string temporary = Path.Join(Path.GetDirectoryName(full.AsSpan()), PartialFile.TemporaryName(Path.GetFileName(full), Id.Tag));
        try
        {
            File.Delete(temporary);
            make(temporary);
            if (keepsBackup) _backups?.Keep(full, path);
            File.Move(temporary, full, overwrite: true);
        }
        finally
        {
            try { File.Delete(temporary); }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { }
        }
    }

    /// <summary>
    /// Whether the regular file at <paramref name="full"/> is the file just made at <paramref name="fileFull"/> in all
    /// but its inode: the same size, time, mode, owner and contents (their digests as --checksum reads them, through
    /// handles that follow no link).
    /// </summary>
    private bool StandsAsTheFile(string full, string fileFull)
    {
        try
        {
            var there = new FileInfo(full);
            var made = new FileInfo(fileFull);
            if (there.LinkTarget is not null || !there.Exists || made.LinkTarget is not null || !made.Exists || there.Length != made.Length
                || there.LastWriteTimeUtc != made.LastWriteTimeUtc || SpecialFiles.OwnerOf(full) != SpecialFiles.OwnerOf(fileFull)
                || (!OperatingSystem.IsWindows() && there.UnixFileMode != made.UnixFileMode))
                return false;
            using var standing = SpecialFiles.OpenRegularNotFollowing(full);
            using var file = SpecialFiles.OpenRegularNotFollowing(fileFull);
            return standing is not null && file is not null
                && Digests.Content(standing, there.Length, StillBusy) is { } contents && Digests.Content(file, there.Length, StillBusy) == contents;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>
    /// Gives the file's name (<paramref name="fileFull"/>, <paramref name="filePath"/> from the destination) the inode
    /// standing at <paramref name="full"/>, as any further name is made, but keeping no backup of the file this session
    /// just made; false if that could not be done, and then nothing changed.
    /// </summary>
    private bool JoinedStanding(string full, string fileFull, string filePath)
    {
        try
        {
            ReplaceWithMade(fileFull, filePath, temporary => SpecialFiles.Link(full, temporary), keepsBackup: false);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            return false;
        }
    }

    private static string NotLinked(string path, string filePath, string why) => $"'{path}' was not linked to '{filePath}': {why}";
}
