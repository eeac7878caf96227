using Singularity.Engine;
using Singularity.Engine.Transfer;
using Singularity.Tests.Support;

namespace Singularity.Tests.Transfer;

/// <summary>The bandwidth limit lets a frame pass only once the bucket holds its bytes, and cuts shards to a quarter second's worth.</summary>
public sealed class BandwidthLimitTests
{
    [Fact]
    public async Task A_frame_waits_for_its_bytes_and_passes_once_the_bucket_holds_them()
    {
        const int frame = 65_600;
        // 1 KiB/s: the bucket holds one frame, and refilling it for a second frame takes a minute.
        using (var slow = new BandwidthLimit(1024, frame))
        {
            Assert.Equal(frame, slow.BucketSize);
            await slow.WaitAsync(frame, CancellationToken.None);
            using var cancel = new CancellationTokenSource();
            var second = slow.WaitAsync(frame, cancel.Token).AsTask();
            Assert.False(second.IsCompleted);
            await cancel.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => second);
        }
        // 100 MB/s: a bucket of a tenth of a second (10 MB); of 200 frames (13 MB), the last pass as refills bring their bytes.
        using var fast = new BandwidthLimit(100_000_000, frame);
        Assert.Equal(10_000_000, fast.BucketSize);
        for (int sent = 0; sent < 200; sent++) await fast.WaitAsync(frame, CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Theory]
    [InlineData(1_000_000, 4 << 20, 249_856)]
    [InlineData(100_000_000, 4 << 20, 4 << 20)]
    [InlineData(1024, 4 << 20, 4096)]
    public void Shards_are_cut_to_a_quarter_second_of_the_limit(long rate, int shardSize, int expected) =>
        Assert.Equal(expected, BandwidthLimit.ShardSizeFor(rate, shardSize, 4096));

    [Fact]
    public async Task A_limited_send_arrives_whole_in_shards_of_a_quarter_second()
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "f"), 2 << 20, seed: 8);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([source], receiver.Url, new TransferOptions { BandwidthLimit = 4 << 20 });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(1 << 20, result.ShardSize);
        TestFiles.AssertSameBytes(source, Path.Combine(destination, "f"));
    }
}
