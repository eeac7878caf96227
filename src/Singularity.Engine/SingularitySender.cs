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
        => await SendAsync(paths, to, options, progress, null, cancellationToken).ConfigureAwait(false);

    /// <summary>As <see cref="SendAsync(IReadOnlyList{string}, ConnectionUrl, TransferOptions?, IProgress{TransferProgress}?, CancellationToken)"/>, reporting events such as a lost lane or a retry as one line each to <paramref name="log"/>.</summary>
    public static async Task<SendResult> SendAsync(IReadOnlyList<string> paths, ConnectionUrl to, TransferOptions? options, IProgress<TransferProgress>? progress, Action<string>? log, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(to);
        var session = new SenderSession(paths, to, options ?? new TransferOptions(), progress, log);
        return await session.RunAsync(cancellationToken).ConfigureAwait(false);
    }
}
