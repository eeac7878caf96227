using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Singularity.Engine.Integrity;

/// <summary>
/// The sums of a basis's blocks (rsync's rolling checksum), by which a sender finds, anywhere in a changed shard, the
/// blocks the receiver's old version already holds, wherever they moved: bytes inserted early in a file shift every
/// later block, which then still matches. Each block of <see cref="BlockSizeFor"/> bytes has a weak sum that rolls a byte
/// at a time (<see cref="Weak"/>) and a strong one, XXH3-64 (seed 0), that confirms a match. The weak sum is rsync's
/// Adler-like pair, written here: it is what lets a window move by one byte at the cost of a few additions, which no
/// hash of System.IO.Hashing offers; the strong sum is the library's.
/// </summary>
internal static class BlockSums
{
    /// <summary>Bytes a sum takes on the wire: the weak u32, then the strong u64.</summary>
    public const int ItemSize = 12;

    /// <summary>Most blocks a file's sums hold: the message stays under 1 MiB, and a sender's table of them under 2 MiB.</summary>
    public const int MostBlocks = 65_536;

    /// <summary>
    /// Bytes of sums a sender that takes sums alone holds at once, counted as <see cref="BasisBlocks.BytesFor"/> counts
    /// the table of each file's: a receiver counts the sums it sends alike, and sends no more (PROTOCOL §3).
    /// </summary>
    public const long SenderHolds = 64L << 20;

    /// <summary>Smallest block: smaller would make a file's sums outgrow what they save.</summary>
    public const int SmallestBlock = 2 << 10;

    /// <summary>
    /// The block size for a basis of <paramref name="length"/> bytes: about its square root, as rsync chooses, as a
    /// power of two from <see cref="SmallestBlock"/> to 128 KiB and at most a 64th of a shard (where a file's bytes
    /// moved, each shard's ends cut through a block, which then travels), larger where that would take more than
    /// <see cref="MostBlocks"/> blocks, and never larger than a shard, within which every match lies.
    /// </summary>
    public static int BlockSizeFor(long length, int shardSize)
    {
        long size = SmallestBlock;
        while (size * size < length && size < (128 << 10) && size * 64 < shardSize) size <<= 1;
        while (length / size > MostBlocks) size <<= 1;
        return (int)Math.Min(size, shardSize);
    }

    /// <summary>The weak sum of a block: its byte sum and its sum of prefix sums, each kept to 16 bits.</summary>
    public static uint Weak(ReadOnlySpan<byte> block)
    {
        uint a = 0, b = 0;
        Add(block, ref a, ref b);
        return Compose(a, b);
    }

    /// <summary>Adds <paramref name="bytes"/> to the two halves of a weak sum, kept whole (the window rolls on them).</summary>
    public static void Add(ReadOnlySpan<byte> bytes, ref uint a, ref uint b)
    {
        // In locals, which stay in registers, rather than through the references at every byte.
        uint sum = a, sums = b;
        // Whole chunks of 32 or 16 bytes at once where the processor has the instructions: a block's sums are most of
        // what a receiver spends gathering them, and a byte at a time is one dependent addition after another.
        bytes = bytes[AddChunks(bytes, ChunkSize, ref sum, ref sums)..];
        foreach (byte x in bytes)
        {
            sum += x;
            sums += sum;
        }
        (a, b) = (sum, sums);
    }

    // Byte j of a chunk of K is counted K - j times in the sum of prefix sums; each earlier chunk's byte sum K times more
    // for every chunk after it (kept per lane in `before`, the sum of the lanes' byte sums before each chunk).
    // Everything is modulo 2^32, as the byte-at-a-time loop's additions are, so lanes may wrap.

    /// <summary>Chunk the processor sums at once: 32 bytes with AVX2, 16 with SSSE3, else none.</summary>
    internal static readonly int ChunkSize = Avx2.IsSupported ? 32 : Ssse3.IsSupported ? 16 : 0;

    /// <summary>Adds the whole chunks of <paramref name="chunk"/> bytes that start <paramref name="bytes"/>, and returns how many bytes they held.</summary>
    internal static int AddChunks(ReadOnlySpan<byte> bytes, int chunk, ref uint sum, ref uint sums)
    {
        int whole = chunk == 0 ? 0 : bytes.Length / chunk * chunk;
        if (whole == 0) return 0;
        if (chunk == 32) AddChunks32(bytes[..whole], ref sum, ref sums);
        else AddChunks16(bytes[..whole], ref sum, ref sums);
        return whole;
    }

