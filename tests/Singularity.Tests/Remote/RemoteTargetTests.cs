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
}
