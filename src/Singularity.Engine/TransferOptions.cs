namespace Singularity.Engine;

/// <summary>Every tunable of a transfer, shared by sender and receiver. Defaults suit loopback and LAN links; the CLI maps its flags onto these.</summary>
public sealed record TransferOptions
{
    /// <summary>Default number of data lanes (TCP connections) per session.</summary>
    public const int DefaultLanes = 4;

    /// <summary>Default shard size: 4 MiB, large enough to amortise per-shard costs, small enough to spread a file over all lanes.</summary>
    public const int DefaultShardSize = 4 << 20;

    /// <summary>The Zstandard level of <see cref="CompressLevel"/> unless set.</summary>
    public const int DefaultCompressLevel = 1;

    /// <summary>Number of data lanes the sender opens. Default 4.</summary>
    public int Lanes { get; init; } = DefaultLanes;

    /// <summary>
    /// Up to how many lanes the sender may grow to at run time: it doubles the lanes while each doubling raises the
    /// measured throughput by at least a quarter (a lossy, long path under a loss-based congestion control). Equal to
    /// <see cref="Lanes"/> (the default here) keeps the count fixed; `sglty send` without --lanes allows 16.
    /// </summary>
    public int MaxLanes { get; init; }

    /// <summary>
    /// Let the sender fit the shard size and the lanes to the path, from the round trip of its first connection (the
    /// kernel's sample of the TCP handshake on Linux, else the time the connect took). A path of <see cref="LongPathRoundTrip"/> or more is a long one: there a loss-based congestion control
    /// (cubic, reno; anything but BBR) holds each TCP stream to a few MB/s whatever the link, so the sender starts with 32 lanes and may
    /// double them to 64; 1 MiB shards keep the buffers of that many lanes within bounds on both sides. A shorter path,
    /// or a sender whose connections use BBR (which keeps one stream near the link rate), keeps <see cref="Lanes"/>,
    /// <see cref="MaxLanes"/> and <see cref="ShardSize"/>, except that a local path (under
    /// <see cref="LocalPathRoundTrip"/>) keeps its lanes from growing. Default false; `sglty send` turns it on unless
    /// --lanes or --shard-size is given.
    /// </summary>
    public bool FitToPath { get; init; }

    /// <summary>The connection time under which <see cref="FitToPath"/> treats a path as local (loopback, a LAN): 1 ms.</summary>
    public static readonly TimeSpan LocalPathRoundTrip = TimeSpan.FromMilliseconds(1);

    /// <summary>The connection time from which <see cref="FitToPath"/> treats a path as long: 10 ms.</summary>
    public static readonly TimeSpan LongPathRoundTrip = TimeSpan.FromMilliseconds(10);

    /// <summary>Bytes per shard (the unit that is hashed, sent, verified and acknowledged). Default 4 MiB.</summary>
    public int ShardSize { get; init; } = DefaultShardSize;

    /// <summary>
    /// What a sender's Hello says it takes (PROTOCOL §2.1): basis sums and patches, and sums for files of which nothing
    /// was offered. Tests set less, to act as a sender from before either.
    /// </summary>
    internal uint Capabilities { get; init; } = Protocol.WireFormat.CapabilityPatches | Protocol.WireFormat.CapabilitySumsAlone;

    /// <summary>Most payload bytes the sender may have sent but not yet seen acknowledged (the drain control). Default 128 MiB.</summary>
    public long MaxInFlightBytes { get; init; } = 128L << 20;

    /// <summary>
    /// Files a sender announces to the receiver but has not yet seen committed, at most, when it sends another
    /// manifest chunk: the receiver keeps the state of every announced file until its commit, so a tree of millions of
    /// files is announced about as fast as it is committed rather than all at once. More than a chunk's files (at most
    /// about 9,700) and what the lanes hold in flight, so the transfer does not wait on it. Internal: tests make it small.
    /// </summary>
    internal int FilesAheadOfCommits { get; init; } = 16384;

    /// <summary>Socket send and receive buffer size in bytes; 0 keeps the operating system's auto-tuning. Default 0.</summary>
    public int SocketBufferSize { get; init; }

    /// <summary>TCP congestion control for this side's connections, such as "bbr" or "cubic" (Linux: TCP_CONGESTION); null keeps the system default.</summary>
    public string? CongestionControl { get; init; }

    /// <summary>
    /// Which of the receiver's host's addresses the sender connects to, as rsync's and ssh's -4 and -6 choose:
    /// <see cref="System.Net.Sockets.AddressFamily.InterNetwork"/> (IPv4) or
    /// <see cref="System.Net.Sockets.AddressFamily.InterNetworkV6"/> (IPv6); the ssh that starts the other end is asked
    /// for the same, and a pull's receiver listens on an address of that family. Default
    /// <see cref="System.Net.Sockets.AddressFamily.Unspecified"/>: any.
    /// </summary>
    public System.Net.Sockets.AddressFamily AddressFamily { get; init; }

    /// <summary>Flush every file to stable storage before it is renamed into place. Default true.</summary>
    public bool Durable { get; init; } = true;

    /// <summary>
    /// On a sender, the cipher it asks for; on a receiver, the cipher it prefers and whether it requires one
    /// (<see cref="CipherSuite.None"/> there allows plaintext sessions). Default AES-256-GCM.
    /// </summary>
    public CipherSuite Cipher { get; init; } = CipherSuite.Aes256Gcm;

    /// <summary>Time a new connection has to complete its handshake; on a sender also the time its connect may take. Default 10 s.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How many attempts in a row that move no data a sender makes, reconnecting and resuming after losing the receiver (or finding it busy or its disk full), before it gives up; a first connection refused or never answered, or a host name that does not exist, is not retried. Default 0 here; `sglty send` uses 5.</summary>
    public int Retries { get; init; }

    /// <summary>
    /// Leaves alone, and does not send, a file the receiver already holds under its name with the same size and
    /// modification time, as rsync's quick check does (only its mode is updated). Such a file's bytes are not compared:
    /// one changed in place with its size and mtime kept stays as it is. Default false here; `sglty send` sets it
    /// unless given --ignore-times.
    /// </summary>
    public bool SkipUnchanged { get; init; }

    /// <summary>
    /// Once every file is in place, the receiver deletes what the sent directories hold that the source does not (the
    /// destination's own directory too, when a directory's contents were sent into it; with <see cref="Relative"/>,
    /// only directories sent whole), as rsync's --delete does:
    /// links as links, never followed, and directories with everything below them; partial files are left. Nothing is
    /// deleted if the send left anything out that it could not read. Default false; `sglty send --delete` sets it.
    /// </summary>
    public bool DeleteExtraneous { get; init; }

