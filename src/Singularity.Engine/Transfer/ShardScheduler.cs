using System.Collections.Concurrent;

namespace Singularity.Engine.Transfer;

/// <summary>
/// Hands out shards to lanes one at a time, in file order, retransmissions first. Each lane asks when it is ready
/// for more, so a slow lane simply takes fewer shards and never holds the others back.
/// </summary>
internal sealed class ShardScheduler(IReadOnlyList<SenderFile> files)
{
    private readonly Lock _lock = new();
    private readonly ConcurrentQueue<(SenderFile File, int Index)> _retransmits = new();
    private readonly SemaphoreSlim _wake = new(0);
    private int _file;
    private int _shard;
    private volatile bool _finished;

    /// <summary>Takes the next shard to send, if any is ready now.</summary>
    public bool TryNext(out SenderFile file, out int index, out bool retransmit)
    {
        if (_retransmits.TryDequeue(out var again))
        {
            (file, index, retransmit) = (again.File, again.Index, true);
            return true;
        }
        retransmit = false;
        lock (_lock)
        {
            while (_file < files.Count && _shard >= files[_file].ShardCount)
            {
                _file++;
                _shard = 0;
            }
            if (_file < files.Count)
            {
                file = files[_file];
                index = _shard++;
                return true;
            }
        }
        (file, index) = (null!, 0);
        return false;
    }

    /// <summary>Waits until a retransmission is queued (true) or the transfer is over (false).</summary>
    public async ValueTask<bool> WaitForWorkAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            if (!_retransmits.IsEmpty) return true;
            if (_finished) return false;
            await _wake.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public void Retransmit(SenderFile file, int index)
    {
        _retransmits.Enqueue((file, index));
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
