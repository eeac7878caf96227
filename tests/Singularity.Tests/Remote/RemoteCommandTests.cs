using System.Diagnostics;
using CsCheck;
using Singularity.Engine;
using Singularity.Tests.Support;

namespace Singularity.Tests.Remote;

public sealed class RemoteCommandTests
{
    [Fact]
    public void A_quoted_word_reads_back_whole_in_a_posix_shell()
    {
        if (!OperatingSystem.IsLinux()) return;
        // Words a shell treats apart: quotes, $, backquotes, globs, spaces, line ends, and plain ones.
        Gen.String[Gen.Char["ab '\"$`\\*?~;&|<>()#!\n\t=/:.,+@-é"], 0, 30].Sample(word => Echoed(RemoteCommand.Quoted(word)) == word, iter: 200);
    }

    [Fact]
    public void A_pattern_reaches_the_shell_as_its_wildcards_and_text_alone()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var temp = new TempDirectory();
        string empty = temp.Sub("empty");
        // Matching nothing, a pattern reads back as the path with its escapes taken off: nothing else in it ran.
        Gen.String[Gen.Char["ab '\"$`\\*?;&|<>()#!\n\t=:,+@-é[]^"], 0, 30]
            .Sample(word => Echoed(RemoteCommand.Pattern(word), empty) == RemoteCommand.Unmatched(word), iter: 200);
        string full = temp.Sub("full");
        foreach (string name in new[] { "a.log", "b.log", "c.txt", ".d.log", "e*f", "x", "[x]", "it's [ y]" }) File.WriteAllText(Path.Combine(full, name), "");
        Assert.Equal("a.logb.log", Echoed(RemoteCommand.Pattern("*.log"), full));
        Assert.Equal("a.logb.log", Echoed(RemoteCommand.Pattern("[ab].log"), full));
        Assert.Equal("c.txt", Echoed(RemoteCommand.Pattern("[!ab].???"), full));
        Assert.Equal("e*f", Echoed(RemoteCommand.Pattern("e\\*f"), full));
        Assert.Equal("x", Echoed(RemoteCommand.Pattern("[x]"), full));
        Assert.Equal("[x]", Echoed(RemoteCommand.Pattern("\\[x]"), full));
        // A class of what is not a letter, digit or '._-' is a name's own.
        Assert.Equal("it's [ y]", Echoed(RemoteCommand.Pattern("it's [ y]*"), full));
        Assert.False(RemoteCommand.HasWildcards("a\\*b"));
        // zsh expands a word that starts with '=' to a program's path.
        Assert.Equal("'=ls'", RemoteCommand.Quoted("=ls"));
        Assert.Equal("'=ls'*", RemoteCommand.Pattern("=ls*"));
        Assert.Equal("[!a]", RemoteCommand.Pattern("[^a]"));
        Assert.False(RemoteCommand.HasWildcards("[ ]"));
        Assert.True(RemoteCommand.HasWildcards("[a-z]"));
    }

    [Fact]
    public void The_command_run_there_quotes_every_word_and_follows_the_send()
    {
        string command = RemoteCommand.For(new RemoteTarget(null, "h", "~/a b"), new RemoteShell { Program = "sudo sglty", Listen = "0.0.0.0:7701" },
            new TransferOptions { Cipher = CipherSuite.None, Devices = true, CongestionControl = "bbr" });
        // The directory made absolute first: the user's words may change directory.
        Assert.StartsWith("sh -c 'd=$1; shift; case $d in /*) ;; *) d=$PWD/$d ;; esac; [ -e \"$d\" ] || { u=$(dirname -- \"$d\"); [ -d \"$u\" ] ||", command);
        // The user's words are run, not exec'd: they may be "cd /srv && sglty".
        Assert.EndsWith("[ -e \"$d\" ] || mkdir -- \"$d\" || exit 11; sudo sglty \"$@\" \"--dir=$d\"' sh 'a b' recv --until-stdin-closes --listen=0.0.0.0:7701 --encrypt=none --devices --congestion=bbr", command);
        command = RemoteCommand.For(new RemoteTarget(null, "h", ""), new RemoteShell { MakePath = true }, new TransferOptions(), (".", "x"));
        Assert.StartsWith("sh -c 'd=$1; f=$2; shift 2; if [ ! -d \"$d\" ]; then d=$f; echo sglty-names-a-file; fi; case $d in /*) ;; *) d=$PWD/$d ;; esac; p=$(command -v sglty)", command);
        Assert.Contains("[ -e \"$d\" ] || mkdir -p -- \"$d\" || exit 11; exec \"$p\"", command);
        Assert.EndsWith("' sh . . recv --until-stdin-closes --listen=0.0.0.0:0", command);
        // A dry run makes nothing there.
        command = RemoteCommand.For(new RemoteTarget(null, "h", "x"), new RemoteShell { Program = "s", MakePath = true }, new TransferOptions { DryRun = true });
        Assert.Equal("sh -c 'd=$1; shift; case $d in /*) ;; *) d=$PWD/$d ;; esac; if [ -e \"$d\" ]; then s \"$@\" \"--dir=$d\"; exit; fi; t=$(mktemp -d) || exit 1; trap '\\''rm -rf -- \"$t\"'\\'' EXIT HUP INT TERM; d=$t; (s \"$@\" \"--dir=$d\")' sh x recv --until-stdin-closes --listen=0.0.0.0:0", command);
        // ~user is left for the remote shell to expand, the rest quoted.
        Assert.Contains("' sh ~backup/'my dir' recv", RemoteCommand.For(new RemoteTarget(null, "h", "~backup/my dir"), new RemoteShell(), new TransferOptions()));
        Assert.Contains("' sh ~backup/ ~backup recv", RemoteCommand.For(new RemoteTarget(null, "h", "~backup/"), new RemoteShell(), new TransferOptions(), ("~backup", "x")));
        Assert.Contains("' sh '~-x/y' recv", RemoteCommand.For(new RemoteTarget(null, "h", "~-x/y"), new RemoteShell(), new TransferOptions()));
    }

    [Fact]
    public void A_users_home_is_what_the_shell_expands_and_nothing_else_is()
    {
        if (!OperatingSystem.IsLinux()) return;
        string home = Echoed("~root");
        Assert.StartsWith("/", home);
        string command = RemoteCommand.For(new RemoteTarget(null, "h", "~root/a b/$HOME"), new RemoteShell(), new TransferOptions());
        string word = command[(command.IndexOf("' sh ", StringComparison.Ordinal) + 5)..command.IndexOf(" recv", StringComparison.Ordinal)];
        Assert.Equal(home + "/a b/$HOME", Echoed(word));
    }

    [Theory]
    [InlineData("db-1.dump", ".", "db-1.dump")]
    [InlineData("/backups/db-1.dump", "/backups", "db-1.dump")]
    [InlineData("/db-1.dump", "/", "db-1.dump")]
    [InlineData("~/b/db-1.dump", "b", "db-1.dump")]
    [InlineData("~backup/db-1.dump", "~backup", "db-1.dump")]
    [InlineData("~backup", null, null)]
    [InlineData("b/", null, null)]
    [InlineData("", null, null)]
    [InlineData("~", null, null)]
    [InlineData("b/..", null, null)]
    public void One_file_may_take_the_name_its_target_gives(string directory, string? parent, string? name)
    {
        using var temp = new TempDirectory();
        string file = TestFiles.Create(Path.Combine(temp.Path, "f"), 10);
        var target = new RemoteTarget(null, "h", directory);
        Assert.Equal(parent is null ? null : (parent, name!), RemoteCommand.FileTarget(target, [file], new TransferOptions()));
        // Only one file, sent by its name.
        Assert.Null(RemoteCommand.FileTarget(new RemoteTarget(null, "h", "x"), [file, file], new TransferOptions()));
        Assert.Null(RemoteCommand.FileTarget(new RemoteTarget(null, "h", "x"), [temp.Path], new TransferOptions()));
        Assert.Null(RemoteCommand.FileTarget(new RemoteTarget(null, "h", "x"), [file], new TransferOptions { Relative = true }));
    }

    [Theory]
    [InlineData("ssh", new[] { "ssh" })]
    [InlineData("  ssh   -p 2222 ", new[] { "ssh", "-p", "2222" })]
    [InlineData("ssh -o 'ProxyJump bastion' -i \"/my keys/id\"", new[] { "ssh", "-o", "ProxyJump bastion", "-i", "/my keys/id" })]
    [InlineData("ssh -o 'Proxy Jump' x''y \"a\\\"b\" c\\d", new[] { "ssh", "-o", "Proxy Jump", "xy", "a\"b", "c\\d" })]
    [InlineData("", new string[0])]
    public void The_remote_shell_is_split_as_rsync_splits_e(string command, string[] words) => Assert.Equal(words, RemoteShell.Words(command));

    [Fact]
    public void A_quote_left_open_in_the_remote_shell_is_refused() =>
        Assert.Contains("leaves a ' open", Assert.Throws<FormatException>(() => RemoteShell.Words("ssh -o 'x")).Message);

    /// <summary>What a POSIX shell makes of <paramref name="words"/> as one argument of printf.</summary>
    private static string Echoed(string words, string? directory = null)
    {
        var info = new ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true, UseShellExecute = false, WorkingDirectory = directory ?? "" };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add($"printf %s {words}");
        using var shell = Process.Start(info)!;
        string back = shell.StandardOutput.ReadToEnd();
        shell.WaitForExit();
        return back;
    }
}
