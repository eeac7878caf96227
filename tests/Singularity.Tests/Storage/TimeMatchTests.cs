using Singularity.Engine.Storage;

namespace Singularity.Tests.Storage;

/// <summary>Times compared as rsync --modify-window compares them: whole seconds (rounded down, before 1970 too), within the window.</summary>
public sealed class TimeMatchTests
{
    private const long Second = 1_000_000_000;

    [Theory]
    [InlineData(null, 5 * Second, 5 * Second, true, false)]
    [InlineData(null, 5 * Second + 100, 5 * Second, false, true)]
    [InlineData(0, 5 * Second + 999_999_999, 5 * Second, true, false)]
    [InlineData(0, 6 * Second, 5 * Second + 999_999_999, false, true)]
    [InlineData(1, 6 * Second, 5 * Second + 999_999_999, true, false)]
    [InlineData(1, 7 * Second, 5 * Second + 999_999_999, false, true)]
    // Before 1970: -0.5 s is in the second that starts at -1 s, not in second 0.
    [InlineData(0, -Second / 2, -Second, true, false)]
    [InlineData(0, 0, -Second / 2, false, true)]
    [InlineData(2, long.MaxValue, long.MinValue, false, true)]
    public void Times_are_the_same_within_the_window(int? window, long a, long b, bool same, bool later)
    {
        var times = new TimeMatch(window);
        Assert.Equal(same, times.Same(a, b));
        Assert.Equal(same, times.Same(b, a));
        Assert.Equal(later, times.Later(a, b));
        Assert.False(times.Later(b, a) && later);
    }
}
