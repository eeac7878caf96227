using Singularity.Engine;
using Singularity.Engine.Integrity;
using Singularity.Engine.Protocol;
using Singularity.Engine.Storage;
using Singularity.Tests.Support;
using static Singularity.Tests.Support.PartialFixtures;

namespace Singularity.Tests.Storage;

/// <summary>Two sessions receiving the same path at once: neither may ever rename the other's temporary file into place.</summary>
public sealed class ConcurrentPartialTests
{
    /// <summary>Another session starting to write the same path is refused as busy.</summary>
    private static void AssertBusy(string final, long size, ulong session)
    {
        var busy = Assert.Throws<SingularityException>(() => Partial(final, size, session).TryClaim(0, out _));
        Assert.Equal(ErrorCode.Busy, busy.Code);
    }

    [Fact]
    public void A_one_shard_file_commits_its_own_bytes_while_another_session_writes_the_same_path()
    {
        using var temp = new TempDirectory();
        string final = Path.Combine(temp.Path, "f.bin");
        byte[] first = Data(1000, 1), second = Data(1000, 2);
        var a = Partial(final, first.Length, session: 1);
        var b = Partial(final, second.Length, session: 2);

        Assert.True(WriteShards(a, first, 0, 1));
        // The second session starts writing before the first has its seal and commits.
        Assert.True(b.TryClaim(0, out var handle));
        RandomAccess.Write(handle, second.AsSpan(0, 10), 0);
        SealAndCommit(a, first);

        RandomAccess.Write(handle, second.AsSpan(10), 10);
        Assert.True(b.CompleteShard(0, Digests.Shard(second)));
        b.FinishWriting();
        SealAndCommit(b, second);
        Assert.Empty(PartialFiles.Find(temp.Path));
    }

    [Fact]
    public void A_resumable_file_another_session_is_receiving_is_refused_as_busy_until_it_is_committed()
    {
        using var temp = new TempDirectory();
        string final = Path.Combine(temp.Path, "f.bin");
        byte[] first = Data(3 * Shard + 5, 3), second = Data(3 * Shard + 5, 4);
        var a = Partial(final, first.Length, session: 1);
        Assert.True(a.Resumable);

        Assert.False(WriteShards(a, first, 0, 2));
        long journal = new FileInfo(a.JournalPath).Length;
        AssertBusy(final, second.Length, session: 2);
        Assert.Equal(journal, new FileInfo(a.JournalPath).Length);

        // Written in full and waiting for its seal: still held, so still refused.
        Assert.True(WriteShards(a, first, 2, 4));
        AssertBusy(final, second.Length, session: 3);
        SealAndCommit(a, first);

        var b = Partial(final, second.Length, session: 4);
        Assert.True(WriteShards(b, second, 0, 4));
        SealAndCommit(b, second);
        Assert.Empty(PartialFiles.Find(temp.Path));
    }

    /// <summary>
    /// A file withdrawn (the sender found it changed) while a shard of it is being written is abandoned when that
    /// write ends, not under it: the write's handle stays open and the path held until then; the shard is not
    /// recorded, and the next session is offered only what was verified before.
    /// </summary>
    [Fact]
    public void A_file_withdrawn_while_a_shard_is_written_is_abandoned_when_the_write_ends()
    {
        using var temp = new TempDirectory();
        string final = Path.Combine(temp.Path, "f.bin");
        byte[] data = Data(3 * Shard + 5, 9);
        var a = Partial(final, data.Length, session: 1);
        Assert.False(WriteShards(a, data, 0, 1));
        Assert.True(a.TryClaim(1, out var handle));

        Assert.False(a.Withdraw());
        AssertBusy(final, data.Length, session: 2);
        RandomAccess.Write(handle, data.AsSpan(Shard, Shard), Shard);
        Assert.False(a.CompleteShard(1, ShardDigest(data, 1)));
        Assert.False(a.TryClaim(2, out _));

        var next = Partial(final, data.Length, session: 3);
        Assert.Equal([0], next.Offered.Keys);
        Assert.True(next.TryClaim(1, out _));
    }

