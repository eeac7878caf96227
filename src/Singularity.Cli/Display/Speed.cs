namespace Singularity.Cli.Display;

/// <summary>A rate as a send's lines state it: MB/s (10^6 bytes a second), or below a MB a second kB/s or B/s, which 0.0 MB/s would hide.</summary>
internal static class Speed
{
    /// <summary>Below this many bytes a second, a rate is not stated in MB/s: it would read 1000.0 kB/s above it.</summary>
    public const double OneMegabyte = 999_950;

    public static string Of(double bytesPerSecond) => bytesPerSecond switch
    {
        // Bounds as the figures round: 999.96 B/s reads 1.0 kB/s, not 1000 B/s.
        < 999.5 => $"{bytesPerSecond:0} B/s",
        < OneMegabyte => $"{bytesPerSecond / 1e3:0.0} kB/s",
        _ => $"{bytesPerSecond / 1e6:0.0} MB/s",
    };
}
