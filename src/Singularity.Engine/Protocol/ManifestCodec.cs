using System.Buffers.Binary;
using System.Text;

namespace Singularity.Engine.Protocol;

/// <summary>
/// Encodes manifest entries. Each entry is a 26-byte fixed part, the owner and group when flags bit 1 is set, the
/// contents' digest when flags bit 3 is set, a device's number when flags bit 5 is set, the extended attributes when
/// flags bit 6 is set (a u16 count, then for each a u8 name length, a u32 value length, the name and the value), then
/// the path and link target bytes:
/// <code>
///  0     1        2            4        8                16          24              26
///  +-----+--------+------------+--------+----------------+-----------+---------------+-----------------+------------------+---------------------+-------------+------+--------+
///  |kind |flags   |path length |mode    |mtime (ns, i64) |size (i64) |target length  |[uid u32,gid u32]|[digest u128 (LE)]|[major u32,minor u32]|[attributes] |path  |target  |
///  +-----+--------+------------+--------+----------------+-----------+---------------+-----------------+------------------+---------------------+-------------+------+--------+
/// </code>
/// A special entry's mode holds its file type bits (<see cref="SpecialTypes"/>) above its permission bits; no other entry's does.
/// </summary>
internal static class ManifestCodec
{
    public const int FixedSize = 26;
    public const int ChunkHeaderSize = 8;
    /// <summary>Flags bit 0: a file an earlier attempt of this send committed (<see cref="ManifestEntry.SentBefore"/>).</summary>
    public const byte FlagSentBefore = 1;
    /// <summary>Flags bit 1: the entry's owner and group follow the fixed part (<see cref="ManifestEntry.Owner"/>).</summary>
    public const byte FlagOwner = 2;
    /// <summary>Flags bit 2: a file that hard link entries may name (<see cref="ManifestEntry.Linked"/>).</summary>
    public const byte FlagLinked = 4;
    /// <summary>Flags bit 3: a file's contents' digest follows the owner, or the fixed part (<see cref="ManifestEntry.Digest"/>).</summary>
    public const byte FlagDigest = 8;
    /// <summary>Flags bit 4: a directory the deletion does not clean (<see cref="ManifestEntry.Implied"/>).</summary>
    public const byte FlagImplied = 16;
    /// <summary>Flags bit 5: a device's number follows the digest, the owner, or the fixed part (<see cref="ManifestEntry.DeviceNumber"/>).</summary>
    public const byte FlagDevice = 32;
    /// <summary>Flags bit 6: the entry's extended attributes follow the device number, or what comes before it (<see cref="ManifestEntry.Xattrs"/>).</summary>
    public const byte FlagXattrs = 64;
    private const int OwnerSize = 8;
    private const int DigestSize = 16;
    private const int DeviceSize = 8;
    private const UnixFileMode PermissionBits = (UnixFileMode)0xFFF;

    /// <summary>The most bytes one entry can take within <paramref name="limits"/>.</summary>
    public static int MostSize(ProtocolLimits limits) =>
        FixedSize + OwnerSize + DigestSize + DeviceSize + XattrsCountSize + ushort.MaxValue * XattrHeadSize + Storage.ExtendedAttributes.MostBytes + 2 * limits.MaxPathBytes;

    public static int EncodedSize(ManifestEntry entry) =>
        FixedSize + (entry.Owner is null ? 0 : OwnerSize) + (entry.Digest is null ? 0 : DigestSize) + (entry.DeviceNumber is null ? 0 : DeviceSize) + XattrsSize(entry.Xattrs) + Encoding.UTF8.GetByteCount(entry.Path) + (entry.LinkTarget is null ? 0 : Encoding.UTF8.GetByteCount(entry.LinkTarget));