    /// <summary>
    /// A file withdrawn after its last shard was written and before FinishWriting flushed it waits for that flush, which
    /// then abandons it: nothing closes its handle under the flush, and the next session is offered every shard.
    /// </summary>
    [Fact]
    public void A_file_withdrawn_before_its_last_write_is_finished_is_abandoned_by_the_finish()
    {
        using var temp = new TempDirectory();
        string final = Path.Combine(temp.Path, "f.bin");
        byte[] data = Data(2 * Shard + 5, 11);
        var a = Partial(final, data.Length, session: 1);
        Assert.False(WriteShards(a, data, 0, 2));
        Assert.True(a.TryClaim(2, out var handle));
        RandomAccess.Write(handle, data.AsSpan(2 * Shard), 2 * Shard);
        Assert.True(a.CompleteShard(2, ShardDigest(data, 2)));

        Assert.False(a.Withdraw());
        a.FinishWriting();

        Assert.False(a.TryBeginCommit());
        Assert.Equal([0, 1, 2], Partial(final, data.Length, session: 2).Offered.Keys.Order());
    }

    /// <summary>A file withdrawn with no shard of it being written is left to its caller to abandon at once.</summary>
    [Fact]
    public void A_file_withdrawn_between_writes_is_abandoned_by_its_caller_and_a_sealed_one_cannot_be()
    {
        using var temp = new TempDirectory();
        string final = Path.Combine(temp.Path, "f.bin");
        byte[] data = Data(3 * Shard + 5, 10);
        var a = Partial(final, data.Length, session: 1);
        Assert.False(WriteShards(a, data, 0, 2));
        Assert.True(a.Withdraw());
        a.Abandon();
        Assert.Equal([0, 1], Partial(final, data.Length, session: 2).Offered.Keys.Order());

        var sealedOne = Partial(Path.Combine(temp.Path, "g.bin"), data.Length, session: 3);
        Assert.False(WriteShards(sealedOne, data, 0, 1));
        Assert.True(sealedOne.Seal(1));
        Assert.Throws<ProtocolViolationException>(() => sealedOne.Withdraw());
        sealedOne.Abandon();
    }

    [Fact]
    public void Finished_files_beyond_the_hold_budget_close_at_their_last_write_and_still_commit_under_their_lock()
    {
        using var temp = new TempDirectory();
        var budget = new OpenFileBudget(1);
        var writing = new OpenFileBudget(2);
        byte[] first = Data(3 * Shard, 6), second = Data(3 * Shard, 7);
        string firstPath = Path.Combine(temp.Path, "one.bin"), secondPath = Path.Combine(temp.Path, "two.bin");
        var a = new PartialFile(0, new ManifestEntry(EntryKind.File, "one.bin", first.Length, Mode, 0, null), firstPath, Shard, durable: true, session: 1, holds: budget, writing: writing);
        var b = new PartialFile(1, new ManifestEntry(EntryKind.File, "two.bin", second.Length, Mode, 0, null), secondPath, Shard, durable: true, session: 1, holds: budget, writing: writing);

        // Both written in full, neither sealed yet: the first holds the budget's one place, the second closes. Neither
        // counts among the files being written any more.
        Assert.True(WriteShards(a, first, 0, 3));
        Assert.True(WriteShards(b, second, 0, 3));
        Assert.True(writing.TryTake() && writing.TryTake());
        AssertBusy(firstPath, first.Length, session: 2);

        SealAndCommit(b, second);
        SealAndCommit(a, first);
        // The place is free again.
        Assert.True(budget.TryTake());
    }

