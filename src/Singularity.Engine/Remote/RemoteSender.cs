using System.Diagnostics;
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
    // What a send there that will not end once its input closed is given before its shell is killed.
    private static readonly TimeSpan ExitWait = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Runs <c>sglty send</c> on <paramref name="source"/>'s host through <paramref name="shell"/>, sending
    /// <paramref name="paths"/> (there, relative to the login's home unless absolute) to <paramref name="target"/> here,
    /// with <paramref name="sendWords"/> as its options (they must not name the receiver or its token). As scp and
    /// rsync take a target: an existing directory receives them; one file sent to any other name (not ending in '/')
    /// takes that name, in the directory above it, over a file that stands there; anything else goes into a directory
    /// of that name, made with only its last part (every part with <see cref="RemoteShell.MakePath"/>). A dry run
    /// makes nothing here. The receiver
    /// here follows <paramref name="options"/> where a send needs it to: plaintext accepted for
    /// <see cref="CipherSuite.None"/>, devices made for <see cref="TransferOptions.Devices"/>, the same congestion
    /// control. What the send there prints goes to <paramref name="output"/> and <paramref name="errors"/>, a line
    /// each; what the receiver here could not write or delete, to <paramref name="errors"/>. Returns the send's exit
    /// code; a target that cannot take the send, a shell that cannot run or log in, or a sglty not found there is a
    /// <see cref="SingularityException"/>. Cancelling ends the send there, and throws
    /// <see cref="OperationCanceledException"/>.
    /// </summary>
    public static async Task<int> RunAsync(RemoteTarget source, IReadOnlyList<string> paths, string target, IReadOnlyList<string> sendWords, RemoteShell? shell = null, TransferOptions? options = null,
        Action<string>? output = null, Action<string>? errors = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(sendWords);
        shell ??= new RemoteShell();
        options ??= new TransferOptions();
        if (shell.Command.Count == 0 || string.IsNullOrWhiteSpace(shell.Command[0]))
            throw new ArgumentException("the remote shell command is empty", nameof(shell));
        var (directory, fileName, standIn) = Prepare(target, paths, shell.MakePath, options);
        try
        {
            return await RunAsync(source, paths, directory, fileName, sendWords, shell, options, output, errors, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (standIn is not null) System.IO.Directory.Delete(standIn, recursive: true);
        }
    }

    /// <summary>
    /// The directory here the receiver serves, the name the one file sent takes there (null: the sources go into the
    /// directory), and an empty directory of a dry run's own that stands in for one not there, to remove afterwards.
    /// </summary>
    private static (string Directory, string? FileName, string? StandIn) Prepare(string target, IReadOnlyList<string> paths, bool makePath, TransferOptions options)
    {
        if (System.IO.Directory.Exists(target)) return (target, null, null);
        string full = Path.GetFullPath(target);
        string above = Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(full)) ?? "/";
        string name = Path.GetFileName(full);
        // A file there is written over, as scp and rsync write over it, but only by one file.
        bool namesFile = paths is [var only] && !options.Relative && !SourceScanner.ContentsOnly(only) && name is not ("" or "." or "..");
        if (!namesFile && (Path.Exists(target) || new FileInfo(target).LinkTarget is not null))
            throw new SingularityException(ErrorCode.BadPath, $"'{target}' is not a directory: a pull of more than one path, or of a directory's contents, goes into one");
        if (!makePath && !System.IO.Directory.Exists(above))
            throw new SingularityException(ErrorCode.BadPath, $"'{above}' is not there; make it first, or pull with --mkpath");
        string made = namesFile ? above : full;
        if (options.DryRun && !System.IO.Directory.Exists(made))
        {
            string standIn = System.IO.Directory.CreateTempSubdirectory("sglty-dry-run-").FullName;
            return (standIn, namesFile ? name : null, standIn);
        }
        System.IO.Directory.CreateDirectory(made);
        return (made, namesFile ? name : null, null);
    }

    private static async Task<int> RunAsync(RemoteTarget source, IReadOnlyList<string> paths, string directory, string? fileName, IReadOnlyList<string> sendWords, RemoteShell shell, TransferOptions options,
        Action<string>? output, Action<string>? errors, CancellationToken cancellationToken)
    {
        string host = await RemoteReceiver.HostToReachAsync(source, shell, cancellationToken).ConfigureAwait(false);
        var address = await AddressTowardAsync(host, cancellationToken).ConfigureAwait(false);
        await using var receiver = SingularityReceiver.Start(new ReceiverOptions
        {
            Directory = directory,
            Listen = new IPEndPoint(address, 0),
            Token = SessionToken.Generate(),
            Transfer = new TransferOptions
            {
                Cipher = options.Cipher == CipherSuite.None ? CipherSuite.None : CipherSuite.Aes256Gcm,
                CongestionControl = options.CongestionControl,
            },
            MakeDevices = options.Devices,
        });
        receiver.SessionCompleted += result =>
        {
            foreach (string failure in result.WriteFailures) errors?.Invoke($"here: {failure}");
            foreach (string failure in result.DeletionFailures) errors?.Invoke($"here: could not delete {failure}");
        };
        using var stop = new CancellationTokenSource();
        var serving = receiver.RunAsync(stop.Token);
        var url = receiver.Url with { Host = address.ToString(), Token = null };
        var info = RemoteReceiver.ShellStart(shell, source, RemoteCommand.ForSend(shell, url, sendWords, paths, fileName));
        Process process;
        try
        {
            process = Process.Start(info) ?? throw new InvalidOperationException("no process");
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            throw new SingularityException(ErrorCode.ConnectionLost, $"cannot run the remote shell '{shell.Command[0]}': {ex.Message}; install it, or name another with -e");
        }
        using (process)
        {
            var lines = new List<string>();
            var printed = PassOnAsync(process.StandardOutput, line => output?.Invoke(line));
            var said = PassOnAsync(process.StandardError, line =>
            {
                lock (lines)
                {
                    lines.Add(line);
                    if (lines.Count > 20) lines.RemoveAt(0);
                }
                errors?.Invoke(line);
            });
            try
            {
                // The token, then nothing: the send there reads the first line, then waits for the input's end.
                await process.StandardInput.WriteLineAsync(receiver.Url.Token.AsMemory(), CancellationToken.None).ConfigureAwait(false);
                await process.StandardInput.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException)
            {
                // Cancelled, or the shell ended before it took the token: its input closes, which ends the send there.
            }
            finally
            {
                await EndAsync(process).ConfigureAwait(false);
                await Task.WhenAny(Task.WhenAll(printed, said), Task.Delay(TimeSpan.FromSeconds(1))).ConfigureAwait(false);
                await stop.CancelAsync().ConfigureAwait(false);
                await serving.ConfigureAwait(false);
            }
            // Ended here: ssh itself may have taken the same Ctrl-C and ended with its own code.
            cancellationToken.ThrowIfCancellationRequested();
            int code = process.ExitCode;
            string last;
            lock (lines) last = lines.LastOrDefault(line => line.Trim().Length > 0)?.Trim() ?? "";
            if (last.Contains("unknown option '--until-stdin-closes'", StringComparison.Ordinal))
                throw new SingularityException(ErrorCode.ConnectionLost, $"the sglty on {source.Host} is older than this one, and cannot be pulled from; update it there, or run the send there to a 'sglty recv' here");
            string shellWords = string.Join(' ', info.ArgumentList.SkipLast(1).Prepend(info.FileName));
            // ssh's own failures exit 255, and a command not found 127; sglty's own lines there say what else went wrong.
            if (code == 127 && !last.StartsWith("sglty: error", StringComparison.Ordinal))
                throw new SingularityException(ErrorCode.ConnectionLost, $"could not start sglty on {source.Host}{(shell.Program is null ? "; install it there (on the PATH of its logins, or at ~/sglty/sglty), or name it with --sglty-path" : "; check --sglty-path")}");
            if (code == 255 && !last.StartsWith("sglty: ", StringComparison.Ordinal))
                throw new SingularityException(ErrorCode.ConnectionLost, $"could not run the send on {source.Host} through {shell.Command[0]} (exit code 255); check that '{shellWords}' logs in");
            return code;
        }
    }

    /// <summary>Closes the shell's input, which ends the send there, and waits for the shell to end (killing it if it does not).</summary>
    private static async Task EndAsync(Process process)
    {
        try
        {
            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // It has ended already.
        }
        using var wait = new CancellationTokenSource(ExitWait);
        try
        {
            await process.WaitForExitAsync(wait.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // It ended meanwhile.
            }
            await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
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
    /// it (a datagram socket's connect sends nothing): where the lanes from there are to connect.
    /// </summary>
    internal static async Task<IPAddress> AddressTowardAsync(string host, CancellationToken cancellationToken)
    {
        IPAddress[] addresses;
        try
        {
            addresses = IPAddress.TryParse(host, out var given) ? [given] : await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException ex)
        {
            throw new SingularityException(ErrorCode.ConnectionLost, $"cannot look up {host} here ({ex.Message}), so its sender could not be told where to connect: a pull needs {host} to reach this machine; run the send there with 'sglty recv' here");
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
        throw new SingularityException(ErrorCode.ConnectionLost, $"no route from here to {host}, so its sender could not connect back to this machine");
    }
}
