using System.Text.RegularExpressions;
using Singularity.Cli.Display;
using Singularity.Engine;
using Spectre.Console;

namespace Singularity.Tests.Display;

/// <summary>The plain progress line's rate and eta are of the bytes the lanes carried, not of what the receiver already held.</summary>
public sealed class ProgressDisplayTests
{
    private const long MiB = 1 << 20;

    /// <summary>
    /// A resumed send: 36 of 60 MiB were there (acknowledged at once), and 3 MiB travelled in the first second; then a
    /// retry's attempt, which counts its bytes from 0 again, carried 3 MiB more by the second second.
    /// </summary>
    [Fact]
    public void What_was_already_there_and_a_retry_count_no_bytes_carried()
    {
        var display = new ProgressDisplay("aes-256-gcm", bar: false);
        display.Report(new TransferProgress(60 * MiB, 36 * MiB, 0, 1, 0, 4, TimeSpan.FromMilliseconds(10)));
        display.Report(new TransferProgress(60 * MiB, 39 * MiB, 3 * MiB, 1, 0, 4, TimeSpan.FromSeconds(1)));

        Assert.Equal("progress: 39.00 MiB of 60.00 MiB, 0/1 files, 3.1 MB/s, eta 7 s, 4 lanes, aes-256-gcm", display.Line(TimeSpan.FromSeconds(1)));

        display.Report(new TransferProgress(60 * MiB, 39 * MiB, 0, 1, 0, 0, TimeSpan.Zero));
        display.Report(new TransferProgress(60 * MiB, 40 * MiB, 1 * MiB, 1, 0, 4, TimeSpan.FromMilliseconds(300)));
        display.Report(new TransferProgress(60 * MiB, 42 * MiB, 3 * MiB, 1, 0, 4, TimeSpan.FromSeconds(1)));
        Assert.Equal("progress: 42.00 MiB of 60.00 MiB, 0/1 files, 3.1 MB/s, eta 6 s, 4 lanes, aes-256-gcm", display.Line(TimeSpan.FromSeconds(2)));
    }

    /// <summary>A retry whose first report comes after it carried more than the last attempt did is still a new attempt: its clock started again.</summary>
    [Fact]
    public void A_retry_is_told_by_its_clock()
    {
        var display = new ProgressDisplay("none", bar: false);
        display.Report(new TransferProgress(60 * MiB, 2 * MiB, 2 * MiB, 1, 0, 4, TimeSpan.FromSeconds(1)));
        display.Report(new TransferProgress(60 * MiB, 5 * MiB, 3 * MiB, 1, 0, 4, TimeSpan.FromMilliseconds(900)));

        Assert.Equal("progress: 5.00 MiB of 60.00 MiB, 0/1 files, 2.6 MB/s, eta 22 s, 4 lanes, none", display.Line(TimeSpan.FromSeconds(2)));
    }

    /// <summary>A slow send (a --bwlimit of a few kB, a link that crawls) states its rate in kB/s or B/s, where 0.0 MB/s would say nothing moves.</summary>
    [Theory]
    [InlineData(40_000, "40.0 kB/s, eta 25 s")]
    [InlineData(900, "900 B/s, eta 1164 s")]
    [InlineData(999_960, "1.0 MB/s, eta 0 s")]
    public void A_slow_send_states_its_rate_in_kilobytes_or_bytes(long carried, string pace)
    {
        var display = new ProgressDisplay("none", bar: false);
        display.Report(new TransferProgress(MiB, carried, carried, 1, 0, 4, TimeSpan.FromSeconds(1)));

        Assert.EndsWith($", 0/1 files, {pace}, 4 lanes, none", display.Line(TimeSpan.FromSeconds(1)));
    }

    /// <summary>The holes of a sparse file, named rather than sent, count as carried: a file mostly hole is not read as hours away.</summary>
    [Fact]
    public void Holes_named_count_as_carried()
    {
        var display = new ProgressDisplay("none", bar: false);
        display.Report(new TransferProgress(4096 * MiB, 1024 * MiB, 8 * MiB, 1, 0, 4, TimeSpan.FromSeconds(1)) { BytesInHoles = 1016 * MiB });

        Assert.Equal("progress: 1.00 GiB of 4.00 GiB, 0/1 files, 1073.7 MB/s, eta 3 s, 4 lanes, none", display.Line(TimeSpan.FromSeconds(1)));
    }

    /// <summary>
    /// On a terminal of 80 columns the bar's line fits as one line while it runs and when it ends: with the lanes, the
    /// cipher and the bytes counted beside it, its columns wrapped onto a second line and the bar shrank to a few
    /// characters. From <see cref="ProgressDisplay.WideColumns"/> it names them too.
    /// </summary>
    [Theory]
    [InlineData(80)]
    [InlineData(ProgressDisplay.WideColumns)]
    public async Task The_bar_keeps_to_one_line_of_the_terminal(int width)
    {
        var written = new StringWriter();
        var output = TextWriter.Synchronized(written);
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.Yes,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.Yes,
            Out = new AnsiConsoleOutput(output),
        });
        console.Profile.Width = width;
        var display = new ProgressDisplay("aes-256-gcm");
        display.Report(new TransferProgress(20_000 * 33 * 1024L, 10_000 * 33 * 1024L, 10_000 * 33 * 1024L, 20_000, 10_000, 4, TimeSpan.FromSeconds(1)));
        var done = new TaskCompletionSource();
        var showing = display.ShowBarAsync(console, done.Task);
        // The bar drawn while the send runs, then at its end.
        string Text() { lock (output) return written.ToString(); }
        while (!Text().Contains("10000/20000 files", StringComparison.Ordinal))
        {
            Assert.False(showing.IsCompleted);
            await Task.Delay(20);
        }
        done.SetResult();
        await showing;

        var lines = Regex.Replace(Text(), @"\x1b\[[0-9;?]*[A-Za-z]", "").Split('\n', '\r').Where(line => line.Trim().Length > 0).ToList();
        Assert.Contains(lines, line => line.Contains("sent 20000/20000 files", StringComparison.Ordinal));
        // Every line drawn is the bar's whole line: none is the rest of one wrapped.
        foreach (string line in lines)
        {
            Assert.True(line.TrimEnd().Length <= width, line);
            Assert.Matches(@"^(sending |sent )?(10000|20000)/20000 files.* [0-9]+% .*MB/s", line);
        }
        Assert.All(lines, line => Assert.Equal(width >= ProgressDisplay.WideColumns, line.Contains("aes-256-gcm", StringComparison.Ordinal)));
    }
}
