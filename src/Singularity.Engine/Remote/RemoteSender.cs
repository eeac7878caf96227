using System.Net;
using System.Net.Sockets;
using Singularity.Engine.Storage;

namespace Singularity.Engine;

/// <summary>
/// scp's and rsync's pull (<c>sglty send web1:/srv/data ./backup</c>): <c>sglty send</c> started on another machine
/// through a remote shell, into a receiver this process serves for that send alone. The lanes connect back from there
/// to the address this machine reaches that host from, as a push's lanes connect from here; the receiver's fresh
/// token travels on the shell's standard input, never on a command line, and the send there ends when that input
/// closes: when this process ends it, or ends itself.
/// </summary>
public static class RemoteSender
{
    /// <summary>How a line of the send's --log-file begins on its standard error when a pull asked for it there (<c>--log-file=-</c>): what the pull appends to its own log, and does not show.</summary>
    public const string LogLine = "sglty-log: ";

    /// <summary>
    /// Runs <c>sglty send</c> on <paramref name="source"/>'s host through <paramref name="shell"/>, sending
    /// <paramref name="paths"/> (there, relative to where the login starts unless absolute) to <paramref name="target"/>
    /// here, as scp and rsync take a target (<see cref="PullTarget"/>: a directory, or a name), with
    /// <paramref name="sendWords"/> as its options (they must not name the receiver or its token). The receiver here
    /// follows <paramref name="options"/> where a send needs it to: plaintext accepted for <see cref="CipherSuite.None"/>,
    /// devices made for <see cref="TransferOptions.Devices"/>, the same congestion control. It listens on
    /// <paramref name="listen"/> (for a firewall that lets one port through; an address of every interface is told
    /// there as the one this machine reaches the host from), else on a free port of that address. What the send there prints
    /// goes to <paramref name="output"/> and <paramref name="errors"/>, a line each; what the receiver here says that
    /// the send there is not told (its notices, what it could not delete), to <paramref name="log"/>. Returns the
    /// send's exit code; a target that cannot take the send, a shell that cannot run or log in, a sglty not found
    /// there, or a connection that drops is a <see cref="SingularityException"/>. Cancelling ends the send there, and
    /// throws <see cref="OperationCanceledException"/>. With <paramref name="filesFrom"/>, the send there sends the
    /// names it lists, as its --files-from, relative to the one path (give <see cref="TransferOptions.Relative"/>).
    /// The lines of a --log-file the send there writes to its standard error (<c>--log-file=-</c> among
    /// <paramref name="sendWords"/>) go to <paramref name="logged"/>, without <see cref="LogLine"/>, and no further.
    /// </summary>
    public static async Task<int> RunAsync(RemoteTarget source, IReadOnlyList<string> paths, string target, IReadOnlyList<string> sendWords, RemoteShell? shell = null, TransferOptions? options = null,
        IPEndPoint? listen = null, Action<string>? output = null, Action<string>? errors = null, Action<string>? log = null, IReadOnlyList<string>? filesFrom = null, Action<string>? logged = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(sendWords);
        shell = ShellProcess.Given(shell, nameof(shell));
        options ??= new TransferOptions();
        if (filesFrom is not null && (paths.Count != 1 || filesFrom.Any(name => name.Length == 0 || name.Contains('\0'))))
            throw new ArgumentException("a list of names is relative to one path, and holds no empty name and no NUL", nameof(filesFrom));
        if (filesFrom is not null && RemoteCommand.HasWildcards(paths[0]))
            throw new SingularityException(ErrorCode.BadPath, $"--files-from lists names below one directory on {source.Host}, and '{paths[0]}' is a pattern, which may match many; name the directory");
        var place = PullTarget.Prepare(target, paths, shell.MakePath, options);
        bool finished = false;
        try
        {
            var (host, tunnel, family) = await ShellProcess.ReachAsync(source, shell, options.AddressFamily, cancellationToken).ConfigureAwait(false);
            options = options with { AddressFamily = family };
            if (tunnel && shell.Tunnel is null)
                log?.Invoke($"{source.Host} is reached through a jump host: the lanes come through ssh's connection, as one stream (--no-tunnel keeps them out)");
            int code, portsTaken = 0;
            while (true)
            {
                try
                {
                    code = await RunAsync(source, paths, place, sendWords, shell, options, listen, host, tunnel ? ShellProcess.PortThere() : null, output, errors, log, filesFrom, logged, cancellationToken).ConfigureAwait(false);
                    break;
                }
                catch (PortTakenThere)
                {
                    // ssh ended before the send there ran: another port is chosen, once, where it was taken.
                    if (++portsTaken == 2)
                        throw new SingularityException(ErrorCode.ConnectionLost, $"ssh could not listen on {source.Host} for the lanes to come back through its connection (twice, on ports chosen at random): its server refuses to forward (AllowTcpForwarding there), or the ports were taken; let the lanes reach this machine straight (--no-tunnel, and a port let through, given with --listen), or run the send there to a 'sglty recv' here");
                }
                catch (NoWayBack ex) when (!tunnel && ShellProcess.TunnelsWhereUnreached(shell))
                {
                    // As scp would still get through: ssh's own connection carries the lanes, slower but there.
                    log?.Invoke($"{ex.Reason}; pulling through ssh's connection instead, as one stream (a port let through, given with --listen, is faster; --no-tunnel stops here)");
                    tunnel = true;
                }
            }
            // What the send there could send goes into place; an interrupted one waits for the same pull again.
            if (code is 0 or PartialTransferExit && !options.DryRun) place.Finish();
            finished = code is 0 or PartialTransferExit;
            return code;
        }
        finally
        {
            place.Close(finished);
        }
    }

