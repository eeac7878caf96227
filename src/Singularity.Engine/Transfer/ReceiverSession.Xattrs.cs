using Singularity.Engine.Protocol;
using Singularity.Engine.Storage;

namespace Singularity.Engine.Transfer;

/// <summary>
/// Extended attributes (rsync -X, more flags bit 9) and POSIX ACLs (rsync -A, bit 11, as the attributes Linux keeps
/// them as): each entry gets those it carries, and loses the others of the session's scope this receiver handles
/// (<see cref="ExtendedAttributes.Within"/>), when it is made or found in place: a directory's as it is made, a file's
/// at its commit. What files carry waits for that, and is counted while it waits, so a sender cannot make it grow
/// unbounded.
/// </summary>
internal sealed partial class ReceiverSession
{
    // Which attributes the session keeps (more flags bits 9 and 11).
    private AttributeScope _scope;
    private long _xattrBytesHeld;
    private int _xattrsNotSet;
    // The first entry that lacked some, for the log.
    private string? _firstXattrsNotSet;

    /// <summary>What the entry is to have, in a session that keeps extended attributes: its own, or none; null otherwise, and for a hard link.</summary>
    private ExtendedAttributes? XattrsOf(ManifestEntry entry) =>
        _scope != AttributeScope.None && entry.Kind != EntryKind.HardLink ? (entry.Xattrs ?? ExtendedAttributes.None).In(_scope) : null;

    /// <summary>Counts what a file carries until its commit; beyond <see cref="ProtocolLimits.MaxHeldXattrBytes"/>, the session ends.</summary>
    private void HoldXattrs(ManifestEntry entry)
    {
        if (entry.Xattrs is not { } xattrs) return;
        if (Interlocked.Add(ref _xattrBytesHeld, xattrs.Bytes) > _limits.MaxHeldXattrBytes)
            throw new SingularityException(ErrorCode.LimitExceeded, $"the extended attributes of the files not yet committed hold more than {ByteSize.Format(_limits.MaxHeldXattrBytes)}");
    }

    private void ReleaseXattrs(ExtendedAttributes xattrs) => Interlocked.Add(ref _xattrBytesHeld, -xattrs.Bytes);

    /// <summary>Gives what stands at <paramref name="full"/> (never through a link there) the entry's extended attributes, when the session keeps them.</summary>
    private void ApplyXattrs(ManifestEntry entry, string full)
    {
        if (XattrsOf(entry) is { } xattrs && !xattrs.ApplyTo(full)) XattrsNotSet(entry.Path);
    }

    /// <summary>
    /// How what stands at <paramref name="full"/> differs from these attributes, in its ACLs and in the others (one
    /// that cannot be read differs in both), and whether it has an ACL of its own (within the scope).
    /// </summary>
    private static (bool Acls, bool Others, bool AclStands) XattrDifferences(ExtendedAttributes xattrs, string full)
    {
        try
        {
            var standing = ExtendedAttributes.Of(full, xattrs.Scope);
            var (acls, others) = xattrs.Differences(standing);
            return (acls, others, standing.HasAccessAcl);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or SingularityException)
        {
            return (true, true, false);
        }
    }

    private void XattrsNotSet(string path)
    {
        Interlocked.Increment(ref _xattrsNotSet);
        Interlocked.CompareExchange(ref _firstXattrsNotSet, path, null);
    }
}
