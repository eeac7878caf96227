using System.Diagnostics;
using CsCheck;
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
    public void A_quoted_word_reads_back_whole_in_a_posix_shell()
    {
        if (!OperatingSystem.IsLinux()) return;
        // Words a shell treats apart: quotes, $, backquotes, globs, spaces, line ends, and plain ones.
        Gen.String[Gen.Char["ab '\"$`\\*?~;&|<>()#!\n\t=/:.,+@-é"], 0, 30].Sample(word =>
        {
            var info = new ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true, UseShellExecute = false };
            info.ArgumentList.Add("-c");
            info.ArgumentList.Add($"printf %s {RemoteReceiver.Quoted(word)}");
            using var shell = Process.Start(info)!;
            string back = shell.StandardOutput.ReadToEnd();
            shell.WaitForExit();
            return back == word;
        }, iter: 200);
    }

    [Fact]
    public void The_command_run_there_quotes_every_word_and_follows_the_send()
    {
        var command = RemoteReceiver.RemoteCommand(new RemoteTarget(null, "h", "~/a b"), new RemoteShell { Program = "sudo sglty", Listen = "0.0.0.0:7701" },
            new TransferOptions { Cipher = CipherSuite.None, Devices = true, CongestionControl = "bbr" });
        Assert.Equal("sh -c 'd=$1; shift; [ -e \"$d\" ] || mkdir -p -- \"$d\" || exit 1; exec sudo sglty \"$@\" \"--dir=$d\"' sglty 'a b' recv --until-stdin-closes --listen=0.0.0.0:7701 --encrypt=none --devices --congestion=bbr", command);
        command = RemoteReceiver.RemoteCommand(new RemoteTarget(null, "h", ""), new RemoteShell(), new TransferOptions(), (".", "x"));
        Assert.StartsWith("sh -c 'd=$1; f=$2; shift 2; if [ ! -d \"$d\" ]; then d=$f; echo sglty-names-a-file; fi; p=$(command -v sglty)", command);
        Assert.EndsWith("' sglty . . recv --until-stdin-closes --listen=0.0.0.0:0", command);
        // A dry run makes nothing there.
        command = RemoteReceiver.RemoteCommand(new RemoteTarget(null, "h", "x"), new RemoteShell { Program = "s" }, new TransferOptions { DryRun = true });
        Assert.Equal("sh -c 'd=$1; shift; if [ -d \"$d\" ]; then exec s \"$@\" \"--dir=$d\"; fi; d=$(mktemp -d) || exit 1; s \"$@\" \"--dir=$d\"; c=$?; rm -rf -- \"$d\"; exit $c' sglty x recv --until-stdin-closes --listen=0.0.0.0:0", command);
    }

    [Theory]
    [InlineData("db-1.dump", ".", "db-1.dump")]
    [InlineData("/backups/db-1.dump", "/backups", "db-1.dump")]
    [InlineData("/db-1.dump", "/", "db-1.dump")]
    [InlineData("~/b/db-1.dump", "b", "db-1.dump")]
    [InlineData("b/", null, null)]
    [InlineData("", null, null)]
    [InlineData("~", null, null)]
    [InlineData("b/..", null, null)]
    public void One_file_may_take_the_name_its_target_gives(string directory, string? parent, string? name)
    {
        using var temp = new Support.TempDirectory();
        string file = Support.TestFiles.Create(Path.Combine(temp.Path, "f"), 10);
        var target = new RemoteTarget(null, "h", directory);
        Assert.Equal(parent is null ? null : (parent, name!), RemoteReceiver.FileTarget(target, [file], new TransferOptions()));
        // Only one file, sent by its name.
        Assert.Null(RemoteReceiver.FileTarget(new RemoteTarget(null, "h", "x"), [file, file], new TransferOptions()));
        Assert.Null(RemoteReceiver.FileTarget(new RemoteTarget(null, "h", "x"), [temp.Path], new TransferOptions()));
        Assert.Null(RemoteReceiver.FileTarget(new RemoteTarget(null, "h", "x"), [file], new TransferOptions { Relative = true }));
    }

    [Fact]
    public void Ssh_configuration_names_the_host_the_lanes_reach()
    {
        Assert.Equal("10.1.2.3", RemoteReceiver.ConfiguredHost("user me\nhostname 10.1.2.3\nport 22\n"));
        Assert.Null(RemoteReceiver.ConfiguredHost("user me\nport 22\n"));
    }
}
