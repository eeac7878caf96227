using System.Buffers.Binary;
using System.Net;
using CsCheck;
using Singularity.Engine;
using Singularity.Engine.Transport;

namespace Singularity.Tests.Transport;

public sealed class FrameReaderTests
{
    // Test frames: an 8-byte header (body length, frame number), then the body, filled from the frame number.
    private const int HeaderSize = 8;

    [Fact]
    public void Frames_arrive_intact_however_the_stream_is_split()
    {
        var bodies = Gen.OneOf(Gen.Int[0, 64], Gen.Int[0, 4096], Gen.Int[0, 200_000]).List[0, 40];
        var segments = Gen.OneOf(Gen.Const(1), Gen.Int[1, 100], Gen.Int[1, 300_000]);
        Gen.Select(bodies, segments).Sample(t =>
        {
            var (lengths, segment) = t;
            int largest = lengths.Count == 0 ? 0 : lengths.Max();
            var connection = new ScriptedConnection(Stream(lengths), segment);
            var reader = new FrameReader(connection, HeaderSize);
            reader.Reserve(largest);
            for (int i = 0; i < lengths.Count; i++)
            {
                Assert.True(Done(reader.TryReadHeaderAsync(default)));
                int length = BinaryPrimitives.ReadInt32LittleEndian(reader.Header);
                Assert.Equal(lengths[i], length);
                Assert.Equal(i, BinaryPrimitives.ReadInt32LittleEndian(reader.Header[4..]));
                var frame = Done(reader.ReadFrameAsync(length, default));
                Assert.Equal(HeaderSize + length, frame.Length);
                Assert.Equal(Frame(i, length), frame.ToArray());
                // A receive never runs more than the read-ahead past the frame just returned.
                Assert.InRange(connection.Position - connection.FrameEnd(i), 0, FrameReader.ReadAhead);
            }
            Assert.False(Done(reader.TryReadHeaderAsync(default)));
        });
    }

    [Theory]
    [InlineData(1)]
    [InlineData(HeaderSize - 1)]
    [InlineData(HeaderSize)]
    [InlineData(HeaderSize + 99)]
    public void A_stream_that_ends_inside_a_frame_is_a_lost_connection(int cut)
    {
        byte[] stream = [.. Frame(0, 10), .. Frame(1, 100).AsSpan(0, cut)];
        var reader = new FrameReader(new ScriptedConnection(stream, 7), HeaderSize);
        reader.Reserve(100);
        Assert.True(Done(reader.TryReadHeaderAsync(default)));
        Done(reader.ReadFrameAsync(10, default));
        var ex = Assert.Throws<TransferAbortedException>(() =>
        {
            if (Done(reader.TryReadHeaderAsync(default)))
                Done(reader.ReadFrameAsync(100, default));
        });
        Assert.Equal(ErrorCode.ConnectionLost, ex.Code);
    }

    [Fact]
    public void A_frame_larger_than_the_buffer_is_refused_before_any_wait()
    {
        var reader = new FrameReader(new ScriptedConnection(Frame(0, 10), 100), HeaderSize);
        reader.Reserve(10);
        Assert.True(Done(reader.TryReadHeaderAsync(default)));
        Assert.Throws<InvalidOperationException>(() => Done(reader.ReadFrameAsync(10 + FrameReader.ReadAhead + 1, default)));
    }

    // The scripted connection answers at once, so every read completes without waiting.
    private static T Done<T>(ValueTask<T> pending) => pending.IsCompleted ? pending.GetAwaiter().GetResult() : throw new InvalidOperationException("a read waited");

    private static byte[] Frame(int number, int length)
    {
        byte[] frame = new byte[HeaderSize + length];
        BinaryPrimitives.WriteInt32LittleEndian(frame, length);
        BinaryPrimitives.WriteInt32LittleEndian(frame.AsSpan(4), number);
        for (int i = 0; i < length; i++) frame[HeaderSize + i] = (byte)(number * 31 + i);
        return frame;
    }

    private static byte[] Stream(IReadOnlyList<int> lengths) => [.. lengths.SelectMany((length, i) => Frame(i, length))];

    /// <summary>Serves a byte stream in segments of at most a given size, then a clean end, and counts what it gave.</summary>
    private sealed class ScriptedConnection(byte[] stream, int segment) : ILaneConnection
    {
        public int Position { get; private set; }

        public int FrameEnd(int frame)
        {
            int end = 0;
            for (int i = 0; i <= frame; i++) end += HeaderSize + BinaryPrimitives.ReadInt32LittleEndian(stream.AsSpan(end));
            return end;
        }

        public EndPoint? RemoteEndPoint => null;

        public TimeSpan SetupTime => TimeSpan.Zero;

        public string? CongestionControl => null;

        public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            int count = Math.Min(Math.Min(segment, buffer.Length), stream.Length - Position);
            stream.AsSpan(Position, count).CopyTo(buffer.Span);
            Position += count;
            return ValueTask.FromResult(count);
        }

        public ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public void CompleteWrites() { }

        public void Abort() { }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
