namespace Singularity.Engine.Storage;

/// <summary>
/// The users and groups a send gives its entries in place of their own: --chown's one (<see cref="TransferOptions.ChownUser"/>,
/// <see cref="TransferOptions.ChownGroup"/>) or --usermap's and --groupmap's pairs (<see cref="TransferOptions.UserMap"/>,
/// <see cref="TransferOptions.GroupMap"/>), as ids of this system: a number as given, a name as this system knows
/// it. A number travels without a name, as rsync's; a name travels as the owner names do
/// (<see cref="TransferOptions.NumericIds"/> aside), so the receiver gives the id it knows that name by.
/// </summary>
internal readonly record struct ChosenOwner(OwnerMap? Users, OwnerMap? Groups)
{
    /// <summary>What the options choose; an unknown name, a number out of range, a malformed pair, or --chown beside a map of the same part is an <see cref="ArgumentException"/> naming the option.</summary>
    public static ChosenOwner Of(TransferOptions options) => new(
        Map(options.ChownUser, options.UserMap, groups: false, options.NumericIds, nameof(TransferOptions.ChownUser), nameof(TransferOptions.UserMap)),
        Map(options.ChownGroup, options.GroupMap, groups: true, options.NumericIds, nameof(TransferOptions.ChownGroup), nameof(TransferOptions.GroupMap)));

    /// <summary>Whether the entries' own owners must be read for the parts <paramref name="parts"/> keeps: not for a part every entry is given.</summary>
    public bool Reads(OwnerParts parts) =>
        ((parts & OwnerParts.User) != 0 && Users is not { MapsAll: true }) || ((parts & OwnerParts.Group) != 0 && Groups is not { MapsAll: true });

    /// <summary>
    /// The entry's owner as sent: the parts <paramref name="parts"/> keeps from what was <paramref name="read"/>, each
    /// mapped, and <see cref="Protocol.ManifestEntry.IdNotKept"/> for the rest; null when a part to keep could not be
    /// read (the entry then goes without an owner, as before any was chosen).
    /// </summary>
    public (uint User, uint Group)? Apply((uint User, uint Group)? read, OwnerParts parts)
    {
        uint? user = (parts & OwnerParts.User) == 0 ? Protocol.ManifestEntry.IdNotKept : Users is { } users ? users.Map(read?.User) : read?.User;
        uint? group = (parts & OwnerParts.Group) == 0 ? Protocol.ManifestEntry.IdNotKept : Groups is { } groups ? groups.Map(read?.Group) : read?.Group;
        return user is { } u && group is { } g ? (u, g) : null;
    }

#pragma warning disable CA2208 // Names the option the caller set.
    private static OwnerMap? Map(string? chosen, string? pairs, bool groups, bool numericIds, string chownOption, string mapOption)
    {
        if (chosen is not null && pairs is not null)
            throw new ArgumentException($"does not go with --chown's {(groups ? "group" : "user")}, which is the pair '*:{chosen}' (as rsync, which refuses both); give one", mapOption);
        if (pairs is not null) return OwnerMap.Parse(pairs, groups, numericIds, mapOption);
        return chosen is null ? null : OwnerMap.All(chosen, groups, chownOption);
    }
#pragma warning restore CA2208
}
