namespace Singularity.Engine.Transfer;

/// <summary>
/// Lets a session remove a directory only while it is its receiver's one session, and keeps others from starting
/// meanwhile. A session trusts the directories it has checked (see PathGuard) and prepares files in them that it opens
/// later by path: a directory removed under another session could then be replaced by a link, which that session
/// would write through, out of the destination.
/// </summary>
internal sealed class RemovalGate
{
    private readonly Lock _lock = new();
    private int _sessions;
    private bool _removing;

    /// <summary>A gate for a session on its own (no receiver shares it): that session counts as entered.</summary>
    public static RemovalGate Alone()
    {
        var gate = new RemovalGate();
        gate.TryEnter();
        return gate;
    }

    /// <summary>Counts a session in; false while a session is removing directories (the new one is turned away, and its sender retries).</summary>
    public bool TryEnter()
    {
        lock (_lock)
        {
            if (_removing) return false;
            _sessions++;
            return true;
        }
    }

    /// <summary>Whether a session is removing directories now: a first look, to turn a new sender away with a reason before its handshake.</summary>
    public bool Removing
    {
        get { lock (_lock) return _removing; }
    }

    /// <summary>Counts a session out.</summary>
    public void Leave()
    {
        lock (_lock) _sessions--;
    }

    /// <summary>True if the caller is the only session: then none other can enter until <see cref="EndRemoving"/>.</summary>
    public bool TryBeginRemoving()
    {
        lock (_lock)
        {
            if (_sessions != 1 || _removing) return false;
            _removing = true;
            return true;
        }
    }

    public void EndRemoving()
    {
        lock (_lock) _removing = false;
    }
}
