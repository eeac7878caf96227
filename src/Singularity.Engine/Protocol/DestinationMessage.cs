using System.Buffers.Binary;
using System.Text;
using Singularity.Engine.Storage;

namespace Singularity.Engine.Protocol;

/// <summary>
/// Body of a Destination message (S→R, PROTOCOL §3): u16 length and the UTF-8 bytes of a relative path below the
/// receiver's directory, which the session then writes into as its own root (the path of the sender's URL).
/// </summary>
internal static class DestinationMessage
{
    public static byte[] Encode(string directory)
    {
        byte[] body = new byte[WireFormat.TextSize(directory)];
        WireFormat.WriteText(body, directory);
        return body;
    }

    /// <summary>What a sender or a receiver finds wrong with a destination directory, or null when it may be used.</summary>
    public static string? Error(string directory, ProtocolLimits limits)
    {
        if (PathGuard.SyntaxError(directory, limits) is { } error) return $"the destination must be a relative path inside the receiver's directory: {error}";
        return Encoding.UTF8.GetByteCount(directory) > limits.MaxPathBytes ? $"the destination is longer than {limits.MaxPathBytes} bytes" : null;
    }

    /// <summary>The directory of a received body; throws <see cref="ProtocolViolationException"/> for a malformed one, and <see cref="ErrorCode.BadPath"/> for a path that may not be used.</summary>
    public static string Decode(ReadOnlySpan<byte> body, ProtocolLimits limits)
    {
        if (body.Length < 2) throw new ProtocolViolationException("Destination is truncated");
        int length = BinaryPrimitives.ReadUInt16LittleEndian(body);
        if (body.Length != 2 + length) throw new ProtocolViolationException("Destination has the wrong length");
        int offset = 0;
        string directory = WireFormat.ReadText(body, ref offset, "Destination", "path");
        if (Error(directory, limits) is { } error) throw new SingularityException(ErrorCode.BadPath, $"refused destination: {error}");
        return directory;
    }
}
