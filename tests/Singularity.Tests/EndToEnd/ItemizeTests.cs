using Singularity.Engine;
using Singularity.Engine.Protocol;
using Singularity.Engine.Storage;
using Singularity.Tests.Support;
using static Singularity.Tests.Support.ItemizedLines;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// With <see cref="TransferOptions.ItemizeChanges"/> (rsync --itemize-changes, -i), a send lists what it changes at the
/// receiver, one line per entry, as rsync -i lists it.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class ItemizeTests
{
    private static readonly DateTime Day = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
    private static readonly TransferOptions Quick = new() { ShardSize = 4096, SkipUnchanged = true };

    /// <summary>
    /// One destination holding every kind of difference, and a copy of it: rsync -i (dry run, real run, then -ii once
    /// all is in place) and sglty itemize each the same way, line for line, and sglty's copy ends as the source.
    /// </summary>
    [SkippableFact]
    public async Task Changes_are_itemized_as_rsync_itemizes_them()
    {
        Skip.IfNot(Commands.RsyncAtLeast(3, 1), "rsync 3.1 or later is not installed");
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), destination = temp.Sub("dst"), copy = Path.Combine(temp.Path, "copy");
        MakeTrees(source, destination);
        Assert.True(Commands.Run("cp", "-a", destination, copy));
        await using var receiver = new LoopbackReceiver(destination);
        var options = Quick with { DeleteExtraneous = true, ItemizeChanges = 1 };

        // A dry run first: what would change, nothing changed.
        var rsyncDry = Rsync("-rlpt", "-i", "-n", "--delete", source + "/", copy + "/");
        var dry = await SingularitySender.SendAsync([source + "/"], receiver.Url, options with { DryRun = true });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        AssertSameLines(rsyncDry, dry.Changes);
        Assert.True(File.Exists(Path.Combine(destination, "stale.txt")));

        // The send itself, told as it goes.
        var rsyncReal = Rsync("-rlpt", "-i", "--delete", source + "/", copy + "/");
        var told = new List<string>();
        var sent = await SingularitySender.SendAsync([source + "/"], receiver.Url, options with { OnItemized = change => { lock (told) told.Add(change.ToString()); } });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        AssertSameLines(rsyncReal, sent.Changes);
        // Every kind of line: made, sent, attributes set, deleted (a directory in the way of a file: what it held).
        Assert.Equal(14, sent.Changes.Count);
        Assert.Equal(sent.Changes.Select(change => change.ToString()).Order(StringComparer.Ordinal), told.Order(StringComparer.Ordinal));
        Assert.Empty(sent.WouldDelete);
        Assert.Equal(5, sent.EntriesDeleted);
        TestFiles.AssertSameTree(source, destination);

        // All in place: -ii names every entry, as unchanged.
        var rsyncSame = Rsync("-rlpt", "-ii", "--delete", source + "/", copy + "/");
        var same = await SingularitySender.SendAsync([source + "/"], receiver.Url, options with { ItemizeChanges = 2 });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        AssertSameLines(rsyncSame, same.Changes);
        Assert.Contains(".f          same.txt", same.Changes.Select(change => change.ToString()));
    }

    /// <summary>
    /// The rules that keep what stands, and -J, itemize as rsync's: what a rule keeps is not named (not even with
    /// -ii), what --existing does not make is not named, and a link made anew whose time is not kept names its time.
    /// </summary>
    [SkippableTheory]
    [InlineData("--ignore-existing", 1)]
    [InlineData("--ignore-existing", 2)]
    [InlineData("--existing", 1)]
    [InlineData("--existing", 2)]
    [InlineData("--update", 2)]
    [InlineData("--omit-link-times", 1)]
    public async Task Keep_rules_itemize_as_rsyncs_do(string rule, int level)
    {
        Skip.IfNot(Commands.RsyncAtLeast(3, 1), "rsync 3.1 or later is not installed");
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), destination = temp.Sub("dst"), copy = Path.Combine(temp.Path, "copy");
        MakeTrees(source, destination);
        // A file newer there, which --update keeps.
        File.SetLastWriteTimeUtc(Path.Combine(destination, "grown.log"), Day.AddDays(1));
        Assert.True(Commands.Run("cp", "-a", destination, copy));
        await using var receiver = new LoopbackReceiver(destination);
        var options = Quick with
        {
            ItemizeChanges = level,
            DeleteExtraneous = true,
            IgnoreExisting = rule == "--ignore-existing",
            ExistingOnly = rule == "--existing",
            Update = rule == "--update",
            OmitLinkTimes = rule == "--omit-link-times",
        };

        var rsync = Rsync("-rlpt", level == 2 ? "-ii" : "-i", "--delete", rule, source + "/", copy + "/");
        var result = await SingularitySender.SendAsync([source + "/"], receiver.Url, options);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        AssertSameLines(rsync, result.Changes);
    }

    /// <summary>
    /// A file made from an earlier copy that holds it unchanged (linked, copied, or with --compare-dest not made) is
    /// no change: rsync names it only with -ii, as 'hf', 'cf' or '.f' with blank letters; a new one is sent.
    /// </summary>
    [SkippableTheory]
    [InlineData("--link-dest", 1)]
    [InlineData("--link-dest", 2)]
    [InlineData("--copy-dest", 1)]
    [InlineData("--copy-dest", 2)]
    [InlineData("--compare-dest", 2)]
    [InlineData("--link-dest", 2, "--ignore-existing")]
    public async Task Earlier_copies_itemize_as_rsyncs_do(string option, int level, string? rule = null)
    {
        Skip.IfNot(Commands.RsyncAtLeast(3, 1), "rsync 3.1 or later is not installed");
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), root = temp.Sub("dst"), copies = temp.Sub("copies");
        foreach (string name in new[] { "a", "b" })
        {
            string file = TestFiles.Create(Path.Combine(source, name), 2_000, seed: name[0]);
            File.SetLastWriteTimeUtc(file, Day);
            foreach (string earlier in new[] { Path.Combine(root, "prev"), Path.Combine(copies, "prev") })
            {
                Directory.CreateDirectory(earlier);
                File.Copy(file, Path.Combine(earlier, name));
                File.SetLastWriteTimeUtc(Path.Combine(earlier, name), Day);
            }
        }
        TestFiles.Create(Path.Combine(source, "new"), 1_000, seed: 3);
        File.SetLastWriteTimeUtc(Path.Combine(source, "new"), Day);
        await using var receiver = new LoopbackReceiver(root);
        var earlierCopy = new[] { "../prev" };
        var options = Quick with
        {
            ItemizeChanges = level,
            LinkDestinations = option == "--link-dest" ? earlierCopy : [],
            CopyDestinations = option == "--copy-dest" ? earlierCopy : [],
            CompareDestinations = option == "--compare-dest" ? earlierCopy : [],
            IgnoreExisting = rule == "--ignore-existing",
        };

        var rsync = Rsync("-rlpt", level == 2 ? "-ii" : "-i", rule ?? "-r", $"{option}=../prev", source + "/", Directory.CreateDirectory(Path.Combine(copies, "next")).FullName + "/");
        var result = await SingularitySender.SendAsync([source + "/"], receiver.Url with { Directory = "next" }, options);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        AssertSameLines(rsync, result.Changes);
    }

    /// <summary>
    /// --existing looks for what stands only through real directories: below a link standing where the source has a
    /// directory (which a real send replaces with an empty one), nothing stands, in a dry run as in the real send, so
    /// whether a file exists where that link leads, outside the destination, shows nowhere.
    /// </summary>
    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Existing_never_looks_through_a_link_in_the_destination()
    {
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), destination = temp.Sub("dst"), outside = temp.Sub("outside");
        TestFiles.Create(Path.Combine(outside, "secret"), 10, seed: 1);
        TestFiles.Create(Path.Combine(source, "evil", "secret"), 100, seed: 2);
        TestFiles.Create(Path.Combine(source, "evil", "same"), 100, seed: 3);
        Directory.CreateSymbolicLink(Path.Combine(destination, "evil"), outside);
        await using var receiver = new LoopbackReceiver(destination);
        var options = Quick with { ExistingOnly = true, ItemizeChanges = 2 };

        var dry = await SingularitySender.SendAsync([source + "/"], receiver.Url, options with { DryRun = true });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.DoesNotContain(dry.Changes, change => change.Path.StartsWith("evil/", StringComparison.Ordinal));
        Assert.Empty(dry.WouldSend);

        var sent = await SingularitySender.SendAsync([source + "/"], receiver.Url, options);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.DoesNotContain(sent.Changes, change => change.Path.StartsWith("evil/", StringComparison.Ordinal));
        Assert.Equal(0, sent.FilesTransferred);
        Assert.Equal(10, new FileInfo(Path.Combine(outside, "secret")).Length);
        Assert.False(File.Exists(Path.Combine(outside, "same")));
    }

    /// <summary>What --size-only keeps as it stands, -ii names as left as it was; -i not at all.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Size_only_keeps_are_named_with_ii(int level)
    {
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), destination = temp.Sub("dst");
        File.SetLastWriteTimeUtc(TestFiles.Create(Path.Combine(source, "f1"), 100, seed: 1), Day);
        File.SetLastWriteTimeUtc(TestFiles.Create(Path.Combine(destination, "f1"), 100, seed: 2), Day.AddDays(1));
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([source + "/"], receiver.Url, Quick with { SizeOnly = true, ItemizeChanges = level });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(level == 2 ? [".f          f1"] : [], result.Changes.Select(change => change.ToString()));
        Assert.Equal(Day.AddDays(1), File.GetLastWriteTimeUtc(Path.Combine(destination, "f1")));
    }

    /// <summary>With --checksum, a file sent over one that stood there differs by its contents ('c'), as rsync -ci names it, whatever else differs.</summary>
    [SkippableFact]
    public async Task Checksum_names_the_contents_that_differed()
    {
        Skip.IfNot(Commands.RsyncAtLeast(3, 1), "rsync 3.1 or later is not installed");
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), destination = temp.Sub("dst"), copy = temp.Sub("copy");
        foreach (var (name, here, there, seconds) in new[] { ("same-size", 3_000, 3_000, 0), ("other", 3_000, 5_000, 60), ("equal", 3_000, -1, 0) })
        {
            string file = TestFiles.Create(Path.Combine(source, name), here, seed: 1);
            File.SetLastWriteTimeUtc(file, Day);
            foreach (string root in new[] { destination, copy })
            {
                string target = Path.Combine(root, name);
                if (there < 0) File.Copy(file, target);
                else TestFiles.Create(target, there, seed: 2);
                File.SetUnixFileMode(target, File.GetUnixFileMode(file));
                File.SetLastWriteTimeUtc(target, Day.AddSeconds(seconds));
            }
        }
        await using var receiver = new LoopbackReceiver(destination);

        var rsync = Rsync("-rtpc", "-i", source + "/", copy + "/");
        var result = await SingularitySender.SendAsync([source + "/"], receiver.Url, Quick with { Checksum = true, ItemizeChanges = 1 });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        AssertSameLines(rsync, result.Changes);
        Assert.Equal([">fc........ same-size", ">fcst...... other"], result.Changes.Select(change => change.ToString()).Order(StringComparer.Ordinal));
        TestFiles.AssertSameTree(source, destination);
    }

    /// <summary>`sglty send -i` prints the lines on stdout as rsync -i does, --json holds them as 'changes', and -H names a hard link's file.</summary>
    [Fact]
    public async Task The_command_prints_each_change()
    {
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), destination = temp.Sub("dst");
        string file = TestFiles.Create(Path.Combine(source, "d", "a"), 5_000, seed: 1);
        File.CreateSymbolicLink(Path.Combine(source, "d", "l"), "a");
        SpecialFiles.Link(file, Path.Combine(source, "d", "b"));
        TestFiles.Create(Path.Combine(destination, "gone"), 10, seed: 2);
        await using var receiver = new LoopbackReceiver(destination);

        var (exit, output, error) = await SgltyProcess.RunAsync("send", source + "/", "--to", receiver.Url.ToString(), "-i", "-H", "--delete");
        Assert.True(exit == 0, error);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        string[] lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["*deleting   gone", ">f+++++++++ d/a", "cL+++++++++ d/l -> a", "cd+++++++++ d/", "hf+++++++++ d/b => d/a"], lines.Order(StringComparer.Ordinal));
        TestFiles.AssertSameBytes(file, Path.Combine(destination, "d", "b"));
        Assert.Equal(SpecialFiles.IdentityOf(Path.Combine(destination, "d", "a")), SpecialFiles.IdentityOf(Path.Combine(destination, "d", "b")));

        // Sent again with nothing changed: no line; with --json, an empty list.
        File.SetUnixFileMode(Path.Combine(destination, "d", "a"), UnixFileMode.UserRead);
        var (again, json, againError) = await SgltyProcess.RunAsync("send", source + "/", "--to", receiver.Url.ToString(), "-i", "-H", "--json");
        Assert.True(again == 0, againError);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        using var result = System.Text.Json.JsonDocument.Parse(json);
        Assert.Equal([".f...p..... d/a"], result.RootElement.GetProperty("changes").EnumerateArray().Select(line => line.GetString()));
        Assert.Equal(File.GetUnixFileMode(file), File.GetUnixFileMode(Path.Combine(destination, "d", "a")));

        // -ii, a dry run: every entry, as rsync -aHii names them (a hard link in place without its file).
        var (all, listed, allError) = await SgltyProcess.RunAsync("send", source + "/", "--to", receiver.Url.ToString(), "-ii", "-H", "-n");
        Assert.True(all == 0, allError);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal([".L          d/l -> a", ".d          d/", ".f          d/a", "hf          d/b"], listed.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal));
    }

    /// <summary>
    /// --out-format prints each change in the format given, as rsync's does: with %i the entries -i lists, without it
    /// only what travelled or was made, and deletions as "deleting PATH".
    /// </summary>
    [SkippableTheory]
    [InlineData("%n%L")]
    [InlineData("%o %i %n%L %B %M")]
    [InlineData("[%-14i] %n")]
    [InlineData("%o\t%n%L")]
    public async Task Out_format_prints_as_rsyncs_does(string format)
    {
        Skip.IfNot(Commands.RsyncAtLeast(3, 1), "rsync 3.1 or later is not installed");
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), destination = temp.Sub("dst"), copy = Path.Combine(temp.Path, "copy");
        MakeTrees(source, destination);
        Assert.True(Commands.Run("cp", "-a", destination, copy));
        await using var receiver = new LoopbackReceiver(destination);

        var rsync = Rsync("-rlpt", "--delete", $"--out-format={format}", source + "/", copy + "/");
        var (exit, output, error) = await SgltyProcess.RunAsync("send", source + "/", "--to", receiver.Url.ToString(), "--delete", "--out-format", format);
        Assert.True(exit == 0, error);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(rsync.Where(line => !line.EndsWith(" ./", StringComparison.Ordinal) && !line.EndsWith("|./", StringComparison.Ordinal) && line != "./").Order(StringComparer.Ordinal),
            output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal));
        Assert.True(rsync.Count >= 5, string.Join('\n', rsync));
        TestFiles.AssertSameTree(source, destination);
    }

    /// <summary>A format's sizes, widths and a '%' of its own; an escape sglty does not give is refused with one line before anything moves.</summary>
    [Fact]
    public async Task Out_format_sizes_widths_and_unknown_escapes()
    {
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), destination = temp.Sub("dst");
        string big = TestFiles.Create(Path.Combine(source, "d", "big"), 1_234_567, seed: 1);
        File.SetUnixFileMode(big, (UnixFileMode)0b111_101_101 | UnixFileMode.SetUser);
        SpecialFiles.Link(big, Path.Combine(source, "d", "same"));
        await using var receiver = new LoopbackReceiver(destination);

        // A hard link's size and mode are its file's; the mode as the receiver gives it, without setuid.
        var (exit, output, error) = await SgltyProcess.RunAsync("send", source + "/", "-H", "--to", receiver.Url.ToString(), "--out-format", "%'l|%10l|%-7n|%f|%B|%5%|100%%");
        Assert.True(exit == 0, error);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(["0|         0|d/     |d|rwxr-xr-x|    %|100%", "1,234,567|   1234567|d/big  |d/big|rwxr-xr-x|    %|100%", "1,234,567|   1234567|d/same |d/same|rwxr-xr-x|    %|100%"],
            output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal));

        var (refused, _, why) = await SgltyProcess.RunAsync("send", source + "/", "--to", receiver.Url.ToString(), "--out-format", "%n %b");
        Assert.NotEqual(0, refused);
        Assert.Contains("--out-format: '%b' is not an escape sglty gives", why);
        var (units, _, unitsWhy) = await SgltyProcess.RunAsync("send", source + "/", "--to", receiver.Url.ToString(), "--out-format", "%''l");
        Assert.NotEqual(0, units);
        Assert.Contains("sizes in units ('%''l', rsync's) are not offered", unitsWhy);
    }

    /// <summary>A send retried after its connection dropped names each entry once, as the first attempt that knew it told it.</summary>
    [Fact]
    public async Task A_retried_send_names_each_entry_once()
    {
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), destination = temp.Sub("dst");
        for (int i = 0; i < 40; i++) TestFiles.Create(Path.Combine(source, $"d{i % 4}", $"f{i}"), 200_000, seed: i);
        await using var receiver = new LoopbackReceiver(destination);
        await using var relay = new TcpRelay(receiver.Url);
        relay.CutAllOnce((connection, forwarded) => connection == 1 && forwarded > (3 << 20));

        var result = await SingularitySender.SendAsync([source + "/"], relay.Url, Quick with { ShardSize = 64 << 10, Lanes = 1, MaxInFlightBytes = 1 << 20, ItemizeChanges = 1, Retries = 2 });
        Assert.Equal(1, result.Retries);
        var lines = result.Changes.Select(change => change.ToString()).ToList();
        // Each path once: the retry finds the directories made, their times not set yet, and says nothing of them.
        Assert.Equal(44, result.Changes.Select(change => change.Path).Distinct().Count());
        Assert.Equal(44, lines.Count);
        Assert.Equal(40, lines.Count(line => line.StartsWith(">f+++++++++ ", StringComparison.Ordinal)));
        Assert.Equal(4, lines.Count(line => line.StartsWith("cd+++++++++ ", StringComparison.Ordinal)));
        TestFiles.AssertSameTree(source, destination);
    }

    /// <summary>
    /// Devices, FIFOs and sockets (-D) itemize as rsync's, against a destination that holds each way they can differ: a
    /// new one, one of another number, of another type, of other permissions or time, a file in a FIFO's place and a
    /// FIFO in a file's; then, all in place, -ii names each as unchanged. sglty's copy ends as the source.
    /// </summary>
    [SkippableFact]
    public async Task Devices_and_specials_itemize_as_rsyncs_do()
    {
        Skip.IfNot(Commands.RsyncAtLeast(3, 1), "rsync 3.1 or later is not installed");
        Skip.IfNot(OperatingSystem.IsLinux() && Environment.IsPrivilegedProcess, "making devices needs root on Linux");
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), destination = temp.Sub("dst"), copy = Path.Combine(temp.Path, "copy");
        const UnixFileMode ReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead;
        void Special(string root, string name, ushort type, (uint, uint)? number = null, UnixFileMode mode = ReadWrite, int seconds = 0)
        {
            string path = Path.Combine(root, name);
            SpecialFiles.Make(path, type, 0, number);
            File.SetUnixFileMode(path, mode);
            File.SetLastWriteTimeUtc(path, Day.AddSeconds(seconds));
        }
        Special(source, "new-pipe", SpecialTypes.Fifo);
        Special(source, "new-null", SpecialTypes.CharacterDevice, (1, 3));
        Special(source, "new-loop", SpecialTypes.BlockDevice, (7, 200));
        Special(source, "sock", SpecialTypes.Socket);
        Special(source, "same-pipe", SpecialTypes.Fifo);
        Special(destination, "same-pipe", SpecialTypes.Fifo);
        Special(source, "renumbered", SpecialTypes.CharacterDevice, (1, 5));
        Special(destination, "renumbered", SpecialTypes.CharacterDevice, (1, 3));
        Special(source, "retyped", SpecialTypes.Fifo);
        Special(destination, "retyped", SpecialTypes.CharacterDevice, (1, 3));
        Special(source, "perms", SpecialTypes.Fifo);
        Special(destination, "perms", SpecialTypes.Fifo, mode: UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Special(source, "touched", SpecialTypes.CharacterDevice, (1, 7));
        Special(destination, "touched", SpecialTypes.CharacterDevice, (1, 7), seconds: 30);
        // Of another type of the same class: rsync names it changed, not new.
        Special(source, "reblocked", SpecialTypes.BlockDevice, (7, 200));
        Special(destination, "reblocked", SpecialTypes.CharacterDevice, (7, 201));
        Special(source, "resocketed", SpecialTypes.Fifo);
        Special(destination, "resocketed", SpecialTypes.Socket, mode: UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Special(source, "was-file", SpecialTypes.Fifo);
        File.SetLastWriteTimeUtc(TestFiles.Create(Path.Combine(destination, "was-file"), 10), Day);
        string file = TestFiles.Create(Path.Combine(source, "was-pipe"), 10);
        File.SetUnixFileMode(file, ReadWrite);
        File.SetLastWriteTimeUtc(file, Day);
        Special(destination, "was-pipe", SpecialTypes.Fifo);
        Special(destination, "stale-pipe", SpecialTypes.Fifo);
        foreach (string root in new[] { source, destination }) Directory.SetLastWriteTimeUtc(root, Day);
        Assert.True(Commands.Run("cp", "-a", destination, copy));
        await using var receiver = new LoopbackReceiver(destination, adjust: options => options with { MakeDevices = true });
        var options = Quick with { DeleteExtraneous = true, ItemizeChanges = 1, Devices = true, Specials = true };

        var rsync = Rsync("-rlptD", "-i", "--delete", source + "/", copy + "/");
        var sent = await SingularitySender.SendAsync([source + "/"], receiver.Url, options);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        AssertSameLines(rsync, sent.Changes);
        // The kinds' letters, so that both tools cannot be wrong alike.
        Assert.Contains("cD+++++++++ new-null", sent.Changes.Select(change => change.ToString()));
        Assert.Contains("cS+++++++++ new-pipe", sent.Changes.Select(change => change.ToString()));
        Assert.Equal((5, 7), (sent.Devices, sent.Specials));
        TestFiles.AssertSameTree(source, destination);
        Assert.Equal(ReadWrite, File.GetUnixFileMode(Path.Combine(destination, "perms")));
        Assert.Equal(Day, File.GetLastWriteTimeUtc(Path.Combine(destination, "touched")));

        var rsyncSame = Rsync("-rlptD", "-ii", "--delete", source + "/", copy + "/");
        var same = await SingularitySender.SendAsync([source + "/"], receiver.Url, options with { ItemizeChanges = 2 });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        AssertSameLines(rsyncSame, same.Changes);
    }

    /// <summary>The source and a destination that differs from it in every way rsync itemizes; every time in whole seconds, as rsync compares them.</summary>
    private static void MakeTrees(string source, string destination)
    {
        void Pair(string name, long size, int seed, long? sizeThere = null, int seconds = 0, UnixFileMode? modeThere = null)
        {
            string here = TestFiles.Create(Path.Combine(source, name), size, seed);
            File.SetUnixFileMode(here, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
            File.SetLastWriteTimeUtc(here, Day);
            string there = Path.Combine(destination, name);
            Directory.CreateDirectory(Path.GetDirectoryName(there)!);
            if (sizeThere is { } other) TestFiles.Create(there, other, seed);
            else File.Copy(here, there);
            File.SetUnixFileMode(there, modeThere ?? File.GetUnixFileMode(here));
            File.SetLastWriteTimeUtc(there, Day.AddSeconds(seconds));
        }
        Pair("same.txt", 3_000, 1);
        Pair("grown.log", 9_000, 2, sizeThere: 4_000, seconds: -60);
        Pair("touched.txt", 3_000, 3, seconds: 7);
        Pair("perms.sh", 3_000, 4, modeThere: UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Pair(Path.Combine("old", "same"), 100, 5);
        TestFiles.Create(Path.Combine(source, "new.txt"), 2_000, seed: 6);
        TestFiles.Create(Path.Combine(source, "fresh", "f"), 2_000, seed: 7);
        File.CreateSymbolicLink(Path.Combine(source, "link"), "same.txt");
        File.CreateSymbolicLink(Path.Combine(source, "relink"), "new.txt");
        File.CreateSymbolicLink(Path.Combine(destination, "relink"), "grown.log");
        TestFiles.Create(Path.Combine(destination, "stale.txt"), 10, seed: 8);
        TestFiles.Create(Path.Combine(destination, "staledir", "x"), 10, seed: 9);
        TestFiles.Create(Path.Combine(source, "inway"), 10, seed: 10);
        TestFiles.Create(Path.Combine(destination, "inway", "x"), 10, seed: 11);
        // Links' own times, and the directories' last, once all is written in them; the old directory's differ.
        foreach (string root in new[] { source, destination })
        {
            foreach (string link in new[] { "link", "relink" })
                if (Path.Exists(Path.Combine(root, link)) || new FileInfo(Path.Combine(root, link)).LinkTarget is not null) File.SetLastWriteTimeUtc(Path.Combine(root, link), Day);
            foreach (string directory in Directory.GetDirectories(root, "*", SearchOption.AllDirectories).Append(root))
                Directory.SetLastWriteTimeUtc(directory, Day);
        }
        Directory.SetLastWriteTimeUtc(Path.Combine(destination, "old"), Day.AddSeconds(30));
    }
}
