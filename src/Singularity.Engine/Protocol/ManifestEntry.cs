namespace Singularity.Engine.Protocol;

/// <summary>What a manifest entry describes.</summary>
public enum EntryKind : byte
{
    /// <summary>A regular file; its bytes travel as shards.</summary>
    File = 1,
    /// <summary>A directory, possibly empty.</summary>
    Directory = 2,
    /// <summary>A symbolic link, kept as a link and never followed.</summary>
    Symlink = 3,
    /// <summary>A further name of a file sent earlier in the same manifest (a hard link); its link target is that file's path.</summary>
    HardLink = 4,
    /// <summary>
    /// A FIFO, a socket or a device (rsync -D), made anew at the receiver: its type is <see cref="ManifestEntry.SpecialType"/>,
    /// and a device's number <see cref="ManifestEntry.DeviceNumber"/>.
    /// </summary>
    Special = 5,
}

/// <summary>One file, directory or link of a transfer, with a path relative to the destination using '/' separators.</summary>
internal sealed record ManifestEntry(EntryKind Kind, string Path, long Size, UnixFileMode Mode, long MtimeNanoseconds, string? LinkTarget)
{
    /// <summary>
    /// A file an earlier attempt of the same send committed, named again only so that the receiver, asked to delete
    /// what the manifest does not name, keeps it: the receiver leaves it if it is still in place with the entry's size
    /// and mtime, and it is sent only if not.
    /// </summary>
    public bool SentBefore { get; init; }

    /// <summary>
    /// A file that has more than one name at the source, in a send that keeps hard links: later entries of kind
    /// <see cref="EntryKind.HardLink"/> may name it, so the receiver remembers where it put it.
    /// </summary>
    public bool Linked { get; init; }

    /// <summary>
    /// With --checksum, a file's contents as the sender read them (<see cref="Integrity.Digests.Content"/>): the
    /// receiver leaves a file in place only if its contents have this digest. Null otherwise, or when the sender could
    /// not read the file (the receiver then takes it for changed).
    /// </summary>
    public UInt128? Digest { get; init; }

    /// <summary>
    /// A directory of a relative send (rsync -R, --files-from) that is sent only as the way to what is named below it,
    /// or named without what it holds (a list without -r): a receiver asked to delete does not clean it, since the
    /// source's other entries there were never meant to be sent, as rsync leaves its implied directories.
    /// </summary>
    public bool Implied { get; init; }

    /// <summary>
    /// The entry's owner and group, by number, when the sender keeps them (<see cref="TransferOptions.PreserveOwners"/>);
    /// null otherwise. Either may be <see cref="IdNotKept"/> (<see cref="TransferOptions.OwnerParts"/>).
    /// </summary>
    public (uint User, uint Group)? Owner { get; init; }

    /// <summary>A special entry's file type, as stat's file type bits (<see cref="SpecialTypes"/>); 0 for any other kind.</summary>
    public ushort SpecialType { get; init; }

    /// <summary>A device's number, major and minor; null for anything but a device.</summary>
    public (uint Major, uint Minor)? DeviceNumber { get; init; }

    /// <summary>
    /// The entry's extended attributes, when the sender keeps them (<see cref="TransferOptions.Xattrs"/>): the receiver
    /// gives it these and removes the others it handles. Null otherwise, and on a hard link, whose file's are its own.
    /// </summary>
    public Storage.ExtendedAttributes? Xattrs { get; init; }

    /// <summary>
    /// A user or group the sender does not keep (rsync -o or -g alone): the receiver leaves it as it finds or makes it.
    /// chown's -1, which changes nothing, and no id a system gives.
    /// </summary>
    public const uint IdNotKept = uint.MaxValue;

    /// <summary>Whether <paramref name="standing"/> differs from the owner an entry keeps, by what it keeps.</summary>
    public static bool OwnerDiffers((uint User, uint Group) standing, (uint User, uint Group) kept) =>
        (kept.User != IdNotKept && standing.User != kept.User) || (kept.Group != IdNotKept && standing.Group != kept.Group);
}

/// <summary>The file types a <see cref="EntryKind.Special"/> entry may have, as stat's file type bits (S_IFMT).</summary>
internal static class SpecialTypes
{
    /// <summary>The mask of stat's file type bits.</summary>
    public const ushort Mask = 0xF000;
    /// <summary>A FIFO (named pipe).</summary>
    public const ushort Fifo = 0x1000;
    /// <summary>A character device.</summary>
    public const ushort CharacterDevice = 0x2000;
    /// <summary>A block device.</summary>
    public const ushort BlockDevice = 0x6000;
    /// <summary>A Unix domain socket.</summary>
    public const ushort Socket = 0xC000;

    /// <summary>Whether <paramref name="type"/> is a device's (which carries a device number).</summary>
    public static bool IsDevice(ushort type) => type is CharacterDevice or BlockDevice;

    /// <summary>Whether <paramref name="type"/> is one a special entry may have.</summary>
    public static bool IsSpecial(ushort type) => type is Fifo or Socket || IsDevice(type);

    /// <summary>"FIFO", "socket", "character device" or "block device".</summary>
    public static string Name(ushort type) => type switch
    {
        Fifo => "FIFO",
        Socket => "socket",
        CharacterDevice => "character device",
        _ => "block device",
    };

    /// <summary>"a FIFO", "a socket", "a character device" or "a block device".</summary>
    public static string Describe(ushort type) => "a " + Name(type);
}
