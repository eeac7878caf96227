using System.Buffers;
using System.IO.Hashing;
using Singularity.Engine.Integrity;
using Microsoft.Win32.SafeHandles;
using Singularity.Engine.Protocol;

namespace Singularity.Engine.Storage;

/// <summary>
/// Delta transfer, shard by shard (<see cref="TransferOptions.Delta"/>). Before a changed file arrives, the version
/// already at its name (the basis) seeds the file's resumable partial: the basis's shards that the new size holds
/// whole are copied into the partial, flushed, and journaled with their digests, as an interrupted session would have
/// left them. The receiver then offers them (BasisOffer), the sender keeps those its source still matches, and only
/// the shards that differ travel: a log that grew sends its new tail, a disk image written in place the shards it
/// changed. Shards are compared where they stand, so bytes inserted early in a file move everything after them out
/// of their shards; where the sender takes them, the receiver also sends the sums of the basis's blocks
/// (<see cref="BlockSums"/>), and such a changed shard travels as a patch that copies from the basis what it still
/// holds, wherever it moved, as rsync's rolling checksum finds it.
/// </summary>
internal static class BasisSeed
{
    // Bytes copied and hashed at a time: a pooled buffer, whatever the shard size.
    private const int Slice = 1 << 20;

    // Copied bytes are flushed this often, so the flush before the journal's records waits for little.
    private const long FlushEvery = 256L << 20;

    /// <summary>
    /// How many shards of a file of <paramref name="size"/> a basis of <paramref name="basisLength"/> bytes can seed:
    /// those it holds whole, the last one too when the file is no longer than the basis.
    /// </summary>
    public static int SeedableShards(long basisLength, long size, int shardSize) =>
        size <= basisLength ? Digests.ShardCount(size, shardSize) : (int)Math.Min(basisLength / shardSize, int.MaxValue);

    /// <summary>
    /// Seeds the partial at <paramref name="partialPath"/> and its journal for <paramref name="entry"/> from the
    /// regular file at <paramref name="finalPath"/>, at most <paramref name="mostShards"/> shards. The copy calls
    /// <paramref name="alive"/> after every read (of at most 1 MiB): the sender waits for the file's acceptance
    /// meanwhile, and is told that the receiver is at work. Returns the shards seeded; 0 when there is no basis to read,
    /// nothing to seed, or the copy failed with an I/O error (what it made is removed again: the file then arrives
    /// whole, and a disk that is full shows at its writes). Any other exception (from <paramref name="alive"/>, when
    /// the session ends) removes it too, and is thrown on. The
    /// caller has checked that nothing stands at the partial's name. Only where the basis can be opened without
    /// following a link at its name (Linux): elsewhere nothing is seeded, as a link there would have the receiver read,
    /// and tell the sender digests of, a file outside the destination.
    /// </summary>
    public static int Seed(string finalPath, string partialPath, ManifestEntry entry, int shardSize, int mostShards, bool sparse, Action alive, BlockSums.Builder? sums = null)
    {
        using var basis = Open(finalPath);
        return basis is null ? 0 : Seed(basis, partialPath, entry, shardSize, mostShards, sparse, alive, sums);
    }

