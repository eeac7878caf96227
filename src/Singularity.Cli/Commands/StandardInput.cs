using Singularity.Engine;

namespace Singularity.Cli.Commands;

/// <summary>
/// Standard input as the other end of a remote shell uses it: a first line that carries a secret (a token), a pull's
/// --files-from list, then nothing until it ends, which says that the process that started this one through the
/// shell has ended or let go.
/// </summary>
internal static class StandardInput
{
    // A token is 43 characters; a line longer than this is no token.
    private const int MostLineBytes = 4096;

    /// <summary>The first line, read a byte at a time so that nothing after it is taken from the input; null when the input ends first or the line is too long.</summary>
    public static string? FirstLine()
    {
        using var input = Console.OpenStandardInput();
        var line = new List<byte>();
        int next;
        while ((next = input.ReadByte()) >= 0 && next != '\n')
        {
            if (line.Count == MostLineBytes) return null;
            line.Add((byte)next);
        }
        return next < 0 && line.Count == 0 ? null : System.Text.Encoding.UTF8.GetString([.. line]);
    }

    /// <summary>
    /// The names that follow on standard input, each ended by a NUL, up to an empty one, which ends the list: how a pull
    /// gives the send it starts its --files-from list, before the input's end says it has ended. Nothing past that
    /// empty name is read, as nothing is sent after it. An input that ends first is a pull that ended.
    /// </summary>
    public static List<string> NamesUntilEmpty()
    {
        using var input = Console.OpenStandardInput();
        var names = new List<string>();
        var name = new List<byte>();
        var buffer = new byte[64 * 1024];
        while (true)
        {
            int read = input.Read(buffer);
            if (read <= 0) throw new SingularityException(ErrorCode.ConnectionLost, "--files-from -: standard input ended before the list did; the pull that started this send has ended");
            for (int i = 0; i < read; i++)
            {
                if (buffer[i] != 0)
                {
                    name.Add(buffer[i]);
                    continue;
                }
                if (name.Count == 0) return names;
                names.Add(System.Text.Encoding.UTF8.GetString([.. name]));
                name.Clear();
            }
        }
    }

    /// <summary>Cancels <paramref name="stop"/> once standard input ends, after <paramref name="first"/> has run.</summary>
    public static void CancelWhenEnded(CancellationTokenSource stop, Action? first = null)
    {
        // A thread of its own: a read of a pipe or terminal blocks it until the input ends.
        var watching = new Thread(() =>
        {
            try
            {
                using var input = Console.OpenStandardInput();
                var buffer = new byte[512];
                while (input.Read(buffer) > 0)
                {
                }
            }
            catch (IOException)
            {
                // Ended all the same.
            }
            first?.Invoke();
            try
            {
                stop.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // What it was to stop had ended already.
            }
        })
        { IsBackground = true, Name = "stdin watch" };
        watching.Start();
    }
}
