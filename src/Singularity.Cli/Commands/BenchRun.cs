using System.Diagnostics;
using System.IO.Hashing;
using System.Text.Json;
using Singularity.Engine;

namespace Singularity.Cli.Commands;

/// <summary>The figures of one benchmark run: the sender's and the receiver's own reports plus the verification.</summary>
internal sealed record BenchRun(long Bytes, int Lanes, long ShardSize, string Cipher, double Seconds, double SenderCpu, double ReceiverCpu, long SenderPeakRss, long ReceiverPeakRss, bool Verified)
{
    public double MBytesPerSecond => Bytes / Seconds / 1e6;
    public double GbitPerSecond => Bytes * 8 / Seconds / 1e9;
    public string Label => $"{Lanes}x{ByteSize.Format(ShardSize).Replace(".00 ", "", StringComparison.Ordinal)} {Cipher}";

    /// <summary>Runs `sglty recv --once` and `sglty send` as two processes over loopback and verifies the copy.</summary>
    public static async Task<BenchRun> MeasureAsync(string source, string destination, long size, int lanes, long shardSize, CipherSuite cipher, CancellationToken cancellationToken)
    {
        string cipherName = CipherSuites.Name(cipher);
        string copy = Path.Combine(destination, Path.GetFileName(source));
        if (File.Exists(copy)) File.Delete(copy);
        using var receiver = Start(["recv", "--dir", destination, "--listen", "127.0.0.1:0", "--once", "--json", "--encrypt", cipherName]);
        string url = await ReadUrlAsync(receiver, cancellationToken).ConfigureAwait(false);
        using var sender = Start(["send", source, "--to", url, "--lanes", Invariant(lanes), "--shard-size", Invariant(shardSize), "--json", "--encrypt", cipherName, "--retries", "0"]);
        var sent = await FinishAsync(sender, "sender", cancellationToken).ConfigureAwait(false);
        var received = await FinishAsync(receiver, "receiver", cancellationToken).ConfigureAwait(false);
        bool identical = Hash(source) == Hash(copy);
        return new BenchRun(size, lanes, shardSize, cipherName, sent.GetProperty("seconds").GetDouble(),
            sent.GetProperty("cpu_seconds").GetDouble(), received.GetProperty("cpu_seconds").GetDouble(),
            sent.GetProperty("peak_rss_bytes").GetInt64(), received.GetProperty("peak_rss_bytes").GetInt64(), identical);
    }

    /// <summary>Incompressible data written with positioned I/O.</summary>
    public static void Generate(string path, long size)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        // Unseeded: a seeded Random runs the legacy algorithm, about 50 times slower (140 MB/s against 6,900 here
        // under the JIT), and a default sglty bench spent most of its 9-10 s generating its file.
        var random = new Random();
        byte[] block = new byte[4 << 20];
        using var handle = File.OpenHandle(path, FileMode.Create, FileAccess.Write, FileShare.None, FileOptions.None, size);
        for (long offset = 0; offset < size; offset += block.Length)
        {
            int n = (int)Math.Min(block.Length, size - offset);
            random.NextBytes(block.AsSpan(0, n));
            RandomAccess.Write(handle, block.AsSpan(0, n), offset);
        }
    }

    private static string Invariant(long value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);

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
            info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "sglty.dll"));
        foreach (string argument in arguments) info.ArgumentList.Add(argument);
        return Process.Start(info) ?? throw new InvalidOperationException("could not start sglty");
    }

    private static async Task<string> ReadUrlAsync(Process receiver, CancellationToken cancellationToken)
    {
        // With --json, the receiver's first line is {"url": ...}.
        string? line = await receiver.StandardOutput.ReadLineAsync(cancellationToken).ConfigureAwait(false);
        string? url = null;
        try
        {
            if (line is not null && JsonDocument.Parse(line).RootElement.TryGetProperty("url", out var given)) url = given.GetString();
        }
        catch (JsonException) { }
        if (url is null || !url.StartsWith(ConnectionUrl.Scheme + "://", StringComparison.Ordinal))
        {
            // A receiver that printed something else may still be listening: stop it, so its error can be read.
            if (!receiver.HasExited) receiver.Kill();
            string error = await receiver.StandardError.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
            throw new SingularityException(ErrorCode.Internal, $"the receiver did not start: {error.Trim()}");
        }
        return url;
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
}
