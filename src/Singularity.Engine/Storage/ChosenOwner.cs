namespace Singularity.Engine.Storage;

/// <summary>
/// The user and group every entry is given (<see cref="TransferOptions.ChownUser"/>, <see cref="TransferOptions.ChownGroup"/>,
/// rsync --chown), as ids of this system: a number as given, a name as this system knows it. A number travels
/// without a name, as rsync's; a name travels as the owner names do (<see cref="TransferOptions.NumericIds"/> aside),
/// so the receiver gives the id it knows that name by.
/// </summary>
internal readonly record struct ChosenOwner(uint? User, uint? Group, bool UserByNumber, bool GroupByNumber)
{
    /// <summary>The owner the options choose; an unknown name, or a number out of range, is an <see cref="ArgumentException"/> naming the option.</summary>
    public static ChosenOwner Of(TransferOptions options)
    {
        var (user, userByNumber) = Resolve(options.ChownUser, AccountNames.UserId, "user", nameof(TransferOptions.ChownUser));
        var (group, groupByNumber) = Resolve(options.ChownGroup, AccountNames.GroupId, "group", nameof(TransferOptions.ChownGroup));
        return new ChosenOwner(user, group, userByNumber, groupByNumber);
    }

    /// <summary>
    /// The entry's owner as sent: the chosen parts, the parts <paramref name="parts"/> keeps from what was
    /// <paramref name="read"/>, and <see cref="Protocol.ManifestEntry.IdNotKept"/> for the rest; null when a part to
    /// keep could not be read (the entry then goes without an owner, as before any was chosen).
    /// </summary>
    public (uint User, uint Group)? Apply((uint User, uint Group)? read, OwnerParts parts)
    {
        uint? user = User ?? ((parts & OwnerParts.User) == 0 ? Protocol.ManifestEntry.IdNotKept : read?.User);
        uint? group = Group ?? ((parts & OwnerParts.Group) == 0 ? Protocol.ManifestEntry.IdNotKept : read?.Group);
        return user is { } u && group is { } g ? (u, g) : null;
    }

#pragma warning disable CA2208 // Names the option the caller set.
    private static (uint? Id, bool ByNumber) Resolve(string? given, Func<string, uint?> lookUp, string what, string option)
    {
        if (given is null) return (null, false);
        if (given.Length > 0 && given.All(char.IsAsciiDigit))
        {
            if (!uint.TryParse(given, out uint number) || number == Protocol.ManifestEntry.IdNotKept)
                throw new ArgumentException($"{what} id {given} is out of range", option);
            return (number, true);
        }
        if (given.Length == 0 || given.Contains('\0') || !OperatingSystem.IsLinux())
            throw new ArgumentException(given.Length == 0 ? $"an empty {what} name" : $"{what} names can be looked up on Linux only; give the number", option);
        return (lookUp(given) ?? throw new ArgumentException($"no {what} '{given}' here; give its number, or a name this system knows", option), false);
    }
#pragma warning restore CA2208
}