    public static int Write(Span<byte> destination, ManifestEntry entry)
    {
        int head = FixedSize;
        if (entry.Owner is { } owner)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(destination[FixedSize..], owner.User);
            BinaryPrimitives.WriteUInt32LittleEndian(destination[(FixedSize + 4)..], owner.Group);
            head += OwnerSize;
        }
        if (entry.Digest is { } digest)
        {
            BinaryPrimitives.WriteUInt128LittleEndian(destination[head..], digest);
            head += DigestSize;
        }
        if (entry.DeviceNumber is { } device)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(destination[head..], device.Major);
            BinaryPrimitives.WriteUInt32LittleEndian(destination[(head + 4)..], device.Minor);
            head += DeviceSize;
        }
        if (entry.Xattrs is { } xattrs) head += WriteXattrs(destination[head..], xattrs);
        int pathLength = Encoding.UTF8.GetBytes(entry.Path, destination[head..]);
        int targetLength = entry.LinkTarget is null ? 0 : Encoding.UTF8.GetBytes(entry.LinkTarget, destination[(head + pathLength)..]);
        destination[0] = (byte)entry.Kind;
        destination[1] = (byte)((entry.SentBefore ? FlagSentBefore : 0) | (entry.Owner is null ? 0 : FlagOwner) | (entry.Linked ? FlagLinked : 0) | (entry.Digest is null ? 0 : FlagDigest) | (entry.Implied ? FlagImplied : 0) | (entry.DeviceNumber is null ? 0 : FlagDevice) | (entry.Xattrs is null ? 0 : FlagXattrs));
        BinaryPrimitives.WriteUInt16LittleEndian(destination[2..], checked((ushort)pathLength));
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], (uint)(entry.Mode & PermissionBits) | entry.SpecialType);
        BinaryPrimitives.WriteInt64LittleEndian(destination[8..], entry.MtimeNanoseconds);
        BinaryPrimitives.WriteInt64LittleEndian(destination[16..], entry.Size);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[24..], checked((ushort)targetLength));
        return head + pathLength + targetLength;
    }

    private const int XattrsCountSize = 2, XattrHeadSize = 5;

    private static int XattrsSize(Storage.ExtendedAttributes? xattrs) => xattrs is null ? 0 : XattrsCountSize + xattrs.Items.Count * XattrHeadSize + xattrs.Bytes;

    private static int WriteXattrs(Span<byte> destination, Storage.ExtendedAttributes xattrs)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(destination, checked((ushort)xattrs.Items.Count));
        int at = XattrsCountSize;
        foreach (var (name, value) in xattrs.Items)
        {
            int nameLength = Encoding.UTF8.GetBytes(name, destination[(at + XattrHeadSize)..]);
            destination[at] = checked((byte)nameLength);
            BinaryPrimitives.WriteUInt32LittleEndian(destination[(at + 1)..], (uint)value.Length);
            value.CopyTo(destination[(at + XattrHeadSize + nameLength)..]);
            at += XattrHeadSize + nameLength + value.Length;
        }
        return at;
    }

    /// <summary>
    /// Reads an entry's extended attributes at <paramref name="at"/>: names of 1 to 255 bytes of strict UTF-8 without
    /// NUL, a namespace, a dot and more (as "user.x"), each after the one before in the order of their bytes (so none
    /// twice), and no more than
    /// <see cref="Storage.ExtendedAttributes.MostBytes"/> of names and values together.
    /// </summary>
    private static bool TryReadXattrs(ReadOnlySpan<byte> source, int at, out Storage.ExtendedAttributes? xattrs, out int length, out string? error)
    {
        xattrs = null;
        length = 0;
        error = "truncated manifest entry";
        if (source.Length < at + XattrsCountSize) return false;
        int count = BinaryPrimitives.ReadUInt16LittleEndian(source[at..]);
        int position = at + XattrsCountSize;
        long total = 0;
        var items = new List<(string, byte[])>(Math.Min(count, 64));
        ReadOnlySpan<byte> previous = [];
        for (int i = 0; i < count; i++)
        {
            if (source.Length < position + XattrHeadSize) return false;
            int nameLength = source[position];
            uint valueLength = BinaryPrimitives.ReadUInt32LittleEndian(source[(position + 1)..]);
            total += nameLength + (long)valueLength;
            if (nameLength == 0 || total > Storage.ExtendedAttributes.MostBytes)
            {
                error = $"extended attributes are empty-named or hold more than {Storage.ExtendedAttributes.MostBytes} bytes";
                return false;
            }
            if (source.Length < position + XattrHeadSize + nameLength + valueLength) return false;
            var nameBytes = source.Slice(position + XattrHeadSize, nameLength);
            string name;
            try { name = WireFormat.StrictUtf8.GetString(nameBytes); }
            catch (DecoderFallbackException) { error = "an extended attribute's name is not valid UTF-8"; return false; }
            if (name.Contains('\0') || (i > 0 && previous.SequenceCompareTo(nameBytes) >= 0))
            {
                error = "extended attribute names hold NUL, or are not in order";
                return false;
            }
            int dot = name.IndexOf('.');
            if (dot <= 0 || dot == name.Length - 1)
            {
                error = $"extended attribute name '{name}' is not a namespace, a dot and a name";
                return false;
            }
            items.Add((name, source.Slice(position + XattrHeadSize + nameLength, (int)valueLength).ToArray()));
            previous = nameBytes;
            position += XattrHeadSize + nameLength + (int)valueLength;
        }
        xattrs = new Storage.ExtendedAttributes(items);
        length = position - at;
        error = null;
        return true;
    }

    /// <summary>Reads one entry, checking every length and field against the limits before use. Path syntax is checked by the receiver's path guard.</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, ProtocolLimits limits, out ManifestEntry? entry, out int consumed, out string? error)
    {
        entry = null;
        consumed = 0;
        if (source.Length < FixedSize) { error = "truncated manifest entry"; return false; }
        var kind = (EntryKind)source[0];
        if (kind is not (EntryKind.File or EntryKind.Directory or EntryKind.Symlink or EntryKind.HardLink or EntryKind.Special)) { error = $"unknown entry kind {source[0]}"; return false; }
        byte flags = source[1];
        if ((flags & ~(FlagSentBefore | FlagOwner | FlagLinked | FlagDigest | FlagImplied | FlagDevice | FlagXattrs)) != 0) { error = $"unknown manifest entry flags 0x{flags:x2}"; return false; }
        if ((flags & FlagImplied) != 0 && kind != EntryKind.Directory) { error = "only a directory can be marked implied"; return false; }
        if ((flags & FlagDigest) != 0 && kind != EntryKind.File) { error = "only a file can carry a digest"; return false; }
        if ((flags & FlagSentBefore) != 0 && kind != EntryKind.File) { error = "only a file can be marked as sent before"; return false; }
        if ((flags & FlagLinked) != 0 && kind != EntryKind.File) { error = "only a file can be marked as linked"; return false; }
        int ownerAt = FixedSize, digestAt = ownerAt + ((flags & FlagOwner) != 0 ? OwnerSize : 0);
        int deviceAt = digestAt + ((flags & FlagDigest) != 0 ? DigestSize : 0);
        int xattrsAt = deviceAt + ((flags & FlagDevice) != 0 ? DeviceSize : 0);
        Storage.ExtendedAttributes? xattrs = null;
        if ((flags & FlagXattrs) != 0)
        {
            if (kind == EntryKind.HardLink) { error = "a hard link carries no extended attributes"; return false; }
            if (!TryReadXattrs(source, xattrsAt, out xattrs, out int xattrsLength, out error)) return false;
            xattrsAt += xattrsLength;
        }
        int head = xattrsAt;
        int pathLength = BinaryPrimitives.ReadUInt16LittleEndian(source[2..]);
        uint mode = BinaryPrimitives.ReadUInt32LittleEndian(source[4..]);
        long mtime = BinaryPrimitives.ReadInt64LittleEndian(source[8..]);
        long size = BinaryPrimitives.ReadInt64LittleEndian(source[16..]);
        int targetLength = BinaryPrimitives.ReadUInt16LittleEndian(source[24..]);
        if (pathLength == 0 || pathLength > limits.MaxPathBytes) { error = $"path length {pathLength} is outside 1..{limits.MaxPathBytes}"; return false; }
        if (targetLength > limits.MaxPathBytes) { error = $"link target length {targetLength} exceeds {limits.MaxPathBytes}"; return false; }
        ushort type = (ushort)(mode & SpecialTypes.Mask);
        if (kind == EntryKind.Special ? !SpecialTypes.IsSpecial(type) : type != 0) { error = kind == EntryKind.Special ? $"mode 0x{mode:x} is not a FIFO's, a socket's or a device's" : $"mode 0x{mode:x} has bits beyond permissions"; return false; }
        if ((mode & ~(uint)(PermissionBits | (UnixFileMode)SpecialTypes.Mask)) != 0) { error = $"mode 0x{mode:x} has bits beyond permissions"; return false; }
        if (((flags & FlagDevice) != 0) != SpecialTypes.IsDevice(type)) { error = "a device number is required for devices and only for devices"; return false; }
        if (size < 0 || size > limits.MaxTotalBytes) { error = $"file size {size} is negative or beyond the quota"; return false; }
        if (kind != EntryKind.File && size != 0) { error = "only files have a size"; return false; }
        bool isLink = kind is EntryKind.Symlink or EntryKind.HardLink;
        if (isLink != (targetLength > 0)) { error = "a link target is required for links and only for links"; return false; }
        // A hard link is one more name of its file: the file's mode, time and owner are its own.
        if (kind == EntryKind.HardLink && (mode != 0 || mtime != 0 || (flags & FlagOwner) != 0)) { error = "a hard link carries no mode, time or owner"; return false; }
        if (source.Length < head + pathLength + targetLength) { error = "truncated manifest entry"; return false; }
        string path, target;
        try
        {
            path = WireFormat.StrictUtf8.GetString(source.Slice(head, pathLength));
            target = WireFormat.StrictUtf8.GetString(source.Slice(head + pathLength, targetLength));
        }
        catch (DecoderFallbackException)
        {
            error = "path is not valid UTF-8";
            return false;
        }
        // No file system can create a link whose target holds NUL: refused here as malformed, not later as a failed create.
        if (target.Contains('\0')) { error = "link target contains NUL"; return false; }
        (uint, uint)? owner = (flags & FlagOwner) != 0
            ? (BinaryPrimitives.ReadUInt32LittleEndian(source[ownerAt..]), BinaryPrimitives.ReadUInt32LittleEndian(source[(ownerAt + 4)..])) : null;
        entry = new ManifestEntry(kind, path, size, (UnixFileMode)(mode & (uint)PermissionBits), mtime, isLink ? target : null)
        {
            SpecialType = type,
            Xattrs = xattrs,
            DeviceNumber = (flags & FlagDevice) != 0 ? (BinaryPrimitives.ReadUInt32LittleEndian(source[deviceAt..]), BinaryPrimitives.ReadUInt32LittleEndian(source[(deviceAt + 4)..])) : null,
            SentBefore = (flags & FlagSentBefore) != 0,
            Owner = owner,
            Linked = (flags & FlagLinked) != 0,
            Implied = (flags & FlagImplied) != 0,
            Digest = (flags & FlagDigest) != 0 ? BinaryPrimitives.ReadUInt128LittleEndian(source[digestAt..]) : null,
        };
        consumed = head + pathLength + targetLength;
        error = null;
        return true;
    }
}
