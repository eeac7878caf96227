using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// `sglty send PATH [USER@]HOST:DIR`, as scp and rsync are typed: the sender starts the receiver through a remote
/// shell. A stand-in for ssh runs the command on this machine, in a home of the test's own, as ssh runs it in the
/// login's home; the files still travel over TCP on loopback.
/// </summary>
public sealed class RemoteShellTests
{
    [Fact]
    public async Task A_tree_sent_to_USER_at_HOST_DIR_arrives_there_and_the_receiver_ends_with_the_send()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/site");
        TestFiles.Create(Path.Combine(tree, "big.bin"), (3 << 20) + 5);
        TestFiles.Create(Path.Combine(tree, "sub", "small.txt"), 17, seed: 2);
        Directory.CreateDirectory(Path.Combine(tree, "empty"));
        string home = temp.Sub("home");
        // Where the README builds it: the receiver's side finds sglty there when its PATH has none.
        string installed = Path.Combine(home, "sglty", "sglty");
        Directory.CreateDirectory(Path.GetDirectoryName(installed)!);
        FakeSsh.Script(installed, $"exec {FakeSsh.Sglty} \"$@\"\n");
        string shell = FakeSsh.Create(temp);

        var (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(new Dictionary<string, string> { ["HOME"] = home },
            "send", tree, "backup@web1-alias:backups/day1", "-e", shell, "--remote-listen", "127.0.0.1:0", "--mkpath");

        Assert.True(exit == 0, error);
        Assert.Contains("sent 2 files", error);
        // DIR is the login's home's, made with its parent (--mkpath) as mkdir -p makes them, not private as recv makes its own.
        TestFiles.AssertSameTree(tree, Path.Combine(home, "backups", "day1", "site"));
        Assert.Equal((UnixFileMode)0b111_101_101, File.GetUnixFileMode(Path.Combine(home, "backups")));
        Assert.Equal((UnixFileMode)0b111_101_101, File.GetUnixFileMode(Path.Combine(home, "backups", "day1")));
        string[] words = File.ReadAllLines(shell + ".words");
        // ssh is asked for no terminal, and the lanes reach the host its configuration names (ssh -G).
        Assert.Equal(["-T", "-l", "backup", "web1-alias"], words[..4]);
        Assert.Contains("' sh backups/day1 recv --until-stdin-closes --listen=127.0.0.1:0", words[4]);
        // The receiver ended by itself when the send closed its input, with exit code 0, not killed.
        Assert.Equal("0", File.ReadAllText(shell + ".exit").Trim());
        // The token travels through the shell's output alone, never on a command line.
        Assert.DoesNotContain("token", string.Join(' ', words), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_directory_with_quotes_and_spaces_reaches_the_remote_shell_whole_with_sglty_path_and_plaintext()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/d");
        TestFiles.Create(Path.Combine(tree, "a.bin"), 70_000);
        string home = temp.Sub("home");
        string shell = FakeSsh.Create(temp);
        string there = Path.Combine(temp.Path, "it's a $HOME `x` dir");

        // The shell from SGLTY_RSH, and a terminal's codes before the URL on its line.
        var (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(new Dictionary<string, string> { ["HOME"] = home, ["SGLTY_RSH"] = shell, ["FAKE_TTY_CODES"] = "1" },
            "send", tree, $"localhost:{there}", "--sglty-path", $"cd / && {FakeSsh.Sglty}", "--remote-listen", "127.0.0.1:0", "--encrypt", "none");

        Assert.True(exit == 0, error);
        Assert.Contains(", none", error);
        TestFiles.AssertSameTree(tree, Path.Combine(there, "d"));
        Assert.Equal("localhost", File.ReadAllLines(shell + ".words")[1]);
    }

    [Fact]
    public async Task One_file_takes_the_name_of_a_target_that_is_not_a_directory_there_as_with_scp()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var temp = new TempDirectory();
        string file = TestFiles.Create(Path.Combine(temp.Sub("src"), "db.dump"), 200_000, seed: 4);
        string home = temp.Sub("home");
        Directory.CreateDirectory(Path.Combine(home, "into"));
        Directory.CreateDirectory(Path.Combine(home, "backups"));
        string shell = FakeSsh.Create(temp);
        var environment = new Dictionary<string, string> { ["HOME"] = home };
        string[] common = ["-e", shell, "--sglty-path", FakeSsh.Sglty, "--remote-listen", "127.0.0.1:0"];

        // Not there: it names the file, in the directory above it.
        var (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, ["send", file, "localhost:backups/db-1206.dump", .. common]);
        Assert.True(exit == 0, error);
        TestFiles.AssertSameBytes(file, Path.Combine(home, "backups", "db-1206.dump"));
        Assert.Equal(["db-1206.dump"], Directory.GetFileSystemEntries(Path.Combine(home, "backups")).Select(Path.GetFileName));
        // A directory there: the file goes into it, relative to the home whatever --sglty-path does first.
        (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, ["send", file, "localhost:into", "-e", shell, "--sglty-path", $"cd / && {FakeSsh.Sglty}", "--remote-listen", "127.0.0.1:0"]);
        Assert.True(exit == 0, error);
        TestFiles.AssertSameBytes(file, Path.Combine(home, "into", "db.dump"));
        // A trailing '/' asks for a directory, made if missing.
        (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, ["send", file, "localhost:made/", .. common]);
        Assert.True(exit == 0, error);
        TestFiles.AssertSameBytes(file, Path.Combine(home, "made", "db.dump"));
        Assert.Equal((UnixFileMode)0b111_101_101, File.GetUnixFileMode(Path.Combine(home, "made")));
        // The directory that would hold it is not there: nothing is made, as scp and rsync make nothing.
        (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, ["send", file, "localhost:nope/db.dump", .. common]);
        Assert.Equal((3, $"sglty: error: could not start a receiver on localhost through {shell}: '{home}/nope' is not there; make it first, or send with --mkpath (exit code 3)"), (exit, error.Trim()));
        Assert.False(Directory.Exists(Path.Combine(home, "nope")));
    }

    [Fact]
    public async Task A_dry_run_makes_nothing_there()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/site");
        TestFiles.Create(Path.Combine(tree, "a.bin"), 1000);
        string home = temp.Sub("home");
        string scratch = temp.Sub("tmp");
        string shell = FakeSsh.Create(temp);

        var (exit, output, error) = await SgltyProcess.RunWithEnvironmentAsync(new Dictionary<string, string> { ["HOME"] = home, ["TMPDIR"] = scratch },
            "send", "-n", tree, "localhost:yet", "-e", shell, "--sglty-path", FakeSsh.Sglty, "--remote-listen", "127.0.0.1:0");

        Assert.True(exit == 0, error);
        Assert.Equal("site/a.bin", output.Trim());
        Assert.Empty(Directory.GetFileSystemEntries(home));
        // The receiver ran in an empty directory of its own, removed after it.
        Assert.Empty(Directory.GetFileSystemEntries(scratch));
        Assert.Equal("0", File.ReadAllText(shell + ".exit").Trim());

        // What the real send would refuse, the dry run refuses too.
        (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(new Dictionary<string, string> { ["HOME"] = home, ["TMPDIR"] = scratch },
            "send", "-n", tree, "localhost:not/yet", "-e", shell, "--sglty-path", FakeSsh.Sglty, "--remote-listen", "127.0.0.1:0");
        Assert.Equal((3, $"sglty: error: could not start a receiver on localhost through {shell}: '{home}/not' is not there; make it first, or send with --mkpath (exit code 3)"), (exit, error.Trim()));
    }

    [Fact]
    public async Task A_receiver_that_cannot_start_there_is_one_line_that_quotes_why()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/d");
        TestFiles.Create(Path.Combine(tree, "a.bin"), 10);
        string home = temp.Sub("home");
        string shell = FakeSsh.Create(temp);
        var environment = new Dictionary<string, string> { ["HOME"] = home, ["PATH"] = "/usr/bin:/bin" };

        // Not installed there: neither on the PATH nor at ~/sglty/sglty.
        var (exit, output, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, "send", tree, "localhost:dst", "-e", shell);
        Assert.Equal(10, exit);
        Assert.Equal("", output);
        Assert.Equal("sglty: error: could not start a receiver on localhost through " + shell + ": sglty is not on the PATH of a login there, nor at ~/sglty/sglty (exit code 127); install it there (on the PATH of its logins, or at ~/sglty/sglty), or name it with --sglty-path", error.Trim());

        // The receiver refuses its directory: what it said comes back.
        File.WriteAllText(Path.Combine(home, "taken"), "a file");
        (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, "send", tree, "localhost:taken", "-e", shell, "--sglty-path", FakeSsh.Sglty);
        Assert.Equal(3, exit);
        Assert.StartsWith("sglty: error: could not start a receiver on localhost through " + shell + ": ", error.Trim());
        Assert.EndsWith("(exit code 3)", error.Trim());
        Assert.Contains("/taken' is a file, not a directory", error);
        Assert.Single(error.Trim().Split('\n'));

        // A directory whose parent is not there, without --mkpath, as rsync refuses it.
        (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, "send", tree, "localhost:a/b", "-e", shell, "--sglty-path", FakeSsh.Sglty);
        Assert.Equal((3, $"sglty: error: could not start a receiver on localhost through {shell}: '{home}/a' is not there; make it first, or send with --mkpath (exit code 3)"), (exit, error.Trim()));
        Assert.False(Directory.Exists(Path.Combine(home, "a")));

        // A --sglty-path that runs nothing.
        (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, "send", tree, "localhost:dst", "-e", shell, "--sglty-path", "/nowhere/sglty");
        Assert.Equal(10, exit);
        Assert.StartsWith($"sglty: error: could not start a receiver on localhost through {shell}: sh: ", error.Trim());
        Assert.EndsWith("/nowhere/sglty: not found (exit code 127); check --sglty-path", error.Trim());

        // A login that prints and prints, and no URL.
        (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, "send", tree, "localhost:dst", "-e", shell, "--sglty-path", $"seq 1001; {FakeSsh.Sglty}");
        Assert.Equal((10, $"sglty: error: localhost printed 1000 lines and no receiver's URL: 1000; check that '{shell} -T localhost' runs sglty there"), (exit, error.Trim()));

        // No such shell.
        (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, "send", tree, "localhost:dst", "-e", Path.Combine(temp.Path, "no-ssh"));
        Assert.Equal(10, exit);
        Assert.StartsWith($"sglty: error: cannot run the remote shell '{Path.Combine(temp.Path, "no-ssh")}': ", error.Trim());

        // A source that is not here: told before the shell runs, so nothing is made there.
        File.Delete(shell + ".words");
        string gone = Path.Combine(temp.Path, "src", "gone.txt");
        (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, "send", gone, "localhost:new.txt", "-e", shell, "--sglty-path", FakeSsh.Sglty);
        Assert.Equal((3, $"sglty: error: cannot send '{gone}': no such file or directory"), (exit, error.Trim()));
        Assert.False(File.Exists(shell + ".words"));
        string alsoGone = Path.Combine(temp.Path, "src", "also-gone.txt");
        (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, "send", gone, alsoGone, "localhost:dst", "-e", shell, "--sglty-path", FakeSsh.Sglty);
        Assert.Equal((3, $"sglty: error: cannot send '{gone}': no such file or directory; none of the 2 paths given can be found"), (exit, error.Trim()));
        Assert.False(File.Exists(shell + ".words"));

        // -4 asks ssh for the same family as the lanes.
        (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, "send", "-4", tree, "localhost:dst", "-e", shell, "--sglty-path", FakeSsh.Sglty);
        Assert.True(exit == 0, error);
        Assert.Equal(["-T", "-4", "localhost"], File.ReadAllLines(shell + ".words")[..3]);

        // Beside one that is here, it is told and passed over, as scp and rsync go on past it.
        (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, "send", gone, tree, "localhost:dst", "-e", shell, "--sglty-path", FakeSsh.Sglty);
        Assert.Equal(23, exit);
        Assert.Contains($"sglty: not sending '{gone}': no such file or directory", error);
        Assert.Contains("sglty: error: 1 path given could not be found or taken (named above); everything else arrived", error);
        TestFiles.AssertSameTree(tree, Path.Combine(home, "dst", Path.GetFileName(tree)));
    }

