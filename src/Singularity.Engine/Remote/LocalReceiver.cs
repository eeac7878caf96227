using System.Net;
using Singularity.Engine.Storage;

namespace Singularity.Engine;

/// <summary>
/// The receiver of a copy on this machine, as `cp -r SRC DIR`, `rsync -a SRC DIR` and `scp SRC DIR` make one: served by
/// this process for one send, on the loopback, with a fresh token that never leaves it. The files go through the same
/// shards, checks and commits as to another machine. The target is taken as a send through ssh takes HOST:DIR: one
/// file sent to a name that is not a directory (and does not end in '/') takes that name (<see cref="TransferOptions.FileName"/> of <see cref="Options"/>), in
/// a directory that must be there; anything else goes into the target, a directory made if missing (the last one
/// alone, unless makePath); a dry run makes nothing.
/// </summary>
public sealed class LocalReceiver : IAsyncDisposable
{
    private readonly SingularityReceiver _receiver;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _serving;
    // A dry run's own empty directory, served where the target is not there; removed at the end.
    private readonly string? _standIn;

    private LocalReceiver(SingularityReceiver receiver, string landing, string? below, TransferOptions options, string? standIn, Action<string>? log)
    {
        _receiver = receiver;
        _standIn = standIn;
        Directory = landing;
        Options = options;
        // What the sender is not told: the receiver's notices, and what it could not delete (the send says its log
        // names them, and here that log is this one).
        receiver.SessionCompleted += result =>
        {
            foreach (string notice in result.Notices) log?.Invoke(notice);
            foreach (string failure in result.DeletionFailures) log?.Invoke($"could not delete {failure}");
        };
        _serving = receiver.RunAsync(_stop.Token);
        Url = receiver.Url with { Directory = below };
    }

    /// <summary>The receiver's URL, its token included: what to send to.</summary>
    public ConnectionUrl Url { get; }

    /// <summary>The directory the files go into.</summary>
    public string Directory { get; }

    /// <summary>
    /// The options to send with: those given, with <see cref="TransferOptions.FileName"/> where one file is copied to
    /// a name that is not a directory (<c>db.dump db-1206.dump</c>), and each earlier copy given as an absolute
    /// directory (--link-dest) made relative to <see cref="Directory"/>.
    /// </summary>
    public TransferOptions Options { get; }

