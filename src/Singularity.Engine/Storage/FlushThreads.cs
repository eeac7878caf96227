using System.Collections.Concurrent;

namespace Singularity.Engine.Storage;

/// <summary>
/// Threads of their own for flushing finished files to disk, shared by every session of the process. A flush can
/// block for milliseconds: on the thread pool, which adds threads slowly, many at once would starve it, and one at a
/// time would leave the file system's group commit idle.
/// </summary>
internal static class FlushThreads
{
    public const int Count = 16;

    private static readonly BlockingCollection<Action> Work = Start();

    /// <summary>Queues <paramref name="flush"/>, which must not throw.</summary>
    public static void Run(Action flush) => Work.Add(flush);

    private static BlockingCollection<Action> Start()
    {
        var work = new BlockingCollection<Action>();
        for (int i = 0; i < Count; i++)
        {
            new Thread(() =>
            {
                foreach (var flush in work.GetConsumingEnumerable()) flush();
            })
            { IsBackground = true, Name = "sglty flush" }.Start();
        }
        return work;
    }
}
