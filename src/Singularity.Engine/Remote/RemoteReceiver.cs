using System.Diagnostics;
using Singularity.Engine.Storage;

namespace Singularity.Engine;

/// <summary>
/// A receiver started on another machine through a remote shell, as rsync and scp start their other end: it serves
/// this process's sends, retries too, and ends when <see cref="DisposeAsync"/> closes its standard input (or this
/// process ends). The shell carries the receiver's URL and token back; the files travel over the receiver's own TCP
/// port, straight from this machine, as bbcp's do.
/// </summary>
public sealed class RemoteReceiver : IAsyncDisposable
{
    // Lines a login's profile may print before the URL (a message of the day).
    private const int MostLinesBeforeUrl = 1000;
    private const string Warning = "sglty: warning: ";

    private readonly ShellProcess _shell;
    private readonly Action<string>? _log;
    private readonly CancellationTokenSource _ended = new();
    private readonly Task _errors;
    private Task _output = Task.CompletedTask;
    private bool _namesFile;
    private volatile bool _closing;

    private readonly RemoteShell _given;

    // What ssh said when its server refused to carry a lane through the tunnel; null while it has not.
    private volatile string? _tunnelRefused;

    private RemoteReceiver(ShellProcess shell, RemoteShell given, RemoteTarget target, bool tunnelled, System.Net.Sockets.AddressFamily family, Action<string>? log)
    {
        _shell = shell;
        _given = given;
        Tunnelled = tunnelled;
        Family = family;
        Target = target;
        _log = log;
        _errors = KeepMessagesAsync();
        _ = EndedAsync();
    }

    /// <summary>Where the receiver was started.</summary>
    public RemoteTarget Target { get; }

    /// <summary>The receiver's URL, with the host this machine reaches it by and its token: what to send to.</summary>
    public ConnectionUrl Url { get; private set; } = null!;

    /// <summary>
    /// Where a send of one file to a target that is not a directory there gives it the target's name, as scp and rsync
    /// do (<c>db.dump web1:db-1206.dump</c>): pass it as <see cref="TransferOptions.FileName"/>. Null where the
    /// target is a directory, which the sources go into.
    /// </summary>
    public string? FileName { get; private set; }

    /// <summary>Whether the lanes reach this receiver through ssh's own connection (<see cref="RemoteShell.Tunnel"/>).</summary>
    public bool Tunnelled { get; }

    /// <summary>
    /// The family of addresses the lanes connect by (<see cref="TransferOptions.AddressFamily"/>): the one given, else
    /// the one ssh's configuration chooses for the host (AddressFamily), as ssh itself reaches it.
    /// </summary>
    public System.Net.Sockets.AddressFamily Family { get; }

    /// <summary>
    /// Where a send to this receiver failed with <paramref name="error"/> because its port could not be reached from
    /// here (refused, no answer, no route: a firewall that lets ssh alone through), and ssh's own connection, which got
    /// through, could carry the lanes instead: the line that tells the user so, before a receiver is started again with
    /// <see cref="RemoteShell.Tunnel"/>, as scp would still get through. Null where the lanes went through ssh already,
    /// the shell is not ssh, or <see cref="RemoteShell.Tunnel"/> is false.
    /// </summary>
    public string? TunnelInstead(Exception error) =>
        !Tunnelled && ShellProcess.TunnelsWhereUnreached(_given) && NotReached(error) is { } why
            ? $"the receiver started on {Target.Host} cannot be reached {why}; sending through ssh's connection instead, as one stream{(Unnamed(error) ? "" : _given.ListenPort is not null ? " (--no-tunnel stops here)" : " (a port let through, given with --remote-listen, is faster; --no-tunnel stops here)")}"
            : null;

