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
    public static void Append(NonCryptographicHashAlgorithm hash, ReadOnlySpan<ulong> shardDigests)
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

    /// <summary>The blocks --checksum hashes a file in: each on its own, so a large file is read on every core at once.</summary>
    public const int ContentBlock = 1 << 20;

    // Blocks read at once, on every core, before their digests join the file's: 256 MiB, whatever the file's size.
    private const int ContentWindow = 256;

    /// <summary>
    /// What --checksum compares (PROTOCOL §4, entry flags bit 3): XXH3-128 of the XXH3-64 digests of a file's
    /// <see cref="ContentBlock"/> blocks (the last one shorter), as little-endian u64 values in order, over its first
    /// <paramref name="length"/> bytes, read through <paramref name="handle"/> at their offsets; null if the file holds
    /// fewer bytes. The blocks of a large file are read on every core at once. <paramref name="alive"/> is called after
    /// each block (from any of them), so that reading a large file shows the session alive; what it throws ends the
    /// read.
    /// </summary>
    public static UInt128? Content(Microsoft.Win32.SafeHandles.SafeFileHandle handle, long length, Action? alive = null)
    {
        var hash = new XxHash128();
        long blocks = (length + ContentBlock - 1) / ContentBlock;
        var digests = new ulong[(int)Math.Min(blocks, ContentWindow)];
        for (long first = 0; first < blocks; first += ContentWindow)
        {
            int count = (int)Math.Min(ContentWindow, blocks - first);
            bool whole = true;
            if (count == 1)
            {
                whole = ContentBlockDigest(handle, first, length, alive, out digests[0]);
            }
            else
            {
                try
                {
                    Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
                    {
                        if (!ContentBlockDigest(handle, first + i, length, alive, out digests[i])) whole = false;
                    });
                }
                catch (AggregateException ex)
                {
                    System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(ex.InnerExceptions[0]);
                }
            }
            if (!whole) return null;
            Append(hash, digests.AsSpan(0, count));
        }
        return hash.GetCurrentHashAsUInt128();
    }

    /// <summary>The XXH3-64 digest of block <paramref name="index"/> of a file of <paramref name="length"/> bytes; false if the file ends before it does.</summary>
    private static bool ContentBlockDigest(Microsoft.Win32.SafeHandles.SafeFileHandle handle, long index, long length, Action? alive, out ulong digest)
    {
        digest = 0;
        long offset = index * ContentBlock;
        int size = (int)Math.Min(ContentBlock, length - offset);
        byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(size);
        try
        {
            for (int filled = 0; filled < size;)
            {
                int read = RandomAccess.Read(handle, buffer.AsSpan(filled, size - filled), offset + filled);
                if (read == 0) return false;
                filled += read;
            }
            digest = XxHash3.HashToUInt64(buffer.AsSpan(0, size));
            alive?.Invoke();
            return true;
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