    // sglty's exit code for a send that delivered all but what it named (rsync's 23).
    private const int PartialTransferExit = 23;

    // sglty's exit code for a send interrupted (128 + SIGINT, as a shell reports Ctrl-C).
    private const int InterruptedExit = 130;

    /// <summary>The send there could not connect back to the receiver here (<see cref="Reason"/>), and nothing was sent.</summary>
    private sealed class NoWayBack(string reason, string advice) : SingularityException(ErrorCode.ConnectionLost, $"{reason}; {advice}")
    {
        public string Reason => reason;
    }

    /// <summary>ssh could not listen on the port chosen there for the tunnel, and ran nothing.</summary>
    private sealed class PortTakenThere : Exception;

    /// <summary>
    /// One attempt of the pull: straight to this machine's port, or, with <paramref name="tunnelPort"/>, through ssh's
    /// connection, which listens on that port of the loopback there and carries each lane to the receiver here.
    /// </summary>
    private static async Task<int> RunAsync(RemoteTarget source, IReadOnlyList<string> paths, PullTarget place, IReadOnlyList<string> sendWords, RemoteShell shell, TransferOptions options,
        IPEndPoint? listen, string host, int? tunnelPort, Action<string>? output, Action<string>? errors, Action<string>? log, IReadOnlyList<string>? filesFrom, Action<string>? logged, CancellationToken cancellationToken)
    {
        bool everywhere = listen is null || listen.Address.Equals(IPAddress.Any) || listen.Address.Equals(IPAddress.IPv6Any);
        // Where the host cannot be looked up here, the receiver listens everywhere, and the send there takes this
        // machine's address from what its login saw (ssh's SSH_CONNECTION). Through ssh, on the loopback alone (at
        // --listen's port, where given).
        var loopback = Transport.Families.Loopback(options.AddressFamily);
        var address = tunnelPort is not null ? loopback
            : everywhere ? await AddressTowardAsync(host, options.AddressFamily, cancellationToken).ConfigureAwait(false)
            : listen!.Address;
        await using var receiver = SingularityReceiver.Start(new ReceiverOptions
        {
            Directory = place.Directory,
            Listen = tunnelPort is not null ? new IPEndPoint(loopback, listen?.Port ?? 0)
                : listen ?? new IPEndPoint(address ?? (options.AddressFamily == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any), 0),
            Token = SessionToken.Generate(),
            Transfer = new TransferOptions
            {
                Cipher = options.Cipher == CipherSuite.None ? CipherSuite.None : CipherSuite.Aes256Gcm,
                CongestionControl = options.CongestionControl,
            },
            MakeDevices = options.Devices,
            Admission = PullAdmission.For(paths, options, place.FileName, filesFrom),
        });
        bool sessionDone = false;
        // What the receiver here refused of the machine pulled from, whatever the send there then says of it; the
        // pull ends with it, not waiting on a send there that may never end.
        var refusal = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        // A directory pulled to a name where a file stands, as the receiver found it.
        bool directoryOnFile = false;
        // What the send there says before a session starts here is held while the pull may yet go through ssh instead.
        var held = new HeldLines(holding: tunnelPort is null && ShellProcess.TunnelsWhereUnreached(shell));
        receiver.SessionStarted += (_, _) =>
        {
            place.Arrived = true;
            held.Release();
        };
        receiver.SessionCompleted += result =>
        {
            sessionDone |= result.Succeeded && result.EntriesFailed == 0 && result.EntriesNotDeleted == 0;
            if (result.Error is ProtocolViolationException { Message: var message } && message.StartsWith(PullAdmission.Refusal, StringComparison.Ordinal)) refusal.TrySetResult(message);
            directoryOnFile |= place.FileName is not null && result.Error?.Message.Contains(PathGuard.NotADirectory, StringComparison.Ordinal) == true;
            // What the send there is not told: the receiver's notices, and what it could not delete (the send says its log names them).
            foreach (string notice in result.Notices) log?.Invoke($"here: {notice}");
            foreach (string failure in result.DeletionFailures) log?.Invoke($"here: could not delete {failure}");
        };
        using var stop = new CancellationTokenSource();
        var serving = receiver.RunAsync(stop.Token);
        // Without a link's scope: that is this machine's own number for the interface.
        var url = tunnelPort is { } there ? receiver.Url with { Host = loopback.ToString(), Port = there, Token = null }
            : receiver.Url with { Host = address is null ? "" : new IPAddress(address.GetAddressBytes()).ToString(), Token = null };
        var forward = tunnelPort is { } from ? ShellProcess.Forward("-R", from, receiver.Url.Port, options.AddressFamily) : null;
        // Through ssh, the send there sees the hop to ssh, which reads as a local path: delta, unless the user chose,
        // and its lanes as given, not fitted to that hop.
        if (tunnelPort is not null && options.Delta is null) sendWords = [.. sendWords, "--delta"];
        if (tunnelPort is not null && options.FitToPath) sendWords = [.. sendWords, "--lanes=" + options.Lanes.ToString(System.Globalization.CultureInfo.InvariantCulture)];
        using var shellProcess = ShellProcess.Start(ShellProcess.Info(shell, source, RemoteCommand.ForSend(shell, url, sendWords, paths, place.FileName, listed: filesFrom is not null), terminalRefused: true, forward, options.AddressFamily), shell);
        var process = shellProcess.Process;
        // Lines read, and callbacks still passing one on (a slow reader here holds them): how the end tells a pipe that
        // still carries what the send there printed from one a process left behind holds open.
        long linesRead = 0;
        int passing = 0;
        Action<string> passOn(Action<string>? to, bool keep) => line =>
        {
            Interlocked.Increment(ref linesRead);
            Interlocked.Increment(ref passing);
            try
            {
                // A line of the log there is for the log here alone: not shown, nor read as the send's last words; the
                // receiver's refusal, which the send there repeats, is told here once, in the pull's own words.
                if (keep && logged is not null && line.StartsWith(LogLine, StringComparison.Ordinal)) held.Pass(logged, line[LogLine.Length..]);
                else if (keep && line.Contains(PullAdmission.Refusal, StringComparison.Ordinal)) shellProcess.Keep(line);
                // A port taken there is chosen again, unseen.
                else if (keep && tunnelPort is not null && ShellProcess.ForwardNotMade(line) == tunnelPort) shellProcess.Keep(line);
                // A pattern alone that matched nothing, which the send there cannot find: the pull says so in its words, once.
                else if (keep && NotFoundAtLast(line, paths) is not null) shellProcess.Keep(line);
                // sglty missing there: the pull says so in its words, once.
                else if (keep && line.TrimEnd() == RemoteCommand.NotInstalled) shellProcess.Keep(line);
                // A directory pulled to the name of a file here, which the receive here refused: the pull says so in its words, once.
                else if (keep && place.FileName is not null && line.StartsWith(ReceiverEnded, StringComparison.Ordinal) && line.Contains(PathGuard.NotADirectory, StringComparison.Ordinal)) shellProcess.Keep(line);
                else
                {
                    if (keep) shellProcess.Keep(line);
                    // A pattern that matched nothing beside others that did, which the send there passed over; a path it
                    // cannot find, named with the machine it is missing on.
                    if (to is not null) held.Pass(to, keep && Unmatched(line, paths) is { } pattern ? $"sglty: nothing on {source.Host} matches '{pattern}'" : keep ? OnHost(line, source.Host) : line);
                }
            }
            finally
            {
                Interlocked.Decrement(ref passing);
            }
        };
        var reading = Task.WhenAll(PassOnAsync(process.StandardOutput, passOn(output, keep: false)), PassOnAsync(process.StandardError, passOn(errors, keep: true)));
        // Written beside the wait: a long list fills the pipe until the send there reads it.
        var writing = WriteInputAsync(process.StandardInput, receiver.Url.Token ?? "", filesFrom);
        try
        {
            await Task.WhenAny(process.WaitForExitAsync(cancellationToken), refusal.Task).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException)
        {
            // Cancelled, or the shell ended before it took the token: its input closes, which ends the send there.
        }
        finally
        {
            // A write still waiting on a send there that has not read its list, or a send there that sent what was not
            // asked for: only ending the shell ends them.
            if (!writing.IsCompleted || refusal.Task.IsCompleted) shellProcess.Kill();
            await writing.ConfigureAwait(false);
            await shellProcess.EndAsync().ConfigureAwait(false);
            // The shell has ended, and with it what the receiver served.
            await stop.CancelAsync().ConfigureAwait(false);
            await serving.ConfigureAwait(false);
            // All it printed is passed on, however slowly it is read here; but a process the shell left behind may hold
            // the pipes open: they are let go once a second passes without a line (or after ten seconds of lines),
            // unless one is still being passed on to a slow reader here.
            long before;
            var lettingGo = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            do
            {
                before = Interlocked.Read(ref linesRead);
                await Task.WhenAny(reading, Task.Delay(TimeSpan.FromSeconds(1), cancellationToken)).ConfigureAwait(false);
            }
            while (!reading.IsCompleted && !cancellationToken.IsCancellationRequested
                && (Volatile.Read(ref passing) > 0 || (Interlocked.Read(ref linesRead) != before && DateTime.UtcNow < lettingGo)));
        }
        try
        {
            // Ended here: ssh itself may have taken the same Ctrl-C and ended with its own code.
            cancellationToken.ThrowIfCancellationRequested();
            if (tunnelPort is not null && !place.Arrived && process.ExitCode == 255 && shellProcess.Lines.Select(ShellProcess.ForwardNotMade).FirstOrDefault(port => port is not null) is { } notMade)
                throw notMade == tunnelPort ? new PortTakenThere() : ShellProcess.ConfiguredForwardNotMade(source.Host, notMade, "pull", "--listen");
            if (refusal.Task.IsCompleted) throw new SingularityException(ErrorCode.ProtocolViolation, $"{refusal.Task.Result} (from {source.Host}); nothing it sent beyond what was asked for was written here");
            if (directoryOnFile) throw new SingularityException(ErrorCode.BadPath, $"what was pulled is a directory, and '{place.Named}' is not one; pull it to another name, or into the directory above");
            return ExitCode(shellProcess, source, paths, shell, url, tunnelPort is not null, place.Arrived, sessionDone, log);
        }
        catch (NoWayBack)
        {
            // Run again through ssh: what this attempt said would be said twice, and its failure is not the pull's.
            held.Drop();
            throw;
        }
        finally
        {
            held.Release();
        }
    }

