using Singularity.Engine;
using Singularity.Engine.Protocol;
using Singularity.Engine.Transfer;
using Singularity.Tests.Support;

namespace Singularity.Tests.Transfer;

public sealed class LaneRetirementTests
{
    /// <summary>Lanes closed mid-transfer (as the growth does when added lanes lowered throughput) lose nothing they carried.</summary>
    [Fact]
    public async Task Lanes_closed_while_carrying_shards_deliver_every_byte()
    {
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);
        // Through a relay, a lane torn down too early loses what the relay still holds: a reset discards it.
        await using var relay = new TcpRelay(receiver.Url);

        // This relay closes a lane once the sender ends it, before its last shards are acknowledged: the sender then
        // resends them elsewhere rather than trust they arrived, and the receiver writes each shard once.
        await RetireThreeOfFourAsync(temp, relay.Url, receiver);
    }

    /// <summary>
    /// Straight to the receiver, which keeps a lane open after its end of stream, a closing lane ends when its last
    /// shard is acknowledged, and nothing else ends it: the session waits for every lane, so a missed wake-up hangs it.
    /// (The relay test above catches the opposite fault, a lane torn down before its acknowledgements.)
    /// </summary>
    [Fact]
    public async Task A_closing_lane_ends_once_its_last_shard_is_acknowledged()
    {
        using var temp = new TempDirectory();
        await using var receiver = new LoopbackReceiver(temp.Sub("dst"));

        var result = await RetireThreeOfFourAsync(temp, receiver.Url, receiver);

        Assert.Equal(result.Bytes, result.BytesSent);
    }

    /// <summary>
    /// Once every file is committed, a closing lane stops waiting for its last acknowledgement: the receiver here never
    /// acknowledges the last shard and keeps the lane open, as a path that went silent would, and the session still
    /// ends. With a window of one shard, one lane sends the first shard while the other takes the second and waits for
    /// room; the close is asked for once the first shard arrived, so the lane that sends the second shard closes with
    /// it in flight. (Were the close asked for before the first lane came back from its send, that lane would close
    /// instead, with its shard acknowledged, and this test would pass without testing the release; the receiver's read
    /// of the shard makes that unlikely, not impossible.) Either lane may win the window, so the shard that arrived
    /// first is the one acknowledged: acknowledging shard 0 while shard 1 held the window left the send waiting.
    /// </summary>
    [Fact]
    public async Task A_closing_lane_stops_waiting_once_every_file_is_committed()
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Path, "f"), 8000, seed: 12);
        await using var receiver = new RawReceiver { HoldLanesOpen = true };
        var options = new TransferOptions { Cipher = CipherSuite.None, Lanes = 2, ShardSize = 4096, MaxInFlightBytes = 4096, StallTimeout = TimeSpan.FromMinutes(5) };
        var session = new SenderSession([source], receiver.Url, options, null);
        var send = session.RunAsync(CancellationToken.None);
        await receiver.AcceptAsync();
        await receiver.ReadUntilAsync(ControlMessageType.ManifestChunk);
        await receiver.SendAsync(ControlMessageType.ManifestAccepted, RawReceiver.Fields(1));
        var deadline = DateTime.UtcNow.AddMinutes(1);
        while (receiver.Shards.IsEmpty)
        {
            Assert.True(DateTime.UtcNow < deadline, "no shard arrived");
            await Task.Delay(10);
        }

        session.RetireLanes(1);
        // Whichever lane won the window sent its shard first (under load, not always shard 0): that one is acknowledged.
        Assert.True(receiver.Shards.TryPeek(out var arrived));
        await receiver.SendAsync(ControlMessageType.ShardAcks, RawReceiver.Batch([arrived.FileId, arrived.ShardIndex]));
        Assert.NotNull(await receiver.ReadUntilAsync(ControlMessageType.FilesSealed));
        await receiver.SendAsync(ControlMessageType.FilesCommitted, RawReceiver.Batch([0]));
        var ending = receiver.EndSessionAsync(1, 8000);

        var result = await send.WaitAsync(TimeSpan.FromMinutes(1));
        await ending;
        Assert.Equal((1, 0), (result.Files, result.Retransmits));
    }

    /// <summary>Sends 48 MiB on four lanes and closes three of them, while each carries unacknowledged shards, once 8 MiB are acknowledged.</summary>
    private static async Task<SendResult> RetireThreeOfFourAsync(TempDirectory temp, ConnectionUrl url, LoopbackReceiver receiver)
    {
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "data.bin"), 48 << 20, seed: 11);
        // A small window keeps every lane carrying unacknowledged shards when the close is asked for.
        var options = new TransferOptions { Lanes = 4, ShardSize = 64 << 10, MaxInFlightBytes = 2 << 20, StallTimeout = TimeSpan.FromMinutes(5) };
        SenderSession? session = null;
        int asked = 0;
        int fewest = int.MaxValue;
        var progress = new SynchronousProgress(p =>
        {
            if (Volatile.Read(ref asked) == 1 && p.BytesAcknowledged < p.TotalBytes) InterlockedMin(ref fewest, p.ActiveLanes);
            if (p.BytesAcknowledged > (8 << 20) && Interlocked.Exchange(ref asked, 1) == 0) session!.RetireLanes(3);
        });
        session = new SenderSession([source], url, options, progress);

        var result = await session.RunAsync(CancellationToken.None).WaitAsync(TimeSpan.FromMinutes(1));

        Assert.Equal(1, asked);
        Assert.Equal(1, fewest);
        Assert.Equal(48L << 20, result.Bytes);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameBytes(source, Path.Combine(temp.Sub("dst"), "data.bin"));
        return result;
    }

    private static void InterlockedMin(ref int target, int value)
    {
        int seen;
        while (value < (seen = Volatile.Read(ref target)) && Interlocked.CompareExchange(ref target, value, seen) != seen) { }
    }
}
