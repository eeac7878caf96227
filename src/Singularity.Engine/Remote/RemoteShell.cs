namespace Singularity.Engine;

/// <summary>How <see cref="RemoteReceiver"/> reaches another machine, and what it runs there.</summary>
public sealed record RemoteShell
{
    /// <summary>The remote shell and its own options, as rsync's -e takes them (<c>["ssh", "-p", "2222"]</c>); it is given [-l USER] HOST and the command.</summary>
    public IReadOnlyList<string> Command { get; init; } = ["ssh"];

    /// <summary>The words that run sglty there, as rsync's --rsync-path (<c>sudo sglty</c>, read by the remote shell); null for sglty on the PATH of a login there, else <c>~/sglty/sglty</c>.</summary>
    public string? Program { get; init; }

    /// <summary>What the receiver there listens on, HOST:PORT (port 0 picks a free one): the lanes connect to it straight from this machine, not through the shell.</summary>
    public string Listen { get; init; } = "0.0.0.0:0";
}
