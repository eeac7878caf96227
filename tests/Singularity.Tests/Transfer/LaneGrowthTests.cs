using Singularity.Engine.Transfer;

namespace Singularity.Tests.Transfer;

public sealed class LaneGrowthTests
{
    [Fact]
    public void Lanes_are_added_while_each_one_raises_throughput_and_never_after_the_first_that_does_not()
    {
        var growth = new LaneGrowth(start: 4, ceiling: 16);
        Assert.False(growth.ShouldAddLane(10e6));          // the first second is slow start: no judgement
        Assert.True(growth.ShouldAddLane(12e6));           // 4 -> 5
        Assert.True(growth.ShouldAddLane(15e6));           // +25%: 5 -> 6
        Assert.True(growth.ShouldAddLane(18e6));           // +20%: 6 -> 7
        Assert.False(growth.ShouldAddLane(18.5e6));        // +3%: the seventh lane did not pay; growth ends
        Assert.False(growth.ShouldAddLane(40e6));          // and stays ended
    }

    [Fact]
    public void Growth_stops_at_the_ceiling_and_never_starts_without_headroom()
    {
        var growth = new LaneGrowth(start: 2, ceiling: 3);
        growth.ShouldAddLane(1e6);
        Assert.True(growth.ShouldAddLane(1e6));            // 2 -> 3
        Assert.False(growth.ShouldAddLane(5e6));           // at the ceiling
        var fixedCount = new LaneGrowth(start: 4, ceiling: 4);
        Assert.False(fixedCount.ShouldAddLane(1e6));
        Assert.False(fixedCount.ShouldAddLane(2e6));
    }
}
