namespace Singularity.Engine;

/// <summary>What a finished send did.</summary>
public sealed record SendResult
{
    /// <summary>Entries in the manifest that are files.</summary>
    public required int Files { get; init; }
    /// <summary>All manifest entries: files, directories and links.</summary>
    public required int Entries { get; init; }
    /// <summary>Entries of <see cref="Entries"/> that are directories.</summary>
    public int Directories { get; init; }
    /// <summary>Entries of <see cref="Entries"/> that are symbolic links. The rest are files and further names of them (<see cref="TransferOptions.HardLinks"/>), devices and specials.</summary>
    public int Links { get; init; }
    /// <summary>Entries of <see cref="Entries"/> that are character or block devices (<see cref="TransferOptions.Devices"/>).</summary>
    public int Devices { get; init; }
    /// <summary>Entries of <see cref="Entries"/> that are FIFOs or sockets (<see cref="TransferOptions.Specials"/>).</summary>
    public int Specials { get; init; }
    /// <summary>Devices of <see cref="Devices"/> the receiver skipped, as it makes none (<see cref="ReceiverOptions.MakeDevices"/>) or may not: neither made nor failed, as rsync skips them at a receiver that is not root.</summary>
    public int DevicesSkipped { get; init; }
    /// <summary>Payload bytes of the transfer (the sum of file sizes).</summary>
    public required long Bytes { get; init; }
    /// <summary>Payload bytes actually put on the wire, retransmissions included.</summary>
    public required long BytesSent { get; init; }
    /// <summary>Bytes of shards that lay wholly in a hole of their source and travelled as a header alone, retransmissions included (<see cref="TransferOptions.Sparse"/>); not counted in <see cref="BytesSent"/>.</summary>
    public long BytesInHoles { get; init; }
    /// <summary>Payload bytes as they travelled: <see cref="BytesSent"/> after compression (<see cref="TransferOptions.Compress"/>); equal to it without.</summary>
    public long WireBytes { get; init; }
    /// <summary>Payload bytes the receiver already held from an earlier, interrupted transfer and that did not travel again, summed over this send's attempts (a shard kept by two attempts counts twice).</summary>
    public long BytesSkipped { get; init; }
    /// <summary>Payload bytes of changed files that the versions already at the receiver held, shard for shard, and that did not travel (<see cref="TransferOptions.Delta"/>), summed over this send's attempts.</summary>
    public long BytesMatched { get; init; }
    /// <summary>Files the receiver already held with the same size and mtime, left as they were and not sent (<see cref="TransferOptions.SkipUnchanged"/>).</summary>
    public int FilesUnchanged { get; init; }
    /// <summary>
    /// Of <see cref="FilesUnchanged"/>, the files the receiver kept as it had them although they differ by size or
    /// mtime, by <see cref="TransferOptions.SizeOnly"/>, <see cref="TransferOptions.Update"/> or <see cref="TransferOptions.IgnoreExisting"/>.
    /// </summary>
    public int FilesKept { get; init; }
    /// <summary>
    /// Files <see cref="TransferOptions.MaxFileSize"/> or <see cref="TransferOptions.MinFileSize"/> left out: not sent,
    /// and not counted in <see cref="Files"/>; the receiver keeps what stands at their names.
    /// </summary>
    public int FilesSkippedBySize { get; init; }
    /// <summary>
    /// Links <see cref="TransferOptions.SafeLinks"/> left out, since they point outside the tree: not sent; the
    /// receiver keeps what stands at their names.
    /// </summary>
    public int UnsafeLinksLeftOut { get; init; }
    /// <summary>The bytes of <see cref="FilesUnchanged"/>.</summary>
    public long BytesUnchanged { get; init; }
    /// <summary>
    /// Further names the receiver gave to files, or found given already (<see cref="TransferOptions.HardLinks"/>): the
    /// last attempt's, since each names them all; those it could not make are in <see cref="NotSent"/>. 0 in a dry run.
    /// </summary>
    public int HardLinks { get; init; }
    /// <summary>
    /// Entries left out, each with its reason: a file the sender may not read, or that vanished, the contents of a
    /// directory it may not list, and an entry the receiver could not write (a place it may not write, a name too
    /// long there); everything else arrived. Empty when all did.
    /// </summary>
    public IReadOnlyList<NotSentEntry> NotSent { get; init; } = [];
    /// <summary>The files of <see cref="NotSent"/> (counted in <see cref="Files"/>; not the paths the scan did not find).</summary>
    public int FilesNotSent => NotSent.Count(entry => entry.IsFile);
    /// <summary>The bytes of <see cref="FilesNotSent"/> (counted in <see cref="Bytes"/>).</summary>
    public long BytesNotSent => NotSent.Sum(entry => entry.Bytes);
    /// <summary>Files that travelled (or were completed from what an earlier attempt left): neither unchanged nor left out.</summary>
    public int FilesTransferred => Files - FilesUnchanged - FilesNotSent;
    /// <summary>The bytes of <see cref="FilesTransferred"/>.</summary>
    public long BytesTransferred => Bytes - BytesUnchanged - BytesNotSent;
    /// <summary>Entries the receiver deleted because the sent directories no longer hold them (<see cref="TransferOptions.DeleteExtraneous"/>), counting everything below a deleted directory.</summary>
    public int EntriesDeleted { get; init; }
    /// <summary>Entries the receiver should have deleted but could not; its log names them.</summary>
    public int EntriesNotDeleted { get; init; }
    /// <summary>
    /// With <see cref="TransferOptions.MaxDelete"/>, the entries the receiver left because the limit was reached (a
    /// directory once, not what it holds); rsync stops its deletions the same way.
    /// </summary>
    public int EntriesLeftByLimit { get; init; }
    /// <summary>
    /// Whether deletion was asked for but skipped, because something was left out (see <see cref="NotSent"/>): the
    /// sender could not read it, or the receiver could not write it; as with rsync, such a send deletes nothing.
    /// </summary>
    public bool DeletionSkipped { get; init; }
    /// <summary>
    /// Of a <see cref="DeletionSkipped"/>, whether only files that vanished since the scan were left out, which stop the
    /// deletion of a receiver of an earlier release alone (one of this release deletes past them, as rsync does).
    /// </summary>
    public bool DeletionSkippedByOlderReceiver { get; init; }
    /// <summary>
    /// Whether the receiver could not give some entries all the extended attributes or ACLs sent
    /// (<see cref="TransferOptions.Xattrs"/>, <see cref="TransferOptions.Acls"/>): its file system or system refused
    /// them, and its log counts them and names the first. The entries arrived all the same; rsync ends such a send with exit 23.
    /// </summary>
    public bool XattrsNotSet { get; init; }
    /// <summary>
    /// Whether the receiver's file system refused some entries their modes (FAT, exFAT, a share that keeps none): they
    /// arrived all the same, with the modes it gives, and its log counts them and names the first; rsync ends such a
    /// send with exit 23. <see cref="TransferOptions.KeepPermissions"/> false asks for none.
    /// </summary>
    public bool ModesNotSet { get; init; }
    /// <summary>
    /// A dry run (<see cref="TransferOptions.DryRun"/>): nothing was sent, written or deleted. <see cref="FilesTransferred"/>
    /// and <see cref="EntriesDeleted"/> count what a real send would have sent and deleted.
    /// </summary>
    public bool DryRun { get; init; }
    /// <summary>
    /// With <see cref="TransferOptions.ListSent"/>, the paths (as the receiver names them) of the files that travelled
    /// (or were completed from what an earlier attempt left), in the order the receiver committed them; neither those
    /// unchanged nor those left out. Empty otherwise.
    /// </summary>
    public IReadOnlyList<string> Sent { get; init; } = [];
    /// <summary>In a dry run, the paths (as the receiver names them) of the files a real send would send.</summary>
    public IReadOnlyList<string> WouldSend { get; init; } = [];
    /// <summary>
    /// In a dry run with <see cref="TransferOptions.DeleteExtraneous"/>, what the receiver would delete, in the order it
    /// would (what a directory holds, then the directory), a directory's path ending in '/'; the first 100,000, or
    /// 16 MiB of paths (<see cref="EntriesDeleted"/> counts them all).
    /// </summary>
    public IReadOnlyList<string> WouldDelete { get; init; } = [];
    /// <summary>
    /// With <see cref="TransferOptions.ItemizeChanges"/>, what the send changed (in a dry run, would change) at the
    /// receiver, in the order the changes were known, an entry once (deletions: the first 100,000, or 16 MiB of
    /// paths, as <see cref="WouldDelete"/>). Empty otherwise.
    /// </summary>
    public IReadOnlyList<ItemizedChange> Changes { get; init; } = [];
    /// <summary>Files and links removed here once the receiver held them (<see cref="TransferOptions.RemoveSourceFiles"/>).</summary>
    public int SourcesRemoved { get; init; }
    /// <summary>
    /// Files and links the receiver holds that were kept here all the same (<see cref="TransferOptions.RemoveSourceFiles"/>),
    /// each with why: changed since the send read it, or not removable. Entries left out (<see cref="NotSent"/>) are
    /// kept too, and named there.
    /// </summary>
    public IReadOnlyList<KeptSource> SourcesKept { get; init; } = [];
    /// <summary>Times the sender reconnected and resumed after losing the receiver.</summary>
    public int Retries { get; init; }
    /// <summary>Shards sent again after the receiver rejected them.</summary>
    public required int Retransmits { get; init; }
    /// <summary>Wall time from connecting to the receiver's confirmation.</summary>
    public required TimeSpan Elapsed { get; init; }
    /// <summary>Time spent reading the sources' tree (and, with <see cref="TransferOptions.Checksum"/>, their contents) before connecting, summed over attempts: rsync's file list generation time.</summary>
    public TimeSpan ScanTime { get; init; }
    /// <summary>Bytes of the manifest's entries as sent (before encryption), summed over attempts: rsync's file list size.</summary>
    public long ManifestBytes { get; init; }
    /// <summary>Every byte the sender wrote to its connections, over all attempts: payload, headers, control messages and encryption.</summary>
    public long TrafficSent { get; init; }
    /// <summary>Every byte the sender read from its connections, over all attempts.</summary>
    public long TrafficReceived { get; init; }
    /// <summary>Lanes used.</summary>
    public required int Lanes { get; init; }
    /// <summary>Shard size used.</summary>
    public required int ShardSize { get; init; }
    /// <summary>The cipher that protected the session.</summary>
    public required CipherSuite Cipher { get; init; }
}

