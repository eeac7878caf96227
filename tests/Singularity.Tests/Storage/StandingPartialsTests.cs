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
    [Fact]
    public void A_partial_or_a_journal_is_found_and_a_file_without_either_is_told_apart()
    {
        using var temp = new TempDirectory();
        string directory = temp.Sub("d");
        string withPartial = Path.Combine(directory, "a"), withJournal = Path.Combine(directory, "b"), without = Path.Combine(directory, "c");
        File.WriteAllText(PartialFile.ResumablePathFor(withPartial), "");
        File.WriteAllText(ResumeJournal.PathFor(PartialFile.ResumablePathFor(withJournal)), "");
        // Another session's partial of "c" (a tagged name) is not its resumable one.
        File.WriteAllText(Path.Combine(directory, PartialFile.TemporaryName("c", 0x1234)), "");
        var partials = new StandingPartials();

        Assert.True(partials.MayStand(withPartial));
        Assert.True(partials.MayStand(withJournal));
        Assert.False(partials.MayStand(without));
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
    [Fact]
    public void A_depth_first_walk_lists_each_directory_once()
    {
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

    /// <summary>Once the entries listed outrun the questions asked (a list that comes back to a large directory), no more listings are made, and the answer is "may stand".</summary>
    [Fact]
    public void Listings_stop_once_they_cost_more_than_they_save()
    {
        using var temp = new TempDirectory();
        string large = temp.Sub("large"), small = temp.Sub("small");
        for (int i = 0; i < 100; i++) File.WriteAllText(Path.Combine(large, $"f{i}"), "");
        var partials = new StandingPartials(allowance: 50);

        Assert.False(partials.MayStand(Path.Combine(large, "f0")));
        Assert.True(partials.MayStand(Path.Combine(small, "g")));
        Assert.True(partials.MayStand(Path.Combine(large, "f1")));

        Assert.Equal(1, partials.Listings);
    }

    [Fact]
    public void A_directory_that_cannot_be_listed_may_hold_anything()
    {
        using var temp = new TempDirectory();

        Assert.True(new StandingPartials().MayStand(Path.Combine(temp.Path, "missing", "f")));
    }
}
