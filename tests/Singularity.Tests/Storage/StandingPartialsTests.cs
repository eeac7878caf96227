using Singularity.Engine.Storage;
using Singularity.Tests.Support;

namespace Singularity.Tests.Storage;

/// <summary>
/// <see cref="StandingPartials"/> answers from one listing of each directory whether a file's resumable partial or
/// journal may stand beside it: never "no" where one does, and with one listing a directory while a manifest walks
/// the tree depth first.
/// </summary>
public sealed class StandingPartialsTests
{
    [SkippableFact]
    public void A_partial_or_a_journal_is_found_and_a_file_without_either_is_told_apart()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "directories are listed on Linux; elsewhere every partial may stand");
        using var temp = new TempDirectory();
        string directory = temp.Sub("d");
        string withPartial = Path.Combine(directory, "a"), withJournal = Path.Combine(directory, "b"), without = Path.Combine(directory, "c");
        string linked = Path.Combine(directory, "d"), otherCase = Path.Combine(directory, "e");
        File.WriteAllText(PartialFile.ResumablePathFor(withPartial), "");
        File.WriteAllText(ResumeJournal.PathFor(PartialFile.ResumablePathFor(withJournal)), "");
        // A link at a partial's name (to nothing) stands as any name does; a partial in another letter case may be
        // the file's on a file system that ignores case.
        File.CreateSymbolicLink(PartialFile.ResumablePathFor(linked), "nowhere");
        File.WriteAllText(Path.Combine(directory, ".E.SGLTY-PART"), "");
        // Another session's partial of "c" (a tagged name) is not its resumable one.
        File.WriteAllText(Path.Combine(directory, PartialFile.TemporaryName("c", 0x1234)), "");
        var partials = new StandingPartials();

        Assert.True(partials.MayStand(withPartial));
        Assert.True(partials.MayStand(withJournal));
        Assert.False(partials.MayStand(without));
        Assert.True(partials.MayStand(linked));
        Assert.True(partials.MayStand(otherCase));
        Assert.Equal(1, partials.Listings);
    }

    /// <summary>A partial whose name is cut to fit (a long name) is found by the name the receiver gives it.</summary>
    [Fact]
    public void The_partial_of_a_long_name_is_found()
    {
        using var temp = new TempDirectory();
        string file = Path.Combine(temp.Sub("d"), new string('x', 250));
        File.WriteAllText(PartialFile.ResumablePathFor(file), "");

        Assert.True(new StandingPartials().MayStand(file));
    }

    /// <summary>A depth-first walk lists each directory once, its listing kept while the walk is below it; a directory left and come back to is listed again.</summary>
    [SkippableFact]
    public void A_depth_first_walk_lists_each_directory_once()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "directories are listed on Linux");
        using var temp = new TempDirectory();
        string top = temp.Sub("top"), below = temp.Sub("top/below");
        File.WriteAllText(PartialFile.ResumablePathFor(Path.Combine(top, "z")), "");
        var partials = new StandingPartials();

        Assert.False(partials.MayStand(Path.Combine(top, "a")));
        Assert.False(partials.MayStand(Path.Combine(below, "b")));
        Assert.True(partials.MayStand(Path.Combine(top, "z")));
        Assert.Equal(2, partials.Listings);
        Assert.False(partials.MayStand(Path.Combine(temp.Sub("other"), "c")));
        Assert.True(partials.MayStand(Path.Combine(top, "z")));
        Assert.Equal(4, partials.Listings);
    }

    /// <summary>
    /// Listings read at most four names a question beyond the allowance: a directory larger than that is given up
    /// part way, and answered "may stand"; a small one is still listed; and a large one come back to costs no more.
    /// </summary>
    [SkippableFact]
    public void Listings_stop_once_they_cost_more_than_they_save()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "directories are listed on Linux");
        using var temp = new TempDirectory();
        string large = temp.Sub("large"), small = temp.Sub("small");
        for (int i = 0; i < 100; i++) File.WriteAllText(Path.Combine(large, $"f{i}"), "");
        var partials = new StandingPartials(allowance: 50);

        Assert.True(partials.MayStand(Path.Combine(large, "f0")));
        Assert.False(partials.MayStand(Path.Combine(small, "g")));
        Assert.True(partials.MayStand(Path.Combine(large, "f1")));
        Assert.True(partials.MayStand(Path.Combine(large, "f2")));

        // Each listing stops at one name beyond what it may read; the four questions allow 66 in all.
        Assert.InRange(partials.NamesRead, 50, 4 * 4 + 50 + 2);
    }

    [Fact]
    public void A_directory_that_cannot_be_listed_may_hold_anything()
    {
        using var temp = new TempDirectory();

        Assert.True(new StandingPartials().MayStand(Path.Combine(temp.Path, "missing", "f")));
    }
}
