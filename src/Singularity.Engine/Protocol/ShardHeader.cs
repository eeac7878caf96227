using System.Buffers.Binary;

namespace Singularity.Engine.Protocol;

/// <summary>
/// The fixed 48-byte header before every shard payload on a data lane. All integers little-endian.
/// <code>
///  0     1     2         4          8              16       20        24        32             40            48
///  +-----+-----+---------+----------+--------------+--------+---------+---------+--------------+-------------+
///  |type |flags|reserved |length    |session tag   |file id |shard    |offset   |XXH3 payload  |XXH3 0..39   |
///  +-----+-----+---------+----------+--------------+--------+---------+---------+--------------+-------------+
/// </code>
/// </summary>
internal readonly struct ShardHeader
{
    public const int Size = 48;

    /// <summary>'D' for data; any other first byte on a lane is a protocol violation.</summary>
    public const byte FrameType = 0x44;

    public const byte FlagRetransmit = 0x01;
    /// <summary>The shard lies in a hole of the source: it reads as zeros, and none of its bytes follow the header.</summary>
    public const byte FlagHole = 0x02;
    /// <summary>The payload is the shard compressed (Zstandard); the length field counts the compressed bytes.</summary>
    public const byte FlagCompressed = 0x04;
    /// <summary>The payload is a patch (<see cref="Integrity.ShardPatch"/>) that makes the shard from the receiver's basis and literal bytes; the length field counts the patch.</summary>
    public const byte FlagPatched = 0x08;
    private const byte KnownFlags = FlagRetransmit | FlagHole | FlagCompressed | FlagPatched;

    public ShardHeader(ulong sessionTag, uint fileId, uint shardIndex, long offset, int payloadLength, ulong payloadDigest, byte flags = 0)
    {
        SessionTag = sessionTag;
        FileId = fileId;
        ShardIndex = shardIndex;
        Offset = offset;
        PayloadLength = payloadLength;
        PayloadDigest = payloadDigest;
        Flags = flags;
    }

    public byte Flags { get; }
    public bool IsHole => (Flags & FlagHole) != 0;
    public bool IsCompressed => (Flags & FlagCompressed) != 0;
    public bool IsPatched => (Flags & FlagPatched) != 0;
    /// <summary>Bytes that follow the header on the wire (besides a tag): the payload, or none for a hole.</summary>
    public int CarriedLength => IsHole ? 0 : PayloadLength;
    public int PayloadLength { get; }
    public ulong SessionTag { get; }
    public uint FileId { get; }
    public uint ShardIndex { get; }
    public long Offset { get; }
    public ulong PayloadDigest { get; }

    public void WriteTo(Span<byte> destination)
    {
        destination = destination[..Size];
        destination[0] = FrameType;
        destination[1] = Flags;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[2..], 0);
        BinaryPrimitives.WriteInt32LittleEndian(destination[4..], PayloadLength);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], SessionTag);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[16..], FileId);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[20..], ShardIndex);
        BinaryPrimitives.WriteInt64LittleEndian(destination[24..], Offset);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[32..], PayloadDigest);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[40..], WireFormat.HeaderCheck(destination[..40]));
    }

    /// <summary>Parses a header and checks what can be checked without session state: type, flags, check, sign of lengths.</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out ShardHeader header, out string? error)
    {
        header = default;
        if (source.Length < Size) { error = "truncated shard header"; return false; }
        if (source[0] != FrameType) { error = $"unknown frame type 0x{source[0]:x2} on a data lane"; return false; }
        if (WireFormat.ReadCheck(source[40..]) != WireFormat.HeaderCheck(source[..40])) { error = "shard header failed its check"; return false; }
        if ((source[1] & ~KnownFlags) != 0) { error = $"unknown shard flags 0x{source[1]:x2}"; return false; }
        if (BinaryPrimitives.ReadUInt16LittleEndian(source[2..]) != 0) { error = "reserved shard header field is not zero"; return false; }
        int length = BinaryPrimitives.ReadInt32LittleEndian(source[4..]);
        long offset = BinaryPrimitives.ReadInt64LittleEndian(source[24..]);
        if (length <= 0) { error = $"shard payload length {length} is not positive"; return false; }
        if (offset < 0) { error = $"shard offset {offset} is negative"; return false; }
        header = new ShardHeader(
            BinaryPrimitives.ReadUInt64LittleEndian(source[8..]),
            BinaryPrimitives.ReadUInt32LittleEndian(source[16..]),
            BinaryPrimitives.ReadUInt32LittleEndian(source[20..]),
            offset,
            length,
            BinaryPrimitives.ReadUInt64LittleEndian(source[32..]),
            source[1]);
        error = null;
        return true;
    }
}
