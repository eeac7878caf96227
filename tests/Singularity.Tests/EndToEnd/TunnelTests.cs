using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// Through a real OpenSSH server: a host reached through a jump host (ProxyJump) is reached by the lanes through ssh's
/// own connection, pushed to (ssh -L) and pulled from (ssh -R), as scp reaches it; --tunnel and --no-tunnel choose.
/// </summary>
public sealed class TunnelTests
{
    [SkippableFact]
    public async Task A_host_behind_a_jump_host_is_pushed_to_and_pulled_from_through_ssh()
    {
        using var temp = new TempDirectory();
        var (sshd, tree, shell) = await StartAsync(temp);
        using var server = sshd;

        // Pushed: its configuration names a jump host, so the lanes go through ssh, to the receiver's loopback there.
        string pushed = temp.Sub("pushed");
        var (exit, _, error) = await SgltyProcess.RunAsync(["send", tree, $"root@behind:{pushed}", .. shell]);
        Assert.True(exit == 0, error);
        TestFiles.AssertSameTree(tree, Path.Combine(pushed, "tree"));
        string started = Assert.Single(sshd.TakeWords(), line => !line.Contains(" -G ", StringComparison.Ordinal));
        var forward = System.Text.RegularExpressions.Regex.Match(started, @"-o ExitOnForwardFailure=yes .*-L 127\.0\.0\.1:([0-9]+):127\.0\.0\.1:[0-9]+ -l root behind ");
        Assert.True(forward.Success, started);
        Assert.Contains("--listen=127.0.0.1:", started);
        // The lanes see only the hop to ssh, and are not fitted to it as to a local path.
        Assert.Contains("sglty: behind is reached through a jump host: the lanes go through ssh's connection", error);
        Assert.DoesNotContain("a local path", error);
        // Through a connection of its own: a shared one (ControlMaster) would listen on after the send.
        await AssertNothingListensAsync(int.Parse(forward.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));

        // Pulled: the send there connects to its own loopback, which ssh carries back here.
        string pulled = Path.Combine(temp.Path, "pulled");
        (exit, _, error) = await SgltyProcess.RunAsync(["send", $"root@behind:{tree}", pulled, .. shell]);
        Assert.True(exit == 0, error);
        TestFiles.AssertSameTree(tree, Path.Combine(pulled, "tree"));
        started = Assert.Single(sshd.TakeWords(), line => !line.Contains(" -G ", StringComparison.Ordinal));
        forward = System.Text.RegularExpressions.Regex.Match(started, @"-o ExitOnForwardFailure=yes .*-R 127\.0\.0\.1:([0-9]+):127\.0\.0\.1:[0-9]+ -l root behind ");
        Assert.True(forward.Success, started);
        Assert.Contains("--to=sglty://127.0.0.1:", started);
        Assert.Contains("behind is reached through a jump host: the lanes come through ssh's connection", error);
        Assert.DoesNotContain("a local path", error);
        await AssertNothingListensAsync(int.Parse(forward.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));

        // --no-tunnel goes straight to the host's port (here as reachable), and --tunnel through ssh where it need not.
        TestFiles.Create(Path.Combine(tree, "sub", "new.txt"), 20, seed: 3);
        (exit, _, error) = await SgltyProcess.RunAsync(["send", "--no-tunnel", tree, $"root@behind:{pushed}", .. shell]);
        Assert.True(exit == 0, error);
        TestFiles.AssertSameTree(tree, Path.Combine(pushed, "tree"));
        Assert.DoesNotContain(sshd.TakeWords(), line => line.Contains("ExitOnForwardFailure", StringComparison.Ordinal));
        TestFiles.Create(Path.Combine(tree, "sub", "newer.txt"), 30, seed: 4);
        (exit, _, error) = await SgltyProcess.RunAsync(["send", "--tunnel", $"root@direct:{tree}", pulled, .. shell]);
        Assert.True(exit == 0, error);
        TestFiles.AssertSameTree(tree, Path.Combine(pulled, "tree"));
        Assert.Contains(sshd.TakeWords(), line => line.Contains(" -R 127.0.0.1:", StringComparison.Ordinal));
    }

