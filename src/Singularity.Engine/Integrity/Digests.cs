using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;

namespace Singularity.Engine.Integrity;

/// <summary>Shard and whole-file digests. A file's digest is XXH3-64 over its shard digests in index order, so both sides get it without a second pass over the data.</summary>
internal static class Digests
{
    public static ulong Shard(ReadOnlySpan<byte> payload) => XxHash3.HashToUInt64(payload);

    private static readonly byte[] ZeroBlock = new byte[64 << 10];

    /// <summary>The shard digest of <paramref name="length"/> zero bytes: what a hole's shard is worth (see <see cref="HoleDigests"/>).</summary>
    public static ulong Zeros(int length)
    {
        var hash = new XxHash3();
        for (int left = length; left > 0; left -= ZeroBlock.Length)
            hash.Append(ZeroBlock.AsSpan(0, Math.Min(left, ZeroBlock.Length)));
        return hash.GetCurrentHashAsUInt64();
    }

    /// <summary>XXH3-64 (seed 0) of the shard digests written as consecutive little-endian u64 values.</summary>
    public static ulong File(ReadOnlySpan<ulong> shardDigests)
    {
        if (BitConverter.IsLittleEndian)
            return XxHash3.HashToUInt64(MemoryMarshal.AsBytes(shardDigests));
        var hash = new XxHash3();
        Append(hash, shardDigests);
        return hash.GetCurrentHashAsUInt64();
    }

    /// <summary>Adds shard digests to a whole-file digest being built in pieces, in the same byte order as <see cref="File"/>.</summary>
    public static void Append(XxHash3 hash, ReadOnlySpan<ulong> shardDigests)
    {
        if (BitConverter.IsLittleEndian)
        {
            hash.Append(MemoryMarshal.AsBytes(shardDigests));
            return;
        }
        Span<byte> one = stackalloc byte[8];
        foreach (ulong digest in shardDigests)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(one, digest);
            hash.Append(one);
        }
    }

    /// <summary>
    /// XXH3-128 of a file's first <paramref name="length"/> bytes, read through <paramref name="handle"/>: what
    /// --checksum compares (PROTOCOL §4, entry flags bit 3); null if the file holds fewer bytes. <paramref name="alive"/>
    /// is called after each MiB read, so that reading a large file shows the session alive.
    /// </summary>
    public static UInt128? Content(Microsoft.Win32.SafeHandles.SafeFileHandle handle, long length, Action? alive = null)
    {
        var hash = new XxHash128();
        byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            for (long offset = 0; offset < length;)
            {
                int read = RandomAccess.Read(handle, buffer.AsSpan(0, (int)Math.Min(buffer.Length, length - offset)), offset);
                if (read == 0) return null;
                hash.Append(buffer.AsSpan(0, read));
                offset += read;
                alive?.Invoke();
            }
            return hash.GetCurrentHashAsUInt128();
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public static int ShardCount(long fileSize, int shardSize) => checked((int)ShardCount64(fileSize, shardSize));

    /// <summary>Shards of a file of any valid size, counted without overflow, for checking the count against a limit.</summary>
    public static long ShardCount64(long fileSize, int shardSize) => fileSize / shardSize + (fileSize % shardSize == 0 ? 0 : 1);

    /// <summary>64-bit words of a bitmap with one bit per shard; computed in 64 bits, so a count near int.MaxValue cannot wrap.</summary>
    public static int BitmapWords(int shardCount) => (int)(((long)shardCount + 63) / 64);

    public static int ShardLength(long fileSize, int shardSize, int index) => (int)Math.Min(shardSize, fileSize - (long)index * shardSize);
}
