using System.Buffers.Binary;
using System.Text;

namespace Singularity.Engine.Protocol;

/// <summary>Body of an Error message: u16 code, u16 reason length, UTF-8 reason (at most 1024 bytes).</summary>
internal static class ErrorMessage
{
    public const int MaxReasonBytes = 1024;

    public static byte[] Encode(ErrorCode code, string reason)
    {
        byte[] text = Truncate(Encoding.UTF8.GetByteCount(reason) > MaxReasonBytes ? ShortenQuoted(reason) : reason, MaxReasonBytes);
        int length = text.Length;
        byte[] body = new byte[4 + length];
        BinaryPrimitives.WriteUInt16LittleEndian(body, (ushort)code);
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(2), (ushort)length);
        text.AsSpan(0, length).CopyTo(body.AsSpan(4));
        return body;
    }

    /// <summary>
    /// A reason too long to travel whole is mostly long paths (a deep tree can name 4096 bytes twice): each quoted
    /// part over 160 characters keeps its first and last 70, so that the cause, which comes after them, survives the cut.
    /// </summary>
    internal static string ShortenQuoted(string reason) =>
        System.Text.RegularExpressions.Regex.Replace(reason, "'([^']{161,})'", match => $"'{match.Groups[1].Value[..70]}…{match.Groups[1].Value[^70..]}'");

    /// <summary>UTF-8 bytes of <paramref name="text"/>, cut to at most <paramref name="max"/> bytes without splitting a character.</summary>
    public static byte[] Truncate(string text, int max)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        if (bytes.Length <= max) return bytes;
        int length = max;
        while (length > 0 && (bytes[length] & 0xC0) == 0x80) length--;
        return bytes[..length];
    }

    public static (ErrorCode Code, string Reason) Decode(ReadOnlySpan<byte> body)
    {
        if (body.Length < 4) return (ErrorCode.ProtocolViolation, "malformed error message");
        var code = (ErrorCode)BinaryPrimitives.ReadUInt16LittleEndian(body);
        // An error must say which: None, or a code this side does not know, would be taken for another meaning.
        if (code == ErrorCode.None || !Enum.IsDefined(code)) code = ErrorCode.ProtocolViolation;
        int length = BinaryPrimitives.ReadUInt16LittleEndian(body[2..]);
        if (length > MaxReasonBytes || body.Length != 4 + length) return (code, "malformed error message");
        return (code, Encoding.UTF8.GetString(body.Slice(4, length)));
    }
}
