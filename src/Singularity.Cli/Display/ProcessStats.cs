using System.Diagnostics;

namespace Singularity.Cli.Display;

/// <summary>CPU time and peak resident memory of this process, reported by each side so a benchmark can show both.</summary>
internal static class ProcessStats
{
    public static (double CpuSeconds, long PeakRssBytes) Read()
    {
        using var self = Process.GetCurrentProcess();
        self.Refresh();
        return (self.TotalProcessorTime.TotalSeconds, self.PeakWorkingSet64);
    }
}