    /// <summary>
    /// What the send there says before its session starts here, in order, held while the pull may still go through
    /// ssh instead (a send that cannot connect back says so, and is run again): then dropped, else passed on as soon as
    /// the session starts or the send ends. At most a thousand lines are held; beyond, they are passed on.
    /// </summary>
    private sealed class HeldLines(bool holding)
    {
        private const int Most = 1000;
        private readonly Lock _lock = new();
        private List<(Action<string> To, string Line)>? _held = holding ? [] : null;

        public void Pass(Action<string> to, string line)
        {
            lock (_lock)
            {
                if (_held is { Count: < Most })
                {
                    _held.Add((to, line));
                    return;
                }
                ReleaseHeld();
                to(line);
            }
        }

        public void Release()
        {
            lock (_lock) ReleaseHeld();
        }

        public void Drop()
        {
            lock (_lock) _held = null;
        }

        private void ReleaseHeld()
        {
            if (_held is not { } held) return;
            _held = null;
            foreach (var (to, line) in held) to(line);
        }
    }

    /// <summary>
    /// The pattern of <paramref name="paths"/> that a line of the send there names as not found (told as it went, or
    /// under -q at its end), or null: a POSIX shell leaves one that matches nothing as it is, and the send goes on past it.
    /// </summary>
    private static string? Unmatched(string line, IReadOnlyList<string> paths) =>
        (line.StartsWith("sglty: not sending '", StringComparison.Ordinal) || line.StartsWith("sglty: not sent '", StringComparison.Ordinal)) && NotFound(line) is { } named ? PatternNamed(named, paths) : null;

