using ZstdSharp;

namespace Singularity.Engine.Compression;

/// <summary>
/// Compresses shards for one sender lane (<see cref="TransferOptions.Compress"/>): each shard on its own, with
/// Zstandard at <paramref name="level"/> (by default 1, which packs text and logs several times at some hundreds of
/// MB/s a core). A shard that would not shrink by at least 1/32 travels as it is. Not thread-safe: one per lane, as
/// the buffer it writes into.
/// </summary>
internal sealed class ShardPacker(int shardSize, int level = TransferOptions.DefaultCompressLevel) : IDisposable
{
    /// <summary>
    /// The highest level a send may ask for. Beyond it each lane's compressor takes far more memory and time for little
    /// more packing (measured sending a 64 MiB log over 16 lanes of 4 MiB shards: level 9 peaked at 103 MB and packed
    /// 5.1x at 54 MB/s; level 19 peaked at 438 MB, past the sender's memory bound, and packed 5.6x at 2.6 MB/s).
    /// </summary>
    public const int MostLevel = 9;

    private readonly Compressor _zstd = new(level);

    /// <summary>The most bytes <see cref="TryPack"/> writes for a shard of the session.</summary>
    public int Bound { get; } = Compressor.GetCompressBound(shardSize);

    /// <summary>Packs <paramref name="shard"/> into <paramref name="destination"/> (at least <see cref="Bound"/> bytes); the packed length, or 0 if it did not shrink enough to be worth it.</summary>
    public int TryPack(ReadOnlySpan<byte> shard, Span<byte> destination)
    {
        int written = _zstd.Wrap(shard, destination);
        return written < shard.Length - shard.Length / 32 ? written : 0;
    }

    public void Dispose() => _zstd.Dispose();
}

/// <summary>
/// Unpacks compressed shards for one receiver lane. A shard must unpack to exactly the length its index gives, into a
/// buffer of that length: what a peer sends can neither write past it nor make it allocate a window (one-shot
/// decompression writes straight into the buffer; the window is capped at the largest shard all the same).
/// </summary>
internal sealed class ShardUnpacker : IDisposable
{
    private readonly Decompressor _zstd = new();

    public ShardUnpacker(int maxShardSize)
    {
        _zstd.SetParameter(ZstdSharp.Unsafe.ZSTD_dParameter.ZSTD_d_windowLogMax, Math.Max(10, 32 - int.LeadingZeroCount(maxShardSize - 1)));
    }

    /// <summary>True if <paramref name="packed"/> unpacks to exactly <paramref name="destination"/>'s length.</summary>
    public bool TryUnpack(ReadOnlySpan<byte> packed, Span<byte> destination)
    {
        try
        {
            return _zstd.TryUnwrap(packed, destination, out int written) && written == destination.Length;
        }
        catch (ZstdException)
        {
            return false;
        }
    }

    public void Dispose() => _zstd.Dispose();
}