    /// <summary>
    /// With <see cref="DeleteExtraneous"/>, the receiver deletes once it has the whole manifest, before the files of
    /// its last chunk move (of a manifest of one chunk, a few thousand entries, before any file), as rsync's
    /// --delete-before does: the space it frees counts for the files that come, and its check of free space for that
    /// chunk is made after it. It then deletes even where a file fails later (what the scan could not read still
    /// stops it), and per-directory merge files at the receiver are read as they stood before the send. Default false.
    /// </summary>
    public bool DeleteBefore { get; init; }

    /// <summary>
    /// With <see cref="DeleteExtraneous"/>, <see cref="DeleteMissingArgs"/> or <see cref="Force"/>, the most entries the receiver deletes, as rsync --max-delete: once it has
    /// deleted that many (counting each entry below a directory), it deletes no more, and counts what it passes by in
    /// <see cref="SendResult.EntriesLeftByLimit"/>; 0 deletes nothing and counts what would go. A safety net for
    /// scripted backups, where a source gone empty (an unmounted disk) would otherwise empty the copy. Default null:
    /// no limit. `sglty send --max-delete`.
    /// </summary>
    public int? MaxDelete { get; init; }

    /// <summary>
    /// Patterns of entries the sender leaves out, as rsync's --exclude and --include (docs/PROTOCOL.md §3, Exclude):
    /// <c>*.tmp</c> at any depth, <c>/tree/build</c> from the destination, <c>cache/</c> directories only. One that
    /// starts with "+ " is an include, and "!" clears those before it; the first that matches an entry decides, so
    /// <c>["+ */", "+ *.log", "- *"]</c> sends only logs. With <see cref="DeleteExtraneous"/>, the receiver keeps what
    /// they exclude (unless <see cref="DeleteExcluded"/>). As rsync's filter rules, one that starts with "H " (hide) or
    /// "S " (show) is the sender's alone, an exclude or an include of its scan that the receiver's deletion does not
    /// keep, and one that starts with "P " (protect) or "R " (risk) the receiver's alone, what its deletion keeps or
    /// not (also with <see cref="DeleteExcluded"/>); an exclude that starts so is written "- P x". One that starts
    /// with ':' is a dir-merge rule, ":MODIFIERS NAME" as <see cref="FilterRules.Parse(string, Func{string, IEnumerable{string}})"/> gives it (rsync's
    /// per-directory merge files, -F): the sender reads the rules of each file NAME of its tree for what its directory
    /// holds, and a receiver that deletes those in its destination; an exclude that starts with ':' is written
    /// "- :x". At most 256, of at most 1024 bytes each and 8192 in all, a side. Default none.
    /// </summary>
    public IReadOnlyList<string> Exclude { get; init; } = [];

    /// <summary>
    /// With <see cref="PreserveOwners"/>, send owners by number only, as rsync --numeric-ids does: the names of the
    /// users and groups are not sent, so the receiver gives each entry the ids it had here, whatever they name there.
    /// Default false: names travel, and a receiver maps a name it knows to its own id. `sglty send --numeric-ids`.
    /// </summary>
    public bool NumericIds { get; init; }

    /// <summary>
    /// Keep hard links, as rsync -H keeps them: a file with several names among those sent travels once, and the
    /// receiver gives it the other names. Linux senders only (it takes each such file's device and inode). Default
    /// false; `sglty send --hard-links` sets it.
    /// </summary>
    public bool HardLinks { get; init; }

    /// <summary>
    /// Keep extended attributes, as rsync -X keeps them: every entry's (a file's, a directory's, a link's, a special's)
    /// travel with it, and the receiver gives them to what it makes or finds in place and removes the others there,
    /// in the namespaces each side handles: all but <c>system.*</c> (ACLs) and <c>security.capability</c> (which,
    /// as a setuid bit, a receiver never gives) for root, <c>user.*</c> for anyone else; at most 64 KiB an entry.
    /// With --link-dest, an earlier copy is used only if its attributes are the same. What the receiver's file system
    /// or system refuses leaves the entry without it (<see cref="ReceiveResult.XattrsNotSet"/>). Linux senders and
    /// receivers. Default false; `sglty send -X` sets it.
    /// </summary>
    public bool Xattrs { get; init; }

    /// <summary>
    /// Keep POSIX ACLs, as rsync -A keeps them: every file's and directory's ACL (a directory's default ACL too)
    /// travels with it as the kernel keeps it, users and groups by number (as rsync --numeric-ids sends them), and the
    /// receiver gives it to what it makes or finds in place, and removes an ACL the source does not have. Linux
    /// senders and receivers. Default false; `sglty send -A` sets it.
    /// </summary>
    public bool Acls { get; init; }

    /// <summary>
    /// Send character and block devices as devices, as rsync --devices sends them: the receiver makes each one anew
    /// with its number, mode, time and (when kept) owner, if it makes devices at all (<see cref="ReceiverOptions.MakeDevices"/>,
    /// and only as root); else each fails on its own. Linux senders and receivers. Default false: each is left out
    /// with a line, as rsync leaves it without -D. `sglty send --devices`, `-D` or `-a`.
    /// </summary>
    public bool Devices { get; init; }

    /// <summary>
    /// Send FIFOs and sockets as what they are, as rsync --specials sends them: the receiver makes each one anew (a
    /// socket as a name no process listens on). Linux senders and receivers. Default false: each is left out with a
    /// line, as rsync leaves it without -D. `sglty send --specials`, `-D` or `-a`.
    /// </summary>
    public bool Specials { get; init; }

    /// <summary>
    /// Stay on each given directory's file system, as rsync -x does, so that a backup of / does not take in /proc or a
    /// mounted share: a directory below it on another file system (a mount point) is sent without what it holds
    /// (<see cref="MountPoints.SentEmpty"/>), or left out (<see cref="MountPoints.LeftOut"/>, rsync -xx). Paths given
    /// are sent wherever they are. With <see cref="DeleteExtraneous"/> (or <see cref="Force"/>), the receiver's deletion stays on the
    /// destination's file system too: it neither cleans nor deletes a directory on another. Linux senders only.
    /// Default <see cref="MountPoints.Crossed"/>; `sglty send -x` (twice for -xx).
    /// </summary>
    public MountPoints OneFileSystem { get; init; }

    /// <summary>
    /// Send each link inside a tree as what it points to, as rsync -L (--copy-links) does: a link to a file arrives
    /// as a file with that file's contents, mode and time, a link to a directory as a directory with what it holds,
    /// read from where the link leads. A link to nothing, or to a directory the walk is already in (a loop), is named
    /// and left out (<see cref="SendResult.NotSent"/>), as rsync names one. Not with <see cref="RemoveSourceFiles"/>.
    /// Default false: links are sent as links, never followed (a link named as a source is followed either way).
    /// `sglty send --copy-links`.
    /// </summary>
    public bool CopyLinks { get; init; }