    [Fact]
    public async Task The_shell_variable_is_read_only_for_a_send_through_a_shell()
    {
        using var temp = new TempDirectory();
        string file = TestFiles.Create(Path.Combine(temp.Path, "a.bin"), 10);
        var broken = new Dictionary<string, string> { ["SGLTY_RSH"] = "ssh 'x" };

        var (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(broken, "send", file, "--to", $"sglty://127.0.0.1:{Ports.Free()}/?token=x");
        Assert.Equal(10, exit);
        Assert.Contains("refused", error);
        (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(broken, "send", file, "h:dir");
        Assert.Equal(1, exit);
        Assert.Contains("the remote shell command 'ssh 'x' leaves a ' open", error);
    }

    [Fact]
    public async Task A_shell_that_never_answers_is_given_up_after_the_timeout()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var temp = new TempDirectory();
        string file = TestFiles.Create(Path.Combine(temp.Sub("src"), "a.bin"), 10);
        string shell = Path.Combine(temp.Path, "silent");
        FakeSsh.Script(shell, "echo 'Password:' >&2\nexec sleep 600\n");

        var (exit, _, error) = await SgltyProcess.RunAsync("send", file, "localhost:x", "-e", shell, "--timeout", "1s");

        Assert.Equal((10, $"sglty: error: no receiver started on localhost within 1 s: Password:; check that '{shell} localhost' logs in and runs sglty there (--timeout waits longer)"), (exit, error.Trim()));
    }

    /// <summary>ssh's note of a host key it learned, at a first login, is not taken for what the end there said.</summary>
    [Fact]
    public async Task A_host_key_learned_is_not_the_reason_a_receiver_did_not_start()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var temp = new TempDirectory();
        string file = TestFiles.Create(Path.Combine(temp.Sub("src"), "f.bin"), 1000, seed: 9);
        string shell = FakeSsh.Create(temp);
        var environment = new Dictionary<string, string> { ["HOME"] = temp.Sub("home"), ["FAKE_SSH_LEARNS"] = "1" };

        var (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, ["send", file, "localhost:", "-e", shell, "--sglty-path", "false"]);

        Assert.Equal(10, exit);
        Assert.Contains("could not start a receiver on localhost through", error);
        Assert.Contains(", which said nothing (exit code 1)", error);
        Assert.DoesNotContain("Permanently added", error);
    }

