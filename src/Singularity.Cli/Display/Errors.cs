using Singularity.Engine;

namespace Singularity.Cli.Display;

/// <summary>Turns any failure into the single line a user sees, and an exit code.</summary>
internal static class Errors
{
    public const int Failure = 1;

    /// <summary>Reasons can come from the peer: control characters are shown as '?' so they cannot drive the terminal.</summary>
    public static string Printable(string text) => string.Create(text.Length, text, static (span, source) =>
    {
        for (int i = 0; i < source.Length; i++)
        {
            // Control characters, and format characters such as bidirectional overrides that can disguise text.
            var category = char.GetUnicodeCategory(source[i]);
            span[i] = category is System.Globalization.UnicodeCategory.Control or System.Globalization.UnicodeCategory.Format ? '?' : source[i];
        }
    });

    public static int Report(Exception ex)
    {
        string message = ex switch
        {
            SingularityException known => known.Message,
            ArgumentOutOfRangeException range => $"{range.ParamName}: {range.Message.Split(" (Parameter")[0]}",
            FormatException format => format.Message,
            OperationCanceledException => "cancelled",
            _ => $"unexpected error: {ex.Message}",
        };
        Console.Error.WriteLine($"sglty: error: {Printable(message)}");
        return Failure;
    }
}
