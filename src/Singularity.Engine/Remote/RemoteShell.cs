using System.Text;

namespace Singularity.Engine;

/// <summary>How <see cref="RemoteReceiver"/> reaches another machine, and what it runs there.</summary>
public sealed record RemoteShell
{
    /// <summary>The remote shell and its own options, as rsync's -e takes them (<c>["ssh", "-p", "2222"]</c>); it is given [-l USER] HOST and the command.</summary>
    public IReadOnlyList<string> Command { get; init; } = ["ssh"];

    /// <summary>The words that run sglty there, as rsync's --rsync-path (<c>sudo sglty</c>, read by the remote shell); null for sglty on the PATH of a login there, else <c>~/sglty/sglty</c>.</summary>
    public string? Program { get; init; }

    /// <summary>What the receiver there listens on, HOST:PORT (port 0 picks a free one): the lanes connect to it straight from this machine, not through the shell; through a tunnel (<see cref="Tunnel"/>), its port alone, on the loopback there.</summary>
    public string Listen { get; init; } = "0.0.0.0:0";

    /// <summary>The port of <see cref="Listen"/> where the user chose one; null for 0, any free port.</summary>
    internal int? ListenPort => int.Parse(Listen[(Listen.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture) is > 0 and var port ? port : null;

    /// <summary>
    /// Whether the lanes go through ssh's own connection (ssh -L for a send there, -R for a pull), as one stream beside
    /// the login's: for a host reached only through ssh. Null, the default: where ssh's configuration reaches the host
    /// through another (a ProxyJump), else straight to the host's port, which is faster, and through ssh where that port
    /// cannot be reached (said to the caller: <see cref="RemoteReceiver.TunnelInstead"/>). False: straight to the port
    /// alone. Only with ssh.
    /// </summary>
    public bool? Tunnel { get; init; }

    /// <summary>Make every missing directory of the target, as rsync --mkpath; without it, as rsync, only the last one (and none above a file named).</summary>
    public bool MakePath { get; init; }

    /// <summary>A word as a POSIX shell on the other side reads it back: as it is when it holds nothing the shell treats apart, else in single quotes.</summary>
    public static string Quoted(string word) => RemoteCommand.Quoted(word);

    /// <summary>
    /// Splits a remote shell command as rsync splits -e: at spaces, with '...' and "..." keeping a word whole (and,
    /// within double quotes, a backslash keeping a '"' or a backslash); elsewhere a backslash is itself
    /// (<c>ssh -o 'ProxyJump bastion'</c>). A quote left open is a <see cref="FormatException"/>.
    /// </summary>
    public static IReadOnlyList<string> Words(string command)
    {
        ArgumentNullException.ThrowIfNull(command);
        var words = new List<string>();
        var word = new StringBuilder();
        bool inWord = false;
        char quote = '\0';
        for (int i = 0; i < command.Length; i++)
        {
            char c = command[i];
            if (quote != '\0')
            {
                if (c == quote) quote = '\0';
                else if (c == '\\' && quote == '"' && i + 1 < command.Length && command[i + 1] is '"' or '\\') word.Append(command[++i]);
                else word.Append(c);
                continue;
            }
            if (c is '\'' or '"')
            {
                quote = c;
                inWord = true;
            }
            else if (c == ' ')
            {
                if (inWord) words.Add(word.ToString());
                word.Clear();
                inWord = false;
            }
            else
            {
                word.Append(c);
                inWord = true;
            }
        }
        if (quote != '\0') throw new FormatException($"the remote shell command '{command}' leaves a {quote} open");
        if (inWord) words.Add(word.ToString());
        return words;
    }
}
