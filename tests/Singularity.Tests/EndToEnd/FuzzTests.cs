using System.Buffers.Binary;
using System.Diagnostics;
using Singularity.Engine;
using Singularity.Engine.Protocol;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>Runs alone: its memory bound is measured on the whole test process.</summary>
[CollectionDefinition(nameof(MeasuredAlone), DisableParallelization = true)]
public sealed class MeasuredAlone;

/// <summary>Random, truncated and oversized frames and handshakes thrown at a live receiver while a real transfer runs.</summary>
[Collection(nameof(MeasuredAlone))]
public sealed class FuzzTests
{
    [Fact]
    public async Task A_receiver_under_random_input_stays_bounded_and_keeps_serving()
    {
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "real.bin"), 24 << 20, seed: 51);
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { Cipher = CipherSuite.None, HandshakeTimeout = TimeSpan.FromSeconds(1), IdleTimeout = TimeSpan.FromSeconds(2) });
        long before = Process.GetCurrentProcess().WorkingSet64;

        var legit = SingularitySender.SendAsync([source], receiver.Url, new TransferOptions { ShardSize = 256 << 10, Lanes = 3 });
        var fuzzers = Enumerable.Range(0, 6).Select(worker => Task.Run(() => FuzzAsync(receiver, worker, 40))).ToList();
        await Task.WhenAll(fuzzers);
        await legit;

        TestFiles.AssertSameBytes(source, Path.Combine(destination, "real.bin"));
        // Still serving after the storm.
        File.Delete(Path.Combine(destination, "real.bin"));
        await SingularitySender.SendAsync([source], receiver.Url, new TransferOptions { ShardSize = 1 << 20 });
        TestFiles.AssertSameBytes(source, Path.Combine(destination, "real.bin"));
        long grown = Process.GetCurrentProcess().WorkingSet64 - before;
        Assert.True(grown < 256L << 20, $"working set grew by {grown >> 20} MiB");
        Assert.Equal(["dst", "src"], Directory.EnumerateFileSystemEntries(temp.Path).Select(Path.GetFileName).Order());
    }

    private static async Task FuzzAsync(LoopbackReceiver receiver, int worker, int rounds)
    {
        var random = new Random(1000 + worker);
        for (int round = 0; round < rounds; round++)
        {
            try
            {
                await using var peer = await RawPeer.ConnectAsync(receiver.Url);
                peer.Stream.ReadTimeout = 3000;
                switch (random.Next(6))
                {
                    case 0: // noise
                        await peer.Stream.WriteAsync(Bytes(random, random.Next(1, 300)));
                        break;
                    case 1: // a hello with the right magic and random fields, possibly truncated
                        byte[] hello = Bytes(random, Hello.Size);
                        WireFormat.Magic.CopyTo(hello);
                        await peer.Stream.WriteAsync(hello.AsMemory(0, random.Next(8, Hello.Size + 1)));
                        break;
                    case 2: // a valid hello announcing absurd authentication data
                        byte[] greedy = new byte[Hello.Size];
                        new Hello(ConnectionRole.Control, default, 0, authMethod: 1, authLength: uint.MaxValue).WriteTo(greedy);
                        await peer.Stream.WriteAsync(greedy);
                        break;
                    case 3: // authenticated, then control messages with valid framing and random bodies
                        await peer.HelloAsync(ConnectionRole.Control, receiver.Token);
                        for (int i = 0; i < 5; i++)
                            await peer.SendControlAsync((ControlMessageType)random.Next(0, 14), Bytes(random, random.Next(0, 5000)));
                        break;
                    case 4: // authenticated, a plausible session, then a manifest of random entries
                        await peer.HelloAsync(ConnectionRole.Control, receiver.Token);
                        await peer.SendControlAsync(ControlMessageType.OpenSession, RawPeer.OpenSession(4096, 2, 3, random.Next(0, 1 << 20)));
                        byte[] chunk = Bytes(random, random.Next(8, 400));
                        BinaryPrimitives.WriteInt32LittleEndian(chunk, 0);
                        BinaryPrimitives.WriteInt32LittleEndian(chunk.AsSpan(4), random.Next(-2, 5));
                        await peer.SendControlAsync(ControlMessageType.ManifestChunk, chunk);
                        break;
                    default: // a declared control message far beyond the limit
                        await peer.HelloAsync(ConnectionRole.Control, receiver.Token);
                        byte[] header = new byte[ControlHeader.Size];
                        ControlHeader.Write(header, ControlMessageType.ManifestChunk, random.Next(2 << 20, int.MaxValue));
                        await peer.Stream.WriteAsync(header);
                        await peer.Stream.WriteAsync(Bytes(random, 1000));
                        break;
                }
                byte[] sink = new byte[4096];
                while (await peer.Stream.ReadAsync(sink) > 0) { }
            }
            catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or ObjectDisposedException or Xunit.Sdk.XunitException) { }
        }
    }

    private static byte[] Bytes(Random random, int count)
    {
        byte[] bytes = new byte[count];
        random.NextBytes(bytes);
        return bytes;
    }
}
