namespace Singularity.Engine.Storage;

/// <summary>
/// How many files a session may keep open for one purpose, taken also from its receiver's budget
/// (<paramref name="shared"/>) for the same purpose, which the process's limit on open files sets. A receiver keeps
/// two: files being written, and finished files held open, and locked, between their last write and their commit
/// (the commit waits for the file's seal, which the control connection carries behind the data, so under load many
/// files can wait at once; beyond that budget a file closes at its last write and is locked again for its rename).
/// </summary>
internal sealed class OpenFileBudget(long limit, OpenFileBudget? shared = null)
{
    private long _taken;

    /// <summary>The most places this budget gives, before its receiver's budget is asked.</summary>
    public long Limit => limit;

    /// <summary>
    /// Files all receiving sessions of a process may have open for one purpose: a quarter of the descriptors left after
    /// 256 for sockets and the rest. A file may have its journal open too, so the two purposes together take at most
    /// every descriptor beyond the 256.
    /// </summary>
    public static long Within(long descriptors) => Math.Max(0, (descriptors - 256) / 4);

    /// <summary>
    /// As <see cref="Within"/>, for files being written, but never under 64: one session needs a file for each lane
    /// and each flush in flight, and under a very low limit (say 300) a quarter would refuse an honest sender, where
    /// exceeding the limit costs at worst the session that meets it.
    /// </summary>
    public static long ForWritingWithin(long descriptors) => Math.Max(64, Within(descriptors));

    public bool TryTake() => TryTake(out _);

    /// <summary>Takes one place; when refused, <paramref name="sharedRefused"/> says whether the receiver's budget was the one spent.</summary>
    public bool TryTake(out bool sharedRefused)
    {
        sharedRefused = false;
        if (Interlocked.Increment(ref _taken) <= limit)
        {
            if (shared is null || shared.TryTake()) return true;
            sharedRefused = true;
        }
        Interlocked.Decrement(ref _taken);
        return false;
    }

    public void Return()
    {
        Interlocked.Decrement(ref _taken);
        shared?.Return();
    }
}
