using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Singularity.Engine.Protocol;

/// <summary>A random 128-bit session identifier; unguessable, so only the sender that opened a session can join lanes to it.</summary>
internal readonly record struct SessionId(ulong High, ulong Low)
{
    public const int Size = 16;

    public static SessionId Empty => default;

    public bool IsEmpty => High == 0 && Low == 0;

    /// <summary>The first eight bytes, repeated in every shard header so a frame cannot be read into the wrong session.</summary>
    public ulong Tag => High;

    public static SessionId NewRandom()
    {
        Span<byte> bytes = stackalloc byte[Size];
        RandomNumberGenerator.Fill(bytes);
        return Read(bytes);
    }

    public static SessionId Read(ReadOnlySpan<byte> source) =>
        new(BinaryPrimitives.ReadUInt64LittleEndian(source), BinaryPrimitives.ReadUInt64LittleEndian(source[8..]));

    public void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(destination, High);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], Low);
    }

    public override string ToString() => $"{High:x16}{Low:x16}";
}
