using Singularity.Engine;
using Singularity.Engine.Transfer;
using Singularity.Tests.Support;

namespace Singularity.Tests.Transfer;

public sealed class LaneRetirementTests
{
    /// <summary>Lanes closed mid-transfer (as the growth does when added lanes did not pay) lose nothing they carried.</summary>
    [Fact]
    public async Task Lanes_closed_while_carrying_shards_deliver_every_byte_without_resending()
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "data.bin"), 48 << 20, seed: 11);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);
        // Through a relay, a lane torn down too early loses what the relay still holds: a reset discards it.
        await using var relay = new TcpRelay(receiver.Url);
        // A small window keeps every lane carrying unacknowledged shards when the close is asked for.
        var options = new TransferOptions { Lanes = 4, ShardSize = 64 << 10, MaxInFlightBytes = 2 << 20, StallTimeout = TimeSpan.FromMinutes(5) };
        SenderSession? session = null;
        int asked = 0;
        var progress = new SynchronousProgress(p =>
        {
            if (p.BytesAcknowledged > (8 << 20) && Interlocked.Exchange(ref asked, 1) == 0) session!.RetireLanes(3);
        });
        session = new SenderSession([source], relay.Url, options, progress);

        var result = await session.RunAsync(CancellationToken.None).WaitAsync(TimeSpan.FromMinutes(1));

        Assert.Equal(1, asked);
        Assert.Equal(0, result.Retransmits);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameBytes(source, Path.Combine(destination, "data.bin"));
    }

    private sealed class SynchronousProgress(Action<TransferProgress> report) : IProgress<TransferProgress>
    {
        public void Report(TransferProgress value) => report(value);
    }
}
