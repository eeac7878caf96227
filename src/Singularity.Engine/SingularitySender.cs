using System.Diagnostics;
using System.Net.Sockets;
using Singularity.Engine.Integrity;
using Singularity.Engine.Protocol;
using Singularity.Engine.Storage;
using Singularity.Engine.Transfer;

namespace Singularity.Engine;

/// <summary>Sends files and directory trees to a running receiver.</summary>
public static class SingularitySender
{
    /// <summary>
    /// Sends <paramref name="paths"/> (files, directories, or directories ending in '/' for their contents) to the
    /// receiver at <paramref name="to"/>. Returns once the receiver confirmed every file committed (or, with
    /// <see cref="TransferOptions.SkipUnchanged"/>, found in place), except those the sender could not read, which
    /// <see cref="SendResult.NotSent"/> names; throws a <see cref="SingularityException"/> with a one-line reason
    /// otherwise.
    /// </summary>
    public static async Task<SendResult> SendAsync(IReadOnlyList<string> paths, ConnectionUrl to, TransferOptions? options = null, IProgress<TransferProgress>? progress = null, CancellationToken cancellationToken = default)
        => await SendAsync(paths, to, options, progress, null, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Whether a line <see cref="SendAsync(IReadOnlyList{string}, ConnectionUrl, TransferOptions?, IProgress{TransferProgress}?, Action{string}?, CancellationToken)"/>
    /// reports tells only how the send tuned itself: shards and lanes fitted to the path's round trip, lanes added or
    /// closed as throughput moved, shards cut to a bandwidth limit. Nothing went wrong and nothing was left out:
    /// `sglty send` shows these with -v alone, as rsync and scp say nothing of them.
    /// </summary>
    public static bool IsTuning(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        return line.StartsWith(SenderSession.RoundTripNotice, StringComparison.Ordinal) || line.StartsWith(SenderSession.ThroughputNotice, StringComparison.Ordinal)
            || line.StartsWith(SenderSession.BandwidthNotice, StringComparison.Ordinal);
    }

    /// <summary>As <see cref="SendAsync(IReadOnlyList{string}, ConnectionUrl, TransferOptions?, IProgress{TransferProgress}?, CancellationToken)"/>, reporting events such as a lost lane or a retry as one line each to <paramref name="log"/>. Lines and errors may quote the receiver (its reasons) or name local paths with any characters, control characters too: replace those before writing them to a terminal, as `sglty` does.</summary>
    /// <remarks>
    /// With <see cref="TransferOptions.Retries"/>, a session that ends because the connection was lost, the receiver was
    /// busy or its disk filled up after some data arrived is started again after a growing pause; files already committed are left out and the
    /// receiver offers what it kept of the others, so only missing shards travel again. An address that refuses the
    /// connection or names no host, before any attempt got through, is reported at once, as scp or rsync would: that
    /// is a wrong URL or a receiver not started, which waiting does not mend. A connect that times out is retried.
    /// </remarks>
    public static async Task<SendResult> SendAsync(IReadOnlyList<string> paths, ConnectionUrl to, TransferOptions? options, IProgress<TransferProgress>? progress, Action<string>? log, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(to);
        options ??= new TransferOptions();
        // The one path named, when it is a directory, goes into a directory of that name, as scp and rsync copy a
        // directory to a name that is not there (what a pull to a name asks of the send it starts).
        // A name that is none is left to the options' own check, which says so.
        if (options.FileName is { } name && TransferOptions.IsFileName(name) && paths is [var only] && Directory.Exists(only) && !SourceScanner.ContentsOnly(only))
        {
            to = to with { Directory = to.Directory is { Length: > 0 } below ? $"{below.TrimEnd('/')}/{name}" : name, NamesDirectory = true };
            options = options with { FileName = null };
        }
#pragma warning disable CA2208 // Names the option the caller set.
        if (options.RemoveSourceFiles && !OperatingSystem.IsLinux()) throw new ArgumentException("sources can be removed on Linux only", nameof(TransferOptions.RemoveSourceFiles));
#pragma warning restore CA2208
        if (to.Directory is { } directory && Protocol.DestinationMessage.Error(directory, options.Limits) is { } destinationError)
            throw new SingularityException(ErrorCode.BadPath, $"cannot send into '{directory}': {destinationError}");
        // Taken before the first scan and held until the sources are removed.
        using var guard = options.RemoveSourceFiles && !options.DryRun ? SourceRemoval.Guard(paths, options.Relative, to.Directory, SenderSession.MayNameOneFile(paths, to, options)) : null;
        var clock = Stopwatch.StartNew();
        var committed = new HashSet<string>(StringComparer.Ordinal);
        // With RemoveSourceFiles, the files earlier attempts committed, as those attempts read them.
        var committedEarlier = new Dictionary<string, SourceEntry>(StringComparer.Ordinal);
        // Files the receiver kept as it has them (Update and the like) are never taken for committed, so every attempt
        // names them again: each is counted once.
        var keptBefore = new HashSet<string>(StringComparer.Ordinal);
        // With Checksum, each file's digest by its source path, size and mtime: a retry reads again only what changed.
        var digests = options.Checksum ? new ContentDigests(cancellationToken) : null;
        // With ItemizeChanges, what every attempt changed, each entry once.
        var changes = options.ItemizeChanges > 0 ? new ChangeLog(options.ItemizeChanges, options.OnItemized) : null;
        // The first attempt's result, with what every later attempt sent, skipped and left out added to it.
        SendResult? total = null;
        int fruitless = 0;
        bool reached = false, answered = false;
        var lastProgress = clock.Elapsed;
        bool moved = false;
        for (int attempt = 0; ; attempt++)
        {
            var session = new SenderSession(paths, to, options, progress, log, committed, firstAttempt: attempt == 0, digests, changes) { AnsweredBefore = answered };
            try
            {
                var result = await session.RunAsync(cancellationToken).ConfigureAwait(false);
                result = Add(total, CountedOnce(result, session, keptBefore)) with { Retries = attempt, Elapsed = clock.Elapsed, Changes = changes?.All ?? [] };
                return options.RemoveSourceFiles && !options.DryRun ? RemoveSources(result, paths, options, session, committedEarlier) : result;
            }
            // A dry run is quick, and a retry would take what it settled for committed: it is retried only when the
            // receiver was busy, before anything was settled.
            catch (SingularityException ex) when (IsWorthRetrying(ex, session) && options.Retries > 0 && (!options.DryRun || ex.Code == ErrorCode.Busy) && !cancellationToken.IsCancellationRequested)
            {
                reached |= session.Reached;
                answered |= session.Answered;
                if (!reached && NothingThere(ex)) throw;
                // The limit, the timeout and the growing pause all count from the last attempt that moved data: a long
                // transfer over a flaky link keeps going as long as its attempts make progress.
                if (session.MovedData)
                {
                    moved = true;
                    fruitless = 0;
                    lastProgress = clock.Elapsed;
                }
                else
                {
                    fruitless++;
                }
                if (fruitless > options.Retries || clock.Elapsed - lastProgress > options.RetryTimeout)
                {
                    if (Resumable(ex, moved) is { } resumable) throw resumable;
                    throw;
                }
                total = Add(total, CountedOnce(session.Totals, session, keptBefore));
                // Later attempts keep the shard size this one chose: the receiver's partials are journaled in its shards.
                options = session.Options;
                foreach (var entry in session.CommittedEntries)
                {
                    committed.Add(entry.Entry.Path);
                    if (options.RemoveSourceFiles) committedEarlier.TryAdd(entry.Entry.Path, entry);
                }
                var pause = TimeSpan.FromSeconds(Math.Min(30, Math.Pow(2, Math.Max(0, fruitless - 1))));
                log?.Invoke($"retry {attempt + 1} in {pause.TotalSeconds:0} s ({fruitless} of {options.Retries} without progress): {ex.Message}");
                await Task.Delay(pause, cancellationToken).ConfigureAwait(false);
            }
            // Not retried (--retries 0): as above, once it gave up.
            catch (SingularityException ex) when (!options.DryRun && !cancellationToken.IsCancellationRequested && Resumable(ex, session.MovedData) is { } resumable)
            {
                throw resumable;
            }
        }
    }

    /// <summary>
    /// Removes the sources the receiver holds (<see cref="SourceRemoval"/>): each file an earlier attempt committed as
    /// that attempt read it, everything else as the last attempt did; nothing that any attempt left out.
    /// </summary>
    private static SendResult RemoveSources(SendResult result, IReadOnlyList<string> paths, TransferOptions options, SenderSession last, Dictionary<string, SourceEntry> committedEarlier)
    {
        var delivered = new Dictionary<string, SourceEntry>(committedEarlier, StringComparer.Ordinal);
        foreach (var entry in last.Delivered)
            if (!entry.Entry.SentBefore) delivered[entry.Entry.Path] = entry;
        foreach (var left in result.NotSent) delivered.Remove(left.Path);
        var (removed, kept) = SourceRemoval.Remove(delivered.Values, paths, options.Relative);
        // What the receiver kept of its own is not this source: it stays here.
        bool keepsOwn = options.SizeOnly || options.Update || options.IgnoreExisting;
        string why = !options.ExistingOnly ? "the receiver kept what stood at its name (--ignore-existing)"
            : keepsOwn ? "the receiver kept what stood at its name, or had nothing there (--ignore-existing, --existing)"
            : "the receiver had nothing at its name (--existing)";
        string file = !options.ExistingOnly ? "the receiver kept the version it has (--size-only, --update or --ignore-existing), so this one was not sent"
            : keepsOwn ? "the receiver kept the version it has, or had none (--size-only, --update, --ignore-existing, --existing), so this one was not sent"
            : "the receiver has no version of it (--existing), so it was not sent";
        kept.AddRange(last.KeptAtReceiver.Select(entry => new KeptSource(entry.SourcePath, entry.Entry.Kind switch
        {
            EntryKind.Symlink => $"{why}, so this link was not made",
            EntryKind.Special => $"{why}, so this {SpecialTypes.Name(entry.Entry.SpecialType)} was not made",
            _ => file,
        }) { AsAsked = true }));
        kept.AddRange(last.InPlaceIgnored.Select(entry => new KeptSource(entry.SourcePath, "the receiver has it already, which --ignore-existing leaves as it stands, so this send did not move it") { AsAsked = true }));
        return result with { SourcesRemoved = removed, SourcesKept = kept };
    }

    /// <summary>An attempt's result without the files it names as kept that an earlier attempt counted already.</summary>
    private static SendResult CountedOnce(SendResult attempt, SenderSession session, HashSet<string> keptBefore)
    {
        var again = session.KeptAtReceiver.Where(entry => entry.Entry.Kind == EntryKind.File && !keptBefore.Add(entry.Entry.Path)).ToList();
        if (again.Count == 0) return attempt;
        long bytes = again.Sum(entry => entry.Entry.Size);
        return attempt with { FilesKept = attempt.FilesKept - again.Count, FilesUnchanged = attempt.FilesUnchanged - again.Count, BytesUnchanged = attempt.BytesUnchanged - bytes };
    }

    /// <summary>
    /// Adds an attempt's counts to those of the attempts before it; the files, bytes, lanes and cipher stay the first
    /// attempt's. An entry left out by an earlier attempt is not in a later one's manifest, and one that a retry scans
    /// again (a directory it cannot list) is named once.
    /// </summary>
    internal static SendResult Add(SendResult? total, SendResult attempt)
    {
        if (total is null) return attempt;
        var named = total.NotSent.Select(entry => entry.Path).ToHashSet(StringComparer.Ordinal);
        return total with
        {
            BytesSent = total.BytesSent + attempt.BytesSent,
            BytesInHoles = total.BytesInHoles + attempt.BytesInHoles,
            WireBytes = total.WireBytes + attempt.WireBytes,
            BytesSkipped = total.BytesSkipped + attempt.BytesSkipped,
            BytesMatched = total.BytesMatched + attempt.BytesMatched,
            FilesUnchanged = total.FilesUnchanged + attempt.FilesUnchanged,
            FilesKept = total.FilesKept + attempt.FilesKept,
            BytesUnchanged = total.BytesUnchanged + attempt.BytesUnchanged,
            Retransmits = total.Retransmits + attempt.Retransmits,
            ScanTime = total.ScanTime + attempt.ScanTime,
            ManifestBytes = total.ManifestBytes + attempt.ManifestBytes,
            TrafficSent = total.TrafficSent + attempt.TrafficSent,
            TrafficReceived = total.TrafficReceived + attempt.TrafficReceived,
            // Each attempt names every hard link.
            HardLinks = attempt.HardLinks,
            // Only the last attempt gets as far as deleting, and it alone decides whether it does.
            EntriesDeleted = attempt.EntriesDeleted,
            EntriesNotDeleted = attempt.EntriesNotDeleted,
            EntriesLeftByLimit = attempt.EntriesLeftByLimit,
            DeletionSkipped = attempt.DeletionSkipped,
            DeletionSkippedByOlderReceiver = attempt.DeletionSkippedByOlderReceiver,
            // Attributes an attempt's receiver refused stay refused (an attempt that failed after them tells nothing).
            XattrsNotSet = total.XattrsNotSet || attempt.XattrsNotSet,
            ModesNotSet = total.ModesNotSet || attempt.ModesNotSet,
            NotSent = [.. total.NotSent, .. attempt.NotSent.Where(entry => !named.Contains(entry.Path))],
            // A file is named once: a later attempt names it sent before, or leaves it out (SenderSession.OnCommitted).
            Sent = [.. total.Sent, .. attempt.Sent],
        };
    }

    /// <summary>
    /// A connection lost for good after some attempt moved data: what the receiver verified stays there, and the line
    /// says how to take it up; null for any other failure, which stays as it is.
    /// </summary>
    private static TransferAbortedException? Resumable(SingularityException ex, bool moved) =>
        moved && ex.Code == ErrorCode.ConnectionLost && !ex.Message.Contains(ResumesWhatArrived, StringComparison.Ordinal)
            ? new TransferAbortedException(ex.Code, $"{ex.Message}; the same send again {ResumesWhatArrived}", ex) : null;

    private const string ResumesWhatArrived = "resumes what arrived";

    /// <summary>
    /// A lost connection, a busy receiver or one shutting down (a restart, as a service manager makes) may mend by
    /// itself; a sender cancelled here is never retried. A full disk is retried only after an attempt that moved
    /// data, so that the next attempt keeps what it wrote and checks the space again; a disk found full before any data
    /// moved stays full until someone frees it, so waiting would only delay the error.
    /// </summary>
    private static bool IsWorthRetrying(SingularityException ex, SenderSession session) =>
        ex.Code is ErrorCode.ConnectionLost or ErrorCode.Busy or ErrorCode.Cancelled || (ex.Code is ErrorCode.DiskFull && session.MovedData);

    /// <summary>
    /// The address refused the connection, never answered, names no host (of the family -4 or -6 asks for), or no route
    /// leads to it: a wrong URL, a receiver not started or a port blocked on the way, unless an earlier attempt got through.
    /// </summary>
    internal static bool NothingThere(SingularityException ex) =>
        ex.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionRefused or SocketError.HostNotFound or SocketError.TimedOut or SocketError.HostUnreachable or SocketError.NetworkUnreachable or SocketError.AddressFamilyNotSupported };
}
