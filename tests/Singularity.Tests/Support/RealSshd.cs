using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Singularity.Tests.Support;

/// <summary>
/// A real OpenSSH server on a free port of the loopback, for this machine's root alone, with keys of its own, and a
/// client configuration that reaches it by the name "direct", and by the name "behind" through itself as a jump host
/// (ProxyJump), as a host behind a bastion is reached, sharing connections as many users' do (ControlMaster, kept
/// two seconds after its last user); one that refuses to forward connections where asked. <see cref="Ssh"/> is a program named ssh that writes the words it
/// is given to <see cref="Words"/>, then runs the real one with that configuration. Null where this machine has no
/// sshd, or the tests do not run as root (sshd serves no other user's logins here).
/// </summary>
public sealed class RealSshd : IDisposable
{
    private readonly Process _server;

    private TcpListenerOf? _busy;
    private readonly string _client;
    private readonly string _clientConfig;

    private RealSshd(Process server, string ssh, string words, string client, string clientConfig)
    {
        _server = server;
        _client = client;
        _clientConfig = clientConfig;
        Ssh = ssh;
        Words = words;
    }

    /// <summary>The remote shell to give -e: the recording ssh with the configuration.</summary>
    public string Ssh { get; }

    /// <summary>Where each run of <see cref="Ssh"/> writes its words, one line a run.</summary>
    public string Words { get; }

    /// <summary>What runs sglty there: the build beside the tests, by the dotnet that runs them (a login's PATH may lack it).</summary>
    public static string Sglty => $"{Dotnet()} {Path.Combine(AppContext.BaseDirectory, "sglty.dll")}";

    public static async Task<RealSshd?> StartAsync(TempDirectory temp, bool forwards = true)
    {
        const string Server = "/usr/sbin/sshd";
        if (!OperatingSystem.IsLinux()) return null;
        if (!Environment.IsPrivilegedProcess || !File.Exists(Server) || Which("ssh") is not { } client || Which("ssh-keygen") is not { } keygen)
            return null;
        string home = temp.Sub("sshd");
        foreach (string key in new[] { "host", "user" })
        {
            using var made = Process.Start(keygen, ["-q", "-t", "ed25519", "-N", "", "-f", Path.Combine(home, key)]);
            await made.WaitForExitAsync();
            if (made.ExitCode != 0) return null;
        }
        int port = FreePort();
        // A port held busy, which the alias "forwarding" asks ssh to forward from.
        var busy = new TcpListenerOf();
        string config = Path.Combine(home, "sshd_config");
        File.WriteAllText(config, $"""
            Port {port}
            ListenAddress 127.0.0.1
            ListenAddress ::1
            HostKey {home}/host
            PidFile {home}/pid
            AuthorizedKeysFile {home}/user.pub
            StrictModes no
            PermitRootLogin prohibit-password
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            UsePAM no
            AllowTcpForwarding {(forwards ? "yes" : "no")}

            """);
        // Where sshd separates its privileges; a system's own sshd makes it at start.
        Directory.CreateDirectory("/run/sshd");
        var server = Process.Start(new ProcessStartInfo(Server, ["-D", "-e", "-f", config]) { RedirectStandardError = true, UseShellExecute = false })!;
        _ = server.StandardError.ReadToEndAsync();
        string clientConfig = Path.Combine(home, "ssh_config");
        File.WriteAllText(clientConfig, $"""
            Host behind
              HostName 127.0.0.1
              ProxyJump root@direct
            Host direct
              HostName 127.0.0.1
            Host direct6
              HostName ::1
            Host only6
              HostName ::1
              AddressFamily inet6
            Host forwarding
              HostName 127.0.0.1
              LocalForward 127.0.0.1:{busy.Port} 127.0.0.1:9
            Host *
              ControlMaster auto
              ControlPath {home}/cm-%C
              ControlPersist 2
              Port {port}
              IdentityFile {home}/user
              IdentitiesOnly yes
              BatchMode yes
              StrictHostKeyChecking no
              UserKnownHostsFile /dev/null
              LogLevel ERROR

            """);
        string words = Path.Combine(home, "words");
        string ssh = Path.Combine(temp.Sub("sshd/bin"), "ssh");
        File.WriteAllText(ssh, $"#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{words}'\nexec {client} -F '{clientConfig}' \"$@\"\n");
        File.SetUnixFileMode(ssh, (UnixFileMode)0b111_101_101);
        var sshd = new RealSshd(server, ssh, words, client, clientConfig) { _busy = busy };
        // It listens within a moment.
        for (int i = 0; i < 100; i++)
        {
            using var probe = new Socket(SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await probe.ConnectAsync(IPAddress.Loopback, port);
                return sshd;
            }
            catch (SocketException)
            {
                if (server.HasExited) break;
                await Task.Delay(100);
            }
        }
        sshd.Dispose();
        return null;
    }

    /// <summary>The lines <see cref="Ssh"/> was run with, and forgets them.</summary>
    public string[] TakeWords()
    {
        if (!File.Exists(Words)) return [];
        string[] lines = File.ReadAllLines(Words);
        File.Delete(Words);
        return lines;
    }

    public void Dispose()
    {
        // A shared connection ends with its server, but not before a moment; asked, at once.
        foreach (string host in new[] { "direct", "behind" })
        {
            using var exit = Process.Start(new ProcessStartInfo(_client, ["-F", _clientConfig, "-O", "exit", host]) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false });
            exit?.WaitForExit(5000);
        }
        try
        {
            _server.Kill(entireProcessTree: true);
            _server.WaitForExit();
        }
        catch (InvalidOperationException)
        {
            // It ended.
        }
        _server.Dispose();
        _busy?.Dispose();
    }

    /// <summary>The port the alias "forwarding" forwards from, which is held busy here, as another ssh to that host may hold it.</summary>
    public int BusyPort => _busy!.Port;

    /// <summary>A listener on a free port of the loopback, held until disposed.</summary>
    private sealed class TcpListenerOf : IDisposable
    {
        private readonly Socket _socket = new(SocketType.Stream, ProtocolType.Tcp);

        public TcpListenerOf()
        {
            _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            _socket.Listen();
        }

        public int Port => ((IPEndPoint)_socket.LocalEndPoint!).Port;

        public void Dispose() => _socket.Dispose();
    }

    private static int FreePort()
    {
        using var probe = new Socket(SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    private static string Dotnet() => Environment.ProcessPath is { } running && Path.GetFileNameWithoutExtension(running) == "dotnet" ? running : Which("dotnet") ?? "dotnet";

    private static string? Which(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).Select(directory => Path.Combine(directory, program)).FirstOrDefault(File.Exists);
}
