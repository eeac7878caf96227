using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// rsync's per-directory merge files (-F, -FF, --filter ': NAME' and its modifiers): the rules of a file in each
/// directory sent decide for what it holds, ahead of those above, at the sender and at the receiver's deletion; each
/// send's destination ends exactly as rsync's does with the same rules.
/// </summary>
public sealed class PerDirectoryRuleTests
{
    /// <summary>The source tree: files that each rule below keeps or leaves out, in directories with and without rules.</summary>
    private static readonly string[] SourceFiles =
    [
        "plain.txt", "anchored", "x.o", "x.tmp", "note.parent", "a/anchored", "a/x.o", "a/keep.o", "a/y.log", "a/x.tmp",
        "a/b/z.o", "a/b/z.log", "a/b/w.bak", "a/b/deep/v.log", "c/x.o", "c/anchored", "c/plain", "c/d/x.tmp",
    ];

    /// <summary>What stands at the destination before: files the deletion keeps or takes as the rules say.</summary>
    private static readonly string[] DestinationFiles = ["stale.txt", "precious", "a/old.log", "a/b/old.log", "c/gone", "c/d/old.tmp"];

    public static TheoryData<string, string[]> Cases => new()
    {
        // -F: each .rsync-filter is sent, so the receiver's deletion reads the same rules.
        { "F", ["-F", "--delete"] },
        // -FF: the files stay at the sender; the receiver's own decide for its deletion.
        { "FF", ["-FF", "--delete"] },
        // The receiver deletes what is excluded, but what its files protect.
        { "F-delete-excluded", ["-F", "--delete", "--delete-excluded"] },
        // Each line an exclude, for what the directory holds itself alone; the files not sent.
        { "n-", ["--filter", ":n- .ignore", "--filter", "- .ignore", "--delete"] },
        // 'e' leaves the files out; a rule given before the dir-merge rule decides ahead of its files.
        { "e", ["--filter", "+ a/y.log", "--filter", "dir-merge,e .rsync-filter", "--filter", "- *.bak", "--delete"] },
    };

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public async Task Per_directory_rules_leave_the_destination_as_rsyncs_do(string name, string[] options)
    {
        Skip.IfNot(Commands.RsyncAtLeast(3, 0), "rsync 3 is not installed");
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), destination = temp.Sub("dst"), copy = Path.Combine(temp.Path, "copy");
        foreach (string file in SourceFiles) TestFiles.Create(Path.Combine(source, file), 500 + file.Length, seed: file.Length);
        // Comments, a blank line, an anchored rule (this directory alone), a protect rule for the receiver.
        File.WriteAllText(Path.Combine(source, ".rsync-filter"), "# the top\n- *.o\n\n- /anchored\nP precious\n; done\n");
        // Deeper rules decide first: keep.o is sent although the top leaves out *.o.
        File.WriteAllText(Path.Combine(source, "a", ".rsync-filter"), "+ keep.o\nexclude *.log\n");
        // "!" clears what a/b would inherit of these files' rules: its *.o and *.log are sent.
        File.WriteAllText(Path.Combine(source, "a", "b", ".rsync-filter"), "- *.bak\n!\n- w.*\r\n");
        File.WriteAllText(Path.Combine(source, ".ignore"), "*.tmp\n");
        // Above the directory sent: read for -F (rsync's "/.rsync-filter").
        File.WriteAllText(Path.Combine(temp.Path, ".rsync-filter"), "- *.parent\n");
        foreach (string file in DestinationFiles) TestFiles.Create(Path.Combine(destination, file), 10, seed: 3);
        if (name == "FF") File.WriteAllText(Path.Combine(destination, ".rsync-filter"), "P precious\n- *.o\n");
        if (name == "FF") File.WriteAllText(Path.Combine(destination, "a", ".rsync-filter"), "- *.log\n");
        Assert.True(Commands.Run("cp", "-a", destination, copy));
        await using var receiver = new LoopbackReceiver(destination);

