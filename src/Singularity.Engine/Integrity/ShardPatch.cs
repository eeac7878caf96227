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
    /// Checks a payload against the shard's <paramref name="shardLength"/> and the blocks of the basis the receiver's
    /// sums covered: pieces of at least a byte, copies of whole blocks within the covered bytes, literal bytes exactly
    /// those that follow the list, lengths adding up to the shard's. Returns the count of pieces, or an error. Whole
    /// blocks alone, as rsync's: a copy of part of a block would let a sender that guesses the shard's digest learn
    /// the basis's bytes one at a time, where the sums tell no more than whether it guessed a whole block right.
    /// </summary>
    public static bool TryCheck(ReadOnlySpan<byte> payload, int shardLength, int blockSize, long covered, out ulong digest, out int count, out string? error)
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
            else if (source % blockSize != 0 || length % blockSize != 0) { error = $"copies {length} bytes from offset {source}, not whole blocks of {blockSize}"; return false; }
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
/// The items of a file's BasisSums as they come, in one message or in pieces that each continue the last, until the
/// acceptance that covers the file builds them into a <see cref="BasisBlocks"/> table.
/// </summary>
internal sealed class BasisSumsPieces(int blockSize)
{
    private byte[] _items = [];

    public int BlockSize { get; } = blockSize;

    public int Count { get; private set; }

    /// <summary>Appends <paramref name="count"/> items; the caller checked that they fit within <see cref="BlockSums.MostBlocks"/>.</summary>
    public void Append(ReadOnlySpan<byte> items, int count)
    {
        int needed = (Count + count) * BlockSums.ItemSize;
        // Doubling, so that pieces cost no more than a copy each on average; never beyond the most a file may have.
        if (needed > _items.Length) Array.Resize(ref _items, Math.Min(Math.Max(needed, 2 * _items.Length), BlockSums.MostBlocks * BlockSums.ItemSize));
        items[..(count * BlockSums.ItemSize)].CopyTo(_items.AsSpan(Count * BlockSums.ItemSize));
        Count += count;
    }

    public BasisBlocks Build() => BasisBlocks.From(BlockSize, _items.AsSpan(0, Count * BlockSums.ItemSize), Count);
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
    // A bit for each of 8 × count slots, set where some block's weak sum falls: most windows of a shard that matches
    // nothing are passed over by this bit alone, which stays in a core's cache where the buckets would not.
    private readonly ulong[] _filter;
    private readonly int _filterShift;

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
        int slots = (int)Math.Max(64, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)weak.Length * 8));
        _filterShift = 32 - System.Numerics.BitOperations.Log2((uint)slots);
        _filter = new ulong[slots / 64];
        foreach (uint sum in weak)
        {
            uint slot = (sum * 0x85EBCA6Bu) >> _filterShift;
            _filter[slot >> 6] |= 1UL << (int)(slot & 63);
        }
        // Later blocks first in each bucket, so the earliest is found first; a block whose sums an earlier one has (the
        // same contents) is left out of its bucket, and found as the one after a match only.
        var seen = new HashSet<(uint, ulong)>();
        for (int block = 0; block < weak.Length; block++) _next[block] = seen.Add((weak[block], strong[block])) ? 0 : -2;
        for (int block = weak.Length - 1; block >= 0; block--)
        {
            if (_next[block] == -2)
            {
                _next[block] = -1;
                continue;
            }
            int bucket = Bucket(weak[block]);
            _next[block] = _heads[bucket];
            _heads[bucket] = block;
        }
    }

    public int BlockSize { get; }

    public int Count => _weak.Length;

    /// <summary>Bytes of the basis the sums cover, from its start.</summary>
    public long Covered => (long)_weak.Length * BlockSize;

    /// <summary>Bytes of memory the table of <paramref name="count"/> sums holds, counted against the sender's bound (none for none).</summary>
    public static long BytesFor(int count) => count == 0 ? 0 : (long)count * 16 + Math.Max(16, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)count * 2)) * 4L
        + Math.Max(64, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)count * 8)) / 8;

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
    /// <paramref name="pieces"/> is the caller's to reuse, so a shard allocates nothing.
    /// </summary>
    public int TryPatch(ReadOnlySpan<byte> shard, ulong digest, Span<byte> output, List<(long Source, int At, int Length)> pieces, out int literal)
    {
        literal = 0;
        int n = shard.Length, size = BlockSize;
        int limit = Math.Min(output.Length, n - n / 32);
        if (n < size) return 0;
        pieces.Clear();
        long literalBytes = 0;
        int start = 0, at = 0, expected = -1;
        uint a = 0, b = 0;
        BlockSums.Add(shard[..size], ref a, ref b);
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
                BlockSums.Add(shard.Slice(at, size), ref a, ref b);
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
    /// Blocks of a bucket looked at for one window, at most: honest sums share a weak sum rarely, and identical blocks
    /// once each (<see cref="BasisBlocks(int, uint[], ulong[])"/>); sums made to share one could otherwise make every
    /// byte of a shard walk all of them.
    /// </summary>
    private const int MostCandidates = 16;

    /// <summary>The block whose sums the window has, the one after the last match first; -1 if none.</summary>
    private int Find(uint a, uint b, ReadOnlySpan<byte> window, int expected)
    {
        uint weak = BlockSums.Compose(a, b);
        ulong? strong = null;
        if ((uint)expected < (uint)_weak.Length && _weak[expected] == weak && _strong[expected] == (strong ??= XxHash3.HashToUInt64(window)))
            return expected;
        uint slot = (weak * 0x85EBCA6Bu) >> _filterShift;
        if ((_filter[slot >> 6] & (1UL << (int)(slot & 63))) == 0) return -1;
        int looked = 0;
        for (int block = _heads[Bucket(weak)]; block >= 0 && looked++ < MostCandidates; block = _next[block])
        {
            if (_weak[block] != weak) continue;
            if (_strong[block] == (strong ??= XxHash3.HashToUInt64(window))) return block;
        }
        return -1;
    }
}
