using System.Diagnostics;

namespace Singularity.Engine;

/// <summary>
/// A remote shell that runs sglty on another machine, for <see cref="RemoteReceiver"/> and <see cref="RemoteSender"/>:
/// how it starts, the last lines it said (what tells why it failed), and how it is ended.
/// </summary>
internal sealed class ShellProcess : IDisposable
{
    // What a process there that will not end once its input closed is given before the shell is killed.
    private static readonly TimeSpan ExitWait = TimeSpan.FromSeconds(10);
    private const int KeptLines = 20;
    private const int MostLineLength = 2000;
    private readonly Queue<string> _lines = new();

    private ShellProcess(Process process, string words)
    {
        Process = process;
        Words = words;
    }

    public Process Process { get; }

    /// <summary>The shell's words without the command run there, as messages quote what to check.</summary>
    public string Words { get; }

    /// <summary>The last lines kept, oldest first.</summary>
    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_lines) return [.. _lines];
        }
    }

    /// <summary>Starts <paramref name="info"/>; a shell that cannot run is a <see cref="SingularityException"/> that says what to do.</summary>
    public static ShellProcess Start(ProcessStartInfo info, RemoteShell shell)
    {
        try
        {
            var process = Process.Start(info) ?? throw new InvalidOperationException("no process");
            return new ShellProcess(process, string.Join(' ', info.ArgumentList.SkipLast(1).Prepend(info.FileName)));
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            throw new SingularityException(ErrorCode.ConnectionLost, $"cannot run the remote shell '{shell.Command[0]}': {ex.Message}; install it, or name another with -e");
        }
    }

    /// <summary>Keeps <paramref name="line"/> among the last ones, cut to a length a message can quote.</summary>
    public void Keep(string line)
    {
        lock (_lines)
        {
            _lines.Enqueue(line.Length > MostLineLength ? line[..MostLineLength] : line);
            if (_lines.Count > KeptLines) _lines.Dequeue();
        }
    }

    /// <summary>Closes the shell's input, which ends what it runs there, and waits for the shell to end (killing it if it does not).</summary>
    public async Task EndAsync()
    {
        try
        {
            Process.StandardInput.Close();
        }
        catch (IOException)
        {
            // It has ended already.
        }
        using var wait = new CancellationTokenSource(ExitWait);
        try
        {
            await Process.WaitForExitAsync(wait.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Kill();
            await Process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    public void Kill()
    {
        try
        {
            Process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // It has ended.
        }
    }

    public void Dispose() => Process.Dispose();
}
