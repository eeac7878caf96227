using System.Buffers.Binary;
using CsCheck;
using Singularity.Engine.Integrity;

namespace Singularity.Tests.Integrity;

/// <summary>
/// A changed shard is made from the basis's blocks wherever they moved and the bytes around them, and the patch that
/// says so makes exactly the shard again; a patch that could make anything else, or read outside the sums, is refused.
/// </summary>
public sealed class BlockSumsTests
{
    private const int Shard = 16 << 10;

    [Fact]
    public void Every_patch_makes_its_shard_from_the_basis_whatever_the_edits()
    {
        var edit = Gen.Select(Gen.Int[0, 3], Gen.Int[0, 1 << 16], Gen.Int[1, 5000], Gen.Byte);
        Gen.Select(Gen.Byte.Array[0, 96 << 10], edit.Array[0, 6], Gen.Int[1, 70_000]).Sample((basis, edits, slice) =>
        {
            byte[] changed = Apply(basis, edits);
            var sums = Sums(basis, BlockSums.BlockSizeFor(basis.Length, Shard), slice);
            var table = Table(sums);
            var pieces = new List<(long, int, int)>();
            byte[] output = new byte[Shard];
            for (int at = 0; at < changed.Length; at += Shard)
            {
                var shard = changed.AsSpan(at, Math.Min(Shard, changed.Length - at));
                ulong digest = Digests.Shard(shard);
                int length = table.TryPatch(shard, digest, output, pieces, out int literal);
                if (length == 0) continue;
                Assert.InRange(length, 1, shard.Length - shard.Length / 32);
                Assert.True(ShardPatch.TryCheck(output.AsSpan(0, length), shard.Length, sums.BlockSize, sums.Covered, out ulong carried, out int count, out string? error), error);
                Assert.Equal(digest, carried);
                Assert.Equal(length, ShardPatch.LiteralsAt(count) + literal);
                Assert.Equal(shard.ToArray(), Make(output.AsSpan(0, length), count, basis));
            }
        }, iter: 300);
    }

    /// <summary>The weak sum taken 32 or 16 bytes at once is the byte-at-a-time sum, whatever it starts from and however long.</summary>
    [Theory]
    [InlineData(32)]
    [InlineData(16)]
    public void The_weak_sum_in_chunks_is_the_sum_a_byte_at_a_time(int chunk)
    {
        if (chunk == 32 ? !System.Runtime.Intrinsics.X86.Avx2.IsSupported : !System.Runtime.Intrinsics.X86.Ssse3.IsSupported) return;
        var bytes = Gen.OneOf(Gen.Byte.Array[0, 5000], Gen.Const((byte)255).Array[0, 70_000]);
        Gen.Select(bytes, Gen.UInt, Gen.UInt).Sample((data, a, b) =>
        {
            uint sum = a, sums = b;
            int taken = BlockSums.AddChunks(data, chunk, ref sum, ref sums);
            Assert.Equal(data.Length / chunk * chunk, taken);
            uint expectedSum = a, expectedSums = b;
            foreach (byte x in data.AsSpan(0, taken))
            {
                expectedSum += x;
                expectedSums += expectedSum;
            }
            Assert.Equal((expectedSum, expectedSums), (sum, sums));
        }, iter: 500);
    }

    [Fact]
    public void Bytes_inserted_early_leave_the_blocks_after_them_to_be_copied()
    {
        byte[] basis = new byte[256 << 10];
        new Random(5).NextBytes(basis);
        byte[] changed = [.. basis[..1000], .. new byte[777], .. basis[1000..]];
        int block = BlockSums.BlockSizeFor(basis.Length, Shard);
        var table = Table(Sums(basis, block, basis.Length));
        byte[] made = [];
        byte[] output = new byte[Shard];
        long literal = 0;
        for (int at = 0; at < changed.Length; at += Shard)
        {
            var shard = changed.AsSpan(at, Math.Min(Shard, changed.Length - at));
            var pieces = new List<(long, int, int)>();
            int length = table.TryPatch(shard, Digests.Shard(shard), output, pieces, out int carried);
            literal += length == 0 ? shard.Length : carried;
            made = [.. made, .. length > 0 ? Make(output.AsSpan(0, length), pieces.Count, basis) : shard.ToArray()];
        }
        // What was inserted, the block it fell in, and what of a block each shard's end cut off: the blocks lie within
        // shards. Without the sums, all 262,921 bytes would travel.
        int shards = (changed.Length + Shard - 1) / Shard;
        Assert.InRange(literal, 777, 777 + (shards + 1L) * block);
        Assert.Equal(changed, made);
    }