    /// <summary>The pattern of <paramref name="paths"/> that the send there's closing error names as not found (a pattern alone that matched nothing), or null.</summary>
    private static string? NotFoundAtLast(string line, IReadOnlyList<string> paths) =>
        line.StartsWith("sglty: error: cannot send '", StringComparison.Ordinal) && NotFound(line) is { } named ? PatternNamed(named, paths) : null;

    /// <summary>
    /// A line of the send there as this machine's user reads it: a path it cannot find with the machine it is missing
    /// on ("cannot send 'PATH' on HOST: no such file or directory"), and the receiver it names, which is this machine's
    /// (a full disk here, say), as the receive here, in its last line and its retries alike; and its summary as a pull's.
    /// </summary>
    internal static string OnHost(string line, string host) =>
        (line.StartsWith("sglty: error: cannot send '", StringComparison.Ordinal) || line.StartsWith("sglty: not sending '", StringComparison.Ordinal)) && NotFound(line) is { } missing
            ? line.Replace($"'{missing}': {SourceScanner.Missing}", $"'{missing}' on {host}: {SourceScanner.Missing}", StringComparison.Ordinal)
            : line.StartsWith(ReceiverEnded, StringComparison.Ordinal) ? "sglty: error: the receive here ended the pull: " + line[ReceiverEnded.Length..]
            : line.StartsWith("sglty: retry ", StringComparison.Ordinal) ? line.Replace(RetryBecause, ": the receive here ended the pull: ", StringComparison.Ordinal)
            // Its summary, as this side's user reads it: the files came here.
            : line.StartsWith("sent ", StringComparison.Ordinal) && line.Length > 5 && char.IsAsciiDigit(line[5]) ? "pulled " + line[5..]
            : line.StartsWith(WouldSend, StringComparison.Ordinal) ? "dry run, nothing changed: would pull " + line[WouldSend.Length..]
            : line;