    [Fact]
    public void Files_being_written_are_bounded_per_session_and_per_receiver_and_an_abandoned_file_gives_its_place_back()
    {
        using var temp = new TempDirectory();
        var receiver = new OpenFileBudget(2);
        var one = new OpenFileBudget(1, receiver);
        var other = new OpenFileBudget(5, receiver);
        byte[] data = Data(3 * Shard, 8);
        PartialFile File(string name, OpenFileBudget writing, ulong session) =>
            new(0, new ManifestEntry(EntryKind.File, name, data.Length, Mode, 0, null), Path.Combine(temp.Path, name), Shard, durable: true, session: session, writing: writing);

        // A sender past its session's limit breaks the protocol.
        var a = File("a.bin", one, 1);
        Assert.True(a.TryClaim(0, out _));
        var overSession = Assert.Throws<ProtocolViolationException>(() => File("b.bin", one, 1).TryClaim(0, out _));
        Assert.Equal(ErrorCode.LimitExceeded, overSession.Code);

        // Sessions together past the receiver's share: the receiver is busy, which a sender retries.
        var c = File("c.bin", other, 2);
        Assert.False(WriteShards(c, data, 0, 1));
        var overReceiver = Assert.Throws<SingularityException>(() => File("d.bin", other, 2).TryClaim(0, out _));
        Assert.Equal(ErrorCode.Busy, overReceiver.Code);

        // A failed session's file closes and gives its place back; a finished one does too.
        a.Abandon();
        var e = File("e.bin", other, 2);
        Assert.True(e.TryClaim(0, out _));
        Assert.True(WriteShards(c, data, 1, 3));
        Assert.True(File("f.bin", other, 2).TryClaim(0, out _));
    }

    [Theory]
    [InlineData(1000)]
    [InlineData(3 * Shard + 5)]
    public void A_name_as_long_as_the_file_system_allows_gets_a_temporary_name_that_fits(int size)
    {
        using var temp = new TempDirectory();
        string name = new string('n', 200) + new string('é', 27);
        Assert.Equal(254, System.Text.Encoding.UTF8.GetByteCount(name));
        string final = Path.Combine(temp.Path, name);
        byte[] data = Data(size, 5);
        var file = Partial(final, size, session: 0xfeed);

        Assert.True(WriteShards(file, data, 0, file.ShardCount));
        SealAndCommit(file, data);

        Assert.NotEqual(PartialFile.TemporaryName(name, null), PartialFile.TemporaryName(new string('n', 200) + new string('é', 26) + "x", null));
    }

    /// <summary>A record of <paramref name="entry"/> to be written into <paramref name="target"/> where it stands, as it stands now, none of its shards offered.</summary>
    private static PartialFile InPlaceAt(string target, ManifestEntry entry)
    {
        using var standing = SpecialFiles.OpenRegularNotFollowing(target)!;
        var basis = new InPlaceBasis(SpecialFiles.VersionOf(standing)!.Value, RandomAccess.GetLength(standing), new Dictionary<int, ulong>());
        return new PartialFile(0, entry, target, Shard, durable: true, session: 1, preallocate: false, inPlace: basis);
    }

