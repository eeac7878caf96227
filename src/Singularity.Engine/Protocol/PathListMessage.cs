using System.Buffers.Binary;
using System.Text;

namespace Singularity.Engine.Protocol;

/// <summary>
/// The body of a message that lists paths (WouldDelete, LeftOut, DeleteNamed): u32 count (at least 1), then per path a u16 length
/// and its UTF-8 bytes (PROTOCOL §3).
/// </summary>
internal static class PathListMessage
{
    /// <summary>Path bytes a message carries before the next one starts.</summary>
    private const int TargetBytes = 256 << 10;

    /// <summary>The bodies that carry <paramref name="paths"/>, in order.</summary>
    public static IEnumerable<byte[]> Encode(IReadOnlyList<string> paths)
    {
        int first = 0;
        while (first < paths.Count)
        {
            int count = 0, length = 4;
            while (first + count < paths.Count && (count == 0 || length < TargetBytes))
                length += 2 + Encoding.UTF8.GetByteCount(paths[first + count++]);
            byte[] body = new byte[length];
            BinaryPrimitives.WriteUInt32LittleEndian(body, (uint)count);
            int offset = 4;
            for (int i = first; i < first + count; i++) offset += WireFormat.WriteText(body.AsSpan(offset), paths[i]);
            first += count;
            yield return body;
        }
    }

    /// <summary>
    /// Adds the paths of a received <paramref name="type"/> body to <paramref name="paths"/>, and their bytes to
    /// <paramref name="bytes"/>; throws <see cref="ProtocolViolationException"/> for a malformed body, a path longer
    /// than <paramref name="maxLength"/> bytes, or one beyond <paramref name="mostNamed"/> paths (counting those
    /// <paramref name="paths"/> holds) or <paramref name="mostBytes"/> bytes in all.
    /// </summary>
    public static void Decode(ReadOnlySpan<byte> body, ControlMessageType type, int maxLength, int mostNamed, long mostBytes, List<string> paths, ref long bytes)
    {
        if (body.Length < 4) throw new ProtocolViolationException($"{type} is truncated");
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(body);
        if (count == 0 || count > mostNamed - paths.Count) throw new ProtocolViolationException($"{type} names more than {mostNamed} entries in all, or none");
        int offset = 4;
        for (uint i = 0; i < count; i++)
        {
            if (body.Length - offset < 2) throw new ProtocolViolationException($"{type} is truncated");
            int length = BinaryPrimitives.ReadUInt16LittleEndian(body[offset..]);
            offset += 2;
            if (length == 0 || length > maxLength || body.Length - offset < length) throw new ProtocolViolationException($"{type} holds a path of a wrong length");
            if ((bytes += length) > mostBytes) throw new ProtocolViolationException($"{type} names more than {mostBytes >> 20} MiB of paths in all");
            try { paths.Add(WireFormat.StrictUtf8.GetString(body.Slice(offset, length))); }
            catch (DecoderFallbackException) { throw new ProtocolViolationException($"{type} holds a path that is not UTF-8"); }
            offset += length;
        }
        if (offset != body.Length) throw new ProtocolViolationException($"{type} has bytes after its last path");
    }
}
