using System.Buffers.Binary;
using System.Diagnostics;
using Singularity.Engine.Compression;
using Singularity.Engine.Integrity;
using Singularity.Engine.Protocol;
using Singularity.Engine.Security;
using Singularity.Engine.Storage;
using Singularity.Engine.Transport;

namespace Singularity.Engine.Transfer;

/// <summary>
/// One send: the control connection (this file) carries the manifest out and acknowledgements and commits back;
/// the data lanes (SenderSession.Lanes.cs) carry shards. The send succeeds only when the receiver has confirmed
/// every file committed and the session done.
/// </summary>
internal sealed partial class SenderSession
{
    private const int ManifestChunkBytes = 256 << 10;

    /// <summary>
    /// Manifest chunks sent ahead of the receiver's acceptance. The receiver reads seals behind the chunks, and a
    /// resumable file stays open there until its seal commits it: a few chunks ahead keep its open files bounded.
    /// </summary>
    private const int ManifestChunksAhead = 2;

    private readonly ConnectionUrl _url;
    private TransferOptions _options;
    private readonly ILaneTransport _transport;
    private readonly ILaneTransport _laneTransport;
    private readonly IProgress<TransferProgress>? _progress;
    private readonly Action<string>? _events;
    private readonly List<SourceEntry> _entries;
    // A file's state exists from its chunk's sending to its commit: a tree of millions of files holds only those
    // announced and not yet committed (see FilesAheadOfCommits). A file of the chunks sent whose slot is empty is committed.
    private readonly SenderFile?[] _filesById;
    // Grows by a further name sent as a file in place of a linked file that vanished.
    private int _fileCount;
    private readonly ShardScheduler _scheduler = new();
    private readonly InFlightWindow _window;
    private readonly CancellationTokenSource _cts = new();
    private readonly Stopwatch _clock = new();
    // The whole manifest is accepted; waits go through _acceptedSignal.
    private volatile bool _manifestAccepted;
    private readonly SemaphoreSlim _acceptedSignal = new(0);
    private readonly SemaphoreSlim _committedSignal = new(0);
    // Entries [0, _accepted) are prepared by the receiver: their shards may flow. Written by the control reader only.
    private int _accepted;
    // Entries [0, _entriesSent) went out in manifest chunks: their files exist here, and only they may be accepted.
    private int _entriesSent;
    private readonly TaskCompletionSource _allCommitted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _failed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _sessionDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _totalBytes;
    // The OpenSession flags: what the receiver is asked to do beyond receiving.
    private ushort _sessionFlags;
    private long _totalAll;
    private int _filesAll;
    private ControlChannel? _control;
    private SessionId _session;
    private readonly string _token;
    private SessionKeys? _keys;
    private int _filesCommitted;
    private long _bytesAcknowledged;
    private long _bytesSent;
    // Bytes of shards that lay in a hole and travelled as their header alone (TransferOptions.Sparse).
    private long _bytesInHoles;
    // Payload bytes as they went on the wire: compressed where they were, holes as none.
    private long _wireBytes;
    // Every byte this attempt's connections wrote and read; the manifest's bytes; how long the scan took.
    private readonly Traffic _traffic = new();
    private long _manifestBytes;
    private readonly TimeSpan _scanTime;
    // The bytes of extended attributes the receiver holds for the files announced and not yet settled.
    private long _xattrBytesHeld;
    private HoleDigests? _holeDigests;
    private BandwidthLimit? _bandwidth;
    // With compression, the Zstandard contexts the lanes share (made once the shard size is final).
    private ShardPacker? _packer;
    // The roots the session's files are opened below, each held open once.
    private readonly SourceRoots _roots = new();
    private int _retransmits;
    private int _activeLanes;
    // Lanes started but not yet counted in _activeLanes (connecting): a session whose last running lane is lost
    // while a replacement connects is not over.
    private int _lanesStarting;
    private long _progressEvents;
    private long _bytesSkipped;
    // Bytes of shards kept from the versions at the files' names (BasisOffer): what delta saved.
    private long _bytesMatched;
    // With owners kept, and not by number only: the names of their users and groups (OwnerNames).
    private readonly List<OwnerName> _ownerNames = [];
    // Hard link entries the receiver could not make.
    private int _linksFailed;
    private int _filesUnchanged;
    // What the receiver kept as it had it by a rule the sender asked for (FilesKept): files that differ by the quick
    // check (counted among those unchanged), and links it did not make, keeping what stood at their names.
    private readonly HashSet<uint> _keptAtReceiver = [];
    // Devices the receiver skipped, as it makes none (EntryFailed, NotAllowed).
    private readonly HashSet<string> _devicesSkipped = new(StringComparer.Ordinal);
    private int _entriesDeleted;
    // Finish went out; StillWorking messages heard (while the receiver seeds, before the last acceptance, and while
    // it deletes, after Finish).
    private bool _finishSent;
    private long _stillWorking;
    private int _entriesNotDeleted;
    // With a most deletions (rsync --max-delete): the entries the receiver left once it reached it.
    private int _entriesLeftByLimit;
    private bool _deletionRan;
    // The receiver's HelloReply set capability bit 1: a file gone since the scan goes as FilesVanished; bit 2: a file
    // found changed while it was read goes as FilesWithdrawn, where it would otherwise end the session.
    private bool _receiverTakesVanished;
    private bool _receiverTakesWithdrawn;
    // Bit 3: with -H, a further name of a linked file that vanished goes as the file in its place (PromoteFurtherName).
    private bool _receiverTakesLinkedVanished;
    // The receiver names a session's one file by its URL's path where no directory stands there (HelloReply capability bit 4).
    private bool _receiverNamesFile;
    // A send of one path whose manifest is one entry, not a directory, or none, to a URL path without a trailing '/':
    // the receiver may name the file so (MayNameOneFile).
    private readonly bool _mayNameOneFile;
    // Whether to say, once, that a receiver from before the naming takes the URL's path for a directory.
    private readonly bool _tellsUnnamed;
    // With -H, the hard link entries close the manifest, from _firstLink. A further name sent as a file in place of one
    // that vanished becomes a file where it stands: _firstLinkTo finds it (the first link to each file, by the path it
    // names) and _nextLink the one after it to the same file, both made at the first such; _promoted turns the later
    // links' target to it as the manifest takes them. All of them, and the part of _entries from _firstLink, are read
    // and written under _linksLock.
    private readonly Lock _linksLock = new();
    private int _firstLink = -1;
    private Dictionary<string, int>? _firstLinkTo;
    private int[]? _nextLink;
    private Dictionary<string, string>? _promoted;
    // With --delay-updates, the files the receiver verified, which wait to go into place at Finish: one of them it
    // could not put there is named in EntryFailed after its FilesCommitted. Null otherwise.
    private readonly HashSet<uint>? _waiting;

    // The entries the receiver named in EntryFailed, each once.
    private readonly HashSet<uint> _entriesFailed = [];
    // The receiver's file system refused some entries their modes (SessionDone flags bit 2).
    private bool _modesNotSet;
    // The receiver could not give some entries all the extended attributes or ACLs sent (SessionDone flags bit 1).
    private bool _xattrsNotSet;
    // Files counted as committed that moved no data: found in place (FilesPresent) or left out (FilesDropped).
    private int _filesSettledUnmoved;
    // What this attempt left out: directories the scan could not list, files that could not be opened, and entries
    // the receiver could not write.
    private readonly List<NotSentEntry> _notSent = [];
    // The paths of files the size rules left out.
    private readonly List<string> _leftBySize = [];
    // Of them, the hard links of files left out (not counted as files).
    private int _linksLeftBySize;
    // OpenSession's second flags field (MoreSessionFlags), 0 when none goes.
    private uint _moreFlags;
    // With --delete-missing-args, the names of the paths given that the source does not have, which the receiver deletes.
    private List<string> _deleteNamed = [];
    // The paths of links --safe-links left out.
    private readonly List<string> _unsafeLinks = [];
    // The sender's side of the rules: what the scan leaves out as asked.
    private readonly ExcludePatterns? _exclude;
    // The receiver's side, with a deletion: what it keeps (Exclude), and which missing names are no deletion.
    private readonly ExcludePatterns? _keptAtDeletion;
    // A dry run: the files that would travel, and what the receiver would delete (WouldDelete).
    private readonly List<string> _wouldSend = [];
    // With ListSent, the files committed, in order.
    private readonly List<string> _sent = [];
    private readonly List<string> _wouldDelete = [];
    private long _wouldDeleteBytes;
    // With --itemize-changes: where the changes go, and each entry's differences as the receiver told them (Itemized),
    // with NotMade for one it did not make (it failed, or a rule kept what stood there).
    private readonly ChangeLog? _changes;
    private ushort[] _differences = [];
    private Dictionary<string, ManifestEntry>? _filesByPath;
    private const ushort NotMade = 0x8000;
    private readonly List<SenderFile> _unwritten = [];
    private long _bytesUnchanged;
    private bool _shardsConfirmed;
    private int _lanesStarted;
    private int _lanesToRetire;
    private readonly Lock _retireLock = new();
    private SingularityException? _failure;
    private volatile bool _closing;

