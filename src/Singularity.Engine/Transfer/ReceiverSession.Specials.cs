using Singularity.Engine.Protocol;
using Singularity.Engine.Storage;

namespace Singularity.Engine.Transfer;

/// <summary>
/// FIFOs, sockets and devices (rsync -D): each is made anew at its name, as a link is, with its mode, owner and time.
/// A device only where the receiver was asked to make devices (<see cref="ReceiverOptions.MakeDevices"/>): a device
/// node gives whoever may open it the device itself.
/// </summary>
internal sealed partial class ReceiverSession
{
    /// <summary>
    /// Makes the special entry at <paramref name="full"/>: a directory in the way goes as one in a file's way; the same
    /// special standing there is made anew, no change to keep a backup of; anything else there is discarded (to its
    /// backup, when kept). Its mode is set never through a link, and no setuid or setgid bit, as a file's.
    /// </summary>
    private void PrepareSpecial(ManifestEntry entry, string full)
    {
        FailIfDeviceNotMade(entry);
        bool device = SpecialTypes.IsDevice(entry.SpecialType);
        if (Directory.Exists(full) && new DirectoryInfo(full).LinkTarget is null) RemoveDirectoryInTheWay(entry, full);
        bool same = SpecialFiles.StandingAt(full) is { Kind: EntryKind.Special } standing && standing.SpecialType == entry.SpecialType && standing.DeviceNumber == entry.DeviceNumber;
        var owner = OwnerMadeAnew(entry, full, same);
        if (same) File.Delete(full);
        else if (Stands(full)) Discard(full, entry.Path);
        try
        {
            // Without modes kept, as a new file's: 0666 less the umask.
            SpecialFiles.Make(full, entry.SpecialType, _options.PreserveMode ? 0 : (UnixFileMode)0x1B6, entry.DeviceNumber);
        }
        catch (UnauthorizedAccessException) when (device)
        {
            throw new EntryConflictException($"refused: '{entry.Path}' is a device, which only a receiver running as root may make");
        }
        catch (IOException ex) when (device && ex.HResult is Errno.InvalidArgument or Errno.Overflow)
        {
            var (major, minor) = entry.DeviceNumber!.Value;
            throw new EntryConflictException($"refused: '{entry.Path}' is a device numbered {major},{minor}, which this system cannot make");
        }
        catch (PlatformNotSupportedException ex)
        {
            throw new EntryConflictException($"refused: '{entry.Path}' is {SpecialTypes.Describe(entry.SpecialType)}, and {ex.Message}");
        }
        if (owner is { } given && !SpecialFiles.TrySetOwnerNotFollowing(full, given)) OwnerNotSet();
        ApplyXattrs(entry, full);
        // After the owner, whose change may clear mode bits.
        if (_options.PreserveMode) SpecialFiles.SetModeNotFollowing(full, entry.Mode & PartialFile.SafeModeBits);
        File.SetLastWriteTimeUtc(full, SourceScanner.FromNanoseconds(entry.MtimeNanoseconds));
    }

    /// <summary>A device fails on its own at a receiver that makes none, in a dry run as in the real session.</summary>
    private void FailIfDeviceNotMade(ManifestEntry entry)
    {
        if (SpecialTypes.IsDevice(entry.SpecialType) && !_options.MakeDevices)
            throw new EntryConflictException($"refused: '{entry.Path}' is a device, and this receiver makes none; start it with `sglty recv --devices` (as root) to make devices");
    }

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