    /// <summary>
    /// Where a send to this receiver failed with <paramref name="error"/> and no tunnel is taken instead (see
    /// <see cref="TunnelInstead"/>): the failure in words that name this receiver and what to do, where the lanes
    /// could not reach its port straight, or lost their way through ssh's connection; else null.
    /// </summary>
    public SingularityException? Unreached(Exception error)
    {
        if (!Tunnelled && NotReached(error) is { } why)
            return new(ErrorCode.ConnectionLost, $"the receiver started on {Target.Host} cannot be reached {why}; {(Unnamed(error) ? "give ssh a name this machine can look up too" : "a firewall on the way? let its port through (--remote-listen chooses it)")}{(ShellProcess.CanTunnel(_given) && _given.Tunnel == false ? ", or leave out --no-tunnel, which keeps the lanes out of ssh's connection" : "")}", error);
        // ssh said nothing of a refusal (quieter than its default log level), and the lanes found it closed.
        if (Tunnelled && error is SingularityException { Code: ErrorCode.ConnectionLost } lost)
            return new(ErrorCode.ConnectionLost, $"{lost.Message} (the lanes went through ssh's connection to {Target.Host}: if its server refuses to forward, AllowTcpForwarding there, send with --no-tunnel and a port let through, --remote-listen)", error);
        return null;
    }

    /// <summary>Where the lanes could not reach the receiver's port straight: "at HOST:PORT (why)"; else null.</summary>
    private string? NotReached(Exception error) =>
        error is SingularityException { InnerException: System.Net.Sockets.SocketException socket } failure && SingularitySender.NothingThere(failure)
            ? $"at {ConnectionUrl.Endpoint(Url.Host, Url.Port)} ({Transport.TcpLaneConnection.Describe(socket.SocketErrorCode)})"
            : null;

    /// <summary>Whether the lanes could not look up the host's name here (one only ssh's configuration knows).</summary>
    private static bool Unnamed(Exception error) =>
        error.InnerException is System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.HostNotFound or System.Net.Sockets.SocketError.NoData };

    /// <summary>Cancelled when the shell ends before <see cref="DisposeAsync"/> closed its input: the receiver died, or the connection to it dropped; or when ssh's server refused to carry a lane through the tunnel. A send to it may stop there (see <see cref="EndedEarly"/>).</summary>
    public CancellationToken Ended => _ended.Token;

    /// <summary>The last lines the receiver, or the shell, wrote to standard error: what it said of its sessions, or why it did not start.</summary>
    public IReadOnlyList<string> Messages => _shell.Lines;

    /// <summary>
    /// Runs <c>sglty recv</c> in <see cref="RemoteTarget.Directory"/> on <see cref="RemoteTarget.Host"/> through
    /// <paramref name="shell"/>, for a send of <paramref name="paths"/>, and returns once it printed its URL. Its
    /// options follow <paramref name="options"/> where a send needs them there: plaintext accepted for
    /// <see cref="CipherSuite.None"/>, devices made for <see cref="TransferOptions.Devices"/>, the same congestion
    /// control; a dry run makes nothing there. One file sent to a target that is not a directory there takes its
    /// name (<see cref="FileName"/>). A source that is not here, a shell that cannot run, or a receiver that does not
    /// start (within <see cref="TransferOptions.RetryTimeout"/>) is a <see cref="SingularityException"/> that quotes
    /// what it said. The receiver's warnings go to <paramref name="log"/>, one line each.
    /// </summary>
    public static async Task<RemoteReceiver> StartAsync(RemoteTarget target, IReadOnlyList<string> paths, RemoteShell? shell = null, TransferOptions? options = null, Action<string>? log = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(paths);
        shell = ShellProcess.Given(shell, nameof(shell));
        options ??= new TransferOptions();
        // Nothing is made there for a send that fails here.
        SourceScanner.CheckGiven(paths, ScanRules.Of(options));
        var (host, tunnel, family) = await ShellProcess.ReachAsync(target, shell, options.AddressFamily, cancellationToken).ConfigureAwait(false);
        options = options with { AddressFamily = family };
        var fileTarget = RemoteCommand.FileTarget(target, paths, options);
        if (!tunnel) return await StartOnceAsync(target, shell, options, fileTarget, host, null, log, cancellationToken).ConfigureAwait(false);
        // Through ssh: the receiver there listens on its loopback, and ssh here on this machine's, carrying each lane
        // from one to the other. The port there is chosen here, as ssh must name it; one taken there is chosen again.
        int? given = shell.ListenPort;
        for (int attempt = 1; ; attempt++)
        {
            int there = given ?? ShellProcess.PortThere(), here = ShellProcess.FreePortHere(family);
            try
            {
                string loopback = Transport.Families.Loopback(family).ToString();
                return await StartOnceAsync(target, shell with { Listen = ConnectionUrl.Endpoint(loopback, there) }, options, fileTarget, loopback,
                    ([.. RefusalTold, .. ShellProcess.Forward("-L", here, there, family)], here, given is null ? there : null), log, cancellationToken).ConfigureAwait(false);
            }
            catch (TunnelPortTaken) when (attempt < 3)
            {
                // The port there, or the one here that ssh was to listen on, was taken meanwhile: others are chosen.
            }
            catch (TunnelPortTaken)
            {
                throw new SingularityException(ErrorCode.ConnectionLost, $"no port could be had for the tunnel to {target.Host} (three tried, taken there or here); send again, or give one free there with --remote-listen");
            }
        }
    }