    private static void AddChunks32(ReadOnlySpan<byte> bytes, ref uint sum, ref uint sums)
    {
        var weights = Vector256.Create(32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17,
            16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, (sbyte)1);
        var ones = Vector256.Create((short)1);
        Vector256<uint> bytesSum = default, before = default, weighted = default;
        ref byte start = ref MemoryMarshal.GetReference(bytes);
        for (int at = 0; at < bytes.Length; at += 32)
        {
            var chunk = Vector256.LoadUnsafe(ref start, (nuint)at);
            before += bytesSum;
            bytesSum += Avx2.SumAbsoluteDifferences(chunk, Vector256<byte>.Zero).AsUInt32();
            weighted += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(chunk, weights), ones).AsUInt32();
        }
        sums += (uint)bytes.Length * sum + 32 * Vector256.Sum(before) + Vector256.Sum(weighted);
        sum += Vector256.Sum(bytesSum);
    }

    private static void AddChunks16(ReadOnlySpan<byte> bytes, ref uint sum, ref uint sums)
    {
        var weights = Vector128.Create(16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, (sbyte)1);
        var ones = Vector128.Create((short)1);
        Vector128<uint> bytesSum = default, before = default, weighted = default;
        ref byte start = ref MemoryMarshal.GetReference(bytes);
        for (int at = 0; at < bytes.Length; at += 16)
        {
            var chunk = Vector128.LoadUnsafe(ref start, (nuint)at);
            before += bytesSum;
            bytesSum += Sse2.SumAbsoluteDifferences(chunk, Vector128<byte>.Zero).AsUInt32();
            weighted += Sse2.MultiplyAddAdjacent(Ssse3.MultiplyAddAdjacent(chunk, weights), ones).AsUInt32();
        }
        sums += (uint)bytes.Length * sum + 16 * Vector128.Sum(before) + Vector128.Sum(weighted);
        sum += Vector128.Sum(bytesSum);
    }

    /// <summary>The weak sum of its two halves, each kept to 16 bits.</summary>
    public static uint Compose(uint a, uint b) => (a & 0xffff) | (b << 16);

    /// <summary>
    /// Gathers the sums of a basis read in order, in slices of any length, and writes them as BasisSums items: the
    /// blocks wholly read, at most <see cref="MostBlocks"/>.
    /// </summary>
    public sealed class Builder(int blockSize)
    {
        // Made at the first block a slice ends within (a basis of whole slices of whole blocks needs none).
        private byte[]? _carry;
        private readonly List<(uint Weak, ulong Strong)> _sums = [];
        private int _carried;

        public int BlockSize { get; } = blockSize;

        public int Count => _sums.Count;

        /// <summary>Bytes of the basis the sums cover: every copy a patch makes lies within them.</summary>
        public long Covered => (long)_sums.Count * BlockSize;

        /// <summary>Adds the next bytes of the basis.</summary>
        public void Append(ReadOnlySpan<byte> slice)
        {
            while (slice.Length > 0 && _sums.Count < MostBlocks)
            {
                if (_carried == 0 && slice.Length >= BlockSize)
                {
                    Add(slice[..BlockSize]);
                    slice = slice[BlockSize..];
                    continue;
                }
                int take = Math.Min(BlockSize - _carried, slice.Length);
                _carry ??= new byte[BlockSize];
                slice[..take].CopyTo(_carry.AsSpan(_carried));
                _carried += take;
                slice = slice[take..];
                if (_carried < BlockSize) return;
                Add(_carry);
                _carried = 0;
            }
        }

        private void Add(ReadOnlySpan<byte> block) => _sums.Add((Weak(block), XxHash3.HashToUInt64(block)));

        /// <summary>Sums already taken as messages: the next message starts after them.</summary>
        public int Taken { get; private set; }

        /// <summary>
        /// The body of a BasisSums message for file <paramref name="fileId"/> (PROTOCOL §3) that holds the sums not taken
        /// yet, once there are at least <paramref name="atLeast"/> of them; else null. Taken in pieces as the basis is
        /// read, the sums travel meanwhile, each piece continuing the last.
        /// </summary>
        public byte[]? TakeMessage(uint fileId, int atLeast = 1)
        {
            int count = _sums.Count - Taken;
            if (count < Math.Max(1, atLeast)) return null;
            byte[] body = new byte[MessageHeader + count * ItemSize];
            BinaryPrimitives.WriteUInt32LittleEndian(body, fileId);
            BinaryPrimitives.WriteInt32LittleEndian(body.AsSpan(4), BlockSize);
            BinaryPrimitives.WriteInt32LittleEndian(body.AsSpan(8), count);
            for (int i = 0; i < count; i++)
            {
                var item = body.AsSpan(MessageHeader + i * ItemSize, ItemSize);
                BinaryPrimitives.WriteUInt32LittleEndian(item, _sums[Taken + i].Weak);
                BinaryPrimitives.WriteUInt64LittleEndian(item[4..], _sums[Taken + i].Strong);
            }
            Taken = _sums.Count;
            return body;
        }
    }

    /// <summary>BasisSums's fields before its items: file id, block size, count.</summary>
    public const int MessageHeader = 12;
}
