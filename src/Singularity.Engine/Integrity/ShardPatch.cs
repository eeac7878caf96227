using System.Buffers.Binary;
using System.IO.Hashing;

namespace Singularity.Engine.Integrity;

/// <summary>
/// A patched shard's payload (PROTOCOL §5): the shard's digest, then a list of pieces, each copied from the basis (the
/// receiver's old version of the file) or carried literally, then the literal bytes in order. The pieces are all listed
/// before any literal byte, so the receiver checks the whole list before it reads anything of the basis.
/// <code>
///  0        8        12                                   12 + 12 × count
///  +--------+--------+-----------------------------------+----------------
///  |digest  |count   |count × (i64 source, u32 length)   | literal bytes
///  +--------+--------+-----------------------------------+----------------
/// </code>
/// A source of -1 is a literal piece; any other is the basis offset the piece is copied from.
/// </summary>
internal static class ShardPatch
{
    public const int HeaderSize = 12;
    public const int PieceSize = 12;
    public const long Literal = -1;

    /// <summary>
    /// Checks a payload against the shard's <paramref name="shardLength"/> and the bytes of the basis the receiver's
    /// sums covered: pieces of at least a byte, copies within the covered bytes, literal bytes exactly those that
    /// follow the list, lengths adding up to the shard's. Returns the count of pieces, or an error.
    /// </summary>
    public static bool TryCheck(ReadOnlySpan<byte> payload, int shardLength, long covered, out ulong digest, out int count, out string? error)
    {
        digest = 0;
        count = 0;
        error = null;
        if (payload.Length < HeaderSize + PieceSize) { error = "is shorter than a patch"; return false; }
        digest = BinaryPrimitives.ReadUInt64LittleEndian(payload);
        uint declared = BinaryPrimitives.ReadUInt32LittleEndian(payload[8..]);
        if (declared == 0 || declared > (uint)((payload.Length - HeaderSize) / PieceSize)) { error = $"declares {declared} pieces, which its {payload.Length} bytes cannot hold"; return false; }
        count = (int)declared;
        long literal = HeaderSize + (long)count * PieceSize, total = 0;
        for (int i = 0; i < count; i++)
        {
            var (source, length) = Piece(payload, i);
            if (length <= 0) { error = $"has a piece of {length} bytes"; return false; }
            if (source == Literal) literal += length;
            else if (source < 0 || source > covered - length) { error = $"copies {length} bytes from offset {source} of a basis whose sums cover {covered}"; return false; }
            total += length;
            if (total > shardLength || literal > payload.Length) { error = "holds more bytes than the shard"; return false; }
        }
        if (total != shardLength) { error = $"makes {total} bytes, not the shard's {shardLength}"; return false; }
        if (literal != payload.Length) { error = $"carries {payload.Length - literal} bytes beyond its pieces"; return false; }
        return true;
    }

    /// <summary>Piece <paramref name="index"/> of a checked payload: its source (<see cref="Literal"/>, or a basis offset) and length.</summary>
    public static (long Source, int Length) Piece(ReadOnlySpan<byte> payload, int index)
    {
        var piece = payload.Slice(HeaderSize + index * PieceSize, PieceSize);
        return (BinaryPrimitives.ReadInt64LittleEndian(piece), BinaryPrimitives.ReadInt32LittleEndian(piece[8..]));
    }

    /// <summary>Where a checked payload's literal bytes start.</summary>
    public static int LiteralsAt(int count) => HeaderSize + count * PieceSize;
}

/// <summary>
/// A sender's table of the receiver's basis sums for one file (BasisSums), and the matching of a changed shard against
/// it: the shard is scanned a byte at a time with the rolling weak sum, a hit confirmed by the strong sum, and what
/// matches becomes a copy from the basis; the rest travels literally.
/// </summary>
internal sealed class BasisBlocks
{
    private readonly uint[] _weak;
    private readonly ulong[] _strong;
    // Open hashing of the weak sums: the head block of each bucket, and each block's next in its bucket; -1 ends.
    private readonly int[] _heads;
    private readonly int[] _next;
    private readonly int _shift;

