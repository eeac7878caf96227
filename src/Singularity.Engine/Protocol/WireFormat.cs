using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace Singularity.Engine.Protocol;

/// <summary>Constants shared by every frame of SGLTY v3; see docs/PROTOCOL.md.</summary>
internal static class WireFormat
{
    /// <summary>"SGLTY\r\n\x1a": readable, and the CR LF and ^Z catch channels that mangle text.</summary>
    public static ReadOnlySpan<byte> Magic => "SGLTY\r\n\u001a"u8;

    public const ushort Version = 3;

    /// <summary>A check over a header's first bytes: XXH3-64 with seed 0.</summary>
    public static ulong HeaderCheck(ReadOnlySpan<byte> covered) => XxHash3.HashToUInt64(covered);

    public static ulong ReadCheck(ReadOnlySpan<byte> source) => BinaryPrimitives.ReadUInt64LittleEndian(source);

    /// <summary>UTF-8 that refuses invalid bytes rather than replacing them: a name from a peer is taken as sent, or not at all.</summary>
    public static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Writes <paramref name="text"/> as a u16 length and its UTF-8 bytes; returns the bytes written.</summary>
    public static int WriteText(Span<byte> destination, string text)
    {
        int length = Encoding.UTF8.GetBytes(text, destination[2..]);
        BinaryPrimitives.WriteUInt16LittleEndian(destination, checked((ushort)length));
        return 2 + length;
    }
}
