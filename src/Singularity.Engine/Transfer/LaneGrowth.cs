namespace Singularity.Engine.Transfer;

/// <summary>
/// Decides, from one throughput sample every <see cref="SampleInterval"/>, whether to open more lanes. On a path where
/// a single TCP stream is limited by loss and delay (cubic over a lossy WAN), throughput grows with the number of
/// lanes, so the count doubles while each doubling raises throughput by at least a quarter. The first doubling that
/// does not ends the growth for good, and is undone only if throughput fell by more than a twentieth (more lanes than
/// the path takes, adding queueing and loss). A doubling that gained little is kept: the sample before it still
/// carries the lanes' start, when their windows have not yet met the path's loss, so it overstates what those lanes
/// keep up (under cubic at 50 ms and 0.5% loss, 32 lanes sampled 107 MB/s there and then held about 85; 64 held 112).
/// Doubling makes each decision large enough to stand out of the noise of a lossy path.
/// </summary>
internal sealed class LaneGrowth(int start, int ceiling)
{
    /// <summary>Two seconds: long enough that loss on a lossy path does not drown the effect of the added lanes.</summary>
    public static readonly TimeSpan SampleInterval = TimeSpan.FromSeconds(2);

    private const double Gain = 1.25;
    private const double UndoBelow = 0.95;
    private int _lanes = start;
    private double _before;
    private bool _waiting;
    private bool _done = ceiling <= start;
    private int _samples;
    private int _added;

    /// <summary>How many lanes to open now (0 for none), or, negative, how many of the last ones added to close again.</summary>
    public int LanesToAdd(double rate)
    {
        if (_done || rate <= 0) return 0;
        // The first sample includes connection set-up and slow start: judge from the second on.
        if (++_samples < 2) return 0;
        if (_waiting)
        {
            _waiting = false;
            if (rate < _before * Gain)
            {
                _done = true;
                if (rate >= _before * UndoBelow) return 0;
                _lanes -= _added;
                return -_added;
            }
        }
        int add = Math.Min(_lanes, ceiling - _lanes);
        if (add <= 0)
        {
            _done = true;
            return 0;
        }
        _before = rate;
        _waiting = true;
        _lanes += add;
        _added = add;
        return add;
    }
}