/// <summary>A source entry left out of a send, with the reason: the sender could not read it, or the receiver could not write it.</summary>
public sealed record NotSentEntry(string Path, string Reason)
{
    /// <summary>A directory: one the sender could not list (sent empty), or one the receiver could not write.</summary>
    public bool IsDirectory { get; init; }

    /// <summary>A link: one the sender could not follow (it leads nowhere, or round in a loop), or one the receiver could not write.</summary>
    public bool IsLink { get; init; }

    /// <summary>A device, FIFO or socket the receiver could not make (<see cref="TransferOptions.Devices"/>, <see cref="TransferOptions.Specials"/>).</summary>
    public bool IsSpecial { get; init; }

    /// <summary>The size of a file left out, as the scan saw it; 0 for a directory.</summary>
    public long Bytes { get; init; }

    /// <summary>Left out because the receiver could not write it, rather than because the sender could not read it.</summary>
    public bool AtReceiver { get; init; }

    /// <summary>
    /// A path given or listed with relative paths that the scan did not find, or refused (it keeps ".."): never in the
    /// manifest, so not counted in <see cref="SendResult.Files"/>.
    /// </summary>
    public bool NotFound { get; init; }

    /// <summary>
    /// Left out because its extended attributes or ACL could not be read or could not travel, or, for a further name
    /// of a file, the file's (<see cref="TransferOptions.Xattrs"/>, <see cref="TransferOptions.Acls"/>).
    /// </summary>
    public bool ForAttributes { get; init; }

