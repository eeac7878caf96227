using System.Buffers.Binary;
using CsCheck;
using Singularity.Engine;
using Singularity.Engine.Protocol;

namespace Singularity.Tests.Protocol;

public sealed class FrameCodecTests
{
    private static readonly Gen<ShardHeader> ShardHeaders =
        Gen.Select(Gen.ULong, Gen.UInt, Gen.UInt, Gen.Long[0, long.MaxValue], Gen.Int[1, int.MaxValue], Gen.ULong, Gen.Int[0, 3])
            .Select(t => new ShardHeader(t.Item1, t.Item2, t.Item3, t.Item4, t.Item5, t.Item6, (byte)((t.Item7 & 1) * ShardHeader.FlagRetransmit | (t.Item7 >> 1) * ShardHeader.FlagHole)));

    [Fact]
    public void Shard_header_round_trips_any_fields()
    {
        ShardHeaders.Sample(header =>
        {
            byte[] bytes = new byte[ShardHeader.Size];
            header.WriteTo(bytes);
            Assert.True(ShardHeader.TryRead(bytes, out var read, out string? error), error);
            Assert.Equal(header.SessionTag, read.SessionTag);
            Assert.Equal(header.FileId, read.FileId);
            Assert.Equal(header.ShardIndex, read.ShardIndex);
            Assert.Equal(header.Offset, read.Offset);
            Assert.Equal(header.PayloadLength, read.PayloadLength);
            Assert.Equal(header.PayloadDigest, read.PayloadDigest);
            Assert.Equal(header.Flags, read.Flags);
        });
    }

    [Fact]
    public void Shard_header_with_any_flipped_bit_is_rejected()
    {
        Gen.Select(ShardHeaders, Gen.Int[0, ShardHeader.Size * 8 - 1]).Sample(t =>
        {
            byte[] bytes = new byte[ShardHeader.Size];
            t.Item1.WriteTo(bytes);
            bytes[t.Item2 / 8] ^= (byte)(1 << (t.Item2 % 8));
            Assert.False(ShardHeader.TryRead(bytes, out _, out _));
        });
    }

    [Fact]
    public void Truncated_shard_header_is_rejected_at_every_length()
    {
        byte[] bytes = new byte[ShardHeader.Size];
        new ShardHeader(1, 2, 3, 4, 5, 6).WriteTo(bytes);
        for (int length = 0; length < ShardHeader.Size; length++)
            Assert.False(ShardHeader.TryRead(bytes.AsSpan(0, length), out _, out _));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(int.MinValue)]
    public void Shard_header_with_non_positive_length_is_rejected(int length)
    {
        byte[] bytes = new byte[ShardHeader.Size];
        new ShardHeader(1, 2, 3, 0, length, 6).WriteTo(bytes);
        Assert.False(ShardHeader.TryRead(bytes, out _, out string? error));
        Assert.Contains("length", error);
    }

    [Fact]
    public void Shard_header_with_negative_offset_is_rejected()
    {
        byte[] bytes = new byte[ShardHeader.Size];
        new ShardHeader(1, 2, 3, -4096, 5, 6).WriteTo(bytes);
        Assert.False(ShardHeader.TryRead(bytes, out _, out _));
    }

    [Fact]
    public void Hello_round_trips_and_rejects_bad_magic_and_flipped_bits()
    {
        Gen.Select(Gen.ULong, Gen.ULong, Gen.UShort, Gen.Bool, Gen.UInt).Sample(t =>
        {
            var hello = new Hello(t.Item4 ? ConnectionRole.Control : ConnectionRole.Data, new SessionId(t.Item1, t.Item2), t.Item3, t.Item5);
            byte[] bytes = new byte[Hello.Size];
            hello.WriteTo(bytes);
            Assert.True(Hello.TryRead(bytes, out var read, out string? error), error);
            Assert.Equal(hello.Role, read.Role);
            Assert.Equal(hello.Session, read.Session);
            Assert.Equal(hello.Lane, read.Lane);
            Assert.Equal(hello.Capabilities, read.Capabilities);
            Assert.Equal(WireFormat.Version, read.Version);
            for (int bit = 0; bit < Hello.Size * 8; bit += 7)
            {
                byte[] flipped = (byte[])bytes.Clone();
                flipped[bit / 8] ^= (byte)(1 << (bit % 8));
                // A flipped version bit reads as another version, which the receiver refuses by name.
                Assert.True(!Hello.TryRead(flipped, out var damaged, out _) || damaged.Version != WireFormat.Version);
            }
        });
    }

