using Singularity.Engine;
using Singularity.Engine.Transfer;

namespace Singularity.Tests.Transfer;

public sealed class PathFitTests
{
    private static readonly TransferOptions Fitting = new() { FitToPath = true, MaxLanes = 16 };
    private static readonly TimeSpan Long = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan Short = TimeSpan.FromMilliseconds(0.2);

    [Theory]
    [InlineData("cubic")]
    [InlineData("reno")]
    [InlineData(null)]
    public void A_long_path_under_loss_based_congestion_control_gets_many_lanes_of_small_shards(string? congestion)
    {
        var fitted = PathFit.Fit(Fitting, Long, congestion);
        Assert.Equal(1 << 20, fitted.ShardSize);
        Assert.Equal(32, fitted.Lanes);
        Assert.Equal(64, fitted.MaxLanes);
        Assert.False(fitted.FitToPath);
        // What was fitted still passes the limits a default receiver applies.
        Assert.True(ProtocolLimits.LaneBufferBytes(fitted.MaxLanes, fitted.ShardSize) <= new ProtocolLimits().MaxLaneBufferBytes);
        Assert.True(2 * fitted.MaxLanes <= new ProtocolLimits().MaxLanes);
    }

    [Fact]
    public void Short_paths_bbr_and_options_without_fitting_keep_what_was_set()
    {
        Assert.Same(Fitting, PathFit.Fit(Fitting, Short, "cubic"));
        Assert.Same(Fitting, PathFit.Fit(Fitting, Long, "bbr"));
        var fixedOptions = Fitting with { FitToPath = false };
        Assert.Same(fixedOptions, PathFit.Fit(fixedOptions, Long, "cubic"));
    }
}