    /// <summary>
    /// Left out because no receiver takes its name: it ends as a receiver's partial files do (<c>.sglty-part</c>,
    /// <c>.sglty-state</c>), and is not one of them. Never in the manifest, so not counted in <see cref="SendResult.Files"/>.
    /// </summary>
    public bool NameRefused { get; init; }

    /// <summary>Gone since the scan (rsync's vanished file): nothing stood at a file's name when it was to be read, or at a directory's when the scan walked into it, which was sent without what it held.</summary>
    public bool Vanished { get; init; }

    /// <summary>A file found changed while it was sent (written to, shortened or replaced), left out whatever of it had arrived, which the receiver gave up.</summary>
    public bool Changed { get; init; }

    /// <summary>A file of the source left out (counted in <see cref="SendResult.Files"/>): not a directory, a link, a special, a path not found, nor a name refused.</summary>
    public bool IsFile => !IsDirectory && !IsLink && !IsSpecial && !NotFound && !NameRefused;
}

/// <summary>A source that a send moving its files (<see cref="TransferOptions.RemoveSourceFiles"/>) kept: its path here, and why.</summary>
public sealed record KeptSource(string Path, string Reason)
{
    /// <summary>
    /// Kept as the options say, not for a fault: a link named as a source (followed, and kept with its file), or a file
    /// the receiver kept as it has it (<see cref="TransferOptions.Update"/> and the like). Otherwise it changed after it
    /// was read, or could not be removed, and the receiver holds what was read.
    /// </summary>
    public bool AsAsked { get; init; }
}

