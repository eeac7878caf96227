using System.Buffers.Binary;
using System.Text;
using Singularity.Engine.Storage;

namespace Singularity.Engine.Protocol;

/// <summary>
/// Body of a LinkDest message (S→R, PROTOCOL §3): u8 count, then each directory as u16 length and its UTF-8 bytes,
/// relative to the session's destination (rsync --link-dest).
/// </summary>
internal static class LinkDestMessage
{
    public static byte[] Encode(IReadOnlyList<string> directories)
    {
        int length = 1 + directories.Sum(d => 2 + Encoding.UTF8.GetByteCount(d));
        byte[] body = new byte[length];
        body[0] = checked((byte)directories.Count);
        int offset = 1;
        foreach (string directory in directories)
        {
            int bytes = Encoding.UTF8.GetBytes(directory, body.AsSpan(offset + 2));
            BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(offset), checked((ushort)bytes));
            offset += 2 + bytes;
        }
        return body;
    }

    /// <summary>The directories of a received body; throws <see cref="ProtocolViolationException"/> for a malformed one, and <see cref="ErrorCode.BadPath"/> for a directory that may not be used.</summary>
    public static List<string> Decode(ReadOnlySpan<byte> body, ProtocolLimits limits)
    {
        if (body.Length < 1) throw new ProtocolViolationException("LinkDest is truncated");
        int count = body[0];
        if (count is < 1 or > LinkDestinations.Most) throw new ProtocolViolationException($"LinkDest names {count} directories, not 1 to {LinkDestinations.Most}");
        var directories = new List<string>(count);
        int offset = 1;
        for (int i = 0; i < count; i++)
        {
            if (body.Length < offset + 2) throw new ProtocolViolationException("LinkDest is truncated");
            int length = BinaryPrimitives.ReadUInt16LittleEndian(body[offset..]);
            if (body.Length < offset + 2 + length) throw new ProtocolViolationException("LinkDest is truncated");
            string directory;
            try
            {
                directory = WireFormat.StrictUtf8.GetString(body.Slice(offset + 2, length));
            }
            catch (DecoderFallbackException)
            {
                throw new ProtocolViolationException("LinkDest holds a directory that is not UTF-8");
            }
            if (LinkDestinations.Error(directory, limits) is { } error) throw new SingularityException(ErrorCode.BadPath, $"refused --link-dest: {error}");
            directories.Add(directory);
            offset += 2 + length;
        }
        if (offset != body.Length) throw new ProtocolViolationException("LinkDest has the wrong length");
        return directories;
    }
}
