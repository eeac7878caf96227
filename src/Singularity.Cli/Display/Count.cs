namespace Singularity.Cli.Display;

/// <summary>Counts in words, so that one file reads "1 file" and not "1 files".</summary>
internal static class Count
{
    public static string Of(long count, string noun) => Of(count, noun, noun + "s");

    /// <summary>As <see cref="Of(long, string)"/>, for a noun whose plural is not made with an s.</summary>
    public static string Of(long count, string noun, string plural) => $"{count} {(count == 1 ? noun : plural)}";
}
