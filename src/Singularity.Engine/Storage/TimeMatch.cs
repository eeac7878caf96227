namespace Singularity.Engine.Storage;

/// <summary>
/// How the quick check compares a file's modification time with an entry's: to the 100 ns a receiver keeps, or, as
/// rsync --modify-window does, in whole seconds, equal when they differ by at most <paramref name="WindowSeconds"/>.
/// A destination that keeps coarser times than the source (FAT keeps 2 s, many network shares 1 s) then stops
/// taking every file for changed.
/// </summary>
internal readonly record struct TimeMatch(int? WindowSeconds)
{
    /// <summary>Exact to the 100 ns unit: the default.</summary>
    public static TimeMatch Exact => default;

    /// <summary>Whether times <paramref name="a"/> and <paramref name="b"/> (ns since the epoch) count as the same.</summary>
    public bool Same(long a, long b) => WindowSeconds is not { } window ? a == b : Math.Abs(Seconds(a) - Seconds(b)) <= window;

    /// <summary>Whether time <paramref name="a"/> is later than <paramref name="b"/> beyond the window (rsync --update's test).</summary>
    public bool Later(long a, long b) => WindowSeconds is not { } window ? a > b : Seconds(a) - Seconds(b) > window;

    // Whole seconds, rounded down as the kernel's timespec keeps them (a time before 1970 too).
    private static long Seconds(long nanoseconds)
    {
        long seconds = Math.DivRem(nanoseconds, 1_000_000_000, out long rest);
        return rest < 0 ? seconds - 1 : seconds;
    }
}
