using Singularity.Engine;
using Singularity.Engine.Storage;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// With <see cref="TransferOptions.Sparse"/>, shards that lie in a hole of the source travel as their header alone,
/// the receiver leaves long runs of zeros as holes, and every file still arrives byte for byte. The test directories
/// are on tmpfs, which keeps holes and answers SEEK_DATA page by page.
/// </summary>
public sealed class SparseTests
{
    private const int Shard = 256 << 10;
    private static readonly TransferOptions Sparse = new() { ShardSize = Shard, Sparse = true };

    [SkippableTheory]
    [InlineData(CipherSuite.None)]
    [InlineData(CipherSuite.Aes256Gcm)]
    [InlineData(CipherSuite.ChaCha20Poly1305)]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Holes_travel_as_headers_and_arrive_as_holes(CipherSuite cipher)
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "holes are found on Linux");
        using var temp = new TempDirectory();
        // Data in shards 0, 12 and 13 (one range across their boundary), 27 and 28; the file ends in a hole, within
        // a shorter last shard.
        long size = 40L * Shard + 12_345;
        string source = TestFiles.CreateSparse(Path.Combine(temp.Sub("src"), "disk.img"), size, seed: 7,
            (0, 1000), (12L * Shard + 17, 300_000), (28L * Shard - 5, 10));
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { Cipher = cipher });

        var result = await SingularitySender.SendAsync([source], receiver.Url, Sparse with { Cipher = cipher });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        string received = Path.Combine(destination, "disk.img");
        TestFiles.AssertSameBytes(source, received);
        Assert.Equal(5L * Shard, result.BytesSent);
        Assert.Equal(size - 5L * Shard, result.BytesInHoles);
        // Each data shard is mostly zeros too: the receiver leaves those runs as holes, where the source has them.
        Assert.InRange(TestFiles.AllocatedBytes(received), TestFiles.AllocatedBytes(source), TestFiles.AllocatedBytes(source) + 5L * SparseFiles.MinHole);
    }

    /// <summary>
    /// A sparse image may be larger than the receiver's free space: what it takes there is what it holds, so a sparse
    /// session does not ask for its whole size free ahead (a disk that fills shows as it fills).
    /// </summary>
    [SkippableFact]
    public async Task A_sparse_image_larger_than_the_free_space_arrives()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "holes are found on Linux");
        using var temp = new TempDirectory();
        long size = new DriveInfo(temp.Path).AvailableFreeSpace + (4L << 30);
        string source = TestFiles.CreateSparse(Path.Combine(temp.Sub("src"), "vm.img"), size, seed: 1, (0, 1 << 20));
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([source], receiver.Url, new TransferOptions { Sparse = true, Retries = 0 });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((4L << 20, size - (4L << 20)), (result.BytesSent, result.BytesInHoles));
        string received = Path.Combine(destination, "vm.img");
        Assert.Equal(size, new FileInfo(received).Length);
        Assert.InRange(TestFiles.AllocatedBytes(received), 1 << 20, 2 << 20);
        // Beyond the first MiB the file is one hole, so it reads as zeros; the first MiB is the source's.
        using var file = File.OpenHandle(received);
        Assert.True(SparseFiles.IsHole(file, 1 << 20, (int)Math.Min(size - (1 << 20), int.MaxValue)));
        byte[] head = new byte[1 << 20], expected = new byte[1 << 20];
        RandomAccess.Read(file, head, 0);
        using (var original = File.OpenHandle(source)) RandomAccess.Read(original, expected, 0);
        Assert.Equal(expected, head);
    }

    /// <summary>
    /// A file the source holds as written zeros still arrives sparse, as with rsync --sparse: a run of 64 KiB or more
    /// on whole blocks becomes a hole, a shorter one is written. Without the option every byte is written.
    /// </summary>
    [SkippableFact]
    public async Task Runs_of_zeros_in_a_written_file_become_holes_and_short_runs_are_written()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "holes are punched on Linux");
        using var temp = new TempDirectory();
        long size = 3L << 20;
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "f"), size, seed: 3);
        using (var file = File.OpenHandle(source, FileMode.Open, FileAccess.Write))
        {
            RandomAccess.Write(file, new byte[(1 << 20) + 12_288], (1 << 20) + 100);
            RandomAccess.Write(file, new byte[32 << 10], 5L << 19);
        }
        Assert.Equal(size, TestFiles.AllocatedBytes(source));
        string sparse = temp.Sub("sparse"), dense = temp.Sub("dense");
        await using var sparseReceiver = new LoopbackReceiver(sparse);
        await using var denseReceiver = new LoopbackReceiver(dense);

        var result = await SingularitySender.SendAsync([source], sparseReceiver.Url, Sparse);
        await SingularitySender.SendAsync([source], denseReceiver.Url, Sparse with { Sparse = false });

        Assert.True((await sparseReceiver.NextResultAsync()).Succeeded);
        Assert.True((await denseReceiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameBytes(source, Path.Combine(sparse, "f"));
        TestFiles.AssertSameBytes(source, Path.Combine(dense, "f"));
        Assert.Equal((size, 0L), (result.BytesSent, result.BytesInHoles));
        // The long run, from the first whole block in it to the shard boundary at 2 MiB; the 12 KiB beyond that
        // boundary and the 32 KiB run are too short and written.
        Assert.Equal(size - ((1 << 20) - 4096), TestFiles.AllocatedBytes(Path.Combine(sparse, "f")));
        Assert.Equal(size, TestFiles.AllocatedBytes(Path.Combine(dense, "f")));
    }

    /// <summary>
    /// A partial an earlier session left may hold bytes that no journal record vouches for. Where the source now has
    /// a hole, the receiver must make those bytes zeros, not leave them: the hole is punched.
    /// </summary>
    [SkippableFact]
    public async Task A_hole_clears_what_an_earlier_session_left_in_a_resumed_partial()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "holes are found on Linux");
        using var temp = new TempDirectory();
        const int shard = PartialFixtures.Shard;
        string source = TestFiles.CreateSparse(Path.Combine(temp.Sub("src"), "f"), 4 * shard, seed: 5, (0, shard), (3 * shard + 100, 1000));
        File.SetLastWriteTimeUtc(source, DateTime.UnixEpoch);
        string destination = temp.Sub("dst");
        string final = Path.Combine(destination, "f");
        PartialFixtures.LeaveJournaled(final, File.ReadAllBytes(source), shards: 1);
        using (var partial = File.OpenHandle(PartialFile.ResumablePathFor(final), FileMode.Open, FileAccess.Write))
            RandomAccess.Write(partial, PartialFixtures.Data(2 * shard, seed: 9), shard);
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([source], receiver.Url, Sparse with { ShardSize = shard });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((shard, 2L * shard, (long)shard), (result.BytesSkipped, result.BytesInHoles, result.BytesSent));
        TestFiles.AssertSameBytes(source, final);
    }
}
