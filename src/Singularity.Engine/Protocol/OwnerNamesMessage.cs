using System.Buffers.Binary;
using System.Text;

namespace Singularity.Engine.Protocol;

/// <summary>One name of an owner the sender's entries carry: a user's (or a group's) id at the sender, and its name there.</summary>
internal readonly record struct OwnerName(bool IsGroup, uint Id, string Name);

/// <summary>
/// Body of an OwnerNames message (S→R, PROTOCOL §3): u16 count (1..<see cref="MostNames"/>), then per name a u8 kind
/// (0 user, 1 group), the u32 id at the sender, a u8 length (1..255) and the name's UTF-8 bytes.
/// </summary>
internal static class OwnerNamesMessage
{
    /// <summary>Names a session may carry (users and groups together); owners beyond them travel by number only.</summary>
    public const int MostNames = 2048;

    public static byte[] Encode(IReadOnlyList<OwnerName> names)
    {
        byte[] body = new byte[2 + names.Sum(name => 6 + Encoding.UTF8.GetByteCount(name.Name))];
        BinaryPrimitives.WriteUInt16LittleEndian(body, checked((ushort)names.Count));
        int offset = 2;
        foreach (var name in names)
        {
            body[offset] = name.IsGroup ? (byte)1 : (byte)0;
            BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(offset + 1), name.Id);
            int length = Encoding.UTF8.GetBytes(name.Name, body.AsSpan(offset + 6));
            body[offset + 5] = checked((byte)length);
            offset += 6 + length;
        }
        return body;
    }

    /// <summary>Whether a name can travel: 1 to 255 bytes of UTF-8, without NUL.</summary>
    public static bool Fits(string name) => name.Length > 0 && !name.Contains('\0') && Encoding.UTF8.GetByteCount(name) <= 255;

    /// <summary>The names of a received body; throws <see cref="ProtocolViolationException"/> for a malformed one, or one naming an id twice.</summary>
    public static List<OwnerName> Decode(ReadOnlySpan<byte> body)
    {
        if (body.Length < 2) throw new ProtocolViolationException("OwnerNames is truncated");
        int count = BinaryPrimitives.ReadUInt16LittleEndian(body);
        if (count == 0 || count > MostNames) throw new ProtocolViolationException($"OwnerNames holds {count} names, outside 1..{MostNames}", ErrorCode.LimitExceeded);
        var names = new List<OwnerName>(count);
        var seen = new HashSet<(bool, uint)>();
        int offset = 2;
        for (int i = 0; i < count; i++)
        {
            if (body.Length - offset < 6) throw new ProtocolViolationException("OwnerNames is truncated");
            byte kind = body[offset];
            if (kind > 1) throw new ProtocolViolationException($"OwnerNames holds a name of unknown kind {kind}");
            uint id = BinaryPrimitives.ReadUInt32LittleEndian(body[(offset + 1)..]);
            int length = body[offset + 5];
            offset += 6;
            if (length == 0 || body.Length - offset < length) throw new ProtocolViolationException("OwnerNames holds a name of a wrong length");
            string name;
            try { name = WireFormat.StrictUtf8.GetString(body.Slice(offset, length)); }
            catch (DecoderFallbackException) { throw new ProtocolViolationException("OwnerNames holds a name that is not UTF-8"); }
            if (name.Contains('\0')) throw new ProtocolViolationException("OwnerNames holds a name with NUL");
            if (!seen.Add((kind == 1, id))) throw new ProtocolViolationException($"OwnerNames names {(kind == 1 ? "group" : "user")} {id} twice");
            names.Add(new OwnerName(kind == 1, id, name));
            offset += length;
        }
        if (offset != body.Length) throw new ProtocolViolationException("OwnerNames has bytes after its last name");
        return names;
    }
}
