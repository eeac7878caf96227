using System.Globalization;
using Singularity.Engine;

namespace Singularity.Cli.Display;

/// <summary>
/// rsync's --log-file: lines appended to a file as the send goes, each with the local time and this process's id
/// (<c>2026/12/06 02:10:04 [4242] &gt;f+++++++++ logs/app.log</c>), written through at once, so that a send that dies
/// has logged what it did. Lines come printable already (control characters in names shown as '?').
/// </summary>
internal sealed class TransferLog : IDisposable
{
    private readonly StreamWriter _writer;
    private readonly Lock _lock = new();
    // For "-": lines go to standard error behind this, without the time, for the pull that started this send to log.
    private readonly bool _toPull;

    private TransferLog(StreamWriter writer, bool toPull = false)
    {
        _writer = writer;
        _toPull = toPull;
    }

    /// <summary>
    /// Opens <paramref name="path"/> to append to, created if missing; one that cannot be is a user's error, said in
    /// one line. "-" writes each line to standard error behind <see cref="RemoteSender.LogLine"/>, without the time or
    /// the process id, which the pull that started this send gives them as it appends them to its own log.
    /// </summary>
    public static TransferLog Open(string path)
    {
        if (path == "-") return new TransferLog(new StreamWriter(Console.OpenStandardError()) { AutoFlush = true, NewLine = "\n" }, toPull: true);
        try
        {
            var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
            return new TransferLog(new StreamWriter(stream) { AutoFlush = true, NewLine = "\n" });
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            string why = System.IO.Directory.Exists(path) ? "it is a directory" : ex is UnauthorizedAccessException ? "permission denied" : ex is DirectoryNotFoundException ? "its directory does not exist" : ex.Message;
            throw new SingularityException(ErrorCode.BadPath, $"cannot write the log file '{path}': {why}; give --log-file a file you may write");
        }
    }

    /// <summary>
    /// Why the log stopped taking lines (a full disk, a reader of a pipe gone), or null: the send goes on without it,
    /// as rsync's does, and says so at its end.
    /// </summary>
    public string? Failure { get; private set; }

    /// <summary>Appends one line; never throws (it is called from the send's own threads).</summary>
    public void Write(string line)
    {
        string stamped = _toPull ? RemoteSender.LogLine + line : $"{DateTime.Now.ToString("yyyy/MM/dd HH:mm:ss", CultureInfo.InvariantCulture)} [{Environment.ProcessId}] {line}";
        lock (_lock)
        {
            if (Failure is not null) return;
            try
            {
                _writer.WriteLine(stamped);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ObjectDisposedException)
            {
                Failure = ex.Message;
            }
        }
    }

    /// <summary>Closes the log, and says so if it stopped taking lines before: the <paramref name="what"/> ("send", "pull") went on without it.</summary>
    public void Close(string what)
    {
        Dispose();
        if (Failure is { } why) Console.Error.WriteLine($"sglty: warning: the log file took no more lines after: {Errors.Printable(why)}; the {what} went on without it");
    }

    public void Dispose()
    {
        lock (_lock)
        {
            try
            {
                _writer.Dispose();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                Failure ??= ex.Message;
            }
        }
    }
}
