using System.Text.Json;

namespace Singularity.Cli.Display;

/// <summary>Writes the one JSON object a command prints on stdout, with this process's CPU time and peak memory added.</summary>
internal static class JsonOutput
{
    public static void Write(Action<Utf8JsonWriter> fields, bool withProcessStats = true)
    {
        using var stream = Console.OpenStandardOutput();
        // Quotes, backticks and names beyond ASCII as they are (a reason quotes the path it names): only what JSON
        // itself needs escaped is, as a person reading the line or a script parsing it expects.
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
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
