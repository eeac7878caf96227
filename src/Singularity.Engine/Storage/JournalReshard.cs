using System.Buffers;
using System.IO.Hashing;
using Singularity.Engine.Integrity;
using Singularity.Engine.Protocol;

namespace Singularity.Engine.Storage;

/// <summary>
/// A partial left by an interrupted send whose shard size differs from this session's (one sent with --bwlimit, which
/// shrinks shards, or with another --shard-size, or over another path) is resumed too. Its journal records the old
/// shards; digests do not combine or split, so the bytes the old records vouch for are read again and hashed in this
/// session's shards, and the journal is rewritten in those terms. The file's preparation then reads it as any journal
/// of this session's shard size, and offers those shards; the sender keeps those its source still matches.
/// </summary>
internal static class JournalReshard
{
    // Bytes hashed at a time: a pooled buffer, whatever the shard size.
    private const int Slice = 1 << 20;

    /// <summary>
    /// Rewrites the journal of the partial at <paramref name="partialPath"/> for <paramref name="entry"/> in shards of
    /// <paramref name="shardSize"/> when it was written with another shard size, keeping a record for each new shard that
    /// lies wholly within shards it vouched for, at most <paramref name="mostShards"/>. A journal that could hold more
    /// than <paramref name="mostRecords"/> records is not read, as the file's preparation would not read it either.
    /// Calls <paramref name="alive"/> after every read (of at most 1 MiB): the sender waits for the file's acceptance
    /// meanwhile. Returns the records kept; 0 when nothing was rewritten: no partial or journal, a symbolic link at
    /// either name, a journal for another version or of this shard size already, or one another session holds.
    /// </summary>
    public static int Reshard(string partialPath, ManifestEntry entry, int shardSize, int mostShards, long mostRecords, int minShardSize, Action alive)
    {
        string journalPath = ResumeJournal.PathFor(partialPath);
        if (mostShards <= 0 || new FileInfo(journalPath) is not { Exists: true, LinkTarget: null } || new FileInfo(partialPath) is not { Exists: true, LinkTarget: null })
            return 0;
        FileStream journal, partial;
        try
        {
            // Locked in the order a session writing the file locks them: journal, then partial. One another session
            // holds is being written: it is left to that session.
            journal = new FileStream(journalPath, new FileStreamOptions { Mode = FileMode.Open, Access = FileAccess.ReadWrite, Share = FileShare.None, BufferSize = 1 });
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
        using (journal)
        {
            if ((journal.Length - ResumeJournal.HeaderSize) / ResumeJournal.RecordSize > mostRecords) return 0;
            int oldShardSize = ResumeJournal.ShardSizeOf(journal, entry.Size, entry.MtimeNanoseconds);
            // A shard size below the limit was never a session's: the header is not trusted.
            if (oldShardSize == shardSize || oldShardSize < minShardSize) return 0;
            var vouched = new Dictionary<int, ulong>();
            journal.Position = 0;
            ResumeJournal.Read(new BufferedStream(journal, 1 << 16), entry.Size, entry.MtimeNanoseconds, oldShardSize, (int)Math.Min(Digests.ShardCount64(entry.Size, oldShardSize), int.MaxValue), vouched);
            try
            {
                partial = new FileStream(partialPath, new FileStreamOptions { Mode = FileMode.Open, Access = FileAccess.Read, Share = FileShare.None, BufferSize = 1 });
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return 0;
            }
            using (partial)
            {
                var records = HashCovered(partial, entry.Size, Runs(vouched.Keys, oldShardSize, Math.Min(entry.Size, partial.Length)), shardSize, mostShards, alive);
                ResumeJournal.Rewrite(journal, entry.Size, entry.MtimeNanoseconds, shardSize, records.AsSpan());
                return records.Length;
            }
        }
    }

    /// <summary>The byte ranges the vouched old shards cover, merged where they touch, in order, and cut at <paramref name="end"/>: bytes beyond the partial's length were never written.</summary>
    private static List<(long Start, long End)> Runs(IEnumerable<int> vouched, int oldShardSize, long end)
    {
        var runs = new List<(long Start, long End)>();
        foreach (int index in vouched.Order())
        {
            long start = (long)index * oldShardSize;
            long stop = Math.Min(start + oldShardSize, end);
            if (stop <= start) break;
            if (runs.Count > 0 && runs[^1].End == start) runs[^1] = (runs[^1].Start, stop);
            else runs.Add((start, stop));
        }
        return runs;
    }

    /// <summary>Hashes, from the partial, every new shard that lies wholly within one run.</summary>
    private static (int Index, ulong Digest)[] HashCovered(FileStream partial, long size, List<(long Start, long End)> runs, int shardSize, int mostShards, Action alive)
    {
        var records = new List<(int Index, ulong Digest)>();
        byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Min(shardSize, Slice));
        var hash = new XxHash3();
        try
        {
            foreach (var (start, end) in runs)
            {
                for (long index = (start + shardSize - 1) / shardSize; records.Count < mostShards; index++)
                {
                    long offset = index * shardSize;
                    int length = Digests.ShardLength(size, shardSize, (int)index);
                    if (length <= 0 || offset + length > end) break;
                    hash.Reset();
                    for (int done = 0; done < length;)
                    {
                        int read = RandomAccess.Read(partial.SafeFileHandle, buffer.AsSpan(0, Math.Min(buffer.Length, length - done)), offset + done);
                        if (read == 0) return [.. records];
                        hash.Append(buffer.AsSpan(0, read));
                        done += read;
                        alive();
                    }
                    records.Add(((int)index, hash.GetCurrentHashAsUInt64()));
                }
            }
            return [.. records];
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
