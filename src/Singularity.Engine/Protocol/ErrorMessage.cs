using System.Buffers.Binary;
using System.Text;

namespace Singularity.Engine.Protocol;

/// <summary>Body of an Error message: u16 code, u16 reason length, UTF-8 reason (at most 1024 bytes).</summary>
internal static class ErrorMessage
{
    public const int MaxReasonBytes = 1024;

    public static byte[] Encode(ErrorCode code, string reason)
    {
        byte[] text = Encoding.UTF8.GetBytes(reason);
        int length = Math.Min(text.Length, MaxReasonBytes);
        byte[] body = new byte[4 + length];
        BinaryPrimitives.WriteUInt16LittleEndian(body, (ushort)code);
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(2), (ushort)length);
        text.AsSpan(0, length).CopyTo(body.AsSpan(4));
        return body;
    }

    public static (ErrorCode Code, string Reason) Decode(ReadOnlySpan<byte> body)
    {
        if (body.Length < 4) return (ErrorCode.ProtocolViolation, "malformed error message");
        var code = (ErrorCode)BinaryPrimitives.ReadUInt16LittleEndian(body);
        int length = BinaryPrimitives.ReadUInt16LittleEndian(body[2..]);
        if (length > MaxReasonBytes || body.Length != 4 + length) return (code, "malformed error message");
        return (code, Encoding.UTF8.GetString(body.Slice(4, length)));
    }
}
