using CsCheck;
using Singularity.Engine.Storage;
using Singularity.Tests.Support;

namespace Singularity.Tests.Storage;

/// <summary>Writing a shard that leaves its runs of zeros as holes must read back as the shard, whatever the file held before.</summary>
public sealed class SparseFilesTests
{
    /// <summary>A shard of data and zero runs of many lengths, at an offset that need not fall on a block.</summary>
    private static readonly Gen<(byte[] Data, long Offset)> Shards =
        Gen.Select(Gen.Bool, Gen.Int[1, 200_000], Gen.Byte[1, 255]).Array[1, 12]
            .Select(Gen.Long[0, 3 * 4096], (runs, offset) =>
            {
                var data = new List<byte>();
                foreach (var (zeros, length, fill) in runs) data.AddRange(Enumerable.Repeat(zeros ? (byte)0 : fill, length));
                return (data.ToArray(), offset);
            });

    [Fact]
    public void A_shard_written_leaving_holes_reads_back_as_itself_over_old_bytes()
    {
        using var temp = new TempDirectory();
        Shards.Sample(shard =>
        {
            var (data, offset) = shard;
            // Samples run in parallel: each has a file of its own.
            string path = Path.Combine(temp.Path, Guid.NewGuid().ToString("N"));
            using var file = File.OpenHandle(path, FileMode.Create, FileAccess.ReadWrite);
            // What an earlier session may have left where the shard goes: none of it may show through.
            RandomAccess.Write(file, PartialFixtures.Data((int)offset + data.Length + 4096, seed: data.Length), 0);

            SparseFiles.WriteLeavingHoles(file, data, offset);

            byte[] back = new byte[data.Length];
            Assert.Equal(data.Length, RandomAccess.Read(file, back, offset));
            Assert.Equal(data, back);
        }, iter: 200);
    }

    [SkippableFact]
    public void Zeroing_a_range_leaves_a_hole_and_the_bytes_around_it()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "holes are punched on Linux");
        using var temp = new TempDirectory();
        string path = TestFiles.Create(Path.Combine(temp.Path, "f"), 1 << 20, seed: 4);
        byte[] before = File.ReadAllBytes(path);
        using (var file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite))
        {
            SparseFiles.Zero(file, 100_000, 500_000);
            Assert.False(SparseFiles.IsHole(file, 0, 4096));
            Assert.True(SparseFiles.IsHole(file, 102_400, 495_616));
        }
        Array.Clear(before, 100_000, 500_000);
        Assert.Equal(before, File.ReadAllBytes(path));
        // The whole pages inside the range are freed; the partial pages at its edges hold zeros.
        Assert.Equal((1 << 20) - 495_616, TestFiles.AllocatedBytes(path));
    }
}