    /// <summary>
    /// Send each link inside a tree that points outside it as what it points to, as rsync --copy-unsafe-links does,
    /// and the other links as links: a copy that must stand on its own keeps its links within the tree and takes what
    /// lies outside. A link is outside when its target is absolute, or climbs with '..' above the top of the tree
    /// (the destination) at any point, judged from its text, as rsync judges it. Such a link that leads nowhere is named
    /// and left out, as with <see cref="CopyLinks"/>. Not with <see cref="RemoveSourceFiles"/>. Default false;
    /// `sglty send --copy-unsafe-links`.
    /// </summary>
    public bool CopyUnsafeLinks { get; init; }

    /// <summary>
    /// Send each link inside a tree that leads to a directory as that directory, with what it holds, as rsync -k
    /// (--copy-dirlinks) does; links to anything else stay links. Not with <see cref="RemoveSourceFiles"/>. Default
    /// false; `sglty send --copy-dirlinks`.
    /// </summary>
    public bool CopyDirLinks { get; init; }

    /// <summary>
    /// Leave out each link that points outside the tree (as <see cref="CopyUnsafeLinks"/> judges it), as rsync
    /// --safe-links does: a copy of an untrusted tree then holds no link to /etc or above the destination. With
    /// <see cref="DeleteExtraneous"/>, the receiver keeps what stands at their names, as rsync keeps it. Counted in
    /// <see cref="SendResult.UnsafeLinksLeftOut"/>. <see cref="CopyLinks"/> and <see cref="CopyUnsafeLinks"/> send
    /// such links as what they point to instead. Default false; `sglty send --safe-links`.
    /// </summary>
    public bool SafeLinks { get; init; }

    /// <summary>
    /// Leave out each directory that holds nothing but directories, at any depth, as rsync -m (--prune-empty-dirs)
    /// does: with patterns that pick some files of a tree (include '*/' and '*.log', exclude '*'), the directories
    /// that held none do not arrive. With <see cref="DeleteExtraneous"/>, the receiver deletes them where the sent
    /// directories hold them. Default false; `sglty send --prune-empty-dirs`.
    /// </summary>
    public bool PruneEmptyDirectories { get; init; }

    /// <summary>
    /// Pass over a path given (or listed, with <see cref="Relative"/>) that does not exist, without an error, as rsync
    /// --ignore-missing-args does: a script's list or glob may name files that come and go, and a deletion still runs.
    /// One that cannot be reached (a directory on its way may not be searched) is still named and left out. Default
    /// false: a missing path given ends the send before it starts, and a missing listed one is named and left out.
    /// `sglty send --ignore-missing-args`.
    /// </summary>
    public bool IgnoreMissingArgs { get; init; }

    /// <summary>
    /// As <see cref="IgnoreMissingArgs"/>, and the receiver deletes what stands at the name a missing path would have
    /// had, as rsync --delete-missing-args does: a script that sends a list of what changed (a file, or the name of one
    /// removed since) keeps the copy in step. A file or a link goes, and so does an empty directory; one with anything
    /// in it only with <see cref="DeleteExtraneous"/> or <see cref="Force"/> (else it is named as not deleted). Backups, <see cref="MaxDelete"/>
    /// and a dry run apply as to <see cref="DeleteExtraneous"/>'s deletions, which count them. Default false;
    /// `sglty send --delete-missing-args`.
    /// </summary>
    public bool DeleteMissingArgs { get; init; }

    /// <summary>
    /// A directory that holds anything, where the source now has a file, a link or a special, is deleted with what it
    /// holds (links not followed, but what the patterns keep: an exclude, unless <see cref="DeleteExcluded"/>, and a
    /// protect rule), and the entry takes its place, as rsync --force does; without it, or
    /// <see cref="DeleteExtraneous"/>, the entry fails, naming the directory. Backups, <see cref="MaxDelete"/>,
    /// <see cref="OneFileSystem"/> and a dry run apply as to <see cref="DeleteExtraneous"/>'s deletions. Default false;
    /// `sglty send --force`. Needs a receiver of this version.
    /// </summary>
    public bool Force { get; init; }

    /// <summary>
    /// Give what arrives the source's permission bits, as rsync -p does. False, as rsync --no-perms: a new entry takes
    /// them within the receiver's umask, a file that replaces another the mode of the one it replaces, and an entry in
    /// place keeps its own, as far as the receiver's file system takes them (for destinations that refuse modes: FAT,
    /// exFAT, some shares). Default true; `sglty send --no-perms`. False needs a receiver of this version.
    /// </summary>
    public bool KeepPermissions { get; init; } = true;

    /// <summary>
    /// With <see cref="SkipUnchanged"/>, keep a file the receiver holds with the entry's size whatever its mtime, as
    /// rsync --size-only does: for destinations whose times cannot be trusted. It is left exactly as it is (its time
    /// too) and counted in <see cref="SendResult.FilesKept"/>. Default false; `sglty send --size-only`.
    /// </summary>
    public bool SizeOnly { get; init; }

    /// <summary>
    /// Compare modification times in whole seconds, as the same when they differ by at most this many, as rsync
    /// --modify-window does: for a destination that keeps coarser times than the source (FAT keeps 2 s, some network
    /// shares 1 s), where every file would otherwise be taken for changed, and sent, each time. It applies wherever a
    /// time is compared: the quick check, <see cref="LinkDestinations"/>, and <see cref="Update"/>, which then keeps a
    /// copy unless the source is newer by at least the window, as rsync's does; a file whose time is within the window
    /// keeps its own (with <see cref="Checksum"/>, a file of the same contents gets the source's exactly). 0 compares whole seconds,
    /// as rsync does by default. Default null: times are compared to the 100 ns the receiver keeps (rsync's
    /// --modify-window -1). `sglty send --modify-window`.
    /// </summary>
    public int? ModifyWindow { get; init; }

    /// <summary>The receiver sets no directory's modification time, as rsync -O (--omit-dir-times) does: for a destination that cannot keep them (some network shares), or where they do not matter. Default false; `sglty send --omit-dir-times`.</summary>
    public bool OmitDirectoryTimes { get; init; }

    /// <summary>The receiver sets no link's modification time, as rsync -J (--omit-link-times) does. Default false; `sglty send --omit-link-times`.</summary>
    public bool OmitLinkTimes { get; init; }

    /// <summary>
    /// With <see cref="SkipUnchanged"/>, keep a file the receiver holds that was modified later than the source's, as
    /// rsync --update does: changes made there are not overwritten by older ones. It is left exactly as it is and
    /// counted in <see cref="SendResult.FilesKept"/>. Default false; `sglty send --update`.
    /// </summary>
    public bool Update { get; init; }

