using Singularity.Engine;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// rsync's rules for times: --modify-window compares them in whole seconds within a window, for destinations that keep
/// coarser times than the source; -O and -J leave directories' and links' times as the receiver makes them.
/// </summary>
public sealed class TimeRuleTests
{
    private static readonly TransferOptions Quick = new() { ShardSize = 4096, SkipUnchanged = true };
    private static readonly DateTime Second = new(2021, 3, 4, 5, 6, 7, DateTimeKind.Utc);

    /// <summary>
    /// The copies stand with other bytes of the same size, so a file taken for unchanged keeps them and one sent
    /// does not: which the window took for the same shows in the bytes.
    /// </summary>
    [Fact]
    public async Task A_modify_window_takes_times_within_it_for_the_same()
    {
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), destination = temp.Sub("dst");
        // The source's time, and the copy's: the same second, 1.5 s apart (the next second but one), 3.2 s apart.
        var cases = new (string Name, DateTime Source, DateTime Copy)[]
        {
            ("same-second", Second.AddMilliseconds(700), Second.AddMilliseconds(200)),
            ("two-seconds", Second.AddMilliseconds(900), Second.AddMilliseconds(2400)),
            ("three-seconds", Second.AddMilliseconds(100), Second.AddMilliseconds(-3100)),
        };
        for (int i = 0; i < cases.Length; i++)
        {
            File.SetLastWriteTimeUtc(TestFiles.Create(Path.Combine(source, cases[i].Name), 10_000, seed: i), cases[i].Source);
            File.SetLastWriteTimeUtc(TestFiles.Create(Path.Combine(destination, cases[i].Name), 10_000, seed: 100 + i), cases[i].Copy);
        }
        await using var receiver = new LoopbackReceiver(destination);

        // Window 0 (rsync's default): whole seconds; 2: within two seconds. Each kept copy keeps its own time.
        foreach (var (window, kept) in new[] { (0, new[] { "same-second" }), (2, new[] { "same-second", "two-seconds" }) })
        {
            var result = await SingularitySender.SendAsync([source + "/"], receiver.Url, Quick with { ModifyWindow = window, DryRun = true });
            Assert.True((await receiver.NextResultAsync()).Succeeded);
            Assert.Equal(kept.Length, result.FilesUnchanged);
            Assert.Equal(cases.Select(c => c.Name).Except(kept).Order(StringComparer.Ordinal), result.WouldSend.Order(StringComparer.Ordinal));
        }
        var sent = await SingularitySender.SendAsync([source + "/"], receiver.Url, Quick with { ModifyWindow = 2 });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(2, sent.FilesUnchanged);
        for (int i = 0; i < 2; i++)
        {
            TestFiles.AssertSameBytes(TestFiles.Create(Path.Combine(temp.Sub("expected"), cases[i].Name), 10_000, seed: 100 + i), Path.Combine(destination, cases[i].Name));
            Assert.Equal(cases[i].Copy, File.GetLastWriteTimeUtc(Path.Combine(destination, cases[i].Name)));
        }
        TestFiles.AssertSameBytes(Path.Combine(source, "three-seconds"), Path.Combine(destination, "three-seconds"));
        Assert.Equal(cases[2].Source, File.GetLastWriteTimeUtc(Path.Combine(destination, "three-seconds")));

