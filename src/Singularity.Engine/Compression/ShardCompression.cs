using System.Collections.Concurrent;
using ZstdSharp;

namespace Singularity.Engine.Compression;

/// <summary>
/// Compresses shards for a sender's lanes (<see cref="TransferOptions.Compress"/>): each shard on its own, with
/// Zstandard at <paramref name="level"/> (by default 1, which packs text and logs several times at some hundreds of
/// MB/s a core). A shard that would not shrink by at least 1/32 travels as it is. The lanes share the Zstandard
/// contexts, no more of them than cores: packing is a core's work, so more would only wait, and a context takes
/// megabytes (sending a 512 MiB log over 64 lanes of 1 MiB shards, the sender peaked at 150 MB at level 1 and 801 MB
/// at level 9 with a context a lane, and at 138 MB and 158 MB with them shared). Each lane packs into a buffer of
/// its own.
/// </summary>
internal sealed class ShardPacker(int shardSize, int level = TransferOptions.DefaultCompressLevel) : IDisposable
{
    /// <summary>The highest level a send may ask for: beyond it a context grows, and packing slows, for little more packing.</summary>
    public const int MostLevel = 9;

    private readonly SemaphoreSlim _free = new(Environment.ProcessorCount);
    private readonly ConcurrentBag<Compressor> _idle = [];
    private readonly List<Compressor> _made = [];

    /// <summary>The contexts made so far (for tests).</summary>
    internal int Contexts
    {
        get { lock (_made) return _made.Count; }
    }

    /// <summary>The most bytes <see cref="TryPackAsync"/> writes for a shard of the session.</summary>
    public int Bound { get; } = Compressor.GetCompressBound(shardSize);

    /// <summary>Packs <paramref name="shard"/> into <paramref name="destination"/> (at least <see cref="Bound"/> bytes), once a context is free; the packed length, or 0 if it did not shrink enough to be worth it.</summary>
    public async ValueTask<int> TryPackAsync(ReadOnlyMemory<byte> shard, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        await _free.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!_idle.TryTake(out var zstd))
            {
                zstd = new Compressor(level);
                lock (_made) _made.Add(zstd);
            }
            try
            {
                int written = zstd.Wrap(shard.Span, destination.Span);
                return written < shard.Length - shard.Length / 32 ? written : 0;
            }
            finally
            {
                _idle.Add(zstd);
            }
        }
        finally
        {
            _free.Release();
        }
    }

    /// <summary>Frees the contexts; only once no lane packs any more.</summary>
    public void Dispose()
    {
        lock (_made) foreach (var zstd in _made) zstd.Dispose();
        _free.Dispose();
    }
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
