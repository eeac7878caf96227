namespace Singularity.Engine.Integrity;

/// <summary>
/// The contents' digests of a send's files under --checksum (<see cref="Digests.Content"/>), kept across its attempts
/// by source path, size and mtime: a retry reads again only the files that changed since, not the whole tree.
/// </summary>
internal sealed class ContentDigests(CancellationToken cancellationToken = default)
{
    private readonly Dictionary<string, (long Size, long Mtime, UInt128? Digest)> _known = new(StringComparer.Ordinal);

    /// <summary>
    /// The digest of the file at <paramref name="path"/>, scanned with <paramref name="size"/> and
    /// <paramref name="mtime"/>; null when it cannot be read whole as scanned, which the receiver takes for changed
    /// (the send then finds what is wrong with it, and names it). Throws <see cref="OperationCanceledException"/> once
    /// the send is cancelled, between MiBs of a large file.
    /// </summary>
    public UInt128? Of(string path, long size, long mtime)
    {
        if (_known.TryGetValue(path, out var known) && known.Size == size && known.Mtime == mtime && known.Digest is not null) return known.Digest;
        UInt128? digest = Read(path, size);
        _known[path] = (size, mtime, digest);
        return digest;
    }

    private UInt128? Read(string path, long size)
    {
        try
        {
            // As the send opens it (SenderFile): never through a link, nor a FIFO swapped in since, on whose open this would wait.
            using var handle = Storage.SpecialFiles.OpenRegular(path);
            if (handle is null || Storage.SpecialFiles.OpenedElsewhere(handle, path) || RandomAccess.GetLength(handle) != size) return null;
            return Digests.Content(handle, size, cancellationToken.ThrowIfCancellationRequested);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
