using System.Globalization;
using System.Reflection;
using System.Security;
using System.Text;
using System.Text.Json;
using Singularity.Cli.Display;
using Singularity.Engine;

namespace Singularity.Cli.Commands;

/// <summary>How benchmark runs are shown: a table on stderr, JSON on stdout, one JSON line per run in a log, and an SVG chart.</summary>
internal static class BenchReport
{
    public static void Print(BenchRun run)
    {
        Console.Error.WriteLine();
        Console.Error.WriteLine($"  file          {ByteSize.Format(run.Bytes)}, verified: {(run.Verified ? "identical" : "DIFFERENT")}");
        Console.Error.WriteLine($"  lanes         {run.Lanes}, shards of {ByteSize.Format(run.ShardSize)}, cipher {run.Cipher}");
        Console.Error.WriteLine($"  time          {run.Seconds:0.000} s");
        Console.Error.WriteLine($"  throughput    {run.MBytesPerSecond:0.0} MB/s  ({run.GbitPerSecond:0.00} Gbit/s)");
        Console.Error.WriteLine($"  sender        CPU {run.SenderCpu:0.00} s, peak memory {ByteSize.Format(run.SenderPeakRss)}");
        Console.Error.WriteLine($"  receiver      CPU {run.ReceiverCpu:0.00} s, peak memory {ByteSize.Format(run.ReceiverPeakRss)}");
    }

    public static void PrintRow(BenchRun run) =>
        Console.Error.WriteLine($"  {run.Label,-28} {run.MBytesPerSecond,9:0.0} MB/s {run.GbitPerSecond,7:0.00} Gbit/s   cpu {run.SenderCpu:0.00}/{run.ReceiverCpu:0.00} s   peak {run.SenderPeakRss >> 20}/{run.ReceiverPeakRss >> 20} MiB{(run.Verified ? "" : "   DIFFERENT")}");

    public static void WriteFields(Utf8JsonWriter writer, BenchRun run)
    {
        writer.WriteNumber("bytes", run.Bytes);
        writer.WriteNumber("lanes", run.Lanes);
        writer.WriteNumber("shard_size", run.ShardSize);
        writer.WriteString("cipher", run.Cipher);
        writer.WriteNumber("seconds", run.Seconds);
        writer.WriteNumber("mbytes_per_s", run.MBytesPerSecond);
        writer.WriteNumber("gbit_per_s", run.GbitPerSecond);
        writer.WriteBoolean("verified", run.Verified);
        writer.WriteNumber("sender_cpu_seconds", run.SenderCpu);
        writer.WriteNumber("receiver_cpu_seconds", run.ReceiverCpu);
        writer.WriteNumber("sender_peak_rss_bytes", run.SenderPeakRss);
        writer.WriteNumber("receiver_peak_rss_bytes", run.ReceiverPeakRss);
    }

    /// <summary>Appends one JSON line per run: time, commit, parameters and figures.</summary>
    public static void AppendToLog(string path, BenchRun run)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("time", DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture));
            writer.WriteString("commit", Commit());
            WriteFields(writer, run);
            writer.WriteEndObject();
        }
        buffer.WriteByte((byte)'\n');
        using var log = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
        buffer.WriteTo(log);
    }

    /// <summary>Reads every run back from a log, skipping lines it cannot parse.</summary>
    public static List<BenchRun> ReadLog(string path)
    {
        var runs = new List<BenchRun>();
        foreach (string line in File.ReadLines(path))
        {
            try
            {
                var e = JsonDocument.Parse(line).RootElement;
                runs.Add(new BenchRun(e.GetProperty("bytes").GetInt64(), e.GetProperty("lanes").GetInt32(), e.GetProperty("shard_size").GetInt64(), e.GetProperty("cipher").GetString() ?? "",
                    e.GetProperty("seconds").GetDouble(), e.GetProperty("sender_cpu_seconds").GetDouble(), e.GetProperty("receiver_cpu_seconds").GetDouble(),
                    e.GetProperty("sender_peak_rss_bytes").GetInt64(), e.GetProperty("receiver_peak_rss_bytes").GetInt64(), e.GetProperty("verified").GetBoolean()));
            }
            catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException) { }
        }
        return runs;
    }

    /// <summary>A bar chart of throughput per configuration (the best run of each), as a standalone SVG file.</summary>
    public static void WriteChart(string path, IReadOnlyList<BenchRun> runs)
    {
        var best = runs.GroupBy(r => r.Label).Select(g => g.MaxBy(r => r.MBytesPerSecond)!).OrderBy(r => r.Cipher, StringComparer.Ordinal).ThenBy(r => r.Lanes).ThenBy(r => r.ShardSize).ToList();
        const int barWidth = 34, gap = 12, left = 70, top = 40, height = 320, bottom = 150;
        double max = Math.Max(1, best.Count == 0 ? 1 : best.Max(r => r.MBytesPerSecond)) * 1.1;
        int width = left + best.Count * (barWidth + gap) + 40;
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{top + height + bottom}\" font-family=\"sans-serif\" font-size=\"11\">\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left}\" y=\"20\" font-size=\"14\">sglty bench: throughput by lanes x shard size and cipher (MB/s, best of each)</text>\n");
        for (int tick = 0; tick <= 4; tick++)
        {
            double value = max * tick / 4;
            double y = top + height - height * tick / 4.0;
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" x2=\"{width - 20}\" y1=\"{y:0.0}\" y2=\"{y:0.0}\" stroke=\"#ddd\"/><text x=\"{left - 6}\" y=\"{y + 4:0.0}\" text-anchor=\"end\">{value:0}</text>\n");
        }
        for (int i = 0; i < best.Count; i++)
        {
            var run = best[i];
            double h = height * run.MBytesPerSecond / max;
            double x = left + gap + i * (barWidth + gap);
            string color = run.Cipher == "none" ? "#4e79a7" : run.Cipher.StartsWith("aes", StringComparison.Ordinal) ? "#f28e2b" : "#59a14f";
            svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{x:0.0}\" y=\"{top + height - h:0.0}\" width=\"{barWidth}\" height=\"{h:0.0}\" fill=\"{color}\"><title>{SecurityElement.Escape(run.Label)}: {run.MBytesPerSecond:0} MB/s</title></rect>\n");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{x + barWidth / 2.0:0.0}\" y=\"{top + height - h - 4:0.0}\" text-anchor=\"middle\">{run.MBytesPerSecond:0}</text>\n");
            svg.Append(CultureInfo.InvariantCulture, $"<text transform=\"translate({x + barWidth / 2.0:0.0},{top + height + 10}) rotate(60)\">{SecurityElement.Escape(run.Label)}</text>\n");
        }
        svg.Append("</svg>\n");
        File.WriteAllText(path, svg.ToString());
    }

    /// <summary>
    /// The commit this sglty was built from, which the SDK writes into the informational version ("1.0.0+SHA"): the
    /// figures belong to the binary, wherever it runs, not to whatever checkout the current directory is in.
    /// </summary>
    private static string Commit()
    {
        string? version = typeof(BenchReport).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        int plus = version?.IndexOf('+', StringComparison.Ordinal) ?? -1;
        return plus >= 0 && plus + 1 < version!.Length ? version[(plus + 1)..Math.Min(version.Length, plus + 8)] : "unknown";
    }
}
