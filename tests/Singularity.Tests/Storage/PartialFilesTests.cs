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
    /// <summary>
    /// A tree deeper than a path the system takes (PATH_MAX, made a directory at a time) is walked down to where calls
    /// still reach: the partials there are found and cleaned, where .NET's walk failed the listing (`sglty partials`,
    /// recv --expire-partials) as an internal error.
    /// </summary>
    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task A_tree_deeper_than_a_path_the_system_takes_is_walked_where_calls_reach()
    {
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        string own = Path.Combine(destination, ".old.sglty-part");
        File.WriteAllBytes(own, [4]);
        File.SetLastWriteTimeUtc(own, DateTime.UtcNow.AddDays(-30));
        string deep = await TestFiles.CreateDeepAsync(destination, levels: 17);
        try
        {
            Assert.Equal(own, Assert.Single(PartialFiles.Find(destination)).Path);
            Assert.Equal(own, Assert.Single(PartialFiles.Clean(destination, TimeSpan.FromDays(1))).Path);
            Assert.False(File.Exists(own));
        }
        finally
        {
            await TestFiles.RemoveDeepAsync(deep);
        }
    }

    /// <summary>
    /// A file whose resumable name would pass the system's path limit holds no partial there: looking for one says so,
    /// rather than failing the entry (a file near the limit, in place, is left as it is).
    /// </summary>
    [Fact]
    public void A_name_too_long_for_a_partial_holds_none()
    {
        using var temp = new TempDirectory();
        string directory = temp.Path;
        while (directory.Length < 3800) directory = Path.Combine(directory, new string('d', 200));
        Directory.CreateDirectory(directory);
        string file = TestFiles.Create(Path.Combine(directory, new string('f', 4094 - directory.Length - 1)), 100);

        Assert.False(Singularity.Engine.Storage.PartialFile.RemoveStaleResumable(file));
        Assert.True(File.Exists(file));
    }
}
