using System.Buffers;
using System.IO.Hashing;
using Microsoft.Win32.SafeHandles;
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
    /// meanwhile; false stops the reads there, and what was hashed so far is kept. Returns the records kept; 0 when
    /// nothing was rewritten: no partial or journal, anything but a regular file at either name (a link is never
    /// followed), a partial longer than the file, a journal for another version or of this shard size already, or one
    /// another session holds. Linux only, where a file can be opened without following a link at its name; elsewhere
    /// nothing is rewritten.
    /// </summary>
    public static int Reshard(string partialPath, ManifestEntry entry, int shardSize, int mostShards, long mostRecords, int minShardSize, Func<bool> alive)
    {
        string journalPath = ResumeJournal.PathFor(partialPath);
        if (mostShards <= 0 || !File.Exists(journalPath)) return 0;
        // Locked in the order a session writing the file locks them: journal, then partial. One another session
        // holds is being written: it is left to that session.
        using var journalHandle = OpenLocked(journalPath, SpecialFiles.OpenRegularForWritingNotFollowing);
        if (journalHandle is null) return 0;
        using var journal = new FileStream(journalHandle, FileAccess.ReadWrite, 1);
        if ((journal.Length - ResumeJournal.HeaderSize) / ResumeJournal.RecordSize > mostRecords) return 0;
        int oldShardSize = ResumeJournal.ShardSizeOf(journal, entry.Size, entry.MtimeNanoseconds);
        // A shard size below the limit was never a session's: the header is not trusted.
        if (oldShardSize == shardSize || oldShardSize < minShardSize) return 0;
        var vouched = new Dictionary<int, ulong>();
        journal.Position = 0;
        ResumeJournal.Read(new BufferedStream(journal, 1 << 16), entry.Size, entry.MtimeNanoseconds, oldShardSize, (int)Math.Min(Digests.ShardCount64(entry.Size, oldShardSize), int.MaxValue), vouched);
        using var partial = OpenLocked(partialPath, SpecialFiles.OpenRegularNotFollowing);
        if (partial is null || RandomAccess.GetLength(partial) is var length && length > entry.Size) return 0;
        var records = HashCovered(partial, entry.Size, Runs(vouched.Keys, oldShardSize, entry.Size, length), shardSize, mostShards, alive);
        journal.Position = 0;
        ResumeJournal.Rewrite(journal, entry.Size, entry.MtimeNanoseconds, shardSize, records);
        return records.Length;
    }

    /// <summary>
    /// Whether the journal of the partial at <paramref name="partialPath"/> is for <paramref name="entry"/>, of any
    /// shard size a session may have (at least <paramref name="minShardSize"/>), and vouches for some shard: a partial
    /// a send resumes, by <see cref="Reshard"/> where its shard size differs. Read without its lock, as offers are.
    /// </summary>
    public static bool VouchesForSome(string partialPath, ManifestEntry entry, int minShardSize)
    {
        string path = ResumeJournal.PathFor(partialPath);
        if (new FileInfo(path).LinkTarget is not null) return false;
        int shardSize;
        try
        {
            using var journal = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1);
            shardSize = ResumeJournal.ShardSizeOf(journal, entry.Size, entry.MtimeNanoseconds);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
        return shardSize >= minShardSize
            && ResumeJournal.Load(path, entry.Size, entry.MtimeNanoseconds, shardSize, (int)Math.Min(Digests.ShardCount64(entry.Size, shardSize), int.MaxValue)).Count > 0;
    }

    /// <summary>Opens a regular file by <paramref name="open"/>, and locks it exclusively; null where it is not one, or another process holds it.</summary>
    private static SafeFileHandle? OpenLocked(string path, Func<string, SafeFileHandle?> open)
    {
        var handle = open(path);
        if (handle is null || SpecialFiles.TryLockExclusive(handle)) return handle;
        handle.Dispose();
        return null;
    }

    /// <summary>
    /// The byte ranges the vouched old shards cover, merged where they touch, in order. A shard that ends beyond the
    /// partial's <paramref name="length"/> is not trusted, as at any resume: those bytes were never all written.
    /// </summary>
    private static List<(long Start, long End)> Runs(IEnumerable<int> vouched, int oldShardSize, long size, long length)
    {
        var runs = new List<(long Start, long End)>();
        foreach (int index in vouched.Order())
        {
            long start = (long)index * oldShardSize;
            long stop = Math.Min(start + oldShardSize, size);
            if (stop > length) break;
            if (runs.Count > 0 && runs[^1].End == start) runs[^1] = (runs[^1].Start, stop);
            else runs.Add((start, stop));
        }
        return runs;
    }

    /// <summary>Hashes, from the partial, every new shard that lies wholly within one run.</summary>
    private static (int Index, ulong Digest)[] HashCovered(SafeFileHandle partial, long size, List<(long Start, long End)> runs, int shardSize, int mostShards, Func<bool> alive)
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
                        int read = RandomAccess.Read(partial, buffer.AsSpan(0, Math.Min(buffer.Length, length - done)), offset + done);
                        if (read == 0) return [.. records];
                        hash.Append(buffer.AsSpan(0, read));
                        done += read;
                        if (!alive()) return [.. records];
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