    private BasisBlocks(int blockSize, uint[] weak, ulong[] strong)
    {
        BlockSize = blockSize;
        _weak = weak;
        _strong = strong;
        int buckets = (int)Math.Max(16, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)weak.Length * 2));
        _shift = 32 - System.Numerics.BitOperations.Log2((uint)buckets);
        _heads = new int[buckets];
        Array.Fill(_heads, -1);
        _next = new int[weak.Length];
        // Later blocks first in each bucket, so the earliest is found first.
        for (int block = weak.Length - 1; block >= 0; block--)
        {
            int bucket = Bucket(weak[block]);
            _next[block] = _heads[bucket];
            _heads[bucket] = block;
        }
    }

    public int BlockSize { get; }

    public int Count => _weak.Length;

    /// <summary>Bytes of memory the table of <paramref name="count"/> sums holds, counted against the sender's bound.</summary>
    public static long BytesFor(int count) => (long)count * 16 + Math.Max(16, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)count * 2)) * 4L;

    /// <summary>Reads BasisSums's items (already checked for length) into a table.</summary>
    public static BasisBlocks From(int blockSize, ReadOnlySpan<byte> items, int count)
    {
        var weak = new uint[count];
        var strong = new ulong[count];
        for (int i = 0; i < count; i++)
        {
            var item = items.Slice(i * BlockSums.ItemSize, BlockSums.ItemSize);
            weak[i] = BinaryPrimitives.ReadUInt32LittleEndian(item);
            strong[i] = BinaryPrimitives.ReadUInt64LittleEndian(item[4..]);
        }
        return new BasisBlocks(blockSize, weak, strong);
    }

    private int Bucket(uint weak) => (int)((weak * 0x9E3779B1u) >> _shift);

    /// <summary>
    /// Writes into <paramref name="output"/> the patch that makes <paramref name="shard"/> (whose digest is
    /// <paramref name="digest"/>) from the basis, and returns its length; 0 where it would not save at least a 32nd of
    /// the shard, or would not fit. <paramref name="literal"/> is how many of the shard's bytes it carries.
    /// <paramref name="pieces"/> is the caller's to reuse, so a shard allocates nothing. With <paramref name="guess"/>,
    /// fewer bytes than a block after the last copy, or before the first, are taken to continue that copy in the basis
    /// (see <see cref="GuessEdges"/>).
    /// </summary>
    public int TryPatch(ReadOnlySpan<byte> shard, ulong digest, Span<byte> output, List<(long Source, int At, int Length)> pieces, out int literal, bool guess = true)
    {
        literal = 0;
        int n = shard.Length, size = BlockSize;
        int limit = Math.Min(output.Length, n - n / 32);
        if (n < size) return 0;
        pieces.Clear();
        long literalBytes = 0;
        int start = 0, at = 0, expected = -1;
        uint a = 0, b = 0;
        Sum(shard[..size], ref a, ref b);
        while (true)
        {
            int block = Find(a, b, shard.Slice(at, size), expected);
            if (block >= 0)
            {
                if (at > start) AddLiteral(start, at - start);
                AddCopy((long)block * size, at, size);
                at += size;
                start = at;
                expected = block + 1;
                if (at + size > n) break;
                a = b = 0;
                Sum(shard.Slice(at, size), ref a, ref b);
                continue;
            }
            if (at + size >= n) break;
            // The window moves a byte: one leaves, one comes in.
            uint leaving = shard[at], coming = shard[at + size];
            a += coming - leaving;
            b += a - (uint)size * leaving;
            at++;
            // Already as long as the shard would be: no patch can save enough.
            if (HeaderBytes() + literalBytes + (at - start) > limit) return 0;
        }
        if (start < n) AddLiteral(start, n - start);
        if (guess) literalBytes -= GuessEdges(pieces, (long)Count * size);
        long length = HeaderBytes() - ShardPatch.PieceSize + literalBytes;
        if (length > limit) return 0;
        literal = (int)literalBytes;
        BinaryPrimitives.WriteUInt64LittleEndian(output, digest);
        BinaryPrimitives.WriteInt32LittleEndian(output[8..], pieces.Count);
        int literalAt = ShardPatch.LiteralsAt(pieces.Count);
        for (int i = 0; i < pieces.Count; i++)
        {
            var (source, from, count) = pieces[i];
            var piece = output.Slice(ShardPatch.HeaderSize + i * ShardPatch.PieceSize, ShardPatch.PieceSize);
            BinaryPrimitives.WriteInt64LittleEndian(piece, source);
            BinaryPrimitives.WriteInt32LittleEndian(piece[8..], count);
            if (source != ShardPatch.Literal) continue;
            shard.Slice(from, count).CopyTo(output[literalAt..]);
            literalAt += count;
        }
        return (int)length;

        long HeaderBytes() => ShardPatch.HeaderSize + (long)(pieces.Count + 1) * ShardPatch.PieceSize;

        void AddLiteral(int from, int count)
        {
            pieces.Add((ShardPatch.Literal, from, count));
            literalBytes += count;
        }

        void AddCopy(long source, int from, int count)
        {
            // Contiguous in the basis as in the shard: one piece.
            if (pieces.Count > 0 && pieces[^1] is { Source: >= 0 } last && last.Source + last.Length == source && last.At + last.Length == from)
                pieces[^1] = (last.Source, last.At, last.Length + count);
            else pieces.Add((source, from, count));
        }
    }

    /// <summary>
    /// A shard's end cuts through a block of the basis where the file's bytes moved, so its last bytes, fewer than a
    /// block, match no sum, and neither do its first: where they follow the last copy (or precede the first), they are
    /// taken to continue it in the basis, within what the sums cover, as they do wherever bytes were only inserted or
    /// removed elsewhere. The receiver checks every shard it makes against the shard's digest, and asks again for one
    /// whose guess was wrong (an edit within those bytes), which then travels whole. Returns the literal bytes saved.
    /// </summary>
    private int GuessEdges(List<(long Source, int At, int Length)> pieces, long covered)
    {
        int saved = 0;
        if (pieces.Count >= 2 && pieces[^1] is { Source: ShardPatch.Literal } tail && tail.Length < BlockSize
            && pieces[^2] is { Source: >= 0 } last && last.Source + last.Length + tail.Length <= covered)
        {
            pieces.RemoveAt(pieces.Count - 1);
            pieces[^1] = (last.Source, last.At, last.Length + tail.Length);
            saved += tail.Length;
        }
        if (pieces.Count >= 2 && pieces[0] is { Source: ShardPatch.Literal } head && head.Length < BlockSize
            && pieces[1] is { Source: >= 0 } first && first.Source >= head.Length)
        {
            pieces.RemoveAt(0);
            pieces[0] = (first.Source - head.Length, 0, first.Length + head.Length);
            saved += head.Length;
        }
        return saved;
    }

    private static void Sum(ReadOnlySpan<byte> window, ref uint a, ref uint b)
    {
        foreach (byte x in window)
        {
            a += x;
            b += a;
        }
    }

    /// <summary>The block whose sums the window has, the one after the last match first; -1 if none.</summary>
    private int Find(uint a, uint b, ReadOnlySpan<byte> window, int expected)
    {
        uint weak = (a & 0xffff) | (b << 16);
        ulong? strong = null;
        if ((uint)expected < (uint)_weak.Length && _weak[expected] == weak && _strong[expected] == (strong ??= XxHash3.HashToUInt64(window)))
            return expected;
        for (int block = _heads[Bucket(weak)]; block >= 0; block = _next[block])
        {
            if (_weak[block] != weak) continue;
            if (_strong[block] == (strong ??= XxHash3.HashToUInt64(window))) return block;
        }
        return -1;
    }
}
