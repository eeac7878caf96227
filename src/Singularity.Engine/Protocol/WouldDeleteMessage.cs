using System.Buffers.Binary;
using System.Text;

namespace Singularity.Engine.Protocol;

/// <summary>
/// Body of a WouldDelete message (a dry run's deletion, R→S): u32 count (at least 1), then per entry a u16 length and
/// its path's UTF-8 bytes, relative to the destination, a directory's ending in '/' (PROTOCOL §3).
/// </summary>
internal static class WouldDeleteMessage
{
    /// <summary>Paths a dry run names, at most; more are only counted (SessionDone), so neither side holds a huge list.</summary>
    public const int MostNamed = 100_000;

    /// <summary>UTF-8 bytes of all the paths a dry run names, at most.</summary>
    public const int MostBytes = 16 << 20;

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
    /// Adds the paths of a received body to <paramref name="paths"/>, and their bytes to <paramref name="bytes"/>;
    /// throws <see cref="ProtocolViolationException"/> for a malformed body, or one beyond <see cref="MostNamed"/> paths
    /// or <see cref="MostBytes"/> bytes in all.
    /// </summary>
    public static void Decode(ReadOnlySpan<byte> body, int maxPathBytes, List<string> paths, ref long bytes)
    {
        if (body.Length < 4) throw new ProtocolViolationException("WouldDelete is truncated");
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(body);
        if (count == 0 || count > MostNamed - paths.Count) throw new ProtocolViolationException($"WouldDelete names more than {MostNamed} entries in all, or none");
        int offset = 4;
        for (uint i = 0; i < count; i++)
        {
            if (body.Length - offset < 2) throw new ProtocolViolationException("WouldDelete is truncated");
            int length = BinaryPrimitives.ReadUInt16LittleEndian(body[offset..]);
            offset += 2;
            // A directory's path carries one more byte, its '/'.
            if (length == 0 || length > maxPathBytes + 1 || body.Length - offset < length) throw new ProtocolViolationException("WouldDelete holds a path of a wrong length");
            if ((bytes += length) > MostBytes) throw new ProtocolViolationException($"WouldDelete names more than {MostBytes >> 20} MiB of paths in all");
            try { paths.Add(WireFormat.StrictUtf8.GetString(body.Slice(offset, length))); }
            catch (DecoderFallbackException) { throw new ProtocolViolationException("WouldDelete holds a path that is not UTF-8"); }
            offset += length;
        }
        if (offset != body.Length) throw new ProtocolViolationException("WouldDelete has bytes after its last path");
    }
}
