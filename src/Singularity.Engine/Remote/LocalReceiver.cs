using System.Net;
using Singularity.Engine.Storage;

namespace Singularity.Engine;

/// <summary>
/// The receiver of a copy on this machine, as `cp -r SRC DIR`, `rsync -a SRC DIR` and `scp SRC DIR` make one: served by
/// this process for one send, on the loopback, with a fresh token that never leaves it. The files go through the same
/// shards, checks and commits as to another machine. The target is taken as a send through ssh takes HOST:DIR: one
/// file sent to a name that is not a directory (and does not end in '/') takes that name (<see cref="TransferOptions.FileName"/> of <see cref="Options"/>), in
/// a directory that must be there; anything else goes into the target, a directory made if missing (the last one
/// alone, unless makePath); a dry run makes nothing, and a copy that does not go through leaves no empty directory it made.
/// </summary>
public sealed class LocalReceiver : IAsyncDisposable
{
    private readonly SingularityReceiver _receiver;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _serving;
    // A dry run's own empty directory, served where the target is not there; removed at the end.
    private readonly string? _standIn;
    // The directories made for the copy, outermost first: removed at the end if still empty, unless it was kept.
    private readonly List<string> _made;
    private bool _kept;

    private LocalReceiver(SingularityReceiver receiver, string target, TransferOptions options, string? standIn, List<string> made, Action<string>? log, Dictionary<string, string> typed)
    {
        _receiver = receiver;
        _standIn = standIn;
        _made = made;
        Directory = target;
        Options = options;
        // What the sender is not told: the receiver's notices, and what it could not delete (the send says its log
        // names them, and here that log is this one).
        receiver.SessionCompleted += result =>
        {
            foreach (string notice in result.Notices) log?.Invoke(AsTyped(notice, typed));
            foreach (string failure in result.DeletionFailures) log?.Invoke($"could not delete {failure}");
        };
        _serving = receiver.RunAsync(_stop.Token);
        Url = receiver.Url;
    }

    /// <summary><paramref name="notice"/> with the earlier copy it names (quoted) as the user typed it, where it names one.</summary>
    private static string AsTyped(string notice, Dictionary<string, string> typed)
    {
        foreach (var (written, asTyped) in typed)
            if (notice.Contains(written, StringComparison.Ordinal)) return notice.Replace(written, asTyped, StringComparison.Ordinal);
        return notice;
    }

    /// <summary>The receiver's URL, its token included: what to send to.</summary>
    public ConnectionUrl Url { get; }

    /// <summary>The directory the files go into (a dry run's receiver serves one of its own in its place, where it is not there).</summary>
    public string Directory { get; }

    /// <summary>
    /// The options to send with: those given, with <see cref="TransferOptions.FileName"/> where one file is copied to
    /// a name that is not a directory (<c>db.dump db-1206.dump</c>), and each earlier copy (--link-dest and its kin)
    /// relative to where the receiver writes.
    /// </summary>
    public TransferOptions Options { get; }

    /// <summary>The copy went through: the directories made for it stay, as rsync leaves them, even empty (a directory's contents, none).</summary>
    public void Keep() => _kept = true;

