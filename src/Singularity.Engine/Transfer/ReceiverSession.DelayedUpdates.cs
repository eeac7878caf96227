using Singularity.Engine.Protocol;
using Singularity.Engine.Storage;

namespace Singularity.Engine.Transfer;

/// <summary>
/// Updates put into place together at the session's end (more flags bit 15, rsync --delay-updates), so that a tree
/// changes from its old version to its new one in a moment, rather than file by file over the whole send: each file
/// is verified as it completes (its whole-file digest, as a commit checks it), and the sender is told it is committed;
/// it waits as its partial, holding no descriptor, and goes into place at Finish, before the deletion and the
/// directories' times. One that cannot go into place then is named in EntryFailed. The further names of such files
/// (rsync -H) are made after them.
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

    /// <summary>Checks a completed file and keeps it for <see cref="PlaceDelayed"/>; settled as a committed file is, its extended attributes still counted.</summary>
    private void MakeReady(PartialFile file)
    {
        if (!InCommit(file, file.CheckAndLetGo)) return;
        lock (_delayed)
        {
            if (_delayed.Count >= _limits.MaxDelayedFiles)
                throw new SingularityException(ErrorCode.LimitExceeded, $"more than {_limits.MaxDelayedFiles} files would wait to go into place at the end (--delay-updates), the most this receiver holds; send the tree in parts, or without --delay-updates");
            _delayed.Add(file);
            _delayedIds.Add(file.Id);
        }
        Settle(file.Id, holdsXattrs: true);
        _control!.PostBatchItem(ControlMessageType.FilesCommitted, file.Id);
    }

    /// <summary>Keeps a hard link to a waiting file for <see cref="PlaceDelayed"/>; false for a file in place already.</summary>
    private bool DelaysLinkTo(uint file, uint id, ManifestEntry entry, string full)
    {
        lock (_delayed)
        {
            if (!_delayedIds.Contains(file)) return false;
            (_delayedLinks ??= []).Add((id, entry, full, file));
            return true;
        }
    }

    /// <summary>
    /// Puts every waiting file into place (a backup made of what stood there, as a commit makes it), then makes the
    /// hard links to them. A file that fails for a reason of its own is abandoned as a failed session abandons it (a
    /// resumable partial stays) and named to the sender, as are its links; the rest go on.
    /// </summary>
    private void PlaceDelayed()
    {
        PartialFile[] waiting;
        lock (_delayed)
        {
            waiting = [.. _delayed];
            _delayed.Clear();
        }
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
                continue;
            }
            finally
            {
                if (file.Xattrs is { } held) ReleaseXattrs(held);
            }
            CountCommitted(file);
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
    }

    /// <summary>A failed session's waiting files are abandoned as its others are: a resumable partial stays for the next session, which puts it into place without its data travelling again.</summary>
    private void AbandonDelayed()
    {
        lock (_delayed)
        {
            foreach (var file in _delayed)
            {
                try { file.Abandon(); }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or SingularityException) { }
            }
            _delayed.Clear();
        }
    }
}
