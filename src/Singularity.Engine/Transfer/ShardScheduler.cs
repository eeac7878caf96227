using System.Collections.Concurrent;

namespace Singularity.Engine.Transfer;

/// <summary>
/// Hands out shards to lanes one at a time, in file order, retransmissions first, and only of files the receiver has
/// accepted. Each lane asks when it is ready for more, so a slow lane simply takes fewer shards and never holds the
/// others back. Files join as the manifest goes out and leave once their last shard is handed out.
/// </summary>
internal sealed class ShardScheduler
{
    private readonly Lock _lock = new();
    private readonly ConcurrentQueue<(SenderFile File, int Index, bool Again, bool Whole)> _retransmits = new();
    private readonly SemaphoreSlim _wake = new(0);
    // Files in id order whose shards are not all handed out; the first is handed out from _shard on.
    private readonly Queue<SenderFile> _files = new();
    private int _shard;
    // Files with an id below this are accepted by the receiver (file ids are manifest entry ids).
    private uint _accepted;
    private int _waiting;
    private volatile bool _finished;

    /// <summary>Takes the next shard to send, if any is ready now: a retransmission, which <paramref name="whole"/> says must not go as a patch, or a first send.</summary>
    public bool TryNext(out SenderFile file, out int index, out bool retransmit, out bool whole)
    {
        if (_retransmits.TryDequeue(out var again))
        {
            (file, index, retransmit, whole) = (again.File, again.Index, again.Again, again.Whole);
            return true;
        }
        (retransmit, whole) = (false, false);
        lock (_lock)
        {
            if (HasFresh())
            {
                file = _files.Peek();
                index = _shard++;
                return true;
            }
        }
        (file, index) = (null!, 0);
        return false;
    }

    /// <summary>Whether a first send is ready: moves past finished files; the caller holds the lock.</summary>
    private bool HasFresh()
    {
        // A file the receiver already holds, or one that could not be opened, has nothing (more) to send.
        while (_files.TryPeek(out var file) && (_shard >= file.ShardCount || file.Present || file.Dropped))
        {
            _files.Dequeue();
            _shard = 0;
        }
        return _files.TryPeek(out var next) && next.Id < _accepted;
    }

    /// <summary>Adds a file announced to the receiver; its shards go once <see cref="Accept"/> covers its id. Files are added in id order.</summary>
    public void Add(SenderFile file)
    {
        lock (_lock) _files.Enqueue(file);
    }

    /// <summary>Waits until a retransmission is queued or more files are accepted (true), or the transfer is over (false).</summary>
    public async ValueTask<bool> WaitForWorkAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            // Counted as waiting before the checks, so an acceptance that lands between them wakes this lane.
            Interlocked.Increment(ref _waiting);
            try
            {
                if (!_retransmits.IsEmpty) return true;
                lock (_lock)
                {
                    if (HasFresh()) return true;
                }
                if (_finished) return false;
                await _wake.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                Interlocked.Decrement(ref _waiting);
            }
        }
    }

    /// <summary>The receiver accepted entries up to <paramref name="count"/>: their shards may go; wakes the idle lanes.</summary>
    public void Accept(int count)
    {
        lock (_lock) _accepted = (uint)count;
        int waiting = Volatile.Read(ref _waiting);
        if (waiting > 0) _wake.Release(waiting);
    }

    /// <summary>
    /// Queues a shard to be sent again, ahead of new ones: <paramref name="whole"/> where the receiver asked for it
    /// again (a patch of it may not make it there), else, lost with its lane, as a patch where it was one.
    /// </summary>
    public void Retransmit(SenderFile file, int index, bool whole) => Requeue(file, index, again: true, whole);

    /// <summary>Gives back a shard that a lane took but never read, so it is sent as a first send by another lane.</summary>
    public void Return(SenderFile file, int index) => Requeue(file, index, again: false, whole: false);

    private void Requeue(SenderFile file, int index, bool again, bool whole)
    {
        _retransmits.Enqueue((file, index, again, whole));
        _wake.Release();
    }

    /// <summary>No more work will come: wakes every idle lane so it can close.</summary>
    public void Finish()
    {
        if (_finished) return;
        _finished = true;
        _wake.Release(1024);
    }
}
