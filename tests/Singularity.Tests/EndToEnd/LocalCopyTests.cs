using Singularity.Engine;
using Singularity.Engine.Storage;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// `sglty send PATH... DIR` with every path here: a copy on this machine, as cp, rsync and scp make one, through a
/// receiver the command serves itself on the loopback; the target read as a send through ssh reads HOST:DIR.
/// </summary>
public sealed class LocalCopyTests
{
    /// <summary>A tree of several directories and files, some of many shards at the 64 KiB shards the tests send with.</summary>
    private static string Tree(string root)
    {
        TestFiles.Create(Path.Combine(root, "big.bin"), 700_000, seed: 1);
        TestFiles.Create(Path.Combine(root, "a", "one.txt"), 5_000, seed: 2);
        TestFiles.Create(Path.Combine(root, "a", "b", "two.bin"), 300_000, seed: 3);
        TestFiles.Create(Path.Combine(root, "a", "b", "empty"), 0, seed: 4);
        Directory.CreateDirectory(Path.Combine(root, "c", "empty-dir"));
        return root;
    }

    [Fact]
    public async Task A_tree_is_copied_into_a_directory_by_its_name_and_its_contents_into_one_made_for_them()
    {
        using var temp = new TempDirectory();
        string source = Tree(Path.Combine(temp.Path, "data"));
        string into = temp.Sub("backup");

        var (exit, _, error) = await SgltyProcess.RunAsync("send", source, into, "--shard-size", "64KiB");

        Assert.True(exit == 0, error);
        TestFiles.AssertSameTree(source, Path.Combine(into, "data"));
        // How it tuned itself is not told without -v, as rsync and scp tell nothing of it.
        Assert.DoesNotContain("round trip", error);
        Assert.StartsWith("sent 4 files", error.Trim().Split('\n')[^1]);

        // Its contents, into a directory not there: made, the last one alone.
        string made = Path.Combine(temp.Path, "copy");
        (exit, _, error) = await SgltyProcess.RunAsync("send", source + "/", made, "-v");
        Assert.True(exit == 0, error);
        TestFiles.AssertSameTree(source, made);
        Assert.Contains("sglty: round trip", error);

        // Again, nothing changed: nothing travels.
        (exit, _, error) = await SgltyProcess.RunAsync("send", source + "/", made);
        Assert.True(exit == 0, error);
        Assert.StartsWith("sent 0 files (4 unchanged", error.Trim().Split('\n')[^1]);

        // A few bytes: their rate in bytes or kB a second, not 0.0 MB/s.
        File.WriteAllText(Path.Combine(source, "a", "one.txt"), "new");
        (exit, _, error) = await SgltyProcess.RunAsync("send", source + "/", made);
        Assert.True(exit == 0, error);
        Assert.Matches(@"^sent 1 file \(3 unchanged, left as they were\), 3 B in [0-9.]+ s: [0-9.]+ k?B/s, 4 lanes", error.Trim().Split('\n')[^1]);
    }