    /// <summary>
    /// With <see cref="SkipUnchanged"/>, keep whatever the receiver holds at an entry's name, as rsync --ignore-existing
    /// does: only files it does not have are sent. A file there is left exactly as it is (its mode too) and counted in
    /// <see cref="SendResult.FilesKept"/> when it differs by size or mtime; a link of the source is not made over
    /// anything there, and a directory of the source whose name something else takes fails, with what is below it.
    /// Not with <see cref="HardLinks"/>. Default false; `sglty send --ignore-existing`.
    /// </summary>
    public bool IgnoreExisting { get; init; }

    /// <summary>
    /// With <see cref="SkipUnchanged"/>, make nothing the receiver does not hold yet, as rsync --existing
    /// (--ignore-non-existing) does: only what stands at an entry's name is updated. A file or a link the receiver
    /// does not have is counted in <see cref="SendResult.FilesKept"/> (files) and not sent; a directory it does not
    /// have is not made, and nothing below it is. Not with <see cref="HardLinks"/>. Default false; `sglty send
    /// --existing`.
    /// </summary>
    public bool ExistingOnly { get; init; }

    /// <summary>Whether a rule keeps at the receiver what the quick check alone would replace or make (the receiver names such files in FilesKept).</summary>
    internal bool KeepsByRule => SizeOnly || Update || IgnoreExisting || ExistingOnly;

    /// <summary>
    /// With <see cref="SkipUnchanged"/>, judge a file the receiver holds with the entry's size by its contents rather
    /// than its mtime, as rsync --checksum does: both sides read every such file whole (the sender as it announces it,
    /// the receiver as it prepares it), and one whose contents match (<see cref="Integrity.Digests.Content"/>) is left in place, its mtime and mode
    /// set to the source's; any other is sent. For destinations whose files may differ under the same size and time.
    /// Not with <see cref="SizeOnly"/>. Default false; `sglty send --checksum`.
    /// </summary>
    public bool Checksum { get; init; }

    /// <summary>
    /// Leave out files larger than this many bytes, as rsync --max-size does; null for no limit. A transfer rule, not an
    /// exclude, as rsync's is: with <see cref="DeleteExtraneous"/> the receiver keeps what stands at such a file's name
    /// (even with <see cref="DeleteExcluded"/>). Counted in <see cref="SendResult.FilesSkippedBySize"/>. With
    /// <see cref="HardLinks"/>, a file's other names are left out with it. `sglty send --max-size`.
    /// </summary>
    public long? MaxFileSize { get; init; }

    /// <summary>Leave out files smaller than this many bytes, as rsync --min-size does; null for no limit. As <see cref="MaxFileSize"/> otherwise. `sglty send --min-size`.</summary>
    public long? MinFileSize { get; init; }

    /// <summary>
    /// Keep what the send replaces or deletes at the receiver, as rsync --backup keeps it: each file or link is renamed
    /// to its name with <see cref="BackupSuffix"/> beside it, or moved to the same path under
    /// <see cref="BackupDirectory"/>; an older backup there is replaced. A deletion leaves the backups alone. Default
    /// false; `sglty send --backup`.
    /// </summary>
    public bool Backup { get; init; }

    /// <summary>
    /// With <see cref="Backup"/> (which it implies): the directory, relative to the receiver's destination and inside
    /// it, that backups are moved into, each at its own path (rsync --backup-dir); null for backups beside their files.
    /// Entries of the send at or below it fail. `sglty send --backup-dir`.
    /// </summary>
    public string? BackupDirectory { get; init; }

    /// <summary>Appended to each backup's name (rsync --suffix); null for rsync's default: "~" beside the files, "" under <see cref="BackupDirectory"/>. `sglty send --suffix`.</summary>
    public string? BackupSuffix { get; init; }

    /// <summary>
    /// Directories of earlier copies at the receiver (an older snapshot), relative to the destination and inside the
    /// receiver's directory ("../2026-12-04" below a URL's "backups/2026-12-05"), at most 20, tried in order (rsync
    /// --link-dest): a file the destination does not hold yet, which one of them holds unchanged (a regular file of the
    /// same size, mtime and mode, and owner when kept), is given a further name of that copy, a hard link, and none of
    /// it travels; the result counts it as unchanged. Needs <see cref="SkipUnchanged"/>; not with <see cref="Checksum"/>.
    /// Linux receivers only. Empty by default; `sglty send --link-dest`.
    /// </summary>
    public IReadOnlyList<string> LinkDestinations { get; init; } = [];

    /// <summary>
    /// As <see cref="LinkDestinations"/>, but a file one of them holds unchanged is neither sent nor made at the
    /// destination, as rsync --compare-dest leaves it: the destination then holds only what changed since that copy
    /// (a differential backup). The result counts such files as unchanged. Not with <see cref="RemoveSourceFiles"/>
    /// (the destination does not hold them) nor <see cref="HardLinks"/>. Empty by default; `sglty send --compare-dest`.
    /// </summary>
    public IReadOnlyList<string> CompareDestinations { get; init; } = [];

    /// <summary>
    /// As <see cref="LinkDestinations"/>, but a file one of them holds unchanged is copied to the destination at the
    /// receiver rather than linked, as rsync --copy-dest copies it: none of it travels, and the copy shares nothing with
    /// the earlier one. The copy is written unnamed (O_TMPFILE) and named once whole; where the destination's file
    /// system cannot make unnamed files, the file is sent. Empty by default; `sglty send --copy-dest`.
    /// </summary>
    public IReadOnlyList<string> CopyDestinations { get; init; } = [];

    /// <summary>The directories of earlier copies, of whichever of the three options was given, and what is done with an unchanged copy.</summary>
    internal (IReadOnlyList<string> Directories, Storage.EarlierCopies Use, string Option) EarlierCopies =>
        CompareDestinations.Count > 0 ? (CompareDestinations, Storage.EarlierCopies.Compared, nameof(CompareDestinations))
        : CopyDestinations.Count > 0 ? (CopyDestinations, Storage.EarlierCopies.Copied, nameof(CopyDestinations))
        : (LinkDestinations, Storage.EarlierCopies.Linked, nameof(LinkDestinations));

    /// <summary>
    /// Changes to the modes the receiver gives what is sent, read and applied as rsync --chmod reads and applies
    /// them: each a comma-separated list of chmod symbolic modes with one operator each ("u+rwx,g-w,o=rX", "g=u"),
    /// each optionally prefixed with D (directories only) or F (files only), or octal modes ("D775,F664"); a clause
    /// without a class ("+w") means all of u, g and o, less what this process's umask withholds. Applied in order to
    /// each file's and directory's mode before the receiver sees it (which still drops setuid and setgid bits, and a
    /// file's sticky bit). Empty by default; `sglty send --chmod`.
    /// </summary>
    public IReadOnlyList<string> ModeChanges { get; init; } = [];

