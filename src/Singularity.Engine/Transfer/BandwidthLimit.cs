using System.Threading.RateLimiting;

namespace Singularity.Engine.Transfer;

/// <summary>
/// Holds a sender's lanes together to <see cref="TransferOptions.BandwidthLimit"/> bytes a second, counting every
/// byte of every frame (headers, payloads and tags), as rsync --bwlimit and scp -l do. A token bucket refilled every
/// 10 ms, which holds one frame, or a tenth of a second's worth if more: a lane waits for the bytes of its next frame
/// before sending it, so sends keep pace with the limit and bursts stay short.
/// </summary>
internal sealed class BandwidthLimit : IDisposable
{
    private static readonly TimeSpan Period = TimeSpan.FromMilliseconds(10);

    /// <summary>A shard takes at most this long at the limit: the lanes then send, and are acknowledged, several times a second, well within the stall and idle timeouts.</summary>
    private static readonly TimeSpan LongestShard = TimeSpan.FromMilliseconds(250);

    private readonly TokenBucketRateLimiter _bucket;

    public BandwidthLimit(long bytesPerSecond, int largestFrame)
    {
        int perPeriod = (int)Math.Clamp(bytesPerSecond / (long)(TimeSpan.FromSeconds(1) / Period), 1, int.MaxValue / 2);
        BucketSize = (int)Math.Clamp(Math.Max(largestFrame, bytesPerSecond / 10), 1, int.MaxValue / 2);
        _bucket = new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = BucketSize,
            TokensPerPeriod = perPeriod,
            ReplenishmentPeriod = Period,
            AutoReplenishment = true,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
            QueueLimit = int.MaxValue,
        });
    }

    /// <summary>The most bytes that pass at once, after a pause.</summary>
    public int BucketSize { get; }

    /// <summary>The shard size to send with at <paramref name="bytesPerSecond"/>: <paramref name="shardSize"/>, or a quarter second's worth if less (whole 4 KiB blocks, at least <paramref name="smallest"/>).</summary>
    public static int ShardSizeFor(long bytesPerSecond, int shardSize, int smallest)
    {
        long quarter = (long)(bytesPerSecond * LongestShard.TotalSeconds) / 4096 * 4096;
        return (int)Math.Clamp(quarter, smallest, shardSize);
    }

    /// <summary>Waits until <paramref name="bytes"/> (at most one frame) may be sent.</summary>
    public async ValueTask WaitAsync(int bytes, CancellationToken cancellationToken)
    {
        using var lease = await _bucket.AcquireAsync(bytes, cancellationToken).ConfigureAwait(false);
        // The queue is unbounded and a frame fits the bucket, so a lease is refused only when the limiter is disposed.
        if (!lease.IsAcquired) throw new OperationCanceledException("the bandwidth limit was released");
    }

    public void Dispose() => _bucket.Dispose();
}
