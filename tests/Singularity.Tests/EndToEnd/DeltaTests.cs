using Singularity.Engine;
using Singularity.Engine.Integrity;
using Singularity.Engine.Protocol;
using Singularity.Engine.Security;
using Singularity.Engine.Storage;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// With <see cref="TransferOptions.Delta"/>, a changed file's partial is seeded from the version at its name, and only
/// the shards whose bytes differ travel; every file still arrives byte for byte, whatever the old version held.
/// </summary>
public sealed class DeltaTests
{
    private const int Shard = 256 << 10;
    private static readonly TransferOptions Delta = new() { ShardSize = Shard, Delta = true };

    /// <summary>A sender from before sums alone: the receiver seeds its changed files, and sends the sums of what it copied.</summary>
    private static readonly TransferOptions Seeded = Delta with { Capabilities = WireFormat.CapabilityPatches };

    /// <summary>Writes <paramref name="bytes"/> over <paramref name="path"/> at <paramref name="offset"/>.</summary>
    private static void Overwrite(string path, long offset, byte[] bytes)
    {
        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Write);
        RandomAccess.Write(file, bytes, offset);
    }

    /// <summary>
    /// Opens a session by hand with <paramref name="flags"/> and announces one file, "f" of 9 MiB in shards of 1 MiB;
    /// returns the control messages up to its acceptance. <paramref name="accepted"/> runs then, before the session is
    /// cut off.
    /// </summary>
    private static async Task<List<ControlMessageType>> AnnounceAsync(LoopbackReceiver receiver, ushort flags, Func<RawPeer, Task> accepted)
    {
        var seen = new List<ControlMessageType>();
        await using var peer = await RawPeer.ConnectAsync(receiver.Url);
        await SendOneFileManifestAsync(peer, receiver, flags, 9L << 20);
        Assert.NotNull(await peer.ReadUntilAsync(ControlMessageType.ManifestAccepted, seen.Add));
        await accepted(peer);
        return seen;
    }

    /// <summary>Opens a session by hand with <paramref name="flags"/>, and sends the manifest of one file, "f" of <paramref name="size"/> bytes in shards of 1 MiB.</summary>
    private static async Task SendOneFileManifestAsync(RawPeer peer, LoopbackReceiver receiver, ushort flags, long size)
    {
        await peer.HelloAsync(ConnectionRole.Control, receiver.Token);
        await peer.SendControlAsync(ControlMessageType.OpenSession, RawPeer.OpenSession(shardSize: 1 << 20, lanes: 1, entries: 1, totalBytes: size, flags: flags));
        await peer.SendControlAsync(ControlMessageType.ManifestChunk, RawPeer.Manifest(new ManifestEntry(EntryKind.File, "f", size, UnixFileMode.UserRead | UnixFileMode.UserWrite, 0, null)));
    }

    /// <summary>Appends <paramref name="bytes"/> random bytes to <paramref name="path"/>, as a log grows.</summary>
    private static void Append(string path, int bytes, int seed)
    {
        byte[] tail = new byte[bytes];
        new Random(seed).NextBytes(tail);
        using var log = new FileStream(path, FileMode.Append);
        log.Write(tail);
    }

    /// <summary>Seeds the partial of <paramref name="entry"/> from <paramref name="target"/>, as a delta send cut off after its seeding leaves it.</summary>
    private static void SeedAsAnInterruptedSendWould(string target, ManifestEntry entry, int shards) =>
        Assert.Equal(shards, BasisSeed.Seed(target, PartialFile.ResumablePathFor(target), entry, Shard, int.MaxValue, sparse: false, alive: () => { }));

    /// <summary>A copy of <paramref name="source"/> at the destination, a day older, as an earlier send left it.</summary>
    /// <summary>The manifest entry a send of <paramref name="source"/> as "f" gives, for a partial made as a session would leave it.</summary>
    private static ManifestEntry EntryOf(string source) =>
        new(EntryKind.File, "f", new FileInfo(source).Length, (UnixFileMode)0x1A4, SourceScanner.ToNanoseconds(File.GetLastWriteTimeUtc(source)), null);

    private static void CopyAsOlder(string source, string destination)
    {
        File.Copy(source, destination);
        File.SetLastWriteTimeUtc(destination, File.GetLastWriteTimeUtc(source).AddDays(-1));
    }

    /// <summary>A log that grew: the old version's whole shards stay, and only the new tail (with the shard the old end fell in) travels.</summary>
    [SkippableTheory]
    [InlineData(CipherSuite.None)]
    [InlineData(CipherSuite.Aes256Gcm)]
    public async Task A_grown_log_sends_only_its_new_tail(CipherSuite cipher)
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "a receiver seeds from old versions on Linux");
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "app.log"), 20L * Shard + 1000, seed: 3);
        string destination = temp.Sub("dst");
        File.Copy(source, Path.Combine(destination, "app.log"));
        Append(source, 3 * Shard, seed: 4);
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { Cipher = cipher });

        var result = await SingularitySender.SendAsync([source], receiver.Url, Delta with { Cipher = cipher });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameBytes(source, Path.Combine(destination, "app.log"));
        Assert.Equal(20L * Shard, result.BytesMatched);
        Assert.Equal(new FileInfo(source).Length - 20L * Shard, result.BytesSent);
        Assert.Equal(0, result.BytesSkipped);
        Assert.Equal(File.GetLastWriteTimeUtc(source), File.GetLastWriteTimeUtc(Path.Combine(destination, "app.log")));
        Assert.Empty(Directory.GetFiles(destination, ".*"));
    }

    /// <summary>A file written in place (a disk image, a database) sends the blocks it changed, its changed shards as patches; one that shrank sends nothing its old version held.</summary>
    [SkippableTheory]
    [InlineData("changed in place", true)]
    [InlineData("changed in place", false)]
    [InlineData("shrank", true)]
    [InlineData("shrank", false)]
    public async Task Only_the_shards_that_differ_travel(string change, bool sumsAlone)
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "a receiver seeds from old versions on Linux");
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "disk.img"), 12L * Shard, seed: 5);
        CopyAsOlder(source, Path.Combine(destination, "disk.img"));
        long expected;
        if (change == "shrank")
        {
            // Ends within a shard, which the old version holds whole: seeded, the shorter last shard matches too;
            // summed alone, its 777 bytes are less than a block, which alone a patch may copy, and travel.
            using (var file = new FileStream(source, FileMode.Open)) file.SetLength(7L * Shard + 777);
            expected = sumsAlone ? 777 : 0;
        }
        else
        {
            Overwrite(source, 3L * Shard + 10, [1, 2, 3]);
            // Across the boundary between shards 7 and 8.
            Overwrite(source, 8L * Shard - 2, [9, 9, 9, 9]);
            // The three changed shards travel as patches: each carries the block its bytes changed, and copies the rest.
            expected = 3L * BlockSums.BlockSizeFor(12L * Shard, Shard);
        }
        File.SetLastWriteTimeUtc(source, DateTime.UtcNow);
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([source], receiver.Url, sumsAlone ? Delta : Seeded);

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameBytes(source, Path.Combine(destination, "disk.img"));
        Assert.Equal(expected, result.BytesSent);
        Assert.Equal(new FileInfo(source).Length - expected, result.BytesMatched);
    }

    /// <summary>
    /// Bytes inserted and removed early in a file move every shard after them: each then travels as a patch that
    /// copies from the old version what it still holds, wherever it moved, and carries the rest (rsync's rolling
    /// checksum). The file arrives byte for byte, plain or encrypted.
    /// </summary>
    [SkippableTheory]
    [InlineData(CipherSuite.None)]
    [InlineData(CipherSuite.Aes256Gcm)]
    public async Task Bytes_inserted_or_removed_early_travel_as_patches_of_what_moved(CipherSuite cipher)
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "a receiver seeds from old versions on Linux");
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "backup.tar"), 12L * Shard + 4321, seed: 21);
        CopyAsOlder(source, Path.Combine(destination, "backup.tar"));
        byte[] bytes = File.ReadAllBytes(source), inserted = new byte[1000];
        new Random(22).NextBytes(inserted);
        // A member grown by 1,000 bytes near the start, and 3,000 bytes gone in the middle.
        byte[] changed = [.. bytes[..5000], .. inserted, .. bytes[5000..(6 * Shard)], .. bytes[(6 * Shard + 3000)..]];
        File.WriteAllBytes(source, changed);
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { Cipher = cipher });

        var result = await SingularitySender.SendAsync([source], receiver.Url, Delta with { Cipher = cipher });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameBytes(source, Path.Combine(destination, "backup.tar"));
        // What was inserted, and at each shard's edges what a block cut there held: far from the 3 MiB that moved.
        long block = BlockSums.BlockSizeFor(changed.Length, Shard), shards = (changed.Length + Shard - 1) / Shard;
        Assert.InRange(result.BytesSent, 1000, 1000 + 2 * shards * block);
        Assert.Equal(changed.Length - result.BytesSent, result.BytesMatched);
        Assert.True(result.WireBytes < changed.Length / 20, $"{result.WireBytes} bytes on the wire");
        Assert.Empty(Directory.GetFiles(destination, ".*"));
    }

    /// <summary>
    /// A lane that goes silent with patches in flight (each holds little of the window) is replaced, and what it held is
    /// sent again as patches: sent whole, a lost lane's patches would send about the whole file again.
    /// </summary>
    [SkippableFact]
    public async Task Patches_lost_with_their_lane_are_sent_again_as_patches()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "a receiver reads old versions on Linux");
        const int shard = 1 << 20;
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst"), target = Path.Combine(destination, "f");
        string old = TestFiles.Create(Path.Combine(temp.Sub("old"), "f"), 64L * shard, seed: 50);
        // Ten bytes inserted at the start: every shard moved, and goes as a patch.
        string source = Path.Combine(temp.Sub("src"), "f");
        File.WriteAllBytes(source, [.. new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, .. File.ReadAllBytes(old)]);
        CopyAsOlder(old, target);
        File.SetLastWriteTimeUtc(source, DateTime.UtcNow);
        await using var receiver = new LoopbackReceiver(destination);
        await using var relay = new TcpRelay(receiver.Url);
        // The first lane to carry 4 KiB goes silent, and stays open.
        int chosen = -1;
        relay.Stall = (connection, forwarded) => connection >= 1 && forwarded > (4 << 10)
            && (Interlocked.CompareExchange(ref chosen, connection, -1) == -1 || Volatile.Read(ref chosen) == connection);

        var result = await SingularitySender.SendAsync([source], relay.Url, Delta with { ShardSize = shard, Lanes = 2, MaxInFlightBytes = 4 << 20, StallTimeout = TimeSpan.FromSeconds(1) });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameBytes(source, target);
        Assert.True(result.Retransmits > 0);
        // What was inserted and the blocks the shards' ends cut, a few MiB: not the 64 MiB of the file.
        Assert.InRange(result.BytesSent, 10, 8L << 20);
        // Each copy's literal bytes count as sent, the lost ones too; what the lost patches copied counts as matched once.
        Assert.InRange(result.BytesMatched, 64L * shard + 10 - result.BytesSent, 64L * shard);
    }

    /// <summary>
    /// When the user turns delta off, a changed file travels whole (on loopback, the default is off too: see
    /// PathFitTests). So it does when the receiver keeps no journals (no flushes), which seeding needs, for a sender
    /// that does not take sums alone (which is patched: see the next test), and when the receiver does not answer
    /// delta, which it may.
    /// </summary>
    [Theory]
    [InlineData("turned off")]
    [InlineData("receiver without flushes")]
    [InlineData("receiver without delta")]
    public async Task Without_delta_a_changed_file_travels_whole(string why)
    {
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "f"), 6L * Shard, seed: 6);
        CopyAsOlder(source, Path.Combine(destination, "f"));
        Overwrite(source, 0, [1]);
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { Durable = why != "receiver without flushes" },
            adjust: options => options with { Delta = why != "receiver without delta" });
        var options = why switch
        {
            "turned off" => Delta with { Delta = false },
            "receiver without flushes" => Seeded,
            _ => Delta,
        };

        var result = await SingularitySender.SendAsync([source], receiver.Url, options);

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameBytes(source, Path.Combine(destination, "f"));
        Assert.Equal((6L * Shard, 0L), (result.BytesSent, result.BytesMatched));
    }

    /// <summary>
    /// A receiver that keeps no journals (no flushes) seeds nothing, but sums the old version for a sender that takes
    /// sums alone: the changed shard travels as a patch of the block its byte changed, the rest as copies.
    /// </summary>
    [SkippableFact]
    public async Task A_receiver_without_flushes_patches_for_a_sender_that_takes_sums_alone()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "a receiver reads old versions on Linux");
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "f"), 6L * Shard, seed: 6);
        CopyAsOlder(source, Path.Combine(destination, "f"));
        Overwrite(source, 0, [1]);
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { Durable = false });

        var result = await SingularitySender.SendAsync([source], receiver.Url, Delta);

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameBytes(source, Path.Combine(destination, "f"));
        long block = BlockSums.BlockSizeFor(6L * Shard, Shard);
        Assert.Equal((block, 6L * Shard - block), (result.BytesSent, result.BytesMatched));
        Assert.Empty(Directory.GetFiles(destination, ".*"));
    }

    /// <summary>
    /// The old version is read only where it is a regular file at the name: a link there is never followed (its
    /// target, outside the destination, would be read and its digests told to the sender). The link is replaced.
    /// </summary>
    [SkippableFact]
    public async Task A_link_at_the_name_is_not_read_as_the_old_version()
    {
        Skip.If(OperatingSystem.IsWindows(), "links need privileges on Windows");
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "f"), 6L * Shard, seed: 7);
        string outside = Path.Combine(temp.Sub("outside"), "secret");
        File.Copy(source, outside);
        File.CreateSymbolicLink(Path.Combine(destination, "f"), outside);
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([source], receiver.Url, Delta);

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Null(new FileInfo(Path.Combine(destination, "f")).LinkTarget);
        TestFiles.AssertSameBytes(source, Path.Combine(destination, "f"));
        TestFiles.AssertSameBytes(source, outside);
        Assert.Equal((6L * Shard, 0L), (result.BytesSent, result.BytesMatched));
    }

    /// <summary>
    /// A send interrupted after the seeding leaves a partial that the next send resumes, as any other: the seeded
    /// shards are journaled only once flushed, so what the journal vouches for is on disk.
    /// </summary>
    [SkippableFact]
    public async Task A_seeded_partial_is_resumed_by_the_next_send()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "a receiver seeds from old versions on Linux");
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "f"), 10L * Shard, seed: 8);
        string target = Path.Combine(destination, "f");
        CopyAsOlder(source, target);
        Overwrite(source, 5L * Shard, [42]);
        var entry = EntryOf(source);

        // What a session that was cut off after seeding leaves.
        SeedAsAnInterruptedSendWould(target, entry, shards: 10);
        await using var receiver = new LoopbackReceiver(destination);
        var result = await SingularitySender.SendAsync([source], receiver.Url, Delta with { Delta = false });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameBytes(source, target);
        Assert.Equal((1L * Shard, 9L * Shard, 0L), (result.BytesSent, result.BytesSkipped, result.BytesMatched));
        Assert.Empty(Directory.GetFiles(destination, ".*"));
    }

    /// <summary>
    /// A send summed alone that was cut off leaves a partial of the shards that arrived; the next send resumes them, and
    /// the receiver sums the old version again for the shards the partial lacks: the unchanged ones come as copies, and
    /// only those that changed travel.
    /// </summary>
    [SkippableFact]
    public async Task A_resumed_send_patches_what_its_partial_lacks()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "a receiver reads old versions on Linux");
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "f"), 24L * Shard, seed: 40);
        string target = Path.Combine(destination, "f");
        CopyAsOlder(source, target);
        // Shards 0 to 7 new, the rest unchanged.
        byte[] fresh = new byte[8 * Shard];
        new Random(41).NextBytes(fresh);
        Overwrite(source, 0, fresh);
        File.SetLastWriteTimeUtc(source, DateTime.UtcNow);
        var entry = EntryOf(source);
        // What a send cut off after four shards leaves: shards 0 to 3 of the new version, journaled.
        Assert.Equal(4, BasisSeed.Seed(source, PartialFile.ResumablePathFor(target), entry, Shard, 4, sparse: false, alive: () => { }));
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([source], receiver.Url, Delta);

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameBytes(source, target);
        Assert.Equal((4L * Shard, 4L * Shard, 16L * Shard), (result.BytesSent, result.BytesSkipped, result.BytesMatched));
        Assert.Empty(Directory.GetFiles(destination, ".*"));
    }

    /// <summary>
    /// While it seeds, the receiver tells the sender it is at work (StillWorking), before the acceptance; a session
    /// that ends before anything was written or kept leaves no copy behind (a sender that sent only a manifest would
    /// otherwise leave a copy of every file it named), and the old version is as it was.
    /// </summary>
    [SkippableFact]
    public async Task Seeding_says_it_is_at_work_and_a_copy_nothing_used_does_not_stay()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "a receiver seeds from old versions on Linux");
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        string old = TestFiles.Create(Path.Combine(destination, "f"), 8L << 20, seed: 10);
        string kept = TestFiles.Create(Path.Combine(temp.Sub("copy"), "f"), 8L << 20, seed: 10);
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { Cipher = CipherSuite.None }, adjust: options => options with { StillWorkingInterval = TimeSpan.Zero });

        var seen = await AnnounceAsync(receiver, OpenSessionFlags.Delta, _ =>
        {
            Assert.True(File.Exists(Path.Combine(destination, ".f.sglty-part")));
            return Task.CompletedTask;
        });

        Assert.False((await receiver.NextResultAsync()).Succeeded);
        Assert.Contains(ControlMessageType.StillWorking, seen);
        Assert.Equal(ControlMessageType.BasisOffer, seen.Last(type => type != ControlMessageType.StillWorking && type != ControlMessageType.ManifestAccepted));
        Assert.Equal(["f"], Directory.GetFileSystemEntries(destination).Select(Path.GetFileName));
        TestFiles.AssertSameBytes(kept, old);
    }

    /// <summary>
    /// A session cut off while the receiver seeds (the sender sent a manifest and went) ends there: the copy and its
    /// journal are removed, whether the cut is met mid-copy or after it, and the old version is as it was.
    /// </summary>
    [SkippableFact]
    public async Task A_session_cut_off_while_it_seeds_leaves_no_copy()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "a receiver seeds from old versions on Linux");
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        string old = TestFiles.Create(Path.Combine(destination, "f"), 512L << 20, seed: 12);
        string sha = TestFiles.Sha256(old);
        // A StillWorking after every slice copied: a write to the closed connection soon fails.
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { Cipher = CipherSuite.None }, adjust: options => options with { StillWorkingInterval = TimeSpan.Zero });
        await using (var peer = await RawPeer.ConnectAsync(receiver.Url)) await SendOneFileManifestAsync(peer, receiver, OpenSessionFlags.Delta, 600L << 20);

        Assert.False((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(["f"], Directory.GetFileSystemEntries(destination).Select(Path.GetFileName));
        Assert.Equal(sha, TestFiles.Sha256(old));
    }

    /// <summary>A seed of more than the 256 MiB the receiver copies between flushes keeps every shard that matches, on both sides of each flush.</summary>
    [SkippableFact]
    public async Task A_seed_past_its_flush_step_keeps_every_shard_that_matches()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "a receiver seeds from old versions on Linux");
        const int shard = 4 << 20;
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "disk.img"), 600L << 20, seed: 13);
        CopyAsOlder(source, Path.Combine(destination, "disk.img"));
        // In the first shard, the last one before the first flush, the first after it, and the last shard.
        foreach (long offset in new[] { 100L, (256L << 20) - 3, (256L << 20) + 5, (600L << 20) - 1 }) Overwrite(source, offset, [7]);
        File.SetLastWriteTimeUtc(source, DateTime.UtcNow);
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([source], receiver.Url, Seeded with { ShardSize = shard });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameBytes(source, Path.Combine(destination, "disk.img"));
        // The four changed shards travel as patches, each carrying the one block its byte changed.
        long block = BlockSums.BlockSizeFor(600L << 20, shard);
        Assert.Equal(4 * block, result.BytesSent);
        Assert.Equal((600L << 20) - 4 * block, result.BytesMatched);
    }

    /// <summary>
    /// A seeded copy of which the session claimed a shard (here one the sender kept) is a partial like any other: when
    /// the session is cut off, it stays, and the next send of the same version resumes it.
    /// </summary>
    [SkippableFact]
    public async Task A_seeded_copy_the_session_used_stays_for_the_next_send()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "a receiver seeds from old versions on Linux");
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        string target = TestFiles.Create(Path.Combine(destination, "f"), 8L << 20, seed: 14);
        // The version announced below: the old one and a ninth MiB, with the mtime of the announcement (0).
        string source = Path.Combine(temp.Sub("src"), "f");
        File.Copy(target, source);
        Append(source, 1 << 20, seed: 15);
        File.SetLastWriteTimeUtc(source, DateTime.UnixEpoch);
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { Cipher = CipherSuite.None });

        await AnnounceAsync(receiver, OpenSessionFlags.Delta, peer => peer.SendControlAsync(ControlMessageType.ShardsKept, RawReceiver.Batch([0, 0])));
        Assert.False((await receiver.NextResultAsync()).Succeeded);
        Assert.True(File.Exists(Path.Combine(destination, ".f.sglty-part")));
        var result = await SingularitySender.SendAsync([source], receiver.Url, Delta with { ShardSize = 1 << 20 });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameBytes(source, target);
        Assert.Equal((1L << 20, 8L << 20, 0L), (result.BytesSent, result.BytesSkipped, result.BytesMatched));
    }

    /// <summary>
    /// A partial an interrupted delta send left is for the version it was sending: once the source has changed again,
    /// it offers nothing, and is replaced by a fresh seed rather than turning delta off for that file.
    /// </summary>
    [SkippableFact]
    public async Task A_partial_of_an_older_version_is_seeded_afresh()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "a receiver seeds from old versions on Linux");
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "app.log"), 10L * Shard, seed: 11);
        string target = Path.Combine(destination, "app.log");
        CopyAsOlder(source, target);
        var earlier = new ManifestEntry(EntryKind.File, "app.log", 12L * Shard, (UnixFileMode)0x1A4, 1_000_000_000, null);
        SeedAsAnInterruptedSendWould(target, earlier, shards: 10);
        Append(source, 3 * Shard, seed: 12);
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([source], receiver.Url, Seeded);

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameBytes(source, target);
        Assert.Equal((3L * Shard, 10L * Shard, 0L), (result.BytesSent, result.BytesMatched, result.BytesSkipped));
        Assert.Empty(Directory.GetFiles(destination, ".*"));
    }

    /// <summary>
    /// A sparse session's seed leaves the old version's runs of zeros as holes; its partial is extended over a hole at
    /// the end, so the records of shards there are trusted and those shards are kept too. Summed alone, the shards of
    /// zeros travel as holes, and the file ends as sparse.
    /// </summary>
    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_sparse_seed_keeps_holes_and_the_shards_in_a_final_hole(bool sumsAlone)
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "holes are punched on Linux");
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        // Data in the first two shards only: the old version ends in a hole of six shards.
        string source = TestFiles.CreateSparse(Path.Combine(temp.Sub("src"), "disk.img"), 8L * Shard, seed: 13, (0, 2 * Shard));
        string target = Path.Combine(destination, "disk.img");
        File.Copy(source, target);
        File.SetLastWriteTimeUtc(target, File.GetLastWriteTimeUtc(source).AddDays(-1));
        Overwrite(source, 10, [1, 2, 3]);
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([source], receiver.Url, (sumsAlone ? Delta : Seeded) with { Sparse = true });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameBytes(source, target);
        // The changed shard travels as a patch of the one block its bytes changed.
        long block = BlockSums.BlockSizeFor(8L * Shard, Shard);
        Assert.Equal((block, (sumsAlone ? 2L : 8L) * Shard - block, sumsAlone ? 6L * Shard : 0), (result.BytesSent, result.BytesMatched, result.BytesInHoles));
        Assert.InRange(TestFiles.AllocatedBytes(target), 2L * Shard, 2L * Shard + SparseFiles.MinHole);
    }

    /// <summary>
    /// A dry run reads and writes nothing at the receiver: no partial is seeded, even for a sender that asks for delta
    /// in one (sglty's sender does not ask).
    /// </summary>
    [Fact]
    public async Task A_dry_run_seeds_nothing()
    {
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        TestFiles.Create(Path.Combine(destination, "f"), 8L << 20, seed: 9);
        File.SetLastWriteTimeUtc(Path.Combine(destination, "f"), DateTime.UnixEpoch.AddDays(1));
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { Cipher = CipherSuite.None });

        var seen = await AnnounceAsync(receiver, OpenSessionFlags.Delta | OpenSessionFlags.DryRun, _ =>
        {
            Assert.Equal(["f"], Directory.GetFileSystemEntries(destination).Select(Path.GetFileName));
            return Task.CompletedTask;
        });

        Assert.DoesNotContain(ControlMessageType.BasisOffer, seen);
    }
}