    /// <summary>The most <see cref="LinkDestinations"/> a send may give, as rsync allows.</summary>
    public const int MostLinkDestinations = Storage.LinkDestinations.Most;

    /// <summary>Whether the receiver keeps backups (<see cref="Backup"/> or <see cref="BackupDirectory"/>).</summary>
    internal bool KeepsBackups => Backup || BackupDirectory is not null;

    /// <summary>The suffix backups take: <see cref="BackupSuffix"/>, or rsync's default.</summary>
    internal string BackupSuffixOrDefault => BackupSuffix ?? (BackupDirectory is null ? "~" : "");

    /// <summary>Whether <see cref="MaxFileSize"/> or <see cref="MinFileSize"/> leaves out a file of <paramref name="size"/> bytes.</summary>
    internal bool LeavesOutBySize(long size) => size > (MaxFileSize ?? long.MaxValue) || size < (MinFileSize ?? 0);

    /// <summary>
    /// Move rather than copy, as rsync --remove-source-files does: once the send succeeded, each file and link the
    /// receiver confirmed it holds (committed, or found in place) is removed here, if it is still as it was read; one
    /// that changed meanwhile (a log written to) is kept and named in <see cref="SendResult.SourcesKept"/>.
    /// Directories stay. A send that fails removes nothing. While it runs, no receiver may run in a directory where
    /// the sources would land (that would make the copy the source), and it is refused if one does. Linux senders
    /// only; nothing is removed in a dry run. Default false; `sglty send --remove-source-files` sets it.
    /// </summary>
    public bool RemoveSourceFiles { get; init; }

    /// <summary>
    /// With <see cref="DeleteExtraneous"/>, the receiver also deletes what <see cref="Exclude"/> leaves out, as rsync's
    /// --delete-excluded does: the patterns then only choose what is sent, and the destination ends up holding just
    /// that. Default false; `sglty send --delete-excluded` sets it, and --delete with it.
    /// </summary>
    public bool DeleteExcluded { get; init; }

    /// <summary>
    /// With <see cref="DeleteExtraneous"/>, delete even when something was left out, as rsync --ignore-errors does.
    /// By default such a send deletes nothing, since what was left out would read as gone from the source. With this,
    /// a file the sender could not read, or the receiver could not write, keeps its copy there (its name is still
    /// sent), but a link that could not be followed (<see cref="CopyLinks"/>) is deleted there, and so is what was
    /// below a directory the sender could not list (sent empty). A directory whose contents are sent into the
    /// destination's root and that could not be listed leaves the root uncleaned. The send still reports what was
    /// left out (exit 23). Without <see cref="DeleteExtraneous"/> it does nothing, as with rsync. Default false;
    /// `sglty send --ignore-errors`.
    /// </summary>
    public bool IgnoreErrors { get; init; }

    /// <summary>
    /// Keep each entry's owner and group, as rsync -a keeps them (the sender must run on Linux): by name where the
    /// receiver knows the name (the ids' names travel once, and root's id is never mapped), else by number, or by
    /// number only with <see cref="NumericIds"/>. The sender reads them (one more look at each entry); a receiver
    /// running as root gives them to what it writes, and to files in place whose owner differs; any other receiver
    /// leaves them, as it cannot change owners, and ids the receiver's system refuses leave entries its own
    /// (<see cref="ReceiveResult.OwnersNotSet"/>). Default false; `sglty send --owners` sets it.
    /// </summary>
    public bool PreserveOwners { get; init; }

    /// <summary>
    /// With <see cref="PreserveOwners"/>, which of the two are kept: both by default; the user alone as rsync -o keeps
    /// it without -g, or the group alone as rsync -g without -o. What is not kept the receiver leaves as it finds it on
    /// an entry in place, and as it makes it (its own) on one it makes. Fewer than both needs a receiver of this
    /// version. `sglty send -o` and `-g`.
    /// </summary>
    public OwnerParts OwnerParts { get; init; } = OwnerParts.Both;

    /// <summary>
    /// Give every entry this user, a name or a number, as rsync --chown USER: does: the user is kept (as with
    /// <see cref="PreserveOwners"/>, which it implies for the user), and is this one. A number travels as it is; a name
    /// as the user this system knows by it, which the receiver gives the id it knows that name by (else that number).
    /// An unknown name is refused before anything is read. Null (the default): the entry's own, if kept.
    /// `sglty send --chown USER:GROUP`.
    /// </summary>
    public string? ChownUser { get; init; }

    /// <summary>As <see cref="ChownUser"/>, for the group (rsync --chown :GROUP).</summary>
    public string? ChownGroup { get; init; }

    /// <summary>
    /// Give users other users, as rsync --usermap does: FROM:TO pairs, comma-separated, the first whose FROM matches
    /// an entry's user deciding. FROM is a name of this system, which may hold wildcards (<c>*</c>, <c>?</c>,
    /// <c>[a-z]</c>) and then matches names alone; a number; an inclusive range (<c>1000-1999</c>); <c>*</c>, which
    /// matches every user; or nothing, which matches the users with no name here (every user, with
    /// <see cref="NumericIds"/>, as rsync's). TO is a name or a number, and travels as <see cref="ChownUser"/>'s does.
    /// A user no pair matches stays as it is. It keeps the user, as <see cref="PreserveOwners"/> does for it, and
    /// does not go with <see cref="ChownUser"/> (which is <c>*:USER</c>). Null (the default): no mapping.
    /// `sglty send --usermap STRING`.
    /// </summary>
    public string? UserMap { get; init; }

    /// <summary>As <see cref="UserMap"/>, for groups (rsync --groupmap); does not go with <see cref="ChownGroup"/>.</summary>
    public string? GroupMap { get; init; }

    /// <summary>
    /// Send each path under the path it was given by, as rsync --relative (-R) does: <c>logs/app/x.log</c> arrives as
    /// <c>logs/app/x.log</c> below the receiver's directory, and <c>/var/log/x.log</c> as <c>var/log/x.log</c>; the
    /// first "/./" in a path marks where the kept part starts (<c>/var/./log/x.log</c> arrives as <c>log/x.log</c>, and
    /// <c>/srv/./</c> sends what /srv holds), and a trailing "/." names the directory itself, as with rsync. The directories above each kept name are sent too (with their modes and
    /// times); a link given is sent as a link; a name met again, or a path below one already sent whole, is sent once;
    /// a path that is missing is named in <see cref="SendResult.NotSent"/> and the rest goes on. With
    /// <see cref="DeleteExtraneous"/>, only directories sent whole are cleaned, as rsync cleans them: not those above
    /// each kept name, nor one sent without what it holds (<see cref="Recursive"/> false; one named with a trailing
    /// '/' is sent, and cleaned, at one level). Default false; `sglty send
    /// --relative`, and `--files-from`.
    /// </summary>
    public bool Relative { get; init; }

