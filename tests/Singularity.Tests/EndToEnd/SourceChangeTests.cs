using System.Buffers.Binary;
using Singularity.Engine;
using Singularity.Engine.Integrity;
using Singularity.Engine.Protocol;
using Singularity.Engine.Security;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// A source file that changes between the scan and its read must not be delivered as a mix of old and new bytes. The
/// raw receiver holds back the manifest's acceptance, so the change lands after the scan and before any read.
/// </summary>
public sealed class SourceChangeTests
{
    private const int ShardSize = 4096;
    private static readonly TransferOptions Plain = new() { Cipher = CipherSuite.None, Lanes = 1, ShardSize = ShardSize };

    /// <summary>
    /// A tree of two files, a.bin (kept) and b.bin (the one that changes), and a destination that holds an older b.bin
    /// (its bytes in <c>Holds</c>) and a stale file the source does not have.
    /// </summary>
    private static (string Tree, string Kept, string Changing, string Destination, string Held, byte[] Holds, string Stale) LiveTree(TempDirectory temp)
    {
        string tree = temp.Sub("tree");
        string kept = TestFiles.Create(Path.Combine(tree, "a.bin"), 100_000, seed: 1);
        string changing = TestFiles.Create(Path.Combine(tree, "b.bin"), 100_000, seed: 2);
        string destination = temp.Sub("dst");
        string held = TestFiles.Create(Path.Combine(destination, "tree", "b.bin"), 5_000, seed: 3);
        string stale = TestFiles.Create(Path.Combine(destination, "tree", "stale.bin"), 5_000, seed: 4);
        return (tree, kept, changing, destination, held, File.ReadAllBytes(held), stale);
    }

