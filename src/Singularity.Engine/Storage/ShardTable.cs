using System.IO.Hashing;
using Singularity.Engine.Integrity;

namespace Singularity.Engine.Storage;

/// <summary>
/// Which shards of one incoming file are claimed, and the digests of those verified. Kept in pages of
/// <see cref="PageShards"/> shards, each allocated when a shard of its range first arrives: a file declared huge holds
/// memory for the ranges its shards reached, never for every shard the sender declared (with 4 KiB shards, a page costs
/// about as much memory as the one shard that brings it). A file of one page keeps one exactly sized array, so the many
/// small files of a tree cost what they did before.
/// </summary>
internal sealed class ShardTable
{
    /// <summary>Shards a page covers: its digests take 4 KiB, its claim bits 64 bytes.</summary>
    internal const int PageShards = 512;

    private readonly int _count;
    // A page holds its shards' digests, then one claim bit per shard in 64-bit words.
    private readonly ulong[]? _single;
    private readonly Dictionary<int, ulong[]>? _pages;

    public ShardTable(int shardCount)
    {
        _count = shardCount;
        if (shardCount <= PageShards) _single = NewPage(shardCount);
        else _pages = [];
    }

    /// <summary>Pages allocated so far; for tests.</summary>
    internal int PageCount => _single is not null ? 1 : _pages!.Count;

    /// <summary>Marks a shard claimed; false if it already was (a duplicate).</summary>
    public bool TryClaim(int index)
    {
        var (page, slot) = Locate(index);
        // The claim bits follow the page's digests.
        ref ulong word = ref page[DigestsPerPage + slot / 64];
        ulong bit = 1UL << (slot % 64);
        if ((word & bit) != 0) return false;
        word |= bit;
        return true;
    }

    /// <summary>Clears a shard's claim, before it was verified.</summary>
    public void Release(int index)
    {
        var (page, slot) = Locate(index);
        page[DigestsPerPage + slot / 64] &= ~(1UL << (slot % 64));
    }

    /// <summary>Records a claimed shard's verified digest.</summary>
    public void Set(int index, ulong digest)
    {
        var (page, slot) = Locate(index);
        page[slot] = digest;
    }

    /// <summary>The whole-file digest (<see cref="Digests.File"/>) over every shard's digest; call once every shard is verified.</summary>
    public ulong FileDigest()
    {
        if (_single is not null) return Digests.File(_single.AsSpan(0, _count));
        var hash = new XxHash3();
        for (int first = 0; first < _count; first += PageShards)
        {
            if (!_pages!.TryGetValue(first, out var page)) throw new InvalidOperationException($"shards {first}.. have no digests");
            Digests.Append(hash, page.AsSpan(0, Math.Min(PageShards, _count - first)));
        }
        return hash.GetCurrentHashAsUInt64();
    }

    /// <summary>Every shard's index and digest, in index order; call once every shard is verified.</summary>
    public IEnumerable<KeyValuePair<int, ulong>> All()
    {
        for (int index = 0; index < _count; index++)
        {
            var (page, slot) = Locate(index);
            yield return KeyValuePair.Create(index, page[slot]);
        }
    }

    // A single page holds exactly the file's shards; every page of a larger file holds PageShards, the last one too.
    private int DigestsPerPage => _single is not null ? _count : PageShards;

    private (ulong[] Page, int Slot) Locate(int index)
    {
        if ((uint)index >= (uint)_count) throw new ArgumentOutOfRangeException(nameof(index));
        if (_single is not null) return (_single, index);
        int first = index - index % PageShards;
        if (!_pages!.TryGetValue(first, out var page))
        {
            page = NewPage(PageShards);
            _pages[first] = page;
        }
        return (page, index - first);
    }

    private static ulong[] NewPage(int shards) => new ulong[shards + Digests.BitmapWords(shards)];
}
