using System.Text.Json;

namespace Singularity.Cli.Display;

/// <summary>Writes the one JSON object a command prints on stdout, with this process's CPU time and peak memory added.</summary>
internal static class JsonOutput
{
    public static void Write(Action<Utf8JsonWriter> fields, bool withProcessStats = true)
    {
        using var stream = Console.OpenStandardOutput();
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            fields(writer);
            if (withProcessStats)
            {
                var (cpu, rss) = ProcessStats.Read();
                writer.WriteNumber("cpu_seconds", cpu);
                writer.WriteNumber("peak_rss_bytes", rss);
            }
            writer.WriteEndObject();
        }
        stream.Write("\n"u8);
    }
}