    /// <summary>
    /// The regular file at <paramref name="finalPath"/>, opened for reading without following a link at its name, and
    /// only where the handle is that name's (Linux); null where there is none to read (gone, a link, not a regular file,
    /// one its owner may not read: 0200), as a seed, and a patch's copies, read it.
    /// </summary>
    public static SafeFileHandle? Open(string finalPath)
    {
        SafeFileHandle? basis;
        try
        {
            basis = SpecialFiles.OpenRegularNotFollowing(finalPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        if (basis is null || !SpecialFiles.OpenedElsewhere(basis, finalPath)) return basis;
        basis.Dispose();
        return null;
    }

    /// <summary>
    /// As <see cref="Seed(string, string, ManifestEntry, int, int, bool, Action, BlockSums.Builder?)"/>, from a regular file already open
    /// for reading (an earlier copy of the file, with --link-dest), which the caller disposes.
    /// </summary>
    public static int Seed(SafeFileHandle basis, string partialPath, ManifestEntry entry, int shardSize, int mostShards, bool sparse, Action alive, BlockSums.Builder? sums = null)
    {
        int shards = Math.Min(mostShards, SeedableShards(RandomAccess.GetLength(basis), entry.Size, shardSize));
        if (shards <= 0) return 0;
        string journalPath = ResumeJournal.PathFor(partialPath);
        FileStream partial;
        try
        {
            partial = PartialFile.CreateExclusive(partialPath, 0, entry.Path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or SingularityException)
        {
            // Another session's partial stands there now, or the directory may not be written: the file's own
            // preparation meets the same and says so.
            return 0;
        }
        ResumeJournal? journal = null;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Min(shardSize, Slice));
        try
        {
            journal = ResumeJournal.Open(journalPath, entry.Size, entry.MtimeNanoseconds, shardSize)!;
            var records = new (int Index, ulong Digest)[shards];
            int seeded = ReadShards(basis, partial, records, entry.Size, shardSize, buffer, sparse, alive, sums);
            if (seeded == 0)
            {
                Remove(partial, partialPath, journal, journalPath);
                return 0;
            }
            // A record never claims bytes a crash could lose (PROTOCOL §6.1), and one for bytes beyond the
            // partial's length is not trusted: a sparse copy may end in a hole, which no write reached.
            long end = Math.Min((long)seeded * shardSize, entry.Size);
            if (partial.Length < end) partial.SetLength(end);
            RandomAccess.FlushToDisk(partial.SafeFileHandle);
            journal.Append(records.AsSpan(0, seeded));
            journal.Dispose();
            partial.Dispose();
            return seeded;
        }
        catch (Exception ex)
        {
            Remove(partial, partialPath, journal, journalPath);
            if (ex is IOException or UnauthorizedAccessException) return 0;
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Gathers into <paramref name="sums"/> the sums of the first <paramref name="length"/> bytes of
    /// <paramref name="basis"/>, read in order and copied nowhere (fewer where it ends first), calling
    /// <paramref name="alive"/> after every read; returns the bytes read. For a sender that takes sums alone, whose
    /// every shard of the file then comes as a patch.
    /// </summary>
    public static long Sum(SafeFileHandle basis, long length, BlockSums.Builder sums, Action alive)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(Slice);
        try
        {
            long at = 0;
            while (at < length && sums.Count < BlockSums.MostBlocks)
            {
                int read = RandomAccess.Read(basis, buffer.AsSpan(0, (int)Math.Min(Slice, length - at)), at);
                if (read == 0) break;
                sums.Append(buffer.AsSpan(0, read));
                at += read;
                alive();
            }
            return at;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// The digests of the shards of <paramref name="entry"/> that the file <paramref name="basis"/> holds whole, at most
    /// <paramref name="mostShards"/>, read where they stand: the offers of a file written in place (rsync --inplace),
    /// which needs no copy. <paramref name="alive"/> is called after every read, as for a seed.
    /// </summary>
    public static Dictionary<int, ulong> ShardDigests(SafeFileHandle basis, ManifestEntry entry, int shardSize, int mostShards, Action alive)
    {
        int shards = Math.Min(mostShards, SeedableShards(RandomAccess.GetLength(basis), entry.Size, shardSize));
        if (shards <= 0) return [];
        var records = new (int Index, ulong Digest)[shards];
        byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Min(shardSize, Slice));
        try
        {
            int read = ReadShards(basis, null, records, entry.Size, shardSize, buffer, sparse: false, alive);
            return records.Take(read).ToDictionary(record => record.Index, record => record.Digest);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Hashes the <paramref name="length"/> bytes at <paramref name="offset"/> of <paramref name="file"/> a slice of
    /// <paramref name="buffer"/> at a time, handing each slice and where it stands to <paramref name="slice"/>: the
    /// digest, or null where the file ends first (it shrank meanwhile) or <paramref name="slice"/> says to stop.
    /// </summary>
    internal static ulong? HashShard(SafeFileHandle file, long offset, int length, byte[] buffer, XxHash3 hash, Func<ReadOnlySpan<byte>, long, bool> slice)
    {
        hash.Reset();
        for (int done = 0; done < length;)
        {
            var read = buffer.AsSpan(0, Math.Min(buffer.Length, length - done));
            int count = RandomAccess.Read(file, read, offset + done);
            if (count == 0) return null;
            read = read[..count];
            hash.Append(read);
            bool goOn = slice(read, offset + done);
            done += count;
            if (!goOn) return null;
        }
        return hash.GetCurrentHashAsUInt64();
    }

    /// <summary>Reads whole shards of the basis, hashing them, and copies them into the partial where one is given; returns how many, recorded in <paramref name="records"/>.</summary>
    private static int ReadShards(SafeFileHandle basis, FileStream? partial, (int Index, ulong Digest)[] records, long size, int shardSize, byte[] buffer, bool sparse, Action alive, BlockSums.Builder? sums = null)
    {
        var hash = new XxHash3();
        long unflushed = 0;
        // One delegate for every shard: no allocation per shard.
        Func<ReadOnlySpan<byte>, long, bool> copied = (slice, at) =>
        {
            if (partial is not null) Write(partial, slice, at);
            // The shards are read in order, from the start: the sums see the basis as it was copied.
            sums?.Append(slice);
            alive();
            return true;
        };
        for (int index = 0; index < records.Length; index++)
        {
            // The basis shrank meanwhile: this shard is not whole, and neither is any after it.
            if (HashShard(basis, (long)index * shardSize, Digests.ShardLength(size, shardSize, index), buffer, hash, copied) is not { } digest) return index;
            // What was copied is what is recorded: a basis written to meanwhile changes both alike.
            records[index] = (index, digest);
        }
        return records.Length;

        void Write(FileStream partial, ReadOnlySpan<byte> slice, long at)
        {
            if (sparse) SparseFiles.WriteLeavingHoles(partial.SafeFileHandle, slice, at);
            else RandomAccess.Write(partial.SafeFileHandle, slice, at);
            if ((unflushed += slice.Length) < FlushEvery) return;
            RandomAccess.FlushToDisk(partial.SafeFileHandle);
            unflushed = 0;
        }
    }

    /// <summary>Removes a seeded partial and its journal while still holding both.</summary>
    private static void Remove(FileStream partial, string partialPath, ResumeJournal? journal, string journalPath)
    {
        try
        {
            // Deleted while still locked, as every partial and journal is.
            if (journal is not null) File.Delete(journalPath);
            PartialFile.DeleteHeld(partial, partialPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // What stays is a partial without a trusted record: the next session's seeding or open replaces it.
        }
        finally
        {
            journal?.Dispose();
            partial.Dispose();
        }
    }
}