    /// <summary>
    /// A file to be written in place opens only the file whose shards were read, as it was then: one written to since,
    /// one a local user swapped in at its name (renamed over it), and a link there are refused, as busy, so the sender
    /// sends it again; a second session writing the same file in place is refused while the first holds it, and a
    /// session that gives up leaves the file as it stands.
    /// </summary>
    [SkippableFact]
    public void A_file_written_in_place_opens_only_the_file_it_read()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "files are written in place on Linux receivers");
        using var temp = new TempDirectory();
        string target = TestFiles.Create(Path.Combine(temp.Path, "f"), 2 * Shard, seed: 1);
        var entry = new ManifestEntry(EntryKind.File, "f", 2 * Shard, Mode, 0, null);
        PartialFile InPlace() => InPlaceAt(target, entry);

        byte[] before = File.ReadAllBytes(target);
        var first = InPlace();
        Assert.True(first.TryClaim(0, out _));
        Assert.Equal(ErrorCode.Busy, Assert.Throws<SingularityException>(() => InPlace().TryClaim(0, out _)).Code);
        first.Abandon();
        Assert.Equal(before, File.ReadAllBytes(target));

        var written = InPlace();
        using (var file = File.OpenHandle(target, FileMode.Open, FileAccess.Write)) RandomAccess.Write(file, "x"u8, 10);
        Assert.Equal(ErrorCode.Busy, Assert.Throws<SingularityException>(() => written.TryClaim(0, out _)).Code);

        var swapped = InPlace();
        string other = TestFiles.Create(Path.Combine(temp.Path, "g"), 2 * Shard, seed: 2);
        File.Move(other, target, overwrite: true);
        Assert.Equal(ErrorCode.Busy, Assert.Throws<SingularityException>(() => swapped.TryClaim(0, out _)).Code);

        var linked = InPlace();
        string elsewhere = TestFiles.Create(Path.Combine(temp.Path, "elsewhere"), 2 * Shard, seed: 3);
        File.Move(target, Path.Combine(temp.Path, "moved"));
        File.CreateSymbolicLink(target, elsewhere);
        Assert.Equal(ErrorCode.Busy, Assert.Throws<SingularityException>(() => linked.TryClaim(0, out _)).Code);
    }

    /// <summary>
    /// A file written in place lets go of its lock when abandoned or committed, before its handle closes: a child
    /// process started meanwhile (here, copies of the descriptor as it would hold them until its exec) kept it held,
    /// and the next session writing the file was refused as busy.
    /// </summary>
    [SkippableFact]
    public void A_file_written_in_place_lets_go_of_its_lock_before_it_closes()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "files are written in place on Linux receivers");
        using var temp = new TempDirectory();
        byte[] data = Data(2 * Shard, 7);
        string target = TestFiles.Create(Path.Combine(temp.Path, "f"), 2 * Shard, seed: 6);
        var entry = new ManifestEntry(EntryKind.File, "f", 2 * Shard, Mode, 0, null);
        PartialFile InPlace() => InPlaceAt(target, entry);

        void Unlocked(string after)
        {
            using var handle = SpecialFiles.OpenRegularNotFollowing(target)!;
            Assert.True(SpecialFiles.TryLockExclusive(handle), $"the file is still locked after {after}");
        }

        var abandoned = InPlace();
        Assert.True(abandoned.TryClaim(0, out _));
        using (DescriptorCopies.Of(target))
        {
            abandoned.Abandon();
            Unlocked("its abandon");
        }
        var committed = InPlace();
        Assert.True(WriteShards(committed, data, 0, 2));
        using (DescriptorCopies.Of(target))
        {
            SealAndCommit(committed, data);
            Unlocked("its commit");
        }
    }

    /// <summary>
    /// A file written in place whose whole-file digest fails keeps what was written, never the source's time, so the
    /// next send's quick check sends it again; one whose digest holds gets the source's length and time at its commit.
    /// </summary>
    [SkippableFact]
    public void A_file_written_in_place_gets_its_time_only_once_its_digest_holds()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "files are written in place on Linux receivers");
        using var temp = new TempDirectory();
        string target = TestFiles.Create(Path.Combine(temp.Path, "f"), 3 * Shard, seed: 4);
        byte[] data = Data(2 * Shard, seed: 5);
        var mtime = new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var entry = new ManifestEntry(EntryKind.File, "f", data.Length, Mode, SourceScanner.ToNanoseconds(mtime), null);
        PartialFile InPlace() => InPlaceAt(target, entry);

        var wrong = InPlace();
        Assert.True(WriteShards(wrong, data, 0, 2));
        Assert.True(wrong.Seal(12345));
        Assert.True(wrong.TryBeginCommit());
        Assert.Throws<IntegrityException>(wrong.Commit);
        Assert.NotEqual(mtime, File.GetLastWriteTimeUtc(target));

        var right = InPlace();
        Assert.True(WriteShards(right, data, 0, 2));
        SealAndCommit(right, data);
        Assert.Equal(mtime, File.GetLastWriteTimeUtc(target));
    }
}