/// <summary>How a session on the receiver ended.</summary>
public sealed record ReceiveResult
{
    /// <summary>The session's identifier, as logged.</summary>
    public required string SessionId { get; init; }
    /// <summary>The sender's address.</summary>
    public required string Remote { get; init; }
    /// <summary>The directory below the receiver's that the sender's URL named and the session wrote into, relative to the receiver's directory with '/' separators; empty when it named none.</summary>
    public string Destination { get; init; } = "";
    /// <summary>Files committed under their final names, or found there already (<see cref="FilesUnchanged"/>).</summary>
    public required int Files { get; init; }
    /// <summary>Files of <see cref="Files"/> already in place with the same size and mtime, left as they were (the sender asked for the quick check).</summary>
    public int FilesUnchanged { get; init; }
    /// <summary>Files the sender could not read and left out (not counted in <see cref="Files"/>).</summary>
    public int FilesNotSent { get; init; }
    /// <summary>Files of <see cref="Files"/> linked from an earlier copy that held them unchanged (<see cref="TransferOptions.LinkDestinations"/>), rather than received; in a dry run, those that would be.</summary>
    public int FilesLinked { get; init; }
    /// <summary>Files of <see cref="Files"/> found unchanged in an earlier copy (<see cref="TransferOptions.CompareDestinations"/>) and so neither received nor made here; in a dry run, those that would be.</summary>
    public int FilesCompared { get; init; }
    /// <summary>Files of <see cref="Files"/> copied here from an earlier copy that held them unchanged (<see cref="TransferOptions.CopyDestinations"/>), rather than received; in a dry run, those that would be.</summary>
    public int FilesCopied { get; init; }
    /// <summary>What the receiver's log says of the session beyond its counts: a --link-dest directory that is not there, say.</summary>
    public IReadOnlyList<string> Notices { get; init; } = [];
    /// <summary>Entries (files, directories, links) that could not be written here, each told to the sender, while the rest arrived.</summary>
    public int EntriesFailed { get; init; }
    /// <summary>The reasons of the first 100 of <see cref="EntriesFailed"/>, each naming its entry relative to the destination (with any character the sender chose).</summary>
    public IReadOnlyList<string> WriteFailures { get; init; } = [];
    /// <summary>Entries that arrived but could not be given the owner the sender kept (<see cref="TransferOptions.PreserveOwners"/>): the system refused it here.</summary>
    public int OwnersNotSet { get; init; }
    /// <summary>Devices a sender sent (<see cref="TransferOptions.Devices"/>) that this receiver skipped, as it makes none (<see cref="ReceiverOptions.MakeDevices"/>) or may not.</summary>
    public int DevicesSkipped { get; init; }
    /// <summary>Entries that arrived but could not be given all the extended attributes or ACLs the sender kept (<see cref="TransferOptions.Xattrs"/>, <see cref="TransferOptions.Acls"/>): the file system or the system refused them here, as the sender is told.</summary>
    public int XattrsNotSet { get; init; }
    /// <summary>The first of <see cref="XattrsNotSet"/>, relative to the destination (with any character the sender chose); null for none.</summary>
    public string? FirstXattrsNotSet { get; init; }
    /// <summary>Entries that arrived but could not be given the sender's mode: the file system refused it (FAT, exFAT, a share that keeps none), as the sender is told.</summary>
    public int ModesNotSet { get; init; }
    /// <summary>The first of <see cref="ModesNotSet"/>, relative to the destination (with any character the sender chose); null for none.</summary>
    public string? FirstModeNotSet { get; init; }
    /// <summary>
    /// A dry run (<see cref="TransferOptions.DryRun"/>): nothing was written or deleted here; <see cref="Files"/> and
    /// <see cref="EntriesDeleted"/> say what a real send would have received and deleted.
    /// </summary>
    public bool DryRun { get; init; }
    /// <summary>Entries deleted because the sent directories no longer hold them (<see cref="TransferOptions.DeleteExtraneous"/>), counting everything below a deleted directory.</summary>
    public int EntriesDeleted { get; init; }
    /// <summary>Entries that should have been deleted but could not be.</summary>
    public int EntriesNotDeleted { get; init; }
    /// <summary>Entries left because the sender's most deletions (rsync --max-delete) were reached: a directory once, not what it holds.</summary>
    public int EntriesLeftByLimit { get; init; }
    /// <summary>The first 100 entries of <see cref="EntriesNotDeleted"/>, each as "'PATH': reason" (the path is relative to the destination and may hold any character).</summary>
    public IReadOnlyList<string> DeletionFailures { get; init; } = [];
    /// <summary>Payload bytes verified and written.</summary>
    public required long Bytes { get; init; }
    /// <summary>The cipher that protected the session.</summary>
    public CipherSuite Cipher { get; init; }
    /// <summary>Wall time of the session.</summary>
    public required TimeSpan Elapsed { get; init; }
    /// <summary>Null when the session succeeded; otherwise why it ended.</summary>
    public SingularityException? Error { get; init; }
    /// <summary>True when every file was committed and the sender was told so.</summary>
    public bool Succeeded => Error is null;
}

/// <summary>
/// A snapshot of a running send, for progress displays. Totals and counts cover the whole send, files committed by
/// earlier attempts included; <see cref="TransferProgress.ActiveLanes"/> is 0 between attempts, and
/// <see cref="TransferProgress.Elapsed"/> is the time of the current attempt.
/// </summary>
public readonly record struct TransferProgress(long TotalBytes, long BytesAcknowledged, long BytesSent, int TotalFiles, int FilesCommitted, int ActiveLanes, TimeSpan Elapsed)
{
    /// <summary>Of the current attempt, the bytes named as holes of sparse files (<see cref="TransferOptions.Sparse"/>) rather than sent; <see cref="BytesSent"/> leaves them out.</summary>
    public long BytesInHoles { get; init; }
}
