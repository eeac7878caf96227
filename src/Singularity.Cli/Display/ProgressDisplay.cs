using Singularity.Engine;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Singularity.Cli.Display;

/// <summary>
/// Shows a running send on stderr: a live bar (bytes, rate, ETA, lanes) on a terminal, one plain line per second
/// otherwise. stdout stays free for the --json result.
/// </summary>
internal sealed class ProgressDisplay(string cipher, bool bar = true, bool quiet = false) : IProgress<TransferProgress>
{
    private readonly Lock _lock = new();
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
    private TransferProgress _latest;
    // Bytes the send's lanes carried, holes named as such included, over all its attempts (each attempt counts its own
    // from 0, and its clock): the rate and the eta are of these, since what the receiver already held (an interrupted
    // send's, files in place) is acknowledged at once, and would read as a burst that never ends.
    private long _carried;
    private long _lastSent;
    private TimeSpan _lastElapsed;
    private DateTime _lastLine = DateTime.MinValue;

    public static bool Interactive => !Console.IsErrorRedirected;

    // Lines of the send's list (--verbose) waiting to be written to standard output by the display's loop.
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _listed = new();

    /// <summary>Queues one line of the send's list (rsync -v) for standard output; written within a fraction of a second, and all of them before <see cref="ShowAsync"/> returns.</summary>
    public void List(string line) => _listed.Enqueue(line);

    public void Report(TransferProgress value)
    {
        // One session reports at a time, in order; a retry's session starts its own clock and count.
        lock (_lock)
        {
            long sent = value.BytesSent + value.BytesInHoles;
            if (value.Elapsed < _lastElapsed || sent < _lastSent) _lastSent = 0;
            _carried += sent - _lastSent;
            (_lastSent, _lastElapsed) = (sent, value.Elapsed);
            _latest = value;
        }
    }

    public TransferProgress Latest
    {
        get { lock (_lock) return _latest; }
    }

    /// <summary>Runs <paramref name="work"/> while showing its progress.</summary>
    public async Task<T> ShowAsync<T>(Func<Task<T>> work)
    {
        var task = work();
        // Quiet (send -q), no progress at all: the listed lines still go to standard output.
        if (bar && Interactive && !quiet)
            await ShowBarAsync(AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) }), task).ConfigureAwait(false);
        else
        {
            while (!task.IsCompleted)
            {
                await Task.WhenAny(task, Task.Delay(1000)).ConfigureAwait(false);
                WriteListed();
                if (!task.IsCompleted && !quiet) WriteLine();
            }
        }
        // A send that throws may have listed files after the last write.
        await task.ContinueWith(static _ => { }, TaskScheduler.Default).ConfigureAwait(false);
        WriteListed();
        return await task.ConfigureAwait(false);
    }

    /// <summary>
    /// Draws the live bar on <paramref name="console"/> until <paramref name="task"/> ends. On a terminal narrower than
    /// <see cref="WideColumns"/> (80 columns is the usual default) the bar leaves out the lanes, the cipher and the
    /// bytes counted (the summary names them), which would otherwise squeeze the bar to a few characters and wrap the
    /// line in two.
    /// </summary>
    internal async Task ShowBarAsync(IAnsiConsole console, Task task)
    {
        bool wide = console.Profile.Width >= WideColumns;
        ProgressColumn[] columns = wide
            ? [new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(), new PaceColumn(this)]
            : [new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new PaceColumn(this)];
        await console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(columns)
            .StartAsync(async context =>
            {
                var bar = context.AddTask("sending", maxValue: 1);
                while (!task.IsCompleted)
                {
                    Update(bar, wide);
                    WriteListed();
                    await Task.WhenAny(task, Task.Delay(200)).ConfigureAwait(false);
                }
                Update(bar, wide);
                WriteListed();
                if (task.IsCompletedSuccessfully)
                {
                    bar.Value = bar.MaxValue;
                    var p = Latest;
                    bar.Description = wide ? $"sent {p.TotalFiles}/{p.TotalFiles} files, {cipher}" : $"sent {p.TotalFiles}/{p.TotalFiles} files";
                }
                bar.StopTask();
            }).ConfigureAwait(false);
    }

    /// <summary>The terminal width from which the bar shows the lanes, the cipher and the bytes counted as well.</summary>
    internal const int WideColumns = 120;

    /// <summary>Writes the lines <see cref="List"/> queued to standard output, in one write.</summary>
    private void WriteListed()
    {
        if (_listed.IsEmpty) return;
        var lines = new System.Text.StringBuilder();
        while (_listed.TryDequeue(out string? line)) lines.Append(line).Append('\n');
        using var output = Console.OpenStandardOutput();
        output.Write(System.Text.Encoding.UTF8.GetBytes(lines.ToString()));
    }

    private void Update(ProgressTask bar, bool wide)
    {
        var p = Latest;
        // Nothing reported yet (the sender is scanning or connecting): no counts to show, rather than 0/0 files.
        if (p.Elapsed == TimeSpan.Zero)
        {
            bar.Description = wide ? $"connecting, {cipher}" : "connecting";
            return;
        }
        bar.MaxValue = Math.Max(p.TotalBytes, 1);
        bar.Value = p.BytesAcknowledged;
        string lanes = p.ActiveLanes == 0 ? "no lane connected" : Count.Of(p.ActiveLanes, "lane");
        bar.Description = wide ? $"sending {p.FilesCommitted}/{p.TotalFiles} files, {lanes}, {cipher}" : p.ActiveLanes == 0 ? lanes : $"{p.FilesCommitted}/{p.TotalFiles} files";
    }

    private void WriteLine()
    {
        var p = Latest;
        if (p.Elapsed == TimeSpan.Zero || DateTime.UtcNow - _lastLine < TimeSpan.FromMilliseconds(900)) return;
        _lastLine = DateTime.UtcNow;
        Console.Error.WriteLine(Line(_clock.Elapsed));
    }

    /// <summary>The plain progress line, <paramref name="elapsed"/> into the send.</summary>
    internal string Line(TimeSpan elapsed)
    {
        var p = Latest;
        // No lane up (connecting, or waiting to reconnect after losing the receiver): a rate and an eta would be stale.
        string pace = p.ActiveLanes == 0 ? "no lane connected" : $"{Pace(elapsed)}, {Count.Of(p.ActiveLanes, "lane")}";
        return $"progress: {ByteSize.Format(p.BytesAcknowledged)} of {ByteSize.Format(p.TotalBytes)}, {p.FilesCommitted}/{p.TotalFiles} files, {pace}, {cipher}";
    }

    /// <summary>The rate of the bytes carried and the time left at that rate, <paramref name="elapsed"/> into the send.</summary>
    private string Pace(TimeSpan elapsed)
    {
        TransferProgress p;
        long carried;
        lock (_lock) (p, carried) = (_latest, _carried);
        // Over the whole send, retries and their pauses included, as the bytes are.
        double rate = carried / Math.Max(elapsed.TotalSeconds, 1e-9);
        double eta = rate > 0 ? (p.TotalBytes - p.BytesAcknowledged) / rate : double.NaN;
        return $"{Speed.Of(rate)}, eta {(double.IsNaN(eta) ? "?" : $"{eta:0} s")}";
    }

    /// <summary>The bar's rate and time left, from the bytes carried, where Spectre's own columns would count what the receiver already held as a burst.</summary>
    private sealed class PaceColumn(ProgressDisplay display) : ProgressColumn
    {
        protected override bool NoWrap => true;

        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            display.Latest.ActiveLanes == 0 ? Text.Empty : new Text(display.Pace(display._clock.Elapsed));
    }
}
