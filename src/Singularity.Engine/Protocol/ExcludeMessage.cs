using System.Buffers.Binary;
using System.Text;
using Singularity.Engine.Storage;

namespace Singularity.Engine.Protocol;

/// <summary>Body of an Exclude message: u16 count, then per pattern a u16 length and its UTF-8 bytes (PROTOCOL §3).</summary>
internal static class ExcludeMessage
{

    public static byte[] Encode(ExcludePatterns patterns)
    {
        byte[] body = new byte[2 + patterns.Patterns.Sum(p => 2 + Encoding.UTF8.GetByteCount(p))];
        BinaryPrimitives.WriteUInt16LittleEndian(body, (ushort)patterns.Patterns.Count);
        int offset = 2;
        foreach (string pattern in patterns.Patterns) offset += WireFormat.WriteText(body.AsSpan(offset), pattern);
        return body;
    }

    /// <summary>
    /// The patterns of a received body, each that starts with ':' a dir-merge rule where <paramref name="dirMerge"/>
    /// (OpenSession more flags bit 16), else a pattern; throws <see cref="ProtocolViolationException"/> for a malformed
    /// or unacceptable one.
    /// </summary>
    public static ExcludePatterns Decode(ReadOnlySpan<byte> body, bool dirMerge = false)
    {
        if (body.Length < 2) throw new ProtocolViolationException("Exclude is truncated");
        int count = BinaryPrimitives.ReadUInt16LittleEndian(body);
        if (count == 0 || count > ExcludePatterns.MostPatterns)
            throw new ProtocolViolationException($"Exclude names {count} patterns, outside 1..{ExcludePatterns.MostPatterns}", ErrorCode.LimitExceeded);
        var patterns = new List<string>(count);
        int offset = 2;
        for (int i = 0; i < count; i++)
        {
            if (body.Length - offset < 2) throw new ProtocolViolationException("Exclude is truncated");
            int length = BinaryPrimitives.ReadUInt16LittleEndian(body[offset..]);
            offset += 2;
            if (length > ExcludePatterns.LongestPatternBytes)
                throw new ProtocolViolationException($"an exclude pattern of {length} bytes is longer than {ExcludePatterns.LongestPatternBytes}", ErrorCode.LimitExceeded);
            if (body.Length - offset < length) throw new ProtocolViolationException("Exclude is truncated");
            try { patterns.Add(WireFormat.StrictUtf8.GetString(body.Slice(offset, length))); }
            catch (DecoderFallbackException) { throw new ProtocolViolationException("an exclude pattern is not valid UTF-8"); }
            offset += length;
        }
        if (offset != body.Length) throw new ProtocolViolationException("Exclude has bytes after its last pattern");
        if (offset - 2 - 2 * count > ExcludePatterns.MostPatternBytes)
            throw new ProtocolViolationException($"the exclude patterns hold more than {ExcludePatterns.MostPatternBytes} bytes together", ErrorCode.LimitExceeded);
        try
        {
            return ExcludePatterns.Parse(patterns, receiving: true, dirMerge)!;
        }
        catch (ArgumentException ex)
        {
            throw new ProtocolViolationException(ex.Message.Split(" (Parameter")[0]);
        }
    }
}
