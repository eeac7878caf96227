using System.Net.Sockets;
using System.Text;
using Singularity.Engine;
using Singularity.Engine.Protocol;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>Only holders of the token open sessions, nobody on the path reads or alters data, and recorded sessions open nothing.</summary>
public sealed class SecurityTests
{
    [Fact]
    public async Task A_wrong_token_is_refused_and_nothing_is_created()
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "f.bin"), 1000);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);

        var error = await Assert.ThrowsAsync<TransferAbortedException>(() => SingularitySender.SendAsync([source], receiver.Url with { Token = SessionToken.Generate() }));

        Assert.Equal(ErrorCode.AuthFailed, error.Code);
        // Where: a URL without its port reaches the default one, which may be another receiver's.
        Assert.Equal($"127.0.0.1:{receiver.Url.Port}: wrong token: this receiver holds another one; use the URL it printed", error.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(destination));
    }

    [Fact]
    public async Task The_token_of_another_receiver_is_refused()
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "f.bin"), 1000);
        await using var first = new LoopbackReceiver(temp.Sub("a"));
        await using var second = new LoopbackReceiver(temp.Sub("b"));

        var error = await Assert.ThrowsAsync<TransferAbortedException>(() => SingularitySender.SendAsync([source], first.Url with { Token = second.Token }));

        Assert.Contains("wrong token", error.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(temp.Sub("a")));
    }

    [Fact]
    public async Task A_missing_token_is_refused_by_the_sender_and_by_the_receiver()
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "f.bin"), 1000);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);

        var local = await Assert.ThrowsAsync<SingularityException>(() => SingularitySender.SendAsync([source], receiver.Url with { Token = null }));
        Assert.Contains("no token", local.Message);

        await using var peer = await RawPeer.ConnectAsync(receiver.Url);
        var reply = await peer.HelloAsync(ConnectionRole.Control, token: null);
        Assert.Equal(ErrorCode.AuthFailed, reply.Status);
        Assert.Contains("missing token", await peer.ReadRefusalAsync());
        Assert.Empty(Directory.EnumerateFileSystemEntries(destination));
    }

    [Fact]
    public async Task A_sender_cannot_downgrade_a_receiver_that_requires_encryption()
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "f.bin"), 1000);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);

        var error = await Assert.ThrowsAsync<TransferAbortedException>(() => SingularitySender.SendAsync([source], receiver.Url, new TransferOptions { Cipher = CipherSuite.None }));

        Assert.Contains("requires encryption", error.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(destination));
    }

    [Theory]
    [InlineData(CipherSuite.Aes256Gcm)]
    [InlineData(CipherSuite.ChaCha20Poly1305)]
    public async Task Encrypted_sessions_leave_no_plaintext_on_the_wire(CipherSuite cipher)
    {
        var (capture, delivered) = await CaptureAsync(cipher);
        Assert.True(delivered);
        Assert.Equal(-1, capture.AsSpan().IndexOf(Pattern));
        Assert.Equal(-1, capture.AsSpan().IndexOf("secret-name"u8));
    }

    [Fact]
    public async Task Plaintext_sessions_do_show_the_pattern_so_the_capture_test_can_fail()
    {
        var (capture, delivered) = await CaptureAsync(CipherSuite.None);
        Assert.True(delivered);
        Assert.NotEqual(-1, capture.AsSpan().IndexOf(Pattern));
    }

    private static ReadOnlySpan<byte> Pattern => "SINGULARITY-KNOWN-PLAINTEXT-0123456789"u8;

    private static async Task<(byte[] Capture, bool Delivered)> CaptureAsync(CipherSuite cipher)
    {
        using var temp = new TempDirectory();
        string source = Path.Combine(temp.Sub("src"), "secret-name.txt");
        await File.WriteAllBytesAsync(source, Enumerable.Repeat(Pattern.ToArray(), 5000).SelectMany(b => b).ToArray());
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { Cipher = CipherSuite.None });
        await using var relay = new TcpRelay(receiver.Url);

        await SingularitySender.SendAsync([source], relay.Url, new TransferOptions { Cipher = cipher, ShardSize = 16 << 10, Lanes = 2 });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameBytes(source, Path.Combine(destination, "secret-name.txt"));
        byte[] capture = relay.Recorded.Keys.Order().SelectMany(relay.RecordedBytes).ToArray();
        return (capture, true);
    }

    [Fact]
    public async Task Flipping_any_byte_on_the_wire_never_delivers_a_wrong_byte()
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "f.bin"), 200_000, seed: 5);
        var random = new Random(11);
        int delivered = 0, refused = 0, resent = 0;
        for (int round = 0; round < 16; round++)
        {
            string destination = temp.Sub($"dst{round}");
            await using var receiver = new LoopbackReceiver(destination);
            await using var relay = new TcpRelay(receiver.Url);
            // Connection 0 is the control connection; 1 and 2 are lanes. Offsets span handshakes, headers and payloads.
            int connection = random.Next(0, 3);
            long offset = random.Next(0, connection == 0 ? 600 : 100_000);
            relay.Tamper = (c, o, b) => c == connection && o == offset ? (byte)(b ^ 0x01) : b;
            try
            {
                var result = await SingularitySender.SendAsync([source], relay.Url, new TransferOptions { ShardSize = 16 << 10, Lanes = 2, HandshakeTimeout = TimeSpan.FromSeconds(5) });
                delivered++;
                resent += result.Retransmits;
                Assert.Empty(Directory.GetFiles(destination, "*.sglty-part"));
                TestFiles.AssertSameBytes(source, Path.Combine(destination, "f.bin"));
            }
            catch (SingularityException)
            {
                refused++;
                Assert.False(File.Exists(Path.Combine(destination, "f.bin")), $"round {round}: a failed session left a file under its final name");
            }
        }
        Assert.Equal(16, delivered + refused);
        // Flips in shard payloads are repaired by resending the shard; flips elsewhere end the session.
        Assert.True(resent > 0, $"no shard was resent ({delivered} delivered, {refused} refused)");
        Assert.True(refused > 0, $"no session was refused ({delivered} delivered)");
    }

    [Fact]
    public async Task Replaying_a_recorded_session_opens_nothing()
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "f.bin"), 50_000);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { HandshakeTimeout = TimeSpan.FromSeconds(2) });
        int sessions = 0;
        receiver.Receiver.SessionStarted += (_, _) => Interlocked.Increment(ref sessions);
        byte[] control;
        await using (var relay = new TcpRelay(receiver.Url))
        {
            await SingularitySender.SendAsync([source], relay.Url, new TransferOptions { Lanes = 1 });
            Assert.True((await receiver.NextResultAsync()).Succeeded);
            control = relay.RecordedBytes(0);
        }
        Directory.Delete(destination, recursive: true);
        Directory.CreateDirectory(destination);

        using (var replay = new TcpClient())
        {
            await replay.ConnectAsync("127.0.0.1", receiver.Url.Port);
            var stream = replay.GetStream();
            try { await stream.WriteAsync(control); } catch (IOException) { }
            byte[] sink = new byte[4096];
            try { while (await stream.ReadAsync(sink) > 0) { } } catch (IOException) { }
        }

        Assert.Equal(1, sessions);
        Assert.Empty(Directory.EnumerateFileSystemEntries(destination));
        Assert.Contains(receiver.Rejected, r => r.Contains("Finished", StringComparison.Ordinal));
    }
}
