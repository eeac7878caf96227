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
    // What a receiver that will not end by itself once its input closed is given before it is killed.
    private static readonly TimeSpan ExitWait = TimeSpan.FromSeconds(10);
    private const int KeptMessages = 20;
    private const int MostMessageLength = 2000;
    // Lines a login's profile may print before the URL (a message of the day).
    private const int MostLinesBeforeUrl = 1000;

    private readonly Process _process;
    private readonly Queue<string> _messages = new();
    private readonly Task _errors;
    private Task _output = Task.CompletedTask;
    private bool _namesFile;

    private RemoteReceiver(Process process, RemoteTarget target)
    {
        _process = process;
        Target = target;
        _errors = KeepMessagesAsync();
    }

    /// <summary>Where the receiver was started.</summary>
    public RemoteTarget Target { get; }

    /// <summary>The receiver's URL, with the host this machine reaches it by and its token: what to send to.</summary>
    public ConnectionUrl Url { get; private set; } = null!;

    /// <summary>The last lines the receiver, or the shell, wrote to standard error: what it said of its sessions, or why it did not start.</summary>
    public IReadOnlyList<string> Messages
    {
        get
        {
            lock (_messages) return [.. _messages];
        }
    }

    /// <summary>
    /// Where a send of one file to a target that is not a directory there gives it the target's name, as scp and rsync
    /// do (<c>db.dump web1:db-1206.dump</c>): pass it as <see cref="TransferOptions.FileName"/>. Null where the
    /// target is a directory, which the sources go into.
    /// </summary>
    public string? FileName { get; private set; }

    /// <summary>
    /// Runs <c>sglty recv</c> in <see cref="RemoteTarget.Directory"/> on <see cref="RemoteTarget.Host"/> through
    /// <paramref name="shell"/>, for a send of <paramref name="paths"/>, and returns once it printed its URL. Its
    /// options follow <paramref name="options"/> where a send needs them there: plaintext accepted for
    /// <see cref="CipherSuite.None"/>, devices made for <see cref="TransferOptions.Devices"/>, the same congestion
    /// control. One file sent to a target that is not a directory there takes its name (<see cref="FileName"/>). A
    /// shell that cannot run, or a receiver that does not start, is a <see cref="SingularityException"/> that quotes
    /// what it said.
    /// </summary>
    public static async Task<RemoteReceiver> StartAsync(RemoteTarget target, IReadOnlyList<string> paths, RemoteShell? shell = null, TransferOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(paths);
        shell ??= new RemoteShell();
        options ??= new TransferOptions();
        if (shell.Command.Count == 0 || string.IsNullOrWhiteSpace(shell.Command[0]))
            throw new ArgumentException("the remote shell command is empty", nameof(shell));
        string host = await HostToReachAsync(target, shell, cancellationToken).ConfigureAwait(false);
        var fileTarget = FileTarget(target, paths, options);
        var info = ShellStart(shell, target, RemoteCommand(target, shell, options, fileTarget));
        Process process;
        try
        {
            process = Process.Start(info) ?? throw new InvalidOperationException("no process");
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            throw new SingularityException(ErrorCode.ConnectionLost, $"cannot run the remote shell '{shell.Command[0]}': {ex.Message}; install it, or name another with -e");
        }
        var remote = new RemoteReceiver(process, target);
        try
        {
            string? printed = await remote.ReadUrlAsync(cancellationToken).ConfigureAwait(false);
            if (printed is null)
            {
                await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
                await remote._errors.ConfigureAwait(false);
                throw remote.NotStarted(shell);
            }
            remote.Url = ConnectionUrl.Parse(printed) with { Host = host, Directory = null };
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

    /// <summary>Closes the receiver's standard input, which ends it, and waits for the shell to end (killing it if it does not).</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            _process.StandardInput.Close();
        }
        catch (IOException)
        {
            // It has ended already.
        }
        using (var wait = new CancellationTokenSource(ExitWait))
        {
            try
            {
                await _process.WaitForExitAsync(wait.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                Kill();
                await _process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            }
        }
        // A process the shell left behind may hold the pipes: the readers are not waited for beyond the shell's end.
        await Task.WhenAny(Task.WhenAll(_errors, _output), Task.Delay(TimeSpan.FromSeconds(1))).ConfigureAwait(false);
        _process.Dispose();
    }

    private void Kill()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // It has ended.
        }
    }

    /// <summary>The words that start the shell: its own, then [-l USER] HOST and the command, as rsync gives them.</summary>
    internal static ProcessStartInfo ShellStart(RemoteShell shell, RemoteTarget target, string command)
    {
        var info = new ProcessStartInfo(shell.Command[0])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string word in shell.Command.Skip(1)) info.ArgumentList.Add(word);
        if (target.User is { } user)
        {
            info.ArgumentList.Add("-l");
            info.ArgumentList.Add(user);
        }
        info.ArgumentList.Add(target.Host);
        info.ArgumentList.Add(command);
        return info;
    }

    /// <summary>
    /// The command line the remote machine's shell runs: sglty recv, serving until its input closes, in the target's
    /// directory, each word quoted for a POSIX shell (ssh hands the line to the login's shell, which splits it again).
    /// With <paramref name="fileName"/>, a directory that is not there names the file, and the receiver serves the
    /// directory above it, saying so on a line before its URL.
    /// </summary>
    internal static string RemoteCommand(RemoteTarget target, RemoteShell shell, TransferOptions options, (string Parent, string Name)? fileName = null)
    {
        var words = new List<string> { "recv", "--until-stdin-closes", "--listen=" + shell.Listen };
        if (options.Cipher == CipherSuite.None) words.Add("--encrypt=none");
        if (options.Devices) words.Add("--devices");
        if (options.CongestionControl is { } congestion) words.Add("--congestion=" + congestion);
        // The program is the user's own words, as rsync's --rsync-path ("sudo sglty"); without one, sglty on the PATH
        // of a login there, else where the README builds it.
        string find = shell.Program is null
            ? "p=$(command -v sglty) || p=\"$HOME/sglty/sglty\"; [ -x \"$p\" ] || { echo \"sglty: not found on the PATH of a login here, nor at ~/sglty/sglty\" >&2; exit 127; }; "
            : "";
        string run = $"{shell.Program ?? "\"$p\""} \"$@\" \"--dir=$d\"";
        // A directory that is not there is made as mkdir -p makes it (the login's umask), as rsync makes its
        // destination, not private as recv makes its own; a file there is left for recv to refuse in its words. A dry run makes nothing: one into a directory not there
        // runs in an empty one of its own, which finds everything new, as it would be.
        string serve = options.DryRun
            ? $"if [ -d \"$d\" ]; then exec {run}; fi; d=$(mktemp -d) || exit 1; {run}; c=$?; rm -rf -- \"$d\"; exit $c"
            : $"[ -e \"$d\" ] || mkdir -p -- \"$d\" || exit 1; exec {run}";
        string script = fileName is null
            ? $"d=$1; shift; {find}{serve}"
            : $"d=$1; f=$2; shift 2; if [ ! -d \"$d\" ]; then d=$f; echo {NamesFile}; fi; {find}{serve}";
        var arguments = new List<string> { "sh", "-c", script, "sglty", DirectoryThere(target.Directory) };
        if (fileName is { } named) arguments.Add(named.Parent);
        return string.Join(' ', arguments.Concat(words).Select(Quoted));
    }

    // What the command prints when the target names a file, before the receiver prints its URL.
    private const string NamesFile = "sglty-names-a-file";

    /// <summary>
    /// Where a send of one file may give it the target's name, as scp and rsync do when the target is not a directory:
    /// the directory above the target, and the name; null where the target must be a directory (more than one source,
    /// a directory, --relative, or a target that ends in '/').
    /// </summary>
    internal static (string Parent, string Name)? FileTarget(RemoteTarget target, IReadOnlyList<string> paths, TransferOptions options)
    {
        if (paths is not [var path] || options.Relative || SourceScanner.ContentsOnly(path) || Directory.Exists(path) || !File.Exists(path)) return null;
        string there = DirectoryThere(target.Directory);
        int slash = there.LastIndexOf('/');
        string name = there[(slash + 1)..];
        if (name is "" or "." or "..") return null;
        return (slash < 0 ? "." : slash == 0 ? "/" : there[..slash], name);
    }

    /// <summary>The directory as recv takes it there: relative to the login's home, which is where a remote shell starts.</summary>
    private static string DirectoryThere(string directory) => directory switch
    {
        "" or "~" or "~/" => ".",
        _ when directory.StartsWith("~/", StringComparison.Ordinal) => directory[2..],
        _ => directory,
    };

    /// <summary>A word as a POSIX shell reads it back: as it is when it holds nothing the shell treats apart, else in single quotes.</summary>
    internal static string Quoted(string word) =>
        word.Length > 0 && word.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '=' or '.' or '/' or ':' or ',' or '+' or '@')
            ? word
            : "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    /// <summary>
    /// The host the lanes connect to: the one given, or for ssh the name its configuration gives that host (ssh -G), so
    /// that an alias of ~/.ssh/config reaches the same machine.
    /// </summary>
    private static async Task<string> HostToReachAsync(RemoteTarget target, RemoteShell shell, CancellationToken cancellationToken)
    {
        if (!string.Equals(Path.GetFileName(shell.Command[0]), "ssh", StringComparison.Ordinal)) return target.Host;
        var info = ShellStart(shell with { Command = [.. shell.Command, "-G"] }, target, "true");
        try
        {
            using var process = Process.Start(info);
            if (process is null) return target.Host;
            process.StandardInput.Close();
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(TimeSpan.FromSeconds(5));
            var errors = process.StandardError.ReadToEndAsync(limit.Token);
            string printed = await process.StandardOutput.ReadToEndAsync(limit.Token).ConfigureAwait(false);
            await errors.ConfigureAwait(false);
            await process.WaitForExitAsync(limit.Token).ConfigureAwait(false);
            return process.ExitCode == 0 && ConfiguredHost(printed) is { } configured ? configured : target.Host;
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException or IOException or OperationCanceledException)
        {
            cancellationToken.ThrowIfCancellationRequested();
            return target.Host;
        }
    }

    /// <summary>The "hostname" line of what ssh -G prints; null when it has none.</summary>
    internal static string? ConfiguredHost(string printed)
    {
        foreach (string line in printed.Split('\n'))
            if (line.StartsWith("hostname ", StringComparison.Ordinal) && line[9..].Trim() is { Length: > 0 } name)
                return name;
        return null;
    }

    /// <summary>The first line of standard output that is a URL; null when the output ends first. What follows is read and dropped.</summary>
    private async Task<string?> ReadUrlAsync(CancellationToken cancellationToken)
    {
        var output = _process.StandardOutput;
        for (int line = 0; line < MostLinesBeforeUrl; line++)
        {
            string? text = await output.ReadLineAsync(cancellationToken).ConfigureAwait(false);
            if (text is null) return null;
            if (text == NamesFile) _namesFile = true;
            if (!text.StartsWith(ConnectionUrl.Scheme + "://", StringComparison.Ordinal)) continue;
            _output = output.BaseStream.CopyToAsync(Stream.Null, CancellationToken.None);
            return text.Trim();
        }
        return null;
    }

    /// <summary>Reads standard error to its end, keeping the last lines: the pipe must not fill, or the receiver would stop at its next line.</summary>
    private async Task KeepMessagesAsync()
    {
        try
        {
            while (await _process.StandardError.ReadLineAsync().ConfigureAwait(false) is { } line)
            {
                lock (_messages)
                {
                    _messages.Enqueue(line.Length > MostMessageLength ? line[..MostMessageLength] : line);
                    if (_messages.Count > KeptMessages) _messages.Dequeue();
                }
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            // The process was disposed.
        }
    }

    /// <summary>Why no URL came: the last words of the shell or of sglty there (without sglty's own prefix), its exit code, and what to check where they do not say.</summary>
    private SingularityException NotStarted(RemoteShell shell)
    {
        string? last = Messages.LastOrDefault(line => line.Trim().Length > 0)?.Trim();
        if (last?.StartsWith("sglty: ", StringComparison.Ordinal) == true) last = last!["sglty: ".Length..] is var rest && rest.StartsWith("error: ", StringComparison.Ordinal) ? rest["error: ".Length..] : rest;
        // ssh's own failures exit 255; sglty's and mkdir's lines say what went wrong there.
        string what = shell.Program is null && _process.ExitCode == 127
            ? "; install sglty there (on the PATH of its logins, or at ~/sglty/sglty), or name it with --sglty-path"
            : last is not null && _process.ExitCode != 255 ? "" : $"; check that '{shell.Command[0]} {Target.Host}' logs in, and that sglty runs there";
        return new SingularityException(ErrorCode.ConnectionLost, $"could not start a receiver on {Target.Host} through {shell.Command[0]}: {last ?? "it said nothing"} (exit code {_process.ExitCode}){what}");
    }
}
