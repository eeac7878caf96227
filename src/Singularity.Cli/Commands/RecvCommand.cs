using System.CommandLine;
using System.Net;
using Singularity.Cli.Display;
using Singularity.Engine;

namespace Singularity.Cli.Commands;

/// <summary><c>sglty recv</c>: listen, print the connection URL, serve sessions.</summary>
internal static class RecvCommand
{
    public static Command Create()
    {
        var dir = new Option<string>("--dir") { HelpName = "DIR", Description = "destination directory (created if missing, private to you: 0700); a second recv on it is refused while this one runs (Linux)", Required = true };
        var listen = new Option<string?>("--listen") { HelpName = "HOST:PORT", Description = $"HOST:PORT to listen on, or a port alone for every interface; port 0 picks a free one; default 0.0.0.0:{ConnectionUrl.DefaultPort} (every interface)" };
        var once = new Option<bool>("--once") { Description = "exit after the first session (not counting dry runs); exit code 0 only if it succeeded, 23 if it succeeded but some entries could not be written or deleted" };
        var untilStdinCloses = new Option<bool>("--until-stdin-closes") { Description = "serve until standard input ends, then exit 0: how `sglty send ... HOST:DIR` ties the receiver it starts through ssh to itself (not with --once)" };
        var acceptTimeout = CommonOptions.Duration("--accept-timeout", $"with --once, give up when no sender has started a session for this long (before the first, or after a dry run), with exit code {Errors.NoSender}, so that a script is not left waiting for a sender that failed; default: wait for ever");
        var urlFile = new Option<string?>("--url-file") { HelpName = "FILE", Description = "also write the connection URL to FILE (atomically) when ready" };
        var json = CommonOptions.Json("print JSON objects on stdout, one per line: the URL first ({\"url\": ...}, in place of the URL line), then each session's result as it ends");
        var noFsync = new Option<bool>("--no-fsync") { Description = "do not flush each file to stable storage before renaming it into place" };
        var token = CommonOptions.Token($"the secret senders must hold; default: a fresh random 256-bit token (or ${SessionToken.EnvironmentVariable})");
        var tokenFile = CommonOptions.TokenFile();
        var encrypt = CommonOptions.Encrypt("aes-256-gcm (default) or chacha20-poly1305: encryption is required; none: also accept senders that ask for plaintext");
        var maxBytes = CommonOptions.Size("--max-bytes", "refuse sessions that would write more than SIZE; default unlimited");
        var expire = CommonOptions.Duration("--expire-partials", "at start, delete partial files of interrupted transfers untouched for this long, e.g. 7d; default: keep them");
        var idle = CommonOptions.Duration("--idle-timeout", "end sessions that show no sign of life for this long; default 120s");
        var congestion = CommonOptions.Congestion();
        var noDelta = new Option<bool>("--no-delta") { Description = "send changed files whole even when a sender asks for delta, and every file of the source's size when it asks for --checksum, so senders learn nothing of what the files here hold (with delta, a sender is told the digests of their shards; with --checksum, whether a file holds what it names)" };
        var devices = new Option<bool>("--devices") { Description = "make the devices senders send (sglty send -D or -a), as root: a device node gives whoever may open it the device itself, so without this each fails on its own; FIFOs and sockets are made either way" };
        var command = new Command("recv", "receive files into a directory") { dir, listen, once, untilStdinCloses, acceptTimeout, urlFile, json, noFsync, token, tokenFile, encrypt, maxBytes, expire, idle, congestion, noDelta, devices };
        command.Validators.Add(result =>
        {
            if (result.GetValue(untilStdinCloses) && result.GetValue(once)) result.AddError("--until-stdin-closes and --once each say when to stop; give one of them");
            if (result.GetValue(acceptTimeout) is { } wait)
            {
                if (!result.GetValue(once)) result.AddError("--accept-timeout goes with --once");
                else if (wait <= TimeSpan.Zero) result.AddError("--accept-timeout must be longer than 0s");
            }
        });
        command.SetAction((result, cancellationToken) =>
        {
            var transfer = new TransferOptions
            {
                Durable = !result.GetValue(noFsync),
                Cipher = result.GetValue(encrypt) ?? CipherSuite.Aes256Gcm,
                CongestionControl = result.GetValue(congestion),
                Limits = new ProtocolLimits { MaxTotalBytes = result.GetValue(maxBytes) ?? long.MaxValue },
                IdleTimeout = result.GetValue(idle) ?? TimeSpan.FromSeconds(120),
            };
            return RunAsync(result.GetValue(dir)!, result.GetValue(listen) ?? $"0.0.0.0:{ConnectionUrl.DefaultPort}", result.GetValue(once), result.GetValue(untilStdinCloses), result.GetValue(acceptTimeout), result.GetValue(urlFile), result.GetValue(json),
                transfer, result.GetValue(expire) ?? TimeSpan.Zero, result.GetValue(token), result.GetValue(tokenFile), !result.GetValue(noDelta), result.GetValue(devices), cancellationToken);
        });
        return command;
    }