    /// <summary>
    /// ssh's log level for a push's tunnel, whatever its configuration's (ERROR, often): at INFO it says that its server
    /// refused a lane's channel, which ends the send at once (<see cref="EndedEarly"/>). What it says is kept, not shown.
    /// A -q of the user's still wins.
    /// </summary>
    private static readonly string[] RefusalTold = ["-o", "LogLevel=INFO"];

    /// <summary>A port the tunnel was to use was taken, there or here, and nothing ran.</summary>
    private sealed class TunnelPortTaken : Exception;

    /// <summary>
    /// Why a tunnel's shell ran nothing, where ssh or the receiver there said so: a port of the tunnel taken
    /// (<see cref="TunnelPortTaken"/>), or a forward of ssh's own configuration (LocalForward, RemoteForward) that ssh
    /// could not make, which under ExitOnForwardFailure stops the tunnel too. Null where it was something else.
    /// </summary>
    private Exception? ForwardFailure((IReadOnlyList<string> Words, int Port, int? There) tunnel)
    {
        foreach (string line in Messages)
        {
            if (ShellProcess.ForwardNotMade(line) is { } port)
                return port == tunnel.Port ? new TunnelPortTaken() : ShellProcess.ConfiguredForwardNotMade(Target.Host, port, "send", "--remote-listen");
            if (tunnel.There is { } there && line.Contains("cannot listen on ", StringComparison.Ordinal) && line.Contains($":{there}: address already in use", StringComparison.Ordinal))
                return new TunnelPortTaken();
        }
        return null;
    }

