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

    /// <summary>
    /// Capability bit 0 of a Hello (a sender's control connection) and a HelloReply: the peer takes BasisSums and
    /// patched shards (PROTOCOL §2.1). A receiver sends BasisSums only to a sender that set it, and a peer from before
    /// it neither sets nor reads it.
    /// </summary>
    public const uint CapabilityPatches = 1;

    /// <summary>
    /// Capability bit 1 of a sender's Hello (with bit 0): it takes BasisSums for a file of which the receiver offered
    /// nothing (PROTOCOL §2.1), so a receiver may sum a changed file's old version without seeding its partial from it.
    /// </summary>
    public const uint CapabilitySumsAlone = 2;

    /// <summary>
    /// Capability bit 1 of a HelloReply: the receiver takes FilesVanished, files gone since the scan that do not stop its
    /// deletion (PROTOCOL §2.2), as rsync's vanished files do not. A sender sends one to no other receiver.
    /// </summary>
    public const uint CapabilityVanished = 2;

    /// <summary>
    /// Capability bit 2 of a HelloReply: the receiver takes FilesWithdrawn, files the sender found changed while it read
    /// them, which it gives up whatever of them arrived (PROTOCOL §2.2). A sender withdraws none from another receiver:
    /// such a change ends the session there.
    /// </summary>
    public const uint CapabilityWithdrawn = 4;

    /// <summary>
    /// Capability bit 3 of a HelloReply: with hard links kept, the receiver takes a further name of a linked file that
    /// vanished (FilesVanished) as a file in its place, whose size the manifest may add beyond the declared total
    /// (PROTOCOL §2.2, §4), as rsync sends the name left. A sender sends such a name as a file to no other receiver.
    /// </summary>
    public const uint CapabilityLinkedVanished = 8;

    /// <summary>
    /// Capability bit 4 of a HelloReply: the receiver takes OpenSession's more flags bit 13, a session of one file
    /// whose Destination names the file where no directory stands there (PROTOCOL §3), as rsync and scp name it.
    /// </summary>
    public const uint CapabilityNamesFile = 16;

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

    /// <summary>The bytes <see cref="WriteText"/> writes for <paramref name="text"/>.</summary>
    public static int TextSize(string text) => 2 + Encoding.UTF8.GetByteCount(text);

    /// <summary>
    /// Reads a u16 length and that many bytes of strict UTF-8 at <paramref name="offset"/>, and moves it past them;
    /// throws <see cref="ProtocolViolationException"/> naming <paramref name="message"/> when the body ends first, or
    /// holds a <paramref name="noun"/> that is not UTF-8.
    /// </summary>
    public static string ReadText(ReadOnlySpan<byte> body, ref int offset, string message, string noun)
    {
        if (body.Length - offset < 2) throw new ProtocolViolationException($"{message} is truncated");
        int length = BinaryPrimitives.ReadUInt16LittleEndian(body[offset..]);
        if (body.Length - offset - 2 < length) throw new ProtocolViolationException($"{message} is truncated");
        try
        {
            string text = StrictUtf8.GetString(body.Slice(offset + 2, length));
            offset += 2 + length;
            return text;
        }
        catch (DecoderFallbackException)
        {
            throw new ProtocolViolationException($"{message} holds a {noun} that is not UTF-8");
        }
    }
}
