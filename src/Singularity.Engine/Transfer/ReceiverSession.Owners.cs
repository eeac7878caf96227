using Singularity.Engine.Protocol;
using Singularity.Engine.Storage;

namespace Singularity.Engine.Transfer;

/// <summary>
/// Owners by name (OwnerNames, as rsync -a maps them): a receiver that gives owners maps each user or group the
/// sender named to the id that name has here, where the name is known here; others, and root's id, stay as numbers.
/// </summary>
internal sealed partial class ReceiverSession
{
    private bool _ownerNamesRead;
    // Sender's id to this system's, where they differ; null when nothing maps.
    private Dictionary<uint, uint>? _users;
    private Dictionary<uint, uint>? _groups;

    private void OnOwnerNames(ReadOnlySpan<byte> body)
    {
        if (!_opened || _entriesReceived != 0 || _ownerNamesRead)
            throw new ProtocolViolationException("OwnerNames outside its place: once, after OpenSession and before the manifest");
        _ownerNamesRead = true;
        var names = OwnerNamesMessage.Decode(body);
        // Only a receiver that gives owners looks the names up; root stays root, as with rsync.
        if (!SpecialFiles.MayChangeOwners) return;
        foreach (var (isGroup, id, name) in names)
        {
            if (id == 0 || (isGroup ? AccountNames.GroupId(name) : AccountNames.UserId(name)) is not { } local || local == id) continue;
            if (isGroup) (_groups ??= [])[id] = local;
            else (_users ??= [])[id] = local;
        }
    }

    /// <summary>The entry with its owner and group as this system names them (see <see cref="OnOwnerNames"/>).</summary>
    private ManifestEntry WithLocalOwner(ManifestEntry entry)
    {
        if (entry.Owner is not { } owner || (_users is null && _groups is null)) return entry;
        uint user = _users is not null && _users.TryGetValue(owner.User, out uint u) ? u : owner.User;
        uint group = _groups is not null && _groups.TryGetValue(owner.Group, out uint g) ? g : owner.Group;
        return (user, group) == owner ? entry : entry with { Owner = (user, group) };
    }
}
