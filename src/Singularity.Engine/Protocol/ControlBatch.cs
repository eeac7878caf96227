using System.Buffers.Binary;

namespace Singularity.Engine.Protocol;

/// <summary>Reads the body of a batch message: a u32 count, then that many items of one fixed size.</summary>
internal static class ControlBatch
{
    /// <summary>Checks the count against the body's length before any item is read.</summary>
    public static int Count(ReadOnlySpan<byte> body, int itemSize, ControlMessageType type)
    {
        if (body.Length < 4) throw new ProtocolViolationException($"truncated {type}");
        int count = BinaryPrimitives.ReadInt32LittleEndian(body);
        if (count <= 0 || body.Length != 4 + (long)count * itemSize) throw new ProtocolViolationException($"{type} has the wrong length");
        return count;
    }

    public static ReadOnlySpan<byte> Item(ReadOnlySpan<byte> body, int itemSize, int index) => body.Slice(4 + index * itemSize, itemSize);
}