    public SenderSession(IReadOnlyList<string> paths, ConnectionUrl url, TransferOptions options, IProgress<TransferProgress>? progress, Action<string>? events = null, IReadOnlySet<string>? alreadyCommitted = null, bool firstAttempt = true, ContentDigests? digests = null, ChangeLog? changeLog = null)
    {
        _events = events;
        if (options.ItemizeChanges > 0) _changes = changeLog ?? new ChangeLog(options.ItemizeChanges, options.OnItemized);
        options.ValidateForSending();
        _url = url;
        _options = options;
        _progress = progress;
        _transport = new TcpTransport(options.SocketBufferSize, options.CongestionControl, traffic: _traffic, family: options.AddressFamily);
        // A lane whose path goes silent is ended by its own kernel, while the other lanes go on. Not the control
        // connection: it may wait unread while the receiver prepares a chunk (IdleTimeout).
        _laneTransport = new TcpTransport(options.SocketBufferSize, options.CongestionControl, options.LaneSilenceTimeout, _traffic, options.AddressFamily);
        // A retry scans again; what it skips was reported by the first attempt.
        _exclude = ExcludePatterns.Parse(ExcludePatterns.ForSide(options.Exclude, sender: true));
        // What the receiver's deletion keeps: the excludes (unless --delete-excluded) and the protect rules.
        _keptAtDeletion = options.DeleteExtraneous || options.DeleteMissingArgs || options.Force ? ExcludePatterns.Parse(ExcludePatterns.ForSide(options.Exclude, sender: false, options.DeleteExcluded), receiving: true) : null;
#pragma warning disable CA2208 // Names the option the caller set.
        if (options.HardLinks && !OperatingSystem.IsLinux()) throw new ArgumentException("hard links can be found on Linux only", nameof(TransferOptions.HardLinks));
        if (options.OneFileSystem != MountPoints.Crossed && !OperatingSystem.IsLinux()) throw new ArgumentException("mount points can be found on Linux only", nameof(TransferOptions.OneFileSystem));
#pragma warning restore CA2208
        long scanStarted = Stopwatch.GetTimestamp();
        var scanned = SourceScanner.Scan(paths, firstAttempt ? events : null, _notSent, _exclude, ScanRules.Of(options), options.DeleteMissingArgs ? _deleteNamed : null);
        if (options.FileName is { } fileName) scanned = NamedAs(scanned, fileName);
        if (options.PruneEmptyDirectories) scanned = SourceScanner.PruneEmptyDirectories(scanned);
        // rsync --safe-links, after -m as rsync's (a directory holding only such a link stays): a link that points
        // outside the tree is left out, and a deleting receiver is told its name, which it keeps.
        if (options.SafeLinks)
        {
            scanned = scanned.FindAll(entry =>
            {
                if (entry.Entry.Kind != EntryKind.Symlink || !LinkSafety.IsUnsafe(entry.Entry.LinkTarget!, entry.Entry.Path)) return true;
                _unsafeLinks.Add(entry.Entry.Path);
                // As rsync -v names each.
                if (options.ListSent && firstAttempt) _events?.Invoke($"ignoring unsafe link '{entry.Entry.Path}' -> '{entry.Entry.LinkTarget}'");
                return false;
            });
        }
        // rsync --chmod: the modes the receiver gives, changed before anything reads them.
        if (options.ModeChanges.Count > 0)
        {
            var changes = ModeChanges.Parse(options.ModeChanges);
            scanned = [.. scanned.Select(e => e.Entry.Kind is EntryKind.File or EntryKind.Directory or EntryKind.Special
                ? e with { Entry = e.Entry with { Mode = changes.Apply(e.Entry.Mode, e.Entry.Kind == EntryKind.Directory) } } : e)];
        }
        // One more look at each entry, only when asked: its owner and group travel by number. A source named through a
        // link is taken as what it points to, as its contents are.
        // --chown gives every entry its user or group, and --usermap and --groupmap map them; each keeps its part.
        var chosen = ChosenOwner.Of(options);
        var parts = OwnersSent(options, chosen);
        if (parts != 0)
        {
#pragma warning disable CA2208 // Names the option the caller set.
            if (!OperatingSystem.IsLinux()) throw new ArgumentException("owners can be read on Linux only", nameof(TransferOptions.PreserveOwners));
#pragma warning restore CA2208
            // Only a part kept and not chosen is read. A hard link's owner is its file's. What -o or -g alone does not
            // keep goes as not kept.
            bool read = chosen.Reads(parts);
            scanned = [.. scanned.Select(e => e.Entry.Kind == EntryKind.HardLink ? e
                : e with { Entry = e.Entry with { Owner = chosen.Apply(read ? SpecialFiles.OwnerOf(e.SourcePath, follow: e.Entry.Path.Length <= e.Skip) : null, parts) } })];
            if (!options.NumericIds) _ownerNames = NamesOf(scanned, chosen);
        }
        // A transfer rule, as rsync's --max-size: the files it leaves out are named to a receiver that deletes, which keeps them.
        if (options.MaxFileSize is not null || options.MinFileSize is not null)
        {
            var kept = new List<SourceEntry>(scanned.Count);
            // The other names of a linked file share its size, and go with it (they follow it in the scan).
            HashSet<string>? linkedOut = null;
            foreach (var entry in scanned)
            {
                if (entry.Entry.Kind == EntryKind.File && options.LeavesOutBySize(entry.Entry.Size))
                {
                    _leftBySize.Add(entry.Entry.Path);
                    if (entry.Entry.Linked) (linkedOut ??= new(StringComparer.Ordinal)).Add(entry.Entry.Path);
                }
                else if (entry.Entry.Kind == EntryKind.HardLink && linkedOut?.Contains(entry.Entry.LinkTarget!) == true)
                {
                    _leftBySize.Add(entry.Entry.Path);
                    _linksLeftBySize++;
                }
                else kept.Add(entry);
            }
            scanned = kept;
        }
        // rsync -X and -A: one more look at each entry the rules keep.
        var scope = (options.Xattrs ? AttributeScope.Xattrs : 0) | (options.Acls ? AttributeScope.Acls : 0);
        if (scope != AttributeScope.None)
        {
#pragma warning disable CA2208 // Names the option the caller set.
            if (!OperatingSystem.IsLinux()) throw new ArgumentException("extended attributes and ACLs can be read on Linux only", nameof(TransferOptions.Xattrs));
#pragma warning restore CA2208
            scanned = WithXattrs(scanned, scope, firstAttempt ? events : null);
        }
        // The files left out so far (only those whose attributes could not be read) count among the send's, as those
        // left out later do.
        var filesLeftOut = NotSent.Where(e => e.IsFile).ToList();
        _totalAll = scanned.Where(e => e.Entry.Kind == EntryKind.File).Sum(e => e.Entry.Size) + filesLeftOut.Sum(e => e.Bytes);
        _filesAll = scanned.Count(e => e.Entry.Kind == EntryKind.File) + filesLeftOut.Count;
        // On a retry, files the receiver already committed are left out of the manifest; or, when the receiver is to
        // delete what the manifest does not name, or hard links name them, named as sent before, which it leaves if
        // they are still in place.
        if (alreadyCommitted is not { Count: > 0 }) _entries = scanned;
        else _entries = [.. scanned.Where(e => e.Entry.Kind != EntryKind.File || e.Entry.Linked || options.DeleteExtraneous || !alreadyCommitted.Contains(e.Entry.Path))
            .Select(e => e.Entry.Kind == EntryKind.File && alreadyCommitted.Contains(e.Entry.Path) ? e with { Entry = e.Entry with { SentBefore = true } } : e)];
        // With --checksum, every file is read whole before the session starts, as rsync -c reads it for its file list:
        // hashing a large one while connected would leave the receiver without a sign of life.
        if (options.Checksum) _entries = (digests ?? new ContentDigests()).Of(_entries);
        _scanTime = Stopwatch.GetElapsedTime(scanStarted);
        if (_changes is not null) _differences = new ushort[_entries.Count];
        // Hard links go last, and only once every file is settled (SendManifestAsync): the receiver then makes each as it
        // reads it, and keeps none waiting for its file.
        if (options.HardLinks) _entries = [.. _entries.Where(e => e.Entry.Kind != EntryKind.HardLink), .. _entries.Where(e => e.Entry.Kind == EntryKind.HardLink)];
        _sessionFlags = (ushort)((options.SkipUnchanged ? OpenSessionFlags.SkipUnchanged : 0) | (options.DryRun ? OpenSessionFlags.DryRun : 0)
            | (options.Sparse ? OpenSessionFlags.Sparse : 0) | (options.Compress ? OpenSessionFlags.Compressed : 0) | (options.HardLinks ? OpenSessionFlags.HardLinks : 0)
            | (options.SizeOnly ? OpenSessionFlags.SizeOnly : 0) | (options.Update ? OpenSessionFlags.Update : 0) | (options.IgnoreExisting ? OpenSessionFlags.IgnoreExisting : 0)
            | (options.ExistingOnly ? OpenSessionFlags.ExistingOnly : 0)
            | (options.Checksum ? OpenSessionFlags.Checksum : 0));
        // The second flags field goes only when one of its options is asked for: a receiver from before it refuses it.
        _moreFlags = (options.ModifyWindow is not null ? MoreSessionFlags.ModifyWindow : 0) | (options.OmitDirectoryTimes ? MoreSessionFlags.OmitDirectoryTimes : 0)
            | (options.OmitLinkTimes ? MoreSessionFlags.OmitLinkTimes : 0)
            | (options.CompareDestinations.Count > 0 ? MoreSessionFlags.CompareDest : 0) | (options.CopyDestinations.Count > 0 ? MoreSessionFlags.CopyDest : 0)
            | (options.IgnoreErrors && options.DeleteExtraneous ? MoreSessionFlags.IgnoreErrors : 0)
            | (options.ItemizeChanges > 0 ? MoreSessionFlags.Itemize : 0)
            | (parts is not (0 or OwnerParts.Both) ? MoreSessionFlags.OwnerParts : 0)
            | (options.InPlace ? MoreSessionFlags.InPlace : 0) | (options.Xattrs ? MoreSessionFlags.Xattrs : 0) | (options.Acls ? MoreSessionFlags.Acls : 0)
            | (_entries.Exists(e => e.Entry.Kind == EntryKind.Special) ? MoreSessionFlags.Specials : 0)
            | (options.Force ? MoreSessionFlags.Force : 0) | (options.KeepPermissions ? 0 : MoreSessionFlags.KeepsNoModes)
            | (options.DelayUpdates && !options.DryRun ? MoreSessionFlags.DelayUpdates : 0);
        if (_moreFlags != 0) _sessionFlags |= OpenSessionFlags.More;
        if ((_moreFlags & MoreSessionFlags.DelayUpdates) != 0) _waiting = [];
        // None left (settled by an earlier attempt, or left out): nothing is made at the name, as rsync makes nothing.
        _mayNameOneFile = MayNameOneFile(paths, url, options) && _entries is [] or [{ Entry.Kind: not EntryKind.Directory }];
        _tellsUnnamed = firstAttempt && _mayNameOneFile && _entries.Count == 1;
        // A scan that left something out does not ask (the result says the deletion was skipped), unless told to
        // delete whatever was left out (rsync --ignore-errors), or all it left out vanished since it was listed, which
        // does not stop rsync's deletion either.
        if (options.DeleteExtraneous && (_notSent.TrueForAll(entry => entry.Vanished) || options.IgnoreErrors))
        {
            _sessionFlags |= (ushort)(OpenSessionFlags.DeleteExtraneous | (CleansRoot(paths, options, _notSent) ? OpenSessionFlags.RootIsSent : 0)
                | (options.OneFileSystem != MountPoints.Crossed ? OpenSessionFlags.OneFileSystem : 0));
            if (options.DeleteBefore)
            {
                _moreFlags |= MoreSessionFlags.DeleteBefore;
                _sessionFlags |= OpenSessionFlags.More;
            }
        }
        // Only a deletion reads the implied mark, and a receiver from before it refuses it: without one, none goes.
        else if (_entries.Exists(e => e.Entry.Implied))
            _entries = [.. _entries.Select(e => e.Entry.Implied ? e with { Entry = e.Entry with { Implied = false } } : e)];
        // As rsync: with --delete, a directory in the way of a file is replaced also where the deletion is skipped, as
        // --force replaces it.
        if (options.DeleteExtraneous && (_sessionFlags & OpenSessionFlags.DeleteExtraneous) == 0)
        {
            _moreFlags |= MoreSessionFlags.Force;
            _sessionFlags |= OpenSessionFlags.More;
        }
        // What --force deletes stays on one file system as a deletion does.
        if ((_moreFlags & MoreSessionFlags.Force) != 0 && options.OneFileSystem != MountPoints.Crossed) _sessionFlags |= OpenSessionFlags.OneFileSystem;
        _token = url.Token ?? throw new SingularityException(ErrorCode.AuthFailed, "the URL has no token; use the whole URL `sglty recv` printed (sglty://HOST:PORT/?token=...), or give the token with --token-file or SGLTY_TOKEN");
        // A missing name that something sent, or left out by a rule, also names is no deletion: the receiver holds it as
        // the rest of the send says (two paths of one name, say "a/x" missing and "b/x" sent). Nor is one the receiver's
        // deletion keeps (an exclude, unless --delete-excluded, or a protect rule), as rsync's receiver keeps it; and
        // the same missing path given twice is one deletion.
        if (_deleteNamed.Count > 0)
        {
            var sent = new HashSet<string>(scanned.Select(entry => entry.Entry.Path).Concat(_leftBySize).Concat(_unsafeLinks), StringComparer.Ordinal);
            _deleteNamed = [.. _deleteNamed.Distinct(StringComparer.Ordinal).Where(name => !sent.Contains(name) && _keptAtDeletion?.Excludes(name, isDirectory: false) != true)];
            long bytes = 0;
            foreach (string name in _deleteNamed)
            {
                if (PathGuard.SyntaxError(name, options.Limits) is { } error) throw new SingularityException(ErrorCode.BadPath, $"cannot delete '{name}' at the receiver: {error}");
                bytes += System.Text.Encoding.UTF8.GetByteCount(name);
            }
            if (bytes > ReceiverSession.DeleteNamedMostBytes)
                throw new SingularityException(ErrorCode.LimitExceeded, $"the missing paths to delete take {ByteSize.Format(bytes)} of names, beyond the {ByteSize.Format(ReceiverSession.DeleteNamedMostBytes)} a receiver takes; send them in parts");
        }
        // The cap holds for either deletion: what the source does not have, and the names given that it does not have.
        if (options.MaxDelete is not null && Deletes) _sessionFlags |= OpenSessionFlags.MostDeletions;
        // The names a deleting receiver is told of count as its entries do.
        int named = _entries.Count + ((_sessionFlags & OpenSessionFlags.DeleteExtraneous) != 0 ? _leftBySize.Count + _unsafeLinks.Count : 0) + _deleteNamed.Count;
        if (named > options.Limits.MaxEntries)
            throw new SingularityException(ErrorCode.LimitExceeded, $"{named} entries exceed the limit of {options.Limits.MaxEntries}");
        // Checked before anything is sent: the manifest goes out while earlier files are already being received.
        foreach (var (entry, _, _) in _entries)
            if (System.Text.Encoding.UTF8.GetByteCount(entry.Path) > options.Limits.MaxPathBytes
                || (entry.LinkTarget is not null && System.Text.Encoding.UTF8.GetByteCount(entry.LinkTarget) > options.Limits.MaxPathBytes))
                throw new SingularityException(ErrorCode.BadPath, $"'{entry.Path}' (or its link target) is longer than {options.Limits.MaxPathBytes} bytes and cannot be sent");
        if (options.KeepsBackups && options.BackupDirectory is null) RefuseBackupNamesTaken(_entries, options.BackupSuffixOrDefault);
        _totalBytes = _entries.Where(e => e.Entry.Kind == EntryKind.File).Sum(e => e.Entry.Size);
        _fileCount = _entries.Count(e => e.Entry.Kind == EntryKind.File);
        _filesById = new SenderFile?[_entries.Count];
        _window = new InFlightWindow(options.MaxInFlightBytes);
    }

    /// <summary>
    /// Whether the receiver's deletion cleans the destination's root: when a directory's contents are sent there, and
    /// every such directory could be listed. One that could not (named by its full path, unlike an entry) sends
    /// nothing, which with --ignore-errors would otherwise empty the destination; rsync stops at it and deletes nothing.
    /// </summary>
    internal static bool CleansRoot(IReadOnlyList<string> paths, TransferOptions options, IReadOnlyList<NotSentEntry> notSent) =>
        SendsRootWhole(paths, options) && !notSent.Any(entry => entry.IsDirectory && Path.IsPathRooted(entry.Path));

    /// <summary>
    /// Whether the send holds what the receiver's own directory holds, so that a deletion cleans it: a directory's
    /// contents sent into it (a trailing '/'); with relative paths, a path that keeps no name ("/srv/./", "." in a
    /// list, at one level without -r). A relative path with a trailing '/' keeps its name ("/var/log/" arrives as
    /// var/log), so the receiver's directory is only the way to it.
    /// </summary>
    private static bool SendsRootWhole(IReadOnlyList<string> paths, TransferOptions options) => options.Relative
        ? paths.Any(path => SourceScanner.KeptPath(path) is "" && Directory.Exists(path))
        : SourceScanner.SendsContents(paths);

