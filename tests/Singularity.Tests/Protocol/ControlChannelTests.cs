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

    /// <summary>
    /// What is posted while the channel is held (a manifest chunk's FilesPresent items, one per file of a tree sent
    /// again) leaves in one write with the acceptance after it, not in a write each; a StillWorking, or a commit the
    /// lanes made, goes out at once, held or not, with what was queued before it.
    /// </summary>
    [Fact]
    public async Task What_is_posted_while_held_leaves_in_one_write_but_a_sign_of_life_goes_at_once()
    {
        var connection = new RecordingConnection();
        await using var channel = new ControlChannel(connection, new ProtocolLimits());

        channel.Hold();
        for (uint id = 0; id < 100; id++) channel.PostBatchItem(ControlMessageType.FilesPresent, id);
        channel.Post(ControlMessageType.StillWorking, []);
        byte[] urgent = await connection.NextWrite();
        for (uint id = 100; id < 200; id++) channel.PostBatchItem(ControlMessageType.FilesPresent, id);
        channel.Post(ControlMessageType.ManifestAccepted, new byte[4]);
        channel.Release();
        byte[] released = await connection.NextWrite();
        channel.Hold();
        channel.PostBatchItem(ControlMessageType.FilesPresent, 200);
        channel.PostBatchItem(ControlMessageType.FilesCommitted, 7);
        byte[] committed = await connection.NextWrite();
        channel.Release();

        Assert.Equal([(ControlMessageType.FilesPresent, 100), (ControlMessageType.StillWorking, 0)], Messages(urgent));
        Assert.Equal([(ControlMessageType.FilesPresent, 100), (ControlMessageType.ManifestAccepted, 0)], Messages(released));
        Assert.Equal([(ControlMessageType.FilesPresent, 1), (ControlMessageType.FilesCommitted, 1)], Messages(committed));
    }

    /// <summary>The messages of one write, each with its count of batch items (0 for a message that is not a batch).</summary>
    private static List<(ControlMessageType Type, int Items)> Messages(byte[] written)
    {
        var messages = new List<(ControlMessageType, int)>();
        for (int offset = 0; offset < written.Length;)
        {
            int bodyLength = BitConverter.ToInt32(written, offset);
            var type = (ControlMessageType)written[offset + 4];
            messages.Add((type, type is ControlMessageType.FilesPresent or ControlMessageType.FilesCommitted ? BitConverter.ToInt32(written, offset + ControlHeader.Size) : 0));
            offset += ControlHeader.Size + bodyLength;
        }
        return messages;
    }

    /// <summary>Keeps a copy of each write, in order.</summary>
    private sealed class RecordingConnection : ILaneConnection
    {
        private readonly System.Threading.Channels.Channel<byte[]> _writes = System.Threading.Channels.Channel.CreateUnbounded<byte[]>();

        public async Task<byte[]> NextWrite() => await _writes.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));

        public EndPoint? RemoteEndPoint => null;

        public TimeSpan SetupTime => TimeSpan.Zero;

        public string? CongestionControl => null;

        public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            new(Task.Delay(Timeout.Infinite, cancellationToken).ContinueWith(_ => 0, TaskScheduler.Default));

        public ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            _writes.Writer.TryWrite(buffer.ToArray());
            return ValueTask.CompletedTask;
        }

        public void CompleteWrites() { }

        public void Abort() { }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
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
