using CsCheck;
using Singularity.Engine.Compression;

namespace Singularity.Tests.Storage;

/// <summary>Packed shards unpack to themselves, and only to their own length; a shard that does not pack is left as it is.</summary>
public sealed class ShardCompressionTests
{
    /// <summary>Shards of repeated runs (which pack) and random bytes (which do not), of any length up to 64 KiB.</summary>
    private static readonly Gen<byte[]> Shards =
        Gen.Select(Gen.Byte.Array[1, 64], Gen.Int[1, 400]).Array[1, 8].Select(runs =>
            runs.SelectMany(run => Enumerable.Repeat(run.Item1, run.Item2).SelectMany(bytes => bytes)).Take(64 << 10).ToArray());

    [Fact]
    public async Task A_packed_shard_unpacks_to_itself_and_to_no_other_length()
    {
        await Shards.SampleAsync(async shard =>
        {
            using var packer = new ShardPacker(64 << 10);
            using var unpacker = new ShardUnpacker(64 << 10);
            byte[] packed = new byte[packer.Bound];
            int length = await packer.TryPackAsync(shard, packed);
            if (length == 0) return;
            Assert.True(length < shard.Length);
            byte[] back = new byte[shard.Length];
            Assert.True(unpacker.TryUnpack(packed.AsSpan(0, length), back));
            Assert.Equal(shard, back);
            Assert.False(unpacker.TryUnpack(packed.AsSpan(0, length), new byte[shard.Length - 1]));
            Assert.False(unpacker.TryUnpack(packed.AsSpan(0, length), new byte[shard.Length + 1]));
        });
    }

    /// <summary>Lanes share the contexts, no more than cores, however many pack at once; each shard still unpacks to itself.</summary>
    [Fact]
    public async Task Many_lanes_packing_at_once_share_the_contexts()
    {
        using var packer = new ShardPacker(64 << 10, level: 9);
        using var unpacker = new ShardUnpacker(64 << 10);
        byte[][] shards = [.. Enumerable.Range(0, 64).Select(i => System.Text.Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat($"line {i} of a log that packs well\n", 2500)))[..(60 << 10)])];

        var packed = await Task.WhenAll(shards.Select(shard => Task.Run(async () =>
        {
            byte[] into = new byte[packer.Bound];
            int length = await packer.TryPackAsync(shard, into);
            return into[..length];
        })));

        for (int i = 0; i < shards.Length; i++)
        {
            byte[] back = new byte[shards[i].Length];
            Assert.True(unpacker.TryUnpack(packed[i], back));
            Assert.Equal(shards[i], back);
        }
        Assert.InRange(packer.Contexts, 1, Environment.ProcessorCount);
    }

    [Fact]
    public async Task Random_bytes_are_not_packed_and_garbage_does_not_unpack()
    {
        byte[] random = new byte[64 << 10];
        new Random(3).NextBytes(random);
        using var packer = new ShardPacker(64 << 10);
        using var unpacker = new ShardUnpacker(64 << 10);
        Assert.Equal(0, await packer.TryPackAsync(random, new byte[packer.Bound]));
        Gen.Byte.Array[0, 300].Sample(garbage => Assert.False(unpacker.TryUnpack(garbage, new byte[1000])));
    }
}