    /// <summary>
    /// Starts the receiver of a copy of <paramref name="paths"/> (here) to <paramref name="target"/> (here), on the
    /// loopback of <see cref="TransferOptions.AddressFamily"/>. It accepts plaintext unless
    /// <paramref name="options"/> asks for a cipher (a copy on one machine has no wire to protect), makes devices for
    /// <see cref="TransferOptions.Devices"/>, and makes what the target needs as rsync makes it (every missing
    /// directory with <paramref name="makePath"/>). A target that cannot be used (its directory not there, a file where
    /// a directory must be, inside a directory sent) is a <see cref="SingularityException"/>, before anything is made.
    /// Notices of the receiver that a send is not told go to <paramref name="log"/>.
    /// </summary>
    public static LocalReceiver Start(string target, IReadOnlyList<string> paths, TransferOptions? options = null, bool makePath = false, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(paths);
        options ??= new TransferOptions();
        if (target.Length == 0) throw new SingularityException(ErrorCode.BadPath, "the copy's target is empty; name a directory, or a name for one file");
        // "DIR/", "DIR/." and "DIR/.." name a directory, whatever stands there, as they do to cp.
        bool namesDirectory = target.EndsWith('/') || target is "." or ".." || Path.GetFileName(target) is "." or "..";
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(target));
        string above = Path.GetDirectoryName(full) ?? full;
        string? fileName = !namesDirectory && !System.IO.Directory.Exists(full) && paths is [var only] && !options.Relative
            && !SourceScanner.ContentsOnly(only) && !System.IO.Directory.Exists(only) && Path.GetFileName(full).Length > 0
            ? Path.GetFileName(full) : null;
        string served = fileName is null ? full : above;
        if (fileName is null && (Path.Exists(full) || new FileInfo(full).LinkTarget is not null) && !System.IO.Directory.Exists(full))
            throw new SingularityException(ErrorCode.BadPath, $"'{target}' is not a directory, and a copy of more than one path, of a directory or its contents, or with --relative goes into one");
        // What is not there is made as rsync makes it: the last directory alone, unless makePath; the directory that
        // holds a file named must be there.
        string mustStand = fileName is null ? above : served;
        if (!makePath && !Path.Exists(full) && !System.IO.Directory.Exists(mustStand))
            throw new SingularityException(ErrorCode.BadPath, Path.Exists(mustStand) ? $"'{mustStand}' is not a directory" : $"'{mustStand}' is not there; make it first, or copy with --mkpath");
        foreach (string path in paths) RefuseInto(path, served, fileName is null && !SourceScanner.ContentsOnly(path));
        string? standIn = null;
        if (options.DryRun && !System.IO.Directory.Exists(served)) served = standIn = System.IO.Directory.CreateTempSubdirectory("sglty-dry-run-").FullName;
        else if (!System.IO.Directory.Exists(served))
        {
            try
            {
                // As mkdir makes it, by the umask: the user's own directory, not a receiver's private one.
                System.IO.Directory.CreateDirectory(served);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                string why = ex switch
                {
                    UnauthorizedAccessException => "permission denied",
                    IOException io when StorageErrors.IsDiskFull(io) => "no space left",
                    IOException { HResult: 30 } => "a read-only file system",
                    _ => ex.Message,
                };
                throw new SingularityException(ErrorCode.IoError, $"cannot make '{served}' ({why}); make it first, or copy elsewhere", ex);
            }
        }
        try
        {
            // Earlier copies (--link-dest and its kin) are relative to the target and must lie inside the directory the
            // receiver serves: it serves the one that holds them all, as a copy to another machine serves a URL's
            // directory and its siblings ("../2026-12-06"), and the files go below it by the URL's path.
            string landing = SpecialFiles.RealPath(served) ?? served;
            options = options with
            {
                FileName = fileName,
                LinkDestinations = [.. options.LinkDestinations.Select(earlier => Relative(earlier, landing))],
                CompareDestinations = [.. options.CompareDestinations.Select(earlier => Relative(earlier, landing))],
                CopyDestinations = [.. options.CopyDestinations.Select(earlier => Relative(earlier, landing))],
            };
            string root = standIn is null
                ? options.LinkDestinations.Concat(options.CompareDestinations).Concat(options.CopyDestinations).Aggregate(landing, (held, earlier) => Above(held, Path.GetFullPath(Path.Join(landing, earlier))))
                : landing;
            string? below = root == landing ? null : Path.GetRelativePath(root, landing);
            var receiver = SingularityReceiver.Start(new ReceiverOptions
            {
                Directory = root,
                Listen = new IPEndPoint(Transport.Families.Loopback(options.AddressFamily), 0),
                Transfer = new TransferOptions
                {
                    Cipher = options.Cipher == CipherSuite.None ? CipherSuite.None : CipherSuite.Aes256Gcm,
                    CongestionControl = options.CongestionControl,
                },
                MakeDevices = options.Devices,
            });
            return new LocalReceiver(receiver, served, below, options, standIn, log);
        }
        catch
        {
            if (standIn is not null) System.IO.Directory.Delete(standIn, recursive: true);
            throw;
        }
    }

    /// <summary>
    /// Refuses a copy of <paramref name="path"/> that would land inside itself: into <paramref name="served"/>, where a
    /// directory sent by its name (<paramref name="byName"/>) lands one level down. The scan would meet what the copy
    /// writes, and send it again, deeper each time (cp refuses the same).
    /// </summary>
    private static void RefuseInto(string path, string served, bool byName)
    {
        if (SpecialFiles.RealPath(Path.TrimEndingDirectorySeparator(path)) is not { } source || !System.IO.Directory.Exists(source)) return;
        // A link named as a source is sent as a link, and what it leads to is not read: only "link/" is followed.
        if (!SourceScanner.ContentsOnly(path) && new FileInfo(Path.TrimEndingDirectorySeparator(path)).LinkTarget is not null) return;
        string landing = Reached(served);
        if (byName) landing = Path.Join(landing, Path.GetFileName(source));
        if (landing == source || landing.StartsWith(source.EndsWith('/') ? source : source + "/", StringComparison.Ordinal))
            throw new SingularityException(ErrorCode.BadPath, $"cannot copy '{path}' into itself ('{landing}'); copy it elsewhere");
    }

    /// <summary>An earlier copy's directory as the receiver takes it, relative to <paramref name="landing"/>: an absolute one made relative.</summary>
    private static string Relative(string earlier, string landing) =>
        Path.IsPathFullyQualified(earlier) ? Path.GetRelativePath(landing, SpecialFiles.RealPath(earlier) ?? earlier) : earlier;

    /// <summary>The deepest directory that holds both absolute paths (by their names, as given).</summary>
    private static string Above(string one, string other)
    {
        string[] a = one.Split('/', StringSplitOptions.RemoveEmptyEntries), b = other.Split('/', StringSplitOptions.RemoveEmptyEntries);
        int same = 0;
        while (same < a.Length && same < b.Length && a[same] == b[same]) same++;
        return "/" + string.Join('/', a[..same]);
    }

    /// <summary>Where <paramref name="path"/> leads: the real path of what of it stands, with the names not there yet after it.</summary>
    private static string Reached(string path)
    {
        var missing = new Stack<string>();
        for (string? at = path; at is not null; at = Path.GetDirectoryName(at))
        {
            if (SpecialFiles.RealPath(at) is { } real)
            {
                foreach (string name in missing) real = Path.Join(real, name);
                return real;
            }
            missing.Push(Path.GetFileName(at));
        }
        return path;
    }

    /// <summary>Stops the receiver once its session has ended, and removes a dry run's directory.</summary>
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
        if (_standIn is not null)
        {
            try { System.IO.Directory.Delete(_standIn, recursive: true); }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { }
        }
    }
}
