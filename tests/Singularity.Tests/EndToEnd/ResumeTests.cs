using System.Diagnostics;
using Singularity.Engine;
using Singularity.Engine.Integrity;
using Singularity.Engine.Protocol;
using Singularity.Engine.Security;
using Singularity.Engine.Storage;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>An interrupted transfer started again sends only what the receiver does not already hold, verified.</summary>
public sealed class ResumeTests
{
    private static readonly TransferOptions Small = new() { ShardSize = 64 << 10, Lanes = 2, MaxInFlightBytes = 1 << 20 };

    /// <summary>Runs a send through a relay that cuts every connection once the lanes carried <paramref name="after"/> bytes.</summary>
    private static async Task InterruptAsync(string source, LoopbackReceiver receiver, long after)
    {
        await using var relay = new TcpRelay(receiver.Url);
        relay.CutAllOnce((connection, forwarded) => connection > 0 && forwarded > after / Small.Lanes);
        await Assert.ThrowsAnyAsync<SingularityException>(() => SingularitySender.SendAsync([source], relay.Url, Small));
        var failed = await receiver.NextResultAsync();
        Assert.False(failed.Succeeded);
    }

    [Fact]
    public async Task A_partial_that_replaced_a_leftover_link_keeps_its_journal_and_resumes()
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "f.bin"), 8 << 20, seed: 32);
        string destination = temp.Sub("dst");
        string outside = TestFiles.Create(Path.Combine(temp.Sub("outside"), "victim"), 10, seed: 33);
        File.CreateSymbolicLink(Path.Combine(destination, ".f.bin.sglty-part"), outside);
        await using var receiver = new LoopbackReceiver(destination);

        await InterruptAsync(source, receiver, 4 << 20);
        var partial = Assert.Single(PartialFiles.Find(destination));
        Assert.NotNull(partial.JournalPath);
        Assert.True(File.Exists(partial.JournalPath));
        Assert.Equal(10, new FileInfo(outside).Length);

        var result = await SingularitySender.SendAsync([source], receiver.Url, Small);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameBytes(source, Path.Combine(destination, "f.bin"));
        Assert.True(result.BytesSkipped > 0, "nothing was resumed");
    }

    [Fact]
    public async Task A_restarted_transfer_sends_only_the_missing_shards()
    {
        using var temp = new TempDirectory();
        long size = 8 << 20;
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "f.bin"), size, seed: 31);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);

        await InterruptAsync(source, receiver, 4 << 20);
        var partial = Assert.Single(PartialFiles.Find(destination));
        Assert.NotNull(partial.JournalPath);
        Assert.False(File.Exists(Path.Combine(destination, "f.bin")));

        var result = await SingularitySender.SendAsync([source], receiver.Url, Small);

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameBytes(source, Path.Combine(destination, "f.bin"));
        Assert.True(result.BytesSkipped > 0, "nothing was resumed");
        Assert.Equal(size, result.BytesSkipped + result.BytesSent - result.Retransmits * 0);
        Assert.Empty(PartialFiles.Find(destination));
    }

    /// <summary>
    /// A partial left by a send with 64 KiB shards (shards 0-9 and 20-39 of 128 journaled) is resumed by a send with
    /// other shards, larger, smaller, or of no common multiple: every new shard wholly within the journaled bytes is
    /// kept, and only the rest travels. The receiver tells a delta send it is at work while it reads the partial again,
    /// and not a plain one, which would refuse it.
    /// </summary>
    [Theory]
    [InlineData(256 << 10, false)]
    [InlineData(16 << 10, false)]
    [InlineData(96 << 10, false)]
    [InlineData(PartialFixtures.Shard, false)]
    [InlineData(16 << 10, true)]
    public async Task A_partial_left_with_other_shards_is_resumed_in_this_sends_shards(int shardSize, bool delta)
    {
        using var temp = new TempDirectory();
        byte[] data = PartialFixtures.Data(128 * PartialFixtures.Shard, seed: 38);
        string source = PartialFixtures.Source(Path.Combine(temp.Sub("src"), "f.bin"), data);
        string destination = temp.Sub("dst");
        var earlier = PartialFixtures.Partial(Path.Combine(destination, "f.bin"), data.Length, session: 1);
        PartialFixtures.WriteShards(earlier, data, 0, 10);
        PartialFixtures.WriteShards(earlier, data, 20, 40);
        earlier.Abandon();
        (long Start, long End)[] journaled = [(0, 10 * PartialFixtures.Shard), (20 * PartialFixtures.Shard, 40 * PartialFixtures.Shard)];
        long kept = Enumerable.Range(0, data.Length / shardSize + 1)
            .Select(index => (Start: (long)index * shardSize, End: Math.Min((long)(index + 1) * shardSize, data.Length)))
            .Where(shard => shard.End > shard.Start && journaled.Any(run => run.Start <= shard.Start && shard.End <= run.End))
            .Sum(shard => shard.End - shard.Start);
        await using var receiver = new LoopbackReceiver(destination, adjust: options => options with { StillWorkingInterval = TimeSpan.Zero });

        var result = await SingularitySender.SendAsync([source], receiver.Url, Small with { ShardSize = shardSize, Delta = delta });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameBytes(source, Path.Combine(destination, "f.bin"));
        Assert.Equal((kept, data.Length - kept), (result.BytesSkipped, result.BytesSent));
        Assert.Empty(PartialFiles.Find(destination));
    }

    /// <summary>
    /// The bytes a journal of other shards vouched for are read again, not taken on its word: a byte of the partial
    /// changed since is found by the sender's digests, and its shard travels.
    /// </summary>
    [Fact]
    public async Task A_partial_left_with_other_shards_is_read_again_and_a_changed_byte_travels()
    {
        using var temp = new TempDirectory();
        byte[] data = PartialFixtures.Data(16 * PartialFixtures.Shard, seed: 39);
        string source = PartialFixtures.Source(Path.Combine(temp.Sub("src"), "f.bin"), data);
        string destination = temp.Sub("dst");
        PartialFixtures.LeaveJournaled(Path.Combine(destination, "f.bin"), data, shards: 8);
        using (var partial = new FileStream(Path.Combine(destination, ".f.bin.sglty-part"), FileMode.Open, FileAccess.Write))
        {
            partial.Position = 100_000;
            partial.WriteByte((byte)(data[100_000] ^ 0xFF));
        }
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([source], receiver.Url, Small with { ShardSize = 32 << 10 });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameBytes(source, Path.Combine(destination, "f.bin"));
        Assert.Equal(8 * PartialFixtures.Shard - (32 << 10), result.BytesSkipped);
    }

    /// <summary>
    /// Reading a partial of other shards again is told to a sender that takes StillWorking before the manifest's
    /// acceptance (delta asked for), and to no other; for those, a chunk reads partials again only within its budget
    /// (none here: the partial is left as it is and offers nothing).
    /// </summary>
    [Theory]
    [InlineData(OpenSessionFlags.Delta, 0u, 30, true)]
    [InlineData(0, MoreSessionFlags.CopyDest, 30, true)]
    [InlineData(0, MoreSessionFlags.OmitDirectoryTimes, 30, false)]
    [InlineData(0, 0u, 30, false)]
    [InlineData(0, 0u, 0, false)]
    public async Task Reading_a_partial_again_is_told_to_a_sender_that_takes_it(ushort flags, uint more, int budgetSeconds, bool told)
    {
        using var temp = new TempDirectory();
        byte[] data = PartialFixtures.Data(32 * PartialFixtures.Shard, seed: 41);
        string destination = temp.Sub("dst");
        PartialFixtures.LeaveJournaled(Path.Combine(destination, "f"), data, shards: 32);
        string journal = Path.Combine(destination, ".f.sglty-state");
        byte[] before = File.ReadAllBytes(journal);
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { Cipher = CipherSuite.None }, adjust: options => options with { StillWorkingInterval = TimeSpan.Zero, ReshardBudget = TimeSpan.FromSeconds(budgetSeconds) });
        await using var peer = await RawPeer.ConnectAsync(receiver.Url);
        await peer.HelloAsync(Singularity.Engine.Protocol.ConnectionRole.Control, receiver.Token);
        await peer.SendControlAsync(ControlMessageType.OpenSession, RawPeer.OpenSession(shardSize: 16 << 10, lanes: 1, entries: 1, totalBytes: data.Length, flags: flags, more: more == 0 ? null : more));
        await peer.SendControlAsync(ControlMessageType.ManifestChunk, RawPeer.Manifest(new ManifestEntry(EntryKind.File, "f", data.Length, PartialFixtures.Mode, 0, null)));

        var seen = new List<ControlMessageType>();
        Assert.NotNull(await peer.ReadUntilAsync(ControlMessageType.ManifestAccepted, seen.Add));

        Assert.Equal(told, seen.Contains(ControlMessageType.StillWorking));
        Assert.Equal(budgetSeconds > 0, seen.Contains(ControlMessageType.ResumeOffer));
        if (budgetSeconds == 0) Assert.Equal(before, File.ReadAllBytes(journal));
    }

    /// <summary>
    /// The partial of f.bin in <paramref name="directory"/> as a failed session of 64 KiB shards leaves it, its first 4
    /// of 8 shards journaled: the file's bytes, the partial's and the journal's paths, and the file's entry.
    /// </summary>
    private static (byte[] Data, string Partial, string Journal, ManifestEntry Entry) HalfJournaled(string directory, int seed)
    {
        byte[] data = PartialFixtures.Data(8 * PartialFixtures.Shard, seed);
        string final = Path.Combine(directory, "f.bin");
        PartialFixtures.LeaveJournaled(final, data, shards: 4);
        string partial = PartialFile.ResumablePathFor(final);
        return (data, partial, ResumeJournal.PathFor(partial), new ManifestEntry(EntryKind.File, "f.bin", data.Length, PartialFixtures.Mode, 0, null));
    }

    /// <summary>A read again that is told to stop (a chunk's time for it is up) keeps the shards it hashed whole, and nothing after them.</summary>
    [SkippableFact]
    public void A_read_again_stopped_part_way_keeps_what_it_hashed()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "partials are read again where a link at their name is never followed");
        using var temp = new TempDirectory();
        var (data, partial, _, entry) = HalfJournaled(temp.Path, seed: 42);
        int reads = 0;

        // Shards of 16 KiB are read one at a time: the fifth read is told to stop.
        Assert.Equal(4, JournalReshard.Reshard(partial, entry, 16 << 10, int.MaxValue, long.MaxValue, 4 << 10, () => ++reads < 5));

        Assert.Equal(Enumerable.Range(0, 4).Select(index => (index, Digests.Shard(data.AsSpan(index * (16 << 10), 16 << 10)))), PartialFixtures.JournalRecords(ResumeJournal.PathFor(partial)));
    }

    /// <summary>
    /// A read again lets go of its locks on the journal and the partial before it closes them: a child process started
    /// meanwhile (here, copies of the descriptors as it would hold them until its exec) kept them held, and the file's
    /// preparation, which loads the rewritten journal next, found it locked and offered nothing (seen once in a full
    /// run of the tests, where other tests start processes: every shard travelled again).
    /// </summary>
    [SkippableFact]
    public void A_read_again_lets_go_of_its_locks_before_a_child_process_could_keep_them()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "partials are read again where a link at their name is never followed");
        using var temp = new TempDirectory();
        var (data, partial, journal, entry) = HalfJournaled(temp.Path, seed: 43);
        var copies = new List<DescriptorCopies>();

        try
        {
            Assert.Equal(16, JournalReshard.Reshard(partial, entry, 16 << 10, int.MaxValue, long.MaxValue, 4 << 10, () =>
            {
                if (copies.Count == 0) copies.AddRange([DescriptorCopies.Of(journal), DescriptorCopies.Of(partial)]);
                return true;
            }));

            Assert.Equal(16, ResumeJournal.Load(journal, data.Length, 0, 16 << 10, 32).Count);
            foreach (string path in (string[])[journal, partial])
            {
                using var handle = SpecialFiles.OpenRegularNotFollowing(path)!;
                Assert.True(SpecialFiles.TryLockExclusive(handle), $"{path} is still locked");
            }
        }
        finally
        {
            copies.ForEach(copy => copy.Dispose());
        }
    }

    /// <summary>
    /// A journal or partial another session holds (writing the file) is left as it is: that session's records stand.
    /// So is a partial that is a link (never followed, to a file outside the destination) or a FIFO (never waited on).
    /// An old shard that ends beyond the partial's length is not trusted, as at any resume.
    /// </summary>
    [SkippableFact]
    public void Only_a_partial_no_one_holds_is_read_again_and_only_what_it_holds_whole()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "partials are read again where a link at their name is never followed");
        using var temp = new TempDirectory();
        var (data, partial, journal, entry) = HalfJournaled(temp.Sub("dst"), seed: 40);
        byte[] before = File.ReadAllBytes(journal);
        int Reshard() => JournalReshard.Reshard(partial, entry, 16 << 10, int.MaxValue, long.MaxValue, 4 << 10, () => true);

        using (new FileStream(journal, FileMode.Open, FileAccess.Read, FileShare.None))
            Assert.Equal(0, Reshard());
        using (new FileStream(partial, FileMode.Open, FileAccess.Read, FileShare.None))
            Assert.Equal(0, Reshard());
        string held = Path.Combine(temp.Path, "outside");
        File.Move(partial, held);
        File.CreateSymbolicLink(partial, held);
        Assert.Equal(0, Reshard());
        File.Delete(partial);
        Assert.Equal(0, Process.Start("mkfifo", [partial]).WaitForExitAsync().ContinueWith(_ => 0).Result);
        Assert.Equal(0, Reshard());
        File.Delete(partial);
        File.Move(held, partial);
        Assert.Equal(before, File.ReadAllBytes(journal));

        // Three shards and 20 KiB of the fourth were written: the fourth is not trusted.
        using (var cut = new FileStream(partial, FileMode.Open)) cut.SetLength(3 * PartialFixtures.Shard + (20 << 10));
        Assert.Equal(12, Reshard());
        Assert.Equal(Enumerable.Range(0, 12).Select(index => (index, Digests.Shard(data.AsSpan(index * (16 << 10), 16 << 10)))), PartialFixtures.JournalRecords(journal));
    }

    [Fact]
    public async Task A_changed_source_is_not_resumed_from_the_stale_partial()
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "f.bin"), 4 << 20, seed: 32);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);
        await InterruptAsync(source, receiver, 2 << 20);

        TestFiles.Create(source, 4 << 20, seed: 33);
        var result = await SingularitySender.SendAsync([source], receiver.Url, Small);

        TestFiles.AssertSameBytes(source, Path.Combine(destination, "f.bin"));
        Assert.Equal(0, result.BytesSkipped);
        Assert.Equal(4 << 20, result.BytesSent);
    }

    [Fact]
    public async Task A_shard_changed_under_an_unchanged_mtime_is_detected_and_sent_again()
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "f.bin"), 4 << 20, seed: 34);
        var mtime = File.GetLastWriteTimeUtc(source);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);
        await InterruptAsync(source, receiver, 3 << 20);

        // Change the first shard's bytes (it was surely sent) and put the mtime back.
        using (var stream = new FileStream(source, FileMode.Open, FileAccess.Write))
            stream.Write(new byte[1000]);
        File.SetLastWriteTimeUtc(source, mtime);
        var result = await SingularitySender.SendAsync([source], receiver.Url, Small);

        TestFiles.AssertSameBytes(source, Path.Combine(destination, "f.bin"));
        Assert.True(result.BytesSkipped > 0);
        Assert.True(result.BytesSent >= 64 << 10, "the changed shard was not sent");
    }

    [Fact]
    public async Task The_sender_retries_by_itself_and_resumes()
    {
        using var temp = new TempDirectory();
        long size = 8 << 20;
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "f.bin"), size, seed: 35);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);
        await using var relay = new TcpRelay(receiver.Url);
        // Once, when a lane has carried 2 MiB, every connection of that session is cut.
        relay.CutAllOnce((connection, forwarded) => connection is >= 1 and <= 2 && forwarded > (2 << 20));
        var events = new List<string>();

        var result = await SingularitySender.SendAsync([source], relay.Url, Small with { Retries = 3 }, null, line => { lock (events) events.Add(line); });

        TestFiles.AssertSameBytes(source, Path.Combine(destination, "f.bin"));
        Assert.Equal(1, result.Retries);
        Assert.Contains(events, e => e.StartsWith("retry 1 in 1 s", StringComparison.Ordinal));
        Assert.True(result.BytesSkipped > 0);
        // At most what was unacknowledged (the window) plus what was acknowledged but not yet journaled (16 shards) travels twice.
        Assert.True(result.BytesSent <= size + Small.MaxInFlightBytes + 16 * Small.ShardSize, $"sent {result.BytesSent} of {size}");
    }

    /// <summary>
    /// A receiver stopped part way, as a service restart stops it, tells the sender it is shutting down: the sender
    /// retries, as after a crash, and resumes from the receiver started again at the same address.
    /// </summary>
    [Fact]
    public async Task A_receiver_stopped_part_way_and_started_again_is_retried()
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "f.bin"), 8 << 20, seed: 36);
        string destination = temp.Sub("dst");
        await using var receiver = new StopsPartWay(destination);
        var events = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var send = SingularitySender.SendAsync([source], receiver.Relay.Url, Small with { Retries = 3 }, null, events.Enqueue);

        await receiver.StopAsync();
        await using var second = receiver.StartAgain();
        receiver.Release();
        var result = await send;

        TestFiles.AssertSameBytes(source, Path.Combine(destination, "f.bin"));
        Assert.Equal(1, result.Retries);
        Assert.Contains(events, e => e.StartsWith("retry 1 in 1 s", StringComparison.Ordinal) && e.EndsWith("the receiver is shutting down", StringComparison.Ordinal));
    }

    /// <summary>
    /// Not retried (--retries 0), a receiver stopped part way ends the send as a connection lost (exit 10), not as a
    /// send cancelled here, and the line says that the same send again resumes what arrived; and it does.
    /// </summary>
    [Fact]
    public async Task A_receiver_stopped_part_way_without_retries_is_a_connection_lost_that_resumes()
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "f.bin"), 8 << 20, seed: 37);
        string destination = temp.Sub("dst");
        await using var receiver = new StopsPartWay(destination);
        var send = SingularitySender.SendAsync([source], receiver.Relay.Url, Small with { Retries = 0 });

        await receiver.StopAsync();
        receiver.Release();
        var error = await Assert.ThrowsAnyAsync<SingularityException>(() => send);

        Assert.Equal(ErrorCode.ConnectionLost, error.Code);
        Assert.EndsWith("; the same send again resumes what arrived", error.Message);
        await using var second = receiver.StartAgain();
        var again = await SingularitySender.SendAsync([source], receiver.Relay.Url, Small);
        TestFiles.AssertSameBytes(source, Path.Combine(destination, "f.bin"));
        Assert.True(again.BytesSkipped > 0);
    }

    /// <summary>
    /// A receiver whose first session stops part way, as a service restart stops it: a relay holds the session's lanes
    /// once they carried 2 MiB, <see cref="StopAsync"/> then stops the receiver, and <see cref="Release"/> lets the
    /// lanes go on to find it stopped; <see cref="StartAgain"/> starts one at the same address, with the same token.
    /// </summary>
    private sealed class StopsPartWay : IAsyncDisposable
    {
        private readonly string _destination;
        private readonly LoopbackReceiver _first;
        private readonly System.Net.IPEndPoint _endpoint;
        private readonly TaskCompletionSource _held = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private bool _stopped;

        public StopsPartWay(string destination)
        {
            _destination = destination;
            _first = new LoopbackReceiver(destination);
            _endpoint = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, _first.Receiver.LocalEndPoint.Port);
            Relay = new TcpRelay(_first.Url)
            {
                Hold = (connection, forwarded) =>
                {
                    if (_released.Task.IsCompleted || connection is not (1 or 2) || forwarded <= (2 << 20)) return Task.CompletedTask;
                    _held.TrySetResult();
                    return _released.Task;
                },
            };
        }

        public TcpRelay Relay { get; }

        public async Task StopAsync()
        {
            await _held.Task.WaitAsync(TimeSpan.FromMinutes(2));
            _stopped = true;
            await _first.DisposeAsync();
        }

        public void Release() => _released.TrySetResult();

        public LoopbackReceiver StartAgain() => new(_destination, listen: _endpoint, token: _first.Token);

        public async ValueTask DisposeAsync()
        {
            Release();
            await Relay.DisposeAsync();
            if (!_stopped) await _first.DisposeAsync();
        }
    }

    /// <summary>
    /// A receiver that answered once and then does not answer a retry's handshake in time (paused, or overloaded) is
    /// retried again, where one that never answered is taken for something other than a receiver.
    /// </summary>
    [Fact]
    public async Task A_receiver_silent_in_a_retry_handshake_is_retried_again()
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "f.bin"), 8 << 20, seed: 37);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);
        await using var relay = new TcpRelay(receiver.Url);
        relay.CutAllOnce((connection, forwarded) => connection is 1 or 2 && forwarded > (2 << 20));
        // The first retry's control connection (the fourth) reaches the receiver only after its handshake timed out.
        var released = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        relay.Hold = (connection, _) => connection == 3 ? released.Task : Task.CompletedTask;
        var events = new System.Collections.Concurrent.ConcurrentQueue<string>();

        var result = await SingularitySender.SendAsync([source], relay.Url, Small with { Retries = 3, HandshakeTimeout = TimeSpan.FromSeconds(1) }, null, line =>
        {
            events.Enqueue(line);
            if (line.Contains("did not answer the handshake", StringComparison.Ordinal)) released.TrySetResult();
        });

        TestFiles.AssertSameBytes(source, Path.Combine(destination, "f.bin"));
        Assert.Equal(2, result.Retries);
        Assert.Contains(events, e => e.EndsWith("did not answer the handshake within 1 s; the receiver may be paused or overloaded", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Committed_files_are_not_sent_again_on_retry()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        for (int i = 0; i < 40; i++) TestFiles.Create(Path.Combine(tree, $"f{i:00}.bin"), 200_000, seed: i);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);
        await using var relay = new TcpRelay(receiver.Url);
        relay.CutAllOnce((connection, forwarded) => connection == 1 && forwarded > (3 << 20));

        var reports = new System.Collections.Concurrent.ConcurrentQueue<TransferProgress>();

        var result = await SingularitySender.SendAsync([tree], relay.Url, Small with { Retries = 2, Lanes = 1 }, new SynchronousProgress(reports.Enqueue));

        TestFiles.AssertSameTree(tree, Path.Combine(destination, "tree"));
        Assert.Equal(1, result.Retries);
        Assert.True(result.BytesSent < 40 * 200_000 + (2 << 20), $"sent {result.BytesSent}");
        // Progress covers the whole send over both attempts: its totals stay, files committed are never counted
        // again from nothing (bytes of files not yet committed may be, until their kept shards are confirmed), and
        // between the attempts no lane is shown up.
        Assert.All(reports, p => Assert.Equal((40L * 200_000, 40), (p.TotalBytes, p.TotalFiles)));
        Assert.All(reports, p => Assert.True(p.BytesAcknowledged >= p.FilesCommitted * 200_000L));
        var committed = reports.Select(p => p.FilesCommitted).ToList();
        Assert.Equal(committed.Order(), committed);
        Assert.Contains(reports, p => p.ActiveLanes == 0 && p.BytesAcknowledged > 0 && p.FilesCommitted < 40);
        Assert.Equal((40L * 200_000, 40), (reports.Last().BytesAcknowledged, reports.Last().FilesCommitted));
    }

    /// <summary>
    /// A file that shrank to one shard since an interrupted send of its larger version cannot be resumed from that
    /// partial: the partial and its journal go when it arrives, instead of staying beside it for good.
    /// </summary>
    [Fact]
    public async Task A_partial_of_a_larger_version_goes_when_a_file_of_one_shard_arrives()
    {
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        PartialFixtures.LeaveJournaled(Path.Combine(destination, "f.bin"), new byte[3 * PartialFixtures.Shard], shards: 2);
        Assert.Equal(2, Directory.GetFiles(destination).Length);
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "f.bin"), 1000, seed: 5);
        await using var receiver = new LoopbackReceiver(destination);

        await SingularitySender.SendAsync([source], receiver.Url, Small with { ShardSize = PartialFixtures.Shard, SkipUnchanged = true });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameBytes(source, Path.Combine(destination, "f.bin"));
        Assert.Equal([Path.Combine(destination, "f.bin")], Directory.GetFiles(destination));
    }

    [Fact]
    public void Partials_can_be_listed_and_cleaned_by_age()
    {
        using var temp = new TempDirectory();
        string old = TestFiles.Create(Path.Combine(temp.Path, "a", ".old.bin.sglty-part"), 100);
        File.WriteAllBytes(Path.Combine(temp.Path, "a", ".old.bin.sglty-state"), new byte[64]);
        string fresh = TestFiles.Create(Path.Combine(temp.Path, ".new.bin.sglty-part"), 10);
        File.SetLastWriteTimeUtc(old, DateTime.UtcNow.AddDays(-10));
        File.SetLastWriteTimeUtc(Path.Combine(temp.Path, "a", ".old.bin.sglty-state"), DateTime.UtcNow.AddDays(-10));

        Assert.Equal(2, PartialFiles.Find(temp.Path).Count);
        var removed = PartialFiles.Clean(temp.Path, TimeSpan.FromDays(7));

        Assert.Equal(old, Assert.Single(removed).Path);
        Assert.False(File.Exists(old));
        Assert.False(File.Exists(Path.Combine(temp.Path, "a", ".old.bin.sglty-state")));
        Assert.True(File.Exists(fresh));
    }
}