    /// <summary>
    /// A receiver's port that cannot be reached (a firewall that lets ssh alone through), where ssh got through: the
    /// lanes go through ssh's connection instead, said in a line, as scp would still get through; not with --no-tunnel.
    /// </summary>
    [SkippableFact]
    public async Task A_port_not_reached_either_way_is_reached_through_ssh_instead()
    {
        using var temp = new TempDirectory();
        var (sshd, tree, shell) = await StartAsync(temp);
        using var server = sshd;
        if (!OperatingSystem.IsLinux()) return;

        // Pushed: the receiver there listens where the lanes from here are refused. What the scan told is told once.
        string pushed = temp.Sub("pushed");
        var (exit, _, error) = await SgltyProcess.RunAsync(["send", tree, Path.Combine(temp.Path, "src", "nope"), $"root@direct:{pushed}", "--remote-listen", "127.0.0.2:0", .. shell]);
        Assert.Equal(23, exit);
        Assert.Matches(@"sglty: the receiver started on direct cannot be reached at 127\.0\.0\.1:[0-9]+ \(connection refused\); sending through ssh's connection instead", error);
        Assert.Single(error.Split('\n'), line => line.Contains("not sending", StringComparison.Ordinal));
        TestFiles.AssertSameTree(tree, Path.Combine(pushed, "tree"));
        Assert.Contains(sshd.TakeWords(), line => line.Contains(" -L 127.0.0.1:", StringComparison.Ordinal));
        Assert.Contains("(a port let through, given with --remote-listen, is faster; --no-tunnel stops here)", error);
        // A port the user chose is not advised again.
        string chosen = temp.Sub("chosen");
        (exit, _, error) = await SgltyProcess.RunAsync(["send", tree, $"root@direct:{chosen}", "--remote-listen", $"127.0.0.2:{Ports.Free()}", .. shell]);
        Assert.True(exit == 0, error);
        Assert.Contains("; sending through ssh's connection instead, as one stream (--no-tunnel stops here)", error);
        TestFiles.AssertSameTree(tree, Path.Combine(chosen, "tree"));
        TestFiles.Create(Path.Combine(tree, "new.txt"), 10, seed: 8);
        (exit, _, error) = await SgltyProcess.RunAsync(["send", "--no-tunnel", tree, $"root@direct:{pushed}", "--remote-listen", "127.0.0.2:0", .. shell]);
        Assert.Equal(10, exit);
        Assert.Matches(@"sglty: error: the receiver started on direct cannot be reached at 127\.0\.0\.1:[0-9]+ \(connection refused\); a firewall on the way\? let its port through \(--remote-listen chooses it\), or leave out --no-tunnel", error);
        Assert.DoesNotContain("through ssh", error);
        Assert.False(File.Exists(Path.Combine(pushed, "tree", "new.txt")));

        // Pulled: a send there that cannot connect back, the first time.
        string firewalled = Path.Combine(temp.Path, "firewalled-sglty");
        File.WriteAllText(firewalled, $"#!/bin/sh\n[ -e '{firewalled}.once' ] || {{ touch '{firewalled}.once'; echo \"sglty: error: cannot connect to 192.0.2.1:7700: no answer within 10 s\" >&2; exit 1; }}\nexec {RealSshd.Sglty} \"$@\"\n");
        File.SetUnixFileMode(firewalled, (UnixFileMode)0b111_101_101);
        string pulled = Path.Combine(temp.Path, "pulled");
        (exit, _, error) = await SgltyProcess.RunAsync("send", $"root@direct:{tree}", pulled, "-e", sshd.Ssh, "--sglty-path", firewalled);
        Assert.True(exit == 0, error);
        Assert.Contains("could not connect back to this machine at 127.0.0.1:", error);
        Assert.Contains("; pulling through ssh's connection instead", error);
        // What the first send there said of its failure is not told: the pull's own line says it.
        Assert.DoesNotContain("192.0.2.1", error);
        TestFiles.AssertSameTree(tree, Path.Combine(pulled, "tree"));
        Assert.Contains(sshd.TakeWords(), line => line.Contains(" -R 127.0.0.1:", StringComparison.Ordinal));
        // --json gives one object, of the send that went through.
        File.Delete(firewalled + ".once");
        TestFiles.Create(Path.Combine(tree, "newer.txt"), 10, seed: 10);
        (exit, var output, error) = await SgltyProcess.RunAsync("send", "--json", $"root@direct:{tree}", pulled, "-e", sshd.Ssh, "--sglty-path", firewalled);
        Assert.True(exit == 0, error);
        using var json = System.Text.Json.JsonDocument.Parse(output);
        Assert.True(json.RootElement.GetProperty("ok").GetBoolean());
        TestFiles.AssertSameTree(tree, Path.Combine(pulled, "tree"));
    }

