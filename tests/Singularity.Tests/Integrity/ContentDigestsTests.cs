using Singularity.Engine.Integrity;
using Singularity.Engine.Storage;
using Singularity.Tests.Support;

namespace Singularity.Tests.Integrity;

/// <summary>The sender's --checksum digests: read as the send reads a source, kept across attempts while a file stays as scanned, and stopped by cancellation.</summary>
public sealed class ContentDigestsTests
{
    [Fact]
    public void A_digest_is_read_once_while_the_file_stays_as_scanned_and_again_once_it_changed()
    {
        using var temp = new TempDirectory();
        string file = TestFiles.Create(Path.Combine(temp.Path, "f"), 3 << 20, seed: 1);
        long mtime = SourceScanner.ToNanoseconds(File.GetLastWriteTimeUtc(file));
        var digests = new ContentDigests();

        var first = digests.Of(file, 3 << 20, mtime);
        TestFiles.Create(file, 3 << 20, seed: 2);
        var kept = digests.Of(file, 3 << 20, mtime);
        var changed = digests.Of(file, 3 << 20, mtime + 1);

        UInt128? expected;
        using (var handle = File.OpenHandle(file)) expected = Digests.Content(handle, 3 << 20);
        Assert.NotNull(first);
        Assert.Equal(first, kept);
        Assert.Equal(expected, changed);
        Assert.NotEqual(first, changed);
        Assert.Null(digests.Of(file, 4 << 20, mtime + 2));
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

        Assert.Null(new ContentDigests().Of(fifo, 0, 0));
        Assert.Null(new ContentDigests().Of(link, 100, 0));
    }

    [Fact]
    public void A_cancelled_send_stops_reading()
    {
        using var temp = new TempDirectory();
        string file = TestFiles.Create(Path.Combine(temp.Path, "f"), 3 << 20, seed: 1);
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();

        Assert.ThrowsAny<OperationCanceledException>(() => new ContentDigests(cancelled.Token).Of(file, 3 << 20, 0));
    }
}
