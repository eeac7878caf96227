using Singularity.Engine.Transfer;

namespace Singularity.Tests.Transfer;

public sealed class LaneGrowthTests
{
    [Fact]
    public void Lanes_double_while_each_doubling_pays_and_one_that_lowers_throughput_is_undone()
    {
        var growth = new LaneGrowth(start: 4, ceiling: 32);
        Assert.Equal(0, growth.LanesToAdd(10e6));          // the first sample is slow start: no judgement
        Assert.Equal(4, growth.LanesToAdd(12e6));          // 4 -> 8
        Assert.Equal(8, growth.LanesToAdd(22e6));          // +83%: 8 -> 16
        Assert.Equal(-8, growth.LanesToAdd(20.5e6));       // -7%: the doubling made it worse; back to 8, growth ends
        Assert.Equal(0, growth.LanesToAdd(80e6));          // and stays ended
    }

    [Fact]
    public void A_doubling_that_gains_a_little_is_kept_but_ends_the_growth()
    {
        var growth = new LaneGrowth(start: 32, ceiling: 128);
        growth.LanesToAdd(90e6);
        Assert.Equal(32, growth.LanesToAdd(98e6));         // 32 -> 64
        Assert.Equal(0, growth.LanesToAdd(116e6));         // +18%: kept, no further doubling
        Assert.Equal(0, growth.LanesToAdd(200e6));
    }

    [Fact]
    public void A_doubling_that_gains_nothing_is_kept_unless_throughput_clearly_fell()
    {
        var flat = new LaneGrowth(start: 32, ceiling: 128);
        flat.LanesToAdd(90e6);
        Assert.Equal(32, flat.LanesToAdd(107e6));          // 32 -> 64
        Assert.Equal(0, flat.LanesToAdd(103e6));           // -4%: within the noise of the sample before; kept
        Assert.Equal(0, flat.LanesToAdd(500e6));           // and the growth is over, below its ceiling
        var worse = new LaneGrowth(start: 32, ceiling: 64);
        worse.LanesToAdd(90e6);
        Assert.Equal(32, worse.LanesToAdd(107e6));
        Assert.Equal(-32, worse.LanesToAdd(101e6));        // -6%: undone
    }

    [Fact]
    public void Growth_stops_at_the_ceiling_and_never_starts_without_headroom()
    {
        var growth = new LaneGrowth(start: 4, ceiling: 6);
        growth.LanesToAdd(1e6);
        Assert.Equal(2, growth.LanesToAdd(1e6));           // 4 -> 6, capped by the ceiling
        Assert.Equal(0, growth.LanesToAdd(5e6));           // at the ceiling
        var fixedCount = new LaneGrowth(start: 4, ceiling: 4);
        Assert.Equal(0, fixedCount.LanesToAdd(1e6));
        Assert.Equal(0, fixedCount.LanesToAdd(2e6));
    }
}
