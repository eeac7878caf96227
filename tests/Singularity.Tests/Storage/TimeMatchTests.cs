using Singularity.Engine.Storage;

namespace Singularity.Tests.Storage;

/// <summary>Times compared as rsync --modify-window compares them: whole seconds (rounded down, before 1970 too), within the window.</summary>
public sealed class TimeMatchTests
{
    private const long Second = 1_000_000_000;

    [Theory]
    [InlineData(null, 5 * Second, 5 * Second, true)]
    [InlineData(null, 5 * Second + 100, 5 * Second, false)]
    [InlineData(0, 5 * Second + 999_999_999, 5 * Second, true)]
    [InlineData(0, 6 * Second, 5 * Second + 999_999_999, false)]
    [InlineData(1, 6 * Second, 5 * Second + 999_999_999, true)]
    [InlineData(1, 7 * Second, 5 * Second + 999_999_999, false)]
    // Before 1970: -0.5 s is in the second that starts at -1 s, not in second 0.
    [InlineData(0, -Second / 2, -Second, true)]
    [InlineData(0, 0, -Second / 2, false)]
    [InlineData(2, long.MaxValue, long.MinValue, false)]
    public void Times_are_the_same_within_the_window(int? window, long a, long b, bool same)
    {
        var times = new TimeMatch(window);
        Assert.Equal(same, times.Same(a, b));
        Assert.Equal(same, times.Same(b, a));
    }

    /// <summary>rsync --update keeps the copy unless the source is newer by at least the window (generator.c: file->modtime - st_mtime &lt; modify_window).</summary>
    [Theory]
    [InlineData(null, 6 * Second, 5 * Second, true)]
    [InlineData(null, 5 * Second, 5 * Second, false)]
    [InlineData(null, 5 * Second + 100, 5 * Second, true)]
    [InlineData(0, 6 * Second, 5 * Second + 900_000_000, true)]
    [InlineData(0, 5 * Second + 900_000_000, 5 * Second + 100_000_000, false)]
    [InlineData(1, 5 * Second, 5 * Second + 900_000_000, true)]
    [InlineData(1, 4 * Second, 5 * Second, false)]
    [InlineData(2, 7 * Second, 8 * Second + 500_000_000, true)]
    [InlineData(2, 6 * Second, 8 * Second, false)]
    public void Update_keeps_a_copy_unless_the_source_is_newer_by_the_window(int? window, long copy, long source, bool keeps) =>
        Assert.Equal(keeps, new TimeMatch(window).UpdateKeeps(copy, source));
}
