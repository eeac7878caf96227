using Singularity.Engine;
using Singularity.Engine.Integrity;
using Singularity.Engine.Protocol;
using Singularity.Engine.Storage;
using Singularity.Engine.Transfer;
using Singularity.Tests.Support;

namespace Singularity.Tests.Transfer;

public sealed class SenderFileTests
{
    /// <summary>
    /// A file whose first open failed is being left out: another lane that meets it later must fail the same way, not
    /// open it again (it may have become readable) and send a shard of a file the receiver is told to give up.
    /// </summary>
    [Fact]
    public void A_file_that_could_not_be_opened_is_never_opened_later()
    {
        using var temp = new TempDirectory();
        string path = TestFiles.Create(Path.Combine(temp.Path, "f"), 3 * 4096);
        var entry = new ManifestEntry(EntryKind.File, "f", 3 * 4096, (UnixFileMode)0b110_100_100, SourceScannerTime(path), null);
        var file = new SenderFile(0, new SourceEntry(entry, path, entry.Path.Length), 4096);
        byte[] buffer = new byte[4096];
        File.Move(path, path + ".away");

        var first = Assert.Throws<SingularityException>(() => file.Read(0, buffer, retransmit: false, holes: null, out _));
        Assert.Equal(ErrorCode.IoError, first.Code);
        Assert.True(file.Unopenable);
        File.Move(path + ".away", path);

        Assert.Same(first, Assert.Throws<SingularityException>(() => file.Read(1, buffer, retransmit: false, holes: null, out _)));
        Assert.True(file.Unopenable);
    }

    /// <summary>
    /// A shard read, then given back by its lane (lost before the shard was sent) and read again, counts once: the
    /// file's last shard is still read through the handle the others were, so a file replaced by another (renamed over
    /// it, as editors save) meanwhile is sent whole as it was opened, not as a mix of both.
    /// </summary>
    [Fact]
    public void A_shard_read_again_after_its_lane_gave_it_back_counts_once()
    {
        using var temp = new TempDirectory();
        string path = TestFiles.Create(Path.Combine(temp.Path, "f"), 3 * 4096, seed: 1);
        byte[] old = File.ReadAllBytes(path);
        var entry = new ManifestEntry(EntryKind.File, "f", 3 * 4096, (UnixFileMode)0b110_100_100, SourceScannerTime(path), null);
        var file = new SenderFile(0, new SourceEntry(entry, path, entry.Path.Length), 4096);
        byte[] buffer = new byte[4096];
        file.Read(0, buffer, retransmit: false, holes: null, out _);
        file.Read(0, buffer, retransmit: false, holes: null, out _);
        file.Read(1, buffer, retransmit: false, holes: null, out _);
        File.Move(TestFiles.Create(path + ".new", 3 * 4096, seed: 2), path, overwrite: true);

        Assert.Equal(Digests.Shard(old.AsSpan(2 * 4096)), file.Read(2, buffer, retransmit: false, holes: null, out _));
        Assert.Equal(old[(2 * 4096)..], buffer);
    }

    /// <summary>
    /// A file removed after all of it was read (its shared handle closed) is a file changed while it was sent
    /// (withdrawn), not one that vanished (dropped as never read), when a resend opens it again, or a read of a shard
    /// its lane gave back.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_file_removed_before_it_is_read_again_is_found_changed(bool resend)
    {
        using var temp = new TempDirectory();
        string path = TestFiles.Create(Path.Combine(temp.Path, "f"), 2 * 4096);
        var entry = new ManifestEntry(EntryKind.File, "f", 2 * 4096, (UnixFileMode)0b110_100_100, SourceScannerTime(path), null);
        var file = new SenderFile(0, new SourceEntry(entry, path, entry.Path.Length), 4096);
        byte[] buffer = new byte[4096];
        file.Read(0, buffer, retransmit: false, holes: null, out _);
        file.Read(1, buffer, retransmit: false, holes: null, out _);
        File.Delete(path);

        var error = Assert.Throws<SingularityException>(() => file.Read(0, buffer, retransmit: resend, holes: null, out _));
        Assert.Equal(ErrorCode.SourceChanged, error.Code);
        Assert.Contains("was removed while it was being sent", error.Message);
        Assert.False(file.Unopenable);
    }