    /// <summary>
    /// Starts the receiver of a copy of <paramref name="paths"/> (here) to <paramref name="target"/> (here), on the
    /// loopback of <see cref="TransferOptions.AddressFamily"/>. It accepts plaintext unless
    /// <paramref name="options"/> asks for a cipher (a copy on one machine has no wire to protect), makes devices for
    /// <see cref="TransferOptions.Devices"/>, and makes what the target needs as rsync makes it (every missing
    /// directory with <paramref name="makePath"/>). Earlier copies (--link-dest and its kin) are relative to the
    /// target, as rsync takes them, or absolute, and may lie anywhere. A target that cannot be used (its directory not
    /// there, a file where a directory must be, inside a directory sent, not writable) is a
    /// <see cref="SingularityException"/>, and leaves nothing made. Notices of the receiver that a send is not told go
    /// to <paramref name="log"/>.
    /// </summary>
    public static LocalReceiver Start(string target, IReadOnlyList<string> paths, TransferOptions? options = null, bool makePath = false, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(paths);
        options ??= new TransferOptions();
        if (target.Length == 0) throw new SingularityException(ErrorCode.BadPath, "the copy's target is empty; name a directory, or a name for one file");
        // "DIR/", "DIR/." and "DIR/.." name a directory, whatever stands there, as they do to cp.
        bool namesDirectory = target.EndsWith('/') || target is "." or ".." || Path.GetFileName(target) is "." or "..";
        string full = Physical(target);
        string above = Path.GetDirectoryName(full) ?? full;
        // Not with --delete-missing-args, whose one name may stand for what is gone: the send names no file then.
        string? fileName = !namesDirectory && !System.IO.Directory.Exists(full) && paths is [var only] && !options.Relative && !options.DeleteMissingArgs
            && !SourceScanner.ContentsOnly(only) && !System.IO.Directory.Exists(only) && Path.GetFileName(full).Length > 0
            ? Path.GetFileName(full) : null;
        string served = fileName is null ? full : above;
        if (fileName is null && (Path.Exists(full) || new FileInfo(full).LinkTarget is not null) && !System.IO.Directory.Exists(full))
            throw new SingularityException(ErrorCode.BadPath, $"'{target}' is not a directory, and a copy of more than one path, of a directory or its contents, or with --relative goes into one");
        // What is not there is made as rsync makes it: the last directory alone, unless makePath; the directory that
        // holds a file named must be there.
        string mustStand = fileName is null ? above : served;
        if (!makePath && !Path.Exists(full) && !System.IO.Directory.Exists(mustStand))
            throw new SingularityException(ErrorCode.BadPath, Path.Exists(mustStand) ? $"'{mustStand}' is not a directory"
                // Not there, or not reached: a directory on the way that cannot be searched, or a file in a directory's place.
                : SpecialFiles.StatusError(mustStand, follow: true) is > 0 and not Errno.NoEntry and var error
                    ? $"cannot reach '{mustStand}' ({Errno.ToException(error).Message}); check the directories on its way"
                    : $"'{mustStand}' is not there; make it first, or copy with --mkpath");
        foreach (string path in paths) RefuseInto(path, served, fileName is null && !SourceScanner.ContentsOnly(path));
        // Each earlier copy where it lies, before a dry run's stand-in takes the target's place.
        Func<string, string> fromTarget = earlier => Path.IsPathFullyQualified(earlier) ? earlier : Path.GetFullPath(Path.Join(served, earlier));
        string[][] earlier = [[.. options.LinkDestinations.Select(fromTarget)], [.. options.CompareDestinations.Select(fromTarget)], [.. options.CopyDestinations.Select(fromTarget)]];
        var made = new List<string>();
        string? standIn = null;
        if (options.DryRun && !System.IO.Directory.Exists(served)) standIn = StandIn();
        else if (!System.IO.Directory.Exists(served)) Make(served, made);
        try
        {
            // Asked, not probed with a file: a copy that changes nothing leaves the target's time as it was.
            int refused = options.DryRun ? 0 : SpecialFiles.MayWriteIn(served);
            if (refused != 0)
                throw new SingularityException(ErrorCode.IoError, $"cannot write in '{served}' ({Errno.ToException(refused).Message}); choose another target, or fix its permissions");
            string landing = SpecialFiles.RealPath(standIn ?? served) ?? standIn ?? served;
            string[][] relativeToLanding = [.. earlier.Select(kind => kind.Select(at => Path.GetRelativePath(landing, SpecialFiles.RealPath(at) ?? at)).ToArray())];
            // The receiver names an earlier copy as it was given one, relative to where it writes; the user, as typed.
            var typed = new Dictionary<string, string>(StringComparer.Ordinal);
            var given = (IReadOnlyList<string>[])[options.LinkDestinations, options.CompareDestinations, options.CopyDestinations];
            for (int kind = 0; kind < earlier.Length; kind++)
                for (int i = 0; i < earlier[kind].Length; i++)
                    typed.TryAdd($"'{relativeToLanding[kind][i]}'", $"'{given[kind][i]}'");
            options = options with
            {
                FileName = fileName,
                LinkDestinations = relativeToLanding[0],
                CompareDestinations = relativeToLanding[1],
                CopyDestinations = relativeToLanding[2],
            };
            var receiver = SingularityReceiver.Start(new ReceiverOptions
            {
                Directory = standIn ?? served,
                Listen = new IPEndPoint(Transport.Families.Loopback(options.AddressFamily), 0),
                Transfer = new TransferOptions
                {
                    Cipher = options.Cipher == CipherSuite.None ? CipherSuite.None : CipherSuite.Aes256Gcm,
                    CongestionControl = options.CongestionControl,
                },
                MakeDevices = options.Devices,
                EarlierCopiesRoot = "/",
                // Nor does a dry run lock the target: another copy may be writing there.
                DryRunsOnly = options.DryRun,
                ProbeDirectory = false,
            });
            return new LocalReceiver(receiver, served, options, standIn, made, log, typed);
        }
        catch
        {
            if (standIn is not null) System.IO.Directory.Delete(standIn, recursive: true);
            MadeDirectories.RemoveEmpty(made);
            throw;
        }
    }