    private const string WouldSend = "dry run, nothing changed: would send ";

    private const string ReceiverEnded = "sglty: error: the receiver ended the session: ";
    private const string RetryBecause = ": the receiver ended the session: ";

    /// <summary>The path a line of the send there quotes as not found ("... 'PATH': no such file or directory"), or null.</summary>
    private static string? NotFound(string line)
    {
        int start = line.IndexOf('\'');
        int end = start < 0 ? -1 : line.IndexOf("': " + SourceScanner.Missing, start + 1, StringComparison.Ordinal);
        return end < 0 ? null : line[(start + 1)..end];
    }

    /// <summary>
    /// The pattern of <paramref name="paths"/> that the shell there leaves as <paramref name="named"/> where it matches
    /// nothing: its own text, or, for one below a home (<c>~/</c>, <c>~user/</c>), that text below the home it expanded.
    /// </summary>
    private static string? PatternNamed(string named, IReadOnlyList<string> paths) =>
        paths.FirstOrDefault(path => RemoteCommand.HasWildcards(path) && !path.StartsWith('~') && named == RemoteCommand.Unmatched(path))
        ?? paths.FirstOrDefault(path => RemoteCommand.HasWildcards(path) && path.StartsWith('~') && (named == RemoteCommand.Unmatched(path) || named.EndsWith("/" + RemoteCommand.Unmatched(path), StringComparison.Ordinal)));