    private static async Task<int> RunAsync(string dir, string listen, bool once, bool untilStdinCloses, TimeSpan? acceptTimeout, string? urlFile, bool json, TransferOptions transfer, TimeSpan expireAfter, string? token, string? tokenFile, bool delta, bool makeDevices, CancellationToken cancellationToken)
    {
        try
        {
            var endpoint = ParseListen(listen, portAlone: true);
            string? chosen = CommonOptions.ResolveToken(token, tokenFile);
            if (makeDevices && !Environment.IsPrivilegedProcess)
                Console.Error.WriteLine("sglty: warning: --devices: only root may make devices, so each device sent is skipped; start the receiver as root to make them");
            if (chosen is not null && chosen.Length < CommonOptions.ShortToken)
                Console.Error.WriteLine($"sglty: warning: the token has {chosen.Length} characters; anyone who records one handshake can try to guess it offline, so use {CommonOptions.ShortToken} or more random ones (recv makes 43 when given none)");
            await using var receiver = SingularityReceiver.Start(new ReceiverOptions
            {
                Directory = dir,
                Listen = endpoint,
                Transfer = transfer,
                Token = chosen ?? SessionToken.Generate(),
                ReturnMemoryWhenIdle = true,
                Delta = delta,
                MakeDevices = makeDevices,
            });
            // Once the options have passed the receiver's checks: a refused command line removes nothing.
            if (expireAfter > TimeSpan.Zero && Directory.Exists(dir))
                foreach (var removed in PartialFiles.Clean(dir, expireAfter))
                    Console.Error.WriteLine($"removed expired partial {Errors.Printable(removed.Path)}");
            var first = new TaskCompletionSource<ReceiveResult>(TaskCreationOptions.RunContinuationsAsynchronously);
            var waiting = new SenderWait();
            receiver.SessionStarted += (id, remote) =>
            {
                waiting.Started();
                Console.Error.WriteLine($"session {id[..8]} from {remote}: started");
            };
            var output = new Lock();
            receiver.SessionCompleted += result =>
            {
                // Paths are the session's destination's: a sender's URL may name one below this directory.
                string session = $"session {result.SessionId[..8]}{(result.Destination.Length > 0 ? $" into {result.Destination}/" : "")}";
                foreach (string notice in result.Notices)
                    Console.Error.WriteLine(Errors.Printable($"{session}: {notice}"));
                foreach (string failure in result.WriteFailures)
                    Console.Error.WriteLine(Errors.Printable($"{session}: {failure}"));
                foreach (string failure in result.DeletionFailures)
                    Console.Error.WriteLine(Errors.Printable($"{session}: could not delete {failure}"));
                Console.Error.WriteLine(Errors.Printable(Describe(result)));
                // Sessions end concurrently: one object per line, whole.
                if (json) lock (output) WriteJson(result);
                // A dry run changed nothing: --once waits for the send it previewed.
                if (!result.DryRun) first.TrySetResult(result);
                waiting.Ended();
            };
            receiver.ConnectionRejected += reason => Console.Error.WriteLine(Errors.Printable($"refused connection {reason}"));

            string url = receiver.Url.ToString();
            // With --json, stdout carries JSON only, so that a script can read every line as one object.
            if (json)
            {
                lock (output) JsonOutput.Write(writer => writer.WriteString("url", url), withProcessStats: false);
            }
            else
            {
                Console.Out.WriteLine(url);
                Console.Out.Flush();
            }
            if (urlFile is not null)
            {
                try
                {
                    WriteAtomically(urlFile, url + "\n");
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    string reason = ex is UnauthorizedAccessException ? "permission denied" : ex.Message;
                    throw new SingularityException(ErrorCode.BadPath, $"cannot write --url-file '{urlFile}': {reason}; give a file in a directory you can write");
                }
            }
            Console.Error.WriteLine($"receiving into {Path.GetFullPath(dir)}; listening on {receiver.LocalEndPoint}; encryption {(transfer.Cipher == CipherSuite.None ? "optional" : "required")}");

            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var serving = receiver.RunAsync(stop.Token);
            // A receiver started through a remote shell ends with the sender that started it, which closes its input (or ends).
            if (untilStdinCloses) StandardInput.CancelWhenEnded(stop);
            if (!once)
            {
                await serving.ConfigureAwait(false);
                if (Errors.Interrupted) Console.Error.WriteLine("sglty: stopped");
                return 0;
            }
            var gaveUp = acceptTimeout is { } limit ? waiting.NoneForAsync(limit, stop.Token) : Task.Delay(Timeout.Infinite, stop.Token);
            var finished = await Task.WhenAny(first.Task, serving, gaveUp).ConfigureAwait(false);
            await stop.CancelAsync().ConfigureAwait(false);
            await serving.ConfigureAwait(false);
            if (finished == gaveUp && !first.Task.IsCompleted && !Errors.Interrupted)
            {
                string message = $"no sender started a session within {acceptTimeout!.Value.TotalSeconds:0.###} s (--accept-timeout); check that the sender has this receiver's URL and can reach {receiver.LocalEndPoint}";
                Console.Error.WriteLine($"sglty: error: {message}");
                if (json) lock (output) Errors.WriteJson(message, null, Errors.NoSender);
                return Errors.NoSender;
            }
            if (finished != first.Task) return Errors.Report(new OperationCanceledException(), json);
            var session = await first.Task.ConfigureAwait(false);
            // As rsync: the rest arrived, and the exit says not all did.
            if (!session.Succeeded) return Errors.ExitFor(session.Error!.Code);
            return session.EntriesFailed > 0 || session.EntriesNotDeleted > 0 ? Errors.PartialTransfer : 0;
        }
        catch (Exception ex)
        {
            return Errors.Report(ex, json);
        }
    }

