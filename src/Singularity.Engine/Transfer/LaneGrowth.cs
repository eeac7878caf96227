namespace Singularity.Engine.Transfer;

/// <summary>
/// Decides, from one throughput sample every <see cref="SampleInterval"/>, whether to open more lanes. On a path where
/// a single TCP stream is limited by loss and delay (cubic over a lossy WAN), throughput grows with the number of
/// lanes, so the count doubles while each doubling raises throughput by at least a quarter; the first doubling that
/// does not ends the growth for good, and is undone if it raised throughput by less than a twentieth (on a path where
/// a few streams already reach the link rate, as under BBR, more lanes only add queueing and loss). Doubling makes
/// each decision large enough to stand out of the noise of a lossy path.
/// </summary>
internal sealed class LaneGrowth(int start, int ceiling)
{
    /// <summary>Two seconds: long enough that loss on a lossy path does not drown the effect of the added lanes.</summary>
    public static readonly TimeSpan SampleInterval = TimeSpan.FromSeconds(2);

    private const double Gain = 1.25;
    private const double KeepGain = 1.05;
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
                if (rate >= _before * KeepGain) return 0;
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
