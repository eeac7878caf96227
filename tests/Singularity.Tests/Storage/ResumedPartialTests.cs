using System.Buffers.Binary;
using System.Diagnostics;
using Singularity.Engine.Integrity;
using Singularity.Engine.Protocol;
using Singularity.Engine.Storage;
using Singularity.Tests.Support;

namespace Singularity.Tests.Storage;

/// <summary>A session resuming a partial: the journal it leaves at any moment must claim only bytes that are on disk.</summary>
public sealed class ResumedPartialTests
{
    private const int Shard = 64 << 10;
    private static readonly UnixFileMode Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private static PartialFile Partial(string final, long size, ulong session) =>
        new(0, new ManifestEntry(EntryKind.File, Path.GetFileName(final), size, Mode, 0, null), final, Shard, durable: true, session);

    private static byte[] Data(int size, int seed)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static ulong ShardDigest(byte[] data, int index) => Digests.Shard(data.AsSpan(index * Shard, Shard));

    [Fact]
    public void An_offered_shard_written_again_loses_its_old_record_at_once()
    {
        using var temp = new TempDirectory();
        string final = Path.Combine(temp.Path, "f.bin");
        byte[] old = Data(4 * Shard, 1), changed = Data(4 * Shard, 2);
        int open = 0;

        // An earlier session verified shards 0-2 of the old bytes and left them journaled.
        var earlier = Partial(final, old.Length, session: 1);
        for (int index = 0; index < 3; index++)
        {
            Assert.True(earlier.TryClaim((uint)index, ref open, 16, out var handle));
            RandomAccess.Write(handle, old.AsSpan(index * Shard, Shard), (long)index * Shard);
            earlier.CompleteShard((uint)index, ShardDigest(old, index));
        }
        earlier.Abandon();
        open = 0;

        // The next session offers them; the sender keeps 0 and 1, and sends shard 2 again with other bytes.
        var resumed = Partial(final, old.Length, session: 2);
        Assert.Equal(3, resumed.Offered.Count);
        resumed.Keep(0, ref open);
        resumed.Keep(1, ref open);
        Assert.True(resumed.TryClaim(2, ref open, 16, out var again));
        RandomAccess.Write(again, changed.AsSpan(2 * Shard, Shard), 2L * Shard);

        // Were the receiver to stop right now, the journal must not vouch for the old bytes of shard 2.
        var records = JournalRecords(resumed.JournalPath);
        Assert.DoesNotContain(records, r => r.Index == 2);
        Assert.Contains((0, ShardDigest(old, 0)), records);
        Assert.Contains((1, ShardDigest(old, 1)), records);

        // Once shard 2's new bytes are flushed, its new record follows.
        resumed.CompleteShard(2, ShardDigest(changed, 2));
        resumed.Abandon();
        var offered = Partial(final, old.Length, session: 3).Offered;
        Assert.Equal(ShardDigest(changed, 2), offered[2]);
        Assert.Equal(ShardDigest(old, 0), offered[0]);
    }

    /// <summary>
    /// The records of a journal another handle holds locked. `cat` reads it without taking a lock, as a later process
    /// would after this one stopped.
    /// </summary>
    private static List<(int Index, ulong Digest)> JournalRecords(string path)
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