    /// <summary>Under -6, the tunnel's ends are IPv6's loopback, which ssh over IPv6 can make.</summary>
    [SkippableFact]
    public async Task Minus_6_tunnels_on_the_loopback_of_IPv6()
    {
        using var temp = new TempDirectory();
        var (sshd, tree, shell) = await StartAsync(temp);
        using var server = sshd;
        Skip.IfNot(System.Net.Sockets.Socket.OSSupportsIPv6, "needs IPv6");

        string pushed = temp.Sub("pushed");
        var (exit, _, error) = await SgltyProcess.RunAsync(["send", "-6", "--tunnel", tree, $"root@direct6:{pushed}", .. shell]);
        Assert.True(exit == 0, error);
        TestFiles.AssertSameTree(tree, Path.Combine(pushed, "tree"));
        Assert.Contains(sshd.TakeWords(), line => line.Contains(" -L [::1]:", StringComparison.Ordinal));

        string pulled = Path.Combine(temp.Path, "pulled");
        (exit, _, error) = await SgltyProcess.RunAsync(["send", "-6", "--tunnel", $"root@direct6:{tree}", pulled, .. shell]);
        Assert.True(exit == 0, error);
        TestFiles.AssertSameTree(tree, Path.Combine(pulled, "tree"));
        Assert.Contains(sshd.TakeWords(), line => line.Contains(" -R [::1]:", StringComparison.Ordinal));
    }

    /// <summary>
    /// Where ssh's configuration reaches a host by IPv6 alone (AddressFamily inet6), as -6 would: ssh can bind no IPv4
    /// address, so the tunnel's ends are IPv6's loopback, and the lanes keep to IPv6, without -6 given.
    /// </summary>
    [SkippableFact]
    public async Task An_ssh_configured_for_IPv6_alone_is_followed_without_minus_6()
    {
        using var temp = new TempDirectory();
        var (sshd, tree, shell) = await StartAsync(temp);
        using var server = sshd;
        Skip.IfNot(System.Net.Sockets.Socket.OSSupportsIPv6, "needs IPv6");

        string pushed = temp.Sub("pushed");
        var (exit, _, error) = await SgltyProcess.RunAsync(["send", "--tunnel", tree, $"root@only6:{pushed}", .. shell]);
        Assert.True(exit == 0, error);
        TestFiles.AssertSameTree(tree, Path.Combine(pushed, "tree"));
        Assert.Contains(sshd.TakeWords(), line => line.Contains(" -L [::1]:", StringComparison.Ordinal));

        string pulled = Path.Combine(temp.Path, "pulled");
        (exit, _, error) = await SgltyProcess.RunAsync(["send", "--tunnel", $"root@only6:{tree}", pulled, .. shell]);
        Assert.True(exit == 0, error);
        TestFiles.AssertSameTree(tree, Path.Combine(pulled, "tree"));
        Assert.Contains(sshd.TakeWords(), line => line.Contains(" -R [::1]:", StringComparison.Ordinal));

        // Straight, ssh and the lanes keep to IPv6 too.
        string straight = temp.Sub("straight");
        (exit, _, error) = await SgltyProcess.RunAsync(["send", "--no-tunnel", tree, $"root@only6:{straight}", .. shell]);
        Assert.True(exit == 0, error);
        TestFiles.AssertSameTree(tree, Path.Combine(straight, "tree"));
        Assert.Contains(sshd.TakeWords(), line => line.Split(' ').Contains("-6"));
    }