    /// <summary>The send's exit code, or what went wrong before it could say: its shell, its program there, or the connection.</summary>
    private static int ExitCode(ShellProcess shellProcess, RemoteTarget source, IReadOnlyList<string> paths, RemoteShell shell, ConnectionUrl url, bool tunnelled, bool started, bool done, Action<string>? log)
    {
        int code = shellProcess.Process.ExitCode;
        string last = shellProcess.Lines.LastOrDefault(line => line.Trim().Length > 0)?.Trim() ?? "";
        // A pattern that matches nothing is left as it is by the shell there, and then not found; zsh, and bash with
        // failglob, refuse it themselves, naming it.
        string? refusedPattern = new[] { "no matches found: ", "no match: " }.Select(said => last.IndexOf(said, StringComparison.Ordinal) is >= 0 and var at ? last[(at + said.Length)..] : null).FirstOrDefault(text => text is not null);
        if (code != 0 && (refusedPattern is not null ? PatternNamed(refusedPattern.Trim(), paths) : NotFoundAtLast(last, paths)) is { } pattern)
            throw new SingularityException(ErrorCode.BadPath, $"nothing on {source.Host} matches '{pattern}'");
        // Its own words say it could not connect; what stops a pull there is this machine's side of the way, or ssh's.
        if (!started && code != 0 && last.Contains("cannot connect to", StringComparison.Ordinal) && tunnelled)
            throw new SingularityException(ErrorCode.ConnectionLost, $"the send on {source.Host} could not connect through ssh's connection (its port {url.Port} there): the ssh server there may refuse to forward (AllowTcpForwarding); run the send there to a 'sglty recv' here, on a port it can reach");
        if (!started && code != 0 && last.Contains("cannot connect to", StringComparison.Ordinal))
            throw new NoWayBack($"the send on {source.Host} could not connect back to this machine at {(url.Host.Length > 0 ? url.Host + ":" : "port ")}{url.Port}: a firewall here, or an address translated on the way, stops it",
                "let one port through and choose it with --listen, pull with --tunnel, or run the send there to a 'sglty recv' here");
        // Its own words for an option it does not know, or, for one that pulls without lists, for the list's input.
        if (last.Contains("unknown option '--until-stdin-closes'", StringComparison.Ordinal) || last.Contains("--until-stdin-closes waits for standard input to end, which a list read from -", StringComparison.Ordinal))
            throw new SingularityException(ErrorCode.ConnectionLost, $"the sglty on {source.Host} is older than this one, and cannot be pulled from; update it there, or run the send there to a 'sglty recv' here");
        // Stopped there (its own interrupt's words and code), not here: the connection held.
        if (code == InterruptedExit && last.StartsWith("sglty: interrupted", StringComparison.Ordinal))
            throw new SingularityException(ErrorCode.ConnectionLost, $"the send on {source.Host} was stopped there; the same pull again resumes what arrived");
        if (last.Contains("standard input held no token line", StringComparison.Ordinal))
            throw new SingularityException(ErrorCode.ConnectionLost, $"'{shellProcess.Words}' gave the send on {source.Host} no standard input, which carries its token: give a remote shell that passes it on (not ssh -n)");
        // ssh's own failures exit 255, and a command not found 127; sglty's own lines there say what else went wrong.
        // The words that look for it there said it is missing (held back, not passed on), whatever the code a wrapper gave.
        bool notInstalled = shellProcess.Lines.Any(line => line.Trim() == RemoteCommand.NotInstalled);
        if ((code == 127 && !last.StartsWith("sglty: error", StringComparison.Ordinal)) || notInstalled)
            throw new SingularityException(ErrorCode.ConnectionLost, $"could not start sglty on {source.Host}{(notInstalled ? ": " + RemoteCommand.NotInstalled["sglty: ".Length..] : "")}{(shell.Program is null ? "; install it there (on the PATH of its logins, or at ~/sglty/sglty), or name it with --sglty-path" : "; check --sglty-path")}");
        // The connection dropped after a session here ended whole: everything arrived, whatever the send there could not say.
        if (code == 255 && done)
        {
            log?.Invoke($"the connection to {source.Host} dropped after the send there ended; everything arrived");
            return 0;
        }
        if (code == 255)
        {
            // sglty never exits 255: ssh's last words are the last line that is not the send's own.
            string said = shellProcess.Lines.LastOrDefault(line => line.Trim().Length > 0 && !line.StartsWith("sglty: ", StringComparison.Ordinal) && !line.StartsWith("progress: ", StringComparison.Ordinal))?.Trim() ?? "";
            // Logged in, where a session started here or the send there said a word.
            bool ran = started || shellProcess.Lines.Any(line => line.StartsWith("sglty: ", StringComparison.Ordinal) || line.StartsWith("progress: ", StringComparison.Ordinal));
            throw new SingularityException(ErrorCode.ConnectionLost, ran
                ? $"the connection to {source.Host} dropped during the pull{(said.Length > 0 ? $" ({said})" : "")}; the same pull again resumes what arrived"
                : $"could not run the send on {source.Host} through {shell.Command[0]} (exit code 255); check that '{shellProcess.Words}' logs in");
        }
        // Ended by a signal, ssh here or the send there (a shell reports 128 + its number), not by its own words.
        if (code > 128)
            throw new SingularityException(ErrorCode.ConnectionLost, $"the pull from {source.Host} ended when ssh, or the send there, was killed (signal {code - 128}){(started ? "; the same pull again resumes what arrived" : "")}");
        return code;
    }

