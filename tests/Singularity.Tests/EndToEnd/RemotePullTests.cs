using Singularity.Engine;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// `sglty send [USER@]HOST:PATH... DIR`, scp's and rsync's pull: the send runs on the other machine, started through a
/// remote shell, into a receiver here. A stand-in for ssh runs it on this machine, in a home of the test's own.
/// </summary>
public sealed class RemotePullTests
{
    [Fact]
    public async Task A_tree_pulled_arrives_here_with_the_patterns_read_here_and_the_token_on_no_command_line()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var temp = new TempDirectory();
        string home = temp.Sub("home");
        string tree = Path.Combine(home, "src", "site");
        TestFiles.Create(Path.Combine(tree, "big.bin"), (3 << 20) + 5);
        TestFiles.Create(Path.Combine(tree, "sub", "small.txt"), 17, seed: 2);
        TestFiles.Create(Path.Combine(tree, "sub", "scratch.tmp"), 9, seed: 3);
        Directory.CreateDirectory(Path.Combine(tree, "empty"));
        TestFiles.Create(Path.Combine(home, "notes.txt"), 1000, seed: 4);
        // A file here, as rsync's client reads its --exclude-from and sends the rules.
        string patterns = Path.Combine(temp.Path, "leave-out");
        File.WriteAllText(patterns, "*.tmp\n");
        string shell = FakeSsh.Create(temp);
        string into = Path.Combine(temp.Path, "backup");