    /// <summary>Starts the receiver there once; through ssh's tunnel where <paramref name="tunnel"/> gives its words and the port here that reaches it.</summary>
    private static async Task<RemoteReceiver> StartOnceAsync(RemoteTarget target, RemoteShell shell, TransferOptions options, (string Parent, string Name)? fileTarget, string host,
        (IReadOnlyList<string> Words, int Port, int? There)? tunnel, Action<string>? log, CancellationToken cancellationToken)
    {
        var started = ShellProcess.Start(ShellProcess.Info(shell, target, RemoteCommand.For(target, shell, options, fileTarget), forward: tunnel?.Words, family: options.AddressFamily), shell);
        var remote = new RemoteReceiver(started, shell, target, tunnel is not null, options.AddressFamily, log);
        var process = started.Process;
        try
        {
            // As long as a retry may wait (--timeout; 0, no retries, waits for ever): time to type a password.
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            if (options.RetryTimeout > TimeSpan.Zero) limit.CancelAfter(options.RetryTimeout);
            string? printed;
            try
            {
                printed = await remote.ReadUrlAsync(limit.Token).ConfigureAwait(false);
                if (printed is null)
                {
                    await process.WaitForExitAsync(limit.Token).ConfigureAwait(false);
                    await remote._errors.ConfigureAwait(false);
                    if (tunnel is { } made && remote.ForwardFailure(made) is { } failure) throw failure;
                    throw remote.NotStarted(shell);
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw remote.NoAnswer(options.RetryTimeout);
            }
            var url = ConnectionUrl.Parse(printed);
            remote.Url = url with { Host = host, Port = tunnel?.Port ?? url.Port, Directory = null };
            if (remote._namesFile) remote.FileName = fileTarget?.Name;
            return remote;
        }
        catch
        {
            // Cancelled, or the shell said something other than a URL: nothing is left to wait for.
            remote.Kill();
            await remote.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>What to report when <see cref="Ended"/> stopped a send: the shell's exit code and the receiver's last words.</summary>
    public SingularityException EndedEarly() => _tunnelRefused is { } refused
        ? new(ErrorCode.ConnectionLost, $"ssh could not carry the lanes to the receiver on {Target.Host}: its server refuses to forward connections ('{refused.Trim()}': AllowTcpForwarding there); let the lanes reach the receiver's port straight (--no-tunnel, and a port let through, given with --remote-listen), or start a 'sglty recv' there yourself")
        :
        new(ErrorCode.ConnectionLost, $"the receiver started on {Target.Host} ended during the send{(Said() is { Length: > 0 } said ? said : ": killed, or its connection dropped")} (exit code {(_shell.Process.HasExited ? _shell.Process.ExitCode : -1)}); the same send again resumes what arrived");

    /// <summary>Closes the receiver's standard input, which ends it, and waits for the shell to end (killing it if it does not).</summary>
    public async ValueTask DisposeAsync()
    {
        _closing = true;
        await _shell.EndAsync().ConfigureAwait(false);
        // A process the shell left behind may hold the pipes: the readers are not waited for beyond the shell's end.
        await Task.WhenAny(Task.WhenAll(_errors, _output), Task.Delay(TimeSpan.FromSeconds(1))).ConfigureAwait(false);
        _shell.Dispose();
        _ended.Dispose();
    }

    private void Kill()
    {
        _closing = true;
        _shell.Kill();
    }

    private async Task EndedAsync()
    {
        await _shell.Process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            if (!_closing) await _ended.CancelAsync().ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
            // Disposed meanwhile: nobody is sending to it any more.
        }
    }

    /// <summary>
    /// The receiver's URL, from the first line of standard output that holds one (a terminal's codes, or a profile's
    /// words without a line end, may come before it on its line); null when the output ends first. What follows is
    /// read and dropped.
    /// </summary>
    private async Task<string?> ReadUrlAsync(CancellationToken cancellationToken)
    {
        var output = _shell.Process.StandardOutput;
        for (int line = 0; line < MostLinesBeforeUrl; line++)
        {
            string? text = await output.ReadLineAsync(cancellationToken).ConfigureAwait(false);
            if (text is null) return null;
            text = text.Trim();
            bool namesFile = text.EndsWith(RemoteCommand.NamesFile, StringComparison.Ordinal);
            _namesFile |= namesFile;
            int at = text.IndexOf(ConnectionUrl.Scheme + "://", StringComparison.Ordinal);
            if (at >= 0)
            {
                _output = output.BaseStream.CopyToAsync(Stream.Null, CancellationToken.None);
                return text[at..];
            }
            // What a login says there on its output (a shell that refuses it) tells why no URL came.
            if (text.Length > 0 && !namesFile) _shell.Keep(text);
        }
        throw new SingularityException(ErrorCode.ConnectionLost, $"{Target.Host} printed {MostLinesBeforeUrl} lines and no receiver's URL{Said()}; check that '{_shell.Words}' runs sglty there");
    }

    /// <summary>
    /// Reads standard error to its end, keeping the last lines and passing on the receiver's warnings: the pipe must
    /// not fill, or the receiver would stop at its next line.
    /// </summary>
    private async Task KeepMessagesAsync()
    {
        try
        {
            while (await _shell.Process.StandardError.ReadLineAsync().ConfigureAwait(false) is { } line)
            {
                _shell.Keep(line);
                // ssh's server refused a lane's channel (at ssh's default log level; quieter, the lanes' own retries end it).
                if (Tunnelled && _tunnelRefused is null && line.Contains("open failed: administratively prohibited", StringComparison.Ordinal))
                {
                    _tunnelRefused = line;
                    try
                    {
                        await _ended.CancelAsync().ConfigureAwait(false);
                    }
                    catch (ObjectDisposedException)
                    {
                        // Disposed meanwhile.
                    }
                }
                if (line.StartsWith(Warning, StringComparison.Ordinal)) _log?.Invoke($"warning from {Target.Host}: {line[Warning.Length..]}");
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            // The process was disposed.
        }
    }

    /// <summary>": " and the last line the shell or sglty there wrote (without sglty's own prefix), but the receiver's own reports of what it serves; empty when there is none.</summary>
    private string Said()
    {
        // Not ssh's note of a host key it learned (at its default log level, on a first login): that is no reason.
        string? last = Messages.LastOrDefault(line => line.Trim().Length > 0 && !line.StartsWith("receiving into ", StringComparison.Ordinal) && !line.StartsWith("session ", StringComparison.Ordinal)
            && !line.StartsWith("Warning: Permanently added ", StringComparison.Ordinal))?.Trim();
        if (last is null) return "";
        if (last.StartsWith("sglty: ", StringComparison.Ordinal)) last = last["sglty: ".Length..];
        if (last.StartsWith("error: ", StringComparison.Ordinal)) last = last["error: ".Length..];
        return $": {last}";
    }

    /// <summary>Why no URL came: the last words of the shell or of sglty there, its exit code, and what to check where they do not say.</summary>
    private SingularityException NotStarted(RemoteShell shell)
    {
        string said = Said();
        int code = _shell.Process.ExitCode;
        // ssh's own failures exit 255; sglty's, mkdir's and the shell's lines say what went wrong there.
        string what = code == 127 && shell.Program is null ? "; install it there (on the PATH of its logins, or at ~/sglty/sglty), or name it with --sglty-path"
            : code == 127 ? "; check --sglty-path"
            : said.Length > 0 && code != 255 ? ""
            : $"; check that '{_shell.Words}' logs in, and that sglty runs there";
        return new SingularityException(Refusal(code), $"could not start a receiver on {Target.Host} through {shell.Command[0]}{(said.Length > 0 ? said : ", which said nothing")} (exit code {code}){what}");
    }

    /// <summary>
    /// What a receiver there that refused to start exited with, as the kind of failure here, so that the send exits as
    /// it would had the receiver refused from here (a path that cannot be used 3, an I/O error 11, as rsync exits for
    /// them however the far side is reached); anything else (ssh's 255, a program not found, 1, the shell's own 2 for a
    /// command it cannot read) is the way there failing.
    /// </summary>
    internal static ErrorCode Refusal(int exitCode) => exitCode switch
    {
        3 => ErrorCode.BadPath,
        5 => ErrorCode.Busy,
        11 => ErrorCode.IoError,
        12 => ErrorCode.ProtocolViolation,
        _ => ErrorCode.ConnectionLost,
    };

    /// <summary>No URL within the time allowed: the shell may be waiting for something that will not come.</summary>
    private SingularityException NoAnswer(TimeSpan waited) =>
        new(ErrorCode.ConnectionLost, $"no receiver started on {Target.Host} within {waited.TotalSeconds:0.#} s{Said()}; check that '{_shell.Words}' logs in and runs sglty there (--timeout waits longer)");
}
