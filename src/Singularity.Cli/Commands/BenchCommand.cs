using System.CommandLine;
using System.CommandLine.Parsing;
using Singularity.Cli.Display;
using Singularity.Engine;

namespace Singularity.Cli.Commands;

/// <summary>
/// <c>sglty bench</c>: generates an incompressible file, runs `sglty recv` and `sglty send` as two processes on
/// loopback, verifies the copy, and reports throughput, CPU time and peak memory of each side. With --matrix it
/// sweeps lanes x shard size x cipher; every run can be appended to a JSON-lines log and drawn as an SVG chart.
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var size = CommonOptions.Size("--size", "size of the generated file; default 2GiB");
        var lanes = CommonOptions.Lanes($"data lanes (TCP connections) of the measured transfer, fixed; default {TransferOptions.DefaultLanes}");
        var shardSize = CommonOptions.Size("--shard-size", "bytes per shard; default 4MiB");
        var dir = new Option<string?>("--dir") { HelpName = "DIR", Description = "where to put the test file and its copy; default /dev/shm when present, else the temp directory" };
        var json = CommonOptions.Json("print one JSON object with the results on stdout (with --matrix: one line per run)");
        var keep = new Option<bool>("--keep") { Description = "keep the generated file and its copy" };
        var encrypt = CommonOptions.Encrypt("cipher for the run: aes-256-gcm (default), chacha20-poly1305 or none");
        var matrix = new Option<bool>("--matrix") { Description = "sweep --matrix-lanes x --matrix-shards x --matrix-ciphers on one generated file" };
        var matrixLanes = new Option<string?>("--matrix-lanes") { HelpName = "LIST", Description = "lane counts for --matrix; default 1,2,4,8" };
        var matrixShards = new Option<string?>("--matrix-shards") { HelpName = "LIST", Description = "shard sizes for --matrix; default 1MiB,4MiB,16MiB" };
        var matrixCiphers = new Option<string?>("--matrix-ciphers") { HelpName = "LIST", Description = "ciphers for --matrix; default none,aes-256-gcm" };
        var log = new Option<string?>("--log") { HelpName = "FILE", Description = "append every run as one JSON line to FILE (time, commit, parameters, figures)" };
        var chart = new Option<string?>("--chart") { HelpName = "FILE", Description = "draw the runs (of this invocation, or of --log when given) as an SVG bar chart into FILE" };
        var warmup = new Option<int?>("--warmup") { HelpName = "N", Description = "unmeasured transfers before the measured ones, so the figures show the steady state rather than first-touch costs; default 1" };
        var command = new Command("bench", "measure a verified transfer over loopback between two sglty processes")
        {
            size, lanes, shardSize, dir, json, keep, encrypt, matrix, matrixLanes, matrixShards, matrixCiphers, log, chart, warmup,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            try
            {
                var plan = result.GetValue(matrix)
                    ? Plan(result.GetValue(matrixLanes) ?? "1,2,4,8", result.GetValue(matrixShards) ?? "1MiB,4MiB,16MiB", result.GetValue(matrixCiphers) ?? "none,aes-256-gcm")
                    : [(result.GetValue(lanes) ?? TransferOptions.DefaultLanes, result.GetValue(shardSize) ?? TransferOptions.DefaultShardSize, result.GetValue(encrypt) ?? CipherSuite.Aes256Gcm)];
                var (chosenSize, chosenDir) = Place(result.GetValue(size), result.GetValue(dir));
                return await RunAsync(chosenSize, plan, chosenDir, result.GetValue(json), result.GetValue(keep), result.GetValue(log), result.GetValue(chart), Math.Max(0, result.GetValue(warmup) ?? 1), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                return Errors.Report(ex);
            }
        });
        return command;
    }

    private const long DefaultSize = 2L << 30;
    private const long SmallestDefault = 64L << 20;
    // Room kept free beside the source and its copy.
    private const long Margin = 64L << 20;

    /// <summary>
    /// The size and directory to measure with: as given; without --size, the default where it fits, else the largest
    /// power of two down to 64 MiB that does (a container's /dev/shm holds 64 MiB), and without --dir, /dev/shm, else the
    /// temp directory where /dev/shm has too little room. A choice other than the defaults is said in a line. Where
    /// nothing fits, the default place is kept, for the run to refuse in its words.
    /// </summary>
    internal static (long Size, string? Dir) Place(long? size, string? dir)
    {
        string[] places = dir is not null ? [dir] : Directory.Exists("/dev/shm") ? ["/dev/shm", Path.GetTempPath()] : [Path.GetTempPath()];
        long? firstFree = null;
        foreach (string place in places)
        {
            long free;
            try
            {
                free = new DriveInfo(Path.GetFullPath(place)).AvailableFreeSpace;
            }
            catch (Exception ex) when (ex is IOException or ArgumentException or UnauthorizedAccessException)
            {
                continue;
            }
            if (place == places[0]) firstFree = free;
            long fitting = size ?? DefaultSize;
            while (size is null && fitting > SmallestDefault && 2 * fitting + Margin > free) fitting /= 2;
            if (2 * fitting + Margin > free) continue;
            if (fitting != (size ?? DefaultSize) || place != places[0])
                Console.Error.WriteLine($"bench: {places[0]} {(firstFree is { } first ? $"has {ByteSize.Format(first)} free" : "cannot be looked at")}: measuring {ByteSize.Format(fitting)} in {place} (--size and --dir choose)");
            return (fitting, dir ?? place);
        }
        // Nothing fits: the run refuses the first place, for the least it would have measured there.
        return (size ?? SmallestDefault, dir);
    }

    private static List<(int Lanes, long ShardSize, CipherSuite Cipher)> Plan(string lanes, string shards, string ciphers)
    {
        var laneList = Split(lanes).Select(t => int.TryParse(t, out int n) && n > 0 ? n : throw new FormatException($"--matrix-lanes: '{t}' is not a lane count")).ToList();
        var shardList = Split(shards).Select(t => ByteSize.TryParse(t, out long b) ? b : throw new FormatException($"--matrix-shards: '{t}' is not a size")).ToList();
        var cipherList = Split(ciphers).Select(t => CipherSuites.TryParse(t, out var c) ? c : throw new FormatException($"--matrix-ciphers: '{t}' is not a cipher")).ToList();
        return [.. from c in cipherList from l in laneList from s in shardList select (l, s, c)];
    }

    private static IEnumerable<string> Split(string list) => list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static async Task<int> RunAsync(long size, List<(int Lanes, long ShardSize, CipherSuite Cipher)> plan, string? dir, bool json, bool keep, string? log, string? chart, int warmups, CancellationToken cancellationToken)
    {
        if (size <= 0) throw new FormatException("--size must be positive");
        string root = dir ?? (Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath());
        // A mistyped --dir is told, not made (and left behind) on whatever disk holds its parent.
        if (!Directory.Exists(root)) throw new SingularityException(ErrorCode.BadPath, $"--dir '{root}' is not a directory; give one that exists (the benchmark writes its files into a directory of its own there, and removes it)");
        string work = Path.Combine(Path.GetFullPath(root), $"sglty-bench-{Environment.ProcessId}");
        var runs = new List<BenchRun>();
        try
        {
            Directory.CreateDirectory(work);
            long free = new DriveInfo(work).AvailableFreeSpace;
            if (free < 2 * size + Margin)
                throw new SingularityException(ErrorCode.DiskFull, $"{root} has {ByteSize.Format(free)} free but the benchmark needs {ByteSize.Format(2 * size)}; use a smaller --size or another --dir");
            string source = Path.Combine(work, "src", "bench.bin");
            string destination = Path.Combine(work, "dst");
            Directory.CreateDirectory(destination);
            Console.Error.WriteLine($"bench: generating {ByteSize.Format(size)} of incompressible data in {source}");
            BenchRun.Generate(source, size);

            for (int i = 0; i < warmups; i++)
            {
                var (lanes, shardSize, cipher) = plan[0];
                Console.Error.WriteLine($"bench: warm-up transfer {i + 1} of {warmups} (not measured)");
                var warm = await BenchRun.MeasureAsync(source, destination, size, lanes, shardSize, cipher, cancellationToken).ConfigureAwait(false);
                if (!warm.Verified) throw new IntegrityException("the warm-up copy differs from the source");
            }
            foreach (var (lanes, shardSize, cipher) in plan)
            {
                Console.Error.WriteLine($"bench: sending over loopback with {lanes} lanes, {ByteSize.Format(shardSize)} shards, {CipherSuites.Name(cipher)}");
                var run = await BenchRun.MeasureAsync(source, destination, size, lanes, shardSize, cipher, cancellationToken).ConfigureAwait(false);
                runs.Add(run);
                if (log is not null) BenchReport.AppendToLog(log, run);
                if (plan.Count == 1) BenchReport.Print(run);
                else BenchReport.PrintRow(run);
                if (json) JsonOutput.Write(writer => BenchReport.WriteFields(writer, run), withProcessStats: false);
            }
            if (chart is not null)
            {
                BenchReport.WriteChart(chart, log is not null && File.Exists(log) ? BenchReport.ReadLog(log) : runs);
                Console.Error.WriteLine($"bench: chart written to {chart}");
            }
            return runs.All(r => r.Verified) ? 0 : Errors.Report(new IntegrityException("a copy differs from the source"));
        }
        finally
        {
            if (!keep)
            {
                try { Directory.Delete(work, recursive: true); }
                catch (IOException) { }
                catch (UnauthorizedAccessException) { }
            }
        }
    }
}