    /// <summary>
    /// A file renamed over the scanned one (as editors save) is not the file scanned: a larger one would pass for a
    /// file appended to, and its first bytes be sent as the file, a version it never had. It is refused as replaced,
    /// before any of it is read where it has more than one shard, after its one read else, and so is a smaller one or
    /// one of another time. One appended to (the same file) is read as the scan saw it, and so is another file of the
    /// scan's size and time (a file numbered anew, as some FUSE file systems do).
    /// </summary>
    [Theory]
    [InlineData(1, "larger")]
    [InlineData(3, "larger")]
    [InlineData(3, "smaller")]
    [InlineData(3, "later")]
    [InlineData(3, "as scanned")]
    [InlineData(3, "appended")]
    public void A_file_renamed_over_the_scanned_one_is_refused_as_replaced(int shards, string change)
    {
        using var temp = new TempDirectory();
        string path = TestFiles.Create(Path.Combine(temp.Path, "f"), shards * 4096 - 10, seed: 1);
        byte[] old = File.ReadAllBytes(path);
        var scanned = Assert.Single(SourceScanner.Scan([path], null, []));
        Assert.NotNull(scanned.Identity);
        var file = new SenderFile(0, scanned, 4096);
        if (change == "appended")
        {
            File.AppendAllText(path, "more");
        }
        else
        {
            string other = TestFiles.Create(path + ".new", old.Length + change switch { "larger" => 5000, "smaller" => -1, _ => 0 }, seed: 2);
            File.SetLastWriteTimeUtc(other, File.GetLastWriteTimeUtc(path).AddSeconds(change == "later" ? 1 : 0));
            File.Move(other, path, overwrite: true);
        }
        byte[] buffer = new byte[4096];

        if (change is "appended" or "as scanned")
        {
            byte[] now = File.ReadAllBytes(path);
            Assert.Equal(Digests.Shard(now.AsSpan(0, 4096)), file.Read(0, buffer, retransmit: false, holes: null, out _));
            return;
        }
        var error = Assert.Throws<SingularityException>(() => file.Read(0, buffer, retransmit: false, holes: null, out _));
        Assert.Equal(ErrorCode.SourceChanged, error.Code);
        Assert.Equal($"'{path}' was replaced by another file while it was being sent; send it again once it is stable", error.Message);
    }

    /// <summary>
    /// A tree's walk reads each regular file in one look, its identity with it (a hidden one too, and a further name
    /// of a file with -H, which names the file's identity); a link, a FIFO and a directory have none.
    /// </summary>
    [Fact]
    public void A_tree_s_walk_records_each_file_s_identity()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var temp = new TempDirectory();
        string tree = temp.Sub("tree");
        TestFiles.Create(Path.Combine(tree, "a"), 10);
        TestFiles.Create(Path.Combine(tree, "sub", ".hidden"), 10, seed: 2);
        SpecialFiles.Link(Path.Combine(tree, "a"), Path.Combine(tree, "sub", "b"));
        File.CreateSymbolicLink(Path.Combine(tree, "link"), "a");
        TestFiles.CreateFifo(Path.Combine(tree, "fifo"));

        var entries = SourceScanner.Scan([tree], null, [], rules: new ScanRules { HardLinks = true, Specials = true });

        foreach (var entry in entries)
        {
            if (entry.Entry.Kind is EntryKind.File or EntryKind.HardLink)
                Assert.Equal(SpecialFiles.IdentityOf(entry.SourcePath), entry.Identity);
            else
                Assert.Null(entry.Identity);
        }
        Assert.Equal(["tree", "tree/a", "tree/fifo", "tree/link", "tree/sub", "tree/sub/.hidden", "tree/sub/b"], entries.Select(entry => entry.Entry.Path).Order());
        Assert.Equal(EntryKind.HardLink, entries.Single(entry => entry.Entry.Path == "tree/sub/b").Entry.Kind);
    }

    private static long SourceScannerTime(string path) => Singularity.Engine.Storage.SourceScanner.ToNanoseconds(File.GetLastWriteTimeUtc(path));
}
