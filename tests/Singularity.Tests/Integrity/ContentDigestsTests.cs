using Singularity.Engine.Integrity;
using Singularity.Engine.Protocol;
using Singularity.Engine.Storage;
using Singularity.Tests.Support;

namespace Singularity.Tests.Integrity;

/// <summary>The sender's --checksum digests: read as the send reads a source, kept across attempts while a file stays as scanned, and stopped by cancellation.</summary>
public sealed class ContentDigestsTests
{
    [Fact]
    public void Digests_are_read_once_while_files_stay_as_scanned_and_again_once_they_changed()
    {
        using var temp = new TempDirectory();
        string big = TestFiles.Create(Path.Combine(temp.Path, "big"), 3 << 20, seed: 1);
        string small = TestFiles.Create(Path.Combine(temp.Path, "small"), 1000, seed: 2);
        long mtime = SourceScanner.ToNanoseconds(File.GetLastWriteTimeUtc(big));
        var digests = new ContentDigests();

        var first = digests.Of([Entry(big, 3 << 20, mtime), Directory(temp.Path), Entry(small, 1000, mtime)]);
        TestFiles.Create(big, 3 << 20, seed: 3);
        TestFiles.Create(small, 1000, seed: 4);
        var kept = digests.Of([Entry(big, 3 << 20, mtime), Entry(small, 1000, mtime + 1)]);

        Assert.Null(first[1].Entry.Digest);
        Assert.NotNull(first[0].Entry.Digest);
        // The big file, with the size and time scanned before, keeps the digest first read (though its bytes
        // changed); the small one, with another time, is read again.
        Assert.Equal(first[0].Entry.Digest, kept[0].Entry.Digest);
        Assert.NotEqual(Read(big), kept[0].Entry.Digest);
        Assert.Equal(Read(small), kept[1].Entry.Digest);
        Assert.NotEqual(first[2].Entry.Digest, kept[1].Entry.Digest);
        Assert.Null(digests.Of([Entry(big, 4 << 20, mtime + 2)])[0].Entry.Digest);
    }

    /// <summary>
    /// The digest is XXH3-128 of the XXH3-64 digests of the file's 1 MiB blocks, little-endian, as PROTOCOL §4 gives
    /// it, whether the blocks are read one by one or on every core; a file shorter than asked has none.
    /// </summary>
    [Theory]
    [InlineData(0)]
    [InlineData(1000)]
    [InlineData((5 << 20) / 2)]
    [InlineData(300 << 20)]
    public void The_digest_is_that_of_the_blocks_digests(long size)
    {
        using var temp = new TempDirectory();
        string file = TestFiles.Create(Path.Combine(temp.Path, "f"), size, seed: 5);
        byte[] bytes = File.ReadAllBytes(file);
        var blockDigests = new List<byte>();
        for (int offset = 0; offset < bytes.Length; offset += Digests.ContentBlock)
            blockDigests.AddRange(BitConverter.GetBytes(System.IO.Hashing.XxHash3.HashToUInt64(bytes.AsSpan(offset, Math.Min(Digests.ContentBlock, bytes.Length - offset)))));

        using var handle = File.OpenHandle(file);
        Assert.Equal(System.IO.Hashing.XxHash128.HashToUInt128(blockDigests.ToArray()), Digests.Content(handle, size));
        Assert.Null(Digests.Content(handle, size + 1));
    }

    /// <summary>A FIFO or a link swapped in for a file since the scan gets no digest, at once (its open would wait for a writer), and the receiver takes it for changed.</summary>
    [SkippableFact]
    public void A_fifo_or_a_link_in_place_of_a_file_gets_no_digest()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "FIFOs and opens that refuse links are Linux's");
        using var temp = new TempDirectory();
        string fifo = TestFiles.CreateFifo(Path.Combine(temp.Path, "fifo"));
        string target = TestFiles.Create(Path.Combine(temp.Path, "target"), 100, seed: 1);
        string link = Path.Combine(temp.Path, "link");
        File.CreateSymbolicLink(link, target);

        var digested = new ContentDigests().Of([Entry(fifo, 0, 0), Entry(link, 100, 0)]);

        Assert.All(digested, entry => Assert.Null(entry.Entry.Digest));
    }

    [Fact]
    public void A_cancelled_send_stops_reading()
    {
        using var temp = new TempDirectory();
        string file = TestFiles.Create(Path.Combine(temp.Path, "f"), 3 << 20, seed: 1);
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();

        Assert.ThrowsAny<OperationCanceledException>(() => new ContentDigests(cancelled.Token).Of([Entry(file, 3 << 20, 0)]));
    }

    private static SourceEntry Entry(string path, long size, long mtime) =>
        new(new ManifestEntry(EntryKind.File, Path.GetFileName(path), size, (UnixFileMode)0b110_100_100, mtime, null), path, int.MaxValue);

    private static SourceEntry Directory(string path) =>
        new(new ManifestEntry(EntryKind.Directory, "d", 0, (UnixFileMode)0b111_101_101, 0, null), path, int.MaxValue);

    private static UInt128? Read(string path)
    {
        using var handle = File.OpenHandle(path);
        return Digests.Content(handle, new FileInfo(path).Length);
    }
}
