using Singularity.Engine;
using Singularity.Tests.Support;

namespace Singularity.Tests.Storage;

/// <summary>Listing and cleaning partials stays inside the destination, whatever links a sender left in it.</summary>
public sealed class PartialFilesTests
{
    [Fact]
    public void Cleaning_does_not_follow_links_out_of_the_destination_or_round_in_them()
    {
        if (OperatingSystem.IsWindows()) return;
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst"), outside = temp.Sub("outside");
        string precious = Path.Combine(outside, ".precious.sglty-part");
        File.WriteAllBytes(precious, [1, 2, 3]);
        File.SetLastWriteTimeUtc(precious, DateTime.UtcNow.AddDays(-30));
        string own = Path.Combine(destination, "sub", ".old.sglty-part");
        Directory.CreateDirectory(Path.GetDirectoryName(own)!);
        File.WriteAllBytes(own, [4]);
        File.SetLastWriteTimeUtc(own, DateTime.UtcNow.AddDays(-30));
        // As a sender may create them: a link out of the destination, and two links back to it.
        File.CreateSymbolicLink(Path.Combine(destination, "out"), outside);
        File.CreateSymbolicLink(Path.Combine(destination, "a"), ".");
        File.CreateSymbolicLink(Path.Combine(destination, "b"), ".");

        Assert.Equal(own, Assert.Single(PartialFiles.Find(destination)).Path);
        Assert.Equal(own, Assert.Single(PartialFiles.Clean(destination, TimeSpan.FromDays(1))).Path);
        Assert.True(File.Exists(precious));
        Assert.False(File.Exists(own));
    }
}