        // rsync's --delete-after reads the files as they arrived, as sglty's deletion (once every file is in place) does.
        string[] rsyncOptions = [.. options.Select(option => option == "--delete" ? "--delete-after" : option)];
        Assert.True(Commands.Run("rsync", ["-rlpt", .. rsyncOptions, source + "/", copy + "/"]), name);
        var (exit, _, error) = await SgltyProcess.RunAsync(["send", source + "/", "--to", receiver.Url.ToString(), .. options]);
        Assert.True(exit == 0, error);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameTree(copy, destination);
        // What the rules say, checked as well, so that the test fails if both tools were to send everything.
        bool fromFiles = name != "n-";
        Assert.Equal(!fromFiles, File.Exists(Path.Combine(destination, "x.o")));
        Assert.Equal(!fromFiles, File.Exists(Path.Combine(destination, "anchored")));
        Assert.Equal(!fromFiles, File.Exists(Path.Combine(destination, "a", "x.o")));
        // Anchored at the directory of its file; the deeper file's include first; "!" clearing what a/b inherits.
        Assert.True(File.Exists(Path.Combine(destination, "a", "anchored")));
        Assert.True(File.Exists(Path.Combine(destination, "a", "keep.o")));
        Assert.True(File.Exists(Path.Combine(destination, "a", "b", "z.o")));
        Assert.True(File.Exists(Path.Combine(destination, "a", "b", "z.log")));
        Assert.Equal(!fromFiles, File.Exists(Path.Combine(destination, "a", "b", "w.bak")));
        Assert.Equal(name is "e" or "n-", File.Exists(Path.Combine(destination, "a", "y.log")));
        // 'n': the top's .ignore leaves out x.tmp, not a/x.tmp.
        Assert.True(File.Exists(Path.Combine(destination, "a", "x.tmp")));
        Assert.Equal(name != "n-", File.Exists(Path.Combine(destination, "x.tmp")));
        Assert.Equal(name is not ("F" or "FF" or "F-delete-excluded"), File.Exists(Path.Combine(destination, "note.parent")));
        Assert.Equal(name != "e", File.Exists(Path.Combine(destination, ".rsync-filter")));
        // At the receiver: what its files protect (or, -FF, its own files), and the rest deleted.
        Assert.Equal(name is "F" or "FF" or "F-delete-excluded", File.Exists(Path.Combine(destination, "precious")));
        Assert.Equal(name is "F" or "FF", File.Exists(Path.Combine(destination, "a", "old.log")));
        Assert.False(File.Exists(Path.Combine(destination, "stale.txt")));
    }

    /// <summary>A send that names a directory (no trailing '/') reads no file of the directory above it but with "/NAME", as rsync's sender reads them.</summary>
    [SkippableTheory]
    [InlineData(": .rules")]
    [InlineData(": /.rules")]
    public async Task The_directory_above_one_sent_counts_only_for_a_rule_with_a_leading_slash(string rule)
    {
        Skip.IfNot(Commands.RsyncAtLeast(3, 0), "rsync 3 is not installed");
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), destination = temp.Sub("dst"), copy = temp.Sub("copy");
        foreach (string file in new[] { "tree/a.o", "tree/b.txt", "tree/sub/c.o" }) TestFiles.Create(Path.Combine(source, file), 300, seed: 2);
        // Anchored at src: the tree's own path from there.
        File.WriteAllText(Path.Combine(source, ".rules"), "- *.o\n- /tree/b.txt\n");
        await using var receiver = new LoopbackReceiver(destination);

        Assert.True(Commands.Run("rsync", "-rlpt", "--filter", rule, Path.Combine(source, "tree"), copy + "/"));
        var (exit, _, error) = await SgltyProcess.RunAsync("send", Path.Combine(source, "tree"), "--to", receiver.Url.ToString(), "--filter", rule);
        Assert.True(exit == 0, error);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameTree(copy, destination);
        Assert.Equal(rule == ": .rules", File.Exists(Path.Combine(destination, "tree", "sub", "c.o")));
        Assert.Equal(rule == ": .rules", File.Exists(Path.Combine(destination, "tree", "b.txt")));
    }

    /// <summary>
    /// The finer points, each as rsync has them: a file's unanchored rule with a '/' matches the path from the top of
    /// the send, not from its directory; a second dir-merge rule for a name given already is passed over; lines ended
    /// by CR alone; a directory at the file's name is no file; the receiver reads "/NAME" in the directories above its
    /// destination too; and the directory given is judged before the files above it are read.
    /// </summary>
    [SkippableFact]
    public async Task The_finer_points_are_rsyncs()
    {
        Skip.IfNot(Commands.RsyncAtLeast(3, 0), "rsync 3 is not installed");
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), top = temp.Sub("r"), destination = Path.Combine(top, "dst"), copyTop = temp.Sub("c"), copy = Path.Combine(copyTop, "dst");
        foreach (string name in new[] { "t/x/m.o", "t/x/y/n.o", "t/x/y/k.o", "a", "b", "keep/core/c", "dir/.rsync-filter/f" })
            TestFiles.Create(Path.Combine(source, name), 100 + name.Length, seed: name.Length);
        // Matched against the path from the top of the send, at any '/': 'x/y/n.o' and 't/x/y/k.o' both name files
        // below t/x, and '/y/m.o', anchored at t/x, names none.
        File.WriteAllText(Path.Combine(source, "t", "x", ".rsync-filter"), "- x/y/n.o\n- t/x/y/k.o\n- /y/m.o\n");
        File.WriteAllText(Path.Combine(source, ".rsync-filter"), "- a\r- b\r");
        File.WriteAllText(Path.Combine(source, "keep", ".more"), "- c\n");
        foreach (string root in new[] { top, copyTop })
        {
            TestFiles.Create(Path.Combine(root, "dst", "x.o"), 10, seed: 4);
            TestFiles.Create(Path.Combine(root, "dst", "stale"), 10, seed: 5);
            File.WriteAllText(Path.Combine(root, ".rsync-filter"), "P *.o\n");
        }
        await using var receiver = new LoopbackReceiver(destination);
        // The first dir-merge rule for .more holds: not inherited, so keep/core is sent.
        string[] options = ["--filter", ":n .more", "--filter", ": .more", "-F", "--delete"];

        Assert.True(Commands.Run("rsync", ["-r", .. options.Select(option => option == "--delete" ? "--delete-after" : option), source + "/", copy + "/"]));
        var (exit, _, error) = await SgltyProcess.RunAsync(["send", source + "/", "--to", receiver.Url.ToString(), .. options]);
        Assert.True(exit == 0, error);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameTree(copy, destination);
        Assert.False(File.Exists(Path.Combine(destination, "t", "x", "y", "n.o")));
        Assert.False(File.Exists(Path.Combine(destination, "t", "x", "y", "k.o")));
        Assert.True(File.Exists(Path.Combine(destination, "t", "x", "m.o")));
        Assert.False(File.Exists(Path.Combine(destination, "a")) || File.Exists(Path.Combine(destination, "b")));
        Assert.True(File.Exists(Path.Combine(destination, "keep", "core", "c")));
        Assert.True(File.Exists(Path.Combine(destination, "dir", ".rsync-filter", "f")));
        Assert.True(File.Exists(Path.Combine(destination, "x.o")));
        Assert.False(File.Exists(Path.Combine(destination, "stale")));

        // The directory given, judged before the file above it, which leaves out its name, is sent.
        File.WriteAllText(Path.Combine(temp.Path, ".rsync-filter"), "- src\n");
        string named = temp.Sub("named"), namedCopy = temp.Sub("named-copy");
        await using var second = new LoopbackReceiver(named);
        // A second rule for .rsync-filter, with 'e', leaves its files out all the same, as rsync's does.
        Assert.True(Commands.Run("rsync", "-r", "-F", "--filter", ":e .rsync-filter", source, namedCopy + "/"));
        var (again, _, said) = await SgltyProcess.RunAsync("send", source, "--to", second.Url.ToString(), "-F", "--filter", ":e .rsync-filter");
        Assert.True(again == 0, said);
        Assert.True((await second.NextResultAsync()).Succeeded);
        TestFiles.AssertSameTree(namedCopy, named);
        Assert.True(File.Exists(Path.Combine(named, "src", "t", "x", "m.o")));
        Assert.False(File.Exists(Path.Combine(named, "src", ".rsync-filter")));
    }

    /// <summary>
    /// The deletion at the end reads the files as they stand then, also where a directory in the way of a file was
    /// replaced (and the files above it read) as the send began: the new top file's protect rule keeps.
    /// </summary>
    [SkippableFact]
    public async Task The_deletion_reads_the_files_as_they_stand_at_the_end()
    {
        Skip.IfNot(Commands.RsyncAtLeast(3, 0), "rsync 3 is not installed");
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), destination = temp.Sub("dst"), copy = Path.Combine(temp.Path, "copy");
        TestFiles.Create(Path.Combine(source, "sub", "x"), 100, seed: 1);
        File.WriteAllText(Path.Combine(source, ".rsync-filter"), "P keep\n");
        TestFiles.Create(Path.Combine(destination, "sub", "x", "in-the-way"), 10, seed: 2);
        TestFiles.Create(Path.Combine(destination, "keep"), 10, seed: 3);
        File.WriteAllText(Path.Combine(destination, ".rsync-filter"), "# the old rules, which keep nothing\n");
        Assert.True(Commands.Run("cp", "-a", destination, copy));
        await using var receiver = new LoopbackReceiver(destination);

        Assert.True(Commands.Run("rsync", "-r", "-F", "--delete-after", source + "/", copy + "/"));
        var (exit, _, error) = await SgltyProcess.RunAsync("send", source + "/", "--to", receiver.Url.ToString(), "-F", "--delete");
        Assert.True(exit == 0, error);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameTree(copy, destination);
        Assert.True(File.Exists(Path.Combine(destination, "keep")));
        TestFiles.AssertSameBytes(Path.Combine(source, "sub", "x"), Path.Combine(destination, "sub", "x"));
    }

    /// <summary>A line of a per-directory merge file that is no rule ends the send before anything moves, naming the file and the line.</summary>
    [Fact]
    public async Task A_bad_line_names_its_file_and_line()
    {
        using var temp = new TempDirectory();
        string source = temp.Sub("src");
        TestFiles.Create(Path.Combine(source, "sub", "f"), 10);
        File.WriteAllText(Path.Combine(source, "sub", ".rsync-filter"), "- *.o\nbogus line\n");
        await using var receiver = new LoopbackReceiver(temp.Sub("dst"));

        var (exit, output, error) = await SgltyProcess.RunAsync("send", source + "/", "--to", receiver.Url.ToString(), "-F");
        Assert.NotEqual(0, exit);
        Assert.Empty(output);
        Assert.Contains($"the per-directory merge file '{Path.Combine(source, "sub", ".rsync-filter")}', line 2: 'bogus line' is not a filter rule", error);
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(temp.Path, "dst")));
    }

    /// <summary>
    /// A receiver never follows a link that stands at a merge file's name in its destination (a local user could make
    /// one to any file): the send ends with a line that says so, and nothing is deleted.
    /// </summary>
    [Fact]
    public async Task A_receiver_refuses_a_link_for_a_merge_file()
    {
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), destination = temp.Sub("dst");
        TestFiles.Create(Path.Combine(source, "f"), 10);
        TestFiles.Create(Path.Combine(destination, "stale"), 10);
        File.WriteAllText(Path.Combine(temp.Path, "elsewhere"), "P stale\n");
        File.CreateSymbolicLink(Path.Combine(destination, ".rsync-filter"), Path.Combine(temp.Path, "elsewhere"));
        await using var receiver = new LoopbackReceiver(destination);

        var (exit, _, error) = await SgltyProcess.RunAsync("send", source + "/", "--to", receiver.Url.ToString(), "-FF", "--delete");
        Assert.NotEqual(0, exit);
        Assert.Contains("the receiver's per-directory merge file '.rsync-filter' is not a regular file (a link there, or on the way to it, is not followed)", error);
        Assert.True(File.Exists(Path.Combine(destination, "stale")));
    }
}