    /// <summary>Blocks of the same contents (a run of zeros) are kept once in the sender's lookup, and still copied one after another.</summary>
    [Fact]
    public void Blocks_of_the_same_contents_are_copied_in_a_run()
    {
        byte[] basis = new byte[64 << 10], shard = new byte[Shard];
        shard[0] = 7;
        var table = Table(Sums(basis, 2048, basis.Length));
        var pieces = new List<(long, int, int)>();
        byte[] output = new byte[Shard];

        int length = table.TryPatch(shard, Digests.Shard(shard), output, pieces, out int literal);

        Assert.True(ShardPatch.TryCheck(output.AsSpan(0, length), Shard, 2048, basis.Length, out _, out int count, out string? error), error);
        Assert.Equal(shard, Make(output.AsSpan(0, length), count, basis));
        // The changed byte, one copy of seven blocks, the same block copied seven times over, and what of an eighth the
        // shard's end cuts.
        Assert.Equal((1 + 2047, 3), (literal, count));
        Assert.Equal((0L, 1, 7 * 2048), pieces[1]);
    }

    [Fact]
    public void A_shard_that_shares_nothing_with_the_basis_goes_whole()
    {
        byte[] basis = new byte[64 << 10], shard = new byte[Shard];
        new Random(1).NextBytes(basis);
        new Random(2).NextBytes(shard);
        var table = Table(Sums(basis, 4096, basis.Length));
        Assert.Equal(0, table.TryPatch(shard, Digests.Shard(shard), new byte[Shard], [], out _));
    }

    [Fact]
    public void Sums_are_the_same_however_the_basis_is_read()
    {
        byte[] basis = new byte[50_000];
        new Random(3).NextBytes(basis);
        byte[] whole = Sums(basis, 2048, basis.Length).TakeMessage(7)!;
        foreach (int slice in new[] { 1, 777, 2048, 4096, 49_999 })
            Assert.Equal(whole, Sums(basis, 2048, slice).TakeMessage(7)!);
        // The blocks read whole: the tail of 848 bytes has no sum.
        Assert.Equal(BlockSums.MessageHeader + 24 * BlockSums.ItemSize, whole.Length);
    }

    /// <summary>Sums taken in pieces as they are gathered, and put together again by the sender, are those taken at once.</summary>
    [Fact]
    public void Sums_taken_in_pieces_make_the_table_of_those_taken_at_once()
    {
        byte[] basis = new byte[300_000];
        new Random(4).NextBytes(basis);
        byte[] whole = Sums(basis, 2048, basis.Length).TakeMessage(3)!;
        var gathering = new BlockSums.Builder(2048);
        var pieces = new List<byte[]>();
        for (int at = 0; at < basis.Length; at += 10_000)
        {
            gathering.Append(basis.AsSpan(at, Math.Min(10_000, basis.Length - at)));
            if (gathering.TakeMessage(3, 40) is { } piece) pieces.Add(piece);
        }
        pieces.Add(gathering.TakeMessage(3)!);
        Assert.Null(gathering.TakeMessage(3));
        Assert.True(pieces.Count > 2);
        var received = new BasisSumsPieces(2048);
        foreach (byte[] piece in pieces)
        {
            Assert.Equal((3u, 2048), (BinaryPrimitives.ReadUInt32LittleEndian(piece), BinaryPrimitives.ReadInt32LittleEndian(piece.AsSpan(4))));
            received.Append(piece.AsSpan(BlockSums.MessageHeader), BinaryPrimitives.ReadInt32LittleEndian(piece.AsSpan(8)));
        }
        Assert.Equal(whole[BlockSums.MessageHeader..], pieces.SelectMany(piece => piece[BlockSums.MessageHeader..]).ToArray());
        Assert.Equal(146, received.Count);
        // The table made of the pieces finds the basis's blocks as one made of the whole.
        byte[] shard = basis[4096..(4096 + Shard)];
        var table = received.Build();
        byte[] output = new byte[Shard];
        int length = table.TryPatch(shard, Digests.Shard(shard), output, [], out int literal);
        Assert.Equal((24, 0), (length, literal));
    }

    [Theory]
    [InlineData(1L << 20, 16 << 20, 2048)]
    [InlineData(1L << 30, 4 << 20, 32 << 10)]
    [InlineData(1L << 30, 1 << 20, 16 << 10)]
    [InlineData(100L << 30, 4 << 20, 2 << 20)]
    [InlineData(1L << 40, 4 << 20, 4 << 20)]
    [InlineData(1L << 30, 4096, 4096)]
    public void A_block_is_about_the_square_root_of_the_basis_within_bounds(long length, int shard, int block) =>
        Assert.Equal(block, BlockSums.BlockSizeFor(length, shard));

