using Singularity.Engine;
using Singularity.Engine.Protocol;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>What a session declares costs nothing until it arrives. Runs alone: allocations are counted for the whole test process.</summary>
[Collection(nameof(MeasuredAlone))]
public sealed class DeclaredCountTests
{
    [Fact]
    public async Task A_session_declaring_millions_of_entries_allocates_only_for_those_that_arrive()
    {
        using var temp = new TempDirectory();
        await using var receiver = new LoopbackReceiver(temp.Sub("dst"), new TransferOptions { Cipher = CipherSuite.None });
        await using var peer = await RawPeer.ConnectAsync(receiver.Url);
        await peer.HelloAsync(ConnectionRole.Control, receiver.Token);
        long before = GC.GetTotalAllocatedBytes(precise: true);

        // A 24-byte OpenSession declaring the most entries a receiver takes, then a manifest chunk of one file.
        await peer.SendControlAsync(ControlMessageType.OpenSession, RawPeer.OpenSession(shardSize: 1 << 20, lanes: 1, entries: 4_000_000, totalBytes: 100));
        await peer.SendControlAsync(ControlMessageType.ManifestChunk, RawPeer.Manifest(new ManifestEntry(EntryKind.File, "f", 100, UnixFileMode.UserRead | UnixFileMode.UserWrite, 0, null)));
        Assert.NotNull(await peer.ReadUntilAsync(ControlMessageType.ManifestAccepted));

        // Arrays sized by the declared count would take 8 bytes per entry each: 32 MB apiece.
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Assert.True(allocated < 16 << 20, $"the receiver allocated {allocated >> 20} MiB for a session of one file");
    }
}
