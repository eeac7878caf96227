using Singularity.Engine.Transfer;

namespace Singularity.Engine;

/// <summary>Sends files and directory trees to a running receiver.</summary>
public static class SingularitySender
{
    /// <summary>
    /// Sends <paramref name="paths"/> (files, directories, or directories ending in '/' for their contents) to the
    /// receiver at <paramref name="to"/>. Returns once the receiver confirmed every file committed; throws a
    /// <see cref="SingularityException"/> with a one-line reason otherwise.
    /// </summary>
    public static async Task<SendResult> SendAsync(IReadOnlyList<string> paths, ConnectionUrl to, TransferOptions? options = null, IProgress<TransferProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(to);
        var session = new SenderSession(paths, to, options ?? new TransferOptions(), progress);
        return await session.RunAsync(cancellationToken).ConfigureAwait(false);
    }
}
