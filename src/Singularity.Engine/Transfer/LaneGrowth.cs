namespace Singularity.Engine.Transfer;

/// <summary>
/// Decides, from one throughput sample a second, whether one more lane is worth opening. On a path where a single
/// TCP stream is limited by loss and delay (cubic over a lossy WAN), every lane adds about the same throughput, so
/// lanes are added while each one raises it by at least a tenth; the first that does not ends the growth for good.
/// </summary>
internal sealed class LaneGrowth(int start, int ceiling)
{
    private const double Gain = 1.10;
    private int _lanes = start;
    private double _before;
    private bool _waiting;
    private bool _done = ceiling <= start;
    private int _samples;

    public bool ShouldAddLane(double rate)
    {
        if (_done || rate <= 0) return false;
        // The first second includes connection set-up and slow start: judge from the second sample on.
        if (++_samples < 2) return false;
        if (_waiting)
        {
            _waiting = false;
            if (rate < _before * Gain)
            {
                _done = true;
                return false;
            }
        }
        if (_lanes >= ceiling)
        {
            _done = true;
            return false;
        }
        _before = rate;
        _waiting = true;
        _lanes++;
        return true;
    }
}
