using Singularity.Engine;
using Singularity.Engine.Transfer;

namespace Singularity.Tests.Transfer;

public sealed class PathFitTests
{
    private static readonly TransferOptions Fitting = new() { FitToPath = true, MaxLanes = 16 };
    private static readonly TimeSpan Long = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan Short = TimeSpan.FromMilliseconds(3);
    private static readonly TimeSpan Local = TimeSpan.FromMilliseconds(0.2);

    [Theory]
    [InlineData("cubic")]
    [InlineData("reno")]
    [InlineData("htcp")]
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

    [Theory]
    [InlineData("cubic")]
    [InlineData("bbr")]
    public void A_local_path_keeps_its_lanes_and_shards_and_does_not_grow_them(string congestion)
    {
        var fitted = PathFit.Fit(Fitting, Local, congestion);
        Assert.Equal(Fitting with { MaxLanes = 0, FitToPath = false }, fitted);
        Assert.Same(fitted, PathFit.Fit(fitted, Long, "cubic"));
    }

    [Fact]
    public void Short_paths_bbr_and_options_without_fitting_keep_what_was_set_and_the_decision_is_final()
    {
        foreach (var kept in new[] { PathFit.Fit(Fitting, Short, "cubic"), PathFit.Fit(Fitting, Long, "bbr"), PathFit.Fit(Fitting, Long, "bbr2") })
        {
            Assert.Equal(Fitting with { FitToPath = false }, kept);
            // A retry that measures a long path (a SYN resent, say) keeps the shards the first attempt used.
            Assert.Same(kept, PathFit.Fit(kept, Long, "cubic"));
        }
    }

    /// <summary>Delta is asked for as the options say, else on any path that is not local (rsync sends whole files between local paths).</summary>
    [Fact]
    public void Delta_is_asked_for_beyond_a_local_path_unless_the_options_say()
    {
        var automatic = new TransferOptions();
        Assert.Equal((false, true, true), (PathFit.WantsDelta(automatic, Local), PathFit.WantsDelta(automatic, Short), PathFit.WantsDelta(automatic, Long)));
        Assert.Equal((true, false), (PathFit.WantsDelta(automatic with { Delta = true }, Local), PathFit.WantsDelta(automatic with { Delta = false }, Long)));
    }
}
