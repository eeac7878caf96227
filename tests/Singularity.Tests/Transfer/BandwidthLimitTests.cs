using Singularity.Engine;
using Singularity.Engine.Transfer;
using Singularity.Tests.Support;

namespace Singularity.Tests.Transfer;

/// <summary>The bandwidth limit lets a slice pass only once the bucket holds its bytes, and cuts only shards that would take a lane more than 2 s.</summary>
public sealed class BandwidthLimitTests
{
    [Fact]
    public async Task A_slice_waits_for_its_bytes_and_passes_once_the_bucket_holds_them()
    {
        // 1 KiB/s: slices of 16 KiB, a bucket of one slice; refilling it for a second slice takes 16 s.
        using (var slow = new BandwidthLimit(1024))
        {
            Assert.Equal((16 << 10, 16 << 10), (slow.Slice, slow.BucketSize));
            await slow.WaitAsync(slow.Slice, CancellationToken.None);
            using var cancel = new CancellationTokenSource();
            var second = slow.WaitAsync(slow.Slice, cancel.Token).AsTask();
            Assert.False(second.IsCompleted);
            await cancel.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => second);
        }
        // 100 MB/s: slices of 1 MB (10 ms), a bucket of a tenth of a second; of 30 slices, the last pass as refills bring their bytes.
        using var fast = new BandwidthLimit(100_000_000);
        Assert.Equal((1_000_000, 10_000_000), (fast.Slice, fast.BucketSize));
        for (int sent = 0; sent < 30; sent++) await fast.WaitAsync(fast.Slice, CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Theory]
    [InlineData(1_000_000, 4 << 20, 1_998_848)]
    [InlineData(4 << 20, 4 << 20, 4 << 20)]
    [InlineData(1024, 4 << 20, 4096)]
    public void Only_shards_that_would_take_more_than_2_s_are_cut(long rate, int shardSize, int expected) =>
        Assert.Equal(expected, BandwidthLimit.ShardSizeFor(rate, shardSize, 4096));

    /// <summary>The lanes share the rate: shards are cut only where one would take a lane more than 2 s at its share.</summary>
    [Theory]
    [InlineData(4, 256 << 10, 256 << 10)]
    [InlineData(8, 4 << 20, 1 << 20)]
    public async Task A_limited_send_arrives_whole_in_shards_a_lane_sends_within_2_s(int lanes, int shardSize, int expected)
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "f"), 2 << 20, seed: 8);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([source], receiver.Url, new TransferOptions { Lanes = lanes, ShardSize = shardSize, BandwidthLimit = 4 << 20 });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(expected, result.ShardSize);
        TestFiles.AssertSameBytes(source, Path.Combine(destination, "f"));
    }
}