    /// <summary>Patches a receiver must refuse before it reads anything of its basis, copies of parts of blocks among them.</summary>
    [Theory]
    [InlineData("short")]
    [InlineData("no pieces")]
    [InlineData("too many pieces")]
    [InlineData("empty piece")]
    [InlineData("copy beyond the sums")]
    [InlineData("negative source")]
    [InlineData("a copy not at a block's start")]
    [InlineData("a copy of part of a block")]
    [InlineData("too few bytes")]
    [InlineData("too many bytes")]
    [InlineData("literal overrun")]
    [InlineData("bytes beyond the pieces")]
    public void A_malformed_patch_is_refused(string fault)
    {
        const int shard = 4096, block = 1024;
        const long covered = 8192;
        byte[] payload = fault switch
        {
            "short" => new byte[20],
            "no pieces" => Patch([]),
            "too many pieces" => WithCount(Patch([(-1, 10)], 10), 1000),
            "empty piece" => Patch([(0, 0), (0, shard)]),
            "copy beyond the sums" => Patch([(covered - block, 2 * block), (0, shard - 2 * block)]),
            "negative source" => Patch([(-2, shard)]),
            "a copy not at a block's start" => Patch([(100, block), (-1, shard - block)], literals: shard - block),
            "a copy of part of a block" => Patch([(0, 1), (-1, shard - 1)], literals: shard - 1),
            "too few bytes" => Patch([(0, shard - block)]),
            "too many bytes" => Patch([(0, shard), (0, block)]),
            "literal overrun" => Patch([(-1, block), (0, shard - block)], literals: 500),
            "bytes beyond the pieces" => Patch([(-1, block), (0, shard - block)], literals: block + 1),
            _ => throw new ArgumentException(fault),
        };
        Assert.False(ShardPatch.TryCheck(payload, shard, block, covered, out _, out _, out string? error));
        Assert.NotNull(error);
        // And the same without the fault is taken.
        Assert.True(ShardPatch.TryCheck(Patch([(-1, block), (0, shard - block)], literals: block), shard, block, covered, out _, out _, out _));
    }

    private static byte[] Patch((long Source, int Length)[] pieces, int literals = 0)
    {
        byte[] payload = new byte[ShardPatch.LiteralsAt(pieces.Length) + literals];
        BinaryPrimitives.WriteInt32LittleEndian(payload.AsSpan(8), pieces.Length);
        for (int i = 0; i < pieces.Length; i++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(payload.AsSpan(ShardPatch.HeaderSize + i * ShardPatch.PieceSize), pieces[i].Source);
            BinaryPrimitives.WriteInt32LittleEndian(payload.AsSpan(ShardPatch.HeaderSize + i * ShardPatch.PieceSize + 8), pieces[i].Length);
        }
        return payload;
    }

    private static byte[] WithCount(byte[] payload, int count)
    {
        BinaryPrimitives.WriteInt32LittleEndian(payload.AsSpan(8), count);
        return payload;
    }

    /// <summary>The edits as (kind: 0 insert, 1 delete, 2 overwrite, 3 none; where; how many; the byte).</summary>
    private static byte[] Apply(byte[] basis, (int Kind, int At, int Count, byte Value)[] edits)
    {
        var bytes = new List<byte>(basis);
        foreach (var (kind, where, count, value) in edits)
        {
            int at = bytes.Count == 0 ? 0 : where % (bytes.Count + 1);
            switch (kind)
            {
                case 0: bytes.InsertRange(at, Enumerable.Repeat(value, count)); break;
                case 1: bytes.RemoveRange(at, Math.Min(count, bytes.Count - at)); break;
                case 2: for (int i = at; i < Math.Min(bytes.Count, at + count); i++) bytes[i] = (byte)(value ^ i); break;
            }
        }
        return [.. bytes];
    }

    private static BlockSums.Builder Sums(byte[] basis, int blockSize, int slice)
    {
        var sums = new BlockSums.Builder(blockSize);
        for (int at = 0; at < basis.Length; at += slice) sums.Append(basis.AsSpan(at, Math.Min(slice, basis.Length - at)));
        return sums;
    }

    private static BasisBlocks Table(BlockSums.Builder sums)
    {
        // A basis shorter than a block has no sums, and no message.
        byte[]? message = sums.TakeMessage(0);
        return BasisBlocks.From(sums.BlockSize, message is null ? [] : message.AsSpan(BlockSums.MessageHeader), sums.Count);
    }

    /// <summary>What a receiver makes of a checked patch: its copies read from the basis, its literal bytes in order.</summary>
    private static byte[] Make(ReadOnlySpan<byte> patch, int count, byte[] basis)
    {
        var made = new List<byte>();
        int literal = ShardPatch.LiteralsAt(count);
        for (int i = 0; i < count; i++)
        {
            var (source, length) = ShardPatch.Piece(patch, i);
            if (source == ShardPatch.Literal)
            {
                made.AddRange(patch.Slice(literal, length).ToArray());
                literal += length;
            }
            else made.AddRange(basis.AsSpan((int)source, length).ToArray());
        }
        return [.. made];
    }
}