        var (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(new Dictionary<string, string> { ["HOME"] = home },
            "send", "-4", "-e", shell + " -tt", "--sglty-path", FakeSsh.Sglty, "--exclude-from", patterns, "backup@web1-alias:src/site", "backup@web1-alias:~/notes.txt", into);

        Assert.True(exit == 0, error);
        Assert.Contains("pulled 3 files", error);
        TestFiles.AssertSameBytes(Path.Combine(tree, "big.bin"), Path.Combine(into, "site", "big.bin"));
        TestFiles.AssertSameBytes(Path.Combine(tree, "sub", "small.txt"), Path.Combine(into, "site", "sub", "small.txt"));
        TestFiles.AssertSameBytes(Path.Combine(home, "notes.txt"), Path.Combine(into, "notes.txt"));
        Assert.True(Directory.Exists(Path.Combine(into, "site", "empty")));
        Assert.False(File.Exists(Path.Combine(into, "site", "sub", "scratch.tmp")));
        string words = File.ReadAllText(shell + ".words");
        Assert.Contains("backup", words);
        Assert.Contains("--token-file=-", words);
        // No terminal there, whatever -e asks: one would echo the token.
        Assert.Contains("-tt\n-T\n-l\nbackup\n", words);
        // -4 is ssh's and the receiver's here, not the send's there, which is given this machine's IPv4 address.
        Assert.StartsWith("-4\n-tt\n", words);
        Assert.DoesNotContain(" -4 ", words.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]);
        Assert.Contains("--to=sglty://127.0.0.1:", words);
        Assert.DoesNotContain("token=", words);
        Assert.DoesNotContain(patterns, words);
        Assert.DoesNotContain(".tmp", Directory.GetFiles(into, "*", SearchOption.AllDirectories).Aggregate("", string.Concat));
    }

    /// <summary>
    /// -FF in a pull: the send there reads the .rsync-filter files of its tree and leaves them out, and the receiver
    /// here reads its own for the deletion, which keeps what they protect.
    /// </summary>
    [Fact]
    public async Task A_pull_with_per_directory_rules_reads_each_sides_files()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var temp = new TempDirectory();
        string home = temp.Sub("home");
        string tree = Path.Combine(home, "src", "site");
        TestFiles.Create(Path.Combine(tree, "page.html"), 300, seed: 1);
        TestFiles.Create(Path.Combine(tree, "logs", "access.log"), 200, seed: 2);
        File.WriteAllText(Path.Combine(tree, "logs", ".rsync-filter"), "- *.log\n");
        string into = Path.Combine(temp.Path, "backup");
        TestFiles.Create(Path.Combine(into, "site", "precious"), 10, seed: 3);
        TestFiles.Create(Path.Combine(into, "site", "stale"), 10, seed: 4);
        File.WriteAllText(Path.Combine(into, "site", ".rsync-filter"), "P precious\n");
        string shell = FakeSsh.Create(temp);

        var (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(new Dictionary<string, string> { ["HOME"] = home },
            "send", "-e", shell, "--sglty-path", FakeSsh.Sglty, "-FF", "--delete", "localhost:src/site", into);

        Assert.True(exit == 0, error);
        TestFiles.AssertSameBytes(Path.Combine(tree, "page.html"), Path.Combine(into, "site", "page.html"));
        Assert.False(File.Exists(Path.Combine(into, "site", "logs", "access.log")));
        Assert.False(File.Exists(Path.Combine(into, "site", "logs", ".rsync-filter")));
        Assert.True(File.Exists(Path.Combine(into, "site", "precious")));
        Assert.True(File.Exists(Path.Combine(into, "site", ".rsync-filter")));
        Assert.False(File.Exists(Path.Combine(into, "site", "stale")));
        Assert.Contains("--filter=: /.rsync-filter", File.ReadAllText(shell + ".words"));
    }

    /// <summary>A pull whose disk here is full says so as this machine's, not as a receiver's elsewhere.</summary>
    [SkippableFact]
    public async Task A_full_disk_here_is_told_as_this_machines()
    {
        Skip.IfNot(Environment.IsPrivilegedProcess, "needs root on Linux to mount a size-limited tmpfs");
        if (!OperatingSystem.IsLinux()) return;
        using var temp = new TempDirectory();
        string home = temp.Sub("home");
        TestFiles.Create(Path.Combine(home, "data", "big.bin"), 64 << 20);
        string shell = FakeSsh.Create(temp);
        string mount = temp.Sub("small");
        Skip.IfNot(Commands.Run("mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", mount), "mount -t tmpfs is not permitted here");
        try
        {
            var (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(new Dictionary<string, string> { ["HOME"] = home },
                "send", "-e", shell, "--sglty-path", FakeSsh.Sglty, "localhost:data", mount);

            Assert.True(exit == 11, error);
            Assert.Contains("sglty: error: the receive here ended the pull: disk full: the transfer needs 64.00 MiB but the destination has 48.00 MiB free", error);
            Assert.DoesNotContain("the receiver ended the session", error);
        }
        finally
        {
            Commands.Run("umount", "-l", mount);
        }
    }

    [Fact]
    public async Task A_pull_passes_on_delete_and_dry_run_and_says_what_failed_there()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var temp = new TempDirectory();
        string home = temp.Sub("home");
        string tree = Path.Combine(home, "data");
        TestFiles.Create(Path.Combine(tree, "a.bin"), 100_000);
        string shell = FakeSsh.Create(temp);
        var environment = new Dictionary<string, string> { ["HOME"] = home };
        string[] common = ["-e", shell, "--sglty-path", FakeSsh.Sglty];
        string into = temp.Sub("mirror");
        string stale = TestFiles.Create(Path.Combine(into, "stale.txt"), 10, seed: 5);

        // A dry run lists what it would do, and changes nothing here.
        var (exit, output, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, ["send", "-n", "--delete", "localhost:data/", into, .. common]);
        Assert.True(exit == 0, error);
        Assert.Contains("a.bin", output);
        Assert.Contains("deleting stale.txt", output);
        Assert.True(File.Exists(stale));
        Assert.False(File.Exists(Path.Combine(into, "a.bin")));
        // Nor into a directory not there.
        string missing = Path.Combine(temp.Path, "not-yet");
        (exit, output, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, ["send", "-n", "localhost:data", missing, .. common]);
        Assert.True(exit == 0, error);
        Assert.Contains("data/a.bin", output);
        Assert.False(Path.Exists(missing));

        // --mkpath=false is the pull's, and its value too; the receiver here says what the send there is not told.
        (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, ["send", "--delete", "--mkpath=false", "--link-dest=no-such", "localhost:data/", into, .. common]);
        Assert.True(exit == 0, error);
        TestFiles.AssertSameBytes(Path.Combine(tree, "a.bin"), Path.Combine(into, "a.bin"));
        Assert.False(File.Exists(stale));
        Assert.Contains("sglty: here: --link-dest 'no-such' is not a directory here", error);

        // --delay-updates goes there, and the receiver here admits it, as the pull asked for it.
        string delayed = temp.Sub("delayed");
        (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, ["send", "--delay-updates", "localhost:data/", delayed, .. common]);
        Assert.True(exit == 0, error);
        TestFiles.AssertSameBytes(Path.Combine(tree, "a.bin"), Path.Combine(delayed, "a.bin"));
        Assert.Contains("--delay-updates", File.ReadAllText(shell + ".words"));

        // --listen picks the port here (and is the pull's own): the send there is told it.
        int port = Ports.Free();
        string listened = temp.Sub("listened");
        (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, ["send", "--listen", $"0.0.0.0:{port}", "localhost:data/", listened, .. common]);
        Assert.True(exit == 0, error);
        TestFiles.AssertSameBytes(Path.Combine(tree, "a.bin"), Path.Combine(listened, "a.bin"));
        string words = File.ReadAllText(shell + ".words");
        Assert.Contains($"--to=sglty://127.0.0.1:{port}/", words);
        Assert.DoesNotContain("--listen", words);

        // ~ is the home there, even where --sglty-path changes directory first.
        string other = temp.Sub("other");
        (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, "send", "localhost:~/data/a.bin", other, "-e", shell, "--sglty-path", $"cd / && {FakeSsh.Sglty}");
        Assert.True(exit == 0, error);
        TestFiles.AssertSameBytes(Path.Combine(tree, "a.bin"), Path.Combine(other, "a.bin"));

        // The send there says what it could not find, named with the machine, and its exit code is the pull's.
        (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, ["send", "localhost:data/gone.bin", into, .. common]);
        Assert.Equal(3, exit);
        Assert.Equal("sglty: error: cannot send 'data/gone.bin' on localhost: no such file or directory", error.Trim());
        // What cannot run there is told, with what to do, and the directory made for it is not left behind.
        string never = Path.Combine(temp.Path, "never");
        (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, "send", "--mkpath", "localhost:data", Path.Combine(never, "a", "b"), "-e", shell);
        Assert.NotEqual(0, exit);
        // In one line: the words there are the pull's.
        Assert.Equal("sglty: error: could not start sglty on localhost: sglty is not on the PATH of a login there, nor at ~/sglty/sglty; install it there (on the PATH of its logins, or at ~/sglty/sglty), or name it with --sglty-path", error.Trim());
        Assert.False(Path.Exists(never));
        (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, "send", "--mkpath", "localhost:data/a.bin", Path.Combine(never, "c", "named.bin"), "-e", shell);
        Assert.NotEqual(0, exit);
        Assert.False(Path.Exists(never));
        // An older sglty there, which does not know how a pull starts it.
        string older = Path.Combine(temp.Path, "older-sglty");
        FakeSsh.Script(older, "echo \"sglty: error: unknown option '--until-stdin-closes' (a path that starts with '-' is written ./--until-stdin-closes)\" >&2\nexit 1\n");
        (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, "send", "localhost:data", into, "-e", shell, "--sglty-path", older);
        Assert.NotEqual(0, exit);
        Assert.Contains("the sglty on localhost is older than this one, and cannot be pulled from; update it there", error);
        // A send there that cannot connect back is told what stops it here.
        string elsewhere = Path.Combine(temp.Path, "elsewhere-sglty");
        FakeSsh.Script(elsewhere, $"n=$#; i=0; while [ $i -lt $n ]; do a=$1; shift; case $a in --to=*) a=--to=sglty://127.0.0.1:{Ports.Free()}/;; esac; set -- \"$@\" \"$a\"; i=$((i+1)); done\nexec {FakeSsh.Sglty} \"$@\"\n");
        (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, "send", "--no-tunnel", "localhost:data", into, "-e", shell, "--sglty-path", elsewhere);
        Assert.NotEqual(0, exit);
        Assert.Contains("could not connect back to this machine at 127.0.0.1:", error);
        Assert.Contains("choose it with --listen, pull with --tunnel", error);
        // Without --no-tunnel, ssh's connection is tried next: this stand-in makes none, which is told.
        (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, "send", "localhost:data", into, "-e", shell, "--sglty-path", elsewhere);
        Assert.NotEqual(0, exit);
        Assert.Contains("; pulling through ssh's connection instead", error);
        Assert.Contains("sglty: error: the send on localhost could not connect through ssh's connection (its port ", error);
        Assert.Contains("-R\n127.0.0.1:", File.ReadAllText(shell + ".words"));
        // ssh, or the send there, killed by a signal is told, not passed on as an exit code alone.
        string killed = FakeSsh.Script(Path.Combine(temp.Path, "killed-sglty"), "kill -9 $$\n");
        (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, "send", "localhost:data", into, "-e", shell, "--sglty-path", killed);
        Assert.Equal(10, exit);
        Assert.EndsWith("\nsglty: error: the pull from localhost ended when ssh, or the send there, was killed (signal 9)", error.Trim());
        // A send stopped there (not here) is told as such.
        string stopped = FakeSsh.Script(Path.Combine(temp.Path, "stopped-sglty"), "echo 'sglty: interrupted; the same send again resumes what arrived' >&2\nexit 130\n");
        (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, "send", "localhost:data", into, "-e", shell, "--sglty-path", stopped);
        Assert.NotEqual(0, exit);
        Assert.Contains("sglty: error: the send on localhost was stopped there; the same pull again resumes what arrived", error);
        // What comes from there is shown as text from a peer: no terminal codes reach this one.
        string loud = Path.Combine(temp.Path, "loud-sglty");
        FakeSsh.Script(loud, "printf 'out \\033[31mred\\n'\nprintf 'err \\033[31mred\\n' >&2\n");
        (exit, output, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, "send", "localhost:data", into, "-e", shell, "--sglty-path", loud);
        Assert.True(exit == 0, error);
        Assert.Contains("out ?[31mred", output);
        Assert.Contains("err ?[31mred", error);
        Assert.DoesNotContain('\u001b', output + error);
    }

    /// <summary>
    /// Wildcards are matched by the shell there, as scp's and rsync's are: what they match arrives, and nothing else;
    /// a '\' makes a wildcard a name's own, and nothing else in the path reaches that shell as more than text.
    /// </summary>
    [Fact]
    public async Task Wildcards_are_matched_there_and_what_they_match_arrives()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var temp = new TempDirectory();
        string home = temp.Sub("home");
        string logs = Path.Combine(home, "logs");
        string[] names = ["a.log", "b.log", "c.txt", ".hidden.log", "a*b.log", "it's [x].log", "$(touch pwned).log", "n[1].txt"];
        for (int i = 0; i < names.Length; i++) TestFiles.Create(Path.Combine(logs, names[i]), 1000 + 4321 * i, seed: 20 + i);
        TestFiles.Create(Path.Combine(logs, "sub dir", "d.log"), 70_000, seed: 30);
        string shell = FakeSsh.Create(temp);
        var environment = new Dictionary<string, string> { ["HOME"] = home };
        string[] common = ["-e", shell, "--sglty-path", FakeSsh.Sglty];
        void Holds(string directory, params string[] expected)
        {
            Assert.Equal(expected.Order(StringComparer.Ordinal), Directory.GetFileSystemEntries(directory).Select(Path.GetFileName).Order(StringComparer.Ordinal));
            foreach (string name in expected) TestFiles.AssertSameBytes(Path.Combine(logs, name), Path.Combine(directory, name));
        }

        // Into a name not there: a pattern may match many, so it is made a directory.
        string all = Path.Combine(temp.Path, "all");
        var (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, ["send", "localhost:logs/*.log", all, .. common]);
        Assert.True(exit == 0, error);
        Holds(all, "a.log", "b.log", "a*b.log", "it's [x].log", "$(touch pwned).log");

        // Classes, '?', a '\' that makes '*' a name's, and a '~' and a space beside them, each into a directory here.
        string some = temp.Sub("some");
        (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, ["send", "localhost:logs/[ab].log", "localhost:~/logs/[!a-b].???", "localhost:logs/a\\*b.*", "localhost:~/logs/sub dir/?.log", some, .. common]);
        Assert.True(exit == 0, error);
        Assert.Equal(["a*b.log", "a.log", "b.log", "c.txt", "d.log"], Directory.GetFileSystemEntries(some).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        TestFiles.AssertSameBytes(Path.Combine(logs, "sub dir", "d.log"), Path.Combine(some, "d.log"));
        foreach (string name in new[] { "a*b.log", "a.log", "b.log", "c.txt" }) TestFiles.AssertSameBytes(Path.Combine(logs, name), Path.Combine(some, name));

        // A class that matches nothing is left as its text by the shell there, which names a file as scp finds it.
        string literal = temp.Sub("literal");
        (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, ["send", "localhost:logs/n[1].txt", literal, .. common]);
        Assert.True(exit == 0, error);
        Holds(literal, "n[1].txt");

        // What matches nothing is said so; the path's other characters reached the shell as text, and ran nothing.
        (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, ["send", "localhost:logs/$(touch pwned)*.gz", some, .. common]);
        Assert.NotEqual(0, exit);
        // In one line: not the send's own, which names the pattern as a path it cannot find, too.
        Assert.Equal("sglty: error: nothing on localhost matches 'logs/$(touch pwned)*.gz'", error.Trim());
        Assert.False(File.Exists(Path.Combine(home, "pwned")));
        Assert.False(File.Exists(Path.Combine(logs, "pwned")));
        // Beside one that matches, it is told, and what the other matches arrives, as scp and rsync fetch it.
        string beside = temp.Sub("beside");
        (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, ["send", "localhost:logs/*.gz", "localhost:logs/[ab].log", beside, .. common]);
        Assert.Equal(23, exit);
        Assert.Contains("sglty: nothing on localhost matches 'logs/*.gz'", error);
        Assert.DoesNotContain("not sending", error);
        Holds(beside, "a.log", "b.log");
        // The one that matched nothing is named, not another whose text it ends with; under -q too.
        string nowhere = $"{temp.Path}/nowhere/logs/[ab].log";
        (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, ["send", "-q", "localhost:logs/[ab].log", $"localhost:{nowhere}", beside, .. common]);
        Assert.Equal(23, exit);
        Assert.Contains($"sglty: nothing on localhost matches '{nowhere}'", error);
        Assert.DoesNotContain("'logs/[ab].log'", error);
        // A file here does not take what a pattern matches.
        string file = TestFiles.Create(Path.Combine(temp.Path, "one.log"), 10, seed: 31);
        (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, ["send", "localhost:logs/a.lo?", file, .. common]);
        Assert.NotEqual(0, exit);
        Assert.Contains("a pull of more than one path, of a pattern,", error);
    }

    /// <summary>
    /// --files-from is read here, as rsync's client reads it, and the names it lists are pulled, kept as named below the
    /// one path there: from a file of lines, and NUL-separated from standard input (a name with a line end too).
    /// </summary>
    [Fact]
    public async Task A_list_read_here_chooses_what_is_pulled()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var temp = new TempDirectory();
        string source = temp.Sub("there");
        string[] names = ["a/b/one.bin", "c/two words.txt", "c/left.txt", "d/new\nline.txt", "é/ü.txt"];
        for (int i = 0; i < names.Length; i++) TestFiles.Create(Path.Combine(source, names[i]), i == 0 ? (5 << 20) + 3 : 100 * i, seed: 40 + i);
        string shell = FakeSsh.Create(temp);
        string list = Path.Combine(temp.Path, "list");
        File.WriteAllText(list, "# what to pull\na/b/one.bin\n\nc/two words.txt\né/ü.txt\n");
        void Holds(string directory, params string[] expected)
        {
            Assert.Equal(expected.Order(StringComparer.Ordinal), Directory.GetFiles(directory, "*", SearchOption.AllDirectories).Select(file => Path.GetRelativePath(directory, file)).Order(StringComparer.Ordinal));
            foreach (string name in expected) TestFiles.AssertSameBytes(Path.Combine(source, name), Path.Combine(directory, name));
        }

        string first = Path.Combine(temp.Path, "first");
        var (exit, _, error) = await SgltyProcess.RunAsync("send", "--files-from", list, $"localhost:{source}", first, "-e", shell, "--sglty-path", FakeSsh.Sglty);
        Assert.True(exit == 0, error);
        Holds(first, "a/b/one.bin", "c/two words.txt", "é/ü.txt");
        string words = File.ReadAllText(shell + ".words");
        Assert.Contains("--files-from=- --from0", words);
        Assert.DoesNotContain(list, words);
        Assert.DoesNotContain("one.bin", words);

        // NUL-separated, from standard input here; the same list again finds the first file unchanged.
        string second = temp.Sub("second");
        Directory.CreateDirectory(Path.Combine(second, "a", "b"));
        File.Copy(Path.Combine(source, "a/b/one.bin"), Path.Combine(second, "a/b/one.bin"));
        File.SetLastWriteTimeUtc(Path.Combine(second, "a/b/one.bin"), File.GetLastWriteTimeUtc(Path.Combine(source, "a/b/one.bin")));
        (exit, _, error) = await SgltyProcess.RunWithInputAsync("a/b/one.bin\0d/new\nline.txt\0c/left.txt\0", "send", "-0", "--files-from", "-", $"localhost:{source}/", second, "-e", shell, "--sglty-path", FakeSsh.Sglty);
        Assert.True(exit == 0, error);
        Assert.Contains("pulled 2 files", error);
        Holds(second, "a/b/one.bin", "d/new\nline.txt", "c/left.txt");
    }

    /// <summary>
    /// The send a pull starts reads its list after the token's line (whatever else gives a token), up to an empty
    /// name; an input that ends first is a pull that ended.
    /// </summary>
    [Fact]
    public async Task A_list_cut_short_is_told_as_the_pull_ending()
    {
        using var temp = new TempDirectory();
        var (exit, _, error) = await SgltyProcess.RunWithInputAsync("token\na/b\0c", "send", "--until-stdin-closes", "--token-file", "-", "--files-from", "-", "--from0", temp.Path, "--to", $"sglty://127.0.0.1:{Ports.Free()}/");
        Assert.NotEqual(0, exit);
        Assert.Contains("--files-from -: standard input ended before the list did; the pull that started this send has ended", error);
        (exit, _, error) = await SgltyProcess.RunWithInputAsync("TOKEN\nnot-there\0\0", "send", "--until-stdin-closes", "--token-file", "-", "--files-from", "-", "--from0", temp.Path, "--to", $"sglty://127.0.0.1:{Ports.Free()}/?token=abc");
        Assert.NotEqual(0, exit);
        Assert.Contains("not-there", error);
        Assert.DoesNotContain("TOKEN", error);
    }

    /// <summary>
    /// What goes with a list is told here: an empty one is nothing to do (no login), a pattern is no directory to list
    /// in, and a pull stopped while the send there has not read a long list yet ends at once.
    /// </summary>
    [Fact]
    public async Task A_list_here_that_cannot_go_is_told_and_a_long_one_does_not_hold_a_stopped_pull()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var temp = new TempDirectory();
        string shell = FakeSsh.Create(temp);
        string empty = Path.Combine(temp.Path, "empty-list");
        File.WriteAllText(empty, "# nothing today\n");
        var (exit, _, error) = await SgltyProcess.RunAsync("send", "--files-from", empty, "localhost:/srv", temp.Sub("into"), "-e", shell, "--sglty-path", FakeSsh.Sglty);
        Assert.True(exit == 0, error);
        Assert.Equal($"sglty: --files-from '{empty}' names nothing to send", error.Trim());
        Assert.False(File.Exists(shell + ".words"));
        string one = Path.Combine(temp.Path, "one-name");
        File.WriteAllText(one, "a.txt\n");
        (exit, _, error) = await SgltyProcess.RunAsync("send", "--files-from", one, "localhost:/srv/*", temp.Sub("into"), "-e", shell, "--sglty-path", FakeSsh.Sglty);
        Assert.NotEqual(0, exit);
        Assert.Contains("'/srv/*' is a pattern, which may match many; name the directory", error);

        // A send there that reads nothing for a long while, and a list beyond what a pipe holds.
        string list = Path.Combine(temp.Path, "long-list");
        File.WriteAllText(list, string.Concat(Enumerable.Range(0, 40_000).Select(i => $"dir/file-{i:D6}.txt\n")));
        var pull = SgltyProcess.Start("send", "--files-from", list, "localhost:/srv", temp.Sub("into-long"), "-e", shell, "--sglty-path", "sleep 600; sglty");
        using (pull)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
            while (!File.Exists(shell + ".pid") && DateTime.UtcNow < deadline) await Task.Delay(50);
            Assert.True(File.Exists(shell + ".pid"), "the shell never started");
            await Task.Delay(500);
            using (var kill = System.Diagnostics.Process.Start("kill", ["-TERM", pull.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) await kill.WaitForExitAsync();
            // Its own wait for the shell is 10 s; the send there sleeps far longer.
            var (stopped, _, said) = await SgltyProcess.FinishAsync(pull, TimeSpan.FromSeconds(120));
            Assert.True(stopped == 130, said);
        }
    }

    /// <summary>
    /// --log-file is written here, as rsync's client writes it: the send there gives its log's lines on its standard
    /// error, which are appended here with this machine's time and process, and neither shown nor taken for its last
    /// words; a log that cannot be written is told before anything runs.
    /// </summary>
    [Fact]
    public async Task A_pull_logs_here_what_the_send_there_did()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var temp = new TempDirectory();
        string source = temp.Sub("there");
        TestFiles.Create(Path.Combine(source, "a.bin"), 70_000, seed: 50);
        TestFiles.Create(Path.Combine(source, "sub", "b.txt"), 100, seed: 51);
        string shell = FakeSsh.Create(temp);
        string logFile = Path.Combine(temp.Path, "pull.log");
        string into = temp.Sub("into");

        var (exit, _, error) = await SgltyProcess.RunAsync("send", "--log-file", logFile, $"localhost:{source}/", into, "-e", shell, "--sglty-path", FakeSsh.Sglty);
        Assert.True(exit == 0, error);
        TestFiles.AssertSameTree(source, into);
        Assert.DoesNotContain(RemoteSender.LogLine, error);
        string[] lines = File.ReadAllLines(logFile);
        Assert.All(lines, line => Assert.Matches(@"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[\d+\] ", line));
        Assert.Contains(lines, line => line.Contains($"] pulling 1 path from localhost into {into}", StringComparison.Ordinal));
        Assert.Contains(lines, line => line.EndsWith("] >f+++++++++ a.bin", StringComparison.Ordinal));
        Assert.Contains(lines, line => line.EndsWith("] >f+++++++++ sub/b.txt", StringComparison.Ordinal));
        Assert.Contains(lines, line => line.Contains("] sent 2 files", StringComparison.Ordinal));
        Assert.DoesNotContain("--log-file=" + logFile, File.ReadAllText(shell + ".words"));

        // Its format goes there; what the send there cannot do is logged here too.
        TestFiles.Create(Path.Combine(source, "c.txt"), 10, seed: 52);
        (exit, _, error) = await SgltyProcess.RunAsync("send", "--log-file", logFile, "--log-file-format", "got %n", $"localhost:{source}/", into, "-e", shell, "--sglty-path", FakeSsh.Sglty);
        Assert.True(exit == 0, error);
        (exit, _, error) = await SgltyProcess.RunAsync("send", "--log-file", logFile, $"localhost:{source}/", "localhost:/no/such/path", into, "-e", shell, "--sglty-path", FakeSsh.Sglty);
        Assert.Equal(23, exit);
        string more = File.ReadAllText(logFile)[string.Join('\n', lines).Length..];
        Assert.Contains("] got c.txt", more);
        Assert.Contains("] not sending '/no/such/path': no such file or directory", more);

        File.Delete(shell + ".words");
        (exit, _, error) = await SgltyProcess.RunAsync("send", "--log-file", Path.Combine(temp.Path, "no-dir", "pull.log"), $"localhost:{source}/", into, "-e", shell, "--sglty-path", FakeSsh.Sglty);
        Assert.NotEqual(0, exit);
        Assert.Contains("cannot write the log file", error);
        (exit, _, error) = await SgltyProcess.RunAsync("send", "--log-file", temp.Path, $"localhost:{source}/", into, "-e", shell, "--sglty-path", FakeSsh.Sglty);
        Assert.NotEqual(0, exit);
        Assert.Contains($"cannot write the log file '{temp.Path}': it is a directory", error);
        Assert.False(File.Exists(shell + ".words"));
    }

    /// <summary>zsh, and bash with failglob, refuse a pattern that matches nothing themselves: the one they name is told.</summary>
    [Fact]
    public async Task A_pattern_the_shell_there_refuses_is_the_one_told()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var temp = new TempDirectory();
        string shell = FakeSsh.Create(temp);
        string zsh = FakeSsh.Script(Path.Combine(temp.Path, "as-zsh"), "echo 'zsh:1: no matches found: logs/zz*' >&2\nexit 1\n");
        var (exit, _, error) = await SgltyProcess.RunAsync("send", "localhost:logs/a*", "localhost:logs/zz*", temp.Sub("into"), "-e", shell, "--sglty-path", zsh);
        Assert.NotEqual(0, exit);
        Assert.Contains("sglty: error: nothing on localhost matches 'logs/zz*'", error);
    }

    /// <summary>All the send there prints reaches this one's output, however slowly it is read here: a long -v list.</summary>
    [Fact]
    public async Task What_the_send_there_prints_reaches_a_slow_reader_whole()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var temp = new TempDirectory();
        string home = temp.Sub("home");
        const int Files = 3000;
        for (int i = 0; i < Files; i++) File.WriteAllText(Path.Combine(temp.Sub("home/lots"), $"a-name-long-enough-to-make-a-long-list-{i:D5}.txt"), "x");
        string shell = FakeSsh.Create(temp);

        var info = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in (string[])[Path.Combine(AppContext.BaseDirectory, "sglty.dll"), "send", "-v", "localhost:lots", temp.Sub("here"), "-e", shell, "--sglty-path", FakeSsh.Sglty])
            info.ArgumentList.Add(argument);
        info.Environment["HOME"] = home;
        using var pull = System.Diagnostics.Process.Start(info)!;
        var error = pull.StandardError.ReadToEndAsync();
        // A reader slower than the send there writes: its output waits in the pipes after it ended.
        var read = new System.Text.StringBuilder();
        var buffer = new char[4096];
        int got;
        while ((got = await pull.StandardOutput.ReadAsync(buffer)) > 0)
        {
            read.Append(buffer, 0, got);
            await Task.Delay(100);
        }
        await pull.WaitForExitAsync();

        Assert.True(pull.ExitCode == 0, await error);
        Assert.Equal(Files, read.ToString().Split('\n').Count(line => line.StartsWith("lots/a-name-long-enough", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_directory_here_that_cannot_take_the_pull_is_told_before_anything_runs()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var temp = new TempDirectory();
        string shell = FakeSsh.Create(temp);
        string file = TestFiles.Create(Path.Combine(temp.Path, "file"), 10);

        var (exit, _, error) = await SgltyProcess.RunAsync("send", "localhost:data", "localhost:more", file, "-e", shell, "--sglty-path", FakeSsh.Sglty);
        Assert.NotEqual(0, exit);
        Assert.Contains($"'{file}' is not a directory, and a pull of more than one path, of a pattern, of a directory's contents or with --relative goes into one", error);
        (exit, _, error) = await SgltyProcess.RunAsync("send", "localhost:data/", file, "-e", shell, "--sglty-path", FakeSsh.Sglty);
        Assert.NotEqual(0, exit);
        Assert.Contains($"'{file}' is not a directory", error);

        string deep = Path.Combine(temp.Path, "a", "b");
        (exit, _, error) = await SgltyProcess.RunAsync("send", "localhost:data", deep, "-e", shell, "--sglty-path", FakeSsh.Sglty);
        Assert.NotEqual(0, exit);
        Assert.Contains($"'{Path.Combine(temp.Path, "a")}' is not there; make it first, or pull with --mkpath", error);
        Assert.False(File.Exists(shell + ".words"));
    }

    /// <summary>
    /// As scp and rsync name what they pull: one file sent to a name that is no directory here takes that name (over a
    /// file there too), and a directory sent to one not there goes into a directory of that name.
    /// </summary>
    [Fact]
    public async Task One_file_pulled_to_another_name_takes_it_and_a_directory_goes_into_one_of_that_name()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var temp = new TempDirectory();
        string home = temp.Sub("home");
        string dump = TestFiles.Create(Path.Combine(home, "db.dump"), 300_000, seed: 7);
        string tree = Path.Combine(home, "site");
        TestFiles.Create(Path.Combine(tree, "index.html"), 5_000, seed: 8);
        string shell = FakeSsh.Create(temp);
        var environment = new Dictionary<string, string> { ["HOME"] = home };
        string[] common = ["-e", shell, "--sglty-path", FakeSsh.Sglty];
        string here = temp.Sub("here");

        // A dry run names it so, and makes nothing.
        var (exit, output, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, ["send", "-n", "localhost:db.dump", Path.Combine(here, "db-1206.dump"), .. common]);
        Assert.True(exit == 0, error);
        Assert.Contains("db-1206.dump", output);
        Assert.Empty(Directory.GetFileSystemEntries(here));

        (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, ["send", "localhost:db.dump", Path.Combine(here, "db-1206.dump"), .. common]);
        Assert.True(exit == 0, error);
        TestFiles.AssertSameBytes(dump, Path.Combine(here, "db-1206.dump"));
        Assert.Single(Directory.GetFileSystemEntries(here));

        string older = TestFiles.Create(Path.Combine(here, "older.dump"), 10, seed: 9);
        (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, ["send", "localhost:db.dump", older, .. common]);
        Assert.True(exit == 0, error);
        TestFiles.AssertSameBytes(dump, older);
        // A dry run to it now finds it unchanged, as the send does.
        (exit, output, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, ["send", "-n", "localhost:db.dump", older, .. common]);
        Assert.True(exit == 0, error);
        Assert.Contains("would pull 0 files (1 unchanged", error);
        // A directory cannot take the place of a file: refused there, and nothing is left here to resume.
        (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, ["send", "localhost:site", older, .. common]);
        Assert.Equal(3, exit);
        Assert.Equal([$"sglty: error: what was pulled is a directory, and '{older}' is not one; pull it to another name, or into the directory above"],
            error.Split('\n').Where(line => line.StartsWith("sglty: error:", StringComparison.Ordinal)));
        TestFiles.AssertSameBytes(dump, older);
        Assert.Empty(Directory.GetDirectories(here, ".*"));

        (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, ["send", "localhost:site", Path.Combine(here, "www"), .. common]);
        Assert.True(exit == 0, error);
        TestFiles.AssertSameBytes(Path.Combine(tree, "index.html"), Path.Combine(here, "www", "site", "index.html"));

        // Where a directory is, the send there tells, by its own path: --sglty-path may change directory first.
        string srv = temp.Sub("srv");
        TestFiles.Create(Path.Combine(srv, "dirx", "in.txt"), 100, seed: 10);
        (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, "send", "localhost:dirx", Path.Combine(here, "got"), "-e", shell, "--sglty-path", $"cd '{srv}' && {FakeSsh.Sglty}");
        Assert.True(exit == 0, error);
        TestFiles.AssertSameBytes(Path.Combine(srv, "dirx", "in.txt"), Path.Combine(here, "got", "dirx", "in.txt"));

        // "DIR/." names a directory, as it does to cp.
        (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, ["send", "localhost:db.dump", Path.Combine(here, "nd") + "/.", .. common]);
        Assert.True(exit == 0, error);
        TestFiles.AssertSameBytes(dump, Path.Combine(here, "nd", "db.dump"));
        Assert.Empty(Directory.GetDirectories(here, ".*"));
    }

    /// <summary>
    /// --backup with a pull to a name keeps what the name held beside it, as a push keeps it (NAME~, an older one
    /// replaced); --backup-dir with a name is refused, with the way to pull instead.
    /// </summary>
    [Fact]
    public async Task A_pull_to_a_name_keeps_a_backup_beside_it()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var temp = new TempDirectory();
        string dump = TestFiles.Create(Path.Combine(temp.Sub("there"), "db.dump"), 200_000, seed: 60);
        string shell = FakeSsh.Create(temp);
        string here = temp.Sub("here");
        string named = Path.Combine(here, "db-latest.dump");
        string first = TestFiles.Create(named, 1_000, seed: 61);
        byte[] before = File.ReadAllBytes(first);
        string[] common = ["-e", shell, "--sglty-path", FakeSsh.Sglty];

        var (exit, _, error) = await SgltyProcess.RunAsync(["send", "--backup", $"localhost:{dump}", named, .. common]);
        Assert.True(exit == 0, error);
        TestFiles.AssertSameBytes(dump, named);
        Assert.Equal(before, File.ReadAllBytes(named + "~"));
        Assert.Equal(["db-latest.dump", "db-latest.dump~"], Directory.GetFileSystemEntries(here).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        // The next version: the backup is now what the last pull brought.
        byte[] last = File.ReadAllBytes(dump);
        TestFiles.Create(dump, 150_000, seed: 62);
        (exit, _, error) = await SgltyProcess.RunAsync(["send", "--backup", "--suffix", "~", $"localhost:{dump}", named, .. common]);
        Assert.True(exit == 0, error);
        TestFiles.AssertSameBytes(dump, named);
        Assert.Equal(last, File.ReadAllBytes(named + "~"));

        (exit, _, error) = await SgltyProcess.RunAsync(["send", "--backup-dir", "old", $"localhost:{dump}", named, .. common]);
        Assert.NotEqual(0, exit);
        Assert.Contains("--backup-dir with a pull to a name", error);
        Assert.Equal(2, Directory.GetFileSystemEntries(here).Length);

        // An earlier pull's staging holds a link to what the name held then; the file replaced since is what a
        // backup keeps.
        string staging = Directory.CreateDirectory(Path.Combine(here, ".db-latest.dump.sglty-pull")).FullName;
        Singularity.Engine.Storage.SpecialFiles.Link(named, Path.Combine(staging, "db-latest.dump"));
        string replacing = TestFiles.Create(Path.Combine(temp.Path, "replacing"), 3_000, seed: 63);
        byte[] now = File.ReadAllBytes(replacing);
        File.Move(replacing, named, overwrite: true);
        TestFiles.Create(dump, 120_000, seed: 64);
        (exit, _, error) = await SgltyProcess.RunAsync(["send", "--backup", $"localhost:{dump}", named, .. common]);
        Assert.True(exit == 0, error);
        TestFiles.AssertSameBytes(dump, named);
        Assert.Equal(now, File.ReadAllBytes(named + "~"));

        // A directory where the backup would go: the file at the name is left as it was, and the pull says so.
        File.Delete(named + "~");
        Directory.CreateDirectory(named + "~");
        byte[] kept = File.ReadAllBytes(named);
        TestFiles.Create(dump, 90_000, seed: 65);
        (exit, _, error) = await SgltyProcess.RunAsync(["send", "--backup", $"localhost:{dump}", named, .. common]);
        Assert.NotEqual(0, exit);
        Assert.Contains($"'{named}' was left as it was: its backup '{named}~' could not be made: a directory stands there", error);
        Assert.Equal(kept, File.ReadAllBytes(named));
    }

    /// <summary>
    /// A pull to a name is received apart, and only what was sent under that name is put in place: the side pulled from
    /// cannot write beside it (scp's CVE-2019-6111), whatever it sends.
    /// </summary>
    [Fact]
    public async Task A_pull_to_a_name_gives_the_side_pulled_from_nothing_beside_it()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var temp = new TempDirectory();
        string home = temp.Sub("home");
        TestFiles.Create(Path.Combine(home, "data", "a.txt"), 100, seed: 11);
        File.WriteAllText(Path.Combine(temp.Sub("home/evil"), ".profile"), "echo pwned\n");
        string shell = FakeSsh.Create(temp);
        // A sglty there that sends what it likes to the receiver's root, not what it was asked for.
        string hostile = Path.Combine(temp.Path, "hostile-sglty");
        FakeSsh.Script(hostile, $"for a do case $a in --to=*) u=$a;; esac; done\nexec {FakeSsh.Sglty} send --until-stdin-closes --token-file=- \"$u\" -- evil/\n");
        string here = temp.Sub("here");
        string profile = Path.Combine(here, ".profile");
        File.WriteAllText(profile, "# mine\n");

        var (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(new Dictionary<string, string> { ["HOME"] = home },
            "send", "localhost:data", Path.Combine(here, "backup"), "-e", shell, "--sglty-path", hostile);

        Assert.NotEqual(0, exit);
        Assert.Contains("sglty: error: the machine pulled from sent '.profile', which it was not asked for; the pull refuses it (from localhost)", error);
        Assert.Equal("# mine\n", File.ReadAllText(profile));
        Assert.Equal([profile], Directory.GetFileSystemEntries(here));
    }

    /// <summary>
    /// Into a directory too, the side pulled from may send only what was asked for, as scp and rsync check it: names a
    /// pattern matches or a path names, and a deletion, --force or names deleted only when the pull asked for them.
    /// Whatever it asks beyond is refused, with nothing written here, even where the send there ends as if it went well.
    /// </summary>
    [Fact]
    public async Task A_pull_into_a_directory_admits_only_what_it_asked_for()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var temp = new TempDirectory();
        string home = temp.Sub("home");
        TestFiles.Create(Path.Combine(home, "logs", "a.log"), 100, seed: 12);
        File.WriteAllText(Path.Combine(temp.Sub("home/evil"), ".bashrc"), "echo pwned\n");
        string shell = FakeSsh.Create(temp);
        var environment = new Dictionary<string, string> { ["HOME"] = home };
        string here = temp.Sub("here");
        string bashrc = Path.Combine(here, ".bashrc");
        File.WriteAllText(bashrc, "# mine\n");
        // A sglty there that sends its own paths and options, not what it was asked for, and says all went well.
        string Hostile(string name, string words) =>
            FakeSsh.Script(Path.Combine(temp.Path, name), $"for a do case $a in --to=*) u=$a;; esac; done\n{FakeSsh.Sglty} send --until-stdin-closes --token-file=- \"$u\" {words}\nexit 0\n");

        foreach (var (hostile, said) in new[]
        {
            (Hostile("names", "-- evil/.bashrc"), "sent '.bashrc', which it was not asked for"),
            (Hostile("deletes", "--delete -- logs/a.log"), "sent a request to delete what it does not send (--delete)"),
            (Hostile("cleans", "--delete -- logs/"), "sent a request to delete what the target directory holds beyond what it sends"),
            (Hostile("forces", "--force -- logs/a.log"), "sent a request to replace directories that hold anything (--force)"),
            (Hostile("deletes-names", "--delete-missing-args -- gone/.bashrc"), "sent a request to delete names it gives (--delete-missing-args)"),
            // One that does not end after: the pull ends with the refusal all the same.
            (Hostile("stays", "-- evil/.bashrc\nsleep 600"), "sent '.bashrc', which it was not asked for"),
        })
        {
            var (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, "send", "localhost:logs/*.log", here, "-e", shell, "--sglty-path", hostile);
            Assert.NotEqual(0, exit);
            Assert.Contains("sglty: error: the machine pulled from " + said, error);
            Assert.Single(error.Split('\n'), line => line.Contains("the machine pulled from", StringComparison.Ordinal));
            Assert.Equal("# mine\n", File.ReadAllText(bashrc));
            Assert.Equal([bashrc], Directory.GetFileSystemEntries(here));
            // A directory made for the pull goes with it, as nothing arrived that was asked for.
            (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, "send", "localhost:logs/*.log", Path.Combine(here, "made", "for-it"), "--mkpath", "-e", shell, "--sglty-path", hostile);
            Assert.Contains("sglty: error: the machine pulled from " + said, error);
            Assert.Equal([bashrc], Directory.GetFileSystemEntries(here));
        }

        // What was asked for arrives, with the deletion asked for.
        string stale = TestFiles.Create(Path.Combine(here, "logs", "stale.log"), 10, seed: 13);
        var (done, _, doneError) = await SgltyProcess.RunWithEnvironmentAsync(environment, "send", "--delete", "localhost:logs", here, "-e", shell, "--sglty-path", FakeSsh.Sglty);
        Assert.True(done == 0, doneError);
        TestFiles.AssertSameBytes(Path.Combine(home, "logs", "a.log"), Path.Combine(here, "logs", "a.log"));
        Assert.False(File.Exists(stale));
        Assert.Equal("# mine\n", File.ReadAllText(bashrc));
    }

    /// <summary>
    /// A remote shell that is not ssh, to a host this machine cannot look up (an alias of its own): the send there
    /// connects back to the address its login came from.
    /// </summary>
    [Fact]
    public async Task A_host_this_machine_cannot_look_up_is_reached_by_the_address_its_login_came_from()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var temp = new TempDirectory();
        string home = temp.Sub("home");
        string file = TestFiles.Create(Path.Combine(home, "a.txt"), 1000, seed: 13);
        string wrapper = Path.Combine(Path.GetDirectoryName(FakeSsh.Create(temp))!, "wrapper");
        File.Copy(Path.Combine(temp.Path, "bin", "ssh"), wrapper);
        File.SetUnixFileMode(wrapper, (UnixFileMode)0b111_101_101);
        string here = temp.Sub("here");
        var environment = new Dictionary<string, string> { ["HOME"] = home, ["SSH_CONNECTION"] = "127.0.0.1 50000 127.0.0.1 22" };

        var (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, "send", "alias-of-the-wrapper.invalid:a.txt", here, "-e", wrapper, "--sglty-path", FakeSsh.Sglty);

        Assert.True(exit == 0, error);
        TestFiles.AssertSameBytes(file, Path.Combine(here, "a.txt"));
        // Without it, the send there says what to do.
        environment["SSH_CONNECTION"] = "";
        (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(environment, "send", "alias-of-the-wrapper.invalid:a.txt", temp.Sub("again"), "-e", wrapper, "--sglty-path", FakeSsh.Sglty);
        Assert.NotEqual(0, exit);
        Assert.Contains("no SSH_CONNECTION there, so the send cannot tell where this machine is", error);
    }

    /// <summary>
    /// A process the shell leaves behind that goes on printing does not keep the pull from ending (it ends itself once
    /// nobody reads it: its echo fails, SIGPIPE being ignored in what .NET starts).
    /// </summary>
    [Fact]
    public async Task A_process_left_behind_there_does_not_hold_the_pull()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var temp = new TempDirectory();
        string home = temp.Sub("home");
        string file = TestFiles.Create(Path.Combine(home, "a.txt"), 100, seed: 12);
        string shell = FakeSsh.Create(temp);
        string here = temp.Sub("here");

        var (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(new Dictionary<string, string> { ["HOME"] = home },
            "send", "localhost:a.txt", here, "-e", shell, "--sglty-path", $"{{ while echo tick >&2; do sleep 0.3; done & }}; {FakeSsh.Sglty}");

        Assert.True(exit == 0, error);
        TestFiles.AssertSameBytes(file, Path.Combine(here, "a.txt"));
    }

    /// <summary>
    /// However the pull ends, interrupted or killed, the send there ends with it (which would otherwise go on retrying
    /// for minutes), and the same pull again resumes.
    /// </summary>
    [Fact]
    public async Task The_send_there_ends_with_a_stopped_or_killed_pull_and_the_same_pull_again_completes()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var temp = new TempDirectory();
        string home = temp.Sub("home");
        string source = TestFiles.Create(Path.Combine(home, "big.bin"), 8 << 20, seed: 6);
        string shell = FakeSsh.Create(temp);
        string[] Arguments(string into) => ["send", "localhost:big.bin", into, "-e", shell, "--sglty-path", FakeSsh.Sglty, "--shard-size", "256KiB", "--retries", "1000"];

        // Started, and stopped once the receiver's journal vouches for some shards (a header and a few records).
        async Task<(System.Diagnostics.Process Pull, int There, Task<string> Output)> StartedAsync(string into, params string[] more)
        {
            var info = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (string argument in (string[])[Path.Combine(AppContext.BaseDirectory, "sglty.dll"), .. Arguments(into), "--bwlimit", "1MiB", .. more]) info.ArgumentList.Add(argument);
            info.Environment["HOME"] = home;
            var pull = System.Diagnostics.Process.Start(info)!;
            var output = pull.StandardOutput.ReadToEndAsync();
            _ = pull.StandardError.ReadToEndAsync();
            string journal = Path.Combine(into, ".big.bin.sglty-state");
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
            while (!(File.Exists(journal) && new FileInfo(journal).Length >= 256) && DateTime.UtcNow < deadline) await Task.Delay(50);
            Assert.True(File.Exists(journal), "the pull never started writing");
            return (pull, int.Parse(File.ReadAllText(shell + ".pid").Trim()), output);
        }
        async Task EndsAsync(int there)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
            while (Directory.Exists($"/proc/{there}") && DateTime.UtcNow < deadline) await Task.Delay(50);
            Assert.False(Directory.Exists($"/proc/{there}"), "the send there outlived the pull");
        }

        // Stopped (SIGTERM, as Ctrl-C): it says so, once, in JSON too.
        string stopped = temp.Sub("stopped");
        var (pull, there, output) = await StartedAsync(stopped, "--json");
        using (pull)
        {
            using (var kill = System.Diagnostics.Process.Start("kill", ["-TERM", pull.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) await kill.WaitForExitAsync();
            await pull.WaitForExitAsync();
            Assert.Equal(130, pull.ExitCode);
            Assert.Single((await output).Split('\n'), line => line.StartsWith('{'));
            await EndsAsync(there);
        }

        string into = temp.Sub("here");
        (pull, there, _) = await StartedAsync(into);
        using (pull)
        {
            pull.Kill();
            await pull.WaitForExitAsync();
            await EndsAsync(there);
        }
        Assert.False(File.Exists(Path.Combine(into, "big.bin")));

        var (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(new Dictionary<string, string> { ["HOME"] = home }, Arguments(into));
        Assert.True(exit == 0, error);
        Assert.Contains("already there from an interrupted send", error);
        TestFiles.AssertSameBytes(source, Path.Combine(into, "big.bin"));
    }

    /// <summary>A connection that drops once the send there has started is told as such, not as a login that failed.</summary>
    [Fact]
    public async Task A_connection_that_drops_during_the_pull_is_told_as_such()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var temp = new TempDirectory();
        string home = temp.Sub("home");
        TestFiles.Create(Path.Combine(home, "big.bin"), 8 << 20, seed: 6);
        string into = temp.Sub("here");
        // An ssh whose connection drops once the pull has begun to write: what runs there is killed, and ssh says so.
        string dropping = Path.Combine(temp.Sub("bin"), "ssh");
        File.WriteAllText(dropping, $$"""
            #!/bin/sh
            case " $* " in *" -G "*) echo "hostname 127.0.0.1"; exit 0;; esac
            while :; do case $1 in -l) shift 2;; -*) shift;; *) break;; esac; done
            shift
            cd "$HOME" || exit 1
            exec 3<&0
            setsid sh -c "exec $*" <&3 3<&- &
            p=$!
            while [ ! -s '{{Path.Combine(into, ".big.bin.sglty-state")}}' ] && kill -0 $p; do sleep 0.1; done
            kill -9 -$p
            echo "Connection to localhost closed by remote host." >&2
            exit 255
            """);
        File.SetUnixFileMode(dropping, (UnixFileMode)0b111_101_101);

        var (exit, _, error) = await SgltyProcess.RunWithEnvironmentAsync(new Dictionary<string, string> { ["HOME"] = home },
            "send", "localhost:big.bin", into, "-e", dropping, "--sglty-path", FakeSsh.Sglty, "--bwlimit", "1MiB");

        Assert.NotEqual(0, exit);
        Assert.Contains("the connection to localhost dropped during the pull (Connection to localhost closed by remote host.); the same pull again resumes what arrived", error);
    }
}
