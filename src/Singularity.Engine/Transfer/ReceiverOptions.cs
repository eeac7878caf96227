using System.Net;

namespace Singularity.Engine;

/// <summary>How a receiver listens and where it writes.</summary>
public sealed record ReceiverOptions
{
    /// <summary>Destination directory; every session is confined to it. Created if missing.</summary>
    public required string Directory { get; init; }

    /// <summary>Address and port to listen on; port 0 picks a free port. Default: all interfaces, port 7700.</summary>
    public IPEndPoint Listen { get; init; } = new(IPAddress.IPv6Any, ConnectionUrl.DefaultPort);

    /// <summary>The secret a sender must prove to open a session; it appears in <see cref="SingularityReceiver.Url"/>. Default: a fresh random 256-bit token.</summary>
    public string Token { get; init; } = SessionToken.Generate();

    /// <summary>For a receiver that serves one pull: what it admits from the machine pulled from (what the user asked for); null admits what any sender holding the token may send.</summary>
    internal PullAdmission? Admission { get; init; }

    /// <summary>Apply the sender's permission bits to files and directories. Default true.</summary>
    public bool PreserveMode { get; init; } = true;

    /// <summary>
    /// Answer a sender that asks for delta (<see cref="TransferOptions.Delta"/>): seed changed files from the versions
    /// here and tell it their shards' digests; and one that asks for --checksum (<see cref="TransferOptions.Checksum"/>):
    /// compare the contents of files here with the digests it names. False sends changed files whole, and every file
    /// of the source's size under --checksum, and tells a sender nothing of what files here hold (with delta, a token
    /// holder can confirm a guess of a file's contents shard by shard; with --checksum, a whole file's). Default true.
    /// </summary>
    public bool Delta { get; init; } = true;

    /// <summary>
    /// Make the devices a sender sends (rsync -D, <see cref="TransferOptions.Devices"/>), where this receiver may (as
    /// root). A device node gives whoever may open it the device itself (a disk's every byte), so a receiver makes
    /// none unless asked, as it gives no file a setuid bit; each one sent fails on its own, with a line that says so.
    /// FIFOs and sockets are made either way. Default false.
    /// </summary>
    public bool MakeDevices { get; init; }

    /// <summary>
    /// A second after a session ends, if no session has started meanwhile and the heap holds more than 64 MiB,
    /// collect it and give it back to the system. A session of many files leaves hundreds of MB that the runtime
    /// would otherwise keep, since an idle process does not collect. For a process that serves transfers alone
    /// (`sglty recv` turns it on); a program with a large heap of its own may prefer to leave collection to the
    /// runtime. Default false.
    /// </summary>
    public bool ReturnMemoryWhenIdle { get; init; }

    /// <summary>
    /// Where a session's earlier copies (--link-dest and its kin) may lie: a directory at or above
    /// <see cref="Directory"/>; null for <see cref="Directory"/> itself, where a sender holding the token may reach
    /// nothing outside it. A copy on this machine (<see cref="LocalReceiver"/>) gives "/", as rsync takes any directory.
    /// </summary>
    internal string? EarlierCopiesRoot { get; init; }

    /// <summary>
    /// Takes dry runs alone (a session that would write ends as a violation), and so takes no lock on
    /// <see cref="Directory"/>: a dry run writes nothing, and may look while another receiver writes there (a copy's
    /// dry run on this machine).
    /// </summary>
    internal bool DryRunsOnly { get; init; }

    /// <summary>Whether <see cref="SingularityReceiver.Start"/> proves it can write in <see cref="Directory"/> by making a file there (which moves its time); a copy on this machine asks without one.</summary>
    internal bool ProbeDirectory { get; init; } = true;

    /// <summary>Flushes of finished files that take this long on average go to threads of their own, so lanes keep receiving (a disk's fsync); quicker ones stay on the lane.</summary>
    internal TimeSpan SlowFlush { get; init; } = TimeSpan.FromMicroseconds(200);

    /// <summary>What a HelloReply tells a sender this receiver takes (PROTOCOL §2.2); tests leave bits out to be a receiver from before them.</summary>
    internal uint Capabilities { get; init; } = Protocol.WireFormat.CapabilityPatches | Protocol.WireFormat.CapabilityVanished | Protocol.WireFormat.CapabilityWithdrawn | Protocol.WireFormat.CapabilityLinkedVanished
        | Protocol.WireFormat.CapabilityNamesFile;

    /// <summary>How often, at most, a session deleting what the source no longer has tells the sender it is still at work. Internal: tests make it 0.</summary>
    internal TimeSpan StillWorkingInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long a chunk's preparation may read partials left with another shard size again when the sender takes no
    /// StillWorking meanwhile (a session without delta, --checksum or --copy-dest): well within a sender's default
    /// IdleTimeout (120 s), which it waits for the chunk's acceptance.
    /// </summary>
    internal TimeSpan ReshardBudget { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Tunables and protocol limits.</summary>
    public TransferOptions Transfer { get; init; } = new();
}
