namespace Singularity.Engine;

/// <summary>
/// A send's itemized changes (<see cref="TransferOptions.ItemizeChanges"/>) over all its attempts: each entry once,
/// as the first attempt that knew it told it (a retry finds in place what an earlier attempt made), and, below level
/// 2, only what changed.
/// </summary>
internal sealed class ChangeLog(int level, Action<ItemizedChange>? told)
{
    private readonly HashSet<string> _named = new(StringComparer.Ordinal);
    private readonly List<ItemizedChange> _changes = [];
    // Files an attempt found differing that no attempt has named yet, with what stood there before the send.
    private readonly Dictionary<string, ItemizedAttributes> _differed = new(StringComparer.Ordinal);

    /// <summary>Records a change and tells it, unless it is no change and level 1 asked for changes alone, or its entry was told before.</summary>
    public void Add(ItemizedChange change)
    {
        // What changed nothing (left as it stood, or made from an earlier copy that matched it) shows only at -ii.
        if (level < 2 && change is { Update: not (ItemizedUpdate.Sent or ItemizedUpdate.Deleted), Changes: ItemizedAttributes.None }) return;
        // A deletion's path is kept apart from an entry's: a directory deleted where a file now stands is both.
        string key = change.Update == ItemizedUpdate.Deleted ? "*" + change.Path : change.Path;
        lock (_changes)
        {
            if (!_named.Add(key)) return;
            _differed.Remove(change.Path);
            _changes.Add(change);
        }
        told?.Invoke(change);
    }

    /// <summary>
    /// How a file differed when an attempt prepared it: kept (the first attempt's) until the file is named, so that a
    /// later attempt that finds it in place, its commit lost with the connection, names it as sent.
    /// </summary>
    public void Differed(string path, ItemizedAttributes changes)
    {
        lock (_changes)
            if (!_named.Contains(path)) _differed.TryAdd(path, changes);
    }

    /// <summary>How an earlier attempt found a file not named since differing; null if none did.</summary>
    public ItemizedAttributes? DifferedBefore(string path)
    {
        lock (_changes) return _differed.TryGetValue(path, out var changes) ? changes : null;
    }

    /// <summary>Every change recorded, in order.</summary>
    public IReadOnlyList<ItemizedChange> All
    {
        get { lock (_changes) return [.. _changes]; }
    }
}