    /// <summary>A file written to in place (same size, another mtime) or shortened ends the session before any of it is sent or sealed, whether of one shard or several.</summary>
    [Theory]
    [InlineData(1000, true)]
    [InlineData(3 * ShardSize + 10, true)]
    [InlineData(1000, false)]
    [InlineData(3 * ShardSize + 10, false)]
    public async Task A_file_rewritten_or_shortened_after_the_scan_ends_the_session_unsent(int size, bool rewritten)
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Path, "f"), size);
        await using var receiver = new RawReceiver();
        var send = SingularitySender.SendAsync([source], receiver.Url, Plain);
        await receiver.AcceptAsync();
        await receiver.ReadUntilAsync(ControlMessageType.ManifestChunk);
        var scanned = File.GetLastWriteTimeUtc(source);
        if (rewritten)
        {
            TestFiles.Create(source, size, seed: 2);
            File.SetLastWriteTimeUtc(source, scanned.AddSeconds(1));
        }
        else
        {
            using var file = File.OpenWrite(source);
            file.SetLength(size - 1);
        }

        await receiver.SendAsync(ControlMessageType.ManifestAccepted, RawReceiver.Fields(1));

        var error = await Assert.ThrowsAnyAsync<SingularityException>(() => send);
        Assert.Equal(ErrorCode.SourceChanged, error.Code);
        Assert.Contains($"'{source}' {(rewritten ? "was written to" : "shrank")} while it was being sent", error.Message);
        Assert.Null(await receiver.ReadUntilAsync(ControlMessageType.FilesSealed));
        await receiver.LanesEndedAsync();
        Assert.Empty(receiver.Shards);
    }

    /// <summary>
    /// A file shortened while it is sent, after some of it went, is withdrawn (FilesWithdrawn) from a receiver that takes
    /// it: no shard of it goes after, the session goes on to its end, and the file is reported as not sent, changed.
    /// </summary>
    [Fact]
    public async Task A_file_shortened_part_way_is_withdrawn_and_the_session_goes_on()
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Path, "f"), 8 * ShardSize, seed: 3);
        await using var receiver = new RawReceiver { Capabilities = WireFormat.CapabilityWithdrawn };
        var send = SingularitySender.SendAsync([source], receiver.Url, Plain with { MaxInFlightBytes = 2 * ShardSize });
        await receiver.AcceptAsync();
        await receiver.ReadUntilAsync(ControlMessageType.ManifestChunk);
        await receiver.SendAsync(ControlMessageType.ManifestAccepted, RawReceiver.Fields(1));
        // The window holds two shards: the sender waits for their acks before it reads a third.
        for (int wait = 0; receiver.Shards.Count < 2; wait++)
        {
            Assert.True(wait < 1000, "the first two shards never came");
            await Task.Delay(10);
        }
        using (var file = File.OpenWrite(source)) file.SetLength(2 * ShardSize + 10);

        await receiver.SendAsync(ControlMessageType.ShardAcks, RawReceiver.Batch([0, 0], [0, 1]));

        Assert.Equal(RawReceiver.Batch([0]), await receiver.ReadUntilAsync(ControlMessageType.FilesWithdrawn));
        await receiver.EndSessionAsync(1, 0);
        var result = await send;
        var left = Assert.Single(result.NotSent);
        Assert.True(left.Changed, left.Reason);
        Assert.Contains("shrank while it was being sent", left.Reason);
        await receiver.LanesEndedAsync();
        Assert.Equal(2, receiver.Shards.Count);
    }

    /// <summary>
    /// A shard asked for again (ShardNack) whose source was rewritten in place, or removed, since its first copy: before
    /// the file's seal, the file is withdrawn and the session goes on; after it (the receiver may be committing the
    /// file), the session ends as before, and no withdrawal follows the seal.
    /// </summary>
    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public async Task A_resend_that_finds_the_source_rewritten_or_removed_withdraws_the_file_unless_it_was_sealed(bool sealedFirst, bool removed)
    {
        using var temp = new TempDirectory();
        // Unsealed, the file has shards to spare: the acknowledgement and the request for shard 0 each free a shard's
        // credit, which a lane may take for a first send before the resend is queued; those must not seal it.
        int shards = sealedFirst ? 4 : 8;
        string source = TestFiles.Create(Path.Combine(temp.Path, "f"), shards * ShardSize, seed: 3);
        await using var receiver = new RawReceiver { Capabilities = WireFormat.CapabilityWithdrawn };
        var send = SingularitySender.SendAsync([source], receiver.Url, Plain with { MaxInFlightBytes = (sealedFirst ? 4 : 2) * ShardSize });
        await receiver.AcceptAsync();
        await receiver.ReadUntilAsync(ControlMessageType.ManifestChunk);
        await receiver.SendAsync(ControlMessageType.ManifestAccepted, RawReceiver.Fields(1));
        if (sealedFirst) Assert.NotNull(await receiver.ReadUntilAsync(ControlMessageType.FilesSealed));
        for (int wait = 0; receiver.Shards.Count < (sealedFirst ? 4 : 2); wait++)
        {
            Assert.True(wait < 1000, "the first shards never came");
            await Task.Delay(10);
        }
        var scanned = File.GetLastWriteTimeUtc(source);
        if (removed) File.Delete(source);
        else
        {
            TestFiles.Create(source, shards * ShardSize, seed: 4);
            File.SetLastWriteTimeUtc(source, scanned);
        }

        // Shard 1 acknowledged, shard 0 asked for again: its resend takes the credit in the window they free.
        await receiver.SendTogetherAsync((ControlMessageType.ShardAcks, RawReceiver.Batch([0, 1])), (ControlMessageType.ShardNack, RawReceiver.Fields(0, 0, 5)));

        if (sealedFirst)
        {
            var error = await Assert.ThrowsAnyAsync<SingularityException>(() => send);
            Assert.Equal(ErrorCode.SourceChanged, error.Code);
            Assert.Null(await receiver.ReadUntilAsync(ControlMessageType.FilesWithdrawn));
            return;
        }
        // A first send that took that credit before the resend was queued is acknowledged as it comes, so that the
        // resend finds credit whatever the order.
        var withdrawn = receiver.ReadUntilAsync(ControlMessageType.FilesWithdrawn);
        var acknowledged = new HashSet<uint> { 0, 1 };
        while (!withdrawn.IsCompleted)
        {
            foreach (var shard in receiver.Shards)
                if (acknowledged.Add(shard.ShardIndex)) await receiver.SendAsync(ControlMessageType.ShardAcks, RawReceiver.Batch([0, shard.ShardIndex]));
            await Task.WhenAny(withdrawn, Task.Delay(10));
        }
        Assert.Equal(RawReceiver.Batch([0]), await withdrawn);
        await receiver.EndSessionAsync(1, 0);
        var result = await send;
        string why = removed ? "was removed while it was being sent" : "changed while it was being sent";
        Assert.True(Assert.Single(result.NotSent) is { Changed: true, Reason: var reason } && reason.Contains(why), string.Join(", ", result.NotSent));
    }

    /// <summary>
    /// A file written to after the scan, before its read, is withdrawn from a receiver of this release: the rest of the
    /// tree arrives, the deletion runs (its name was sent, so the receiver's copy of it stays), and `sglty send` exits 23
    /// naming it. A receiver from before FilesWithdrawn (its HelloReply without capability bit 2) ends the session, as
    /// before.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_file_written_to_after_the_scan_is_left_out_and_the_rest_arrives(bool receiverFromBefore)
    {
        using var temp = new TempDirectory();
        var (tree, kept, changing, destination, held, holds, stale) = LiveTree(temp);
        await using var receiver = new LoopbackReceiver(destination, adjust: receiverFromBefore ? options => options with { Capabilities = WireFormat.CapabilityPatches | WireFormat.CapabilityVanished } : null);
        await using var relay = new TcpRelay(receiver.Url);
        relay.RewriteOnceAfterScan(changing);

        var (exit, _, error) = await SgltyProcess.RunAsync(["send", tree, "--delete", "--to", relay.Url.ToString()]);

        Assert.True(error.Contains("b.bin' was written to while it was being sent"), error);
        Assert.True(holds.AsSpan().SequenceEqual(File.ReadAllBytes(held)), error);
        if (receiverFromBefore)
        {
            Assert.True(exit == 1, error);
            Assert.True(File.Exists(stale));
            return;
        }
        Assert.True(exit == 23, error);
        Assert.Contains("1 file changed while it was sent and was not sent (named above); everything else arrived; send it again once it is stable\n", error);
        TestFiles.AssertSameBytes(kept, Path.Combine(destination, "tree", "a.bin"));
        Assert.False(File.Exists(stale));
    }

    /// <summary>
    /// A file replaced by a larger one renamed over it after the scan (as editors save) is not taken for one appended
    /// to, whose first bytes would be sent as the file: it is left out as replaced, and the rest arrives.
    /// </summary>
    [Fact]
    public async Task A_file_replaced_by_a_larger_one_after_the_scan_is_left_out_and_the_rest_arrives()
    {
        using var temp = new TempDirectory();
        var (tree, kept, changing, destination, held, holds, stale) = LiveTree(temp);
        await using var receiver = new LoopbackReceiver(destination);
        await using var relay = new TcpRelay(receiver.Url);
        relay.ReplaceOnceAfterScan(changing, 150_000);

        var (exit, output, error) = await SgltyProcess.RunAsync(["send", tree, "--delete", "--to", relay.Url.ToString(), "--json"]);

        Assert.True(exit == 23, error);
        Assert.Contains("b.bin' was replaced by another file while it was being sent", error);
        using (var json = System.Text.Json.JsonDocument.Parse(output))
            Assert.Equal("changed", Assert.Single(json.RootElement.GetProperty("not_sent").EnumerateArray()).GetProperty("kind").GetString());
        Assert.Contains("1 file changed while it was sent and was not sent (named above); everything else arrived; send it again once it is stable\n", error);
        Assert.True(holds.AsSpan().SequenceEqual(File.ReadAllBytes(held)), error);
        TestFiles.AssertSameBytes(kept, Path.Combine(destination, "tree", "a.bin"));
        Assert.False(File.Exists(stale));
    }

    /// <summary>
    /// A file gone between the scan and its read is left out, named, and `sglty send` exits 24 when nothing else was
    /// left out, as rsync does for vanished source files (which scripts that copy live data take for success); beside
    /// an entry left out for another reason (here a path given that is not there), 23. The rest arrives.
    /// </summary>
    [Theory]
    [InlineData(false, 24)]
    [InlineData(true, 23)]
    public async Task A_file_that_vanished_since_the_scan_is_left_out_and_the_send_exits_24(bool alsoMissing, int code)
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("tree");
        string kept = TestFiles.Create(Path.Combine(tree, "a.bin"), 100_000, seed: 1);
        string gone = TestFiles.Create(Path.Combine(tree, "b.bin"), 100_000, seed: 2);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);
        await using var relay = new TcpRelay(receiver.Url);
        // The scan is over before the control connection's first byte: a file removed then vanished since.
        relay.Hold = (_, _) =>
        {
            File.Delete(gone);
            return Task.CompletedTask;
        };
        string[] missing = alsoMissing ? [Path.Combine(temp.Path, "missing")] : [];

        var (exit, output, error) = await SgltyProcess.RunAsync(["send", tree, .. missing, "--to", relay.Url.ToString(), "--json"]);

        Assert.True(exit == code, error);
        Assert.Contains("1 file vanished since the scan and was not sent", error);
        Assert.Contains("not sending 'tree/b.bin': it vanished since the scan\n", error);
        // --json names each entry left out with a kind a script can test.
        using var json = System.Text.Json.JsonDocument.Parse(output);
        var kinds = json.RootElement.GetProperty("not_sent").EnumerateArray().Select(entry => (entry.GetProperty("path").GetString(), entry.GetProperty("kind").GetString()));
        Assert.Equal(alsoMissing ? [(missing[0], "not_found"), ("tree/b.bin", "vanished")] : [("tree/b.bin", "vanished")], kinds.Order());
        TestFiles.AssertSameBytes(kept, Path.Combine(destination, "tree", "a.bin"));
        Assert.False(File.Exists(Path.Combine(destination, "tree", "b.bin")));
    }

    /// <summary>
    /// A file gone between the scan and its read does not stop `--delete`, as rsync's vanished files do not: what the
    /// source no longer has goes, the receiver's copy of the vanished file stays (its name was listed), and the send
    /// exits 24; a dry run lists the deletion. A receiver from before FilesVanished (its HelloReply without capability
    /// bit 1) is told FilesDropped, and deletes nothing, as before.
    /// </summary>
    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public async Task A_file_that_vanished_since_the_scan_does_not_stop_the_deletion(bool receiverFromBefore, bool dryRun)
    {
        using var temp = new TempDirectory();
        var (tree, kept, gone, destination, held, holds, stale) = LiveTree(temp);
        await using var receiver = new LoopbackReceiver(destination, adjust: receiverFromBefore ? options => options with { Capabilities = WireFormat.CapabilityPatches } : null);
        await using var relay = new TcpRelay(receiver.Url);
        relay.Hold = (_, _) =>
        {
            File.Delete(gone);
            return Task.CompletedTask;
        };
        string[] dry = dryRun ? ["--dry-run"] : [];

        var (exit, output, error) = await SgltyProcess.RunAsync(["send", tree, "--delete", .. dry, "--to", relay.Url.ToString()]);

        Assert.True(exit == 24, error);
        Assert.Contains("not sending 'tree/b.bin'", error);
        Assert.Equal(holds, File.ReadAllBytes(held));
        if (dryRun)
        {
            Assert.Contains("deleting tree/stale.bin\n", output);
            Assert.True(File.Exists(stale));
            return;
        }
        Assert.Contains("1 file vanished since the scan and was not sent", error);
        TestFiles.AssertSameBytes(kept, Path.Combine(destination, "tree", "a.bin"));
        Assert.Equal(receiverFromBefore, File.Exists(stale));
        Assert.Equal(receiverFromBefore, error.Contains("the receiver did not delete what the source no longer has: files vanished since the scan (named above), which stop the deletion of a receiver of an earlier sglty release alone; update sglty there", StringComparison.Ordinal));
    }

    /// <summary>
    /// A directory gone between its listing and the walk into it is left out as vanished, as rsync's opendir's ENOENT
    /// is, and does not stop the deletion: the scan's own line for a FIFO before it (sorted first) removes it. One a
    /// file took the place of (ENOTDIR) is an error, as with rsync, and the deletion is skipped.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_directory_that_vanished_while_the_scan_ran_does_not_stop_the_deletion(bool replacedByFile)
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("tree");
        TestFiles.CreateFifo(Path.Combine(tree, "a.fifo"));
        string vanishing = Path.Combine(tree, "b");
        TestFiles.Create(Path.Combine(vanishing, "c.bin"), 1_000, seed: 1);
        string kept = TestFiles.Create(Path.Combine(tree, "d.bin"), 100_000, seed: 2);
        string destination = temp.Sub("dst");
        string stale = TestFiles.Create(Path.Combine(destination, "tree", "stale.bin"), 5_000, seed: 4);
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([tree], receiver.Url, new TransferOptions { DeleteExtraneous = true }, null, line =>
        {
            if (!line.Contains("a.fifo", StringComparison.Ordinal) || !Directory.Exists(vanishing)) return;
            Directory.Delete(vanishing, recursive: true);
            if (replacedByFile) File.WriteAllText(vanishing, "now a file");
        });

        var left = Assert.Single(result.NotSent);
        Assert.True(left is { Path: "tree/b/", IsDirectory: true } && left.Vanished != replacedByFile, $"{left.Path}: {left.Reason}");
        Assert.Equal(replacedByFile, result.DeletionSkipped);
        Assert.Equal(replacedByFile, File.Exists(stale));
        TestFiles.AssertSameBytes(kept, Path.Combine(destination, "tree", "d.bin"));
    }

    /// <summary>
    /// A file of a tree swapped for a link after the scan (by a local user who can write in the tree), here to a
    /// longer file that would pass as the old one appended to, or for a FIFO or a link to one, whose open would wait
    /// for a writer for ever: nothing is read or sent, and the session ends (the guard turns a hang into a failure).
    /// </summary>
    [Theory]
    [InlineData("link to a file")]
    [InlineData("link to a FIFO")]
    [InlineData("FIFO")]
    [InlineData("link for a directory on its way")]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task A_file_swapped_for_a_link_or_a_FIFO_after_the_scan_ends_the_session_unsent(string swappedFor)
    {
        if (!OperatingSystem.IsLinux()) return;
        using var temp = new TempDirectory();
        string secret = TestFiles.Create(Path.Combine(temp.Path, "secret"), 5000, seed: 3);
        string fifo = TestFiles.CreateFifo(Path.Combine(temp.Path, "pipe"));
        string tree = temp.Sub("tree");
        string source = TestFiles.Create(Path.Combine(tree, "d", "f"), 1000);
        // Outside the tree, a file of the same name, size and time, which nothing but the link leads to.
        string outside = temp.Sub("outside");
        TestFiles.Create(Path.Combine(outside, "f"), 1000, seed: 9);
        File.SetLastWriteTimeUtc(Path.Combine(outside, "f"), File.GetLastWriteTimeUtc(source));
        await using var receiver = new RawReceiver();
        var send = SingularitySender.SendAsync([tree], receiver.Url, Plain);
        await receiver.AcceptAsync();
        await receiver.ReadUntilAsync(ControlMessageType.ManifestChunk);
        if (swappedFor == "link for a directory on its way")
        {
            Directory.Move(Path.Combine(tree, "d"), Path.Combine(tree, "away"));
            Directory.CreateSymbolicLink(Path.Combine(tree, "d"), outside);
        }
        else
        {
            File.Delete(source);
            if (swappedFor == "FIFO") TestFiles.CreateFifo(source);
            else File.CreateSymbolicLink(source, swappedFor == "link to a file" ? secret : fifo);
        }

        await receiver.SendAsync(ControlMessageType.ManifestAccepted, RawReceiver.Fields(3));

        var error = await Assert.ThrowsAnyAsync<SingularityException>(() => send.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal(ErrorCode.SourceChanged, error.Code);
        Assert.Contains($"'{source}' was replaced", error.Message);
        await receiver.LanesEndedAsync();
        Assert.Empty(receiver.Shards);
    }

    /// <summary>A file that only grew, as a log appended to, is sent as the scan saw it: its first bytes, sealed as such.</summary>
    [Fact]
    public async Task A_file_appended_to_after_the_scan_is_sent_as_the_scan_saw_it()
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Path, "log"), 1000);
        byte[] scanned = await File.ReadAllBytesAsync(source);
        await using var receiver = new RawReceiver();
        var send = SingularitySender.SendAsync([source], receiver.Url, Plain);
        await receiver.AcceptAsync();
        await receiver.ReadUntilAsync(ControlMessageType.ManifestChunk);
        await File.AppendAllTextAsync(source, new string('x', 500));

        await receiver.SendAsync(ControlMessageType.ManifestAccepted, RawReceiver.Fields(1));
        byte[] seal = (await receiver.ReadUntilAsync(ControlMessageType.FilesSealed))!;
        await receiver.SendAsync(ControlMessageType.FilesCommitted, RawReceiver.Batch([0]));
        await receiver.EndSessionAsync(1, 1000);

        var result = await send;
        Assert.Equal(1000, result.Bytes);
        Assert.Equal(Digests.File([Digests.Shard(scanned)]), BinaryPrimitives.ReadUInt64LittleEndian(seal.AsSpan(8)));
        await receiver.LanesEndedAsync();
        Assert.Equal(1000, Assert.Single(receiver.Shards).PayloadLength);
    }

    /// <summary>
    /// An unchanged file whose mtime lies beyond what the manifest's 64 bits of nanoseconds hold (after 2262) is not
    /// taken for a changed one: the check compares times as the scan recorded them, clamped. It arrives with the
    /// latest time the manifest holds.
    /// </summary>
    [Fact]
    public async Task An_unchanged_file_from_beyond_2262_is_sent_with_the_latest_time_the_manifest_holds()
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "far"), 3 * ShardSize + 10);
        File.SetLastWriteTimeUtc(source, new DateTime(2300, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([source], receiver.Url, new TransferOptions { ShardSize = ShardSize });

        Assert.Equal(1, result.Files);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        string copy = Path.Combine(destination, "far");
        TestFiles.AssertSameBytes(source, copy);
        Assert.Equal(2262, File.GetLastWriteTimeUtc(copy).Year);
    }
}
