namespace Singularity.Cli.Display;

/// <summary>
/// What a send on another machine prints, shown here, each line as text from a peer (control characters shown as
/// '?'): its standard output on this one's, its standard error on this one's, and on a terminal its progress lines
/// (one a second, as it writes them into a pipe) over each other on one line, as its bar would be.
/// </summary>
internal sealed class RelayedLines(bool terminal)
{
    private const string Progress = "progress: ";
    private readonly Lock _lock = new();
    private bool _progressShown;

    /// <summary>Whether a line of standard output was a JSON object: the send there said how it ended, with --json.</summary>
    public bool PrintedJson { get; private set; }

    public void Output(string line)
    {
        lock (_lock)
        {
            Clear();
            PrintedJson |= line.StartsWith('{');
            Console.Out.WriteLine(Errors.Printable(line));
        }
    }

    public void Error(string line)
    {
        lock (_lock)
        {
            // Interrupted here, the pull says so itself, and what arrived resumes by the pull, not by a send there.
            if (Errors.Interrupted && line.StartsWith("sglty: interrupted", StringComparison.Ordinal)) return;
            if (terminal && line.StartsWith(Progress, StringComparison.Ordinal))
            {
                // Back to the line's start, the line (cut to the terminal's width, or it would wrap), and the rest of the last one cleared.
                string shown = Errors.Printable(line);
                int width = Width() - 1;
                if (width > 0 && shown.Length > width) shown = shown[..width];
                Console.Error.Write($"\r{shown}\u001b[K");
                _progressShown = true;
                return;
            }
            Clear();
            Console.Error.WriteLine(Errors.Printable(line));
        }
    }

    /// <summary>Takes the last progress line away, as the bar goes at the send's end.</summary>
    public void End()
    {
        lock (_lock) Clear();
    }

    private static int Width()
    {
        try
        {
            return Console.WindowWidth;
        }
        catch (Exception ex) when (ex is IOException or PlatformNotSupportedException)
        {
            return 0;
        }
    }

    private void Clear()
    {
        if (!_progressShown) return;
        Console.Error.Write("\r\u001b[K");
        _progressShown = false;
    }
}
