using System.Collections.Concurrent;
using Singularity.Engine.Protocol;
using Singularity.Engine.Storage;

namespace Singularity.Engine.Integrity;

/// <summary>
/// The contents' digests of a send's files under --checksum (<see cref="Digests.Content"/>), kept across its attempts
/// by source path, size and mtime: a retry reads again only the files that changed since, not the whole tree.
/// </summary>
internal sealed class ContentDigests(CancellationToken cancellationToken = default)
{
    private readonly Dictionary<string, (long Size, long Mtime, UInt128? Digest)> _known = new(StringComparer.Ordinal);

    /// <summary>
    /// <paramref name="entries"/>, each file with its digest: those not known yet are read on every core at once, the
    /// largest first, so that no large file is left to read alone at the end. Throws
    /// <see cref="OperationCanceledException"/> once the send is cancelled, between MiBs of a large file.
    /// </summary>
    public List<SourceEntry> Of(List<SourceEntry> entries)
    {
        var digests = new UInt128?[entries.Count];
        var unknown = new List<int>();
        for (int i = 0; i < entries.Count; i++)
        {
            var (entry, _, _) = entries[i];
            if (entry.Kind != EntryKind.File) continue;
            if (_known.TryGetValue(entries[i].SourcePath, out var known) && known.Size == entry.Size && known.Mtime == entry.MtimeNanoseconds && known.Digest is not null)
                digests[i] = known.Digest;
            else
                unknown.Add(i);
        }
        unknown.Sort((a, b) => entries[b].Entry.Size.CompareTo(entries[a].Entry.Size));
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = cancellationToken };
        // Each root opened once for the files below it, as the send holds them.
        using (var roots = new SourceRoots())
            Parallel.ForEach(Partitioner.Create(unknown, loadBalance: true), parallel, i => digests[i] = Read(roots, entries[i], entries[i].Entry.Size));
        foreach (int i in unknown) _known[entries[i].SourcePath] = (entries[i].Entry.Size, entries[i].Entry.MtimeNanoseconds, digests[i]);
        return [.. entries.Select((e, i) => e.Entry.Kind == EntryKind.File ? e with { Entry = e.Entry with { Digest = digests[i] } } : e)];
    }

    /// <summary>
    /// The digest of the file <paramref name="entry"/> names, scanned with <paramref name="size"/> bytes; null when it
    /// cannot be read whole as scanned, which the receiver takes for changed (the send then finds what is wrong with
    /// it, and names it).
    /// </summary>
    private UInt128? Read(SourceRoots roots, SourceEntry entry, long size)
    {
        try
        {
            // As the send opens it (SenderFile): never through a link, here or on the way, nor a FIFO swapped in since,
            // on whose open this would wait.
            using var handle = SourceRoots.OpenRegular(roots, entry);
            if (handle is null || RandomAccess.GetLength(handle) != size) return null;
            return Digests.Content(handle, size, cancellationToken.ThrowIfCancellationRequested);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