    /// <summary>
    /// With <see cref="Relative"/>, send what each directory given holds, and all below it. Default true; false sends a
    /// directory given as a directory alone, as rsync --files-from does without -r (so a list of old directories
    /// from find does not carry along what was written into them since). `sglty send --files-from` sets it false,
    /// and `--recursive` (`-r`) true again.
    /// </summary>
    public bool Recursive { get; init; } = true;

    /// <summary>
    /// Name in <see cref="SendResult.Sent"/> each file that travelled, as rsync -v lists them. Default false (a tree of
    /// millions of files would hold a list as long); `sglty send --verbose` sets it.
    /// </summary>
    public bool ListSent { get; init; }

    /// <summary>
    /// Told each file's path (as the receiver names it) once the receiver has committed it, as rsync -v lists files as
    /// they go: each file that travelled, once, whatever the attempts (as <see cref="SendResult.Sent"/> holds them with
    /// <see cref="ListSent"/>), also when the send fails later. Called on the session's control thread: it must be
    /// quick, and never throw. Null (the default) for none; `sglty send --verbose` prints them.
    /// </summary>
    public Action<string>? OnFileSent { get; init; }

    /// <summary>
    /// Itemize what the send changes at the receiver, as rsync --itemize-changes does (<see cref="ItemizedChange"/>):
    /// 0 (the default) not at all; 1 each entry sent, made, or whose attributes change, and each deletion; 2 every
    /// entry, also those left as they stood (rsync -ii). The changes go to <see cref="OnItemized"/> as they are known,
    /// and all of them, in that order, to <see cref="SendResult.Changes"/>. A dry run itemizes what a real send would
    /// change. `sglty send -i` sets 1, `-ii` 2.
    /// </summary>
    public int ItemizeChanges { get; init; }

    /// <summary>
    /// With <see cref="ItemizeChanges"/>, told each change as it is known: a file's once the receiver committed it (or
    /// found it in place), a directory's or a link's once the receiver made it, deletions at the end; an entry once,
    /// whatever the attempts. Called on the session's control thread: it must be quick, and never throw. Null (the
    /// default) for none; `sglty send -i` prints them.
    /// </summary>
    public Action<ItemizedChange>? OnItemized { get; init; }

    /// <summary>
    /// A dry run, as rsync's --dry-run: the receiver writes and deletes nothing, and the result says what a real send
    /// would do (<see cref="SendResult.WouldSend"/>, <see cref="SendResult.WouldDelete"/>). No file's contents are read
    /// or sent. Default false; `sglty send --dry-run` sets it.
    /// </summary>
    public bool DryRun { get; init; }

    /// <summary>
    /// Handle sparse files as rsync --sparse does, and faster: a shard that lies wholly in a hole of the source (a
    /// disk image's free space, say; Linux senders) travels as its header alone, without being read; a Linux receiver
    /// leaves every run of zeros of 64 KiB or more on whole 4 KiB blocks within a shard as a hole rather than writing
    /// it, and no receiver reserves the files' space ahead or asks for it free. The files arrive byte for byte the
    /// same, and take on the receiver's disk about what they hold.
    /// Default false; `sglty send --sparse` sets it.
    /// </summary>
    public bool Sparse { get; init; }

    /// <summary>
    /// Write a changed file into the file standing at its name, where it stands, as rsync --inplace does, rather than
    /// beside it and renamed into place: no second copy takes the disk's space, and with <see cref="Delta"/> only the
    /// shards that differ are written (the standing file's are read where they stand, never copied). A file that has
    /// other names (hard links) when the receiver looks at it is still written beside its name, so they keep what they
    /// hold. As with rsync, the file is then not all or nothing: a send that fails part way leaves it part old, part
    /// new (with a time that tells it apart, so the next send finishes it), and a reader meanwhile sees it change; and
    /// as with rsync, nothing else may write the receiver's copy meanwhile. A new file still arrives beside its name.
    /// Not with <see cref="Sparse"/> or backups. Needs a Linux receiver of this version. Default false;
    /// `sglty send --inplace` sets it.
    /// </summary>
    public bool InPlace { get; init; }

    /// <summary>
    /// Put the files that arrive into place together at the end of the send, as rsync --delay-updates does, rather
    /// than each as soon as it is verified: readers of the destination see the old version of the tree until then,
    /// and the new one within moments after (each file's rename stays atomic, the tree's change is not). Each file
    /// waits verified, as its partial, beside its name: space for it is taken until the end, and a send that fails
    /// before it leaves them as partials, which the same send again puts into place sending only the digests of those
    /// of more than one shard (a file of one shard travels again). Files only: directories, links and specials are made as they come, hard links to waiting files after
    /// them. Not with <see cref="InPlace"/>. Needs a receiver of this version. Default false;
    /// `sglty send --delay-updates`.
    /// </summary>
    public bool DelayUpdates { get; init; }

    /// <summary>
    /// Compress each shard on the wire, as rsync -z and scp -C do: Zstandard at level 1 (<see cref="CompressLevel"/>), some hundreds of MB/s a core,
    /// so it pays where the path is slower than that and the data packs (text, logs, databases), as on a WAN, and costs
    /// throughput on a fast LAN. A shard that does not shrink travels as it is, and a file with such a shard (already
    /// compressed data) is not compressed further. Both sides then hold a second buffer a lane. Default false;
    /// `sglty send --compress` sets it.
    /// </summary>
    public bool Compress { get; init; }

    /// <summary>
    /// With <see cref="Compress"/>, the Zstandard level shards are packed at, 1 to 9, as rsync --compress-level sets
    /// its own: higher packs tighter at far less speed (on text logs, level 9 packs about a sixth tighter than 1 at a
    /// sixth of its speed), so it pays only where the path, not a core, is what holds the send back (tens of MB/s). The
    /// receiver unpacks any level alike. Default 1; `sglty send --compress-level`.
    /// </summary>
    public int CompressLevel { get; init; } = DefaultCompressLevel;

