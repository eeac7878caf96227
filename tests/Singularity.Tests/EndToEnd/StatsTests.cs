using Singularity.Engine;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// `sglty send --stats` prints what the send counted in the lines of rsync --stats, and the library's
/// <see cref="SendResult"/> carries what those lines need: entries by kind, the manifest's size and scan time, and
/// every byte on the wire.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class StatsTests
{
    private static readonly DateTime Day = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    /// <summary>The keys whose values rsync and sglty must give alike for the same trees.</summary>
    private static readonly string[] Counted =
    [
        "Number of files", "Number of created files", "Number of regular files transferred",
        "Total transferred file size", "Literal data", "Matched data",
    ];

    /// <summary>
    /// A destination that holds some of the source, a changed file and what the source no longer has: rsync --stats
    /// and sglty --stats count the entries, those made and deleted, and the files and bytes sent alike, and sglty's
    /// copy ends as the source.
    /// </summary>
    [SkippableFact]
    public async Task Stats_count_as_rsyncs_do()
    {
        Skip.IfNot(Commands.RsyncAtLeast(3, 1), "rsync 3.1 or later is not installed");
        using var temp = new TempDirectory();
        var (rsync, sglty, output) = await BothCountAsync(temp);
        // rsync counts its links' targets (5 bytes, "a.txt") in the total size; sglty the files alone.
        Assert.Equal(Number(rsync["Total file size"]) - 5, Number(sglty["Total file size"]));
        // rsync names the kinds of what it deleted; the receiver tells sglty how many.
        Assert.Equal("3 (reg: 2, dir: 1)", rsync["Number of deleted files"]);
        Assert.Equal("3", sglty["Number of deleted files"]);
        // The figures as this tree gives them, so that both tools cannot be wrong alike.
        Assert.Equal("8 (reg: 4, dir: 3, link: 1)", sglty["Number of files"]);
        Assert.Equal("4 (reg: 2, dir: 1, link: 1)", sglty["Number of created files"]);
        Assert.Equal("3", sglty["Number of regular files transferred"]);
        Assert.Equal("1,300,000 bytes", sglty["Total transferred file size"]);
        // Every byte of the files sent, and the manifest, went out; the receiver's answers came back.
        long sent = Number(sglty["Total bytes sent"]), received = Number(sglty["Total bytes received"]);
        Assert.True(sent > 1_300_000 + Number(sglty["File list size"]), output);
        Assert.True(received > 0 && received < sent, output);
        Assert.True(Number(sglty["File list size"]) > 0, output);
        Assert.Contains($"sent {sglty["Total bytes sent"]} bytes  received {sglty["Total bytes received"]} bytes  ", output);
        Assert.Contains($"total size is {sglty["Total file size"].Replace(" bytes", "")}  speedup is ", output);
        TestFiles.AssertSameTree(Path.Combine(temp.Path, "src"), Path.Combine(temp.Path, "copy", "src"));
    }

    /// <summary>
    /// rsync's human-readable levels, read in order as rsync reads them, write --stats' counts and sizes as rsync writes
    /// them for the same trees: units of 1000 with -h (-avh, as rsync users type it), of 1024 with -hh, no thousands
    /// commas with --no-h, and commas again with --no-h then -h; the rate of the last lines as the sizes, the speedup
    /// with commas.
    /// </summary>
    [SkippableTheory]
    [InlineData("1.30M bytes", "1.35M bytes", @"^sent \d+\.\d\dM bytes  received [\d.]+K? bytes  [\d.]+[KM] bytes/sec$", "-avh")]
    [InlineData("1.24M bytes", "1.29M bytes", @"^sent \d+\.\d\dM bytes  received [\d.]+K? bytes  [\d.]+[KM] bytes/sec$", "-hh")]
    [InlineData("1300000 bytes", "1350000 bytes", @"^sent \d+ bytes  received \d+ bytes  \d+\.\d\d bytes/sec$", "--no-h")]
    [InlineData("1,300,000 bytes", "1,350,000 bytes", @"^sent \d{1,3}(,\d{3})+ bytes  received [\d,]+ bytes  [\d,]+\.\d\d bytes/sec$", "--no-h", "-h")]
    public async Task Stats_are_written_at_rsyncs_human_readable_levels(string transferred, string total, string sentLine, params string[] level)
    {
        Skip.IfNot(Commands.RsyncAtLeast(3, 1), "rsync 3.1 or later is not installed");
        using var temp = new TempDirectory();
        var (_, sglty, output) = await BothCountAsync(temp, level);
        Assert.Equal((transferred, total, "8 (reg: 4, dir: 3, link: 1)"), (sglty["Total transferred file size"], sglty["Total file size"], sglty["Number of files"]));
        Assert.Matches(sentLine, output.Split('\n').Single(line => line.StartsWith("sent ", StringComparison.Ordinal)));
        Assert.Matches(@"^total size is " + System.Text.RegularExpressions.Regex.Escape(total.Replace(" bytes", "")) + @"  speedup is [\d,]*\d\.\d\d$", output.Split('\n').Single(line => line.StartsWith("total size", StringComparison.Ordinal)));
    }

    /// <summary>A dry run counts what a send would do, says so as rsync does, and changes nothing.</summary>
    [SkippableFact]
    public async Task A_dry_run_counts_what_a_send_would_do()
    {
        Skip.IfNot(Commands.RsyncAtLeast(3, 1), "rsync 3.1 or later is not installed");
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), destination = temp.Sub("dst");
        MakeTrees(source, Path.Combine(destination, "src"));
        await using var receiver = new LoopbackReceiver(destination);

        var rsync = Values(Commands.Output("rsync", "-rlpt", "-n", "--delete", "--stats", source, destination + "/"));
        var (exit, output, error) = await SgltyProcess.RunAsync("send", source, "--to", receiver.Url.ToString(), "--delete", "--stats", "-n");
        Assert.True(exit == 0, error);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        var sglty = Values(output);
        foreach (string key in new[] { "Number of files", "Number of created files", "Number of regular files transferred", "Total transferred file size" })
            Assert.True(rsync[key] == sglty[key], $"{key}: rsync {rsync[key]}, sglty {sglty[key]}");
        Assert.Equal("3", sglty["Number of deleted files"]);
        // Nothing travelled but the manifest.
        Assert.Equal("0 bytes", sglty["Literal data"]);
        Assert.EndsWith(" (DRY RUN)", output.TrimEnd('\n').Split('\n')[^1]);
        Assert.True(File.Exists(Path.Combine(destination, "src", "stale.txt")));
        Assert.False(File.Exists(Path.Combine(destination, "src", "a.txt")));
    }

    /// <summary>--stats and --json both print the counts on stdout: one is refused with the other, before anything moves, and told in JSON as a failure is.</summary>
    [Fact]
    public async Task Stats_with_json_is_refused_in_json_too()
    {
        using var temp = new TempDirectory();
        string source = temp.Sub("src");
        TestFiles.Create(Path.Combine(source, "a"), 10);
        var (exit, output, error) = await SgltyProcess.RunAsync("send", source, "--to", "sglty://127.0.0.1:9/", "--stats", "--json");
        Assert.NotEqual(0, exit);
        Assert.Contains("--stats (or --info=stats) and --json both print", error);
        // The script that asked for JSON reads the mistake there too, as any failure.
        using var json = System.Text.Json.JsonDocument.Parse(output);
        Assert.Equal((false, 1), (json.RootElement.GetProperty("ok").GetBoolean(), json.RootElement.GetProperty("exit_code").GetInt32()));
        Assert.Contains("--stats (or --info=stats) and --json both print", json.RootElement.GetProperty("error").GetString());
        // So does an option send does not know, found before the parser.
        var (unknown, said, _) = await SgltyProcess.RunAsync("send", "-avU", source, "--to", "sglty://127.0.0.1:9/", "--json");
        Assert.Equal(1, unknown);
        Assert.Equal("unknown option '-U' in '-avU'", System.Text.Json.JsonDocument.Parse(said).RootElement.GetProperty("error").GetString());
    }

    /// <summary>
    /// rsync's --info for the flags sglty gives: stats1 prints only the last two lines, name0 stops -v's list, progress2
    /// (and --no-i-r, which rsync users give with it) changes nothing; a flag sglty does not give is refused by name.
    /// </summary>
    [Fact]
    public async Task Info_flags_are_read_as_rsync_reads_them()
    {
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), destination = temp.Sub("dst");
        TestFiles.Create(Path.Combine(source, "a"), 5000, seed: 1);
        TestFiles.Create(Path.Combine(source, "b"), 7000, seed: 2);
        await using var receiver = new LoopbackReceiver(destination);

        // A send that succeeds at both ends, and what it printed on stdout and stderr.
        async Task<(string Out, string Err)> SendAsync(params string[] options)
        {
            var (exit, output, error) = await SgltyProcess.RunAsync(["send", source + "/", "--to", receiver.Url.ToString(), .. options]);
            Assert.True(exit == 0, error);
            Assert.True((await receiver.NextResultAsync()).Succeeded);
            return (output, error);
        }

        var lines = (await SendAsync("-v", "--info=progress2,name0", "--no-i-r", "--info", "stats1")).Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("sent ", lines[0]);
        Assert.StartsWith("total size is 12,000  speedup is ", lines[1]);
        TestFiles.AssertSameTree(source, destination);

        // name1 lists as -v does; a later flag of the same name wins.
        TestFiles.Create(Path.Combine(source, "c"), 10, seed: 3);
        Assert.Equal("c\n", (await SendAsync("--info=name0,name1")).Out);

        // A dry run with name0 lists no file, as rsync -n --info=name0 lists none.
        TestFiles.Create(Path.Combine(source, "listed"), 10, seed: 5);
        Assert.Equal("", (await SendAsync("-n", "--info=name0")).Out);
        Assert.Equal("listed\n", (await SendAsync("-n")).Out);

        // Quiet, nothing at all, as rsync -q --stats prints nothing.
        TestFiles.Create(Path.Combine(source, "d"), 10, seed: 4);
        Assert.Equal(("", ""), await SendAsync("-q", "--stats"));

        var (refused, _, why) = await SgltyProcess.RunAsync("send", source + "/", "--to", receiver.Url.ToString(), "--info=progress2,flist2");
        Assert.NotEqual(0, refused);
        Assert.Contains("--info: 'flist2' is not a flag sglty gives", why);
    }

    /// <summary>
    /// A send retried after its connection dropped counts the bytes of every attempt: what the first put on the wire
    /// before the cut, and what the second sent; the manifest of each; the scan of each.
    /// </summary>
    [Fact]
    public async Task A_retried_send_counts_the_traffic_of_every_attempt()
    {
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), destination = temp.Sub("dst");
        for (int i = 0; i < 8; i++) TestFiles.Create(Path.Combine(source, $"d{i % 2}", $"f{i}"), 1 << 20, seed: i);
        await using var receiver = new LoopbackReceiver(destination);
        await using var relay = new TcpRelay(receiver.Url);
        relay.CutAllOnce((connection, forwarded) => connection == 1 && forwarded > (3 << 20));

        var result = await SingularitySender.SendAsync([source + "/"], relay.Url, new TransferOptions { ShardSize = 64 << 10, Lanes = 1, MaxInFlightBytes = 1 << 20, Retries = 2 });
        Assert.Equal(1, result.Retries);
        Assert.Equal((8, 8 + 2, 2, 0), (result.Files, result.Entries, result.Directories, result.Links));
        // BytesSent sums the attempts' payloads: the wire carried those, and more.
        Assert.True(result.TrafficSent > result.BytesSent + result.ManifestBytes, $"{result.TrafficSent} against {result.BytesSent} and {result.ManifestBytes}");
        Assert.True(result.BytesSent > 3 << 20);
        Assert.True(result.TrafficReceived > 0);
        // As rsync's, literal and matched make up what was transferred: what the retry found of the first attempt's
        // shards was sent once already, so it is literal, not matched.
        var lines = Singularity.Cli.Display.TransferStats.Lines(result, 2).ToList();
        Assert.Contains($"Literal data: {result.BytesSent:N0} bytes", lines);
        Assert.Contains("Matched data: 0 bytes", lines);
        Assert.True(result.BytesSkipped > 0);
        TestFiles.AssertSameTree(source, destination);
    }

    /// <summary>
    /// Sends the trees of <see cref="MakeTrees"/> with --delete --stats and <paramref name="options"/> by rsync (to a
    /// copy of the destination) and by sglty, checks that sglty's copy ends as the source and that both count alike
    /// what <see cref="Counted"/> names, and gives each one's values and sglty's output.
    /// </summary>
    private static async Task<(Dictionary<string, string> Rsync, Dictionary<string, string> Sglty, string Output)> BothCountAsync(TempDirectory temp, params string[] options)
    {
        string source = temp.Sub("src"), destination = temp.Sub("dst"), copy = Path.Combine(temp.Path, "copy");
        MakeTrees(source, Path.Combine(destination, "src"));
        Assert.True(Commands.Run("cp", "-a", destination, copy));
        await using var receiver = new LoopbackReceiver(destination);
        var rsync = Values(Commands.Output("rsync", ["-rlpt", "--delete", "--stats", .. options, source, copy + "/"]));
        var (exit, output, error) = await SgltyProcess.RunAsync(["send", source, "--to", receiver.Url.ToString(), "--delete", "--stats", .. options]);
        Assert.True(exit == 0, error);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        var sglty = Values(output);
        foreach (string key in Counted) Assert.True(rsync[key] == sglty[key], $"{key}: rsync {rsync[key]}, sglty {sglty[key]}");
        TestFiles.AssertSameTree(source, Path.Combine(destination, "src"));
        return (rsync, sglty, output);
    }

    /// <summary>
    /// The source: files new and changed at the destination, one it holds as it is, a directory and a link it lacks;
    /// the destination holds besides a file and a directory with a file that the source no longer has.
    /// </summary>
    private static void MakeTrees(string source, string destination)
    {
        TestFiles.Create(Path.Combine(source, "a.txt"), 100_000, seed: 1);
        TestFiles.Create(Path.Combine(source, "d", "b.bin"), 1_000_000, seed: 2);
        TestFiles.Create(Path.Combine(source, "d", "same.txt"), 50_000, seed: 3);
        TestFiles.Create(Path.Combine(source, "d", "e", "c.txt"), 200_000, seed: 4);
        File.CreateSymbolicLink(Path.Combine(source, "link"), "a.txt");
        TestFiles.Create(Path.Combine(destination, "d", "b.bin"), 900_000, seed: 2);
        Directory.CreateDirectory(Path.Combine(destination, "d"));
        File.Copy(Path.Combine(source, "d", "same.txt"), Path.Combine(destination, "d", "same.txt"));
        TestFiles.Create(Path.Combine(destination, "stale.txt"), 10, seed: 5);
        TestFiles.Create(Path.Combine(destination, "olddir", "x"), 10, seed: 6);
        foreach (string tree in new[] { source, destination })
            foreach (string file in Directory.GetFiles(tree, "*", SearchOption.AllDirectories))
            {
                if (new FileInfo(file).LinkTarget is not null) continue;
                File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
                File.SetLastWriteTimeUtc(file, Day);
            }
    }

    /// <summary>The "Key: value" lines of a --stats output.</summary>
    private static Dictionary<string, string> Values(string? output)
    {
        Assert.NotNull(output);
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string line in output.Split('\n'))
            if (line.IndexOf(": ", StringComparison.Ordinal) is > 0 and var colon) values[line[..colon]] = line[(colon + 2)..];
        return values;
    }

    /// <summary>A number as rsync prints it, with thousands commas.</summary>
    private static long Number(string value) => long.Parse(value.Split(' ')[0].Replace(",", ""), System.Globalization.CultureInfo.InvariantCulture);
}
