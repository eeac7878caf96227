using System.Diagnostics;

namespace Singularity.Engine;

/// <summary>
/// A remote shell that runs sglty on another machine, for <see cref="RemoteReceiver"/> and <see cref="RemoteSender"/>:
/// the host it reaches, how it starts, the last lines it said (what tells why it failed), and how it is ended.
/// </summary>
internal sealed class ShellProcess : IDisposable
{
    // What a process there that will not end once its input closed is given before the shell is killed.
    private static readonly TimeSpan ExitWait = TimeSpan.FromSeconds(10);
    private const int KeptLines = 20;
    private const int MostLineLength = 2000;
    private readonly Queue<string> _lines = new();

    private ShellProcess(Process process, string words)
    {
        Process = process;
        Words = words;
    }

    public Process Process { get; }

    /// <summary>The shell's words without the command run there, as messages quote what to check.</summary>
    public string Words { get; }

    /// <summary>The last lines kept, oldest first.</summary>
    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_lines) return [.. _lines];
        }
    }

    /// <summary>
    /// The words that start the shell: its own, then [-l USER] HOST and the command, as rsync gives them; ssh is asked
    /// for no terminal (-T), which would put its codes before the URL and keep the input from ending. With
    /// <paramref name="terminalRefused"/>, after the user's words too, so that no -t of theirs asks for one: a terminal
    /// there would echo the input, which carries a token. ssh is also given -4 or -6 for <paramref name="family"/>, and
    /// <paramref name="forward"/>'s words (a tunnel's: <see cref="Forward"/>) before the user's, which it would
    /// otherwise keep, as it keeps the first value it reads of each option.
    /// </summary>
    public static ProcessStartInfo Info(RemoteShell shell, RemoteTarget target, string command, bool terminalRefused = false, IReadOnlyList<string>? forward = null,
        System.Net.Sockets.AddressFamily family = System.Net.Sockets.AddressFamily.Unspecified)
    {
        var info = new ProcessStartInfo(shell.Command[0])
        {
            RedirectStandardInput = true,
            // A token, and a pull's names, as UTF-8 without a byte-order mark whatever this process's locale.
            StandardInputEncoding = new System.Text.UTF8Encoding(false),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // Once: after the user's words where it must come last, else before them, as for the push.
        bool last = terminalRefused && IsSsh(shell) && shell.Command.Count > 1;
        if (IsSsh(shell) && !last) info.ArgumentList.Add("-T");
        // ssh logs in over the family the lanes take.
        if (IsSsh(shell) && family != System.Net.Sockets.AddressFamily.Unspecified) info.ArgumentList.Add(Transport.Families.Option(family));
        // Before the user's words: ssh keeps the first value it reads of an option, and a shared connection of theirs
        // (-o ControlMaster=auto) would keep the forward listening after the send.
        foreach (string word in forward ?? []) info.ArgumentList.Add(word);
        foreach (string word in shell.Command.Skip(1)) info.ArgumentList.Add(word);
        if (last) info.ArgumentList.Add("-T");
        if (target.User is { } user)
        {
            info.ArgumentList.Add("-l");
            info.ArgumentList.Add(user);
        }
        info.ArgumentList.Add(target.Host);
        info.ArgumentList.Add(command);
        return info;
    }

    /// <summary>The shell a caller gave, or ssh by default; one with no command is an <see cref="ArgumentException"/> naming the parameter.</summary>
    public static RemoteShell Given(RemoteShell? shell, string parameter)
    {
        shell ??= new RemoteShell();
        if (shell.Command.Count == 0 || string.IsNullOrWhiteSpace(shell.Command[0]))
            throw new ArgumentException("the remote shell command is empty", parameter);
        return shell;
    }

    /// <summary>Whether the lanes can go through the shell's own connection: ssh's alone.</summary>
    public static bool CanTunnel(RemoteShell shell) => IsSsh(shell);

    /// <summary>Whether lanes that cannot reach the port straight go through ssh's connection instead: ssh's, unless <see cref="RemoteShell.Tunnel"/> says either way.</summary>
    public static bool TunnelsWhereUnreached(RemoteShell shell) => shell.Tunnel is null && IsSsh(shell);

    private static bool IsSsh(RemoteShell shell) => string.Equals(Path.GetFileName(shell.Command[0]), "ssh", StringComparison.Ordinal);

    /// <summary>
    /// The host the lanes connect to: the one given, or for ssh the name its configuration gives that host (ssh -G), so
    /// that an alias of ~/.ssh/config reaches the same machine; the family of addresses: <paramref name="family"/> where
    /// -4 or -6 chose it, else the one that configuration chooses (<see cref="ConfiguredFamily"/>); and whether the lanes go through ssh's connection
    /// (<see cref="RemoteShell.Tunnel"/>; by default where that configuration reaches the host through another, a
    /// ProxyJump, which the lanes could not reach it by). A tunnel asked for through a shell that is
    /// not ssh is an <see cref="SingularityException"/>.
    /// </summary>
    public static async Task<(string Host, bool Tunnel, System.Net.Sockets.AddressFamily Family)> ReachAsync(RemoteTarget target, RemoteShell shell, System.Net.Sockets.AddressFamily family, CancellationToken cancellationToken)
    {
        if (shell.Tunnel == true && !IsSsh(shell))
            throw new SingularityException(ErrorCode.BadPath, $"--tunnel carries the lanes through ssh's own connection, and the remote shell is '{shell.Command[0]}'; give ssh as the remote shell (-e)");
        if (!IsSsh(shell)) return (target.Host, false, family);
        string printed = await ConfigurationAsync(target, shell, cancellationToken).ConfigureAwait(false);
        return (ConfiguredHost(printed) ?? target.Host, shell.Tunnel ?? Jumps(printed), family == System.Net.Sockets.AddressFamily.Unspecified ? ConfiguredFamily(printed) : family);
    }

    /// <summary>
    /// The family of addresses ssh's configuration reaches the host by (AddressFamily inet or inet6), as -4 or -6 would
    /// choose it; unspecified for "any". Its ssh can bind and connect by that family alone, so a tunnel's ends must be of it.
    /// </summary>
    public static System.Net.Sockets.AddressFamily ConfiguredFamily(string printed) => Setting(printed, "addressfamily") switch
    {
        "inet" => System.Net.Sockets.AddressFamily.InterNetwork,
        "inet6" => System.Net.Sockets.AddressFamily.InterNetworkV6,
        _ => System.Net.Sockets.AddressFamily.Unspecified,
    };

    /// <summary>What ssh -G prints of its configuration for the host; empty where it cannot tell.</summary>
    private static async Task<string> ConfigurationAsync(RemoteTarget target, RemoteShell shell, CancellationToken cancellationToken)
    {
        var info = Info(shell with { Command = [.. shell.Command, "-G"] }, target, "true");
        Process? process = null;
        try
        {
            process = Process.Start(info);
            if (process is null) return "";
            process.StandardInput.Close();
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(TimeSpan.FromSeconds(5));
            var errors = process.StandardError.ReadToEndAsync(limit.Token);
            string printed = await process.StandardOutput.ReadToEndAsync(limit.Token).ConfigureAwait(false);
            await errors.ConfigureAwait(false);
            await process.WaitForExitAsync(limit.Token).ConfigureAwait(false);
            return process.ExitCode == 0 ? printed : "";
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException or IOException or OperationCanceledException)
        {
            try
            {
                if (process is { HasExited: false }) process.Kill();
            }
            catch (InvalidOperationException)
            {
                // It ended meanwhile.
            }
            cancellationToken.ThrowIfCancellationRequested();
            return "";
        }
        finally
        {
            process?.Dispose();
        }
    }

    /// <summary>The "hostname" line of what ssh -G prints; null when it has none.</summary>
    public static string? ConfiguredHost(string printed) => Setting(printed, "hostname");

    /// <summary>
    /// Whether what ssh -G prints reaches the host through another: a ProxyJump other than "none". Not a ProxyCommand,
    /// which many systems set for every host to connect straight (FreeIPA's sss_ssh_knownhostsproxy): one that does go
    /// through a bastion leaves the lanes unable to reach the port, and they go through ssh then.
    /// </summary>
    public static bool Jumps(string printed) => Setting(printed, "proxyjump") is { } jump && jump != "none";

    private static string? Setting(string printed, string name)
    {
        foreach (string line in printed.Split('\n'))
            if (line.StartsWith(name + " ", StringComparison.Ordinal) && line[(name.Length + 1)..].Trim() is { Length: > 0 } value)
                return value;
        return null;
    }

    /// <summary>
    /// The words that ask ssh to carry connections to <paramref name="to"/> through its own: <paramref name="direction"/>
    /// -L from <paramref name="from"/> here to <paramref name="to"/> there, or -R from <paramref name="from"/> there to
    /// <paramref name="to"/> here, both on loopback; ssh ends at once where it cannot, before the command runs. Through a
    /// connection of its own, not one shared with others (ControlMaster), which would keep the forward listening after
    /// this ssh ended; and whatever its configuration says of forwards (ClearAllForwardings).
    /// </summary>
    public static IReadOnlyList<string> Forward(string direction, int from, int to, System.Net.Sockets.AddressFamily family = System.Net.Sockets.AddressFamily.Unspecified) =>
        ["-o", "ExitOnForwardFailure=yes", "-o", "ClearAllForwardings=no", "-o", "ControlMaster=no", "-o", "ControlPath=none", direction,
            $"{ConnectionUrl.Endpoint(Transport.Families.Loopback(family).ToString(), from)}:{ConnectionUrl.Endpoint(Transport.Families.Loopback(family).ToString(), to)}"];

    /// <summary>
    /// The port of a forward ssh could not make, from what it said (where it ran nothing, under ExitOnForwardFailure),
    /// or null: one of the tunnel's, or one its configuration asks for (LocalForward, RemoteForward) whose port is taken.
    /// </summary>
    public static int? ForwardNotMade(string said)
    {
        foreach (string marker in new[] { "cannot listen to port: ", "remote port forwarding failed for listen port " })
            if (said.IndexOf(marker, StringComparison.Ordinal) is >= 0 and var at
                && int.TryParse(said.AsSpan(at + marker.Length).TrimEnd().TrimEnd('.'), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int port))
                return port;
        return null;
    }

    /// <summary>
    /// A forward of ssh's own configuration (LocalForward, RemoteForward) that ssh could not make, its port taken: under
    /// ExitOnForwardFailure it then makes no tunnel either. Told for a <paramref name="what"/> ("send", "pull") with the
    /// option that gives it a port let through instead.
    /// </summary>
    public static SingularityException ConfiguredForwardNotMade(string host, int port, string what, string portOption) =>
        new(ErrorCode.ConnectionLost, $"ssh could not make a forward its configuration names for {host} (port {port}: taken, perhaps by another ssh to it), and makes no tunnel for the lanes without it; free that port, or {what} with --no-tunnel and a port let through ({portOption})");

    /// <summary>A port for the far end of a tunnel, which only that machine can tell is free: one chosen at random among those few services use.</summary>
    public static int PortThere() => Random.Shared.Next(20_000, 32_768);

    /// <summary>A port free here on loopback now, for the near end of a tunnel that ssh listens on.</summary>
    public static int FreePortHere(System.Net.Sockets.AddressFamily family = System.Net.Sockets.AddressFamily.Unspecified)
    {
        var loopback = Transport.Families.Loopback(family);
        using var probe = new System.Net.Sockets.Socket(loopback.AddressFamily, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        probe.Bind(new System.Net.IPEndPoint(loopback, 0));
        return ((System.Net.IPEndPoint)probe.LocalEndPoint!).Port;
    }

    /// <summary>Starts <paramref name="info"/>; a shell that cannot run is a <see cref="SingularityException"/> that says what to do.</summary>
    public static ShellProcess Start(ProcessStartInfo info, RemoteShell shell)
    {
        try
        {
            var process = Process.Start(info) ?? throw new InvalidOperationException("no process");
            return new ShellProcess(process, string.Join(' ', info.ArgumentList.SkipLast(1).Prepend(info.FileName)));
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            throw new SingularityException(ErrorCode.ConnectionLost, $"cannot run the remote shell '{shell.Command[0]}': {ex.Message}; install it, or name another with -e");
        }
    }

    /// <summary>Keeps <paramref name="line"/> among the last ones, cut to a length a message can quote.</summary>
    public void Keep(string line)
    {
        lock (_lines)
        {
            _lines.Enqueue(line.Length > MostLineLength ? line[..MostLineLength] : line);
            if (_lines.Count > KeptLines) _lines.Dequeue();
        }
    }

    /// <summary>Closes the shell's input, which ends what it runs there, and waits for the shell to end (killing it if it does not).</summary>
    public async Task EndAsync()
    {
        try
        {
            Process.StandardInput.Close();
        }
        catch (IOException)
        {
            // It has ended already.
        }
        using var wait = new CancellationTokenSource(ExitWait);
        try
        {
            await Process.WaitForExitAsync(wait.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Kill();
            await Process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    public void Kill()
    {
        try
        {
            Process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // It has ended.
        }
    }

    public void Dispose() => Process.Dispose();
}