    /// <summary>
    /// Beside the files, the backup of x is x~: a send whose entries name both would have the receiver rename its old
    /// x over the x~ it has just written, or that it is about to replace, whichever comes first. Refused before
    /// anything moves, naming the first such pair, as rsync would quietly mix them up.
    /// </summary>
    private static void RefuseBackupNamesTaken(List<SourceEntry> entries, string suffix)
    {
        var paths = new HashSet<string>(entries.Select(e => e.Entry.Path), StringComparer.Ordinal);
        foreach (var (entry, _, _) in entries)
            if (paths.Contains(entry.Path + suffix))
                throw new SingularityException(ErrorCode.BadPath, $"'{entry.Path}{suffix}' would be the backup of '{entry.Path}', and this send has both: give another --suffix, or a --backup-dir");
    }

    /// <summary>
    /// Whether the receiver may name the one path sent by the URL's path (<see cref="ConnectionUrl.NamesDirectory"/>):
    /// one path, neither a directory's contents nor named otherwise, sent to a path without a trailing '/'. Whether it
    /// is a file or a link, not a directory, the scan tells (a directory goes into a directory of that name).
    /// </summary>
    internal static bool MayNameOneFile(IReadOnlyList<string> paths, ConnectionUrl url, TransferOptions options) =>
        url is { Directory: not null, NamesDirectory: false } && paths is [var only] && !SourceScanner.ContentsOnly(only)
        && options.FileName is null && !options.Relative && !options.DeleteMissingArgs;

    /// <summary>The one file of a send under <paramref name="name"/> (<see cref="TransferOptions.FileName"/>): still read from where it is.</summary>
    private static List<SourceEntry> NamedAs(List<SourceEntry> scanned, string name)
    {
        // A missing source passed over (--ignore-missing-args) leaves nothing to name.
        if (scanned.Count == 0) return scanned;
#pragma warning disable CA2208 // Names the option the caller set.
        if (scanned is not [{ Entry.Kind: EntryKind.File or EntryKind.Special } one])
            throw new ArgumentException("names the one file or directory a send holds, and this one holds more: several paths, a directory's contents (DIR/), or with -R the directories above its path; name one path, without its trailing '/'", nameof(TransferOptions.FileName));
#pragma warning restore CA2208
        return [one with { Entry = one.Entry with { Path = name }, Skip = name.Length }];
    }

    /// <summary>The parts of an owner a send keeps: those the options keep, and those --chown, --usermap or --groupmap choose; 0 for none.</summary>
    private static OwnerParts OwnersSent(TransferOptions options, ChosenOwner chosen) =>
        (options.PreserveOwners ? options.OwnerParts : 0) | (chosen.Users is not null ? OwnerParts.User : 0) | (chosen.Groups is not null ? OwnerParts.Group : 0);

    /// <summary>
    /// The names of the users and groups the entries' owners are, as this system gives them: in the order first met,
    /// at most <see cref="OwnerNamesMessage.MostNames"/> (the rest travel by number alone), and only those with a name
    /// that can travel; not the ids --chown, --usermap or --groupmap gave by number, which travel as numbers.
    /// </summary>
    private static List<OwnerName> NamesOf(List<SourceEntry> entries, ChosenOwner chosen)
    {
        var names = new List<OwnerName>();
        var seen = new HashSet<(bool, uint)>();
        foreach (uint id in chosen.Users?.ByNumber ?? []) seen.Add((false, id));
        foreach (uint id in chosen.Groups?.ByNumber ?? []) seen.Add((true, id));
        foreach (var (entry, _, _) in entries)
        {
            if (entry.Owner is not { } owner) continue;
            Name(false, owner.User);
            Name(true, owner.Group);
            if (names.Count >= OwnerNamesMessage.MostNames) return names[..OwnerNamesMessage.MostNames];
        }
        return names;

        void Name(bool isGroup, uint id)
        {
            if (id != ManifestEntry.IdNotKept && seen.Add((isGroup, id)) && (isGroup ? AccountNames.GroupName(id) : AccountNames.UserName(id)) is { } name && OwnerNamesMessage.Fits(name))
                names.Add(new OwnerName(isGroup, id, name));
        }
    }

    /// <summary>The most lanes this session may grow to, and the count it declares to the receiver.</summary>
    private int LanesCeiling => Math.Max(_options.Lanes, _options.MaxLanes);

    /// <summary>Asks <paramref name="count"/> lanes to close once their shards are acknowledged (what the growth does when throughput fell with them).</summary>
    internal void RetireLanes(int count)
    {
        lock (_retireLock) _lanesToRetire += count;
    }

    /// <summary>The options this session ran with, after <see cref="TransferOptions.FitToPath"/> fitted them to the path.</summary>
    public TransferOptions Options => _options;

    // How the lines that tell how the send tuned itself begin (SingularitySender.IsTuning).
    internal const string RoundTripNotice = "round trip ";
    internal const string ThroughputNotice = "throughput ";
    internal const string BandwidthNotice = "bandwidth limit ";

    /// <summary>Fits shards and lanes to the path the control connection measured (its setup time is one round trip).</summary>
    private void FitToPath(ILaneConnection control)
    {
        string? congestion = control.CongestionControl;
        var fitted = PathFit.Fit(_options, control.SetupTime, congestion);
        bool changed = fitted.ShardSize != _options.ShardSize || fitted.MaxLanes != _options.MaxLanes;
        _options = fitted;
        if (!changed) return;
        if (control.SetupTime < TransferOptions.LocalPathRoundTrip)
            _events?.Invoke($"{RoundTripNotice}{control.SetupTime.TotalMilliseconds:0.00} ms, a local path: {fitted.Lanes} lanes, which do not grow");
        else
            _events?.Invoke($"{RoundTripNotice}{control.SetupTime.TotalMilliseconds:0} ms, a long path under {congestion ?? "a loss-based congestion control"}: {fitted.ShardSize >> 20} MiB shards, {fitted.Lanes} lanes that may grow to {fitted.MaxLanes}");
    }

    /// <summary>
    /// Holds the lanes to <see cref="TransferOptions.BandwidthLimit"/>. The lanes share the rate, so each moves at the
    /// rate over the lanes: where a shard would take a lane more than 2 s at that, shards are cut to 2 s of it.
    /// </summary>
    private void LimitBandwidth()
    {
        int shardSize = BandwidthLimit.ShardSizeFor(_options.BandwidthLimit / LanesCeiling, _options.ShardSize, _options.Limits.MinShardSize);
        if (shardSize != _options.ShardSize)
        {
            _options = _options with { ShardSize = shardSize };
            _events?.Invoke($"{BandwidthNotice}{_options.BandwidthLimit / 1e6:0.###} MB/s: {ByteSize.Format(shardSize)} shards");
        }
        _bandwidth = new BandwidthLimit(_options.BandwidthLimit);
    }

    public async Task<SendResult> RunAsync(CancellationToken cancellationToken)
    {
        using var registration = cancellationToken.Register(() => Fail(new TransferAbortedException(ErrorCode.Cancelled, "cancelled")));
        _clock.Start();
        var connection = await ConnectAsync(ConnectionRole.Control, SessionId.Empty, 0).ConfigureAwait(false);
        _control = new ControlChannel(connection, _options.Limits, _keys!.SenderToReceiver(0), _keys.ReceiverToSender(0));
        // A dry run opens no lane, so it has none to fit.
        if (!_options.DryRun) FitToPath(connection);
        // Delta where the path is not local, unless the options say (see TransferOptions.Delta).
        if (!_options.DryRun && PathFit.WantsDelta(_options, connection.SetupTime)) _sessionFlags |= OpenSessionFlags.Delta;
        if (!_options.DryRun && _options.BandwidthLimit > 0) LimitBandwidth();
        // The shard size is final: the lanes' shared compressors are made for it.
        if (!_options.DryRun && _options.Compress) _packer = new ShardPacker(_options.ShardSize, _options.CompressLevel);
        Task reader = Task.CompletedTask;
        Task watchdog = Task.CompletedTask;
        try
        {
            // The receiver accepts the manifest chunk by chunk and shards flow from the first: the reader and the
            // lanes start before the manifest goes out.
            reader = Task.Run(ReadControlAsync);
            watchdog = Task.Run(WatchdogAsync);
            // A dry run moves no shard, so it opens no lane.
            for (int lane = 0; lane < (_options.DryRun ? 0 : _options.Lanes); lane++)
                StartLane();
            await SendManifestAsync().ConfigureAwait(false);
            await WaitForAcceptanceAsync(_entries.Count).ConfigureAwait(false);
            await Wait(_allCommitted.Task).ConfigureAwait(false);
            _scheduler.Finish();
            ReleaseDrainingLanes();
            await WhenLanesEndAsync().ConfigureAwait(false);
            Volatile.Write(ref _finishSent, true);
            _control.Post(ControlMessageType.Finish, []);
            await WaitForSessionDoneAsync().ConfigureAwait(false);
            _closing = true;
        }
        catch (Exception ex)
        {
            Fail(ex);
        }
        finally
        {
            _scheduler.Finish();
            if (_failure is not null) connection.Abort();
            try { await WhenLanesEndAsync().ConfigureAwait(false); } catch (Exception) { }
            // No lane is up until a retry connects: a display must not show the last rate as if data still moved.
            if (_failure is not null) Report();
            await _control.DisposeAsync().ConfigureAwait(false);
            try { await reader.ConfigureAwait(false); } catch (Exception) { }
            await _cts.CancelAsync().ConfigureAwait(false);
            await watchdog.ConfigureAwait(false);
            _bandwidth?.Dispose();
            _packer?.Dispose();
            foreach (var file in _filesById) file?.Close();
            // A file the receiver could not write may still have been open on a lane when it was settled.
            lock (_unwritten) foreach (var file in _unwritten) file.Close();
            _roots.Dispose();
        }
        if (_failure is not null) throw _failure;
        Report();
        return Totals;
    }

    /// <summary>
    /// The scanned entries, each with its extended attributes in the scope (a hard link's are its file's). One whose
    /// attributes cannot be read or sent is left out and named, as rsync leaves it out, with all a directory holds and
    /// the other names of a file: sent without them, the receiver would remove its copy's. Each is told to
    /// <paramref name="skipped"/> as the scan tells what it leaves out.
    /// </summary>
    private List<SourceEntry> WithXattrs(List<SourceEntry> scanned, AttributeScope scope, Action<string>? skipped)
    {
        // Read on every core: four system calls an entry, each waiting on the file system.
        var read = new (string? Reason, ExtendedAttributes? Xattrs)[scanned.Count];
        Parallel.For(0, scanned.Count, i =>
        {
            if (scanned[i].Entry.Kind == EntryKind.HardLink) return;
            read[i].Reason = XattrsOf(scanned[i], scope, out read[i].Xattrs);
        });
        var kept = new List<SourceEntry>(scanned.Count);
        var leftOut = new HashSet<string>(StringComparer.Ordinal);
        // A linked file whose first name lies in a directory left out: its next name outside becomes the file, as rsync
        // sends the names it keeps; then its further names link to that one.
        var waiting = new Dictionary<string, ManifestEntry>(StringComparer.Ordinal);
        var renamed = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < scanned.Count; i++)
        {
            var entry = scanned[i];
            var (path, kind) = (entry.Entry.Path, entry.Entry.Kind);
            if (Inside(leftOut, path))
            {
                if (kind == EntryKind.File && entry.Entry.Linked)
                {
                    if (read[i].Reason is null) waiting[path] = Attributed(entry.Entry, read[i].Xattrs);
                    // Its attributes are its other names' too: those are named as left out.
                    else leftOut.Add(path);
                }
                continue;
            }
            if (kind == EntryKind.HardLink)
            {
                string target = entry.Entry.LinkTarget!;
                if (waiting.Remove(target, out var file))
                {
                    renamed[target] = path;
                    kept.Add(entry with { Entry = file with { Path = path } });
                }
                else if (renamed.TryGetValue(target, out string? first)) kept.Add(entry with { Entry = entry.Entry with { LinkTarget = first } });
                else if (!leftOut.Contains(target)) kept.Add(entry);
                else LeaveOut(entry, $"its file '{target}' was not sent");
                continue;
            }
            if (read[i].Reason is { } reason)
            {
                leftOut.Add(path);
                LeaveOut(entry, reason);
            }
            else kept.Add(entry with { Entry = Attributed(entry.Entry, read[i].Xattrs) });
        }
        return kept;

        static ManifestEntry Attributed(ManifestEntry entry, ExtendedAttributes? xattrs) => xattrs is null ? entry : entry with { Xattrs = xattrs };

        static bool Inside(HashSet<string> leftOut, string path)
        {
            for (int slash = path.LastIndexOf('/'); slash > 0; slash = path.LastIndexOf('/', slash - 1))
                if (leftOut.Contains(path[..slash])) return true;
            return false;
        }

