using System.Net;
using Singularity.Engine;
using Singularity.Engine.Protocol;
using Singularity.Engine.Security;
using Singularity.Engine.Transport;

namespace Singularity.Tests.Protocol;

public sealed class ControlChannelTests
{
    private const int Cap = 64 << 20;
    private const int Item = 64;

    /// <summary>
    /// A peer that reads a little now and then must never let this side queue more than the cap: the pending buffer
    /// is swapped with buffers the writer grew (the sealed copy of an encrypted batch is larger than the batch), and
    /// the cap must hold whatever buffer holds the queue.
    /// </summary>
    [Theory]
    [InlineData(CipherSuite.None)]
    [InlineData(CipherSuite.Aes256Gcm)]
    public async Task A_peer_that_reads_slowly_never_makes_the_queue_outgrow_its_cap(CipherSuite suite)
    {
        var connection = new GatedConnection();
        using var cipher = suite == CipherSuite.None ? null : new FrameCipher(suite, new byte[32], 0);
        var channel = new ControlChannel(connection, new ProtocolLimits(), cipher);
        channel.Post(ControlMessageType.Finish, []);
        await connection.WriteStarted.WaitAsync(TimeSpan.FromSeconds(30));
        for (int cycle = 0; cycle < 3; cycle++)
        {
            // Batch items until the queue refuses one; the writer is held in its previous write. Before the cap was
            // checked on every reserve, the third cycle queued into a 128 MiB buffer the writer had grown.
            long queued = 0;
            void Fill()
            {
                while (true)
                {
                    channel.PostBatchItem(ControlMessageType.ShardAcks, new byte[Item]);
                    queued += Item;
                    Assert.InRange(channel.PendingBytes, 0, Cap);
                }
            }
            var refused = Assert.Throws<TransferAbortedException>(Fill);
            Assert.Equal(ErrorCode.LimitExceeded, refused.Code);
            Assert.InRange(queued, Cap / 2, Cap);
            // The Error that ends the session still goes out behind the queue, so the peer learns why.
            if (cycle == 2)
            {
                channel.Post(ControlMessageType.Error, ErrorMessage.Encode(ErrorCode.LimitExceeded, refused.Message));
                Assert.InRange(channel.PendingBytes, 1, Cap + 2048);
            }
            // The peer reads the write in progress; the writer takes the queue and waits in its next write.
            connection.CompleteOneWrite();
            await connection.WriteStarted.WaitAsync(TimeSpan.FromSeconds(30));
        }
        connection.Abort();
    }

    /// <summary>Holds every write until the test lets it complete, as a peer that has stopped reading does.</summary>
    private sealed class GatedConnection : ILaneConnection
    {
        private TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Lock _lock = new();

        public Task WriteStarted
        {
            get { lock (_lock) return _started.Task; }
        }

        public void CompleteOneWrite()
        {
            TaskCompletionSource release;
            lock (_lock)
            {
                release = _release;
                _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
                _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
            }
            release.TrySetResult();
        }

        public EndPoint? RemoteEndPoint => null;

        public TimeSpan SetupTime => TimeSpan.Zero;

        public string? CongestionControl => null;

        public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            new(Task.Delay(Timeout.Infinite, cancellationToken).ContinueWith(_ => 0, TaskScheduler.Default));

        public async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Task release;
            lock (_lock)
            {
                release = _release.Task;
                _started.TrySetResult();
            }
            await release.ConfigureAwait(false);
        }

        public void CompleteWrites() { }

        public void Abort()
        {
            lock (_lock) _release.TrySetException(new TransferAbortedException(ErrorCode.ConnectionLost, "aborted"));
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