    /// <summary>
    /// The send's input: the token, the names listed, each ended by a NUL and all by an empty one, then nothing (the
    /// send there reads them, then waits for the input's end). A shell that ends first ends it.
    /// </summary>
    private static async Task WriteInputAsync(StreamWriter input, string token, IReadOnlyList<string>? filesFrom)
    {
        try
        {
            await input.WriteLineAsync(token).ConfigureAwait(false);
            if (filesFrom is not null)
            {
                foreach (string name in filesFrom)
                {
                    await input.WriteAsync(name).ConfigureAwait(false);
                    await input.WriteAsync('\0').ConfigureAwait(false);
                }
                await input.WriteAsync('\0').ConfigureAwait(false);
            }
            await input.FlushAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException)
        {
            // The shell ended before it took it all.
        }
    }

    private static async Task PassOnAsync(StreamReader reader, Action<string> line)
    {
        try
        {
            while (await reader.ReadLineAsync().ConfigureAwait(false) is { } text) line(text);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            // The shell ended.
        }
    }

    /// <summary>
    /// The address of this machine that packets to <paramref name="host"/> leave from, as the system's routes choose
    /// it (a datagram socket's connect sends nothing): where the lanes from there are to connect. Null where the host
    /// cannot be looked up here (an alias a remote shell other than ssh knows) or no route leads to it.
    /// </summary>
    internal static async Task<IPAddress?> AddressTowardAsync(string host, AddressFamily family, CancellationToken cancellationToken)
    {
        IPAddress[] addresses;
        try
        {
            addresses = IPAddress.TryParse(host, out var given) ? [given] : await Dns.GetHostAddressesAsync(host, family, cancellationToken).ConfigureAwait(false);
            if (family != AddressFamily.Unspecified) addresses = Array.FindAll(addresses, address => address.AddressFamily == family);
        }
        catch (SocketException)
        {
            return null;
        }
        foreach (var address in addresses)
        {
            try
            {
                using var socket = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
                socket.Connect(address, 9);
                if (socket.LocalEndPoint is IPEndPoint { Address: var local }) return local;
            }
            catch (SocketException)
            {
                // No route that way: the next address.
            }
        }
        return null;
    }
}