    /// <summary>Whether a session is running, and since when none has: what --accept-timeout waits on.</summary>
    private sealed class SenderWait
    {
        private int _running;
        private long _quietSince = System.Diagnostics.Stopwatch.GetTimestamp();

        public void Started() => Interlocked.Increment(ref _running);

        public void Ended()
        {
            Interlocked.Exchange(ref _quietSince, System.Diagnostics.Stopwatch.GetTimestamp());
            Interlocked.Decrement(ref _running);
        }

        /// <summary>Completes once no session has run for <paramref name="limit"/>; cancelled with <paramref name="cancellationToken"/>.</summary>
        public async Task NoneForAsync(TimeSpan limit, CancellationToken cancellationToken)
        {
            while (true)
            {
                var left = limit - System.Diagnostics.Stopwatch.GetElapsedTime(Interlocked.Read(ref _quietSince));
                if (Volatile.Read(ref _running) > 0) left = limit;
                else if (left <= TimeSpan.Zero) return;
                // Checked again at least each second: a session may start or end meanwhile.
                await Task.Delay(left < TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// HOST:PORT to listen on; with <paramref name="portAlone"/> (recv's own), a port alone (<c>7812</c>, <c>:7812</c>)
    /// is every interface at that port, as the default is.
    /// </summary>
    internal static IPEndPoint ParseListen(string text, bool portAlone = false)
    {
        string given = text;
        if (portAlone && !text.Contains(':', StringComparison.Ordinal) && text.Length > 0 && text.All(char.IsAsciiDigit)) text = ":" + text;
        int colon = text.LastIndexOf(':');
        if (colon < (portAlone ? 0 : 1) || !int.TryParse(text.AsSpan(colon + 1), out int port) || port is < 0 or > 65535)
            throw new FormatException($"--listen '{given}' is not HOST:PORT{(portAlone ? " or a port" : "")} (for example 0.0.0.0:7700 or 127.0.0.1:0{(portAlone ? ", or 7700 alone" : "")})");
        string host = text[..colon].Trim('[', ']');
        if (host is "0.0.0.0" or "*" or "") return new IPEndPoint(IPAddress.IPv6Any, port);
        if (IPAddress.TryParse(host, out var address)) return new IPEndPoint(address, port);
        IPAddress[] addresses;
        try
        {
            addresses = Dns.GetHostAddresses(host);
        }
        catch (System.Net.Sockets.SocketException)
        {
            addresses = [];
        }
        if (addresses.Length == 0) throw new FormatException($"--listen host '{host}' does not resolve; give an address of this machine, such as 127.0.0.1 or 0.0.0.0");
        return new IPEndPoint(addresses[0], port);
    }

    private static void WriteAtomically(string path, string content)
    {
        string full = Path.GetFullPath(path);
        // The URL holds the token: the file is private, and its temporary name unpredictable and never followed.
        string temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var writer = new StreamWriter(temp, new System.Text.UTF8Encoding(false), options)) writer.Write(content);
        File.Move(temp, full, overwrite: true);
    }

    private static string Describe(ReceiveResult result)
    {
        string id = result.SessionId[..8];
        string into = result.Destination.Length > 0 ? $" into {result.Destination}/" : "";
        if (!result.Succeeded) return $"session {id} from {result.Remote}{into}: failed: {result.Error!.Message}";
        if (result.DryRun)
        {
            var besides = new List<string>();
            if (result.FilesUnchanged > 0) besides.Add($"{result.FilesUnchanged} unchanged, left as they are");
            if (result.FilesLinked > 0) besides.Add($"would link {Count.Of(result.FilesLinked, "file")} from --link-dest copies");
            if (result.FilesCompared > 0) besides.Add($"{Count.Of(result.FilesCompared, "file")} found unchanged in --compare-dest copies");
            if (result.FilesCopied > 0) besides.Add($"would copy {Count.Of(result.FilesCopied, "file")} from --copy-dest copies");
            if (result.FilesNotSent > 0) besides.Add($"{result.FilesNotSent} the sender could not read or found gone");
            if (result.EntriesFailed > 0) besides.Add($"{Count.Of(result.EntriesFailed, "entry", "entries")} could not be written here");
            if (result.EntriesDeleted > 0) besides.Add($"would delete {Count.Of(result.EntriesDeleted, "entry", "entries")}");
            if (result.EntriesLeftByLimit > 0) besides.Add($"would leave {Count.Of(result.EntriesLeftByLimit, "entry", "entries")} past the sender's --max-delete limit");
            string more = besides.Count > 0 ? $"; {string.Join("; ", besides)}" : "";
            return $"session {id} from {result.Remote}{into} ({CipherSuites.Name(result.Cipher)}): dry run, nothing changed: would receive {Count.Of(result.Files - result.FilesUnchanged - result.FilesLinked - result.FilesCompared - result.FilesCopied, "file")}{more}";
        }
        double seconds = Math.Max(result.Elapsed.TotalSeconds, 1e-9);
        string unchanged = result.FilesUnchanged > 0 ? $" ({result.FilesUnchanged} unchanged, left as they were)" : "";
        if (result.FilesLinked > 0) unchanged += $"; {Count.Of(result.FilesLinked, "file")} linked from --link-dest copies";
        if (result.FilesCompared > 0) unchanged += $"; {Count.Of(result.FilesCompared, "file")} found unchanged in --compare-dest copies, not made here";
        if (result.FilesCopied > 0) unchanged += $"; {Count.Of(result.FilesCopied, "file")} copied from --copy-dest copies";
        if (result.FilesNotSent > 0) unchanged += $"; {result.FilesNotSent} the sender could not read or found gone";
        if (result.EntriesFailed > 0) unchanged += $"; {Count.Of(result.EntriesFailed, "entry", "entries")} could not be written here";
        if (result.EntriesDeleted > 0) unchanged += $"; deleted {Count.Of(result.EntriesDeleted, "entry", "entries")} the sender no longer has";
        if (result.EntriesNotDeleted > 0) unchanged += $"; {Count.Of(result.EntriesNotDeleted, "entry", "entries")} could not be deleted";
        if (result.EntriesLeftByLimit > 0) unchanged += $"; left {Count.Of(result.EntriesLeftByLimit, "entry", "entries")} past the sender's --max-delete limit";
        if (result.OwnersNotSet > 0) unchanged += $"; {Count.Of(result.OwnersNotSet, "entry", "entries")} kept this receiver's owner (the system refused the sender's)";
        if (result.DevicesSkipped > 0) unchanged += $"; {Count.Of(result.DevicesSkipped, "device", "devices")} skipped (start the receiver with --devices, as root, to make them)";
        if (result.XattrsNotSet > 0) unchanged += $"; {Count.Of(result.XattrsNotSet, "entry", "entries")} lacked some of the sender's extended attributes or ACLs (the file system or the system refused them; the first: '{Errors.Printable(result.FirstXattrsNotSet ?? "")}')";
        if (result.ModesNotSet > 0) unchanged += $"; {Count.Of(result.ModesNotSet, "entry", "entries")} kept the mode this file system gives (it refused the sender's; the first: '{Errors.Printable(result.FirstModeNotSet ?? "")}')";
        return $"session {id} from {result.Remote}{into} ({CipherSuites.Name(result.Cipher)}): {Count.Of(result.Files, "file")}{unchanged}, {ByteSize.Format(result.Bytes)} in {seconds:0.00} s ({Speed.Of(result.Bytes / seconds)})";
    }

    private static void WriteJson(ReceiveResult result)
    {
        JsonOutput.Write(writer =>
        {
            writer.WriteBoolean("ok", result.Succeeded);
            writer.WriteString("session", result.SessionId);
            if (result.Destination.Length > 0) writer.WriteString("destination", result.Destination);
            if (result.DryRun) writer.WriteBoolean("dry_run", true);
            writer.WriteNumber("files", result.Files);
            writer.WriteNumber("files_unchanged", result.FilesUnchanged);
            writer.WriteNumber("files_linked", result.FilesLinked);
            writer.WriteNumber("files_compared", result.FilesCompared);
            writer.WriteNumber("files_copied", result.FilesCopied);
            writer.WriteNumber("files_not_sent", result.FilesNotSent);
            writer.WriteNumber("entries_not_written", result.EntriesFailed);
            writer.WriteNumber("deleted", result.EntriesDeleted);
            writer.WriteNumber("not_deleted", result.EntriesNotDeleted);
            writer.WriteNumber("left_by_max_delete", result.EntriesLeftByLimit);
            writer.WriteNumber("owners_not_set", result.OwnersNotSet);
            writer.WriteNumber("devices_skipped", result.DevicesSkipped);
            writer.WriteNumber("xattrs_not_set", result.XattrsNotSet);
            if (result.FirstXattrsNotSet is { } first) writer.WriteString("first_xattrs_not_set", first);
            writer.WriteNumber("modes_not_set", result.ModesNotSet);
            if (result.FirstModeNotSet is { } firstMode) writer.WriteString("first_mode_not_set", firstMode);
            writer.WriteNumber("bytes", result.Bytes);
            writer.WriteNumber("seconds", result.Elapsed.TotalSeconds);
            writer.WriteString("cipher", CipherSuites.Name(result.Cipher));
            writer.WriteNumber("mbytes_per_s", result.Bytes / Math.Max(result.Elapsed.TotalSeconds, 1e-9) / 1e6);
            if (result.Error is not null) writer.WriteString("error", result.Error.Message);
        });
    }
}