    /// <summary>
    /// Where <paramref name="target"/> leads, as mkdir and cp reach it: from the real directory of each name that
    /// stands, so that ".." after a link climbs from where the link leads; the last name followed only where it leads
    /// to a directory (a link to a file there is replaced, as rsync replaces it).
    /// </summary>
    private static string Physical(string target)
    {
        string at = Path.IsPathRooted(target) ? "/" : SpecialFiles.RealPath(Environment.CurrentDirectory) ?? Environment.CurrentDirectory;
        string[] names = target.Split('/', StringSplitOptions.RemoveEmptyEntries);
        for (int i = 0; i < names.Length; i++)
        {
            if (names[i] == ".") continue;
            if (names[i] == "..")
            {
                at = Path.GetDirectoryName(at) ?? "/";
                continue;
            }
            at = Path.Join(at, names[i]);
            // Only a directory, or a link to one, is followed: nothing lies below anything else.
            if (System.IO.Directory.Exists(at) && SpecialFiles.RealPath(at) is { } real) at = real;
        }
        return at;
    }

    /// <summary>A dry run's own empty directory, in the temp directory, served where the target is not there.</summary>
    private static string StandIn()
    {
        try
        {
            return System.IO.Directory.CreateTempSubdirectory("sglty-dry-run-").FullName;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new SingularityException(ErrorCode.IoError, $"a dry run into a target not there works in an empty directory of its own, which cannot be made in '{Path.GetTempPath()}' ({ex.Message}); set TMPDIR to a directory that can hold one", ex);
        }
    }

    /// <summary>Makes <paramref name="directory"/> and what is missing above it, as mkdir -p makes them (by the umask), each made added to <paramref name="made"/>.</summary>
    private static void Make(string directory, List<string> made)
    {
        try
        {
            foreach (string at in MadeDirectories.Missing(directory))
            {
                System.IO.Directory.CreateDirectory(at);
                made.Add(at);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            MadeDirectories.RemoveEmpty(made);
            throw new SingularityException(ErrorCode.IoError, $"cannot make '{directory}' ({StorageErrors.Why(ex)}); make it first, or copy elsewhere", ex);
        }
    }

    /// <summary>
    /// Refuses a copy of <paramref name="path"/> that would land inside itself: into <paramref name="served"/>, where a
    /// directory sent by its name (<paramref name="byName"/>) lands one level down. The scan would meet what the copy
    /// writes, and send it again, deeper each time (cp refuses the same). A link named as a source is judged by where
    /// it leads, which the scan may follow.
    /// </summary>
    private static void RefuseInto(string path, string served, bool byName)
    {
        // A directory alone, or a link to one, can hold the target.
        if (!System.IO.Directory.Exists(path) || SpecialFiles.RealPath(Path.TrimEndingDirectorySeparator(path)) is not { } source) return;
        string landing = byName ? Path.Join(served, Path.GetFileName(Path.TrimEndingDirectorySeparator(path))) : served;
        if (landing == source || PathGuard.IsBelow(source, landing))
            throw new SingularityException(ErrorCode.BadPath, $"cannot copy '{path}' into itself ('{landing}'); copy it elsewhere");
    }

    /// <summary>
    /// Stops the receiver, waiting for a session still running, and removes a dry run's directory, and, unless <see cref="Keep"/>
    /// was called, the directories made for the copy that still hold nothing.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _serving.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        await _receiver.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
        if (!_kept) MadeDirectories.RemoveEmpty(_made);
        if (_standIn is not null)
        {
            try { System.IO.Directory.Delete(_standIn, recursive: true); }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { }
        }
    }
}
