namespace Singularity.Engine.Transfer;

/// <summary>
/// Fits the shard size and the lanes to the path (<see cref="TransferOptions.FitToPath"/>). On a long path under a
/// loss-based congestion control (cubic, reno) each TCP stream carries a few MB/s whatever the link's rate, so the
/// sender needs many lanes: it starts with 32 and may double them to 64, with 1 MiB shards so that many lanes' buffers
/// stay within bounds on both sides. BBR (any version) keeps one stream near the link rate, so under it nothing
/// changes; an unknown congestion control is taken for a loss-based one, as most systems' defaults are. On a local
/// path (loopback, a LAN) a few streams already fill the link and the hosts' CPUs and disks set the pace, so the lanes
/// do not grow: more lanes only contend for the cores (measured on loopback, 2 cores, 4 GiB: 4 lanes 668-672 MB/s,
/// grown to 8 lanes 260-648 MB/s).
/// </summary>
internal static class PathFit
{
    public const int LongPathShardSize = 1 << 20;
    public const int LongPathLanes = 32;
    public const int LongPathMaxLanes = 64;

    /// <summary>
    /// Whether to ask for delta (<see cref="TransferOptions.Delta"/>): as the options say, else on a path that is not
    /// local, where the link costs more than the receiver's copy of the old versions.
    /// </summary>
    public static bool WantsDelta(TransferOptions options, TimeSpan connectTime) => options.Delta ?? connectTime >= TransferOptions.LocalPathRoundTrip;

    /// <summary>The options to run with: fitted once, so a retry keeps the shards in which the receiver's partials are journaled.</summary>
    public static TransferOptions Fit(TransferOptions options, TimeSpan connectTime, string? congestionControl)
    {
        if (!options.FitToPath) return options;
        bool modelBased = congestionControl?.StartsWith("bbr", StringComparison.Ordinal) == true;
        // MaxLanes 0: no more than Lanes.
        if (connectTime < TransferOptions.LocalPathRoundTrip) return options with { MaxLanes = 0, FitToPath = false };
        if (connectTime < TransferOptions.LongPathRoundTrip || modelBased) return options with { FitToPath = false };
        return options with
        {
            ShardSize = LongPathShardSize,
            Lanes = Math.Max(options.Lanes, LongPathLanes),
            MaxLanes = LongPathMaxLanes,
            FitToPath = false,
        };
    }
}
