using Singularity.Engine;
using Singularity.Engine.Protocol;
using Singularity.Engine.Storage;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// With <see cref="TransferOptions.Delta"/>, a changed file's partial is seeded from the version at its name, and only
/// the shards whose bytes differ travel; every file still arrives byte for byte, whatever the old version held.
/// </summary>
public sealed class DeltaTests
{
    private const int Shard = 256 << 10;
    private static readonly TransferOptions Delta = new() { ShardSize = Shard, Delta = true };

    /// <summary>Writes <paramref name="bytes"/> over <paramref name="path"/> at <paramref name="offset"/>.</summary>
    private static void Overwrite(string path, long offset, byte[] bytes)
    {
        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Write);
        RandomAccess.Write(file, bytes, offset);
    }

    /// <summary>A copy of <paramref name="source"/> at the destination, a day older, as an earlier send left it.</summary>
    private static void CopyAsOlder(string source, string destination)
    {
        File.Copy(source, destination);
        File.SetLastWriteTimeUtc(destination, File.GetLastWriteTimeUtc(source).AddDays(-1));
    }

    /// <summary>A log that grew: the old version's whole shards stay, and only the new tail (with the shard the old end fell in) travels.</summary>
    [Theory]
    [InlineData(CipherSuite.None)]
    [InlineData(CipherSuite.Aes256Gcm)]
    public async Task A_grown_log_sends_only_its_new_tail(CipherSuite cipher)
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "app.log"), 20L * Shard + 1000, seed: 3);
        string destination = temp.Sub("dst");
        File.Copy(source, Path.Combine(destination, "app.log"));
        byte[] tail = new byte[3 * Shard];
        new Random(4).NextBytes(tail);
        using (var log = new FileStream(source, FileMode.Append)) log.Write(tail);
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { Cipher = cipher });

        var result = await SingularitySender.SendAsync([source], receiver.Url, Delta with { Cipher = cipher });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameBytes(source, Path.Combine(destination, "app.log"));
        Assert.Equal(20L * Shard, result.BytesMatched);
        Assert.Equal(new FileInfo(source).Length - 20L * Shard, result.BytesSent);
        Assert.Equal(0, result.BytesSkipped);
        Assert.Equal(File.GetLastWriteTimeUtc(source), File.GetLastWriteTimeUtc(Path.Combine(destination, "app.log")));
        Assert.Empty(Directory.GetFiles(destination, ".*"));
    }

    /// <summary>A file written in place (a disk image, a database) sends the shards it changed; one that shrank sends nothing its old version held.</summary>
    [Theory]
    [InlineData("changed in place")]
    [InlineData("shrank")]
    public async Task Only_the_shards_that_differ_travel(string change)
    {
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "disk.img"), 12L * Shard, seed: 5);
        CopyAsOlder(source, Path.Combine(destination, "disk.img"));
        long expected;
        if (change == "shrank")
        {
            // Ends within a shard, which the old version holds whole: the shorter last shard matches too.
            using (var file = new FileStream(source, FileMode.Open)) file.SetLength(7L * Shard + 777);
            expected = 0;
        }
        else
        {
            Overwrite(source, 3L * Shard + 10, [1, 2, 3]);
            // Across the boundary between shards 7 and 8.
            Overwrite(source, 8L * Shard - 2, [9, 9, 9, 9]);
            expected = 3L * Shard;
        }
        File.SetLastWriteTimeUtc(source, DateTime.UtcNow);
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([source], receiver.Url, Delta);

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameBytes(source, Path.Combine(destination, "disk.img"));
        Assert.Equal(expected, result.BytesSent);
        Assert.Equal(new FileInfo(source).Length - expected, result.BytesMatched);
    }

    /// <summary>
    /// Delta is asked for on a path that is not local: on loopback, by default, and when the user turns it off, a
    /// changed file travels whole. So it does when the receiver keeps no journals (no flushes), which seeding needs,
    /// and when the receiver does not answer delta, which it may.
    /// </summary>
    [Theory]
    [InlineData("default on loopback")]
    [InlineData("turned off")]
    [InlineData("receiver without flushes")]
    [InlineData("receiver without delta")]
    public async Task Without_delta_a_changed_file_travels_whole(string why)
    {
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "f"), 6L * Shard, seed: 6);
        CopyAsOlder(source, Path.Combine(destination, "f"));
        Overwrite(source, 0, [1]);
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { Durable = why != "receiver without flushes" },
            adjust: options => options with { Delta = why != "receiver without delta" });
        var options = why switch
        {
            "default on loopback" => Delta with { Delta = null },
            "turned off" => Delta with { Delta = false },
            _ => Delta,
        };

        var result = await SingularitySender.SendAsync([source], receiver.Url, options);

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameBytes(source, Path.Combine(destination, "f"));
        Assert.Equal((6L * Shard, 0L), (result.BytesSent, result.BytesMatched));
    }

    /// <summary>
    /// The old version is read only where it is a regular file at the name: a link there is never followed (its
    /// target, outside the destination, would be read and its digests told to the sender). The link is replaced.
    /// </summary>
    [SkippableFact]
    public async Task A_link_at_the_name_is_not_read_as_the_old_version()
    {
        Skip.If(OperatingSystem.IsWindows(), "links need privileges on Windows");
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "f"), 6L * Shard, seed: 7);
        string outside = Path.Combine(temp.Sub("outside"), "secret");
        File.Copy(source, outside);
        File.CreateSymbolicLink(Path.Combine(destination, "f"), outside);
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([source], receiver.Url, Delta);

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Null(new FileInfo(Path.Combine(destination, "f")).LinkTarget);
        TestFiles.AssertSameBytes(source, Path.Combine(destination, "f"));
        TestFiles.AssertSameBytes(source, outside);
        Assert.Equal((6L * Shard, 0L), (result.BytesSent, result.BytesMatched));
    }

    /// <summary>
    /// A send interrupted after the seeding leaves a partial that the next send resumes, as any other: the seeded
    /// shards are journaled only once flushed, so what the journal vouches for is on disk.
    /// </summary>
    [Fact]
    public async Task A_seeded_partial_is_resumed_by_the_next_send()
    {
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "f"), 10L * Shard, seed: 8);
        string target = Path.Combine(destination, "f");
        CopyAsOlder(source, target);
        Overwrite(source, 5L * Shard, [42]);
        var entry = new ManifestEntry(EntryKind.File, "f", new FileInfo(source).Length, (UnixFileMode)0x1A4, SourceScanner.ToNanoseconds(File.GetLastWriteTimeUtc(source)), null);

        // What a session that was cut off after seeding leaves.
        Assert.Equal(10, BasisSeed.Seed(target, PartialFile.ResumablePathFor(target), entry, Shard, int.MaxValue, sparse: false, long.MaxValue));
        await using var receiver = new LoopbackReceiver(destination);
        var result = await SingularitySender.SendAsync([source], receiver.Url, Delta with { Delta = false });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameBytes(source, target);
        Assert.Equal((1L * Shard, 9L * Shard, 0L), (result.BytesSent, result.BytesSkipped, result.BytesMatched));
        Assert.Empty(Directory.GetFiles(destination, ".*"));
    }

    /// <summary>A dry run reads and writes nothing at the receiver: no partial is seeded.</summary>
    [Fact]
    public async Task A_dry_run_seeds_nothing()
    {
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "f"), 6L * Shard, seed: 9);
        CopyAsOlder(source, Path.Combine(destination, "f"));
        Overwrite(source, 0, [1]);
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([source], receiver.Url, Delta with { DryRun = true });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(["f"], Directory.GetFileSystemEntries(destination).Select(Path.GetFileName));
        Assert.Equal(0L, result.BytesMatched);
    }
}
