using Singularity.Engine.Protocol;
using Singularity.Engine.Storage;

namespace Singularity.Engine.Transfer;

/// <summary>
/// FIFOs, sockets and devices (rsync -D, more flags bit 10). One of the same type (and number) standing at the name is
/// left there and brought up to date, as rsync leaves it (a server listening on a socket keeps it); any other is made
/// beside its name and renamed over it, so what stood there stays if it cannot be made. A device only where the
/// receiver was asked to make devices (<see cref="ReceiverOptions.MakeDevices"/>) and may: a device node gives whoever
/// may open it the device itself. Elsewhere a device is skipped, as rsync skips it at a receiver that is not root.
/// </summary>
internal sealed partial class ReceiverSession
{
    /// <summary>
    /// Makes the special entry at <paramref name="full"/>, or brings the same one standing there up to date: its owner
    /// (as a link's, <see cref="OwnerMadeAnew"/>), extended attributes, mode (never through a link, no setuid or setgid
    /// bit, as a file's) and time. A directory in the way goes as one in a file's way; anything else there is replaced
    /// by the rename (kept as its backup, when kept).
    /// </summary>
    private void PrepareSpecial(ManifestEntry entry, string full)
    {
        bool same = SpecialFiles.StandingAt(full) is { Kind: EntryKind.Special } standing && standing.SpecialType == entry.SpecialType && standing.DeviceNumber == entry.DeviceNumber;
        if (same)
        {
            SetSpecialAttributes(entry, full, OwnerMadeAnew(entry, full, same: true));
            return;
        }
        try
        {
            ReplaceWithMade(full, entry.Path, temporary =>
            {
                // Without modes kept, as rsync makes it: the source's permissions less the umask.
                SpecialFiles.Make(temporary, entry.SpecialType, _keepModes ? 0 : entry.Mode & PartialFile.SafeModeBits, entry.DeviceNumber);
                SetSpecialAttributes(entry, temporary, OwnerMadeAnew(entry, full, same: false));
                // Once it is made: a directory in the way goes only for what will take its place.
                if (Directory.Exists(full) && new DirectoryInfo(full).LinkTarget is null) RemoveDirectoryInTheWay(entry, full);
            });
        }
        catch (UnauthorizedAccessException) when (SpecialTypes.IsDevice(entry.SpecialType))
        {
            throw new EntryConflictException($"refused: '{entry.Path}' is a device, which this receiver may not make (it needs root with CAP_MKNOD)");
        }
        catch (IOException ex) when (SpecialTypes.IsDevice(entry.SpecialType) && ex.HResult is Errno.InvalidArgument or Errno.Overflow)
        {
            var (major, minor) = entry.DeviceNumber!.Value;
            throw new EntryConflictException($"refused: '{entry.Path}' is a device numbered {major},{minor}, which this system cannot make");
        }
        catch (PlatformNotSupportedException ex)
        {
            throw new EntryConflictException($"refused: '{entry.Path}' is {SpecialTypes.Describe(entry.SpecialType)}, and {ex.Message}");
        }
    }

    /// <summary>Gives the special at <paramref name="path"/> its owner, extended attributes, mode (after the owner, whose change may clear mode bits) and time, never through a link.</summary>
    private void SetSpecialAttributes(ManifestEntry entry, string path, (uint User, uint Group)? owner)
    {
        if (owner is { } given && !SpecialFiles.TrySetOwnerNotFollowing(path, given)) OwnerNotSet();
        ApplyXattrs(entry, path);
        if (_keepModes && !SpecialFiles.SetModeNotFollowing(path, entry.Mode & PartialFile.SafeModeBits))
            throw new EntryConflictException($"'{entry.Path}' became a link in the destination while it was being received");
        File.SetLastWriteTimeUtc(path, SourceScanner.FromNanoseconds(entry.MtimeNanoseconds));
    }

    /// <summary>
    /// Why this receiver does not make the device <paramref name="entry"/> is, as rsync's receiver skips devices
    /// where it is not root: it was not asked to, or runs as a user who may not; null for any other entry. The sender
    /// is told (EntryFailed, NotAllowed), in a dry run too, and the device counts as skipped, not failed.
    /// </summary>
    private string? DeviceNotMade(ManifestEntry entry) =>
        entry.Kind != EntryKind.Special || !SpecialTypes.IsDevice(entry.SpecialType) ? null
        : !_options.MakeDevices ? $"'{entry.Path}' is a device, and this receiver makes none; start it with `sglty recv --devices` (as root) to make devices"
        : !Environment.IsPrivilegedProcess ? $"'{entry.Path}' is a device, and this receiver runs as a user who may not make devices; start it as root"
        : null;

    /// <summary>Tells the sender that a device is skipped (<see cref="DeviceNotMade"/>): not a failure, which would keep the deletion from running.</summary>
    private void SkipDevice(uint id, string why)
    {
        Interlocked.Increment(ref _devicesSkipped);
        PostEntryFailed(id, ErrorCode.NotAllowed, why);
    }

    private bool _specials;
    private int _devicesSkipped;

    /// <summary>
    /// The owner to give an entry made anew at <paramref name="full"/> (a link, a special): the parts the sender keeps,
    /// and what it does not keep (owners at all, or -o or -g alone) as the <paramref name="same"/> entry standing there
    /// has it, as if that were left in place, as rsync leaves it. Null where this receiver gives no owners, or there is
    /// nothing to give.
    /// </summary>
    private static (uint User, uint Group)? OwnerMadeAnew(ManifestEntry entry, string full, bool same)
    {
        if (!SpecialFiles.MayChangeOwners) return null;
        var kept = entry.Owner ?? (ManifestEntry.IdNotKept, ManifestEntry.IdNotKept);
        if (same && (kept.User == ManifestEntry.IdNotKept || kept.Group == ManifestEntry.IdNotKept) && SpecialFiles.OwnerOf(full) is { } found)
            kept = (kept.User == ManifestEntry.IdNotKept ? found.User : kept.User, kept.Group == ManifestEntry.IdNotKept ? found.Group : kept.Group);
        return kept == (ManifestEntry.IdNotKept, ManifestEntry.IdNotKept) ? null : kept;
    }
}
