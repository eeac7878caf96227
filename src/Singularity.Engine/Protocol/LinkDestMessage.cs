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
        byte[] body = new byte[1 + directories.Sum(WireFormat.TextSize)];
        body[0] = checked((byte)directories.Count);
        int offset = 1;
        foreach (string directory in directories) offset += WireFormat.WriteText(body.AsSpan(offset), directory);
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
            string directory = WireFormat.ReadText(body, ref offset, "LinkDest", "directory");
            if (LinkDestinations.Error(directory, limits) is { } error) throw new SingularityException(ErrorCode.BadPath, $"refused --link-dest: {error}");
            directories.Add(directory);
        }
        if (offset != body.Length) throw new ProtocolViolationException("LinkDest has the wrong length");
        return directories;
    }
}
