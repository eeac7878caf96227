namespace Singularity.Cli.Display;

/// <summary>Counts in words, so that one file reads "1 file" and not "1 files".</summary>
internal static class Count
{
    public static string Of(long count, string noun) => $"{count} {noun}{(count == 1 ? "" : "s")}";
}