    [Fact]
    public void Hello_from_another_protocol_is_rejected()
    {
        byte[] http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n.........................."u8.ToArray();
        Assert.False(Hello.TryRead(http, out _, out string? error));
        Assert.Contains("magic", error);
    }

    [Fact]
    public void Hello_reply_round_trips_with_status()
    {
        var session = SessionId.NewRandom();
        byte[] bytes = ErrorReply.Build(ErrorCode.VersionUnsupported, session, "speak version 1");
        Assert.True(HelloReply.TryRead(bytes, out var reply, out _));
        Assert.Equal(ErrorCode.VersionUnsupported, reply.Status);
        Assert.Equal(session, reply.Session);
        Assert.Equal("speak version 1"u8.Length, bytes[HelloReply.Size]);
    }

    /// <summary>A reply that sets its reserved bytes (and a check that covers them) is refused, as a Hello that does is.</summary>
    [Fact]
    public void Hello_reply_with_reserved_bytes_set_is_refused()
    {
        byte[] bytes = new byte[HelloReply.Size];
        new HelloReply(ErrorCode.None, SessionId.NewRandom()).WriteTo(bytes);
        Assert.True(HelloReply.TryRead(bytes, out _, out _));
        bytes[37] = 1;
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(40), WireFormat.HeaderCheck(bytes.AsSpan(0, 40)));
        Assert.False(HelloReply.TryRead(bytes, out _, out string? error));
        Assert.Equal("reply sets reserved bytes", error);
    }

    [Fact]
    public void Control_header_checks_length_against_the_limit_before_the_body()
    {
        byte[] header = new byte[ControlHeader.Size];
        ControlHeader.Write(header, ControlMessageType.ManifestChunk, int.MaxValue);
        Assert.False(ControlHeader.TryRead(header, 1 << 20, out _, out _, out string? error));
        Assert.Contains("exceeds", error);
        ControlHeader.Write(header, ControlMessageType.ManifestChunk, -5);
        Assert.False(ControlHeader.TryRead(header, 1 << 20, out _, out _, out _));
        ControlHeader.Write(header, (ControlMessageType)99, 4);
        Assert.False(ControlHeader.TryRead(header, 1 << 20, out _, out _, out _));
    }

    [Fact]
    public void Control_check_covers_header_and_body()
    {
        Gen.Byte.Array[0, 300].Sample(body =>
        {
            byte[] message = new byte[ControlHeader.Size + body.Length];
            ControlHeader.Write(message, ControlMessageType.ShardAcks, body.Length);
            body.CopyTo(message.AsSpan(ControlHeader.Size));
            ControlHeader.Seal(message);
            ulong check = WireFormat.ReadCheck(message.AsSpan(8));
            Assert.Equal(check, ControlHeader.Check(message, message.AsSpan(ControlHeader.Size)));
            message[4] = (byte)ControlMessageType.ShardNack;
            Assert.NotEqual(check, ControlHeader.Check(message, message.AsSpan(ControlHeader.Size)));
        });
    }

    [Fact]
    public void Error_message_round_trips_and_tolerates_garbage()
    {
        byte[] body = ErrorMessage.Encode(ErrorCode.DiskFull, new string('x', 5000));
        var (code, reason) = ErrorMessage.Decode(body);
        Assert.Equal(ErrorCode.DiskFull, code);
        Assert.Equal(ErrorMessage.MaxReasonBytes, reason.Length);
        Assert.Equal("malformed error message", ErrorMessage.Decode(body.AsSpan(0, 10)).Reason);
    }

    /// <summary>A reason over 1024 bytes because of a deep path keeps its cause: long quoted paths lose their middle first.</summary>
    [Fact]
    public void A_reason_too_long_for_its_paths_keeps_its_cause()
    {
        string deep = string.Join('/', Enumerable.Repeat(new string('d', 250), 16));
        string reason = $"I/O error while writing '{deep}/f': could not open '/dst/{deep}/.f.sglty-part': File name too long";

        var (_, received) = ErrorMessage.Decode(ErrorMessage.Encode(ErrorCode.IoError, reason));

        Assert.EndsWith(": File name too long", received);
        Assert.StartsWith($"I/O error while writing '{deep[..70]}…", received);
        Assert.True(received.Length < 400, received);
        Assert.Equal("short 'paths' stay", ErrorMessage.Decode(ErrorMessage.Encode(ErrorCode.IoError, "short 'paths' stay")).Reason);
    }
}
