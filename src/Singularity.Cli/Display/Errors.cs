using Singularity.Engine;

namespace Singularity.Cli.Display;

/// <summary>Turns any failure into the single line a user sees, and an exit code.</summary>
internal static class Errors
{
    public const int Failure = 1;

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
        Console.Error.WriteLine($"sglty: error: {message}");
        return Failure;
    }
}
