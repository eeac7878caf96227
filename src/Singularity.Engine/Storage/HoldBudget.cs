namespace Singularity.Engine.Storage;

/// <summary>
/// How many finished files one session may keep open, and locked, between their last write and their commit. The
/// commit waits for the file's seal, which the control connection carries behind the data, so under load many files
/// can wait at once: beyond the budget a file closes at its last write and is locked again only for its rename.
/// </summary>
internal sealed class HoldBudget(int limit)
{
    private int _held;

    public bool TryTake()
    {
        if (Interlocked.Increment(ref _held) <= limit) return true;
        Interlocked.Decrement(ref _held);
        return false;
    }

    public void Return() => Interlocked.Decrement(ref _held);
}
