using Singularity.Engine.Protocol;
using Singularity.Engine.Storage;

namespace Singularity.Engine.Transfer;

/// <summary>
/// Updates put into place together at the session's end (more flags bit 15, rsync --delay-updates), so that a tree
/// changes from its old version to its new one in a moment, rather than file by file over the whole send: each file
/// is verified as it completes (its whole-file digest, as a commit checks it), given its extended attributes, and the
/// sender is told it is committed; it waits as its partial, holding no descriptor, and goes into place at Finish,
/// before the deletion and the directories' times. One that cannot go into place then is named in EntryFailed. The
/// further names of such files (rsync -H) are made after them. What waits is counted against
/// <see cref="ProtocolLimits.MaxDelayedBytes"/>.
/// </summary>
internal sealed partial class ReceiverSession
{
    private bool _delayUpdates;
    // The files verified and waiting, in the order they became ready; their ids, for the hard links that name them.
    private readonly List<PartialFile> _delayed = [];
    private readonly HashSet<uint> _delayedIds = [];
    // The hard links to waiting files, made after them; the ids of those that could not go into place.
    private List<(uint Id, ManifestEntry Entry, string Full, uint File)>? _delayedLinks;
    private HashSet<uint>? _notPlaced;
    // What the waiting files and links cost this receiver's memory, as counted by WaitingCost (under _delayed's lock),
    // and how many of the files the end has put into place or failed (no file is added once it begins).
    private long _delayedBytes;
    private int _placed;

    /// <summary>Checks a completed file and keeps it for <see cref="PlaceDelayed"/>, settled as a committed file is.</summary>
    private void MakeReady(PartialFile file)
    {
        var xattrs = file.Xattrs;
        if (!InCommit(file, file.CheckAndLetGo)) return;
        // Given to the partial now (but an empty file's, which has none yet): no longer held.
        if (xattrs is not null && file.Xattrs is null) ReleaseXattrs(xattrs);
        lock (_delayed)
        {
            Wait(WaitingCost(file.Entry.Path, file.FinalPath) + (file.Xattrs?.Bytes ?? 0));
            _delayed.Add(file);
            _delayedIds.Add(file.Id);
        }
        Settle(file.Id);
        _control!.PostBatchItem(ControlMessageType.FilesCommitted, file.Id);
    }

    /// <summary>Keeps a hard link to a waiting file for <see cref="PlaceDelayed"/>; false for a file in place already.</summary>
    private bool DelaysLinkTo(uint file, uint id, ManifestEntry entry, string full)
    {
        lock (_delayed)
        {
            if (!_delayedIds.Contains(file)) return false;
            Wait(WaitingCost(entry.Path, full));
            (_delayedLinks ??= []).Add((id, entry, full, file));
            return true;
        }
    }

    /// <summary>About what an entry waiting costs in memory: the objects that hold it, and its two paths (UTF-16).</summary>
    private static long WaitingCost(string path, string full) => 640 + 2L * (path.Length + full.Length);

    /// <summary>Counts <paramref name="bytes"/> more of what waits; beyond the limit, the session ends (a sender cannot grow this receiver's memory without bound).</summary>
    private void Wait(long bytes)
    {
        _delayedBytes += bytes;
        if (_delayedBytes > _limits.MaxDelayedBytes)
            throw new SingularityException(ErrorCode.LimitExceeded, $"the files waiting to go into place at the end (--delay-updates) would take more than {ByteSize.Format(_limits.MaxDelayedBytes)} of this receiver's memory; send the tree in parts, or without --delay-updates");
    }

    /// <summary>
    /// Puts every waiting file into place (a backup made of what stood there, as a commit makes it), then makes the
    /// hard links to them. A file that fails for a reason of its own is abandoned as a failed session abandons it (a
    /// resumable partial stays) and named to the sender, as are its links; the rest go on. Any other failure ends the
    /// session, and what did not go into place is abandoned with the session's other files.
    /// </summary>
    private void PlaceDelayed()
    {
        // Every file is settled by now (Finish checks it), so none is added meanwhile.
        PartialFile[] waiting;
        lock (_delayed) waiting = [.. _delayed];
        foreach (var file in waiting)
        {
            // Thousands of renames on a slow disk take a while: the sender hears that the answer is coming.
            StillBusy();
            try
            {
                file.Commit();
            }
            catch (Exception ex) when (ex is not SingularityException or EntryConflictException || ex is SingularityException { Code: ErrorCode.Busy })
            {
                var described = StorageErrors.Describe(ex, $"committing '{file.Entry.Path}'");
                if (ex is not SingularityException && !StorageErrors.ConcernsOneEntry(ex)) throw described;
                try { file.Abandon(); }
                catch (Exception abandoning) when (abandoning is IOException or UnauthorizedAccessException or SingularityException) { }
                Interlocked.Increment(ref _filesFailed);
                (_notPlaced ??= []).Add(file.Id);
                ReportFailed(file.Id, described);
            }
            finally
            {
                // Placed or failed, it waits no more: a session that fails here abandons only those after it.
                Interlocked.Increment(ref _placed);
            }
            if (file.Committed) CountCommitted(file);
        }
        foreach (var (id, entry, full, file) in _delayedLinks ?? [])
        {
            StillBusy();
            try
            {
                if (_notPlaced?.Contains(file) == true) throw new EntryConflictException(NotLinked(entry.Path, entry.LinkTarget!, "that file could not be written"));
                if (Directory.Exists(full) && new DirectoryInfo(full).LinkTarget is null) RemoveDirectoryInTheWay(entry, full);
                MakeHardLink(full, entry.Path, _guard.Resolve(entry.LinkTarget!, create: false), entry.LinkTarget!);
            }
            catch (Exception ex) when (StorageErrors.ConcernsOneEntry(ex))
            {
                ReportFailed(id, StorageErrors.Describe(ex, $"preparing '{entry.Path}'"));
            }
        }
        _delayedLinks = null;
        lock (_delayed)
        {
            _delayed.Clear();
            _delayedIds.Clear();
            _placed = 0;
        }
    }

    /// <summary>
    /// A failed session's waiting files are abandoned as its others are (a resumable partial stays for the next session,
    /// which offers all its shards; a file of one shard is sent again), and count as not received.
    /// </summary>
    private void AbandonDelayed()
    {
        lock (_delayed)
        {
            foreach (var file in _delayed.Skip(Volatile.Read(ref _placed)))
            {
                try { file.Abandon(); }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or SingularityException) { }
                Interlocked.Increment(ref _filesFailed);
            }
            _delayed.Clear();
        }
    }
}