    /// <summary>A forward of ssh's own configuration that ssh cannot make (its port taken) stops the tunnel, and is named.</summary>
    [SkippableFact]
    public async Task A_forward_of_the_configuration_that_cannot_be_made_is_named()
    {
        using var temp = new TempDirectory();
        var (sshd, tree, shell) = await StartAsync(temp);
        using var server = sshd;
        string named = $"ssh could not make a forward its configuration names for forwarding (port {sshd.BusyPort}: taken, perhaps by another ssh to it)";

        var (exit, _, error) = await SgltyProcess.RunAsync(["send", "--tunnel", tree, $"root@forwarding:{temp.Sub("pushed")}", .. shell]);
        Assert.Equal(10, exit);
        Assert.Contains(named, error);
        (exit, _, error) = await SgltyProcess.RunAsync(["send", "--tunnel", $"root@forwarding:{tree}", Path.Combine(temp.Path, "pulled"), .. shell]);
        Assert.Equal(10, exit);
        Assert.Contains(named, error);
    }

    /// <summary>A server that refuses to forward connections is told in a line, pushing and pulling, not retried.</summary>
    [SkippableFact]
    public async Task A_server_that_refuses_to_forward_is_told_in_a_line()
    {
        using var temp = new TempDirectory();
        var (sshd, tree, shell) = await StartAsync(temp, forwards: false);
        using var server = sshd;

        // ssh says so at INFO, which it is asked for whatever its configuration says (ERROR here), and the send ends at once.
        string pushed = temp.Sub("pushed");
        var (exit, _, error) = await SgltyProcess.RunAsync(["send", "--tunnel", tree, $"root@direct:{pushed}", .. shell]);
        Assert.Equal(10, exit);
        Assert.Contains("sglty: error: ssh could not carry the lanes to the receiver on direct: its server refuses to forward connections ('channel ", error);
        Assert.DoesNotContain("retry", error);
        Assert.Empty(Directory.GetFileSystemEntries(pushed));

        string pulled = Path.Combine(temp.Path, "pulled");
        (exit, _, error) = await SgltyProcess.RunAsync("send", "--tunnel", $"root@direct:{tree}", pulled, "-e", sshd.Ssh, "--sglty-path", RealSshd.Sglty);
        Assert.Equal(10, exit);
        Assert.Contains("sglty: error: ssh could not listen on direct for the lanes to come back through its connection (twice, on ports chosen at random): its server refuses to forward", error);
        Assert.False(Path.Exists(pulled));
    }

    private static async Task AssertNothingListensAsync(int port)
    {
        using var probe = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        var refused = await Assert.ThrowsAsync<System.Net.Sockets.SocketException>(async () => await probe.ConnectAsync(System.Net.IPAddress.Loopback, port));
        Assert.Equal(System.Net.Sockets.SocketError.ConnectionRefused, refused.SocketErrorCode);
    }

    /// <summary>A real sshd (or the test is skipped), a tree to send, and the words of -e and --sglty-path that reach that sshd.</summary>
    private static async Task<(RealSshd Sshd, string Tree, string[] Shell)> StartAsync(TempDirectory temp, bool forwards = true)
    {
        var sshd = await RealSshd.StartAsync(temp, forwards);
        Skip.If(sshd is null, "needs Linux, OpenSSH's sshd and client, and root to serve its logins");
        string tree = temp.Sub("src/tree");
        TestFiles.Create(Path.Combine(tree, "big.bin"), (3 << 20) + 5, seed: 6);
        TestFiles.Create(Path.Combine(tree, "sub", "small.txt"), 300, seed: 7);
        return (sshd!, tree, ["-e", sshd!.Ssh, "--sglty-path", RealSshd.Sglty]);
    }
}
