using System.Buffers.Binary;
using System.IO.Hashing;

namespace Singularity.Engine.Protocol;

/// <summary>
/// The 16-byte header before every control message body.
/// <code>
///  0             4      5      6          8                        16
///  +-------------+------+------+----------+------------------------+
///  |body length  |type  |flags |reserved  |XXH3-64(body, seed=0..7)|
///  +-------------+------+------+----------+------------------------+
/// </code>
/// The check hashes the body with the first eight header bytes as seed, so it covers length, type and body in one pass.
/// </summary>
internal static class ControlHeader
{
    public const int Size = 16;

    public static void Write(Span<byte> destination, ControlMessageType type, int bodyLength)
    {
        BinaryPrimitives.WriteInt32LittleEndian(destination, bodyLength);
        destination[4] = (byte)type;
        destination[5] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[6..], 0);
    }

    /// <summary>Fills the check field once the body is final.</summary>
    public static void Seal(Span<byte> message)
    {
        int bodyLength = BinaryPrimitives.ReadInt32LittleEndian(message);
        BinaryPrimitives.WriteUInt64LittleEndian(message[8..], Check(message[..8], message.Slice(Size, bodyLength)));
    }

    public static ulong Check(ReadOnlySpan<byte> firstEight, ReadOnlySpan<byte> body) =>
        XxHash3.HashToUInt64(body, BinaryPrimitives.ReadInt64LittleEndian(firstEight));

    /// <summary>Validates a header before its body is read: the declared length is checked against the limit first.</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, int maxBodyLength, out ControlMessageType type, out int bodyLength, out string? error)
    {
        type = default;
        bodyLength = BinaryPrimitives.ReadInt32LittleEndian(source);
        if (bodyLength < 0 || bodyLength > maxBodyLength) { error = $"control message of {bodyLength} bytes exceeds the limit of {maxBodyLength}"; return false; }
        type = (ControlMessageType)source[4];
        if (type is < ControlMessageType.OpenSession or > ControlMessageType.FilesWithdrawn) { error = $"unknown control message type {source[4]}"; return false; }
        if (source[5] != 0 || BinaryPrimitives.ReadUInt16LittleEndian(source[6..]) != 0) { error = "reserved control header field is not zero"; return false; }
        error = null;
        return true;
    }
}
