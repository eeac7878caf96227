using System.Buffers.Binary;
using System.Diagnostics;
using Singularity.Engine.Integrity;
using Singularity.Engine.Protocol;
using Singularity.Engine.Storage;

namespace Singularity.Tests.Support;

/// <summary>Partial files of 64 KiB shards, as sessions of a receiver make them, and random bytes to fill them.</summary>
internal static class PartialFixtures
{
    public const int Shard = 64 << 10;
    public static readonly UnixFileMode Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Leaves a partial of <paramref name="final"/> holding its first <paramref name="shards"/> shards, journaled, as a failed session leaves it.</summary>
    public static void LeaveJournaled(string final, byte[] data, int shards)
    {
        var earlier = Partial(final, data.Length, session: 1);
        WriteShards(earlier, data, 0, shards);
        earlier.Abandon();
    }

    /// <summary>The durable (resumable when of more than one shard) partial of <paramref name="final"/> in session <paramref name="session"/>.</summary>
    public static PartialFile Partial(string final, long size, ulong session, long offerLimit = long.MaxValue) =>
        new(0, new ManifestEntry(EntryKind.File, Path.GetFileName(final), size, Mode, 0, null), final, Shard, durable: true, session, offerLimit: offerLimit);

    /// <summary>Writes <paramref name="data"/> at <paramref name="path"/> as a source whose partials these are: modified at the epoch, as their entries say.</summary>
    public static string Source(string path, byte[] data)
    {
        File.WriteAllBytes(path, data);
        File.SetLastWriteTimeUtc(path, DateTime.UnixEpoch);
        return path;
    }

    public static byte[] Data(int size, int seed)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    public static ulong ShardDigest(byte[] data, int index) => Digests.Shard(ShardOf(data, index));

    private static ReadOnlySpan<byte> ShardOf(byte[] data, int index) => data.AsSpan(index * Shard, Math.Min(Shard, data.Length - index * Shard));

    /// <summary>
    /// Writes shards [first, last) of <paramref name="data"/> as a lane does; true, with the file finished, if one of
    /// them was the file's last.
    /// </summary>
    public static bool WriteShards(PartialFile file, byte[] data, int first, int last)
    {
        for (int index = first; index < last; index++)
        {
            Assert.True(file.TryClaim((uint)index, out var handle));
            RandomAccess.Write(handle, ShardOf(data, index), (long)index * Shard);
            if (!file.CompleteShard((uint)index, ShardDigest(data, index))) continue;
            file.FinishWriting();
            return true;
        }
        return false;
    }

    /// <summary>Seals and commits the file, and checks that its final path now holds exactly <paramref name="data"/>.</summary>
    public static void SealAndCommit(PartialFile file, byte[] data)
    {
        Assert.True(file.Seal(Digests.File([.. Enumerable.Range(0, file.ShardCount).Select(index => ShardDigest(data, index))])));
        Assert.True(file.TryBeginCommit());
        file.Commit();
        Assert.Equal(data, File.ReadAllBytes(file.FinalPath));
    }

    /// <summary>
    /// The records of a journal another handle holds locked. `cat` reads it without taking a lock, as a later process
    /// would after this one stopped.
    /// </summary>
    public static List<(int Index, ulong Digest)> JournalRecords(string path)
    {
        using var cat = Process.Start(new ProcessStartInfo("cat", [path]) { RedirectStandardOutput = true })!;
        using var bytes = new MemoryStream();
        cat.StandardOutput.BaseStream.CopyTo(bytes);
        cat.WaitForExit();
        Assert.Equal(0, cat.ExitCode);
        var journal = bytes.ToArray().AsSpan();
        var records = new List<(int, ulong)>();
        for (int at = ResumeJournal.HeaderSize; at + ResumeJournal.RecordSize <= journal.Length; at += ResumeJournal.RecordSize)
            records.Add((BinaryPrimitives.ReadInt32LittleEndian(journal[at..]), BinaryPrimitives.ReadUInt64LittleEndian(journal[(at + 8)..])));
        return records;
    }
}
