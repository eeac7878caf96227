using System.Buffers.Binary;
using System.IO.Hashing;

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
}
