namespace Singularity.Cli.Display;

/// <summary>
/// What a send on another machine writes on its standard error, shown here on this one's: on a terminal its progress
/// lines (one a second, as it writes them into a pipe) over each other on one line, as its bar would be; every other
/// line as it comes.
/// </summary>
internal sealed class RelayedLines(bool terminal)
{
    private const string Progress = "progress: ";
    private readonly Lock _lock = new();
    private bool _progressShown;

    public void Write(string line)
    {
        lock (_lock)
        {
            // Interrupted here, the pull says so itself, and what arrived resumes by the pull, not by a send there.
            if (Errors.Interrupted && line.StartsWith("sglty: interrupted", StringComparison.Ordinal)) return;
            if (terminal && line.StartsWith(Progress, StringComparison.Ordinal))
            {
                // Back to the line's start, the line, and the rest of the last one cleared.
                Console.Error.Write($"\r{Errors.Printable(line)}\u001b[K");
                _progressShown = true;
                return;
            }
            Clear();
            Console.Error.WriteLine(line);
        }
    }

    /// <summary>Takes the last progress line away, as the bar goes at the send's end.</summary>
    public void End()
    {
        lock (_lock) Clear();
    }

    private void Clear()
    {
        if (!_progressShown) return;
        Console.Error.Write("\r\u001b[K");
        _progressShown = false;
    }
}
