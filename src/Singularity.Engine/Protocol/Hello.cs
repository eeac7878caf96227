using System.Buffers.Binary;

namespace Singularity.Engine.Protocol;

/// <summary>
/// The first 48 bytes a client sends on every connection.
/// <code>
///  0      8        10     11     12             16                32      34       36          40        48
///  +------+--------+------+------+--------------+-----------------+-------+--------+-----------+---------+
///  |magic |version |role  |auth  |capabilities  |session id (16)  |lane   |reserved|auth length|check    |
///  +------+--------+------+------+--------------+-----------------+-------+--------+-----------+---------+
/// </code>
/// </summary>
internal readonly struct Hello
{
    public const int Size = 48;

    public Hello(ConnectionRole role, SessionId session, ushort lane, uint capabilities = 0, byte authMethod = 0, uint authLength = 0, ushort version = WireFormat.Version)
    {
        Role = role;
        Session = session;
        Lane = lane;
        Capabilities = capabilities;
        AuthMethod = authMethod;
        AuthLength = authLength;
        Version = version;
    }

    public ushort Version { get; }
    public ConnectionRole Role { get; }
    public byte AuthMethod { get; }
    public uint Capabilities { get; }
    public SessionId Session { get; }
    public ushort Lane { get; }
    public uint AuthLength { get; }

    public void WriteTo(Span<byte> destination)
    {
        destination = destination[..Size];
        WireFormat.Magic.CopyTo(destination);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[8..], Version);
        destination[10] = (byte)Role;
        destination[11] = AuthMethod;
        BinaryPrimitives.WriteUInt32LittleEndian(destination[12..], Capabilities);
        Session.WriteTo(destination[16..]);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[32..], Lane);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[34..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[36..], AuthLength);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[40..], WireFormat.HeaderCheck(destination[..40]));
    }

    /// <summary>Parses a hello; a bad magic, check or field gives a reason instead.</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out Hello hello, out string? error)
    {
        hello = default;
        if (source.Length < Size) { error = "truncated hello"; return false; }
        if (!source[..8].SequenceEqual(WireFormat.Magic)) { error = "not a Singularity client (bad magic)"; return false; }
        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(source[8..]);
        if (version != WireFormat.Version)
        {
            // Another version may lay out the rest differently: report only the version so the receiver can answer it.
            hello = new Hello(default, default, 0, version: version);
            error = null;
            return true;
        }
        if (WireFormat.ReadCheck(source[40..]) != WireFormat.HeaderCheck(source[..40])) { error = "hello failed its check"; return false; }
        var role = (ConnectionRole)source[10];
        if (role is not (ConnectionRole.Control or ConnectionRole.Data)) { error = $"unknown connection role {source[10]}"; return false; }
        if (BinaryPrimitives.ReadUInt16LittleEndian(source[34..]) != 0) { error = "reserved hello field is not zero"; return false; }
        hello = new Hello(
            role,
            SessionId.Read(source[16..]),
            BinaryPrimitives.ReadUInt16LittleEndian(source[32..]),
            BinaryPrimitives.ReadUInt32LittleEndian(source[12..]),
            source[11],
            BinaryPrimitives.ReadUInt32LittleEndian(source[36..]),
            version);
        error = null;
        return true;
    }
}
