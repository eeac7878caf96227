using System.Threading.RateLimiting;
using Singularity.Engine.Transport;

namespace Singularity.Engine.Transfer;

/// <summary>
/// Holds a sender's lanes together to <see cref="TransferOptions.BandwidthLimit"/> bytes a second, counting every
/// byte of every frame (headers, payloads and tags), as rsync --bwlimit and scp -l do. A token bucket refilled every
/// 10 ms: each lane writes its frames in slices of about 10 ms of the rate (16 KiB to 1 MiB), each once the bucket
/// holds its bytes, so the lanes keep pace with the limit and never burst more than a tenth of a second's worth.
/// Shards keep their size (a resumed send finds its journals), unless one would take a lane, at its share of the
/// rate, more than <see cref="LongestShard"/>.
/// </summary>
internal sealed class BandwidthLimit : IDisposable
{
    private static readonly TimeSpan Period = TimeSpan.FromMilliseconds(10);

    /// <summary>
    /// The longest a shard may take a lane at its share of the limit: acknowledgements, and shard headers at the
    /// receiver, then come at least this often, well within the stall and idle timeouts.
    /// </summary>
    private static readonly TimeSpan LongestShard = TimeSpan.FromSeconds(2);

    private const int SmallestSlice = 16 << 10;
    private const int LargestSlice = 1 << 20;

    private readonly TokenBucketRateLimiter _bucket;

    public BandwidthLimit(long bytesPerSecond)
    {
        long perPeriod = Math.Max(1, bytesPerSecond / (long)(TimeSpan.FromSeconds(1) / Period));
        Slice = (int)Math.Clamp(perPeriod, SmallestSlice, LargestSlice);
        BucketSize = (int)Math.Clamp(bytesPerSecond / 10, Slice, int.MaxValue / 2);
        _bucket = new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = BucketSize,
            TokensPerPeriod = (int)Math.Min(perPeriod, int.MaxValue / 2),
            ReplenishmentPeriod = Period,
            AutoReplenishment = true,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
            QueueLimit = int.MaxValue,
        });
    }

    /// <summary>The most bytes that pass at once, after a pause.</summary>
    public int BucketSize { get; }

    /// <summary>The bytes written at a time: about one refill's worth.</summary>
    public int Slice { get; }

    /// <summary>The shard size for a lane that moves <paramref name="bytesPerSecond"/>: <paramref name="shardSize"/>, or <see cref="LongestShard"/>'s worth if less (whole 4 KiB blocks, at least <paramref name="smallest"/>).</summary>
    public static int ShardSizeFor(long bytesPerSecond, int shardSize, int smallest)
    {
        long longest = (long)(bytesPerSecond * LongestShard.TotalSeconds) / 4096 * 4096;
        return (int)Math.Clamp(longest, smallest, shardSize);
    }

    /// <summary>Writes <paramref name="frame"/> on <paramref name="connection"/> slice by slice, each once the bucket holds its bytes.</summary>
    public async ValueTask WriteAsync(ILaneConnection connection, ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        while (!frame.IsEmpty)
        {
            int slice = Math.Min(Slice, frame.Length);
            await WaitAsync(slice, cancellationToken).ConfigureAwait(false);
            await connection.WriteAsync(frame[..slice], cancellationToken).ConfigureAwait(false);
            frame = frame[slice..];
        }
    }

    /// <summary>Waits until <paramref name="bytes"/> (at most <see cref="BucketSize"/>) may be sent.</summary>
    public async ValueTask WaitAsync(int bytes, CancellationToken cancellationToken)
    {
        using var lease = await _bucket.AcquireAsync(bytes, cancellationToken).ConfigureAwait(false);
        // The queue is unbounded and a slice fits the bucket, so a lease is refused only when the limiter is disposed.
        if (!lease.IsAcquired) throw new OperationCanceledException("the bandwidth limit was released");
    }

    public void Dispose() => _bucket.Dispose();
}
