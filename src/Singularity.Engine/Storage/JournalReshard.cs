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
        using var journalLocked = new SpecialFiles.Unlocking(journalHandle);
        if ((journal.Length - ResumeJournal.HeaderSize) / ResumeJournal.RecordSize > mostRecords || ReadOtherShards(journal, entry, shardSize, minShardSize) is not { } old) return 0;
        using var partial = OpenLocked(partialPath, SpecialFiles.OpenRegularNotFollowing);
        using var partialLocked = new SpecialFiles.Unlocking(partial);
        if (partial is null || RandomAccess.GetLength(partial) is var length && length > entry.Size) return 0;
        var records = HashCovered(partial, Kept(old, entry.Size, length, shardSize), shardSize, mostShards, alive);
        journal.Position = 0;
        ResumeJournal.Rewrite(journal, entry.Size, entry.MtimeNanoseconds, shardSize, records);
        return records.Length;
    }

    /// <summary>
    /// Whether <see cref="Reshard"/> would keep some shard of the partial at <paramref name="partialPath"/>, by what
    /// its journal, of another shard size, and its length say: what a dry run, which reads nothing again, takes for a
    /// partial a send resumes. Read without the locks, as offers are. Whether the bytes still match is not read.
    /// </summary>
    public static bool WouldKeepSome(string partialPath, ManifestEntry entry, int shardSize, int minShardSize)
    {
        try
        {
            using var journalHandle = SpecialFiles.OpenRegularNotFollowing(ResumeJournal.PathFor(partialPath));
            using var partial = SpecialFiles.OpenRegularNotFollowing(partialPath);
            if (journalHandle is null || partial is null || RandomAccess.GetLength(partial) is var length && length > entry.Size) return false;
            using var journal = new FileStream(journalHandle, FileAccess.Read, 1);
            return ReadOtherShards(journal, entry, shardSize, minShardSize) is { } old && Kept(old, entry.Size, length, shardSize).Any();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>
    /// The shard size and vouched shards of a journal for <paramref name="entry"/> written with another shard size than
    /// <paramref name="shardSize"/>, read from its start; null for one of this shard size, or for another version.
    /// </summary>
    private static (int ShardSize, IEnumerable<int> Vouched)? ReadOtherShards(FileStream journal, ManifestEntry entry, int shardSize, int minShardSize)
    {
        int oldShardSize = ResumeJournal.ShardSizeOf(journal, entry.Size, entry.MtimeNanoseconds);
        // A shard size below the limit was never a session's: the header is not trusted.
        if (oldShardSize == shardSize || oldShardSize < minShardSize) return null;
        var vouched = new Dictionary<int, ulong>();
        journal.Position = 0;
        ResumeJournal.Read(new BufferedStream(journal, 1 << 16), entry.Size, entry.MtimeNanoseconds, oldShardSize, (int)Math.Min(Digests.ShardCount64(entry.Size, oldShardSize), int.MaxValue), vouched);
        return (oldShardSize, vouched.Keys);
    }

    /// <summary>Opens a regular file by <paramref name="open"/>, and locks it exclusively; null where it is not one, or another process holds it.</summary>
    private static SafeFileHandle? OpenLocked(string path, Func<string, SafeFileHandle?> open)
    {
        var handle = open(path);
        if (handle is null || SpecialFiles.TryLockExclusive(handle)) return handle;
        handle.Dispose();
        return null;
    }

    /// <summary>The shards of <paramref name="shardSize"/> the old ones vouch for, of a partial <paramref name="length"/> long: those a reshard keeps.</summary>
    private static IEnumerable<(int Index, long Offset, int Length)> Kept((int ShardSize, IEnumerable<int> Vouched) old, long size, long length, int shardSize) =>
        Covered(Runs(old.Vouched, old.ShardSize, size, length), size, shardSize);

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

    /// <summary>The shards of <paramref name="shardSize"/> that lie wholly within one run, in order: index, offset and length.</summary>
    private static IEnumerable<(int Index, long Offset, int Length)> Covered(List<(long Start, long End)> runs, long size, int shardSize)
    {
        foreach (var (start, end) in runs)
        {
            for (long index = (start + shardSize - 1) / shardSize; ; index++)
            {
                long offset = index * shardSize;
                int length = Digests.ShardLength(size, shardSize, (int)index);
                if (length <= 0 || offset + length > end) break;
                yield return ((int)index, offset, length);
            }
        }
    }

    /// <summary>Hashes, from the partial, the shards given, at most <paramref name="mostShards"/>, while <paramref name="alive"/> says so.</summary>
    private static (int Index, ulong Digest)[] HashCovered(SafeFileHandle partial, IEnumerable<(int Index, long Offset, int Length)> shards, int shardSize, int mostShards, Func<bool> alive)
    {
        var records = new List<(int Index, ulong Digest)>();
        byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Min(shardSize, Slice));
        var hash = new XxHash3();
        try
        {
            Func<ReadOnlySpan<byte>, long, bool> read = (_, _) => alive();
            foreach (var (index, offset, length) in shards.Take(mostShards))
            {
                if (BasisSeed.HashShard(partial, offset, length, buffer, hash, read) is not { } digest) break;
                records.Add((index, digest));
            }
            return [.. records];
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