    /// <summary>
    /// Delta transfer of changed files, as rsync sends them, shard by shard: a file that differs from the version at
    /// its name in the receiver's directory (in size or mtime, or any with <see cref="SkipUnchanged"/> off) has that
    /// version's shards copied into its partial and offered, and the sender sends only the shards whose bytes differ:
    /// a log that grew sends its new tail, a disk image written in place the shards it changed. The receiver reads and
    /// copies the old version first, so where the path is faster than that copy it costs more than it saves. Null (the
    /// default) asks for it on a path of <see cref="LocalPathRoundTrip"/> or more (not loopback, not a LAN), as rsync
    /// sends whole files between local paths; true always; false never (rsync --whole-file). Needs a Linux receiver
    /// that flushes (no --no-fsync; the seeded shards are journaled as a resumed partial's are) and answers delta
    /// (<see cref="ReceiverOptions.Delta"/>); otherwise changed files travel whole.
    /// </summary>
    public bool? Delta { get; init; }

    /// <summary>
    /// The most bytes a second the sender puts on its lanes together, headers and tags included, as rsync --bwlimit
    /// and scp -l cap theirs, to leave room on a shared link; 0 (the default) for none, else at least 1 KiB/s. Frames
    /// go out in slices of about 10 ms of the rate (16 KiB to 1 MiB). The lanes share the rate, so a shard takes
    /// lanes × shard size ÷ rate: where that is more than 2 s for the most lanes the send may have (below 8 MiB/s with
    /// 4 lanes of 4 MiB shards, 32 MiB/s with a long path's 64 of 1 MiB), shards are cut to fit it (at least 4 KiB), so
    /// acknowledgements keep coming (a send interrupted then is resumed at any rate: the receiver reads what it holds
    /// again in the new shards). `sglty send --bwlimit` sets it.
    /// </summary>
    public long BandwidthLimit { get; init; }

    /// <summary>The longest a sender keeps retrying without any attempt moving data. Default 10 minutes.</summary>
    public TimeSpan RetryTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>How long a sender waits for any acknowledgement while shards are in flight before it replaces the lanes holding them. Four times this (at least the handshake timeout) is each lane's TCP user timeout on Linux: a lane whose path goes silent, or that the receiver stops reading, that long is ended and replaced while the others go on. Default 30 s.</summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Each lane's TCP user timeout (Linux): its kernel ends a lane whose sent bytes stay unacknowledged, or whose
    /// receiver keeps its window shut, this long, and the lane is replaced while the others go on. Four times
    /// <see cref="StallTimeout"/>: a receiver may leave one lane unread while it flushes a file to a slow disk, and a
    /// lane cut for that is sent again. At least <see cref="HandshakeTimeout"/>, since the kernel applies it to the
    /// connect too, and a lane that fails to connect fails the session.
    /// </summary>
    internal TimeSpan LaneSilenceTimeout => TimeSpan.FromMilliseconds(Math.Clamp(Math.Max(4 * StallTimeout.TotalMilliseconds, HandshakeTimeout.TotalMilliseconds), 1000, int.MaxValue));

    /// <summary>How long a receiver keeps a session that shows no sign of life (no control message, no shard). Default 120 s.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>Limits applied to everything read from the wire.</summary>
    public ProtocolLimits Limits { get; init; } = new();

    /// <summary>
    /// The name the one file a send holds takes in the destination, as scp and rsync name a single file copied to a path
    /// that is not a directory (<c>scp db.dump host:db-1206.dump</c>); null keeps its own name. One name, without '/';
    /// the send must hold one file (or special file) and nothing else, or one directory (not its contents alone), which
    /// then goes into a directory of that name below the URL's, as scp and rsync copy a directory to a name not there.
    /// <see cref="RemoteReceiver.FileName"/> gives it for a <c>HOST:DIR</c> that names a file.
    /// </summary>
    public string? FileName { get; init; }

    /// <summary>Whether <paramref name="name"/> can be a <see cref="FileName"/>: one name, without '/'.</summary>
    internal static bool IsFileName(string name) =>
        name.Length > 0 && name is not ("." or "..") && !name.Contains('/', StringComparison.Ordinal) && !name.Contains('\0', StringComparison.Ordinal);

