using System.CommandLine;
using System.Diagnostics;
using System.IO.Hashing;
using System.Text.Json;
using Singularity.Cli.Display;
using Singularity.Engine;

namespace Singularity.Cli.Commands;

/// <summary>
/// <c>sglty bench</c>: generates an incompressible file, runs `sglty recv` and `sglty send` as two processes on
/// loopback, verifies the copy, and reports throughput, CPU time and peak memory of each side.
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var size = CommonOptions.Size("--size", "size of the generated file; default 2GiB", 2L << 30);
        var lanes = CommonOptions.Lanes();
        var shardSize = CommonOptions.Size("--shard-size", "bytes per shard; default 4MiB", TransferOptions.DefaultShardSize);
        var dir = new Option<string?>("--dir") { Description = "where to put the test file and its copy; default /dev/shm when present, else the temp directory" };
        var json = CommonOptions.Json("print one JSON object with the results on stdout");
        var keep = new Option<bool>("--keep") { Description = "keep the generated file and its copy" };
        var encrypt = CommonOptions.Encrypt("cipher for the run: aes-256-gcm (default), chacha20-poly1305 or none");
        var command = new Command("bench", "measure a verified transfer over loopback between two sglty processes") { size, lanes, shardSize, dir, json, keep, encrypt };
        command.SetAction((result, cancellationToken) => RunAsync(
            result.GetValue(size), result.GetValue(lanes), result.GetValue(shardSize), result.GetValue(dir), result.GetValue(json), result.GetValue(keep), result.GetValue(encrypt), cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(long size, int lanes, long shardSize, string? dir, bool json, bool keep, CipherSuite cipher, CancellationToken cancellationToken)
    {
        string root = dir ?? (Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath());
        string work = Path.Combine(Path.GetFullPath(root), $"sglty-bench-{Environment.ProcessId}");
        try
        {
            if (size <= 0) throw new FormatException("--size must be positive");
            Directory.CreateDirectory(work);
            long free = new DriveInfo(work).AvailableFreeSpace;
            if (free < 2 * size + (64 << 20))
                throw new SingularityException(ErrorCode.DiskFull, $"{root} has {ByteSize.Format(free)} free but the benchmark needs {ByteSize.Format(2 * size)}; use a smaller --size or another --dir");
            string source = Path.Combine(work, "src", "bench.bin");
            string destination = Path.Combine(work, "dst");
            Directory.CreateDirectory(destination);
            Console.Error.WriteLine($"bench: generating {ByteSize.Format(size)} of incompressible data in {source}");
            Generate(source, size);

            string cipherName = CipherSuites.Name(cipher);
            Console.Error.WriteLine($"bench: sending over loopback with {lanes} lanes, {ByteSize.Format(shardSize)} shards, {cipherName}");
            using var receiver = Start(["recv", "--dir", destination, "--listen", "127.0.0.1:0", "--once", "--json", "--encrypt", cipherName]);
            string url = await ReadUrlAsync(receiver, cancellationToken).ConfigureAwait(false);
            using var sender = Start(["send", source, "--to", url, "--lanes", lanes.ToString(System.Globalization.CultureInfo.InvariantCulture), "--shard-size", shardSize.ToString(System.Globalization.CultureInfo.InvariantCulture), "--json", "--encrypt", cipherName]);
            var sent = await FinishAsync(sender, "sender", cancellationToken).ConfigureAwait(false);
            var received = await FinishAsync(receiver, "receiver", cancellationToken).ConfigureAwait(false);

            Console.Error.WriteLine("bench: verifying the copy");
            bool identical = Hash(source) == Hash(Path.Combine(destination, "bench.bin"));
            Report(sent, received, size, lanes, shardSize, cipherName, identical, json);
            return identical ? 0 : Errors.Report(new IntegrityException("the copy differs from the source"));
        }
        catch (Exception ex)
        {
            return Errors.Report(ex);
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

    private static void Generate(string path, long size)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var random = new Random(20261124);
        byte[] block = new byte[4 << 20];
        using var handle = File.OpenHandle(path, FileMode.Create, FileAccess.Write, FileShare.None, FileOptions.None, size);
        for (long offset = 0; offset < size; offset += block.Length)
        {
            int n = (int)Math.Min(block.Length, size - offset);
            random.NextBytes(block.AsSpan(0, n));
            RandomAccess.Write(handle, block.AsSpan(0, n), offset);
        }
    }

    private static UInt128 Hash(string path)
    {
        var hash = new XxHash128();
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        hash.Append(stream);
        return hash.GetCurrentHashAsUInt128();
    }

    /// <summary>Starts this same program with other arguments, whether it runs as an apphost or through `dotnet sglty.dll`.</summary>
    private static Process Start(IEnumerable<string> arguments)
    {
        string self = Environment.ProcessPath ?? "dotnet";
        var info = new ProcessStartInfo(self) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
            info.ArgumentList.Add(typeof(BenchCommand).Assembly.Location);
        foreach (string argument in arguments) info.ArgumentList.Add(argument);
        return Process.Start(info) ?? throw new InvalidOperationException("could not start sglty");
    }

    private static async Task<string> ReadUrlAsync(Process receiver, CancellationToken cancellationToken)
    {
        string? line = await receiver.StandardOutput.ReadLineAsync(cancellationToken).ConfigureAwait(false);
        if (line is null || !line.StartsWith(ConnectionUrl.Scheme + "://", StringComparison.Ordinal))
        {
            string error = await receiver.StandardError.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
            throw new SingularityException(ErrorCode.Internal, $"the receiver did not start: {error.Trim()}");
        }
        return line;
    }

    private static async Task<JsonElement> FinishAsync(Process process, string side, CancellationToken cancellationToken)
    {
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        string text = await output.ConfigureAwait(false);
        string errors = await error.ConfigureAwait(false);
        string? last = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault(l => l.StartsWith('{'));
        if (process.ExitCode != 0 || last is null)
        {
            string reason = errors.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault(l => l.Contains("error", StringComparison.Ordinal)) ?? errors.Trim();
            throw new SingularityException(ErrorCode.Internal, $"the {side} failed (exit {process.ExitCode}): {reason}");
        }
        return JsonDocument.Parse(last).RootElement.Clone();
    }

    private static void Report(JsonElement sent, JsonElement received, long size, int lanes, long shardSize, string cipher, bool identical, bool json)
    {
        double seconds = sent.GetProperty("seconds").GetDouble();
        double mbps = size / seconds / 1e6;
        double gbps = size * 8 / seconds / 1e9;
        double senderCpu = sent.GetProperty("cpu_seconds").GetDouble();
        double receiverCpu = received.GetProperty("cpu_seconds").GetDouble();
        long senderRss = sent.GetProperty("peak_rss_bytes").GetInt64();
        long receiverRss = received.GetProperty("peak_rss_bytes").GetInt64();
        Console.Error.WriteLine();
        Console.Error.WriteLine($"  file          {ByteSize.Format(size)}, verified: {(identical ? "identical" : "DIFFERENT")}");
        Console.Error.WriteLine($"  lanes         {lanes}, shards of {ByteSize.Format(shardSize)}, cipher {cipher}");
        Console.Error.WriteLine($"  time          {seconds:0.000} s");
        Console.Error.WriteLine($"  throughput    {mbps:0.0} MB/s  ({gbps:0.00} Gbit/s)");
        Console.Error.WriteLine($"  sender        CPU {senderCpu:0.00} s, peak memory {ByteSize.Format(senderRss)}");
        Console.Error.WriteLine($"  receiver      CPU {receiverCpu:0.00} s, peak memory {ByteSize.Format(receiverRss)}");
        if (!json) return;
        JsonOutput.Write(writer =>
        {
            writer.WriteNumber("bytes", size);
            writer.WriteNumber("lanes", lanes);
            writer.WriteNumber("shard_size", shardSize);
            writer.WriteString("cipher", cipher);
            writer.WriteNumber("seconds", seconds);
            writer.WriteNumber("mbytes_per_s", mbps);
            writer.WriteNumber("gbit_per_s", gbps);
            writer.WriteBoolean("verified", identical);
            writer.WriteNumber("sender_cpu_seconds", senderCpu);
            writer.WriteNumber("receiver_cpu_seconds", receiverCpu);
            writer.WriteNumber("sender_peak_rss_bytes", senderRss);
            writer.WriteNumber("receiver_peak_rss_bytes", receiverRss);
        }, withProcessStats: false);
    }
}
