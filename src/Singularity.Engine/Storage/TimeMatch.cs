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

    /// <summary>
    /// Whether rsync --update keeps a copy in place of time <paramref name="copy"/> against the source's
    /// <paramref name="source"/>: when it is later; with a window, unless the source is newer by at least the window
    /// in whole seconds, as rsync's generator asks (`file->modtime - st_mtime &lt; modify_window`): at 0, a later
    /// second; at 2, even a copy up to a second older than the source.
    /// </summary>
    public bool UpdateKeeps(long copy, long source) => WindowSeconds is not { } window ? copy > source : Seconds(source) - Seconds(copy) < window;

    // Whole seconds, rounded down as the kernel's timespec keeps them (a time before 1970 too).
    private static long Seconds(long nanoseconds)
    {
        long seconds = Math.DivRem(nanoseconds, 1_000_000_000, out long rest);
        return rest < 0 ? seconds - 1 : seconds;
    }
}
