using Singularity.Engine;
using Singularity.Engine.Integrity;
using Singularity.Engine.Protocol;
using Singularity.Engine.Storage;
using Singularity.Tests.Support;
using static Singularity.Tests.Support.PartialFixtures;

namespace Singularity.Tests.Storage;

/// <summary>A session resuming a partial: the journal it leaves at any moment must claim only bytes that are on disk.</summary>
public sealed class ResumedPartialTests
{
    [SkippableFact]
    public void An_offered_shard_written_again_loses_its_old_record_at_once()
    {
        // The journal is read with `cat` while this process holds its lock.
        Skip.If(OperatingSystem.IsWindows(), "needs cat and advisory locks");
        using var temp = new TempDirectory();
        string final = Path.Combine(temp.Path, "f.bin");
        byte[] old = Data(4 * Shard, 1), changed = Data(4 * Shard, 2);

        // An earlier session verified shards 0-2 of the old bytes and left them journaled.
        LeaveJournaled(final, old, shards: 3);

        // The next session offers them; the sender keeps 0 and 1, and sends shard 2 again with other bytes.
        var resumed = Partial(final, old.Length, session: 2);
        Assert.Equal(3, resumed.Offered.Count);
        resumed.Keep(0);
        resumed.Keep(1);
        Assert.True(resumed.TryClaim(2, out var again));
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

    /// <summary>A session offers a bounded number of shards: a journal that could hold more than it has left is not read, and its file is sent afresh and still arrives whole.</summary>
    [Fact]
    public void A_journal_beyond_the_offers_left_is_not_read_and_the_file_starts_afresh()
    {
        using var temp = new TempDirectory();
        string final = Path.Combine(temp.Path, "f.bin");
        byte[] data = Data(6 * Shard, 4);
        LeaveJournaled(final, data, shards: 3);

        Assert.Equal(3, Partial(final, data.Length, session: 2, offerLimit: 3).Offered.Count);
        var afresh = Partial(final, data.Length, session: 3, offerLimit: 2);
        Assert.Empty(afresh.Offered);
        Assert.True(WriteShards(afresh, data, 0, 6));
        SealAndCommit(afresh, data);
    }

    [Fact]
    public void Offers_another_session_overwrote_meanwhile_are_refused_before_a_byte_is_written()
    {
        using var temp = new TempDirectory();
        string final = Path.Combine(temp.Path, "f.bin");
        byte[] old = Data(4 * Shard, 3), changed = Data(4 * Shard, 4);
        LeaveJournaled(final, old, shards: 3);

        // Two sessions read the same offers; the second rewrites shard 1 with other bytes and stops.
        var first = Partial(final, old.Length, session: 2);
        var second = Partial(final, old.Length, session: 3);
        Assert.Equal(3, first.Offered.Count);
        second.Keep(0);
        WriteShards(second, changed, 1, 2);
        second.Abandon();

        // The first session's sender still has the old bytes: it keeps its offers, then sends shard 3.
        first.Keep(0);
        first.Keep(1);
        var refused = Assert.Throws<SingularityException>(() => first.TryClaim(3, out _));
        Assert.Equal(ErrorCode.Busy, refused.Code);
    }

    [Fact]
    public void A_file_kept_whole_from_a_partial_another_session_overwrote_is_not_committed()
    {
        using var temp = new TempDirectory();
        string final = Path.Combine(temp.Path, "f.bin");
        byte[] old = Data(3 * Shard, 5), changed = Data(3 * Shard, 6);
        LeaveJournaled(final, old, shards: 3);

        var first = Partial(final, old.Length, session: 2);
        var second = Partial(final, old.Length, session: 3);
        second.Keep(0);
        second.Keep(1);
        Assert.True(WriteShards(second, changed, 2, 3));
        second.Abandon();

        // Every shard kept, so nothing is written: the commit is the last point to notice.
        first.Keep(0);
        first.Keep(1);
        Assert.True(first.Keep(2));
        Assert.True(first.Seal(Digests.File([ShardDigest(old, 0), ShardDigest(old, 1), ShardDigest(old, 2)])));
        Assert.True(first.TryBeginCommit());
        var refused = Assert.Throws<SingularityException>(first.Commit);
        Assert.Equal(ErrorCode.Busy, refused.Code);
        Assert.False(File.Exists(final));
    }
}