    [Fact]
    public async Task A_receiver_that_ends_during_the_send_is_told_and_the_next_send_resumes()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var temp = new TempDirectory();
        string file = TestFiles.Create(Path.Combine(temp.Sub("src"), "big.bin"), 24 << 20, seed: 9);
        string home = temp.Sub("home");
        string shell = FakeSsh.Create(temp);
        var environment = new Dictionary<string, string> { ["HOME"] = home };
        string[] common = ["-e", shell, "--sglty-path", FakeSsh.Sglty, "--remote-listen", "127.0.0.1:0", "--shard-size", "256KiB"];

        // At 2 MiB a second, the send takes twelve: the receiver is killed once some of it arrived.
        var info = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in (string[])[Path.Combine(AppContext.BaseDirectory, "sglty.dll"), "send", file, "localhost:", "--bwlimit", "2MiB", "--retries", "3", .. common])
            info.ArgumentList.Add(argument);
        info.Environment["HOME"] = home;
        using var send = System.Diagnostics.Process.Start(info)!;
        string partial = Path.Combine(home, ".big.bin.sglty-part");
        for (var deadline = DateTime.UtcNow.AddMinutes(1); !(File.Exists(partial) && new FileInfo(partial).Length > 0 && File.Exists(shell + ".pid")); await Task.Delay(50))
            Assert.True(DateTime.UtcNow < deadline && !send.HasExited, "the send never started writing");
        await Task.Delay(1000);
        // Stopped as an operator or a shutdown stops it, so that it keeps what arrived.
        using (var kill = System.Diagnostics.Process.Start("kill", ["-TERM", File.ReadAllText(shell + ".pid").Trim()])) await kill.WaitForExitAsync();
        var (exit, _, error) = await SgltyProcess.FinishAsync(send);

        Assert.True(exit == 10, error);
        Assert.True(error.Trim().Split('\n')[^1].StartsWith("sglty: error: the receiver started on localhost ended during the send", StringComparison.Ordinal), error);
        Assert.EndsWith("); the same send again resumes what arrived", error.Trim());

        (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, ["send", file, "localhost:", .. common]);
        Assert.True(exit == 0, error);
        Assert.Contains("already there from an interrupted send", error);
        TestFiles.AssertSameBytes(file, Path.Combine(home, "big.bin"));
    }

    [Theory]
    [InlineData(new[] { "send", "a" }, "give where to send: [USER@]HOST:DIR as the last argument, to start a receiver there through ssh, --to URL, as `sglty recv` prints it, or a directory here, for a copy on this machine")]
    [InlineData(new[] { "send", "a", "host::module" }, "'host::module' is rsync's form for a daemon's module")]
    [InlineData(new[] { "send", "a", "host:dir", "--token", "x" }, "--token opens a receiver already running")]
    [InlineData(new[] { "send", "a", "--to", "sglty://h:1/", "-e", "ssh" }, "--rsh goes with a [USER@]HOST:DIR destination")]
    [InlineData(new[] { "send", "a", "-oProxyCommand=x:dir" }, "unknown option")]
    [InlineData(new[] { "send", "a", "--", "-x:dir" }, "'-x' in '-x:dir' is not a host name")]
    [InlineData(new[] { "send", "a", "h:dir", "-e", " " }, "-e names no command")]
    [InlineData(new[] { "send", "a", "h:dir", "-e", "ssh -o 'x" }, "the remote shell command 'ssh -o 'x' leaves a ' open")]
    [InlineData(new[] { "send", "a", "web1:2024" }, "'web1:2024' reads as a receiver's HOST:PORT; for a directory named by digits write web1:./2024, for a receiver sglty://web1:2024/")]
    [InlineData(new[] { "send", "a", "me@[::1]:2024" }, "'me@[::1]:2024' reads as a receiver's HOST:PORT; for a directory named by digits write me@[::1]:./2024, for a receiver sglty://[::1]:2024/")]
    [InlineData(new[] { "send", "a", "h:dir", "--mkpath", "--to", "sglty://h:1/" }, "--mkpath goes with a [USER@]HOST:DIR destination, whose receiver is started through ssh")]
    [InlineData(new[] { "send", "a", "h:dir", "--remote-listen", "7701" }, "--remote-listen takes HOST:PORT, as 0.0.0.0:7701 (port 0 for a free one), not '7701'")]
    [InlineData(new[] { "send", "a", "h:dir", "--remote-listen", "[::]:99999" }, "--remote-listen takes HOST:PORT")]
    [InlineData(new[] { "recv", "--dir", "x", "--once", "--until-stdin-closes" }, "--until-stdin-closes and --once each say when to stop")]
    [InlineData(new[] { "send", "web1:/srv/data", "web2:backups" }, "'web1:/srv/data' is a path on web1, and sglty sends between this machine and another: run the send there (as 'ssh web1 sglty send /srv/data HOST:DIR'), or run 'sglty recv' here")]
    [InlineData(new[] { "send", "a", "me@web1:my data", "web2:backups" }, "'me@web1:my data' is a path on web1, and sglty sends between this machine and another: run the send there (as 'ssh me@web1 sglty send 'my data' HOST:DIR')")]
    [InlineData(new[] { "send", "web1:/srv/data" }, "'web1:/srv/data' is a path on web1: give the directory here it goes into as the last argument ('sglty send web1:/srv/data DIR')")]
    [InlineData(new[] { "send", "web1:a", "web2:b", "here" }, "'web1:a' and 'web2:b' are on two machines: a pull takes its sources from one")]
    [InlineData(new[] { "send", "web1:a", "me@web1:b", "here" }, "'web1:a' and 'me@web1:b' are on two logins of web1")]
    [InlineData(new[] { "send", "web1:a", "no-such-file-here", "here" }, "'no-such-file-here' is no [USER@]HOST:PATH, and 'web1:a' is on web1: a send takes its sources from one machine")]
    [InlineData(new[] { "send", "web1:a", "web1:b", "here", "--files-from", "list" }, "--files-from takes one PATH: the directory the listed paths are relative to")]
    [InlineData(new[] { "send", "a", "--to", "sglty://h:1/", "--until-stdin-closes", "--files-from", "-" }, "--until-stdin-closes reads --files-from - as a pull gives it: names ended by NULs up to an empty one; give --from0")]
    [InlineData(new[] { "send", "a", "--to", "sglty://h:1/", "--token", "x", "--token-file", "-" }, "--token and --token-file each give the token; give one of them")]
    [InlineData(new[] { "send", "a", "--to", "sglty://h:1/", "--exclude-from", "-", "--files-from", "-" }, "--files-from, --exclude-from and --include-from read standard input ('-') for one list alone")]
    [InlineData(new[] { "send", "web1:a", "here", "--remote-listen", "0.0.0.0:7701" }, "--remote-listen names what a receiver started there listens on, and a pull (HOST:PATH... DIR) receives here")]
    [InlineData(new[] { "send", "web1:a", "here", "--token", "x" }, "--token names a receiver's token, and the receiver of a pull (HOST:PATH... DIR) is here")]
    [InlineData(new[] { "send", "a", "--to", "sglty://h:1/", "--listen", "0.0.0.0:7701" }, "--listen goes with a pull ([USER@]HOST:PATH... DIR), whose receiver is here")]
    [InlineData(new[] { "send", "web1:a", "here", "--listen", "7701" }, "--listen '7701' is not HOST:PORT")]
    [InlineData(new[] { "send", "web1:a", "here", "-4", "--listen", "[::1]:0" }, "-4 asks for IPv4, and --listen '[::1]:0' is an IPv6 address; give an IPv4 one (or 0.0.0.0:PORT), or leave out -4")]
    [InlineData(new[] { "send", "web1:a", "here", "-6", "--listen", "127.0.0.1:0" }, "-6 asks for IPv6, and --listen '127.0.0.1:0' is an IPv4 address; give an IPv6 one (or [::]:PORT), or leave out -6")]
    [InlineData(new[] { "send", "web1:a", "here", "--file-name", "x" }, "--file-name: a pull names the file by where it goes")]
    [InlineData(new[] { "send", "a", "web1:dir", "--file-name", "x" }, "--file-name: a [USER@]HOST:DIR destination names the file itself")]
    [InlineData(new[] { "send", "web1:a", "here", "--until-stdin-closes" }, "--until-stdin-closes is how a pull ties the send it starts there to itself")]
    [InlineData(new[] { "send", "a", "--to", "sglty://h:1/", "--until-stdin-closes", "--exclude-from", "-" }, "--until-stdin-closes waits for standard input to end, which a list read from - (standard input) also reads")]
    [InlineData(new[] { "send", "web1:", "web2:backups" }, "(as 'ssh web1 sglty send . HOST:DIR')")]
    [InlineData(new[] { "send", "notes 10:30.txt", "web2:backups" }, "cannot send 'notes 10:30.txt': no such file or directory")]
    public async Task A_destination_that_cannot_be_used_is_told_before_anything_runs(string[] arguments, string expected)
    {
        var (exit, _, error) = await SgltyProcess.RunAsync(arguments);
        Assert.NotEqual(0, exit);
        Assert.Contains(expected, error);
    }

    /// <summary>A file here whose name holds a ':' is sent as the local path it is, not taken for a path on another host.</summary>
    [Fact]
    public async Task A_name_here_with_a_colon_is_a_local_source()
    {
        using var temp = new TempDirectory();
        string file = TestFiles.Create(Path.Combine(temp.Path, "web1:notes"), 1000, seed: 3);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);

        var (exit, _, error) = await SgltyProcess.RunInAsync(temp.Path, "send", "web1:notes", "--to", receiver.Url.ToString());

        Assert.True(exit == 0, error);
        TestFiles.AssertSameBytes(file, Path.Combine(destination, "web1:notes"));
    }

    /// <summary>--file-name names the one path a send holds, as a pull to DIR/NAME names it: a file takes it, a directory goes into it.</summary>
    [Fact]
    public async Task File_name_names_the_one_file_sent_and_takes_a_directory_into_it()
    {
        using var temp = new TempDirectory();
        string file = TestFiles.Create(Path.Combine(temp.Path, "db.dump"), 70_000, seed: 3);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);

        var (exit, _, error) = await SgltyProcess.RunAsync("send", file, "--to", receiver.Url.ToString(), "--file-name", "db-1206.dump");
        Assert.True(exit == 0, error);
        TestFiles.AssertSameBytes(file, Path.Combine(destination, "db-1206.dump"));
        Assert.False(File.Exists(Path.Combine(destination, "db.dump")));

        // A directory goes into a directory of that name, as scp and rsync copy one to a name not there.
        (exit, _, error) = await SgltyProcess.RunAsync("send", temp.Sub("tree"), "--to", receiver.Url.ToString(), "--file-name", "x");
        Assert.True(exit == 0, error);
        Assert.True(Directory.Exists(Path.Combine(destination, "x", "tree")));
        (exit, _, error) = await SgltyProcess.RunAsync("send", file, "--to", receiver.Url.ToString(), "--file-name", "a/b");
        Assert.NotEqual(0, exit);
        Assert.Contains("--file-name: 'a/b' is not a file name: give one name, without '/'", error);
        (exit, _, error) = await SgltyProcess.RunAsync("send", Path.Combine(temp.Path, "gone.dump"), "--to", receiver.Url.ToString(), "--file-name", "x", "--delete-missing-args");
        Assert.NotEqual(0, exit);
        Assert.Contains("--file-name: a send that names its one file does not go with deleting what a missing path names", error);
    }
}