        void LeaveOut(SourceEntry entry, string reason)
        {
            var (path, kind) = (entry.Entry.Path, entry.Entry.Kind);
            lock (_notSent) _notSent.Add(new NotSentEntry(path, reason) { IsDirectory = kind == EntryKind.Directory, IsLink = kind is EntryKind.Symlink or EntryKind.HardLink, IsSpecial = kind == EntryKind.Special, Bytes = kind == EntryKind.File ? entry.Entry.Size : 0, ForAttributes = true });
            skipped?.Invoke(kind == EntryKind.Directory ? $"not sending '{path}/' or what it holds: {reason}" : $"not sending '{path}': {reason}");
        }
    }

    /// <summary>
    /// Reads the extended attributes of a scanned entry (following the link a source is named through, as for its
    /// contents) into <paramref name="xattrs"/>, null for none or for an entry gone since the scan, which its read then
    /// reports. Returns why they cannot be sent, else null.
    /// </summary>
    private static string? XattrsOf(SourceEntry entry, AttributeScope scope, out ExtendedAttributes? xattrs)
    {
        xattrs = null;
        try
        {
            var read = ExtendedAttributes.Of(entry.SourcePath, scope, follow: entry.Entry.Path.Length <= entry.Skip, source: true);
            if (read.Items.Count > 0) xattrs = read;
            return null;
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        catch (SingularityException ex)
        {
            // A name that is not UTF-8 is -X's alone (ACLs have two names); too many bytes may be either's.
            string without = scope switch { AttributeScope.Acls => "-A", AttributeScope.Xattrs => "-X", _ => ex.Message.Contains("UTF-8", StringComparison.Ordinal) ? "-X" : "-X or -A" };
            return $"{ex.Message}; send it without {without}";
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return $"cannot read its extended attributes or ACL: {(ex is UnauthorizedAccessException ? "permission denied" : ex.Message)}";
        }
    }

    private int DevicesSkippedCount { get { lock (_devicesSkipped) return _devicesSkipped.Count; } }

    /// <summary>The result so far; after a failure, what this attempt achieved.</summary>
    public SendResult Totals => new()
    {
            Files = _filesAll,
            Entries = _entries.Count,
            Directories = _entries.Count(e => e.Entry.Kind == EntryKind.Directory),
            Links = _entries.Count(e => e.Entry.Kind == EntryKind.Symlink),
            Devices = _entries.Count(e => SpecialTypes.IsDevice(e.Entry.SpecialType)),
            Specials = _entries.Count(e => e.Entry.Kind == EntryKind.Special && !SpecialTypes.IsDevice(e.Entry.SpecialType)),
            DevicesSkipped = DevicesSkippedCount,
            Bytes = _totalAll,
            BytesSent = Interlocked.Read(ref _bytesSent),
            BytesInHoles = Interlocked.Read(ref _bytesInHoles),
            WireBytes = Interlocked.Read(ref _wireBytes),
            Retransmits = _retransmits,
            BytesSkipped = Interlocked.Read(ref _bytesSkipped),
            BytesMatched = Interlocked.Read(ref _bytesMatched),
            FilesUnchanged = _filesUnchanged,
            FilesKept = KeptAtReceiver.Count(entry => entry.Entry.Kind == EntryKind.File),
            FilesSkippedBySize = _leftBySize.Count - _linksLeftBySize,
            UnsafeLinksLeftOut = _unsafeLinks.Count,
            BytesUnchanged = Interlocked.Read(ref _bytesUnchanged),
            HardLinks = _options.DryRun ? 0 : _entries.Take(Volatile.Read(ref _entriesSent)).Count(e => e.Entry.Kind == EntryKind.HardLink) - Volatile.Read(ref _linksFailed),
            NotSent = NotSent,
            EntriesDeleted = _entriesDeleted,
            EntriesNotDeleted = _entriesNotDeleted,
            EntriesLeftByLimit = _entriesLeftByLimit,
            DeletionSkipped = _options.DeleteExtraneous && !_deletionRan,
            DeletionSkippedByOlderReceiver = _options.DeleteExtraneous && !_deletionRan && !_receiverTakesVanished && NotSent is { Count: > 0 } left && left.All(entry => entry.Vanished),
            XattrsNotSet = _xattrsNotSet,
            ModesNotSet = _modesNotSet,
            DryRun = _options.DryRun,
            WouldSend = WouldSend,
            Sent = Sent,
            // With --itemize-changes, a real send's receiver names what it deleted too: those are in Changes.
            WouldDelete = _options.DryRun ? [.. _wouldDelete] : [],
            Changes = _changes?.All ?? [],
            Elapsed = _clock.Elapsed,
            ScanTime = _scanTime,
            ManifestBytes = Interlocked.Read(ref _manifestBytes),
            TrafficSent = _traffic.Written,
            TrafficReceived = _traffic.Read,
            Lanes = _options.DryRun ? 0 : Math.Max(_options.Lanes, Volatile.Read(ref _lanesStarted)),
            ShardSize = _options.ShardSize,
            Cipher = _options.Cipher,
    };

    private IReadOnlyList<NotSentEntry> NotSent { get { lock (_notSent) return [.. _notSent]; } }

    /// <summary>Whether this session asks the receiver to delete: what the source does not have (--delete), names given (--delete-missing-args), or directories in the way (--force).</summary>
    private bool Deletes => (_sessionFlags & OpenSessionFlags.DeleteExtraneous) != 0 || _deleteNamed.Count > 0 || (_moreFlags & MoreSessionFlags.Force) != 0;

    private IReadOnlyList<string> WouldSend { get { lock (_wouldSend) return [.. _wouldSend]; } }

    private IReadOnlyList<string> Sent { get { lock (_sent) return [.. _sent]; } }

    /// <summary>
    /// Whether this attempt moved data: the receiver acknowledged a shard it sent or committed a file. Shards put on
    /// the wire but never acknowledged, and shards kept from a partial (kept again by every attempt), do not count;
    /// nor do files found in place already, or left out.
    /// </summary>
    public bool MovedData => Volatile.Read(ref _shardsConfirmed) || Volatile.Read(ref _filesCommitted) - Volatile.Read(ref _filesSettledUnmoved) > 0;

    /// <summary>Whether a connection to the receiver's address was ever made in this attempt (whatever came of it).</summary>
    public bool Reached => Volatile.Read(ref _reached);

    /// <summary>Whether this attempt completed the handshake with the receiver: it is a Singularity receiver that holds the token.</summary>
    public bool Answered => _keys is not null;

    /// <summary>Set when an earlier attempt of the same send completed its handshake: a receiver silent now is one that paused or is overloaded, not something else at the address.</summary>
    public bool AnsweredBefore { get; init; }

    /// <summary>
    /// The files the receiver confirmed committed in this attempt, as this attempt scanned them; none where they wait to
    /// go into place at the end (--delay-updates) and the attempt did not reach it: a retry sends them again (their
    /// partials wait verified, so only their digests travel).
    /// </summary>
    public IEnumerable<SourceEntry> CommittedEntries
    {
        get
        {
            if (_waiting is not null && !_sessionDone.Task.IsCompleted) return [];
            lock (_keptAtReceiver) return [.. Enumerable.Range(0, _entries.Count).Where(id => IsCommitted((uint)id) && !_keptAtReceiver.Contains((uint)id)).Select(id => _entries[id])];
        }
    }

    /// <summary>
    /// What the receiver kept as it had it: files, by <see cref="TransferOptions.SizeOnly"/>, <see cref="TransferOptions.Update"/>
    /// or <see cref="TransferOptions.IgnoreExisting"/>, though they differ by the quick check; and links it did not make,
    /// keeping what stood at their names (<see cref="TransferOptions.IgnoreExisting"/>).
    /// </summary>
    public IReadOnlyList<SourceEntry> KeptAtReceiver
    {
        get
        {
            lock (_keptAtReceiver) return [.. _keptAtReceiver.Order().Select(id => _entries[(int)id])];
        }
    }

    // With --ignore-existing and --remove-source-files, the files found in place (under _keptAtReceiver's lock).
    private List<uint>? _inPlaceIgnored;

    /// <summary>Files the receiver had in place, which --ignore-existing passes over: not moved by this send, so their sources stay (--remove-source-files).</summary>
    public IReadOnlyList<SourceEntry> InPlaceIgnored
    {
        get
        {
            lock (_keptAtReceiver) return [.. (_inPlaceIgnored ?? []).Order().Select(id => _entries[(int)id])];
        }
    }

    /// <summary>
    /// Once this attempt succeeded, every entry but directories that the receiver holds: files committed, found in
    /// place or named as sent before, and links and specials made; all but those left out (<see cref="SendResult.NotSent"/>),
    /// those it kept as it had them (<see cref="KeptAtReceiver"/>), and devices it skipped.
    /// </summary>
    public IEnumerable<SourceEntry> Delivered
    {
        get
        {
            var left = NotSent.Select(entry => entry.Path).Concat(KeptAtReceiver.Concat(InPlaceIgnored).Select(entry => entry.Entry.Path)).ToHashSet(StringComparer.Ordinal);
            lock (_devicesSkipped) left.UnionWith(_devicesSkipped);
            return _entries.Where(e => e.Entry.Kind != EntryKind.Directory && !left.Contains(e.Entry.Path));
        }
    }

    /// <summary>Whether the entry is a file the receiver committed: its chunk went out (so its state was made) and its state is gone.</summary>
    private bool IsCommitted(uint id) =>
        id < (uint)Volatile.Read(ref _entriesSent) && _entries[(int)id].Entry.Kind == EntryKind.File && Volatile.Read(ref _filesById[id]) is null;

    /// <summary>
    /// Waits for SessionDone at most <see cref="TransferOptions.StallTimeout"/> after Finish, or after the receiver's
    /// last StillWorking: deleting what the source no longer has may take it a while, and it says so once a second.
    /// </summary>
    private async Task WaitForSessionDoneAsync()
    {
        while (true)
        {
            long heard = Volatile.Read(ref _stillWorking);
            try
            {
                await Wait(_sessionDone.Task, _options.StallTimeout).ConfigureAwait(false);
                return;
            }
            catch (TransferAbortedException) when (_failure is null && Volatile.Read(ref _stillWorking) != heard)
            {
            }
        }
    }

    /// <summary>Waits for a milestone, or for the session to fail first, or (with a limit) for the receiver to fall silent.</summary>
    private async Task Wait(Task milestone, TimeSpan? limit = null)
    {
        try
        {
            if (limit is { } within) await milestone.WaitAsync(within, _cts.Token).ConfigureAwait(false);
            else await milestone.WaitAsync(_cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_failure is not null)
        {
            throw _failure;
        }
        catch (TimeoutException)
        {
            throw new TransferAbortedException(ErrorCode.ConnectionLost, $"the receiver at {Where} did not confirm the session within {limit!.Value.TotalSeconds:0} s");
        }
    }

    /// <summary>
    /// Detects stalls: when shards are in flight but no acknowledgement arrived for <see cref="TransferOptions.StallTimeout"/>,
    /// the lanes holding them are cut (their shards go to fresh lanes); a third stall in a row fails the session.
    /// </summary>
    private async Task WatchdogAsync()
    {
        long lastSeen = -1;
        var lastProgress = _clock.Elapsed;
        // The receiver's last StillWorking: with nothing in flight, one preparing a chunk (reading files in place whole:
        // seeding them, with delta, or hashing them, with --checksum) has
        // IdleTimeout from its last word. It does not hide lanes that stall with shards in flight.
        long heard = 0;
        var lastHeard = _clock.Elapsed;
        int stalls = 0;
        var growth = new LaneGrowth(_options.Lanes, LanesCeiling);
        var lastSample = _clock.Elapsed;
        long lastBytes = 0;
        try
        {
            while (!_cts.IsCancellationRequested && !_closing)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(250), _cts.Token).ConfigureAwait(false);
                long seen = Volatile.Read(ref _progressEvents);
                if (Volatile.Read(ref _stillWorking) is var working && working != heard) (heard, lastHeard) = (working, _clock.Elapsed);
                bool dataPhase = Volatile.Read(ref _accepted) > 0 && !_allCommitted.Task.IsCompleted;
                if (dataPhase && _clock.Elapsed - lastSample >= LaneGrowth.SampleInterval)
                {
                    // Files found in place count as acknowledged at once, and would read as a burst of throughput.
                    // Nor do holes, which travel as headers (counted as sent, a round trip before their acknowledgement).
                    long bytes = Interlocked.Read(ref _bytesAcknowledged) - Interlocked.Read(ref _bytesUnchanged) - Interlocked.Read(ref _bytesInHoles);
                    double rate = (bytes - lastBytes) / (_clock.Elapsed - lastSample).TotalSeconds;
                    (lastBytes, lastSample) = (bytes, _clock.Elapsed);
                    int add = growth.LanesToAdd(rate);
                    if (add > 0)
                    {
                        _events?.Invoke($"{ThroughputNotice}{rate / 1e6:0.0} MB/s with {Volatile.Read(ref _activeLanes)} lanes; trying {add} more");
                        for (int i = 0; i < add; i++) StartLane();
                    }
                    else if (add < 0)
                    {
                        _events?.Invoke($"{ThroughputNotice}{rate / 1e6:0.0} MB/s: the last {-add} lanes made it worse; closing them");
                        RetireLanes(-add);
                    }
                }
                if (seen != lastSeen || !dataPhase)
                {
                    if (seen != lastSeen) stalls = 0;
                    lastSeen = seen;
                    lastProgress = _clock.Elapsed;
                    continue;
                }
                var quiet = _clock.Elapsed - lastProgress;
                bool waiting;
                lock (_inFlight) waiting = _inFlight.Count > 0;
                if (waiting && quiet > _options.StallTimeout)
                {
                    if (++stalls > 2)
                    {
                        Fail(new TransferAbortedException(ErrorCode.ConnectionLost, $"the transfer stalled: no acknowledgement from {Where} for {_options.StallTimeout.TotalSeconds:0} s"));
                        return;
                    }
                    _events?.Invoke($"no acknowledgement for {_options.StallTimeout.TotalSeconds:0} s; replacing the stalled lanes");
                    AbortStalledLanes();
                    lastProgress = _clock.Elapsed;
                }
                else if (!waiting && quiet > QuietLimit && _clock.Elapsed - lastHeard > QuietLimit)
                {
                    // Nothing in flight, nothing acknowledged, not done: fail (so the send can be retried) rather than hang.
                    Fail(new TransferAbortedException(ErrorCode.ConnectionLost, $"the transfer stalled: nothing moved for {QuietLimit.TotalSeconds:0} s"));
                    return;
                }
            }
        }
        catch (OperationCanceledException) { }
    }

    /// <summary>
    /// How long nothing may move while nothing is in flight: twice the stall timeout once the whole manifest is
    /// accepted; before that the receiver may still be preparing a chunk, which it is allowed <see cref="TransferOptions.IdleTimeout"/> for.
    /// </summary>
    private TimeSpan QuietLimit => _manifestAccepted ? 2 * _options.StallTimeout : _options.IdleTimeout;

    /// <summary>
    /// Waits until the receiver has accepted at least <paramref name="count"/> entries (the whole manifest, even an
    /// empty one, when that is all of them), each acceptance within <see cref="TransferOptions.IdleTimeout"/>, or of
    /// the receiver's last StillWorking while it reads files in place whole (seeding them with delta, hashing them with
    /// --checksum).
    /// </summary>
    private async Task WaitForAcceptanceAsync(int count)
    {
        while (!_manifestAccepted && (count >= _entries.Count || Volatile.Read(ref _accepted) < count))
        {
            long heard = Volatile.Read(ref _stillWorking);
            bool signalled;
            try
            {
                signalled = await _acceptedSignal.WaitAsync(_options.IdleTimeout, _cts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_failure is not null)
            {
                throw _failure;
            }
            if (!signalled && Volatile.Read(ref _stillWorking) == heard)
                throw new TransferAbortedException(ErrorCode.ConnectionLost, $"the receiver at {Where} did not confirm the session within {_options.IdleTimeout.TotalSeconds:0} s");
        }
    }

    /// <summary>Waits until the receiver has committed <paramref name="count"/> files of this attempt, of the <paramref name="sent"/> entries sent.</summary>
    private async Task WaitForCommitsAsync(int count, int sent)
    {
        if (Volatile.Read(ref _filesCommitted) >= count) return;
        // Those files are accepted first (each acceptance within IdleTimeout); then the stall watchdog, which watches
        // from the first acceptance, ends a session whose receiver stops committing.
        await WaitForAcceptanceAsync(sent).ConfigureAwait(false);
        while (Volatile.Read(ref _filesCommitted) < count)
        {
            try
            {
                await _committedSignal.WaitAsync(_cts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_failure is not null)
            {
                throw _failure;
            }
        }
    }

    private async Task SendManifestAsync()
    {
        // Asked only of a receiver that takes it: one from before it would refuse the flag.
        bool excludes = _keptAtDeletion is not null && ((_sessionFlags & OpenSessionFlags.DeleteExtraneous) != 0 || (_moreFlags & MoreSessionFlags.Force) != 0);
        uint moreFlags = _moreFlags | (_mayNameOneFile && _receiverNamesFile ? MoreSessionFlags.NamesOneFile : 0)
            | (excludes && _keptAtDeletion!.ReadsPerDirectory ? MoreSessionFlags.PerDirectoryRules : 0);
        if (_tellsUnnamed && !_receiverNamesFile)
            _events?.Invoke($"the receiver at {Where} is of an earlier release, which takes a URL's path for a directory: '{_entries[0].Entry.Path}' goes into '{_url.Directory}/' there; to name it, end the URL's path at the directory above and give --file-name");
        ushort sessionFlags = (ushort)(_sessionFlags | (moreFlags != 0 ? OpenSessionFlags.More : 0));
        byte[] open = new byte[(sessionFlags & OpenSessionFlags.More) != 0 ? 32 : 24];
        // The shard size is final here (FitToPath ran), and no lane reads a shard before the manifest is accepted.
        if (_options.Sparse) _holeDigests = new HoleDigests(_options.ShardSize);
        BinaryPrimitives.WriteInt32LittleEndian(open, _options.ShardSize);
        // The declared count is the most this session may grow to, so the receiver admits the added lanes.
        BinaryPrimitives.WriteUInt16LittleEndian(open.AsSpan(4), (ushort)LanesCeiling);
        BinaryPrimitives.WriteUInt16LittleEndian(open.AsSpan(6), sessionFlags);
        BinaryPrimitives.WriteInt32LittleEndian(open.AsSpan(8), _entries.Count);
        BinaryPrimitives.WriteInt32LittleEndian(open.AsSpan(12), (_sessionFlags & OpenSessionFlags.MostDeletions) != 0 ? _options.MaxDelete!.Value : 0);
        BinaryPrimitives.WriteInt64LittleEndian(open.AsSpan(16), _totalBytes);
        if (open.Length > 24)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(open.AsSpan(24), moreFlags);
            BinaryPrimitives.WriteInt32LittleEndian(open.AsSpan(28), _options.ModifyWindow ?? 0);
        }
        // Before OpenSession, whose dry-run bit tells the receiver whether to create it or only plan it.
        if (_url.Directory is { } directory) _control!.Post(ControlMessageType.Destination, DestinationMessage.Encode(directory));
        _control!.Post(ControlMessageType.OpenSession, open);
        // Without the excludes, the receiver's deletion takes what they leave out for gone: what --delete-excluded asks.
        if (excludes) _control.Post(ControlMessageType.Exclude, ExcludeMessage.Encode(_keptAtDeletion!));
        if (_ownerNames.Count > 0) _control.Post(ControlMessageType.OwnerNames, OwnerNamesMessage.Encode(_ownerNames));
        // A dry run changes nothing, yet its deletion must leave the backups alone as the real send's would.
        if (_options.KeepsBackups) _control.Post(ControlMessageType.Backup, BackupMessage.Encode(_options.BackupSuffixOrDefault, _options.BackupDirectory));
        if (_options.EarlierCopies.Directories is { Count: > 0 } earlier) _control.Post(ControlMessageType.LinkDest, LinkDestMessage.Encode(earlier));
        if ((_sessionFlags & OpenSessionFlags.DeleteExtraneous) != 0)
            foreach (byte[] names in PathListMessage.Encode([.. _leftBySize, .. _unsafeLinks]))
            {
                _control.Post(ControlMessageType.LeftOut, names);
                await _control.PaceAsync().ConfigureAwait(false);
            }
        foreach (byte[] names in PathListMessage.Encode(_deleteNamed))
        {
            _control.Post(ControlMessageType.DeleteNamed, names);
            await _control.PaceAsync().ConfigureAwait(false);
        }

        // Entries go in chunks of about 256 KiB: thousands of small files cost a handful of messages, not a round trip
        // each. A chunk waits until the receiver has accepted all but the last few sent, and has committed all but
        // FilesAheadOfCommits of the files announced.
        byte[] chunk = new byte[ManifestChunkBytes + ManifestCodec.MostSize(_options.Limits)];
        var sentUpTo = new Queue<int>();
        int first = 0, count = 0, length = ManifestCodec.ChunkHeaderSize, files = 0, announced = 0;
        int firstLink = _entries.FindIndex(e => e.Entry.Kind == EntryKind.HardLink);
        lock (_linksLock) _firstLink = firstLink;
        for (int id = 0; id < _entries.Count; id++)
        {
            var source = id < firstLink || firstLink < 0 ? _entries[id] : await TakeLinkAsync(id).ConfigureAwait(false);
            var entry = source.Entry;
            if (entry is { Kind: EntryKind.File, Xattrs: { } xattrs })
            {
                // The receiver holds what files carry until their commit (ProtocolLimits.MaxHeldXattrBytes): beyond half
                // of it, more goes only as files commit.
                while (Interlocked.Read(ref _xattrBytesHeld) + xattrs.Bytes > _options.Limits.MaxHeldXattrBytes / 2 && files > Volatile.Read(ref _filesCommitted))
                {
                    if (count > 0) await SendChunkAsync(id - 1).ConfigureAwait(false);
                    await WaitForCommitsAsync(Volatile.Read(ref _filesCommitted) + 1, first).ConfigureAwait(false);
                }
                Interlocked.Add(ref _xattrBytesHeld, xattrs.Bytes);
            }
            length += ManifestCodec.Write(chunk.AsSpan(length), entry);
            count++;
            if (entry.Kind == EntryKind.File)
            {
                // Cut into shards of the session's size, known once the path is measured; ready before the receiver can name it.
                var file = new SenderFile((uint)id, source, _options.ShardSize, _roots);
                Volatile.Write(ref _filesById[id], file);
                if (!_options.DryRun) _scheduler.Add(file);
                files++;
            }
            if (length >= ManifestChunkBytes || id == _entries.Count - 1) await SendChunkAsync(id).ConfigureAwait(false);
        }

        // The hard links, last: each once every file sent is settled, so that the receiver finds its file in place. A
        // further name sent as a file in place of one that vanished may be moved to this place meanwhile.
        async Task<SourceEntry> TakeLinkAsync(int id)
        {
            while (true)
            {
                lock (_linksLock)
                {
                    var taken = _entries[id];
                    if (taken.Entry.Kind != EntryKind.HardLink) return taken;
                    if (Volatile.Read(ref _filesCommitted) >= files)
                    {
                        // Every file is settled: whatever took the place of the file it names is final.
                        string target = taken.Entry.LinkTarget!;
                        while (_promoted?.GetValueOrDefault(target) is { } name) target = name;
                        if (target != taken.Entry.LinkTarget) _entries[id] = taken = taken with { Entry = taken.Entry with { LinkTarget = target } };
                        return taken;
                    }
                }
                if (count > 0) await SendChunkAsync(id - 1).ConfigureAwait(false);
                await WaitForCommitsAsync(files, first).ConfigureAwait(false);
            }
        }

        // Sends the chunk of entries [first, last].
        async Task SendChunkAsync(int last)
        {
            if (sentUpTo.Count >= ManifestChunksAhead) await WaitForAcceptanceAsync(sentUpTo.Dequeue()).ConfigureAwait(false);
            // Counts the files of the chunks sent, not of this one, so the first always goes.
            await WaitForCommitsAsync(announced - _options.FilesAheadOfCommits, first).ConfigureAwait(false);
            announced = files;
            Volatile.Write(ref _entriesSent, last + 1);
            BinaryPrimitives.WriteInt32LittleEndian(chunk, first);
            BinaryPrimitives.WriteInt32LittleEndian(chunk.AsSpan(4), count);
            _control!.Post(ControlMessageType.ManifestChunk, chunk.AsSpan(0, length));
            Interlocked.Add(ref _manifestBytes, length);
            await _control.PaceAsync().ConfigureAwait(false);
            sentUpTo.Enqueue(last + 1);
            first = last + 1;
            count = 0;
            length = ManifestCodec.ChunkHeaderSize;
        }
    }

    private async Task ReadControlAsync()
    {
        try
        {
            while (true)
            {
                var (ok, type, body) = await _control!.ReadAsync(_cts.Token).ConfigureAwait(false);
                if (!ok)
                {
                    if (_sessionDone.Task.IsCompleted) return;
                    throw new TransferAbortedException(ErrorCode.ConnectionLost, $"the receiver at {Where} closed the connection before confirming the transfer");
                }
                Dispatch(type, body.Span);
            }
        }
        catch (Exception ex)
        {
            Fail(ex);
        }
    }

    private void Dispatch(ControlMessageType type, ReadOnlySpan<byte> body)
    {
        switch (type)
        {
            case ControlMessageType.ManifestAccepted: OnAccepted(body); break;
            case ControlMessageType.ShardAcks: OnAcks(body); break;
            case ControlMessageType.ResumeOffer: OnResumeOffer(body, fromBasis: false); break;
            case ControlMessageType.BasisOffer:
                if ((_sessionFlags & OpenSessionFlags.Delta) == 0) throw new ProtocolViolationException("BasisOffer in a session that did not ask for delta");
                OnResumeOffer(body, fromBasis: true);
                break;
            case ControlMessageType.BasisSums: OnBasisSums(body); break;
            case ControlMessageType.FilesPresent: OnPresent(body); break;
            case ControlMessageType.FilesKept: OnPresent(body, kept: true); break;
            case ControlMessageType.EntryFailed: OnEntryFailed(body); break;
            case ControlMessageType.StillWorking:
                // While deleting, or putting the files into place (--delay-updates), after Finish, or while reading
                // files in place whole (seeding them from their old versions, or hashing them for --checksum), or
                // deleting (--delete-before), before the manifest's last acceptance.
                bool deleting = Volatile.Read(ref _finishSent) && (Deletes || _waiting is not null);
                bool reading = !_manifestAccepted && ((_sessionFlags & (OpenSessionFlags.Delta | OpenSessionFlags.Checksum)) != 0 || (_moreFlags & (MoreSessionFlags.CopyDest | MoreSessionFlags.DeleteBefore)) != 0);
                if (!(deleting || reading) || body.Length != 0)
                    throw new ProtocolViolationException("StillWorking came neither after Finish with a deletion or --delay-updates asked for nor before the manifest's acceptance with delta, --checksum, --copy-dest or --delete-before asked for, or with a body");
                Interlocked.Increment(ref _stillWorking);
                break;
            case ControlMessageType.WouldDelete:
                if (!Volatile.Read(ref _finishSent) || ((_sessionFlags & OpenSessionFlags.DryRun) == 0 && _changes is null) || !Deletes)
                    throw new ProtocolViolationException("WouldDelete came before Finish, or outside a dry run or an itemized send with a deletion");
                int before = _wouldDelete.Count;
                WouldDeleteMessage.Decode(body, _options.Limits.MaxPathBytes, _wouldDelete, ref _wouldDeleteBytes);
                for (int i = before; i < _wouldDelete.Count; i++)
                    _changes?.Add(new ItemizedChange(_wouldDelete[i], _wouldDelete[i].EndsWith('/') ? EntryKind.Directory : EntryKind.File, ItemizedUpdate.Deleted, ItemizedAttributes.None));
                break;
            case ControlMessageType.Itemized: OnItemized(body); break;
            case ControlMessageType.ShardNack: OnNack(body); break;
            case ControlMessageType.FilesCommitted: OnCommitted(body); break;
            case ControlMessageType.SessionDone:
                // The answer to Finish: one before it would end the session early, and a close after it pass for its end.
                if (!Volatile.Read(ref _finishSent)) throw new ProtocolViolationException("SessionDone before Finish");
                bool limited = (_sessionFlags & OpenSessionFlags.MostDeletions) != 0;
                if (body.Length != (limited ? 28 : 24) || BinaryPrimitives.ReadInt32LittleEndian(body) != _fileCount)
                    throw new ProtocolViolationException("SessionDone does not match the transfer");
                _entriesLeftByLimit = limited ? BinaryPrimitives.ReadInt32LittleEndian(body[24..]) : 0;
                _entriesDeleted = BinaryPrimitives.ReadInt32LittleEndian(body[4..]);
                _entriesNotDeleted = BinaryPrimitives.ReadInt32LittleEndian(body[16..]);
                int doneFlags = BinaryPrimitives.ReadInt32LittleEndian(body[20..]);
                _deletionRan = (doneFlags & ReceiverSession.SessionDoneDeleted) != 0;
                _xattrsNotSet = (doneFlags & ReceiverSession.SessionDoneXattrsNotSet) != 0;
                _modesNotSet = (doneFlags & ReceiverSession.SessionDoneModesNotSet) != 0;
                if ((doneFlags & ~(ReceiverSession.SessionDoneDeleted | ReceiverSession.SessionDoneXattrsNotSet | ReceiverSession.SessionDoneModesNotSet)) != 0)
                    throw new ProtocolViolationException("SessionDone sets flag bits this sender does not know");
                if (_modesNotSet && (_moreFlags & MoreSessionFlags.KeepsNoModes) != 0)
                    throw new ProtocolViolationException("SessionDone names modes this sender did not send");
                if (_xattrsNotSet && (_moreFlags & (MoreSessionFlags.Xattrs | MoreSessionFlags.Acls)) == 0)
                    throw new ProtocolViolationException("SessionDone names extended attributes this sender did not send");
                if (((_entriesDeleted | _entriesNotDeleted) != 0 && !Deletes) || (_deletionRan && (_sessionFlags & OpenSessionFlags.DeleteExtraneous) == 0) || _entriesDeleted < 0 || _entriesNotDeleted < 0
                    || _entriesLeftByLimit < 0 || (limited && _entriesDeleted > _options.MaxDelete)
                    || _entriesDeleted < _wouldDelete.Count)
                    throw new ProtocolViolationException("SessionDone counts deletions this sender did not ask for");
                NamePlaced();
                _sessionDone.TrySetResult();
                break;
            case ControlMessageType.Error:
                var (code, reason) = ErrorMessage.Decode(body);
                // A receiver shutting down (Cancelled there) ended the connection, not this send: it is retried, and
                // exits as a connection lost, as a receiver killed would.
                Fail(new TransferAbortedException(code == ErrorCode.Cancelled ? ErrorCode.ConnectionLost : code, $"the receiver ended the session: {reason}"), tellPeer: false);
                break;
            default:
                throw new ProtocolViolationException($"a receiver may not send {type}");
        }
    }

    /// <summary>The receiver prepared entries up to a new count: seal the empty files among them and let the lanes take their shards.</summary>
    private void OnAccepted(ReadOnlySpan<byte> body)
    {
        int count = body.Length == 4 ? BinaryPrimitives.ReadInt32LittleEndian(body) : -1;
        bool grows = count > _accepted || (count == 0 && _entries.Count == 0);
        if (!grows || count > Volatile.Read(ref _entriesSent) || _manifestAccepted)
            throw new ProtocolViolationException("ManifestAccepted does not match the manifest");
        for (int id = _accepted; id < count; id++)
        {
            if (_changes is not null && _entries[id].Entry.Kind != EntryKind.File) ItemizeMade(id);
            // A file that is to travel: should this attempt's commit be lost with the connection, a retry finds it in
            // place, and names it as sent with what stood there before.
            else if (_changes is not null && _filesById[id] is { Present: false } travelling && (_differences[id] & NotMade) == 0)
                _changes.Differed(travelling.Entry.Path, (ItemizedAttributes)_differences[id]);
            if (_filesById[id] is { PendingSums: not null } summed) BuildBasis(summed);
            if (_filesById[id] is { Present: true } present) SettlePresent(present);
            else if (_options.DryRun && _filesById[id] is { } needed) SettleWouldSend(needed);
            else if (_filesById[id] is { ShardCount: 0 } empty) Seal(empty, empty.MarkSentEmpty());
        }
        Volatile.Write(ref _accepted, count);
        _scheduler.Accept(count);
        Interlocked.Increment(ref _progressEvents);
        if (count == _entries.Count)
        {
            _manifestAccepted = true;
            if (_fileCount == 0) _allCommitted.TrySetResult();
        }
        _acceptedSignal.Release();
    }

    /// <summary>
    /// Files the receiver holds already (same size and mtime), named before the acceptance that covers them; or, when
    /// <paramref name="kept"/> (FilesKept), files it keeps as it has them by a rule this sender asked for.
    /// </summary>
    private void OnPresent(ReadOnlySpan<byte> body, bool kept = false)
    {
        int count = ControlBatch.Count(body, 4, kept ? ControlMessageType.FilesKept : ControlMessageType.FilesPresent);
        for (int i = 0; i < count; i++)
        {
            uint id = BinaryPrimitives.ReadUInt32LittleEndian(ControlBatch.Item(body, 4, i));
            if (kept && id < (uint)Volatile.Read(ref _entriesSent) && _entries[(int)id].Entry is { Kind: EntryKind.Symlink or EntryKind.Special } link)
            {
                if (!(_options.IgnoreExisting || _options.ExistingOnly)) throw new ProtocolViolationException($"the receiver named the {(link.Kind == EntryKind.Symlink ? "link" : SpecialTypes.Name(link.SpecialType))} '{link.Path}' as kept, which this sender did not ask for");
                lock (_keptAtReceiver) if (!_keptAtReceiver.Add(id)) throw new ProtocolViolationException($"'{link.Path}' was named as kept twice");
                if (_changes is not null) _differences[id] |= NotMade;
                continue;
            }
            var file = FileAt(id, 0);
            if (!_options.SkipUnchanged && !file.Entry.SentBefore) throw new ProtocolViolationException($"the receiver named '{file.Entry.Path}' as in place, which this sender did not ask for");
            if (kept && (file.Entry.SentBefore || !_options.KeepsByRule))
                throw new ProtocolViolationException($"the receiver named '{file.Entry.Path}' as kept by a rule this sender did not ask for");
            if (file.Id < (uint)_accepted) throw new ProtocolViolationException($"'{file.Entry.Path}' was named as in place after its acceptance");
            if (file.Present) throw new ProtocolViolationException($"'{file.Entry.Path}' was named as in place twice");
            file.Present = true;
            file.KeptAtReceiver = kept;
        }
    }

    /// <summary>
    /// An entry the receiver could not write (a place it may not write, a name too long there): it is reported as not
    /// sent, as rsync goes on past it, and a file of it counts as settled; shards of it already on their way are
    /// acknowledged and dropped there.
    /// </summary>
    private void OnEntryFailed(ReadOnlySpan<byte> body)
    {
        if (body.Length < 8) throw new ProtocolViolationException("EntryFailed is too short");
        uint id = BinaryPrimitives.ReadUInt32LittleEndian(body);
        var (code, reason) = ErrorMessage.Decode(body[4..]);
        if (id >= (uint)Volatile.Read(ref _entriesSent)) throw new ProtocolViolationException($"the receiver named entry {id}, which this session does not have");
        var entry = _entries[(int)id].Entry;
        // Once an entry: a receiver that names one again would grow the list of what was not sent without end.
        lock (_entriesFailed) if (!_entriesFailed.Add(id)) throw new ProtocolViolationException($"'{entry.Path}' was named as not written twice");
        if (_changes is not null) _differences[id] |= NotMade;
        // A device the receiver makes none of is skipped, as rsync skips it at a receiver that is not root: no failure.
        if (code == ErrorCode.NotAllowed)
        {
            if (!SpecialTypes.IsDevice(entry.SpecialType)) throw new ProtocolViolationException($"the receiver named '{entry.Path}' as not allowed, which only a device may be");
            lock (_devicesSkipped) _devicesSkipped.Add(entry.Path);
            _events?.Invoke($"skipping at the receiver: {reason}");
            return;
        }
        if (entry.Kind == EntryKind.HardLink) Interlocked.Increment(ref _linksFailed);
        if (entry.Kind == EntryKind.File)
        {
            if (Volatile.Read(ref _filesById[id]) is { } file && file.TryDrop())
            {
                ForgetBasis(file);
                lock (_unwritten) _unwritten.Add(file);
                Interlocked.Increment(ref _filesSettledUnmoved);
                Interlocked.Increment(ref _progressEvents);
                Settled(id);
            }
            // Settled already (this sender left it out meanwhile): nothing more to count. But a file the receiver had
            // verified, which could not go into place at the end (--delay-updates): not sent after all.
            else if (!RemoveWaiting(id)) return;
        }
        // A further name of a file this sender left out as vanished or changed is left out with it, not a receiver's failure.
        NotSentEntry? leftOut = null;
        if (entry.Kind == EntryKind.HardLink)
            lock (_notSent) leftOut = _notSent.Find(left => left.Path == entry.LinkTarget && (left.Vanished || left.Changed));
        if (leftOut is not null)
        {
            NotSending(new NotSentEntry(entry.Path, reason) { IsLink = true, Vanished = leftOut.Vanished, Changed = leftOut.Changed });
            return;
        }
        lock (_notSent) _notSent.Add(new NotSentEntry(entry.Path, $"the receiver could not write it: {reason}") { IsDirectory = entry.Kind == EntryKind.Directory, IsLink = entry.Kind is EntryKind.Symlink or EntryKind.HardLink, IsSpecial = entry.Kind == EntryKind.Special, Bytes = entry.Size, AtReceiver = true });
        _events?.Invoke($"not written at the receiver: {reason}");
    }

    /// <summary>
    /// A file that could not be opened for its first read (not readable, or gone since the scan) is left out, as rsync
    /// goes on past it: the receiver is told to give it up, it counts as settled, and the send reports it. Nothing of
    /// it was read, so nothing of it is on the wire. Every lane that meets it gives back its credit; one drops it.
    /// </summary>
    private void Drop(SenderFile file, int length, SingularityException reason)
    {
        _window.Release(length);
        LeaveOut(file, reason);
    }

    /// <summary>
    /// Leaves out a file that could not be opened: named, told to the receiver and settled, once. One gone since the
    /// scan goes as FilesVanished to a receiver that takes it, whose deletion it then does not stop, as rsync's
    /// vanished files do not stop rsync's.
    /// </summary>
    private void LeaveOut(SenderFile file, SingularityException reason)
    {
        if (!file.TryDrop()) return;
        ForgetBasis(file);
        // ENOENT alone, as rsync's: a name on its way that is no longer a directory (ENOTDIR) is an error.
        bool vanished = reason.InnerException is FileNotFoundException;
        // Told as rsync tells it ("file has vanished"), not as a read that failed.
        string why = vanished ? "it vanished since the scan" : reason.Message;
        NotSending(new NotSentEntry(file.Entry.Path, why) { Bytes = file.Entry.Size, Vanished = vanished });
        _control!.PostBatchItem(vanished && _receiverTakesVanished ? ControlMessageType.FilesVanished : ControlMessageType.FilesDropped, file.Id);
        // After FilesVanished, which leaves the receiver room for it, and before the file settles, so the manifest,
        // which sends the links once every file is settled, finds it in place, and the session does not end before it.
        if (vanished && file.Entry.Linked && _receiverTakesVanished && _receiverTakesLinkedVanished && !_options.DryRun) PromoteFurtherName(file.Entry);
        Interlocked.Increment(ref _progressEvents);
        SettleUnmoved(file);
    }

    /// <summary>Records an entry left out while the session runs, and names it (the send's line for each).</summary>
    private void NotSending(NotSentEntry left)
    {
        lock (_notSent) _notSent.Add(left);
        _events?.Invoke($"not sending '{left.Path}': {left.Reason}");
    }

    /// <summary>
    /// With -H, sends the first further name of a linked file that vanished as the file in its place, and its other
    /// further names as links to that one, as rsync sends the name left: they are still the source's, and the receiver
    /// would otherwise fail them and skip its deletion. One that vanished too is left out in turn, and the next takes
    /// its place. Nothing changes where no further name is left unsent.
    /// </summary>
    private void PromoteFurtherName(ManifestEntry vanished)
    {
        lock (_linksLock)
        {
            if (_firstLink < 0) return;
            // Made once, so that each promotion costs a look-up, not a pass over every link.
            if (_firstLinkTo is null)
            {
                _firstLinkTo = new(StringComparer.Ordinal);
                _nextLink = new int[_entries.Count - _firstLink];
                for (int id = _entries.Count - 1; id >= _firstLink; id--)
                {
                    string target = _entries[id].Entry.LinkTarget!;
                    _nextLink[id - _firstLink] = _firstLinkTo.TryGetValue(target, out int next) ? next : -1;
                    _firstLinkTo[target] = id;
                }
            }
            // Its first link not sent; the name sent in its place takes the links after it.
            if (!_firstLinkTo.Remove(vanished.Path, out int at)) return;
            // Counted before the manifest can send it, and before the vanished file settles: the session waits for it.
            Interlocked.Increment(ref _fileCount);
            Interlocked.Increment(ref _filesAll);
            Interlocked.Add(ref _totalAll, vanished.Size);
            Interlocked.Add(ref _totalBytes, vanished.Size);
            var name = _entries[at];
            var promoted = vanished with { Path = name.Entry.Path, SentBefore = false };
            _entries[at] = name with { Entry = promoted };
            (_promoted ??= new(StringComparer.Ordinal))[vanished.Path] = promoted.Path;
            if (_nextLink![at - _firstLink] is var after and >= 0) _firstLinkTo[promoted.Path] = after;
            // Links after it are itemized with its values (FileNamed), the map being made already where one was before.
            _filesByPath?.Add(promoted.Path, promoted);
        }
    }

    /// <summary>
    /// Leaves out a file found changed while it was read (written to, shortened or replaced: <paramref name="reason"/>),
    /// where some of it may be on its way or written already, as rsync goes on past it: none of its shards are handed out
    /// any more, the receiver is told to give it up (FilesWithdrawn), and it is settled and reported, once. Every lane
    /// that meets it gives back its credit.
    /// </summary>
    private void Withdraw(SenderFile file, int length, SingularityException reason)
    {
        _window.Release(length);
        // Sealed already (a resend found the change): the receiver may be committing it, and the session ends as before,
        // unless it committed it meanwhile (a resend queued before its commit), whole as it was read.
        if (!file.TryWithdraw(reason, () => _control!.PostBatchItem(ControlMessageType.FilesWithdrawn, file.Id), out bool first))
        {
            if (Volatile.Read(ref _filesById[file.Id]) is null) return;
            throw reason;
        }
        if (!first) return;
        ForgetBasis(file);
        NotSending(new NotSentEntry(file.Entry.Path, reason.Message) { Bytes = file.Entry.Size, Changed = true });
        Interlocked.Increment(ref _progressEvents);
        Interlocked.Increment(ref _filesSettledUnmoved);
        Settled(file.Id);
    }

    /// <summary>
    /// Forgets a settled file (committed, found in place or left out), counts it, and wakes what waits for commits:
    /// the manifest's pacing and the end.
    /// </summary>
    private void Settled(uint id)
    {
        if (Volatile.Read(ref _filesById[id])?.Entry.Xattrs is { } xattrs) Interlocked.Add(ref _xattrBytesHeld, -xattrs.Bytes);
        Volatile.Write(ref _filesById[id], null);
        if (Interlocked.Increment(ref _filesCommitted) == Volatile.Read(ref _fileCount)) _allCommitted.TrySetResult();
        if (_committedSignal.CurrentCount == 0) _committedSignal.Release();
    }

    /// <summary>Settles a file that moved no data: found in place, or left out.</summary>
    private void SettleUnmoved(SenderFile file)
    {
        file.Close();
        Interlocked.Increment(ref _filesSettledUnmoved);
        Settled(file.Id);
    }

    /// <summary>In a dry run, a file the receiver does not hold is one a real send would send: it is named, and settled as the receiver settled it.</summary>
    private void SettleWouldSend(SenderFile file)
    {
        // Opened and closed, nothing read: one that cannot be opened is left out, as a real send leaves it out, and the
        // receiver then skips its deletion as it would. An empty file is never opened by a real send either.
        if (file.ShardCount > 0 && file.CheckOpens() is { } failure)
        {
            LeaveOut(file, failure);
            return;
        }
        lock (_wouldSend) _wouldSend.Add(file.Entry.Path);
        ItemizeFile(file, ItemizedUpdate.Sent);
        SettleUnmoved(file);
    }

    /// <summary>At its acceptance, a file the receiver holds already counts as committed; none of its shards go.</summary>
    private void SettlePresent(SenderFile file)
    {
        // One an earlier attempt committed is not unchanged: this send put it there.
        if (!file.Entry.SentBefore)
        {
            _filesUnchanged++;
            Interlocked.Add(ref _bytesUnchanged, file.Entry.Size);
        }
        if (file.KeptAtReceiver) lock (_keptAtReceiver) _keptAtReceiver.Add(file.Id);
        // As rsync: --ignore-existing passes over what stands at a name, so a source found there is not one the send
        // moved (but one an earlier attempt committed, found by a retry).
        else if (_options.IgnoreExisting && _options.RemoveSourceFiles && !file.Entry.SentBefore) lock (_keptAtReceiver) (_inPlaceIgnored ??= []).Add(file.Id);
        if (_changes is not null) ItemizePresent(file);
        Interlocked.Add(ref _bytesAcknowledged, file.AcknowledgeAll());
        SettleUnmoved(file);
    }

    /// <summary>
    /// Itemized (rsync --itemize-changes): how what stood at entries' names at the receiver differed from them, told
    /// before the acceptance that covers them; an entry once, and never with no difference.
    /// </summary>
    private void OnItemized(ReadOnlySpan<byte> body)
    {
        if (_changes is null) throw new ProtocolViolationException("Itemized came in a session that did not ask for it");
        int count = ControlBatch.Count(body, ReceiverSession.ItemizedItemSize, ControlMessageType.Itemized);
        for (int i = 0; i < count; i++)
        {
            var item = ControlBatch.Item(body, ReceiverSession.ItemizedItemSize, i);
            uint id = BinaryPrimitives.ReadUInt32LittleEndian(item);
            ushort changes = BinaryPrimitives.ReadUInt16LittleEndian(item[4..]);
            if (id < (uint)_accepted || id >= (uint)Volatile.Read(ref _entriesSent))
                throw new ProtocolViolationException($"Itemized names entry {id}, which is not waiting for its acceptance");
            // Not made (--existing) stands alone, as new does.
            bool notMade = changes == ReceiverSession.ItemizedNotMade && _options.ExistingOnly && _entries[(int)id].Entry.Kind == EntryKind.Directory;
            if (!notMade && (changes == 0 || (changes & ~(ushort)ItemizedChange.Known) != 0 || ((changes & (ushort)ItemizedAttributes.New) != 0 && changes != (ushort)ItemizedAttributes.New)))
                throw new ProtocolViolationException($"Itemized gives '{_entries[(int)id].Entry.Path}' differences 0x{changes:x}, which are none, unknown, or new with others");
            if (((changes & (ushort)ItemizedAttributes.Xattrs) != 0 && !_options.Xattrs) || ((changes & (ushort)ItemizedAttributes.Acls) != 0 && !_options.Acls))
                throw new ProtocolViolationException($"Itemized gives '{_entries[(int)id].Entry.Path}' differences in extended attributes or ACLs, which this send does not keep");
            if (_differences[id] != 0) throw new ProtocolViolationException($"'{_entries[(int)id].Entry.Path}' was itemized twice");
            _differences[id] = notMade ? NotMade : changes;
        }
    }

    /// <summary>At its acceptance, a directory, a link or a hard link the receiver made (or found as it is), itemized.</summary>
    private void ItemizeMade(int id)
    {
        if ((_differences[id] & NotMade) != 0) return;
        var entry = _entries[id].Entry;
        var changes = (ItemizedAttributes)_differences[id];
        // A link made anew over one of another target, or where none stood, is made; a hard link is a further name,
        // whose file rsync names only when it makes it.
        var update = entry.Kind == EntryKind.HardLink ? ItemizedUpdate.HardLinked
            : (changes & (ItemizedAttributes.New | ItemizedAttributes.Contents)) != 0 ? ItemizedUpdate.Made : ItemizedUpdate.Unchanged;
        string? target = entry.Kind == EntryKind.HardLink && changes == ItemizedAttributes.None ? null : entry.LinkTarget;
        _changes!.Add(Change(entry, update, changes, target));
    }

    /// <summary>A file that travelled (in a dry run, would), itemized; with --checksum, one that stood there differed by its contents.</summary>
    private void ItemizeFile(SenderFile file, ItemizedUpdate update, ItemizedAttributes? differed = null)
    {
        if (_changes is null) return;
        var changes = differed ?? (ItemizedAttributes)_differences[file.Id];
        if (_options.Checksum && (changes & ItemizedAttributes.New) == 0) changes |= ItemizedAttributes.Contents;
        _changes.Add(Change(file.Entry, update, changes));
    }

    /// <summary>
    /// A file the receiver did not need: in place (its attributes brought up to date), kept by a rule, or made from an
    /// earlier copy where nothing stood (linked, copied, or with --compare-dest found there and not made), itemized as
    /// rsync itemizes each.
    /// </summary>
    private void ItemizePresent(SenderFile file)
    {
        var changes = (ItemizedAttributes)_differences[file.Id];
        // In place unchanged, where an earlier attempt found it differing: that attempt sent it, but its commit was lost with the connection.
        if (changes == ItemizedAttributes.None && !file.KeptAtReceiver && _changes!.DifferedBefore(file.Entry.Path) is { } before)
        {
            ItemizeFile(file, ItemizedUpdate.Sent, before);
            return;
        }
        // Kept as it stands by a rule (--ignore-existing also keeps a file in place as it is): rsync names nothing, but
        // what --size-only alone keeps, which -ii names as left as it stood (rsync, which sets its time, with a 't').
        bool sizeOnlyKept = file.KeptAtReceiver && _options.SizeOnly && !(_options.Update || _options.IgnoreExisting || _options.ExistingOnly);
        if ((file.KeptAtReceiver && !sizeOnlyKept) || (_options.IgnoreExisting && (changes & ItemizedAttributes.New) == 0)) return;
        if (sizeOnlyKept) changes = ItemizedAttributes.None;
        var update = (changes & ItemizedAttributes.New) == 0 ? ItemizedUpdate.Unchanged
            : _options.CopyDestinations.Count > 0 ? ItemizedUpdate.Made
            : _options.LinkDestinations.Count > 0 && _options.CompareDestinations.Count == 0 ? ItemizedUpdate.HardLinked
            : ItemizedUpdate.Unchanged;
        // Made from an earlier copy that matched it, as rsync names it: no difference, so only with -ii.
        _changes!.Add(Change(file.Entry, update, changes & ~ItemizedAttributes.New));
    }

    /// <summary>
    /// An entry's change, with what the entry is: its size, time, and mode as the receiver gives it (a file's
    /// permission bits; a directory's with the sticky bit and the owner's write and search; a link's all, as the
    /// system gives every link). A hard link's are those of the file it names, as rsync gives them.
    /// </summary>
    private ItemizedChange Change(ManifestEntry entry, ItemizedUpdate update, ItemizedAttributes changes, string? target = null)
    {
        var values = entry.Kind == EntryKind.HardLink && FileNamed(entry.LinkTarget!) is { } file ? file : entry;
        return new(entry.Path, entry.Kind, update, changes, target)
        {
            Device = SpecialTypes.IsDevice(values.SpecialType),
            Size = values.Kind == EntryKind.File ? values.Size : values.Kind == EntryKind.Symlink ? System.Text.Encoding.UTF8.GetByteCount(values.LinkTarget!) : 0,
            Mode = values.Kind switch
            {
                EntryKind.Symlink => (UnixFileMode)0x1FF,
                EntryKind.Directory => PartialFile.DirectoryMode(values.Mode),
                _ => values.Mode & PartialFile.SafeModeBits,
            },
            Modified = SourceScanner.FromNanoseconds(values.MtimeNanoseconds),
        };
    }

    /// <summary>
    /// The file entry at <paramref name="path"/>, for a hard link's values: from a map made once, in an itemized send
    /// with hard links only, which a name sent in place of a vanished file joins (under _linksLock, as both change).
    /// </summary>
    private ManifestEntry? FileNamed(string path)
    {
        lock (_linksLock)
        {
            _filesByPath ??= _entries.Where(e => e.Entry.Kind == EntryKind.File).ToDictionary(e => e.Entry.Path, e => e.Entry, StringComparer.Ordinal);
            return _filesByPath.GetValueOrDefault(path);
        }
    }

    private void Seal(SenderFile file, ulong digest)
    {
        // Before the seal is posted, so that a commit, which only a seal can bring, always finds it set; not for a file
        // found changed meanwhile, which is withdrawn instead.
        if (!file.TryBeginSeal()) return;
        Span<byte> item = stackalloc byte[12];
        BinaryPrimitives.WriteUInt32LittleEndian(item, file.Id);
        BinaryPrimitives.WriteUInt64LittleEndian(item[4..], digest);
        _control!.PostBatchItem(ControlMessageType.FilesSealed, item);
    }

    private SenderFile FileAt(uint id, uint shard)
    {
        if (id >= (uint)Volatile.Read(ref _entriesSent) || Volatile.Read(ref _filesById[id]) is not { } file || shard >= (uint)Math.Max(file.ShardCount, 1))
            throw new ProtocolViolationException($"the receiver named file {id} shard {shard}, which this session does not have");
        return file;
    }

    /// <summary>The length of a shard the receiver named, from the file's manifest entry: the file's state is gone once it is committed.</summary>
    private int ShardLengthOf(uint id, uint shard)
    {
        if (id >= (uint)Volatile.Read(ref _entriesSent) || _entries[(int)id].Entry is not { Kind: EntryKind.File } entry || shard >= (uint)Digests.ShardCount(entry.Size, _options.ShardSize))
            throw new ProtocolViolationException($"the receiver named file {id} shard {shard}, which this session does not have");
        return Digests.ShardLength(entry.Size, _options.ShardSize, (int)shard);
    }

    private void OnAcks(ReadOnlySpan<byte> body)
    {
        int count = ControlBatch.Count(body, 8, ControlMessageType.ShardAcks);
        long bytes = 0;
        for (int i = 0; i < count; i++)
        {
            var item = ControlBatch.Item(body, 8, i);
            uint id = BinaryPrimitives.ReadUInt32LittleEndian(item), index = BinaryPrimitives.ReadUInt32LittleEndian(item[4..]);
            int length = ShardLengthOf(id, index);
            // Every copy sent is acknowledged once (a shard resent after its lane died may arrive twice), so every
            // acknowledgement returns window credit; progress counts each shard once, and a file's commit (which may
            // come before the ack of a copy) counted all of its shards. Only an ack for a copy in flight, or a shard's
            // first, is progress: a receiver repeating acks must not keep the stall watchdog quiet for ever.
            bool inFlight = ForgetInFlight(id, index);
            bool first = Volatile.Read(ref _filesById[id]) is { } file && file.TryAcknowledge((int)index);
            if (first) bytes += length;
            if (inFlight || first) Interlocked.Increment(ref _progressEvents);
        }
        Interlocked.Add(ref _bytesAcknowledged, bytes);
        if (bytes > 0) Volatile.Write(ref _shardsConfirmed, true);
        Report();
    }

    private void OnResumeOffer(ReadOnlySpan<byte> body, bool fromBasis)
    {
        int count = ControlBatch.Count(body, 16, fromBasis ? ControlMessageType.BasisOffer : ControlMessageType.ResumeOffer);
        for (int i = 0; i < count; i++)
        {
            var item = ControlBatch.Item(body, 16, i);
            uint index = BinaryPrimitives.ReadUInt32LittleEndian(item[4..]);
            var file = FileAt(BinaryPrimitives.ReadUInt32LittleEndian(item), index);
            // Lanes may already be sending an accepted file: an offer for it would come too late to be settled.
            if (file.Id < (uint)_accepted) throw new ProtocolViolationException("resume offer for a file the receiver had already accepted");
            if (file.ShardCount == 0) throw new ProtocolViolationException("resume offer for an empty file");
            file.Offer((int)index, BinaryPrimitives.ReadUInt64LittleEndian(item[8..]), fromBasis);
        }
    }

    /// <summary>
    /// Most bytes of basis sums a sender holds at once (<see cref="BasisBlocks.BytesFor"/>); a file whose sums would take it
    /// beyond is sent as it would be without them, its changed shards whole. A receiver that counts them alike sends no
    /// more.
    /// </summary>
    private const long MostBasisBytes = BlockSums.SenderHolds;

    // Bytes of basis sums held now, pending or built, for files not yet committed, left out or failed.
    private long _basisBytes;

    /// <summary>
    /// BasisSums: the sums of the blocks of the version the receiver seeded a file from, or read for its sums alone, which
    /// this sender asked for in its Hello (capability bits 0 and 1). Only in a delta session, for a file with basis
    /// offers (where this sender set bit 1, any or none), after them and before its acceptance, with a block size from
    /// 2 KiB to a shard and at most 65,536 sums; in pieces that each continue the last (same block size, at most 65,536
    /// sums together) where this sender set bit 1, else once; otherwise a <see cref="ProtocolViolationException"/>.
    /// The sums are held as they come, built into the file's table at its acceptance, and let go at its commit.
    /// </summary>
    private void OnBasisSums(ReadOnlySpan<byte> body)
    {
        if ((_sessionFlags & OpenSessionFlags.Delta) == 0) throw new ProtocolViolationException("BasisSums in a session that did not ask for delta");
        if (body.Length < BlockSums.MessageHeader) throw new ProtocolViolationException("BasisSums is too short");
        var file = FileAt(BinaryPrimitives.ReadUInt32LittleEndian(body), 0);
        int size = BinaryPrimitives.ReadInt32LittleEndian(body[4..]), count = BinaryPrimitives.ReadInt32LittleEndian(body[8..]);
        if (file.Id < (uint)_accepted) throw new ProtocolViolationException("basis sums for a file the receiver had already accepted");
        // Offered from the basis; or, summed alone (this sender's Hello set capability bit 1), resumed or none, and
        // then in pieces.
        bool alone = (_options.Capabilities & WireFormat.CapabilitySumsAlone) != 0;
        if (!file.OffersFromBasis && !alone)
            throw new ProtocolViolationException($"basis sums for '{file.Entry.Path}', of which no shard was offered from its basis");
        if (size < BlockSums.SmallestBlock || size > _options.ShardSize) throw new ProtocolViolationException($"basis sums of blocks of {size} bytes, outside {BlockSums.SmallestBlock} to the shard size");
        if (count < 1 || count > BlockSums.MostBlocks || body.Length != BlockSums.MessageHeader + (long)count * BlockSums.ItemSize)
            throw new ProtocolViolationException($"BasisSums of {body.Length} bytes does not hold its {count} sums (1 to {BlockSums.MostBlocks})");
        var (seenSize, seen) = file.SumsSeen;
        if (seen > 0)
        {
            if (!alone) throw new ProtocolViolationException($"basis sums for '{file.Entry.Path}' came twice");
            if (size != seenSize) throw new ProtocolViolationException($"basis sums for '{file.Entry.Path}' of blocks of {size} bytes continue sums of blocks of {seenSize}");
            if (seen + count > BlockSums.MostBlocks) throw new ProtocolViolationException($"more than {BlockSums.MostBlocks} basis sums for '{file.Entry.Path}'");
        }
        file.SumsSeen = (size, seen + count);
        if (file.Dropped || file.SumsRefused) return;
        // Held until the file is committed, left out or failed, counted as the table they make; beyond the bound, the
        // file goes as without them.
        long more = BasisBlocks.BytesFor(seen + count) - BasisBlocks.BytesFor(seen);
        if (Interlocked.Add(ref _basisBytes, more) > MostBasisBytes)
        {
            Interlocked.Add(ref _basisBytes, -more);
            file.SumsRefused = true;
            ForgetBasis(file);
            return;
        }
        (file.PendingSums ??= new BasisSumsPieces(size)).Append(body[BlockSums.MessageHeader..], count);
        // Left out meanwhile: its sums go with it.
        if (file.Dropped) ForgetBasis(file);
    }

    /// <summary>Builds the sums that came for a file into its table, at the acceptance that covers it: every piece of them came before.</summary>
    private void BuildBasis(SenderFile file)
    {
        if (file.TakePendingSums() is not { } pending) return;
        file.Basis = pending.Build();
        if (file.Dropped) ForgetBasis(file);
    }

    /// <summary>Lets go of a file's basis sums, pending or built, once nothing more of it is sent as a patch.</summary>
    private void ForgetBasis(SenderFile file)
    {
        if (file.TakePendingSums() is { } pending) Interlocked.Add(ref _basisBytes, -BasisBlocks.BytesFor(pending.Count));
        if (file.TakeBasis() is { } basis) Interlocked.Add(ref _basisBytes, -BasisBlocks.BytesFor(basis.Count));
    }

    /// <summary>An offered shard whose bytes still hash to what the receiver holds: tell the receiver to keep it, and count it done.</summary>
    private bool Keep(SenderFile file, int index, int length)
    {
        // Not for a file found changed meanwhile: its withdrawal may have gone, after which the receiver holds none of it.
        if (!file.TryKeep(() => PostKept(file.Id, index))) return false;
        Interlocked.Add(ref file.OffersFromBasis ? ref _bytesMatched : ref _bytesSkipped, length);
        if (file.TryAcknowledge(index)) Interlocked.Add(ref _bytesAcknowledged, length);
        Interlocked.Increment(ref _progressEvents);
        return true;
    }

    private void PostKept(uint id, int index)
    {
        Span<byte> item = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(item, id);
        BinaryPrimitives.WriteInt32LittleEndian(item[4..], index);
        _control!.PostBatchItem(ControlMessageType.ShardsKept, item);
    }

    private void OnNack(ReadOnlySpan<byte> body)
    {
        if (body.Length != 12) throw new ProtocolViolationException("ShardNack has the wrong length");
        uint id = BinaryPrimitives.ReadUInt32LittleEndian(body), index = BinaryPrimitives.ReadUInt32LittleEndian(body[4..]);
        // A shard this session does not have is refused, whether in flight or not.
        ShardLengthOf(id, index);
        // A copy no longer in flight was requeued with its lane's failover (or never sent): it is queued already.
        if (!ForgetInFlight(id, index, refused: true)) return;
        // A corrupted copy of a shard whose file the receiver has meanwhile committed from another copy: nothing to resend.
        if (Volatile.Read(ref _filesById[id]) is not { } file) return;
        Interlocked.Increment(ref _retransmits);
        _scheduler.Retransmit(file, (int)index, whole: true);
    }

    /// <summary>As rsync -v lists it, and to <see cref="TransferOptions.OnFileSent"/>.</summary>
    private void NameSent(string path)
    {
        if (_options.ListSent) lock (_sent) _sent.Add(path);
        _options.OnFileSent?.Invoke(path);
    }

    /// <summary>At SessionDone, the files that waited and went into place (those that did not were named in EntryFailed), in the manifest's order.</summary>
    private void NamePlaced()
    {
        if (_waiting is null) return;
        uint[] placed;
        lock (_waiting) placed = [.. _waiting.Order()];
        foreach (uint id in placed)
            if (!_entries[(int)id].Entry.SentBefore) NameSent(_entries[(int)id].Entry.Path);
    }

    /// <summary>Whether <paramref name="id"/> was a file waiting to go into place, which it no longer is.</summary>
    private bool RemoveWaiting(uint id)
    {
        if (_waiting is null) return false;
        lock (_waiting) return _waiting.Remove(id);
    }

    private void OnCommitted(ReadOnlySpan<byte> body)
    {
        int count = ControlBatch.Count(body, 4, ControlMessageType.FilesCommitted);
        for (int i = 0; i < count; i++)
        {
            uint id = BinaryPrimitives.ReadUInt32LittleEndian(ControlBatch.Item(body, 4, i));
            if (IsCommitted(id)) throw new ProtocolViolationException($"'{_entries[(int)id].Entry.Path}' was committed twice");
            var file = FileAt(id, 0);
            if (!file.Sealed) throw new ProtocolViolationException($"'{file.Entry.Path}' was committed before it was sealed");
            // Verified and waiting, to go into place at Finish (--delay-updates).
            if (_waiting is not null) lock (_waiting) _waiting.Add(id);
            Interlocked.Add(ref _bytesAcknowledged, file.AcknowledgeAll());
            Interlocked.Increment(ref _progressEvents);
            // A file an earlier attempt committed is named sent before: sent again (changed since), it was named then.
            // One waiting to go into place is named once there (SessionDone).
            if (!file.Entry.SentBefore && _waiting is null) NameSent(file.Entry.Path);
            ItemizeFile(file, ItemizedUpdate.Sent);
            // Held until now, so that a patch lost with its lane after the file was sealed goes again as a patch.
            ForgetBasis(file);
            Settled(id);
        }
        Report();
    }

    /// <summary>
    /// Progress over the whole send: a retry's manifest leaves out the files committed before, which count as done,
    /// so the bar goes on from where the last attempt left it rather than starting again over what is left.
    /// </summary>
    private void Report() =>
        _progress?.Report(new TransferProgress(_totalAll, _totalAll - _totalBytes + Interlocked.Read(ref _bytesAcknowledged), Interlocked.Read(ref _bytesSent),
            _filesAll, _filesAll - _fileCount + Volatile.Read(ref _filesCommitted), Volatile.Read(ref _activeLanes), _clock.Elapsed)
        { BytesInHoles = Interlocked.Read(ref _bytesInHoles) });

    /// <summary>Records the first failure and tears the session down so every waiter wakes.</summary>
    private void Fail(Exception ex, bool tellPeer = true)
    {
        var error = ex switch
        {
            SingularityException known => known,
            OperationCanceledException => new TransferAbortedException(ErrorCode.Cancelled, "cancelled"),
            _ => new SingularityException(ErrorCode.Internal, $"unexpected error: {ex.Message}", ex),
        };
        // Once the receiver confirmed the session, tearing the connections down is not a failure.
        if (_closing || Interlocked.CompareExchange(ref _failure, error, null) is not null) return;
        _failed.TrySetResult();
        try
        {
            if (tellPeer && error.Code != ErrorCode.ConnectionLost)
                _control?.Post(ControlMessageType.Error, ErrorMessage.Encode(error.Code, error.Message));
        }
        catch (Exception) { }
        _ = AbortSoonAsync();
    }

    private async Task AbortSoonAsync()
    {
        if (_control is not null)
        {
            try { await _control.FlushAsync().WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false); }
            catch (Exception) { }
        }
        await _cts.CancelAsync().ConfigureAwait(false);
        _control?.Connection.Abort();
        AbortLanes();
    }
}
