using CsCheck;
using Singularity.Engine.Integrity;
using Singularity.Engine.Storage;

namespace Singularity.Tests.Storage;

public sealed class ShardTableTests
{
    [Fact]
    public void The_file_digest_is_the_digest_of_the_shard_digests_in_order_whatever_order_they_arrived_in()
    {
        var counts = Gen.OneOf(Gen.Int[1, 3], Gen.Int[ShardTable.PageShards - 2, ShardTable.PageShards + 2], Gen.Int[1, 5 * ShardTable.PageShards]);
        Gen.Select(counts, Gen.Int).Sample(t =>
        {
            var (count, seed) = t;
            var random = new Random(seed);
            ulong[] digests = new ulong[count];
            random.NextBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(digests.AsSpan()));
            int[] order = [.. Enumerable.Range(0, count)];
            random.Shuffle(order);
            var table = new ShardTable(count);
            foreach (int index in order)
            {
                Assert.True(table.TryClaim(index));
                table.Set(index, digests[index]);
            }
            Assert.Equal(Digests.File(digests), table.FileDigest());
            Assert.Equal(digests, table.All().Select(e => e.Value));
            Assert.Equal(Enumerable.Range(0, count), table.All().Select(e => e.Key));
        }, iter: 200);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(ShardTable.PageShards)]
    [InlineData(ShardTable.PageShards + 1)]
    [InlineData(1 << 28)]
    public void A_shard_is_claimed_once_and_an_index_beyond_the_file_is_refused(int count)
    {
        var table = new ShardTable(count);
        foreach (int index in new[] { 0, count / 2, count - 1 }.Distinct())
        {
            Assert.True(table.TryClaim(index));
            Assert.False(table.TryClaim(index));
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => table.TryClaim(count));
        Assert.Throws<ArgumentOutOfRangeException>(() => table.TryClaim(-1));
    }

    /// <summary>A sender that declares 1 TiB of 4 KiB shards and sends three of them costs three pages, not 2 GiB of digests.</summary>
    [Fact]
    public void Memory_follows_the_shards_that_arrived_not_the_declared_count()
    {
        var table = new ShardTable(1 << 28);
        Assert.Equal(0, table.PageCount);
        table.TryClaim(0);
        table.TryClaim(1);
        table.TryClaim((1 << 28) - 1);
        table.TryClaim(1 << 27);
        Assert.Equal(3, table.PageCount);
        Assert.Throws<InvalidOperationException>(() => table.FileDigest());
    }
}
