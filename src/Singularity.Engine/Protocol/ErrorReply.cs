using System.Buffers.Binary;

namespace Singularity.Engine.Protocol;

/// <summary>A <see cref="HelloReply"/> on the wire, followed when its status is not zero by a u16 length and a UTF-8 reason.</summary>
internal static class ErrorReply
{
    public static byte[] Build(ErrorCode status, SessionId session, string? reason)
    {
        byte[] text = reason is null || status == ErrorCode.None ? [] : ErrorMessage.Truncate(reason, HelloReply.MaxReasonBytes);
        int length = text.Length;
        byte[] bytes = new byte[HelloReply.Size + (status == ErrorCode.None ? 0 : 2 + length)];
        new HelloReply(status, session).WriteTo(bytes);
        if (status != ErrorCode.None)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(HelloReply.Size), (ushort)length);
            text.AsSpan(0, length).CopyTo(bytes.AsSpan(HelloReply.Size + 2));
        }
        return bytes;
    }
}
