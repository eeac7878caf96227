using Singularity.Engine;
using Singularity.Engine.Protocol;
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
        var file = new SenderFile(0, entry, path, 4096);
        byte[] buffer = new byte[4096];
        File.Move(path, path + ".away");

        var first = Assert.Throws<SingularityException>(() => file.Read(0, buffer, retransmit: false, holes: null, out _));
        Assert.Equal(ErrorCode.IoError, first.Code);
        Assert.True(file.Unopenable);
        File.Move(path + ".away", path);

        Assert.Same(first, Assert.Throws<SingularityException>(() => file.Read(1, buffer, retransmit: false, holes: null, out _)));
        Assert.True(file.Unopenable);
    }

    private static long SourceScannerTime(string path) => Singularity.Engine.Storage.SourceScanner.ToNanoseconds(File.GetLastWriteTimeUtc(path));
}