    /// <summary>Checks a sender's options: those of <see cref="Validate"/>, and lanes whose buffers a receiver with the same limits would hold.</summary>
    internal void ValidateForSending()
    {
        Validate();
        if (!Recursive && !Relative)
            throw new ArgumentException("a send without recursion is one of relative paths (as rsync --files-from without -r)", nameof(Recursive));
        if (ItemizeChanges is < 0 or > 2) throw new ArgumentException("itemize changes is 0 (not), 1 (changes) or 2 (every entry)", nameof(ItemizeChanges));
        if (FileName is { } name && !IsFileName(name))
            throw new ArgumentException($"'{name}' is not a file name: give one name, without '/'", nameof(FileName));
        if (FileName is { } reserved && Storage.PathGuard.IsReserved(reserved))
            throw new ArgumentException($"'{reserved}' {Storage.PathGuard.ReservedWhy}: give another name", nameof(FileName));
        // A missing path's deletion would be of its own name, not of the one it is sent as.
        if (FileName is not null && DeleteMissingArgs)
            throw new ArgumentException("a send that names its one file does not go with deleting what a missing path names (--delete-missing-args)", nameof(FileName));
        if (OwnerParts is not (OwnerParts.User or OwnerParts.Group or OwnerParts.Both)) throw new ArgumentException("the owner parts kept are the user, the group, or both", nameof(OwnerParts));
        try
        {
            Storage.ModeChanges.Parse(ModeChanges);
        }
        catch (FormatException ex)
        {
            throw new ArgumentException(ex.Message, nameof(ModeChanges));
        }
        if (RemoveSourceFiles && Storage.ScanRules.Of(this).FollowsLinks)
            throw new ArgumentException("removing sources would remove what followed links point to: copy-links, copy-unsafe-links and copy-dirlinks do not go with it", CopyLinks ? nameof(CopyLinks) : CopyUnsafeLinks ? nameof(CopyUnsafeLinks) : nameof(CopyDirLinks));
        if (HardLinks && KeepsByRule)
            throw new ArgumentException("hard links are made over what stands at their names, which size-only, update, ignore-existing and existing would keep: they do not go together yet", nameof(HardLinks));
        if (InPlace && DelayUpdates) throw new ArgumentException("a file written in place cannot wait to be put into place at the end; give --inplace or --delay-updates", nameof(DelayUpdates));
        if (InPlace && (Sparse || KeepsBackups)) throw new ArgumentException(Sparse ? "files written in place cannot be left with holes; leave out --sparse" : "a file written in place leaves no version to keep as a backup; leave out --backup", nameof(InPlace));
        if (BackupSuffix is not null && !KeepsBackups)
            throw new ArgumentException("a backup suffix needs Backup or a BackupDirectory", nameof(BackupSuffix));
        if (KeepsBackups && Protocol.BackupMessage.DirectoryError(BackupDirectory, Limits) is { } directoryError)
            throw new ArgumentException(directoryError, nameof(BackupDirectory));
        if (KeepsBackups && Protocol.BackupMessage.SuffixError(BackupSuffixOrDefault, BackupDirectory, Limits) is { } suffixError)
            throw new ArgumentException(suffixError, nameof(BackupSuffix));
        if (new[] { LinkDestinations, CompareDestinations, CopyDestinations }.Count(list => list.Count > 0) > 1)
            throw new ArgumentException("link-dest, compare-dest and copy-dest do not go together, as with rsync: give one of them", nameof(LinkDestinations));
        var (earlier, use, option) = EarlierCopies;
        if (earlier.Count > Storage.LinkDestinations.Most)
            throw new ArgumentException($"at most {Storage.LinkDestinations.Most} link-dest, compare-dest or copy-dest directories may be given, as with rsync", option);
        foreach (string directory in earlier)
            if (Storage.LinkDestinations.Error(directory, Limits) is { } linkError)
                throw new ArgumentException(linkError, option);
        if (earlier.Count > 0 && (!SkipUnchanged || Checksum))
            throw new ArgumentException("link-dest, compare-dest and copy-dest use the files the quick check finds unchanged: they need SkipUnchanged (no --ignore-times), and do not go with --checksum yet", option);
        if (use == Storage.EarlierCopies.Compared && earlier.Count > 0 && (RemoveSourceFiles || HardLinks))
            throw new ArgumentException("compare-dest leaves out of the destination what an earlier copy holds unchanged, which remove-source-files would then remove and hard links would name: they do not go together", option);
        if (CompressLevel is < 1 or > Compression.ShardPacker.MostLevel)
            throw new ArgumentOutOfRangeException(nameof(CompressLevel), CompressLevel, $"a compression level is from 1 to {Compression.ShardPacker.MostLevel}");
        if (MaxDelete < 0)
            throw new ArgumentOutOfRangeException(nameof(MaxDelete), MaxDelete, "the most deletions cannot be negative");
        if (ModifyWindow < 0)
            throw new ArgumentOutOfRangeException(nameof(ModifyWindow), ModifyWindow, "a modify window is 0 seconds or more (null compares times exactly)");
        if (MaxFileSize < 0 || MinFileSize < 0)
            throw new ArgumentOutOfRangeException(MaxFileSize < 0 ? nameof(MaxFileSize) : nameof(MinFileSize), "a size limit cannot be negative");
        if (Checksum && (!SkipUnchanged || SizeOnly))
            throw new ArgumentException("checksum judges files in place by their contents, which SkipUnchanged = false would send anyway and size-only would not look at", nameof(Checksum));
        if (!SkipUnchanged && KeepsByRule)
            throw new ArgumentException("size-only, update, ignore-existing and existing refine the check of files in place, which SkipUnchanged = false turns off", SizeOnly ? nameof(SizeOnly) : Update ? nameof(Update) : IgnoreExisting ? nameof(IgnoreExisting) : nameof(ExistingOnly));
        int lanes = Math.Max(Lanes, MaxLanes);
        if (ProtocolLimits.LaneBufferBytes(lanes, ShardSize, Compress) > Limits.MaxLaneBufferBytes)
            throw new ArgumentOutOfRangeException(nameof(Lanes), lanes, $"{lanes} lanes of {ShardSize >> 10} KiB shards{(Compress ? ", compressed," : "")} need more lane buffers than a receiver allows ({Limits.MaxLaneBufferBytes >> 20} MiB for twice the lanes{(Compress ? " and a buffer each to unpack into" : "")}); use fewer lanes or smaller shards");
    }

    internal void Validate()
    {
        if (Lanes < 1 || Lanes > Limits.MaxLanes)
            throw new ArgumentOutOfRangeException(nameof(Lanes), Lanes, $"lanes must be between 1 and {Limits.MaxLanes}");
        if (MaxLanes != 0 && (MaxLanes < Lanes || MaxLanes > Limits.MaxLanes / 2))
            throw new ArgumentOutOfRangeException(nameof(MaxLanes), MaxLanes, $"the most lanes must be between the lanes and {Limits.MaxLanes / 2}");
        if (FilesAheadOfCommits < 0)
            throw new ArgumentOutOfRangeException(nameof(FilesAheadOfCommits), FilesAheadOfCommits, "files ahead of commits must not be negative");
        if (ShardSize < Limits.MinShardSize || ShardSize > Limits.MaxShardSize)
            throw new ArgumentOutOfRangeException(nameof(ShardSize), ShardSize, $"shard size must be between {ByteSize.Exact(Limits.MinShardSize)} and {ByteSize.Exact(Limits.MaxShardSize)}");
        if (BandwidthLimit != 0 && BandwidthLimit < 1024)
            throw new ArgumentOutOfRangeException(nameof(BandwidthLimit), BandwidthLimit, "a bandwidth limit must be at least 1 KiB a second (or 0 for none)");
        if (MaxInFlightBytes < ShardSize)
            throw new ArgumentOutOfRangeException(nameof(MaxInFlightBytes), MaxInFlightBytes, "in-flight bytes must be at least one shard");
        if (SocketBufferSize < 0)
            throw new ArgumentOutOfRangeException(nameof(SocketBufferSize), SocketBufferSize, "socket buffer size cannot be negative");
        if (Retries < 0)
            throw new ArgumentOutOfRangeException(nameof(Retries), Retries, "retries cannot be negative");
        if (RetryTimeout < TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(RetryTimeout), RetryTimeout, "the retry timeout cannot be negative");
        if (AddressFamily is not (System.Net.Sockets.AddressFamily.Unspecified or System.Net.Sockets.AddressFamily.InterNetwork or System.Net.Sockets.AddressFamily.InterNetworkV6))
            throw new ArgumentOutOfRangeException(nameof(AddressFamily), AddressFamily, "the address family is IPv4 (InterNetwork), IPv6 (InterNetworkV6), or either (Unspecified)");
        CheckTimer(HandshakeTimeout, nameof(HandshakeTimeout), "the handshake timeout");
        CheckTimer(StallTimeout, nameof(StallTimeout), "the stall timeout");
        CheckTimer(IdleTimeout, nameof(IdleTimeout), "the idle timeout");
    }

    /// <summary>The longest a timer waits: timers take at most int.MaxValue milliseconds, about 24.8 days.</summary>
    private static readonly TimeSpan LongestTimer = TimeSpan.FromDays(24);

    private static void CheckTimer(TimeSpan value, string name, string what)
    {
        if (value <= TimeSpan.Zero || value > LongestTimer)
            throw new ArgumentOutOfRangeException(name, value, $"{what} must be more than 0 and at most {LongestTimer.TotalDays:0} days");
    }
}
