namespace Singularity.Engine.Storage;

/// <summary>
/// How many finished files one session may keep open, and locked, between their last write and their commit. The
/// commit waits for the file's seal, which the control connection carries behind the data, so under load many files
/// can wait at once: beyond the budget a file closes at its last write and is locked again only for its rename.
/// A session's budget also takes from its receiver's (<paramref name="shared"/>), which the process's limit on open
/// files sets: holding is only a saving, and must never take the descriptors that writing needs.
/// </summary>
internal sealed class HoldBudget(long limit, HoldBudget? shared = null)
{
    private long _held;

    /// <summary>Finished files all receiving sessions of a process may hold together: a quarter of the descriptors left after 256 for sockets and the files being written, since a held file may keep its journal open too.</summary>
    public static long Within(long descriptors) => Math.Max(0, (descriptors - 256) / 4);

    public bool TryTake()
    {
        if (Interlocked.Increment(ref _held) <= limit)
        {
            if (shared is null || shared.TryTake()) return true;
        }
        Interlocked.Decrement(ref _held);
        return false;
    }

    public void Return()
    {
        Interlocked.Decrement(ref _held);
        shared?.Return();
    }
}
