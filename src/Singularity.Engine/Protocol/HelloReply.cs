using System.Buffers.Binary;

namespace Singularity.Engine.Protocol;

/// <summary>
/// The receiver's 48-byte answer to a <see cref="Hello"/>; a non-zero status is followed by a u16 length and a UTF-8 reason.
/// <code>
///  0      8        10      12             16                32             36       40        48
///  +------+--------+-------+--------------+-----------------+--------------+---------+
///  |magic |version |status |capabilities  |session id (16)  |auth length   |reserved|check    |
///  +------+--------+-------+--------------+-----------------+--------------+---------+
/// </code>
/// </summary>
internal readonly struct HelloReply
{
    public const int Size = 48;
    public const int MaxReasonBytes = 1024;

    public HelloReply(ErrorCode status, SessionId session, uint capabilities = 0, ushort version = WireFormat.Version, uint authLength = 0)
    {
        AuthLength = authLength;
        Status = status;
        Session = session;
        Capabilities = capabilities;
        Version = version;
    }

    public ushort Version { get; }
    public ErrorCode Status { get; }
    public uint Capabilities { get; }
    public SessionId Session { get; }

    /// <summary>Bytes of the server's handshake data that follow a successful reply.</summary>
    public uint AuthLength { get; }

    public void WriteTo(Span<byte> destination)
    {
        destination = destination[..Size];
        WireFormat.Magic.CopyTo(destination);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[8..], Version);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[10..], (ushort)Status);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[12..], Capabilities);
        Session.WriteTo(destination[16..]);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[32..], AuthLength);
        destination[36..40].Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(destination[40..], WireFormat.HeaderCheck(destination[..40]));
    }

    public static bool TryRead(ReadOnlySpan<byte> source, out HelloReply reply, out string? error)
    {
        reply = default;
        if (source.Length < Size) { error = "truncated reply"; return false; }
        if (!source[..8].SequenceEqual(WireFormat.Magic)) { error = "another program answered there, not a sglty receiver (its reply does not start as SGLTY's); check the receiver's address and port"; return false; }
        if (WireFormat.ReadCheck(source[40..]) != WireFormat.HeaderCheck(source[..40])) { error = "reply failed its check"; return false; }
        if (source[36..40].ContainsAnyExcept((byte)0)) { error = "reply sets reserved bytes"; return false; }
        reply = new HelloReply(
            (ErrorCode)BinaryPrimitives.ReadUInt16LittleEndian(source[10..]),
            SessionId.Read(source[16..]),
            BinaryPrimitives.ReadUInt32LittleEndian(source[12..]),
            BinaryPrimitives.ReadUInt16LittleEndian(source[8..]),
            BinaryPrimitives.ReadUInt32LittleEndian(source[32..]));
        error = null;
        return true;
    }
}
