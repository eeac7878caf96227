using System.Collections.Concurrent;

namespace Singularity.Engine.Storage;

/// <summary>
/// One session's threads for flushing finished files to disk, started at its first slow flush. A flush can block for
/// milliseconds: the thread pool adds threads too slowly for many at once, a thread per file costs more than it
/// saves, and threads shared between sessions would let one stuck disk hold up every session.
/// </summary>
internal sealed class FlushWorkers(int count) : IDisposable
{
    private readonly BlockingCollection<Action> _work = new();
    private readonly Lock _start = new();
    private int _threads;

    /// <summary>Queues <paramref name="flush"/>, which must not throw; throws if no thread could be started.</summary>
    public void Run(Action flush)
    {
        lock (_start)
        {
            if (_threads == 0) Start();
        }
        _work.Add(flush);
    }

    private void Start()
    {
        for (int i = 0; i < count; i++)
        {
            try
            {
                new Thread(() =>
                {
                    foreach (var flush in _work.GetConsumingEnumerable()) flush();
                })
                { IsBackground = true, Name = "sglty flush" }.Start();
                _threads++;
            }
            catch (Exception) when (_threads > 0)
            {
                // Fewer threads than asked for still do the work.
                break;
            }
        }
    }

    /// <summary>Lets the threads end once the queued flushes are done.</summary>
    public void Dispose() => _work.CompleteAdding();
}