        // Without a window, times are compared exactly: the two copies within it are sent now.
        var exact = await SingularitySender.SendAsync([source + "/"], receiver.Url, Quick);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((1, 2), (exact.FilesUnchanged, exact.FilesTransferred));
        TestFiles.AssertSameTree(source, destination);
    }

    /// <summary>
    /// With --update, a copy is kept unless the source is newer by at least the window, as rsync decides: a copy one
    /// second older than the source (in whole seconds) is sent with a window of 0 or 1, and kept with 2 (checked
    /// against rsync 3.5.0's -u --modify-window).
    /// </summary>
    [Fact]
    public async Task Update_keeps_a_copy_the_window_makes_no_older()
    {
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), destination = temp.Sub("dst");
        File.SetLastWriteTimeUtc(TestFiles.Create(Path.Combine(source, "f"), 5_000, seed: 1), Second.AddSeconds(1.5));
        string copy = TestFiles.Create(Path.Combine(destination, "f"), 6_000, seed: 2);
        File.SetLastWriteTimeUtc(copy, Second);
        await using var receiver = new LoopbackReceiver(destination);

        foreach (var (window, kept) in new[] { (0, 0), (1, 0), (2, 1) })
        {
            var result = await SingularitySender.SendAsync([source + "/"], receiver.Url, Quick with { Update = true, ModifyWindow = window, DryRun = true });
            Assert.True((await receiver.NextResultAsync()).Succeeded);
            Assert.True(kept == result.FilesKept, $"window {window}: {result.FilesKept} kept");
        }
        var sent = await SingularitySender.SendAsync([source + "/"], receiver.Url, Quick with { Update = true, ModifyWindow = 1 });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((0, 1), (sent.FilesKept, sent.FilesTransferred));
        TestFiles.AssertSameBytes(Path.Combine(source, "f"), copy);
    }

    /// <summary>With --checksum, a file of the same contents gets the source's time exactly, whatever the window, as rsync -c gives it.</summary>
    [Fact]
    public async Task Checksum_sets_the_exact_time_whatever_the_window()
    {
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), destination = temp.Sub("dst");
        string file = TestFiles.Create(Path.Combine(source, "f"), 5_000, seed: 1);
        File.SetLastWriteTimeUtc(file, Second.AddMilliseconds(500));
        string copy = Path.Combine(destination, "f");
        File.Copy(file, copy);
        File.SetLastWriteTimeUtc(copy, Second.AddSeconds(1));
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([source + "/"], receiver.Url, Quick with { Checksum = true, ModifyWindow = 2 });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(1, result.FilesUnchanged);
        Assert.Equal(Second.AddMilliseconds(500), File.GetLastWriteTimeUtc(copy));
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Omit_dir_times_and_omit_link_times_leave_the_receivers_own()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        TestFiles.Create(Path.Combine(tree, "d", "f"), 1_000, seed: 1);
        File.SetLastWriteTimeUtc(Path.Combine(tree, "d", "f"), Second);
        File.CreateSymbolicLink(Path.Combine(tree, "d", "l"), "f");
        // Another time than its file's, so that the link's own time is told from its target's.
        File.SetLastWriteTimeUtc(Path.Combine(tree, "d", "l"), Second.AddDays(-1));
        Directory.SetLastWriteTimeUtc(Path.Combine(tree, "d"), Second);
        Directory.SetLastWriteTimeUtc(tree, Second);

        async Task<string> SendAsync(TransferOptions options, string into)
        {
            string destination = temp.Sub(into);
            await using var receiver = new LoopbackReceiver(destination);
            await SingularitySender.SendAsync([tree], receiver.Url, options);
            Assert.True((await receiver.NextResultAsync()).Succeeded);
            TestFiles.AssertSameBytes(Path.Combine(tree, "d", "f"), Path.Combine(destination, "tree", "d", "f"));
            return Path.Combine(destination, "tree");
        }
        string kept = await SendAsync(Quick, "all");
        Assert.Equal(Second, Directory.GetLastWriteTimeUtc(Path.Combine(kept, "d")));
        Assert.Equal(Second.AddDays(-1), new FileInfo(Path.Combine(kept, "d", "l")).LastWriteTimeUtc);

        var before = DateTime.UtcNow.AddMinutes(-1);
        string dirs = await SendAsync(Quick with { OmitDirectoryTimes = true }, "omit-dirs");
        Assert.True(Directory.GetLastWriteTimeUtc(dirs) > before);
        Assert.True(Directory.GetLastWriteTimeUtc(Path.Combine(dirs, "d")) > before);
        Assert.Equal(Second.AddDays(-1), new FileInfo(Path.Combine(dirs, "d", "l")).LastWriteTimeUtc);
        Assert.Equal(Second, File.GetLastWriteTimeUtc(Path.Combine(dirs, "d", "f")));

        string links = await SendAsync(Quick with { OmitLinkTimes = true }, "omit-links");
        Assert.True(new FileInfo(Path.Combine(links, "d", "l")).LastWriteTimeUtc > before);
        Assert.Equal(Second, Directory.GetLastWriteTimeUtc(Path.Combine(links, "d")));
    }

    [Fact]
    public async Task The_command_takes_the_time_options()
    {
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), destination = temp.Sub("dst");
        File.SetLastWriteTimeUtc(TestFiles.Create(Path.Combine(source, "f"), 5_000, seed: 1), Second.AddMilliseconds(600));
        File.SetLastWriteTimeUtc(TestFiles.Create(Path.Combine(destination, "f"), 5_000, seed: 2), Second);
        await using var receiver = new LoopbackReceiver(destination);

        var (exit, output, error) = await SgltyProcess.RunAsync("send", source + "/", "--to", receiver.Url.ToString(), "--modify-window", "0", "-O", "-J", "--json");
        Assert.True(exit == 0, error);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Contains("\"files_unchanged\":1", output);

        // A negative window compares exactly, as rsync's: the file is sent.
        (exit, output, error) = await SgltyProcess.RunAsync("send", source + "/", "--to", receiver.Url.ToString(), "-@", "-1", "--json");
        Assert.True(exit == 0, error);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Contains("\"files_sent\":1", output);
        TestFiles.AssertSameBytes(Path.Combine(source, "f"), Path.Combine(destination, "f"));
    }
}
