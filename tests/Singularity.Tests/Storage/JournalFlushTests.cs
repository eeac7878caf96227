using Singularity.Engine;
using Singularity.Engine.Integrity;
using Singularity.Engine.Protocol;
using Singularity.Engine.Storage;
using Singularity.Tests.Support;
using static Singularity.Tests.Support.PartialFixtures;

namespace Singularity.Tests.Storage;

/// <summary>
/// A resumable file's journal flush (its data's fsync, then the records it covers) runs while the file's other lanes
/// go on: they neither wait for it nor close the handle under it, and a flush that fails leaves the file unfinished.
/// The tests hold a flush in progress, or make one fail, through <see cref="PartialFile.BeforeJournalFlush"/>.
/// </summary>
public sealed class JournalFlushTests
{
    private const int Shards = 40;
    // A deadlock guard only: on a working build every wait below ends at once.
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    [SkippableFact]
    public void Lanes_go_on_writing_while_one_flushes_the_journal()
    {
        // The journal is read with `cat` while this process holds its lock.
        Skip.If(OperatingSystem.IsWindows(), "needs cat and advisory locks");
        using var temp = new TempDirectory();
        byte[] data = Data(Shards * Shard, 7);
        var file = Partial(Path.Combine(temp.Path, "f.bin"), data.Length, session: 1);
        using var flush = new HeldFlush(file, data);
        // Empty, unless a pause of over a second had a smaller group journaled first.
        var before = JournalRecords(file.JournalPath);

        // Every shard but the last is written meanwhile: more than another group.
        var others = Task.Run(() => WriteShards(file, data, flush.Written, Shards - 1));
        Assert.True(others.Wait(Guard), "the other lanes waited for the flush");
        Assert.Equal(before, JournalRecords(file.JournalPath));

        // The flush appends the group it flushed, and only that.
        flush.Release();
        Assert.Equal(Records(data, 0, flush.Written), JournalRecords(file.JournalPath));

        Assert.True(WriteShards(file, data, Shards - 1, Shards));
        Assert.Equal(Records(data, 0, Shards), JournalRecords(file.JournalPath));
        Commit(file, data);
    }

    [SkippableFact]
    public void A_file_finished_during_a_journal_flush_waits_for_it()
    {
        Skip.If(OperatingSystem.IsWindows(), "needs advisory locks");
        using var temp = new TempDirectory();
        byte[] data = Data(Shards * Shard, 8);
        // No finished file may stay open: finishing this one closes its handle, the one the flush uses.
        var file = new PartialFile(0, new ManifestEntry(EntryKind.File, "f.bin", data.Length, Mode, 0, null), Path.Combine(temp.Path, "f.bin"), Shard, durable: true, session: 1, holds: new OpenFileBudget(0));
        using var flush = new HeldFlush(file, data);
        Assert.True(Task.Run(() => WriteShards(file, data, flush.Written, Shards - 1)).Wait(Guard));

        // The last shard finishes the file: flushing it and closing its handle must wait for the flush in progress,
        // which still uses the handle. Given a second to do either, it must still be waiting.
        var last = Task.Run(() => WriteShards(file, data, Shards - 1, Shards));
        Assert.False(last.Wait(TimeSpan.FromSeconds(1)), "the file was finished under a journal flush");

        flush.Release();
        Assert.True(last.Wait(Guard));
        Assert.True(last.Result);
        Commit(file, data);
    }

    [SkippableFact]
    public void A_file_whose_journal_flush_failed_is_never_finished_and_keeps_its_journal()
    {
        // The journal is read with `cat` while this process holds its lock.
        Skip.If(OperatingSystem.IsWindows(), "needs cat and advisory locks");
        using var temp = new TempDirectory();
        string final = Path.Combine(temp.Path, "f.bin");
        // Long enough that the shards after the failure would make another full group.
        const int shards = 60;
        byte[] data = Data(shards * Shard, 9);
        var file = Partial(final, data.Length, session: 1);
        int groups = 0;

        // The second group's flush fails, as an fsync that reports lost pages does.
        PartialFile.BeforeJournalFlush = records =>
        {
            if (records >= 16 && ++groups == 2) throw new IOException("Input/output error");
        };
        try
        {
            Assert.Throws<IOException>(() => WriteShards(file, data, 0, shards - 1));
        }
        finally
        {
            PartialFile.BeforeJournalFlush = null;
        }
        Assert.Equal(2, groups);
        var journaled = JournalRecords(file.JournalPath);
        Assert.NotEmpty(journaled);

        // Another lane writes the rest: the file is never finished, and nothing more is journaled.
        int next = journaled.Count + 16;
        Assert.Throws<IOException>(() => WriteShards(file, data, next, shards));
        Assert.Equal(journaled, JournalRecords(file.JournalPath));
        Assert.True(file.Seal(Digests.File([.. Enumerable.Range(0, shards).Select(index => ShardDigest(data, index))])));
        Assert.False(file.TryBeginCommit());

        // Its journal stays locked until the session ends: another session is refused, and cannot rewrite it.
        var busy = Assert.Throws<SingularityException>(() => Partial(final, data.Length, session: 2).TryClaim(0, out _));
        Assert.Equal(ErrorCode.Busy, busy.Code);
        Assert.Equal(journaled, JournalRecords(file.JournalPath));

        file.Abandon();
        Assert.Equal(journaled, JournalRecords(file.JournalPath));
    }

    private static List<(int, ulong)> Records(byte[] data, int first, int last) =>
        [.. Enumerable.Range(first, last - first).Select(index => (index, ShardDigest(data, index)))];

    private static void Commit(PartialFile file, byte[] data)
    {
        SealAndCommit(file, data);
        Assert.False(File.Exists(file.JournalPath));
    }

    /// <summary>
    /// One lane on a thread of its own, writing shards from the first on until it flushes a full group, which then
    /// waits until released; the constructor returns once that flush has begun.
    /// </summary>
    private sealed class HeldFlush : IDisposable
    {
        private readonly ManualResetEventSlim _begun = new(), _released = new();
        private readonly Task _lane;

        public HeldFlush(PartialFile file, byte[] data)
        {
            _lane = Task.Factory.StartNew(() =>
            {
                int index = 0;
                PartialFile.BeforeJournalFlush = records =>
                {
                    // A smaller group was started by the one-second rule, after a pause: it is left to go on.
                    if (records < 16) return;
                    PartialFile.BeforeJournalFlush = null;
                    Written = index + 1;
                    _begun.Set();
                    _released.Wait();
                };
                try
                {
                    for (; !_begun.IsSet && index < Shards - 1; index++) Assert.False(WriteShards(file, data, index, index + 1));
                }
                finally
                {
                    PartialFile.BeforeJournalFlush = null;
                }
            }, TaskCreationOptions.LongRunning);
            Assert.True(WaitHandle.WaitAny([_begun.WaitHandle, ((IAsyncResult)_lane).AsyncWaitHandle], Guard) == 0, "no journal flush began");
        }

        /// <summary>How many shards, from the first, this lane wrote: the held flush covers them all.</summary>
        public int Written { get; private set; }

        /// <summary>Lets the flush go on, and waits for it to end.</summary>
        public void Release()
        {
            _released.Set();
            Assert.True(_lane.Wait(Guard));
        }

        public void Dispose()
        {
            // A failed test must not leave the lane waiting, nor writing into a directory about to be deleted.
            _released.Set();
            try
            {
                _lane.Wait(Guard);
            }
            catch (AggregateException)
            {
                // The test has failed already, or fails on what it asserted.
            }
            _begun.Dispose();
        }
    }
}