    [Theory]
    [InlineData("nothing", "db-1206.dump", "db-1206.dump")]
    [InlineData("a file", "db-1206.dump", "db-1206.dump")]
    [InlineData("a directory", "db-1206.dump", "db-1206.dump/db.dump")]
    [InlineData("nothing", "db-1206.dump/", "db-1206.dump/db.dump")]
    // Not a host to run a shell on (ssh would read it as an option): a name here.
    [InlineData("nothing", "./-oProxyCommand=x:dir", "-oProxyCommand=x:dir")]
    public async Task One_file_takes_the_name_it_is_copied_to_unless_that_names_a_directory(string standing, string target, string landsAt)
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "db.dump"), 200_000, seed: 5);
        string into = temp.Sub("dst");
        if (standing == "a file") TestFiles.Create(Path.Combine(into, target), 9_000, seed: 6);
        if (standing == "a directory") Directory.CreateDirectory(Path.Combine(into, target));

        var (exit, _, error) = await SgltyProcess.RunInAsync(into, "send", source, target, "--shard-size", "64KiB");

        Assert.True(exit == 0, error);
        TestFiles.AssertSameBytes(source, Path.Combine(into, landsAt));
        Assert.Single(Directory.GetFiles(into, "*", SearchOption.AllDirectories));
    }

    [Theory]
    [InlineData("a directory not there above the target", "is not there; make it first, or copy with --mkpath")]
    [InlineData("a file on the way to the target", "/file.bin/not' (not a directory); check the directories on its way")]
    [InlineData("two paths to a file", "is not a directory, and a copy of more than one path")]
    [InlineData("a directory into itself", "into itself")]
    public async Task A_target_that_cannot_take_the_copy_is_refused_in_a_line_and_nothing_is_made(string what, string expected)
    {
        using var temp = new TempDirectory();
        string source = Tree(Path.Combine(temp.Path, "data"));
        string file = TestFiles.Create(Path.Combine(temp.Path, "file.bin"), 1_000, seed: 7);
        string[] arguments = what switch
        {
            "a directory not there above the target" => ["send", source, Path.Combine(temp.Path, "not", "there")],
            "a file on the way to the target" => ["send", source, Path.Combine(file, "not", "there")],
            "two paths to a file" => ["send", Path.Combine(source, "big.bin"), Path.Combine(source, "a"), file],
            _ => ["send", source, Path.Combine(source, "a", "b")],
        };
        var before = Directory.GetFileSystemEntries(temp.Path, "*", SearchOption.AllDirectories).Order().ToArray();

        var (exit, _, error) = await SgltyProcess.RunAsync(arguments);

        Assert.True(exit == 3, error);
        Assert.Contains(expected, error);
        Assert.Single(error.Trim().Split('\n'));
        Assert.Equal(before, Directory.GetFileSystemEntries(temp.Path, "*", SearchOption.AllDirectories).Order().ToArray());

        if (what != "a directory not there above the target") return;
        (exit, _, error) = await SgltyProcess.RunAsync([.. arguments, "--mkpath"]);
        Assert.True(exit == 0, error);
        TestFiles.AssertSameTree(source, Path.Combine(temp.Path, "not", "there", "data"));
    }

    [Theory]
    [InlineData("--token", "--token opens a receiver already running; a copy on this machine makes its own token")]
    [InlineData("--file-name", "--file-name: a copy on this machine names the file by where it goes")]
    [InlineData("--tunnel", "--tunnel goes with a [USER@]HOST:DIR destination")]
    public async Task Options_of_a_receiver_elsewhere_are_refused_for_a_copy_here(string option, string expected)
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Path, "a.bin"), 1_000, seed: 8);
        string[] value = option == "--tunnel" ? [] : ["x"];

        var (exit, _, error) = await SgltyProcess.RunAsync(["send", source, temp.Sub("dst"), option, .. value]);

        Assert.True(exit == 1, error);
        Assert.Contains(expected, error);
    }

    /// <summary>
    /// A dry run writes nothing, so it looks into a target another copy is writing to, where a copy is refused as busy:
    /// two receivers in one directory would not share their removal gate.
    /// </summary>
    [Fact]
    public async Task A_dry_run_looks_into_a_target_another_copy_holds()
    {
        using var temp = new TempDirectory();
        string source = Tree(Path.Combine(temp.Path, "data"));
        string target = temp.Sub("copy");
        await using var other = LocalReceiver.Start(target, [source]);

        var (exit, output, error) = await SgltyProcess.RunAsync("send", source + "/", target, "-n");
        Assert.True(exit == 0, error);
        Assert.Contains("a/b/two.bin", output);
        Assert.Empty(Directory.GetFileSystemEntries(target));

        (exit, _, error) = await SgltyProcess.RunAsync("send", source + "/", target);
        Assert.NotEqual(0, exit);
        Assert.Contains("another process holds a lock on", error);

        // The dry run's receiver, which holds no lock, takes dry runs alone.
        await using var looking = LocalReceiver.Start(target, [source], new TransferOptions { DryRun = true });
        var refused = await Assert.ThrowsAnyAsync<SingularityException>(() => SingularitySender.SendAsync([source + "/"], looking.Url, looking.Options with { DryRun = false, Retries = 0 }));
        Assert.Equal(ErrorCode.ProtocolViolation, refused.Code);
        Assert.Empty(Directory.GetFileSystemEntries(target));
    }

    [Fact]
    public async Task A_dry_run_into_a_directory_not_there_makes_nothing_and_lists_what_it_would_copy()
    {
        using var temp = new TempDirectory();
        string source = Tree(Path.Combine(temp.Path, "data"));
        string target = Path.Combine(temp.Path, "copy");

        var (exit, output, error) = await SgltyProcess.RunAsync("send", source + "/", target, "-n");

        Assert.True(exit == 0, error);
        Assert.False(Path.Exists(target));
        Assert.Contains("a/b/two.bin", output);
        Assert.Contains("would send 4 files", error);
    }

    /// <summary>Snapshots as rsync makes them on one machine: each day's copy links what the last one holds unchanged, named relative to the target or absolute.</summary>
    [Fact]
    public async Task Link_dest_beside_the_target_links_what_the_last_copy_holds_unchanged()
    {
        using var temp = new TempDirectory();
        string source = Tree(Path.Combine(temp.Path, "data"));
        string snapshots = temp.Sub("snapshots");
        var (exit, _, error) = await SgltyProcess.RunAsync("send", source + "/", Path.Combine(snapshots, "day1"));
        Assert.True(exit == 0, error);
        TestFiles.Create(Path.Combine(source, "a", "one.txt"), 5_000, seed: 9);

        (exit, _, error) = await SgltyProcess.RunAsync("send", source + "/", Path.Combine(snapshots, "day2"), "--link-dest", "../day1");
        Assert.True(exit == 0, error);
        (exit, _, error) = await SgltyProcess.RunAsync("send", source + "/", Path.Combine(snapshots, "day3"), "--link-dest", Path.Combine(snapshots, "day2"));
        Assert.True(exit == 0, error);

        foreach (string day in (string[])["day2", "day3"]) TestFiles.AssertSameTree(source, Path.Combine(snapshots, day));
        string[] days = ["day1", "day2", "day3"];
        Assert.Single(days.Select(day => SpecialFiles.IdentityOf(Path.Combine(snapshots, day, "a", "b", "two.bin"))!.Value.Inode).Distinct());
        Assert.Equal(2, days.Select(day => SpecialFiles.IdentityOf(Path.Combine(snapshots, day, "a", "one.txt"))!.Value.Inode).Distinct().Count());
        Assert.Equal(days, Directory.GetFileSystemEntries(snapshots).Select(Path.GetFileName).Order());
    }

    /// <summary>
    /// An earlier copy may lie anywhere, and be reached through a link, as rsync takes it; the receiver writes nothing
    /// outside the target for it (the directories above keep their times), and a dry run into a target not there
    /// foresees the links.
    /// </summary>
    [Fact]
    public async Task Earlier_copies_anywhere_or_through_a_link_are_used_and_nothing_above_the_target_is_touched()
    {
        using var temp = new TempDirectory();
        string source = Tree(Path.Combine(temp.Path, "data"));
        string old = Path.Combine(temp.Sub("elsewhere"), "day1");
        var (exit, _, error) = await SgltyProcess.RunAsync("send", source + "/", old);
        Assert.True(exit == 0, error);
        string snapshots = temp.Sub("snapshots");
        File.CreateSymbolicLink(Path.Combine(snapshots, "latest"), old);
        var then = new DateTime(2020, 1, 2, 3, 4, 5, DateTimeKind.Utc);
        Directory.SetLastWriteTimeUtc(temp.Path, then);
        Directory.SetLastWriteTimeUtc(snapshots, then);

        (exit, _, error) = await SgltyProcess.RunAsync("send", source + "/", Path.Combine(snapshots, "day2"), "--link-dest", "../latest", "-n");
        Assert.True(exit == 0, error);
        Assert.Contains("would send 0 files (4 unchanged", error);
        Assert.False(Path.Exists(Path.Combine(snapshots, "day2")));
        Assert.Equal(then, Directory.GetLastWriteTimeUtc(snapshots));
        // One not there is named as it was typed, not as the receiver was given it.
        string nowhere = Path.Combine(temp.Path, "nowhere", "day0");
        (exit, _, error) = await SgltyProcess.RunAsync("send", source + "/", Path.Combine(snapshots, "day2"), "--link-dest", nowhere, "-n");
        Assert.True(exit == 0, error);
        Assert.Contains($"--link-dest '{nowhere}' is not a directory here: nothing is linked from it", error);

        (exit, _, error) = await SgltyProcess.RunAsync("send", source + "/", Path.Combine(snapshots, "day2"), "--link-dest", "../latest");
        Assert.True(exit == 0, error);
        TestFiles.AssertSameTree(source, Path.Combine(snapshots, "day2"));
        Assert.Equal(SpecialFiles.IdentityOf(Path.Combine(old, "big.bin"))!.Value.Inode, SpecialFiles.IdentityOf(Path.Combine(snapshots, "day2", "big.bin"))!.Value.Inode);
        Assert.Equal(then, Directory.GetLastWriteTimeUtc(temp.Path));

        // A dry run, and a copy that changes nothing, leave the target's own time as it was.
        string day2 = Path.Combine(snapshots, "day2");
        Directory.SetLastWriteTimeUtc(day2, then);
        foreach (string[] more in (string[][])[["-n"], []])
        {
            (exit, _, error) = await SgltyProcess.RunAsync(["send", source + "/", day2, .. more]);
            Assert.True(exit == 0, error);
            Assert.Equal(then, Directory.GetLastWriteTimeUtc(day2));
        }
    }

    /// <summary>
    /// The target is reached as mkdir and cp reach it: ".." after a link climbs from where the link leads. A source
    /// that is a link to a directory the target lies in is refused as its directory is, and a copy refused leaves
    /// nothing it made.
    /// </summary>
    [Fact]
    public async Task A_target_is_reached_as_mkdir_reaches_it_and_a_refused_copy_leaves_nothing()
    {
        using var temp = new TempDirectory();
        string source = Tree(Path.Combine(temp.Path, "data"));
        string real = temp.Sub("real/inner");
        File.CreateSymbolicLink(Path.Combine(temp.Sub("links"), "deep"), real);

        var (exit, _, error) = await SgltyProcess.RunInAsync(Path.Combine(temp.Path, "links"), "send", Path.Combine(source, "a", "one.txt"), "deep/../made/");
        Assert.True(exit == 0, error);
        TestFiles.AssertSameBytes(Path.Combine(source, "a", "one.txt"), Path.Combine(temp.Path, "real", "made", "one.txt"));
        Assert.False(Path.Exists(Path.Combine(temp.Path, "links", "made")));

        File.CreateSymbolicLink(Path.Combine(temp.Path, "link-to-data"), source);
        (exit, _, error) = await SgltyProcess.RunAsync("send", Path.Combine(temp.Path, "link-to-data"), Path.Combine(source, "a", "new"));
        Assert.True(exit == 3, error);
        Assert.Contains("into itself", error);
        Assert.False(Path.Exists(Path.Combine(source, "a", "new")));

        (exit, _, error) = await SgltyProcess.RunAsync("send", Path.Combine(temp.Path, "not-there") + "/", Path.Combine(temp.Path, "copy"));
        Assert.True(exit == 3, error);
        Assert.False(Path.Exists(Path.Combine(temp.Path, "copy")));
    }

    /// <summary>
    /// Sources that are not regular files or directories are never opened to judge the target: a FIFO named as a
    /// source is refused, as any send refuses it without --specials, where the copy waited on its open for ever. One name gone with
    /// --delete-missing-args is no file to name: the target is a directory, where it was refused as --file-name.
    /// </summary>
    [Fact]
    public async Task A_fifo_named_as_a_source_is_skipped_and_a_missing_arg_names_no_file()
    {
        using var temp = new TempDirectory();
        string fifo = TestFiles.CreateFifo(Path.Combine(temp.Path, "pipe"));
        string into = temp.Sub("dst");

        using var copy = SgltyProcess.Start("send", fifo, into);
        var (exit, _, error) = await SgltyProcess.FinishAsync(copy, hang: TimeSpan.FromMinutes(1));

        Assert.True(exit != 0, error);
        Assert.Contains("it is a FIFO; send it with --specials", error);
        Assert.Empty(Directory.GetFileSystemEntries(into));

        // The target is then a directory, made as rsync makes one, which the deletion finds nothing in.
        (exit, _, error) = await SgltyProcess.RunAsync("send", "--delete-missing-args", Path.Combine(temp.Path, "gone.txt"), Path.Combine(into, "newname"));
        Assert.True(exit == 0, error);
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(into, "newname")));
    }

    /// <summary>
    /// What a copy's deletion could not delete is printed here, as its receiver is this process; past the 100 a
    /// receiver names, the line says so. (Trees deeper than a path the system takes are what even root cannot delete.)
    /// </summary>
    [Fact]
    public async Task What_a_copy_could_not_delete_is_named_here_the_first_hundred()
    {
        using var temp = new TempDirectory();
        string source = temp.Sub("src");
        TestFiles.Create(Path.Combine(source, "kept"), 100, seed: 11);
        string target = temp.Sub("dst");
        var deep = new List<string>();
        try
        {
            for (int i = 0; i <= 100; i++) deep.Add(await TestFiles.CreateDeepAsync(temp.Sub($"dst/d{i}"), levels: 17));

            var (exit, _, error) = await SgltyProcess.RunAsync("send", source + "/", target, "--delete");

            Assert.True(exit == 23, error);
            Assert.Equal(100, error.Split('\n').Count(line => line.StartsWith("sglty: could not delete 'd", StringComparison.Ordinal)));
            Assert.Contains("sglty: error: 101 entries at the receiver could not be deleted; the first 100 named above", error);
            Assert.True(File.Exists(Path.Combine(target, "kept")));
        }
        finally
        {
            foreach (string chain in deep) await TestFiles.RemoveDeepAsync(chain);
        }
    }

    /// <summary>A copy stopped part way (Ctrl-C) keeps what arrived, and the same copy again sends only the rest.</summary>
    [Fact]
    public async Task A_copy_interrupted_part_way_resumes_what_arrived()
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "big.bin"), 16 << 20, seed: 10);
        string into = temp.Sub("dst");
        string[] arguments = ["send", source, into, "--shard-size", "256KiB"];

        // At 4 MiB a second the copy takes four: it is stopped once some of it arrived.
        using var copy = SgltyProcess.Start([.. arguments, "--bwlimit", "4MiB"]);
        string partial = Path.Combine(into, ".big.bin.sglty-part");
        for (var deadline = DateTime.UtcNow.AddMinutes(1); !(File.Exists(partial) && new FileInfo(partial).Length > 1 << 20); await Task.Delay(50))
            Assert.True(DateTime.UtcNow < deadline && !copy.HasExited, "the copy never started writing");
        using (var interrupt = System.Diagnostics.Process.Start("kill", ["-INT", copy.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) await interrupt.WaitForExitAsync();
        var (exit, _, error) = await SgltyProcess.FinishAsync(copy);
        Assert.True(exit == 130, error);
        Assert.False(File.Exists(Path.Combine(into, "big.bin")));

        (exit, _, error) = await SgltyProcess.RunAsync(arguments);

        Assert.True(exit == 0, error);
        Assert.Contains("already there from an interrupted send", error);
        TestFiles.AssertSameBytes(source, Path.Combine(into, "big.bin"));
        Assert.Single(Directory.GetFileSystemEntries(into));
    }
}
