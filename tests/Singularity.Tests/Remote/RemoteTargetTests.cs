using System.Net.Sockets;
using Singularity.Engine;

namespace Singularity.Tests.Remote;

public sealed class RemoteTargetTests
{
    [Theory]
    [InlineData("web1:backups", null, "web1", "backups")]
    [InlineData("me@web1:/srv/data", "me", "web1", "/srv/data")]
    [InlineData("web1:", null, "web1", "")]
    [InlineData("a@b@web1:x", "a@b", "web1", "x")]
    [InlineData("[::1]:dir/sub", null, "::1", "dir/sub")]
    [InlineData("me@[fe80::1]:~/x", "me", "fe80::1", "~/x")]
    [InlineData("web1:./2024", null, "web1", "./2024")]
    [InlineData("web1:2024x", null, "web1", "2024x")]
    [InlineData("web1:a:b", null, "web1", "a:b")]
    public void Reads_USER_at_HOST_DIR_as_scp_and_rsync_write_it(string text, string? user, string host, string directory)
    {
        Assert.True(RemoteTarget.TryParse(text, out var target));
        Assert.Equal(new RemoteTarget(user, host, directory), target);
    }

    [Theory]
    [InlineData("file.txt")]
    [InlineData("./a:b")]
    [InlineData("dir/a:b")]
    [InlineData("/abs/a:b")]
    [InlineData(":dir")]
    [InlineData("@:dir")]
    [InlineData("web1:7700")]
    [InlineData("web1:7700/backups/")]
    [InlineData("web1:7700?token=x")]
    [InlineData("sglty://web1:7700/")]
    [InlineData("x[::1]:dir")]
    public void Leaves_local_paths_and_urls_alone(string text) => Assert.False(RemoteTarget.TryParse(text, out _));

    /// <summary>A drive's letter is a local path on Windows, as its scp takes it; elsewhere a host of one letter (an ssh alias) stays one.</summary>
    [Theory]
    [InlineData(@"C:\dst")]
    [InlineData("d:/backups")]
    [InlineData("C:")]
    public void A_drive_letter_is_a_local_path_on_windows_alone(string text)
    {
        Assert.False(RemoteTarget.TryParse(text, windows: true, out _));
        Assert.True(RemoteTarget.TryParse(text, windows: false, out var target));
        Assert.Equal(text[..1], target.Host);
    }

    [Theory]
    [InlineData("web1::module", "rsync's form for a daemon's module")]
    [InlineData("-oProxyCommand=x:dir", "is not a host name")]
    [InlineData("-l:dir", "is not a host name")]
    [InlineData("-me@web1:dir", "is not a user name")]
    [InlineData("@web1:dir", "is not a user name")]
    [InlineData("we b1:dir", "is not a host name")]
    public void Refuses_what_a_shell_would_misread(string text, string expected) =>
        Assert.Contains(expected, Assert.Throws<FormatException>(() => RemoteTarget.TryParse(text, out _)).Message);

    [Fact]
    public void Writes_itself_back_as_given() =>
        Assert.Equal("me@[::1]:x y", new RemoteTarget("me", "::1", "x y").ToString());

    [Fact]
    public void Ssh_configuration_names_the_host_the_lanes_reach()
    {
        Assert.Equal("10.1.2.3", ShellProcess.ConfiguredHost("user me\nhostname 10.1.2.3\nport 22\n"));
        Assert.Null(ShellProcess.ConfiguredHost("user me\nport 22\n"));
    }

    /// <summary>A host ssh reaches through another is reached by the lanes through ssh's own connection, by default.</summary>
    [Theory]
    [InlineData("hostname web1\nproxyjump bastion\nport 22\n", true)]
    [InlineData("hostname web1\nproxycommand /usr/bin/sss_ssh_knownhostsproxy -p %p %h\n", false)]
    [InlineData("hostname web1\nproxyjump none\nproxycommand none\n", false)]
    [InlineData("hostname web1\nproxyusefdpass no\nport 22\n", false)]
    [InlineData("", false)]
    public void Ssh_configuration_tells_a_host_reached_through_another(string printed, bool proxied) =>
        Assert.Equal(proxied, ShellProcess.Jumps(printed));

    [Theory]
    [InlineData("hostname web1\naddressfamily inet6\n", AddressFamily.InterNetworkV6)]
    [InlineData("hostname web1\naddressfamily inet\n", AddressFamily.InterNetwork)]
    [InlineData("hostname web1\naddressfamily any\n", AddressFamily.Unspecified)]
    [InlineData("hostname web1\n", AddressFamily.Unspecified)]
    public void Ssh_configuration_tells_the_family_of_addresses_it_reaches_a_host_by(string printed, AddressFamily family) =>
        Assert.Equal(family, ShellProcess.ConfiguredFamily(printed));

    [Fact]
    public async Task A_tunnel_asked_through_a_shell_that_is_not_ssh_is_refused_in_a_line()
    {
        var refused = await Assert.ThrowsAsync<SingularityException>(() => ShellProcess.ReachAsync(new RemoteTarget(null, "web1", "x"), new RemoteShell { Command = ["rsh"], Tunnel = true }, AddressFamily.Unspecified, CancellationToken.None));
        Assert.Equal("--tunnel carries the lanes through ssh's own connection, and the remote shell is 'rsh'; give ssh as the remote shell (-e)", refused.Message);
        Assert.Equal(("web1", false, AddressFamily.InterNetwork), await ShellProcess.ReachAsync(new RemoteTarget(null, "web1", "x"), new RemoteShell { Command = ["rsh"] }, AddressFamily.InterNetwork, CancellationToken.None));
    }

    [Fact]
    public void A_tunnel_is_asked_of_ssh_before_the_login_and_host()
    {
        var info = ShellProcess.Info(new RemoteShell { Command = ["ssh", "-p", "2222"] }, new RemoteTarget("me", "web1", "x"), "true", forward: ShellProcess.Forward("-L", 40000, 21000));
        // Before the user's words: ssh keeps the first value it reads, and theirs might share a connection.
        Assert.Equal(["-T", "-o", "ExitOnForwardFailure=yes", "-o", "ClearAllForwardings=no", "-o", "ControlMaster=no", "-o", "ControlPath=none", "-L", "127.0.0.1:40000:127.0.0.1:21000", "-p", "2222", "-l", "me", "web1", "true"], info.ArgumentList);
    }
}
