using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Singularity.Engine.Integrity;
using Singularity.Engine.Protocol;
using Singularity.Engine.Security;
using Singularity.Engine.Storage;
using Singularity.Engine.Transport;

namespace Singularity.Engine.Transfer;

/// <summary>
/// One sender's session on the receiver: the control loop (this file) reads the manifest and seals and answers with
/// acknowledgements and commits; data lanes (ReceiverSession.Lanes.cs) write shards. Any failure ends the whole
/// session once, tells the sender why, and removes the partial files it created.
/// </summary>
internal sealed partial class ReceiverSession
{
    private readonly ReceiverOptions _options;
    private readonly ProtocolLimits _limits;
    // Guards the receiver's directory, then, once OpenSession arrives after a Destination, the session's own below it.
    private PathGuard _guard;
    // The directory below the receiver's that the sender's URL named (Destination), relative to it; "" for none.
    private string _destination = "";
    // The name the session's one entry takes (OpenSession's more flags bit 13, where no directory stands at the
    // Destination): the Destination's last name, the path above it being the destination; null for the entry's own.
    private string? _namedFile;
    private bool _namesOneFile;
    // The directory above a named file is held by a send moving its sources (DestinationLock): refused only if the
    // file is the one it names, which would land on itself (the manifest's entry tells).
    private bool _namedInHeld;
    private readonly string _receiverRoot;
    // Whether entries get the sender's modes: the receiver's option, unless the session keeps none (more flags bit 14, rsync --no-perms).
    private bool _keepModes;
    // Where earlier copies may lie, where it is not _receiverRoot (ReceiverOptions.EarlierCopiesRoot).
    private readonly string? _earlierRoot;
    // Directories of earlier copies whose unchanged files are linked rather than received (LinkDest); null for none.
    private LinkDestinations? _linkDests;
    private int _filesLinked, _filesCompared, _filesCopied;
    // What LinkDest's directories are for (OpenSession's more flags): links, a comparison, or copies.
    private EarlierCopies _earlierCopies = EarlierCopies.Linked;
    // What the receiver's log should say of the session beyond its counts (a --link-dest directory that is not there).
    private readonly List<string> _notices = [];
    private readonly CancellationTokenSource _cts = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<Task> _laneTasks = [];
    private readonly List<ILaneConnection> _laneConnections = [];
    private readonly List<(uint Id, string Path, ManifestEntry Entry)> _directories = [];
    private readonly Dictionary<(uint File, uint Shard), int> _failures = [];
    private ControlChannel? _control;
    // The entries of the chunk being read; the files by id, grown chunk by chunk as they are accepted (so memory
    // follows the manifest bytes received, not the count OpenSession declares), and replaced whole when it grows: a
    // lane reads it after _accepted, and every array published since holds every file accepted by then. A committed
    // file's slot is given to Released, so a tree of millions of files holds only those still arriving; _filesLock
    // keeps that from landing in an array that a growth has just replaced.
    private readonly List<ManifestEntry> _chunk = [];
    private PartialFile?[] _files = [];
    private readonly Lock _filesLock = new();
    // What a committed file's slot holds: never opened, written, committed or abandoned (its id names no file).
    private static readonly PartialFile Released = Placeholder(uint.MaxValue);
    // What the slot of a file that could not be written holds: as a committed file's, except that the seal and kept
    // shards the sender may send before it learns of the failure are ignored.
    private static readonly PartialFile Failed = Placeholder(uint.MaxValue - 1);

    /// <summary>A slot's stand-in that names no file: never opened, written, committed or abandoned.</summary>
    private static PartialFile Placeholder(uint id) => new(id, new ManifestEntry(EntryKind.File, "", 0, 0, 0, null), "", 1, durable: false, session: 0, preallocate: false);
    // Entries that could not be written (a place the receiver may not write, a name too long), each reported to the
    // sender while the rest goes on, as rsync goes on past them; beyond this many the session ends.
    private const int MostFailedEntries = 10_000;
    private int _entriesFailed;
    // Of those, hard links whose file the sender left out as vanished or changed: they do not stop the deletion.
    private int _linksOfLeftOut;
    private int _filesFailed;
    private readonly List<string> _failedEntries = [];
    private int _declaredEntries;
    private int _entriesReceived;
    private volatile bool _opened;
    // Entries [0, _accepted) are prepared: their shards, seals and kept shards may arrive.
    private volatile int _accepted;
    private bool _preallocate = true;
    // A sparse session (OpenSession flag): the digests of hole shards, which carry no bytes; null otherwise.
    private HoleDigests? _holeDigests;
    // Shards may arrive compressed (OpenSession flag): each lane then unpacks them into a buffer of its own.
    private bool _compressed;
    // OpenSession asked for delta (and this receiver answers it): changed files are seeded from the versions at their
    // names. _readingInPlace counts the files in place being read whole (seeded from, hashed for --checksum or for
    // --inplace's offers, or copied from --copy-dest; see ReadingInPlace): while any is, the sender, waiting for its
    // acceptance, is told that this side is at work.
    private bool _delta;
    // The sender takes StillWorking before the manifest's acceptance: it asked for delta, --checksum or --copy-dest.
    private bool _senderHearsWork;
    // Until when, in clock ticks, the chunk being prepared may read partials again without telling the sender (ReshardPartial).
    private long _reshardUntil;
    // rsync --inplace: a changed file where a regular file stands is written into it (OpenSession's more flags bit 8).
    private bool _inPlace;
    private int _readingInPlace;
    // With --checksum, the chunk's files that may be in place: read together, on every core, after the chunk's other
    // entries are prepared, then prepared in turn (ReadInPlace).
    private readonly List<(uint Id, ManifestEntry Entry, string Full, bool? PartialStands)> _toRead = [];
    // The sender asked for files already in place (same size and mtime) to be left alone; and the bytes such files
    // of the chunk being prepared hold, which need no new space.
    private bool _skipUnchanged;
    // With it, the rules by which a file in place that the quick check finds changed is kept all the same (OpenSession's
    // --size-only, --update and --ignore-existing bits).
    private ushort _keepRules;
    // Directories of the manifest whose names something else still takes (kept by --ignore-existing, or not
    // replaceable), each with why: what is below each fails with it.
    private Dictionary<string, string>? _notDirectories;
    private long _chunkUnchangedBytes;
    private int _filesUnchanged;
    private int _filesDropped;
    // Of those, the files the sender could not read (FilesDropped), which stop the deletion; not those gone since the
    // scan (FilesVanished) or found changed while read (FilesWithdrawn): their names were sent, so what stands there stays.
    private int _filesUnread;
    // Files withdrawn while shards of them were being written, abandoned by the last of those writes, or at the end.
    private readonly List<PartialFile> _withdrawnWhileWritten = [];
    // The sender asked for what the manifest's directories hold beyond it to be deleted at the end (and the root's
    // too); what was deleted, once done.
    private bool _deleteExtraneous;
    // rsync --force: a directory in the way goes with what it holds, without a deletion.
    private bool _force;
    private bool _rootIsSent;
    // Exclude may hold dir-merge rules (more flags bit 16).
    private bool _perDirectoryRules;
    // rsync --delete-before (more flags bit 17): the deletion runs once the manifest is prepared, and says so while it does.
    private bool _deleteBefore;
    private bool _deletingBefore;
    // rsync -x: the deletion stays on the destination's file system.
    private bool _oneFileSystem;
    // rsync --max-delete: the most entries the deletion removes, if the sender set one.
    private int? _mostDeletions;
    // A dry run changes nothing here: it names what it would receive and delete.
    private bool _dryRun;
    // A dry run's deletion: the entries it would remove, the first WouldDeleteMessage.MostNamed of them.
    private readonly List<string> _wouldDelete = [];
    private long _wouldDeleteBytes;
    // With owners kept: entries the system would not give theirs (a user namespace, a file system without owners).
    private int _ownersNotSet;
    // Entries the file system would not give their modes (SessionDone flag bit 2), and the first, for the log.
    private int _modesNotSet;
    private string? _firstModeNotSet;
    private ExtraneousEntries? _extraneous;
    // With a deletion, what the sender left out (Exclude): the deletion keeps it.
    private ExcludePatterns? _exclude;
    private bool _deletionRan;
    // Finish has arrived; when the last StillWorking went out.
    private bool _finishing;
    private long _lastStillWorking;
    // SessionDone's flags: bit 0, the receiver deleted what the source no longer has (it was asked, and nothing failed);
    // bit 1, the file system or the system refused some of the extended attributes or ACLs sent (more flags bit 9 or 11).
    internal const int SessionDoneDeleted = 1, SessionDoneXattrsNotSet = 2, SessionDoneModesNotSet = 4;
    // Every path of the manifest, by a 128-bit hash of it rather than the path itself: a tree of millions of files
    // would otherwise keep every name until the manifest ends (and, to delete what it does not name, until the
    // session's end). Seeded at random, so no sender can choose two paths that collide.
    private readonly HashSet<UInt128> _names = [];
    private readonly long _namesSeed = Random.Shared.NextInt64();
    private long _manifestBytes;
    private long _bytesNeeded;
    private long _freeAtStart = -1;
    private readonly RemovalGate _removals;
    private readonly OpenFileBudget _holds;
    private readonly OpenFileBudget _writing;
    // Resume offers go out as the chunk is prepared, before any pacing: bounded, they fit the control backlog (16 bytes
    // each, 16 MiB in all) and the memory their journals are read into. A file beyond them starts afresh.
    private const long OfferedShardsPerSession = 1 << 20;
    private long _offersLeft = OfferedShardsPerSession;
    private int _shardSize;
    private int _lanesAllowed;
    private long _declaredBytes;
    private int _fileCount;
    // --checksum (OpenSession flag): files in place are judged by their contents' digest, not their mtime.
    private bool _checksum;
    // What the session replaces or deletes is kept there (Backup, rsync --backup); null when it is not.
    private Backups? _backups;
    // The partials and journals earlier sessions left in the directories being prepared, listed once a directory.
    private readonly StandingPartials _partials = new();
    // How the quick check compares times (rsync --modify-window), and which times are not set (rsync -O, -J).
    private TimeMatch _times = TimeMatch.Exact;
    private bool _omitDirectoryTimes;
    private bool _omitLinkTimes;
    // rsync's --itemize-changes (more flags bit 6): each entry's differences go to the sender, and so do deletions.
    private bool _itemize;
    // rsync --ignore-errors: the deletion runs even after a file was given up or an entry failed.
    private bool _ignoreErrors;
    // Names the sender asks to delete (DeleteNamed), null when none, and their UTF-8 bytes: kept whole until Finish,
    // so they are held to DeleteNamedMostBytes.
    private List<string>? _deleteNamed;
    private long _deleteNamedBytes;

    /// <summary>The most bytes of paths a session's DeleteNamed messages may carry in all (PROTOCOL §3).</summary>
    internal const long DeleteNamedMostBytes = 16 << 20;
    // Names of files the sender's size rules left out (LeftOut), and those of DeleteNamed.
    private int _leftOut;
    private int _filesCommitted;
    private long _bytesWritten;
    private SingularityException? _failure;
    private int _failed;
    private long _lastActivity;

    /// <summary>
    /// Whether the sender's Hello said that it takes basis sums and sends patched shards (capability bit 0): only then
    /// are sums sent, and patched shards taken.
    /// </summary>
    public bool SenderTakesPatches { get; init; }

    /// <summary>
    /// Whether the sender's Hello also said that it takes sums for a file of which nothing was offered (capability bit
    /// 1): only then is a changed file summed without a seed (<see cref="SumBasisAlone"/>).
    /// </summary>
    public bool SenderTakesSumsAlone { get; init; }

    public ReceiverSession(SessionId id, ReceiverOptions options, string remote, SessionKeys keys, OpenFileBudget? receiverHolds = null, OpenFileBudget? receiverWriting = null, RemovalGate? removals = null)
    {
        _removals = removals ?? RemovalGate.Alone();
        Id = id;
        Keys = keys;
        _options = options;
        _limits = options.Transfer.Limits;
        _slowFlushTicks = (long)(options.SlowFlush.TotalSeconds * Stopwatch.Frequency);
        _guard = new PathGuard(options.Directory, _limits);
        _receiverRoot = _guard.Root;
        _earlierRoot = options.EarlierCopiesRoot;
        _keepModes = options.PreserveMode;
        _holds = new OpenFileBudget(_limits.MaxOpenFiles, receiverHolds);
        _writing = new OpenFileBudget(_limits.MaxOpenFiles, receiverWriting);
        Remote = remote;
    }

    public SessionId Id { get; }
    public SessionKeys Keys { get; }

    /// <summary>Whether this session counted itself out of its receiver's removal gate already (a dry run does, at OpenSession).</summary>
    public bool LeftRemovalGate { get; private set; }
    public string Remote { get; }

    /// <summary>Runs the session on its control connection until it succeeds or fails; never throws.</summary>
    public async Task<ReceiveResult> RunAsync(ILaneConnection connection)
    {
        _control = new ControlChannel(connection, _limits, Keys.ReceiverToSender(0), Keys.SenderToReceiver(0));
        bool done = false;
        var idle = WatchIdleAsync();
        try
        {
            done = await ControlLoopAsync(_cts.Token).ConfigureAwait(false);
            if (!done && _failure is null)
                Fail(new TransferAbortedException(ErrorCode.ConnectionLost, "the sender closed the control connection before finishing"));
        }
        catch (Exception ex)
        {
            Fail(ex);
        }
        var result = await FinishAsync().ConfigureAwait(false);
        await idle.ConfigureAwait(false);
        return result;
    }

    /// <summary>Marks the session alive; called for every control message and every shard.</summary>
    private void Touch() => Volatile.Write(ref _lastActivity, _clock.ElapsedTicks);

    /// <summary>Ends a session that shows no sign of life for <see cref="TransferOptions.IdleTimeout"/>, freeing its slot.</summary>
    private async Task WatchIdleAsync()
    {
        var timeout = _options.Transfer.IdleTimeout;
        try
        {
            while (!_cts.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Clamp(timeout.TotalMilliseconds / 4, 50, 1000)), _cts.Token).ConfigureAwait(false);
                var quiet = TimeSpan.FromSeconds((_clock.ElapsedTicks - Volatile.Read(ref _lastActivity)) / (double)Stopwatch.Frequency);
                if (quiet > timeout)
                {
                    Fail(new TransferAbortedException(ErrorCode.ConnectionLost, $"the sender was silent for {timeout.TotalSeconds:0} s"));
                    return;
                }
            }
        }
        catch (OperationCanceledException) { }
    }

    private async Task<bool> ControlLoopAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var (ok, type, body) = await _control!.ReadAsync(cancellationToken).ConfigureAwait(false);
            if (!ok) return false;
            Touch();
            switch (type)
            {
                case ControlMessageType.OpenSession: OnOpenSession(body.Span); break;
                case ControlMessageType.ManifestChunk: OnManifestChunk(body.Span); break;
                case ControlMessageType.Exclude: OnExclude(body.Span); break;
                case ControlMessageType.LeftOut: OnLeftOut(body.Span); break;
                case ControlMessageType.OwnerNames: OnOwnerNames(body.Span); break;
                case ControlMessageType.Backup: OnBackup(body.Span); break;
                case ControlMessageType.Destination: OnDestination(body.Span); break;
                case ControlMessageType.LinkDest: OnLinkDest(body.Span); break;
                case ControlMessageType.DeleteNamed: OnDeleteNamed(body.Span); break;
                case ControlMessageType.FilesSealed:
                    if (OnFilesSealed(body.Span) is { } ready) await CommitElsewhereAsync(ready, cancellationToken).ConfigureAwait(false);
                    break;
                case ControlMessageType.FilesDropped:
                case ControlMessageType.FilesVanished:
                case ControlMessageType.FilesWithdrawn:
                    OnDropped(body.Span, type);
                    break;
                case ControlMessageType.ShardsKept:
                    if (OnShardsKept(body.Span) is { } kept) await CommitElsewhereAsync(kept, cancellationToken).ConfigureAwait(false);
                    break;
                case ControlMessageType.Finish:
                    await OnFinishAsync(body.Length).ConfigureAwait(false);
                    return true;
                case ControlMessageType.Error:
                    throw PeerError(body.Span);
                default:
                    throw new ProtocolViolationException($"a sender may not send {type}");
            }
            // Resume offers and commits can pile up after a large manifest: let the writer catch up.
            await _control.PaceAsync().ConfigureAwait(false);
        }
    }

    private void OnOpenSession(ReadOnlySpan<byte> body)
    {
        if (_opened) throw new ProtocolViolationException("session opened twice");
        if (body.Length < 8) throw new ProtocolViolationException("OpenSession has the wrong length");
        int shardSize = BinaryPrimitives.ReadInt32LittleEndian(body);
        int lanes = BinaryPrimitives.ReadUInt16LittleEndian(body[4..]);
        ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(body[6..]);
        // Ignoring a bit could do what it asks not to: a dry run taken for a real send would write and delete.
        if ((flags & ~OpenSessionFlags.Known) != 0) throw new ProtocolViolationException($"OpenSession asks for flags 0x{flags & ~OpenSessionFlags.Known:x} that this receiver does not know; use a receiver of the sender's version");
        if (body.Length != ((flags & OpenSessionFlags.More) != 0 ? 32 : 24)) throw new ProtocolViolationException("OpenSession has the wrong length");
        if ((flags & OpenSessionFlags.More) != 0) ReadMoreFlags(body[24..]);
        _skipUnchanged = (flags & OpenSessionFlags.SkipUnchanged) != 0;
        _keepRules = (ushort)(flags & OpenSessionFlags.KeepRules);
        if (_keepRules != 0 && !_skipUnchanged) throw new ProtocolViolationException("OpenSession asks to keep files in place by --size-only, --update, --ignore-existing or --existing without the quick check they refine");
        // A hard link is made over what stands at its name, which these rules would keep.
        if (_keepRules != 0 && (flags & OpenSessionFlags.HardLinks) != 0) throw new ProtocolViolationException("OpenSession asks to keep hard links together with --size-only, --update, --ignore-existing or --existing, which this receiver does not do");
        _checksum = (flags & OpenSessionFlags.Checksum) != 0;
        // The more flags, read above, chose the earlier copies: Copied is --copy-dest.
        _senderHearsWork = (flags & (OpenSessionFlags.Delta | OpenSessionFlags.Checksum)) != 0 || _earlierCopies == EarlierCopies.Copied;
        if (_checksum && (!_skipUnchanged || (flags & OpenSessionFlags.SizeOnly) != 0)) throw new ProtocolViolationException("OpenSession asks for --checksum without the quick check it refines, or with --size-only, which looks at no contents");
        _deleteExtraneous = (flags & OpenSessionFlags.DeleteExtraneous) != 0;
        _rootIsSent = (flags & OpenSessionFlags.RootIsSent) != 0;
        if (_options.Admission is { } admission && ((_deleteExtraneous && !admission.Deletion) || (_rootIsSent && _destination.Length == 0 && !admission.RootCleaned)))
            throw NotAsked(_rootIsSent ? "a request to delete what the target directory holds beyond what it sends" : "a request to delete what it does not send (--delete)");
        if (_ignoreErrors && !_deleteExtraneous) throw new ProtocolViolationException("OpenSession asks to delete despite errors, without a deletion");
        if (_deleteBefore && !_deleteExtraneous) throw new ProtocolViolationException("OpenSession asks to delete before the files arrive, without a deletion");
        _oneFileSystem = (flags & OpenSessionFlags.OneFileSystem) != 0;
        if (_oneFileSystem && !_deleteExtraneous && !_force) throw new ProtocolViolationException("OpenSession asks for a deletion that stays on one file system, without a deletion or --force");
        // Elsewhere the device of a directory is not read, and the deletion would cross without a word.
        if (_oneFileSystem && !OperatingSystem.IsLinux()) throw new ProtocolViolationException("OpenSession asks for a deletion that stays on one file system, which only a Linux receiver can tell apart; leave out --one-file-system or receive on Linux");
        if ((flags & OpenSessionFlags.MostDeletions) != 0)
        {
            int most = BinaryPrimitives.ReadInt32LittleEndian(body[12..]);
            // Without flag bit 1 it limits DeleteNamed's deletions, which come later (or nothing).
            if (most < 0) throw new ProtocolViolationException($"OpenSession limits a deletion to {most} entries, fewer than none");
            _mostDeletions = most;
        }
        _dryRun = (flags & OpenSessionFlags.DryRun) != 0;
        if (!_dryRun && _options.DryRunsOnly) throw new ProtocolViolationException("OpenSession asks to write at a receiver that takes dry runs alone");
        if ((flags & OpenSessionFlags.HardLinks) != 0) KeepHardLinks();
        // A dry run removes nothing and writes nothing, so others may remove directories meanwhile: it leaves the gate.
        if (_dryRun && !LeftRemovalGate)
        {
            _removals.Leave();
            LeftRemovalGate = true;
        }
        int entries = BinaryPrimitives.ReadInt32LittleEndian(body[8..]);
        long totalBytes = BinaryPrimitives.ReadInt64LittleEndian(body[16..]);
        if (shardSize < _limits.MinShardSize || shardSize > _limits.MaxShardSize)
            throw new ProtocolViolationException($"shard size {shardSize} is outside {_limits.MinShardSize}..{_limits.MaxShardSize}", ErrorCode.LimitExceeded);
        if (lanes < 1 || lanes > _limits.MaxLanes)
            throw new ProtocolViolationException($"{lanes} lanes is outside 1..{_limits.MaxLanes}", ErrorCode.LimitExceeded);
        long laneBuffers = ProtocolLimits.LaneBufferBytes(lanes, shardSize, (flags & OpenSessionFlags.Compressed) != 0);
        if (laneBuffers > _limits.MaxLaneBufferBytes)
            throw new ProtocolViolationException($"{lanes} lanes of {shardSize >> 10} KiB shards need {laneBuffers >> 20} MiB of buffers here, beyond this receiver's {_limits.MaxLaneBufferBytes >> 20} MiB; use fewer lanes or smaller shards", ErrorCode.LimitExceeded);
        if (entries < 0 || entries > _limits.MaxEntries)
            throw new ProtocolViolationException($"{entries} entries exceed the limit of {_limits.MaxEntries}", ErrorCode.LimitExceeded);
        if (totalBytes < 0 || totalBytes > _limits.MaxTotalBytes)
            throw new ProtocolViolationException($"{totalBytes} bytes exceed this receiver's quota of {_limits.MaxTotalBytes}", ErrorCode.LimitExceeded);
        lock (_laneConnections)
        {
            if (_lanesActive > 2 * lanes) throw new ProtocolViolationException($"{_lanesActive} lanes joined a session that declared {lanes}");
            _lanesAllowed = lanes;
        }
        _shardSize = shardSize;
        if ((flags & OpenSessionFlags.Sparse) != 0) _holeDigests = new HoleDigests(shardSize);
        if (_inPlace && _holeDigests is not null) throw new ProtocolViolationException("OpenSession asks to write files in place and to leave holes, which do not go together");
        _compressed = (flags & OpenSessionFlags.Compressed) != 0;
        _delta = (flags & OpenSessionFlags.Delta) != 0 && _options.Delta;
        _declaredBytes = totalBytes;
        _declaredEntries = entries;
        // The receiver's directory removed while it runs: every file would fail in the system's words, and a directory
        // sent would make it anew, not private as the receiver made it.
        if (!Directory.Exists(_receiverRoot))
            throw new SingularityException(ErrorCode.IoError, "the receiver's directory is gone (removed while the receiver ran); start the receiver again, which makes it");
        if (_namesOneFile) NameTheOneFile(entries);
        // Once the session is found acceptable, before anything that writes or plans below the root: everything from
        // here on is the session's root's.
        if (_destination.Length > 0) EnterDestination();
        _opened = true;
        if (entries == 0) Accept(0, 0);
    }

    /// <summary>OpenSession's second flags field and its modify window (PROTOCOL §3).</summary>
    private void ReadMoreFlags(ReadOnlySpan<byte> more)
    {
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(more);
        if ((flags & ~MoreSessionFlags.Known) != 0) throw new ProtocolViolationException($"OpenSession asks for more flags 0x{flags & ~MoreSessionFlags.Known:x} that this receiver does not know; use a receiver of the sender's version");
        int window = BinaryPrimitives.ReadInt32LittleEndian(more[4..]);
        if ((flags & MoreSessionFlags.ModifyWindow) != 0)
        {
            if (window < 0) throw new ProtocolViolationException($"OpenSession asks for a modify window of {window} seconds, fewer than none");
            _times = new TimeMatch(window);
        }
        else if (window != 0) throw new ProtocolViolationException("OpenSession carries a modify window without asking for one");
        if ((flags & (MoreSessionFlags.CompareDest | MoreSessionFlags.CopyDest)) == (MoreSessionFlags.CompareDest | MoreSessionFlags.CopyDest))
            throw new ProtocolViolationException("OpenSession asks to both compare with and copy from LinkDest's directories");
        _earlierCopies = (flags & MoreSessionFlags.CompareDest) != 0 ? EarlierCopies.Compared : (flags & MoreSessionFlags.CopyDest) != 0 ? EarlierCopies.Copied : EarlierCopies.Linked;
        _ignoreErrors = (flags & MoreSessionFlags.IgnoreErrors) != 0;
        _omitDirectoryTimes = (flags & MoreSessionFlags.OmitDirectoryTimes) != 0;
        _omitLinkTimes = (flags & MoreSessionFlags.OmitLinkTimes) != 0;
        _itemize = (flags & MoreSessionFlags.Itemize) != 0;
        _inPlace = (flags & MoreSessionFlags.InPlace) != 0;
        _scope = ((flags & MoreSessionFlags.Xattrs) != 0 ? AttributeScope.Xattrs : 0) | ((flags & MoreSessionFlags.Acls) != 0 ? AttributeScope.Acls : 0);
        _specials = (flags & MoreSessionFlags.Specials) != 0;
        _force = (flags & MoreSessionFlags.Force) != 0;
        _namesOneFile = (flags & MoreSessionFlags.NamesOneFile) != 0;
        if ((flags & MoreSessionFlags.KeepsNoModes) != 0) _keepModes = false;
        _delayUpdates = (flags & MoreSessionFlags.DelayUpdates) != 0;
        _perDirectoryRules = (flags & MoreSessionFlags.PerDirectoryRules) != 0;
        _deleteBefore = (flags & MoreSessionFlags.DeleteBefore) != 0;
        if (_deleteBefore && _options.Admission is { DeleteBefore: false }) throw NotAsked("a request to delete before the files arrive (--delete-before)");
        if (_delayUpdates && _inPlace) throw new ProtocolViolationException("OpenSession asks to write files in place and to put them into place at the end, which do not go together");
        if (_force && _options.Admission is { Force: false }) throw NotAsked("a request to replace directories that hold anything (--force)");
        if (_delayUpdates && _options.Admission is { DelayUpdates: false }) throw NotAsked("a request to put the files into place at the end (--delay-updates)");
        if (_inPlace && !OperatingSystem.IsLinux()) throw new ProtocolViolationException("OpenSession asks to write files in place, which only a Linux receiver does (it opens them never through a link); leave out --inplace or receive on Linux");
    }

    /// <summary>The patterns of what the sender left out, which a deletion keeps; only before the manifest, only with a deletion or --force, and once.</summary>
    private void OnExclude(ReadOnlySpan<byte> body)
    {
        if (!_opened || _entriesReceived != 0 || _exclude is not null || _extraneous is not null)
            throw new ProtocolViolationException("Exclude outside its place: once, after OpenSession and before the manifest");
        if (!_deleteExtraneous && !_force) throw new ProtocolViolationException("Exclude without a deletion or --force asked for");
        // A pattern that starts with ':' is a dir-merge rule only where the sender announced them: one of an earlier
        // release sends an exclude so written as it stands.
        _exclude = ExcludeMessage.Decode(body, _perDirectoryRules);
        _exclude.LimitWork(ExcludePatterns.ReceiverAllowance, ExcludePatterns.ReceiverAllowancePerEntry);
        // Read never through a link below the destination; the destination's own directory only where the send holds
        // what a directory holds, as the sender reads none above the directories it sends.
        _exclude.ReceiverRoot = _guard.Root;
        _exclude.ReadsRoot = _rootIsSent;
    }

    /// <summary>How what the session replaces or deletes is to be kept (rsync's --backup); only before the manifest, and once.</summary>
    private void OnBackup(ReadOnlySpan<byte> body)
    {
        if (!_opened || _entriesReceived != 0 || _backups is not null) throw new ProtocolViolationException("Backup outside its place: once, after OpenSession and before the manifest");
        if (_inPlace) throw new ProtocolViolationException("Backup in a session that writes files in place, which leaves no version to keep");
        var (suffix, directory) = BackupMessage.Decode(body, _limits);
        _backups = new Backups(_guard, suffix, directory);
    }

    /// <summary>A pull's sender that sends or asks for what the user did not ask for (<see cref="ReceiverOptions.Admission"/>): refused, as scp and rsync refuse it.</summary>
    private static ProtocolViolationException NotAsked(string what) => new($"{PullAdmission.Refusal}{what}; the pull refuses it");

    /// <summary>The directory below the receiver's that the session is to write into; only before OpenSession, and once.</summary>
    private void OnDestination(ReadOnlySpan<byte> body)
    {
        if (_opened || _destination.Length > 0) throw new ProtocolViolationException("Destination outside its place: once, before OpenSession");
        _destination = DestinationMessage.Decode(body, _limits);
        // A pull's send names one only for a directory pulled to a name (SingularitySender): one below what the pull
        // asked for is refused before anything is made there.
        if (_options.Admission?.Admits(_destination) == false) throw NotAsked($"'{_destination}', which it was not asked for");
    }

    /// <summary>The directories of earlier copies to link unchanged files from; once, after OpenSession and before the manifest.</summary>
    private void OnLinkDest(ReadOnlySpan<byte> body)
    {
        if (!_opened || _entriesReceived != 0 || _linkDests is not null) throw new ProtocolViolationException("LinkDest outside its place: once, after OpenSession and before the manifest");
        // It links what the quick check finds unchanged; --checksum reads contents, which a link made from status alone would skip.
        if (!_skipUnchanged || _checksum) throw new ProtocolViolationException("LinkDest without the quick check it rests on, or with --checksum");
        // Reached from where earlier copies may lie: the destination then named from there.
        var (root, destination) = _earlierRoot is null ? (_receiverRoot, _destination)
            : (_earlierRoot, Path.GetRelativePath(_earlierRoot, Path.Join(SpecialFiles.RealPath(_receiverRoot) ?? _receiverRoot, _destination)) is var below && below != "." ? below : "");
        _linkDests = LinkDestinations.Resolve(root, destination, LinkDestMessage.Decode(body, _limits), _earlierCopies);
        _notices.AddRange(_linkDests.Notices);
    }

    /// <summary>
    /// A session of one entry, not a directory, sent to a Destination that names it (more flags bit 13; or of none,
    /// all of it settled or left out, which makes nothing at that name): where no directory stands at the Destination
    /// (nothing, a file, a special, or a link that does not lead to one), the entry takes its last name and the path
    /// above it becomes the destination, as rsync and scp name what they copy to a path that is not a directory. A link
    /// or a file on the way, or a link to a directory at the last name, keeps the Destination whole, for
    /// <see cref="EnterDestination"/> to refuse as it refuses any.
    /// </summary>
    private void NameTheOneFile(int entries)
    {
        if (_destination.Length == 0 || entries > 1 || _rootIsSent)
            throw new ProtocolViolationException("OpenSession asks to name its one file without a Destination, with more than one entry, or while it sends a directory's contents");
        if (_options.Admission is not null) throw NotAsked("a request to name the file it sends");
        string at = _receiverRoot;
        string[] names = _destination.Split('/');
        for (int i = 0; i < names.Length; i++)
        {
            at = Path.Join(at, names[i]);
            var info = new FileInfo(at);
            bool last = i == names.Length - 1;
            // A link on the way, or one to a directory at the last name, is refused as a Destination is (never
            // followed); any other link at the last name is replaced, as an entry replaces a link at its name.
            if (info.LinkTarget is not null && (!last || Directory.Exists(at))) return;
            if (info.LinkTarget is null && Directory.Exists(at)) continue;
            if (!last && info.Exists) return;
            // Nothing there (the directories above are made as a Destination's are), or a file, a link or a special at the last name.
            _namedFile = names[^1];
            _destination = string.Join('/', names[..^1]);
            return;
        }
    }

    /// <summary>
    /// Creates the session's directory (a dry run only plans it), checking every part of the way as an entry's
    /// parents are checked, so that it is never reached through a link; then roots the session there.
    /// </summary>
    private void EnterDestination()
    {
        string full;
        bool planned = false;
        try
        {
            full = _guard.Resolve(_destination, create: !_dryRun);
            if (!_dryRun) _guard.CreateDirectory(full);
            else if (File.Exists(full) || new DirectoryInfo(full).LinkTarget is not null)
                throw new SingularityException(ErrorCode.BadPath, $"'{_destination}' is not a directory");
            // A dry run's destination a real session would create: nothing that comes to stand there meanwhile (a link
            // another session makes) is looked at, as below any directory a dry run plans.
            else planned = _guard.Planned(Path.GetDirectoryName(full)) || !Directory.Exists(full);
            // A send moving its sources out of this very directory (its shared lock, taken before it connected) would
            // find its copies here to be its sources, and remove the only copy.
            if (!_dryRun && DestinationLock.HeldElsewhere(full))
            {
                if (_namedFile is null) throw new SingularityException(ErrorCode.BadPath, HeldReason);
                _namedInHeld = true;
            }
        }
        catch (Exception ex) when (ex is SingularityException or IOException or UnauthorizedAccessException)
        {
            string reason = ex is UnauthorizedAccessException ? "permission denied" : ex.Message;
            throw new SingularityException(ErrorCode.BadPath, $"cannot receive into '{_destination}' below the receiver's directory: {reason}");
        }
        _guard = new PathGuard(full, _limits, planned);
    }

    private const string HeldReason = "another process holds a lock on it: a sglty send moving files out of it (--remove-source-files), whose copies would then be its sources, or another sglty recv receiving into it";

    /// <summary>
    /// The files the sender's size rules left out (rsync's --max-size, a transfer rule): the deletion keeps what stands
    /// at their names, as it keeps the manifest's. Only their hashes are kept, and they count against the entries limit.
    /// </summary>
    private void OnLeftOut(ReadOnlySpan<byte> body)
    {
        if (!_opened || _entriesReceived != 0) throw new ProtocolViolationException("LeftOut outside its place: after OpenSession and before the manifest");
        if (!_deleteExtraneous) throw new ProtocolViolationException("LeftOut without a deletion asked for");
        var paths = new List<string>();
        long bytes = 0;
        PathListMessage.Decode(body, ControlMessageType.LeftOut, _limits.MaxPathBytes, _limits.MaxEntries - _declaredEntries - _leftOut, long.MaxValue, paths, ref bytes);
        foreach (string path in paths)
        {
            if (PathGuard.SyntaxError(path, _limits) is { } error) throw new SingularityException(ErrorCode.BadPath, $"refused path: {error}");
            if (!_names.Add(NameHash(path))) throw new ProtocolViolationException($"'{path}' is left out twice");
        }
        _leftOut += paths.Count;
    }

    /// <summary>
    /// Names the sender was given that its source does not have (rsync --delete-missing-args), which this receiver
    /// deletes at Finish. They count against the entries limit, as LeftOut's do, and a manifest entry may not name one.
    /// </summary>
    private void OnDeleteNamed(ReadOnlySpan<byte> body)
    {
        if (!_opened || _entriesReceived != 0) throw new ProtocolViolationException("DeleteNamed outside its place: after OpenSession and before the manifest");
        if (_options.Admission is { NamesDeleted: false }) throw NotAsked("a request to delete names it gives (--delete-missing-args)");
        var paths = new List<string>();
        PathListMessage.Decode(body, ControlMessageType.DeleteNamed, _limits.MaxPathBytes, _limits.MaxEntries - _declaredEntries - _leftOut, DeleteNamedMostBytes, paths, ref _deleteNamedBytes);
        foreach (string path in paths)
        {
            if (PathGuard.SyntaxError(path, _limits) is { } error) throw new SingularityException(ErrorCode.BadPath, $"refused path: {error}");
            if (_options.Admission?.Admits(Path.Join(_destination, path)) == false) throw NotAsked($"a request to delete '{path}', which it was not asked for");
            if (!_names.Add(NameHash(path))) throw new ProtocolViolationException($"'{path}' is named twice");
        }
        (_deleteNamed ??= []).AddRange(paths);
        _leftOut += paths.Count;
    }

    /// <summary>
    /// rsync --delete-before: deletes what the manifest's directories hold beyond it, as at Finish, once every entry is
    /// prepared and before the last chunk's files move, unless a file was given up or an entry failed already (what
    /// the sender's scan could not read it left out of the request). Free space read before (by an earlier chunk's
    /// check) gains the sizes of the files it deleted.
    /// </summary>
    private void DeleteBeforeTheFiles()
    {
        if (!DeletionAllowed) return;
        long deletedBefore = _extraneous?.BytesDeleted ?? 0;
        _deletingBefore = true;
        _lastStillWorking = _clock.ElapsedTicks;
        bool alone = !_dryRun && _removals.TryBeginRemoving();
        try
        {
            DeleteExtraneous(removeDirectories: _dryRun || alone);
        }
        finally
        {
            if (alone) _removals.EndRemoving();
            _deletingBefore = false;
        }
        // What it deleted, not the file system's count: lanes may be writing earlier chunks' files meanwhile.
        if (_freeAtStart is >= 0 and < long.MaxValue) _freeAtStart += _extraneous!.BytesDeleted - deletedBefore;
    }

    /// <summary>
    /// Whether the deletion runs when the last chunk is prepared (rsync --delete-before) rather than at Finish: not for a
    /// manifest of none, accepted at OpenSession, before the patterns that keep entries come.
    /// </summary>
    private bool DeletesBefore => _deleteBefore && _declaredEntries > 0;

    /// <summary>
    /// Whether the deletion may run: no file was given up (FilesDropped) and no entry failed (a hard link whose file
    /// vanished does not count), or the sender said to ignore errors. Before the files, what is known by then.
    /// </summary>
    private bool DeletionAllowed =>
        _ignoreErrors || (Volatile.Read(ref _filesUnread) == 0 && Volatile.Read(ref _entriesFailed) == Volatile.Read(ref _linksOfLeftOut));

    /// <summary>What the destination's file system has free, or no limit where it cannot be read.</summary>
    private long FreeSpace()
    {
        try { return new DriveInfo(_guard.Root).AvailableFreeSpace; }
        catch (Exception ex) when (ex is IOException or ArgumentException or UnauthorizedAccessException) { return long.MaxValue; }
    }

    /// <summary>
    /// What the prepared entries still need (their sizes, less what resumed partials already hold) must fit in the
    /// space that was free when the first chunk arrived: a check made chunk by chunk, so shards flow from the first.
    /// </summary>
    private void CheckFreeSpace(long needed)
    {
        if (_freeAtStart < 0) _freeAtStart = FreeSpace();
        if (needed > _freeAtStart)
            throw new SingularityException(ErrorCode.DiskFull, $"disk full: the transfer needs {ByteSize.Format(needed)} but the destination has {ByteSize.Format(_freeAtStart)} free; free space (partial files of interrupted sends count: `sglty partials` lists them) or choose another destination"
                + (needed - RoomInPlaceWouldSpare() <= _freeAtStart ? "; or send with --inplace, which writes changed files where they stand and needs no room for a second copy" : ""));
    }

    /// <summary>
    /// The room --inplace would spare the files prepared so far, read once, when the destination is found too small:
    /// each whose version standing at its name it would write where it stands (<see cref="WritableWhereItStands"/>, as
    /// <see cref="InPlaceBasisOf"/> takes one; Linux, no backups) needs no second copy, up to the smaller of the two
    /// lengths.
    /// </summary>
    private long RoomInPlaceWouldSpare()
    {
        if (_inPlace || _backups is not null || !OperatingSystem.IsLinux()) return 0;
        long spared = 0;
        foreach (var file in _files)
        {
            if (file is null) continue;
            try
            {
                using var standing = SpecialFiles.OpenRegularForWritingNotFollowing(file.FinalPath);
                if (standing is null || WritableWhereItStands(standing, file.FinalPath) is null) continue;
                spared += Math.Min(RandomAccess.GetLength(standing), file.Entry.Size);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
            }
        }
        return spared;
    }

    private void OnManifestChunk(ReadOnlySpan<byte> body)
    {
        if (!_opened || ManifestAccepted) throw new ProtocolViolationException("manifest chunk outside the manifest phase");
        if (body.Length < ManifestCodec.ChunkHeaderSize) throw new ProtocolViolationException("truncated manifest chunk");
        int first = BinaryPrimitives.ReadInt32LittleEndian(body);
        int count = BinaryPrimitives.ReadInt32LittleEndian(body[4..]);
        if (first != _entriesReceived) throw new ProtocolViolationException($"manifest chunk starts at {first}, expected {_entriesReceived}");
        if (count <= 0 || count > _declaredEntries - _entriesReceived) throw new ProtocolViolationException($"manifest chunk of {count} entries overruns the declared {_declaredEntries}");
        body = body[ManifestCodec.ChunkHeaderSize..];
        _chunk.Clear();
        for (int i = 0; i < count; i++)
        {
            if (!ManifestCodec.TryRead(body, _limits, out var entry, out int consumed, out string? error))
                throw new ProtocolViolationException($"manifest entry {first + i}: {error}");
            if (entry!.Digest is not null && !_checksum) throw new ProtocolViolationException($"manifest entry {first + i} carries a digest in a session without --checksum");
            if (entry.Xattrs is { } carried && carried.Items.FirstOrDefault(item => (_scope & (ExtendedAttributes.IsAcl(item.Name) ? AttributeScope.Acls : AttributeScope.Xattrs)) == 0).Name is { } unasked)
                throw new ProtocolViolationException($"manifest entry {first + i} carries the extended attribute '{unasked}' in a session that keeps no {(ExtendedAttributes.IsAcl(unasked) ? "ACLs" : "extended attributes")}");
            if (entry.Kind == EntryKind.Special && !_specials) throw new ProtocolViolationException($"manifest entry {first + i} is a device, FIFO or socket in a session that sends none");
            if (_namedFile is not null)
            {
                if (entry.Kind == EntryKind.Directory) throw new ProtocolViolationException("manifest entry 0 is a directory in a session that names its one file");
                // Its own name in a directory a moving send holds: the file it is moving, which would land on itself.
                if (_namedInHeld && entry.Path == _namedFile) throw new SingularityException(ErrorCode.BadPath, $"cannot receive into '{_destination}' below the receiver's directory: {HeldReason}");
                entry = entry with { Path = _namedFile };
            }
            string? pathError = PathGuard.SyntaxError(entry.Path, _limits);
            if (pathError is not null) throw new SingularityException(ErrorCode.BadPath, $"refused path: {pathError}");
            if (_options.Admission?.Admits(Path.Join(_destination, entry.Path)) == false) throw NotAsked($"'{entry.Path}', which it was not asked for");
            _chunk.Add(entry);
            body = body[consumed..];
        }
        if (!body.IsEmpty) throw new ProtocolViolationException("trailing bytes after manifest entries");
        _entriesReceived += count;
        Accept(first, count);
    }

    /// <summary>
    /// Checks a chunk's entries (duplicates, sizes against the declared total), creates their directories and links,
    /// prepares their files, then lets their shards flow while the next chunk is read: the transfer does not wait for
    /// the whole manifest.
    /// </summary>
    private void Accept(int first, int count)
    {
        long chunkBytes = 0;
        int chunkFiles = 0;
        for (int id = first; id < first + count; id++)
        {
            var entry = _chunk[id - first];
            if (entry.Kind == EntryKind.File) chunkFiles++;
            if (!_names.Add(NameHash(entry.Path))) throw new ProtocolViolationException($"'{entry.Path}' appears twice in the manifest");
            CheckHardLink(id, entry);
            if (Digests.ShardCount64(entry.Size, _shardSize) >= int.MaxValue)
                throw new ProtocolViolationException($"'{entry.Path}' would need {int.MaxValue} shards or more", ErrorCode.LimitExceeded);
            // Compared by what is left, so that no sum of sizes can overflow and wrap below the total; a linked file that
            // vanished leaves its size to a further name of it sent in its place (see _vanishedLinkedBytes).
            if (entry.Size > _declaredBytes + _vanishedLinkedBytes - _manifestBytes - chunkBytes) throw new ProtocolViolationException("manifest sizes exceed the declared total", ErrorCode.LimitExceeded);
            chunkBytes += entry.Size;
        }
        // A sender that does not pace its manifest by the commits would have every file's state kept here at once.
        if (_fileCount - Volatile.Read(ref _filesCommitted) + chunkFiles > _limits.MaxUncommittedFiles)
            throw new ProtocolViolationException($"the sender announced more than {_limits.MaxUncommittedFiles} files not yet committed", ErrorCode.LimitExceeded);
        _manifestBytes += chunkBytes;
        bool last = first + count == _declaredEntries;
        // Never above the total and what vanished linked files left (checked by entry, above).
        if (last && _manifestBytes < _declaredBytes) throw new ProtocolViolationException("manifest sizes do not add up to the declared total");
        _reshardUntil = _clock.ElapsedTicks + (long)(_options.ReshardBudget.TotalSeconds * Stopwatch.Frequency);
        // The chunk's items (FilesPresent, offers) leave with its acceptance, in one write rather than one each.
        _control!.Hold();
        try
        {
            try
            {
                if (first == 0)
                {
                    _preallocate = PartialFile.PreallocationHelps(_guard.Root);
                    // Seeded partials, and copies from --copy-dest, take space as they are prepared: what was free counts
                    // from before the first.
                    if (_delta || _earlierCopies == EarlierCopies.Copied) CheckFreeSpace(0);
                }
                GrowFiles(first + count);
                for (int id = first; id < first + count; id++)
                {
                    var entry = WithLocalOwner(_chunk[id - first]);
                    PrepareOne((uint)id, entry);
                }
                ReadInPlace();
            }
            catch (Exception ex) when (ex is not SingularityException)
            {
                throw StorageErrors.Describe(ex, "preparing the destination");
            }
            // What resumed partials and files left in place already hold needs no new space.
            long held = _chunkUnchangedBytes;
            _chunkUnchangedBytes = 0;
            // Not a seeded partial's: its copy was made after the free space was read.
            for (int id = first; id < first + count; id++)
            {
                if (_files[id] is { FromBasis: false } file)
                    foreach (int index in file.Offered.Keys) held += file.ExpectedLength((uint)index);
                // A file written in place needs only what it grows by.
                else if (_files[id] is { InPlace: true } inPlace) held += inPlace.HeldInPlace;
            }
            _bytesNeeded += chunkBytes - held;
            // rsync --delete-before: once every entry is prepared, before the last chunk's check of free space, which
            // then counts what it freed, and before that chunk's files move (those of earlier chunks may be moving: the
            // manifest is not held whole).
            if (last && DeletesBefore) DeleteBeforeTheFiles();
            // A sparse session's files take what they hold, which only their writes tell: a disk that fills shows then.
            // A dry run's deletion before frees nothing to count: the last chunk is not judged by what it would free.
            if (_holeDigests is null && !(last && DeletesBefore && _dryRun)) CheckFreeSpace(_bytesNeeded);
            _accepted = first + count;
            if (last)
            {
                if (!_deleteExtraneous) _names.Clear();
                _names.TrimExcess();
                // No hard link comes after the manifest.
                _linkedFiles = null;
                _chunk.Clear();
                _chunk.TrimExcess();
            }
            Touch();
            Span<byte> body = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(body, first + count);
            _control!.Post(ControlMessageType.ManifestAccepted, body);
        }
        finally
        {
            _control.Release();
        }
    }

    private UInt128 NameHash(string path) => XxHash128.HashToUInt128(MemoryMarshal.AsBytes(path.AsSpan()), _namesSeed);

    /// <summary>Every declared entry is prepared (at once for an empty manifest).</summary>
    private bool ManifestAccepted => _opened && _accepted == _declaredEntries;

    /// <summary>Makes room for files up to <paramref name="count"/>, doubling (up to the declared count) so the copies stay few.</summary>
    private void GrowFiles(int count)
    {
        if (count <= _files.Length) return;
        lock (_filesLock)
        {
            var grown = new PartialFile?[(int)Math.Min(_declaredEntries, Math.Max(count, 2L * _files.Length))];
            _files.CopyTo(grown, 0);
            Volatile.Write(ref _files, grown);
        }
    }

    private void Prepare(uint id, ManifestEntry entry)
    {
        FailIfBelowKept(entry);
        FailIfInBackups(entry);
        if (MakesNothingNew(id, entry)) return;
        string full = _guard.Resolve(entry.Path);
        bool fresh = _guard.Created(Path.GetDirectoryName(full));
        if (_itemize) Itemize(id, entry, full, fresh);
        if (KeepsWhatStands(id, entry, full, fresh)) return;
        switch (entry.Kind)
        {
            case EntryKind.Directory:
                // A file or a link where the source has a directory is replaced, as rsync replaces it: a link is
                // removed itself, never followed. (Nothing stands in a directory this session created.)
                if (!fresh && new FileInfo(full) is { } standing && (standing.Exists || standing.LinkTarget is not null))
                {
                    try
                    {
                        Discard(full, entry.Path);
                    }
                    catch (Exception ex) when (StorageErrors.ConcernsOneEntry(ex))
                    {
                        (_notDirectories ??= new(StringComparer.Ordinal))[entry.Path] = "what stands there could not be replaced";
                        throw;
                    }
                }
                _guard.CreateDirectory(full);
                if (!fresh && _keepModes) OpenForWriting(full);
                // Without modes kept, a directory made now takes its mode now (as at Finish, below), not the default,
                // which a session cut before Finish would leave it, and a later one keep as its own.
                else if (!_keepModes && DirectoryModeOf(entry, full) is { } made) GiveMadeDirectoryItsMode(full, made);
                // Now, not with its mode and time at the end: nothing written below changes them, and none are held.
                ApplyXattrs(entry, full);
                // An ACL just set may have taken the owner's write and search, which writing below needs until Finish.
                if ((_scope & AttributeScope.Acls) != 0) SpecialFiles.SetModeNotFollowing(full, DirectoryModeOf(entry, full) ?? PartialFile.DirectoryMode((UnixFileMode)0x1ED));
                _directories.Add((id, full, entry with { Xattrs = null }));
                break;
            case EntryKind.Symlink:
                if (Directory.Exists(full) && new DirectoryInfo(full).LinkTarget is null) RemoveDirectoryInTheWay(entry, full);
                // The link is created as it was sent and never followed; PathGuard refuses any later entry beneath it.
                // The same link stays, as rsync leaves it (with attributes it was given there), and is no change to keep a
                // backup of; its owner, attributes and time are brought up to date, never through it.
                string? standingTarget = new FileInfo(full).LinkTarget;
                bool sameLink = standingTarget is not null && standingTarget == entry.LinkTarget;
                var linkOwner = OwnerMadeAnew(entry, full, sameLink);
                if (!sameLink)
                {
                    if (standingTarget is not null || File.Exists(full)) Discard(full, entry.Path);
                    File.CreateSymbolicLink(full, entry.LinkTarget!);
                }
                if (linkOwner is { } given && !SpecialFiles.TrySetOwnerNotFollowing(full, given)) OwnerNotSet();
                ApplyXattrs(entry, full);
                // The link's own mtime, as rsync -a keeps it (.NET sets it without following the link). A file system
                // that keeps no times for links leaves the link as created: its target is what matters.
                try { if (!_omitLinkTimes) File.SetLastWriteTimeUtc(full, SourceScanner.FromNanoseconds(entry.MtimeNanoseconds)); }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { }
                break;
            case EntryKind.HardLink:
                PrepareHardLink(id, entry, full);
                break;
            case EntryKind.Special:
                PrepareSpecial(entry, full);
                break;
            case EntryKind.File:
                // In a directory this session created, nothing stands in the way (see LeaveInPlace).
                // One look at the name tells a real directory in the way, and serves the check of a file in place.
                // (A name where nothing stands has all attributes, -1: a link's among them.)
                var there = fresh ? null : new FileInfo(full);
                if (there is not null && (there.Attributes & (FileAttributes.Directory | FileAttributes.ReparsePoint)) == FileAttributes.Directory)
                {
                    RemoveDirectoryInTheWay(entry, full);
                    there.Refresh();
                }
                // What stands at the resumable name is known once looked at (its directory's listing tells where none
                // does): a file of one shard removes it.
                bool? partialStands = fresh ? null : !_partials.MayStand(full) ? false : Digests.ShardCount64(entry.Size, _shardSize) <= 1 ? PartialFile.RemoveStaleResumable(full) : null;
                // Its contents are read with the chunk's others (ReadInPlace), when all else says it is in place.
                if (!fresh && (_skipUnchanged || entry.SentBefore) && _checksum && _options.Delta && entry.Digest is not null && IsInPlace(entry, full, partialStands, out _, sameContents: true, there))
                {
                    _toRead.Add((id, entry, full, partialStands));
                    break;
                }
                PrepareFile(id, entry, full, fresh, partialStands, standing: there);
                break;
        }
    }

    /// <summary>
    /// A file's preparation once its directory is in place: left in place (with <paramref name="sameContents"/> when
    /// --checksum read it already), kept by the rules, or given a partial, resumed or seeded where it can be.
    /// </summary>
    private void PrepareFile(uint id, ManifestEntry entry, string full, bool fresh, bool? partialStands, bool? sameContents = null, FileInfo? standing = null)
    {
        if (!fresh && (_skipUnchanged || entry.SentBefore) && LeaveInPlace(id, entry, full, partialStands, sameContents, standing)) return;
        if (!fresh && _keepRules != 0 && !entry.SentBefore && KeepsOwn(entry, full))
        {
            _fileCount++;
            Settle(id);
            NameKept(id, entry);
            return;
        }
        if (!fresh && partialStands != false) ReshardPartial(entry, full);
        // A file an earlier attempt found in a --compare-dest copy is marked sent before by a retry that deletes: it is
        // looked for there again, since nothing of it stands here.
        if (_linkDests is not null && (!entry.SentBefore || _earlierCopies == EarlierCopies.Compared) && Linked(id, entry, full, fresh, partialStands, standing, link: true)) return;
        var file = NewPartialFile(id, entry, full);
        BlockSums.Builder? sums = null;
        // A partial of its own, from an interrupted send of this version, is resumed; otherwise, in place, the file is
        // written into the one standing there, which offers its shards with delta; otherwise, with delta, the version
        // at its name is summed for a sender that takes sums alone (also for what a resumed partial lacks), or else the
        // file is seeded from it, and its offers read from the seed.
        if (_inPlace && !fresh && file.Offered.Count == 0 && InPlaceBasisOf(entry, full) is { } inPlace)
            file = NewPartialFile(id, entry, full, fromBasis: true, inPlace);
        else if (_delta && !fresh && file.Offered.Count < file.ShardCount && SumBasisAlone(id, entry, full, file.Offered.Count, out sums))
        {
            // Summed: the file's partial stays its own, and the shards it lacks come as patches of the version at its name.
        }
        else if (_delta && file.Offered.Count == 0 && ((!fresh && SeedFromBasis(entry, full, out sums)) || SeedFromLinkDest(entry, full, fresh, standing)))
            file = NewPartialFile(id, entry, full, fromBasis: true);
        // Set before the lanes can see the file: its patched shards copy within what the sums cover.
        if (sums is { Count: > 0 })
        {
            (file.PatchCoverage, file.PatchBlockSize) = (sums.Covered, sums.BlockSize);
            Interlocked.Add(ref _sumsHeld, file.SumsHeld);
        }
        HoldXattrs(file.Entry);
        _files[id] = file;
        _fileCount++;
        _offersLeft -= file.Offered.Count;
        OfferResume(file);
        // After its offers, before the acceptance that covers it: the sender has them before it reads a shard.
        if (file.PatchCoverage > 0 && sums!.TakeMessage(id) is { } rest) _control!.Post(ControlMessageType.BasisSums, rest);
    }

    /// <summary>
    /// With --checksum, reads the chunk's files that may be in place whole, on every core at once (a chunk of many
    /// files, or a few large ones, would otherwise be read one by one while the sender waits), then prepares each in
    /// turn, as <see cref="Prepare"/> would have.
    /// </summary>
    private void ReadInPlace()
    {
        if (_toRead.Count == 0) return;
        var toRead = _toRead.ToArray();
        _toRead.Clear();
        var same = new bool[toRead.Length];
        try
        {
            Parallel.For(0, toRead.Length, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i => same[i] = HasContents(toRead[i].Entry, toRead[i].Full));
        }
        catch (AggregateException ex)
        {
            // The session ended meanwhile (StillBusy stops the reads): as a read alone would have thrown it.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(ex.InnerExceptions[0]);
        }
        for (int i = 0; i < toRead.Length; i++)
        {
            var (id, entry, full, partialStands) = toRead[i];
            PrepareOne(id, entry, (full, partialStands, same[i]));
        }
    }

    /// <summary>
    /// Prepares one entry (a file whose contents were <paramref name="read"/> as the rest of it); one that fails for a
    /// reason of its own alone is named to the sender, and the session goes on.
    /// </summary>
    private void PrepareOne(uint id, ManifestEntry entry, (string Full, bool? PartialStands, bool SameContents)? read = null)
    {
        if (DeviceNotMade(entry) is { } why)
        {
            SkipDevice(id, why);
            return;
        }
        try
        {
            if (read is { } file) PrepareFile(id, entry, file.Full, fresh: false, file.PartialStands, file.SameContents);
            else if (_dryRun) PrepareDry(id, entry);
            else Prepare(id, entry);
        }
        catch (Exception ex) when (StorageErrors.ConcernsOneEntry(ex))
        {
            // A file that cannot be prepared needs no space, and is settled at once.
            if (entry.Kind == EntryKind.File)
            {
                _fileCount++;
                _chunkUnchangedBytes += entry.Size;
                Interlocked.Increment(ref _filesFailed);
                Settle(id, Failed);
            }
            ReportFailed(id, StorageErrors.Describe(ex, $"preparing '{entry.Path}'"));
        }
    }

    /// <summary>
    /// A dry run's preparation looks and changes nothing. A file in place is named in FilesPresent, as a real run names
    /// it; any other file counts as settled at once, as if committed, and no shard of it is expected. With a deletion,
    /// a directory in the way of a file or a link is listed with what it holds, as the real run would delete it.
    /// </summary>
    private void PrepareDry(uint id, ManifestEntry entry)
    {
        FailIfBelowKept(entry);
        FailIfInBackups(entry);
        if (MakesNothingNew(id, entry)) return;
        string full = _guard.Resolve(entry.Path, create: false);
        // Below a directory a real session would create, nothing found counts: it would be a fresh one.
        bool fresh = _guard.Planned(Path.GetDirectoryName(full));
        if (_itemize) Itemize(id, entry, full, fresh);
        if (KeepsWhatStands(id, entry, full, fresh)) return;
        if (entry.Kind == EntryKind.Directory)
        {
            // Missing, or a file or a link in its place, which a real session replaces; else checked, as a real session checks it.
            if (fresh || new DirectoryInfo(full).LinkTarget is not null) _guard.Plan(full);
            else _guard.PlanOrCheck(full);
            _directories.Add((id, full, entry with { Xattrs = null }));
            return;
        }
        if (!fresh && Directory.Exists(full) && new DirectoryInfo(full).LinkTarget is null) RemoveDirectoryInTheWay(entry, full);
        if (entry.Kind != EntryKind.File) return;
        _fileCount++;
        Settle(id);
        // A file of one shard removes a stale partial as it arrives (see Prepare): that partial does not make it changed.
        bool? partialStands = Digests.ShardCount64(entry.Size, _shardSize) <= 1 ? false : null;
        if (!fresh && (_skipUnchanged || entry.SentBefore) && IsInPlace(entry, full, partialStands, out var existing) && BringsUpToDate(entry, full, existing, change: false))
            NamePresent(id, entry);
        else if (!fresh && _keepRules != 0 && !entry.SentBefore && KeepsOwn(entry, full))
            NameKept(id, entry);
        else if (_linkDests is not null && (!entry.SentBefore || _earlierCopies == EarlierCopies.Compared))
            Linked(id, entry, full, fresh, partialStands, standing: null, link: false);
    }

    /// <summary>
    /// With --link-dest, a file where nothing stands (no partial either, but a stale one, which goes: one of this
    /// version is resumed instead) is linked from an earlier copy that holds it unchanged (<see cref="LinkDestinations"/>), and named to the sender as in place; a
    /// dry run (<paramref name="link"/> false) only names it.
    /// </summary>
    private bool Linked(uint id, ManifestEntry entry, string full, bool fresh, bool? partialStands, FileInfo? standing, bool link)
    {
        if (!OperatingSystem.IsLinux() || !NothingStands(full, fresh, standing)) return false;
        if (!fresh && (partialStands ?? File.Exists(PartialFile.ResumablePathFor(full))) && !StalePartialGone(entry, full, remove: link)) return false;
        // A received file would be this process's user's, unless it gives the sender's owners; a part the sender does
        // not keep (-o or -g alone) is not looked at, as rsync does not.
        var (user, group) = SpecialFiles.MayChangeOwners && entry.Owner is { } kept
            ? (kept.User == ManifestEntry.IdNotKept ? null : (uint?)kept.User, kept.Group == ManifestEntry.IdNotKept ? null : (uint?)kept.Group)
            : (SpecialFiles.EffectiveUser, null);
        // A dry run only looks; a copy is read whole, and the sender hears that the receiver is still at work.
        var use = link ? _earlierCopies : EarlierCopies.Compared;
        bool Use() => _linkDests!.TryUse(entry, full, _keepModes, user, group, _times, use, _options.Transfer.Durable, StillBusy, XattrsOf(entry));
        if (!(use == EarlierCopies.Copied ? ReadingInPlace(Use) : Use())) return false;
        if (_earlierCopies == EarlierCopies.Compared) _filesCompared++;
        else if (_earlierCopies == EarlierCopies.Copied) _filesCopied++;
        else _filesLinked++;
        // A copy takes space, made after the free space was read (CheckFreeSpace counts it as needed); a link or a
        // comparison takes none.
        if (use != EarlierCopies.Copied) _chunkUnchangedBytes += entry.Size;
        if (link)
        {
            _fileCount++;
            Settle(id);
        }
        _control!.PostBatchItem(ControlMessageType.FilesPresent, id);
        return true;
    }

    /// <summary>
    /// A directory where the source has a file or a link: an empty one is removed, as rsync removes it; one with
    /// anything in it only when the sender asked to delete what the source does not have, or to force it (it is then
    /// deleted with everything below it, links not followed, but what the patterns keep), else the entry fails, naming it. Never one this session has written
    /// into (it prepared files there to open later by path, which a link at that name would redirect), nor while
    /// another session is receiving (see <see cref="RemovalGate"/>).
    /// </summary>
    private void RemoveDirectoryInTheWay(ManifestEntry entry, string full)
    {
        string what = entry.Kind switch { EntryKind.File => "a file", EntryKind.Special => SpecialTypes.Describe(entry.SpecialType), _ => "a link" };
        string refused = $"refused: '{entry.Path}' is a directory in the destination, where the source has {what}";
        bool empty = !Directory.EnumerateFileSystemEntries(full).Any();
        if (!empty && !_deleteExtraneous && !_force) throw new EntryConflictException($"{refused}; move it away, or send with --force (or --delete) to replace it");
        if (_guard.Checked(full)) throw new EntryConflictException($"{refused}, and this send also writes into that directory");
        // A dry run removes nothing (its deletion only lists), so it needs no other session kept out.
        if (!_dryRun && !_removals.TryBeginRemoving()) throw new EntryConflictException($"{refused}; it is replaced only while no other send is receiving into the destination: send again");
        try
        {
            if (empty)
            {
                if (!_dryRun) Directory.Delete(full);
            }
            else
            {
                _extraneous ??= NewExtraneous();
                _extraneous.RemoveDirectories = true;
                _exclude?.ForgetDirectories();
                int failed = _extraneous.Failed, kept = _extraneous.KeptByPatterns, backups = _extraneous.KeptAsBackups, limited = _extraneous.LeftByLimit, elsewhere = _extraneous.KeptElsewhere;
                if (!_extraneous.Remove(full, entry.Path))
                {
                    // Something in it could not be deleted, the exclude patterns keep something, or it holds partial files, which deletion leaves.
                    string why = _extraneous.Failed > failed && _extraneous.Failures.Count > 0 ? $"not all of it could be deleted: {_extraneous.Failures[^1]}"
                        : _extraneous.KeptByPatterns > kept ? "it holds entries the exclude patterns keep"
                        : _extraneous.KeptAsBackups > backups ? "it holds backups, which stay"
                        : _extraneous.LeftByLimit > limited ? $"the sender's --max-delete limit of {_mostDeletions} {(_mostDeletions == 1 ? "deletion" : "deletions")} is reached"
                        : _extraneous.KeptElsewhere > elsewhere ? "it holds a file system mounted there, which --one-file-system keeps"
                        : "it holds partial files of an interrupted send (`sglty partials --clean` removes them)";
                    throw new EntryConflictException($"{refused}, and {why}");
                }
            }
        }
        finally
        {
            if (!_dryRun) _removals.EndRemoving();
        }
    }

    /// <summary>
    /// With rsync's --itemize-changes (more flags bit 6), tells the sender (Itemized) how what stands at the entry's
    /// name differs from it, before anything is done there; nothing when it does not differ at all. Only looked at,
    /// never through a link; in a directory this session makes (<paramref name="fresh"/>), nothing stands.
    /// </summary>
    private void Itemize(uint id, ManifestEntry entry, string full, bool fresh)
    {
        var changes = fresh ? ItemizedAttributes.New : Differences(entry, full);
        if (changes != ItemizedAttributes.None) PostItemized(id, (ushort)changes);
    }

    private void PostItemized(uint id, ushort changes)
    {
        Span<byte> item = stackalloc byte[ItemizedItemSize];
        BinaryPrimitives.WriteUInt32LittleEndian(item, id);
        BinaryPrimitives.WriteUInt16LittleEndian(item[4..], changes);
        _control!.PostBatchItem(ControlMessageType.Itemized, item);
    }

    /// <summary>An Itemized item: the entry's id, then its differences (<see cref="ItemizedAttributes"/>, or <see cref="ItemizedNotMade"/>).</summary>
    internal const int ItemizedItemSize = 6;

    /// <summary>Itemized's bit 7, alone: with --existing, nothing stood there and nothing was made (a directory, which no other message names).</summary>
    internal const ushort ItemizedNotMade = 0x80;

    /// <summary>
    /// How what stands at <paramref name="full"/> differs from the entry, in what the session sets, as rsync itemizes
    /// it: new where nothing of the entry's kind stands (a hard link: unless it is that file already); a file's size,
    /// a link's target; the time where the session sets one; the mode where it keeps modes (not a link's); the owner
    /// and group where it gives owners.
    /// </summary>
    private ItemizedAttributes Differences(ManifestEntry entry, string full)
    {
        var kind = entry.Kind == EntryKind.HardLink ? EntryKind.File : entry.Kind;
        if (SpecialFiles.StandingAt(full) is not { } standing || standing.Kind != kind) return ItemizedAttributes.New;
        // The file a hard link names is looked at only through real directories: below one a dry run planned, it would
        // be made anew, and so would the link.
        if (entry.Kind == EntryKind.HardLink)
            return RealDirectoriesOnTheWay(entry.LinkTarget!) && SpecialFiles.StandingAt(_guard.FullPath(entry.LinkTarget!)) is { } file
                && (file.Device, file.Inode) == (standing.Device, standing.Inode) ? ItemizedAttributes.None : ItemizedAttributes.New;
        var changes = ItemizedAttributes.None;
        if (entry.Kind == EntryKind.File && standing.Size != entry.Size) changes |= ItemizedAttributes.Size;
        if (entry.Kind == EntryKind.Symlink && new FileInfo(full).LinkTarget != entry.LinkTarget) changes |= ItemizedAttributes.Contents;
        // As rsync names them: a device where a FIFO or socket stands (or the reverse) is new; one of another type or
        // number of the same class, changed contents.
        if (entry.Kind == EntryKind.Special && SpecialTypes.IsDevice(standing.SpecialType) != SpecialTypes.IsDevice(entry.SpecialType)) return ItemizedAttributes.New;
        if (entry.Kind == EntryKind.Special && (standing.SpecialType, standing.DeviceNumber) != (entry.SpecialType, entry.DeviceNumber)) changes |= ItemizedAttributes.Contents;
        bool timed = entry.Kind switch { EntryKind.Directory => !_omitDirectoryTimes, EntryKind.Symlink => !_omitLinkTimes, _ => true };
        if (timed && !_times.Same(standing.ModifiedNanoseconds, entry.MtimeNanoseconds)) changes |= ItemizedAttributes.Time;
        // A link made anew whose time is not set gets the time of its making, which rsync names as a change too.
        if (!timed && (changes & ItemizedAttributes.Contents) != 0) changes |= ItemizedAttributes.Time;
        var mode = entry.Kind == EntryKind.Directory ? PartialFile.DirectoryMode(entry.Mode) : entry.Mode & PartialFile.SafeModeBits;
        // The group bits of what has an ACL are its mask, which -A compares as part of the ACL, as rsync does.
        var compared = ~(UnixFileMode)0;
        if (XattrsOf(entry) is { } xattrs)
        {
            var (acls, others, aclStands) = XattrDifferences(xattrs, full);
            if (acls) changes |= ItemizedAttributes.Acls;
            if (others) changes |= ItemizedAttributes.Xattrs;
            if (aclStands || xattrs.HasAccessAcl) compared &= ~(UnixFileMode)0x38;
        }
        if (entry.Kind != EntryKind.Symlink && _keepModes && (standing.Mode & compared) != (mode & compared)) changes |= ItemizedAttributes.Permissions;
        if (SpecialFiles.MayChangeOwners && entry.Owner is { } owner)
        {
            // What the sender does not keep (-o or -g alone) is left as it stands.
            if (owner.User != ManifestEntry.IdNotKept && standing.User != owner.User) changes |= ItemizedAttributes.Owner;
            if (owner.Group != ManifestEntry.IdNotKept && standing.Group != owner.Group) changes |= ItemizedAttributes.Group;
        }
        return changes;
    }

    /// <summary>
    /// A file already under its name (a regular file, not a link) with the entry's size and mtime is left as it is, as
    /// rsync's quick check leaves it: only its mode is brought up to date. It counts as committed, and the sender, told
    /// before the acceptance that covers it, sends none of it; its slot is that of a committed file, so a seal for it
    /// ends the session and a shard for it is acknowledged and dropped, as a duplicate is. <paramref name="partialStands"/>
    /// says whether a partial stands at the file's resumable name, when the caller has looked already; null to look.
    /// </summary>
    private bool LeaveInPlace(uint id, ManifestEntry entry, string full, bool? partialStands, bool? sameContents = null, FileInfo? standing = null)
    {
        // Not called in a directory this session created: none are there (another session writing the same tree at
        // once may have put one there; it is then sent, and replaced). A partial an earlier session left for this file
        // is resumed instead, so that it is finished and cleaned up rather than stranded beside the file.
        if (!IsInPlace(entry, full, partialStands, out var existing, sameContents, standing) || !BringsUpToDate(entry, full, existing, change: true)) return false;
        _fileCount++;
        Settle(id);
        NamePresent(id, entry);
        return true;
    }

    /// <summary>
    /// Whether a file in place has the entry's mode (and owner and extended attributes, when kept; and with --checksum its mtime), or gets them now; in a dry run
    /// (<paramref name="change"/> false), whether it would. Judged by its status, as rsync judges it: even a file its
    /// owner may not read (0200) stays. What to bring up to date is set through an open handle that is the name's own
    /// file, never through a link swapped in meanwhile; a file that cannot be opened or changed (another user's) is
    /// sent, and its commit replaces it.
    /// </summary>
    private bool BringsUpToDate(ManifestEntry entry, string full, FileInfo existing, bool change)
    {
        var mode = entry.Mode & PartialFile.SafeModeBits;
        bool modeDiffers = _keepModes && !OperatingSystem.IsWindows() && existing.UnixFileMode != mode;
        var owner = SpecialFiles.MayChangeOwners ? entry.Owner : null;
        bool ownerDiffers = owner is not null && (SpecialFiles.OwnerOf(full) is not { } found || ManifestEntry.OwnerDiffers(found, owner.Value));
        // Only --checksum finds a file in place whose time differs; it gets the source's exactly, as rsync -c gives it
        // whatever the modify window. The quick check's file within the window keeps its own, as rsync leaves it.
        long standing = SourceScanner.ToNanoseconds(existing.LastWriteTimeUtc);
        bool timeDiffers = _checksum ? standing != entry.MtimeNanoseconds : !_times.Same(standing, entry.MtimeNanoseconds);
        var xattrs = XattrsOf(entry);
        bool xattrsDiffer = xattrs is not null && XattrDifferences(xattrs, full) is not (false, false, _);
        if (!modeDiffers && !ownerDiffers && !timeDiffers && !xattrsDiffer) return true;
        try
        {
            // Never through a link, nor a FIFO swapped in since, on whose open the session would wait for ever.
            using var handle = SpecialFiles.OpenRegularAsNamed(full);
            if (handle is null || RandomAccess.GetLength(handle) != entry.Size
                || (!_checksum && !_times.Same(SourceScanner.ToNanoseconds(File.GetLastWriteTimeUtc(handle)), entry.MtimeNanoseconds)))
                return false;
            // Root may change an owner; a mode or a time, its file's owner may too.
            if (!change) return !(modeDiffers || timeDiffers) || SpecialFiles.MayChangeMode(handle);
            // The owner first: a change of owner may clear mode bits.
            // An owner the system refuses leaves the file as it is, not sent again: it would not get that owner either.
            if (ownerDiffers && !SpecialFiles.TrySetOwner(handle, owner!.Value)) OwnerNotSet();
            // After the owner, whose change clears a file's capabilities (which a receiver never sets anyway).
            if (xattrsDiffer && !xattrs!.ApplyTo(handle)) XattrsNotSet(entry.Path);
            // An ACL set carries the source's mode bits, which --chmod may have changed: the mode goes after it.
            if ((modeDiffers || (xattrsDiffer && _keepModes && (_scope & AttributeScope.Acls) != 0)) && !OperatingSystem.IsWindows())
            {
                // A file system that keeps no modes leaves the file as it is, not sent again: it would not get the mode either.
                try { File.SetUnixFileMode(handle, mode); }
                catch (Exception ex) when (StorageErrors.RefusesModes(ex) && SpecialFiles.MayChangeMode(handle)) { ModeNotSet(entry.Path); }
            }
            if (timeDiffers) SpecialFiles.SetModified(handle, entry.MtimeNanoseconds);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>
    /// Whether a regular file (not a link) stands at <paramref name="full"/> with the entry's size and mtime, and no
    /// partial of it: the quick check. With --checksum, with the entry's size and contents, whatever its mtime.
    /// </summary>
    private bool IsInPlace(ManifestEntry entry, string full, bool? partialStands, out FileInfo existing, bool? sameContents = null, FileInfo? standing = null)
    {
        existing = standing ?? new FileInfo(full);
        // A link is told by its status (ReparsePoint), which costs no readlink of every file in place.
        return existing.Exists && (existing.Attributes & FileAttributes.ReparsePoint) == 0 && existing.Length == entry.Size
            && (_checksum ? !NewerKept(existing, entry) : _times.Same(SourceScanner.ToNanoseconds(existing.LastWriteTimeUtc), entry.MtimeNanoseconds))
            && !(entry.Size == 0 && SpecialFiles.SpecialAt(full) is not null)
            && !(partialStands ?? File.Exists(PartialFile.ResumablePathFor(full)))
            && (!_checksum || (sameContents ?? (_options.Delta && HasContents(entry, full))));
    }

    /// <summary>
    /// With --update, a file modified there later than the entry (<see cref="TimeMatch.UpdateKeeps"/>), which that rule
    /// keeps exactly as it is (KeepsOwn), its time too, before --checksum would find its contents the same and give it
    /// the entry's time.
    /// </summary>
    private bool NewerKept(FileInfo existing, ManifestEntry entry) =>
        (_keepRules & OpenSessionFlags.Update) != 0 && _times.UpdateKeeps(SourceScanner.ToNanoseconds(existing.LastWriteTimeUtc), entry.MtimeNanoseconds);

    /// <summary>
    /// With --checksum, whether the regular file at <paramref name="full"/> (opened never through a link, nor a FIFO)
    /// holds what the entry's digest says, read whole. One the receiver cannot read is taken for changed, and sent;
    /// so is every one when the receiver tells senders nothing of its files (<see cref="ReceiverOptions.Delta"/> false).
    /// </summary>
    private bool HasContents(ManifestEntry entry, string full)
    {
        if (entry.Digest is not { } digest) return false;
        return ReadingInPlace(() =>
        {
            try
            {
                using var handle = SpecialFiles.OpenRegularAsNamed(full);
                return handle is not null && RandomAccess.GetLength(handle) == entry.Size
                    && Digests.Content(handle, entry.Size, StillBusy) == digest;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return false;
            }
        });
    }

    /// <summary>
    /// Whether a regular file (not a link) in place, which the quick check finds changed (or with a partial beside it),
    /// is kept by the rules the sender asked for, as rsync keeps it: one of the entry's size (--size-only), one
    /// modified later than the entry (--update). It is left exactly as it is. (--ignore-existing keeps whatever stands
    /// at the name, before this is asked: <see cref="KeepsWhatStands"/>.)
    /// </summary>
    private bool KeepsOwn(ManifestEntry entry, string full)
    {
        var existing = new FileInfo(full);
        if (!existing.Exists || existing.LinkTarget is not null || SpecialFiles.SpecialAt(full) is not null) return false;
        return ((_keepRules & OpenSessionFlags.SizeOnly) != 0 && existing.Length == entry.Size) || NewerKept(existing, entry);
    }

    /// <summary>
    /// With --ignore-existing (and not in a directory this session makes, <paramref name="fresh"/>), whatever stands at
    /// an entry's name stays, as rsync keeps it, in a real session and a dry run alike: a file is named present, or
    /// kept (FilesKept); a link is not made, and named kept, so that the sender keeps its own; a directory whose place
    /// something else takes fails, and so does what is below it (<see cref="FailIfBelowKept"/>). True if the entry
    /// needs nothing more.
    /// </summary>
    private bool KeepsWhatStands(uint id, ManifestEntry entry, string full, bool fresh)
    {
        if ((_keepRules & OpenSessionFlags.IgnoreExisting) == 0 || fresh || entry.SentBefore || !Stands(full)) return false;
        switch (entry.Kind)
        {
            case EntryKind.Directory when !(Directory.Exists(full) && new DirectoryInfo(full).LinkTarget is null):
                const string kept = "--ignore-existing keeps what is there";
                (_notDirectories ??= new(StringComparer.Ordinal))[entry.Path] = kept;
                throw new EntryConflictException($"refused: '{entry.Path}' is not a directory in the destination, where the source has one, and {kept}");
            case EntryKind.Symlink or EntryKind.Special:
                _control!.PostBatchItem(ControlMessageType.FilesKept, id);
                return true;
            case EntryKind.File:
                _fileCount++;
                Settle(id);
                if (IsInPlace(entry, full, partialStands: null, out _)) NamePresent(id, entry);
                else NameKept(id, entry);
                return true;
            default:
                return false;
        }
    }

    /// <summary>
    /// Whether nothing stands at <paramref name="full"/>: in a directory this session created (<paramref name="fresh"/>),
    /// or by the look already taken (<paramref name="standing"/>, whose attributes are -1 where nothing is), else by one now.
    /// </summary>
    private static bool NothingStands(string full, bool fresh, FileInfo? standing) =>
        fresh || (standing is null ? !Stands(full) : (int)standing.Attributes == -1);

    /// <summary>
    /// With --existing, an entry where nothing stands is not made, as rsync --existing leaves it, in a real session and
    /// a dry run alike: a file is named kept (FilesKept), and so is a link, so that the sender keeps its own; a
    /// directory is passed over, and what is below it finds nothing either. Looked at before the guard, which would
    /// make (or plan) the missing directories on the way; one that then goes on is checked as any other. True if the
    /// entry needs nothing more.
    /// </summary>
    private bool MakesNothingNew(uint id, ManifestEntry entry)
    {
        if ((_keepRules & OpenSessionFlags.ExistingOnly) == 0 || entry.SentBefore) return false;
        // Looked at only through real directories, none this session made: nothing outside the destination is looked at,
        // and what a dry run would find is what the real session finds.
        string full = _guard.FullPath(entry.Path);
        if (!_guard.Created(Path.GetDirectoryName(full)) && RealDirectoriesOnTheWay(entry.Path) && Stands(full)) return false;
        switch (entry.Kind)
        {
            case EntryKind.File:
                _fileCount++;
                Settle(id);
                NameKept(id, entry);
                break;
            case EntryKind.Symlink or EntryKind.Special:
                _control!.PostBatchItem(ControlMessageType.FilesKept, id);
                break;
            case EntryKind.Directory:
                if (_itemize) PostItemized(id, ItemizedNotMade);
                break;
        }
        return true;
    }

    /// <summary>Whether anything stands at <paramref name="full"/>: a file, a directory, a link (even to nothing), or a special file.</summary>
    private static bool Stands(string full) => new FileInfo(full) is { } there && (there.Exists || there.LinkTarget is not null || Directory.Exists(full));

    /// <summary>
    /// An entry below a directory whose name something else still takes (kept by <see cref="KeepsWhatStands"/>, or
    /// not replaceable) fails with it, before its path is looked at: through a link standing there it would end the session.
    /// </summary>
    private void FailIfBelowKept(ManifestEntry entry)
    {
        if (_notDirectories is null) return;
        for (int slash = entry.Path.IndexOf('/'); slash > 0; slash = entry.Path.IndexOf('/', slash + 1))
            if (_notDirectories.TryGetValue(entry.Path[..slash], out string? why))
                throw new EntryConflictException($"refused: '{entry.Path[..slash]}' is not a directory in the destination, and {why}");
    }

    /// <summary>An entry at or below the backup directory fails: the session keeps there what it replaces, and leaves it out of its deletion.</summary>
    private void FailIfInBackups(ManifestEntry entry)
    {
        if (_backups is { Directory: { } directory } && _backups.Holds(entry.Path))
            throw new EntryConflictException($"refused: '{entry.Path}' is in '{directory}', the directory this send keeps its backups in; choose another --backup-dir");
    }

    /// <summary>Removes the file or link at <paramref name="full"/> (<paramref name="path"/> from the destination), moved to its backup when the sender asked for backups.</summary>
    private void Discard(string full, string path) => Backups.Discard(_backups, full, path);

    /// <summary>Counts a settled file kept by <see cref="KeepsOwn"/> as one in place is counted, and tells the sender (FilesKept).</summary>
    private void NameKept(uint id, ManifestEntry entry)
    {
        _filesUnchanged++;
        _chunkUnchangedBytes += entry.Size;
        _control!.PostBatchItem(ControlMessageType.FilesKept, id);
    }

    /// <summary>Counts a settled file as found in place and tells the sender (FilesPresent).</summary>
    private void NamePresent(uint id, ManifestEntry entry)
    {
        if (!entry.SentBefore) _filesUnchanged++;
        _chunkUnchangedBytes += entry.Size;
        _control!.PostBatchItem(ControlMessageType.FilesPresent, id);
    }

    /// <summary>
    /// Whether the partial at a file's resumable name is stale (its journal vouches for no shard of this version, so
    /// the file's preparation would remove it too) and is removed; a dry run (<paramref name="remove"/> false) only
    /// looks. A partial of this version is resumed instead, and one another session holds stays.
    /// </summary>
    private bool StalePartialGone(ManifestEntry entry, string full, bool remove)
    {
        string partial = PartialFile.ResumablePathFor(full);
        int shards = Digests.ShardCount(entry.Size, _shardSize);
        if (shards > 1 && ResumeJournal.Load(ResumeJournal.PathFor(partial), entry.Size, entry.MtimeNanoseconds, _shardSize, shards).Count > 0) return false;
        // A dry run reads no partial again in this session's shards (ReshardPartial): one of other shards that would keep some is taken as resumed.
        if (!remove && shards > 1 && _options.Transfer.Durable && JournalReshard.WouldKeepSome(partial, entry, _shardSize, _limits.MinShardSize)) return false;
        return !remove || !PartialFile.RemoveStaleResumable(full);
    }

    /// <summary>
    /// With --link-dest and delta, a file where nothing stands (a new snapshot's) that was not linked is seeded from an
    /// earlier copy of its path (<see cref="LinkDestinations.OpenBasis"/>), as rsync compares with it: a log that grew
    /// since the last snapshot sends its new tail. A partial that offers nothing is removed first, as for the version
    /// at the file's name.
    /// </summary>
    private bool SeedFromLinkDest(ManifestEntry entry, string full, bool fresh, FileInfo? standing)
    {
        if (_linkDests is null || !OperatingSystem.IsLinux() || !NothingStands(full, fresh, standing)) return false;
        using var copy = _linkDests.OpenBasis(entry, _times);
        return copy is not null && SeedFromBasis(entry, full, out _, copy);
    }

    /// <summary>
    /// Delta (OpenSession flag): a changed file of more than one shard, whose partial offers nothing, has its partial
    /// seeded from the version at its name (see <see cref="BasisSeed"/>), or from <paramref name="linkDestCopy"/>,
    /// within what the session may still offer.
    /// True if shards were seeded. Without journals (no flushes) nothing is seeded: the offers would have no record to
    /// stand on. A partial standing there offers nothing here (another version's, or one its journal does not vouch
    /// for): it is removed, as the file's first write would remove it, unless another session holds it. Seeded from the
    /// version at its name, for a sender that takes them, the copy also gathers the sums of its blocks
    /// (<paramref name="sums"/>), from which that sender's patches copy; an earlier copy of --link-dest gathers none, as
    /// it is not where a patch's copies are read from.
    /// </summary>
    private bool SeedFromBasis(ManifestEntry entry, string full, out BlockSums.Builder? sums, SafeFileHandle? linkDestCopy = null)
    {
        sums = null;
        if (!_options.Transfer.Durable || Digests.ShardCount(entry.Size, _shardSize) <= 1 || _offersLeft <= 0 || StalePartialStays(full)) return false;
        string partial = PartialFile.ResumablePathFor(full);
        int most = (int)Math.Min(_offersLeft, int.MaxValue);
        long seedable = Math.Min(entry.Size, (long)most * _shardSize);
        int block = BlockSums.BlockSizeFor(seedable, _shardSize);
        var gathered = SenderTakesPatches && linkDestCopy is null && SumsFit(seedable, block) ? new BlockSums.Builder(block) : null;
        bool seeded = ReadingInPlace(() => linkDestCopy is null ? BasisSeed.Seed(full, partial, entry, _shardSize, most, _holeDigests is not null, StillBusy, gathered)
            : BasisSeed.Seed(linkDestCopy, partial, entry, _shardSize, most, _holeDigests is not null, StillBusy)) > 0;
        sums = seeded ? gathered : null;
        return seeded;
    }

    /// <summary>
    /// For a sender that takes sums alone (capability bit 1), a changed file is not seeded: the version at its name is
    /// read once for the sums of its blocks, and the shards the file's partial lacks (all, but where one of this version
    /// is resumed) come as patches that copy from it where that saves (an unchanged shard, a copy of its blocks where
    /// they stand). A seed first copies the whole version into the partial, which a file whose bytes moved then writes
    /// a second time. The sums cover the old version as far as twice the new size (one that shrank holds blocks past
    /// the new end that moved back). False where nothing is summed (a file of one shard, no regular file there, a read
    /// that failed before a block), where a shard is not a whole number of blocks, so that even unchanged shards would
    /// carry the blocks their ends cut, and where the sums would not fit in what the sender holds (<see cref="SumsFit"/>):
    /// such a file is seeded. The sums go in pieces as they are gathered, so that they travel while the rest is read
    /// (a resumed file's after its offers, whole); a read that fails part way keeps those gathered (the pieces sent
    /// cannot be taken back).
    /// </summary>
    private bool SumBasisAlone(uint id, ManifestEntry entry, string full, int offers, out BlockSums.Builder? sums)
    {
        sums = null;
        if (!SenderTakesSumsAlone || Digests.ShardCount(entry.Size, _shardSize) <= 1) return false;
        using var basis = BasisSeed.Open(full);
        if (basis is null) return false;
        try
        {
            long length = RandomAccess.GetLength(basis);
            if (length / 2 > entry.Size) length = 2 * entry.Size;
            int block = BlockSums.BlockSizeFor(length, _shardSize);
            if (_shardSize % block != 0 || !SumsFit(length, block)) return false;
            sums = new BlockSums.Builder(block);
            var gathered = sums;
            bool pieces = offers == 0;
            ReadingInPlace(() => BasisSeed.Sum(basis, length, gathered, () =>
            {
                StillBusy();
                if (pieces && gathered.TakeMessage(id, SumsPiece) is { } piece) _control!.Post(ControlMessageType.BasisSums, piece);
            }));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
        if (sums is { Count: > 0 }) return true;
        sums = null;
        return false;
    }

    /// <summary>Sums gathered before a piece of them is sent, summing alone: 12 KiB of them, a piece every 2 to 128 MiB read.</summary>
    private const int SumsPiece = 1024;

    // Bytes of sums sent for files not settled yet, counted as the sender counts what it holds of them: the sender drops
    // sums beyond BlockSums.SenderHolds, which for a file summed alone would send it whole, so none are sent beyond half
    // of that (the sender lets go of a file's at its FilesCommitted, a round trip after it settles here).
    private long _sumsHeld;

    /// <summary>Whether the sums of <paramref name="length"/> bytes in blocks of <paramref name="block"/> fit in what the sender holds beside those sent already.</summary>
    private bool SumsFit(long length, int block) =>
        Volatile.Read(ref _sumsHeld) + BasisBlocks.BytesFor((int)Math.Min(length / block, BlockSums.MostBlocks)) <= BlockSums.SenderHolds / 2;

    /// <summary>
    /// A partial an interrupted send left with another shard size has its journal rewritten in this session's shards
    /// (see <see cref="JournalReshard"/>), so that it is resumed, not sent afresh, and not taken for stale. An I/O error
    /// meanwhile leaves a journal this session does not read: the file arrives whole.
    /// </summary>
    private void ReshardPartial(ManifestEntry entry, string full)
    {
        if (!_options.Transfer.Durable || _offersLeft <= 0 || Digests.ShardCount64(entry.Size, _shardSize) <= 1) return;
        // A sender that asked for none of delta, --checksum and --copy-dest refuses StillWorking before the manifest's
        // acceptance: there a chunk's partials are read again within ReshardBudget of its preparation (StillBusy posts
        // nothing outside ReadingInPlace), and those met after it are not, and travel again.
        bool tell = _senderHearsWork;
        if (!tell && _clock.ElapsedTicks >= _reshardUntil) return;
        string partial = PartialFile.ResumablePathFor(full);
        int most = (int)Math.Min(_offersLeft, int.MaxValue);
        int Read() => JournalReshard.Reshard(partial, entry, _shardSize, most, _offersLeft, _limits.MinShardSize, () => { StillBusy(); return tell || _clock.ElapsedTicks < _reshardUntil; });
        try
        {
            if (tell) ReadingInPlace(Read);
            else Read();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }

    /// <summary>A file's record for this session, reading what a partial at its resumable name offers; or, <paramref name="inPlace"/>, one written where it stands.</summary>
    private PartialFile NewPartialFile(uint id, ManifestEntry entry, string full, bool fromBasis = false, InPlaceBasis? inPlace = null) =>
        new(id, entry, full, _shardSize, _options.Transfer.Durable, Id.Tag, _preallocate && _holeDigests is null && inPlace is null, _keepModes, _holds, _writing, _offersLeft, sparse: _holeDigests is not null, inPlace) { FromBasis = fromBasis, Backups = _backups, Xattrs = XattrsOf(entry) };

    /// <summary>
    /// In place (rsync --inplace): the regular file standing at the name, as it is now, and with delta its shards'
    /// digests, read where they stand (within what the session may still offer): no copy is made. Null, and the file
    /// arrives beside its name as without --inplace, for an empty file (no shard to write), where no regular file
    /// stands, where this process may not write it, nor set its time (another user's, for all but root), or it is
    /// busy (a running program), where the file has other names (which would see what only this one is sent, and
    /// which this session may be sending other versions of), and where a stale partial stands that another session
    /// holds. A file changed so lately that a write after this look might not move its ctime offers nothing: every
    /// shard is written, under the lock, so no shard is kept that another writer may have changed meanwhile.
    /// </summary>
    private InPlaceBasis? InPlaceBasisOf(ManifestEntry entry, string full)
    {
        if (entry.Size == 0 || StalePartialStays(full)) return null;
        SafeFileHandle? standing;
        try
        {
            standing = SpecialFiles.OpenRegularForWritingNotFollowing(full);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        if (standing is null) return null;
        using (standing)
        {
            // Its version before its shards are read: a write meanwhile shows when it is opened to be written.
            if (WritableWhereItStands(standing, full) is not { } version) return null;
            long length = RandomAccess.GetLength(standing);
            if (!_delta || _offersLeft <= 0 || SpecialFiles.ChangedLately(version.Changed))
                return new InPlaceBasis(version, length, System.Collections.ObjectModel.ReadOnlyDictionary<int, ulong>.Empty);
            try
            {
                return new InPlaceBasis(version, length, ReadingInPlace(() => BasisSeed.ShardDigests(standing, entry, _shardSize, (int)Math.Min(_offersLeft, int.MaxValue), StillBusy)));
            }
            catch (IOException)
            {
                return null;
            }
        }
    }

    /// <summary>
    /// The version of the regular file <paramref name="standing"/> at <paramref name="full"/>, opened for writing, where
    /// --inplace may write it where it stands: not busy (a running program), a mode this process may change (its own,
    /// or root's), and no other name; null otherwise.
    /// </summary>
    private static (ulong Device, ulong Inode, long Changed, uint Names)? WritableWhereItStands(SafeFileHandle standing, string full) =>
        SpecialFiles.OpenedElsewhere(standing, full) || !SpecialFiles.MayChangeMode(standing) || SpecialFiles.VersionOf(standing) is not { Names: 1 } version
            ? null : version;

    /// <summary>Runs <paramref name="read"/>, a read of files in place, counted so the sender hears the receiver is at work meanwhile.</summary>
    private T ReadingInPlace<T>(Func<T> read)
    {
        Interlocked.Increment(ref _readingInPlace);
        try
        {
            return read();
        }
        finally
        {
            Interlocked.Decrement(ref _readingInPlace);
        }
    }

    /// <summary>
    /// Whether a partial stands at a file's resumable name that another session holds, after one that offers nothing
    /// here (another version's, or one its journal does not vouch for) is removed, as the file's first write would.
    /// </summary>
    private static bool StalePartialStays(string full)
    {
        string partial = PartialFile.ResumablePathFor(full);
        return (File.Exists(partial) || new FileInfo(partial).LinkTarget is not null) && PartialFile.RemoveStaleResumable(full);
    }

    /// <summary>
    /// Tells the sender which shards of this file are already here, verified: those an earlier session left (ResumeOffer),
    /// or those seeded from the version at its name (BasisOffer). They reach it before the ManifestAccepted that covers
    /// the file.
    /// </summary>
    private void OfferResume(PartialFile file)
    {
        var type = file.FromBasis ? ControlMessageType.BasisOffer : ControlMessageType.ResumeOffer;
        Span<byte> item = stackalloc byte[16];
        foreach (var (index, digest) in file.Offered)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(item, file.Id);
            BinaryPrimitives.WriteInt32LittleEndian(item[4..], index);
            BinaryPrimitives.WriteUInt64LittleEndian(item[8..], digest);
            _control!.PostBatchItem(type, item);
        }
    }

    /// <summary>Records the kept shards; returns the files they complete whose seal is in, for the caller to commit.</summary>
    private List<PartialFile>? OnShardsKept(ReadOnlySpan<byte> body)
    {
        List<PartialFile>? ready = null;
        int count = ControlBatch.Count(body, 8, ControlMessageType.ShardsKept);
        for (int i = 0; i < count; i++)
        {
            var item = ControlBatch.Item(body, 8, i);
            var file = FileById(BinaryPrimitives.ReadUInt32LittleEndian(item));
            if (file == Failed) continue;
            bool last;
            try { last = file.Keep(BinaryPrimitives.ReadUInt32LittleEndian(item[4..])); }
            catch (Exception ex) when (ex is not SingularityException) { throw StorageErrors.Describe(ex, $"finishing '{file.Entry.Path}'"); }
            if (last && file.TryBeginCommit()) (ready ??= []).Add(file);
        }
        return ready;
    }

    /// <summary>Records the seals; returns the files they complete (every shard already written), for the caller to commit.</summary>
    private List<PartialFile>? OnFilesSealed(ReadOnlySpan<byte> body)
    {
        List<PartialFile>? ready = null;
        int count = ControlBatch.Count(body, 12, ControlMessageType.FilesSealed);
        for (int i = 0; i < count; i++)
        {
            var item = ControlBatch.Item(body, 12, i);
            var file = FileById(BinaryPrimitives.ReadUInt32LittleEndian(item));
            if (file == Failed) continue;
            if (!file.Seal(BinaryPrimitives.ReadUInt64LittleEndian(item[4..])))
                throw new ProtocolViolationException($"'{file.Entry.Path}' was sealed twice");
            if (file.TryBeginCommit()) (ready ??= []).Add(file);
        }
        return ready;
    }

    /// <summary>
    /// Commits files that a message on the control connection completed (a seal after the last shard, or the last
    /// kept shard after the seal) away from it, within the session's flush slots (so the session's end waits for
    /// them): on a pool thread, or on the session's flush threads once its flushes are slow, since a commit on such
    /// storage blocks as long and must not hold up the pool. Done on the control connection, these commits made it
    /// the receiver's bottleneck: the seals behind them came later still, and so the commits that followed were left
    /// to it too.
    /// </summary>
    private async Task CommitElsewhereAsync(List<PartialFile> files, CancellationToken cancellationToken)
    {
        await _flushSlots.WaitAsync(cancellationToken).ConfigureAwait(false);
        void CommitAll()
        {
            try
            {
                foreach (var file in files)
                {
                    if (_failure is not null) return;
                    Commit(file);
                }
            }
            catch (Exception ex)
            {
                Fail(ex);
            }
            finally
            {
                _flushSlots.Release();
            }
        }
        if (!(FlushesAreSlow && HandedToFlushWorkers(CommitAll))) ThreadPool.UnsafeQueueUserWorkItem(static commit => commit(), (Action)CommitAll, preferLocal: false);
    }

    /// <summary>The file with this id, once the chunk that holds it was accepted (shards, seals and kept shards before that are refused) and until it is committed; <see cref="Failed"/> for one that could not be written, which the caller skips.</summary>
    private PartialFile FileById(uint id)
    {
        var file = SlotOf(id);
        return file == Released ? throw new ProtocolViolationException($"file id {id} was already committed") : file;
    }

    /// <summary>Like <see cref="FileById"/>, but <see cref="Released"/> for a file already committed.</summary>
    private PartialFile SlotOf(uint id)
    {
        if (id >= (uint)_accepted)
            throw new ProtocolViolationException(id < (uint)_declaredEntries ? $"file id {id} was named before its manifest entry was accepted" : $"file id {id} does not name a file of this session");
        return Volatile.Read(ref _files)[id] ?? throw new ProtocolViolationException($"file id {id} does not name a file of this session");
    }

    /// <summary>
    /// Files the sender left out: could not read (FilesDropped), found gone since the scan (FilesVanished), or found
    /// changed while it read them (FilesWithdrawn, whatever of them arrived). Each is abandoned as a failed session
    /// abandons its files (a resumable partial stays for a later session), a withdrawn one once no shard of it is being
    /// written (<see cref="PartialFile.Withdraw"/>), and counts as settled, so the session can still finish; its shards
    /// that come after are acknowledged and dropped. Only the first kind stops the deletion. A dry run reads nothing to
    /// find changed.
    /// </summary>
    private void OnDropped(ReadOnlySpan<byte> body, ControlMessageType type)
    {
        int count = ControlBatch.Count(body, 4, type);
        bool withdrawn = type == ControlMessageType.FilesWithdrawn;
        uint offered = type switch { ControlMessageType.FilesVanished => WireFormat.CapabilityVanished, ControlMessageType.FilesWithdrawn => WireFormat.CapabilityWithdrawn, _ => 0 };
        if ((_options.Capabilities & offered) != offered) throw new ProtocolViolationException($"{type} to a receiver whose HelloReply did not offer to take it");
        if (withdrawn && _dryRun) throw new ProtocolViolationException("FilesWithdrawn in a dry run, which reads no file");
        for (int i = 0; i < count; i++)
        {
            uint id = BinaryPrimitives.ReadUInt32LittleEndian(ControlBatch.Item(body, 4, i));
            // A dry run settled its files at their acceptance; one the sender could not open still counts, to skip the deletion as a real send would.
            if (_dryRun && SlotOf(id) == Released)
            {
                // Once: each naming counts, and a file named again would drive the session's count of files below none.
                if (!(_droppedInDryRun ??= []).Add(id)) throw new ProtocolViolationException($"file id {id} was left out twice");
                CountDropped(type);
                continue;
            }
            var file = FileById(id);
            if (file == Failed) continue;
            try
            {
                if (!withdrawn) file.GiveUp();
                else if (file.Withdraw()) file.Abandon();
                else lock (_withdrawnWhileWritten) _withdrawnWhileWritten.Add(file);
            }
            catch (Exception ex) when (ex is not SingularityException) { throw StorageErrors.Describe(ex, $"giving up '{file.Entry.Path}'"); }
            CountDropped(type);
            Settle(file.Id);
            LinkedFileDropped(file, type);
        }
    }

    // A dry run's files the sender left out (its slots stay Released, as its other files' do), each counted once.
    private HashSet<uint>? _droppedInDryRun;

    private void CountDropped(ControlMessageType type)
    {
        Interlocked.Increment(ref _filesDropped);
        if (type == ControlMessageType.FilesDropped) Interlocked.Increment(ref _filesUnread);
    }

    /// <summary>Counts a file settled (committed, left in place, given up or failed) and gives its slot to <see cref="Released"/>, or to <paramref name="slot"/>.</summary>
    private void Settle(uint id, PartialFile? slot = null)
    {
        Interlocked.Increment(ref _filesCommitted);
        lock (_filesLock)
        {
            var files = Volatile.Read(ref _files);
            if (files[id]?.Xattrs is { } held) ReleaseXattrs(held);
            if (files[id] is { SumsHeld: > 0 } summed) Interlocked.Add(ref _sumsHeld, -summed.SumsHeld);
            files[id] = slot ?? Released;
        }
    }

    /// <summary>
    /// Gives up a file that could not be written, for a reason that concerns it alone (see
    /// <see cref="StorageErrors.ConcernsOneEntry"/>): what it holds is abandoned as a failed session abandons it (a
    /// resumable partial stays), it counts as settled, and the sender is told; the session goes on.
    /// </summary>
    private void FailFile(PartialFile file, SingularityException reason)
    {
        lock (_filesLock)
        {
            if (Volatile.Read(ref _files)[file.Id] != file) return;
        }
        try { file.Abandon(); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or SingularityException) { }
        Interlocked.Increment(ref _filesFailed);
        Settle(file.Id, Failed);
        ReportFailed(file.Id, reason);
    }

    /// <summary>Tells the sender which entry could not be written and why (EntryFailed; the reason names it), and keeps the first for the log; too many end the session.</summary>
    private void ReportFailed(uint id, SingularityException reason)
    {
        string message = ForSender(reason.Message);
        int count = Interlocked.Increment(ref _entriesFailed);
        if (reason is EntryConflictException { StopsDeletion: false }) Interlocked.Increment(ref _linksOfLeftOut);
        lock (_failedEntries)
        {
            if (count > MostFailedEntries)
                throw new SingularityException(ErrorCode.IoError, $"{count} entries could not be written, too many to go on; the first: {_failedEntries[0]}");
            if (_failedEntries.Count < ExtraneousEntries.MostFailuresNamed) _failedEntries.Add(message);
        }
        PostEntryFailed(id, reason.Code, message);
    }

    /// <summary>EntryFailed: the entry's id, then an Error's body (its code and the reason, which names the entry).</summary>
    private void PostEntryFailed(uint id, ErrorCode code, string reason)
    {
        byte[] error = ErrorMessage.Encode(code, reason);
        byte[] body = new byte[4 + error.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(body, id);
        error.CopyTo(body, 4);
        _control!.Post(ControlMessageType.EntryFailed, body);
    }

    /// <summary>A message for the sender, with the destination's own path left out: it names what is below it, relative to it.</summary>
    private string ForSender(string message) =>
        message.Replace(_guard.Root + Path.DirectorySeparatorChar, "", StringComparison.Ordinal).Replace(_guard.Root, ".", StringComparison.Ordinal);

    private void TryCommit(PartialFile file)
    {
        if (file.TryBeginCommit()) Commit(file);
    }

    /// <summary>Commits a file whose commit this caller began (or, in a session that delays its updates, makes it ready), and tells the sender.</summary>
    private void Commit(PartialFile file)
    {
        if (_delayUpdates && !_dryRun)
        {
            MakeReady(file);
            return;
        }
        if (!InCommit(file, file.Commit)) return;
        CountCommitted(file);
        Settle(file.Id);
        _control!.PostBatchItem(ControlMessageType.FilesCommitted, file.Id);
    }

    /// <summary>Runs <paramref name="step"/> of a file's commit: a failure of that file's own fails it alone (told to the sender), and false comes back; any other ends the session.</summary>
    private bool InCommit(PartialFile file, Action step)
    {
        try
        {
            step();
            return true;
        }
        catch (Exception ex) when (ex is not SingularityException or EntryConflictException)
        {
            var described = StorageErrors.Describe(ex, $"committing '{file.Entry.Path}'");
            if (!StorageErrors.ConcernsOneEntry(ex)) throw described;
            FailFile(file, described);
            return false;
        }
    }

    /// <summary>What a file in place adds to the session's counts: its bytes, and what of its owner, attributes and mode its file system refused.</summary>
    private void CountCommitted(PartialFile file)
    {
        Interlocked.Add(ref _bytesWritten, file.Entry.Size);
        if (file.OwnerNotSet) OwnerNotSet();
        if (file.XattrsNotSet) XattrsNotSet(file.Entry.Path);
        if (file.ModeNotSet) ModeNotSet(file.Entry.Path);
    }

    private async Task OnFinishAsync(int bodyLength)
    {
        if (bodyLength != 0) throw new ProtocolViolationException("Finish has a body");
        if (!ManifestAccepted || Volatile.Read(ref _filesCommitted) != _fileCount)
            throw new ProtocolViolationException("sender finished before every file was committed");
        _finishing = true;
        _lastStillWorking = _clock.ElapsedTicks;
        // rsync --delay-updates: the files go into place together, before what is deleted is decided (one that fails
        // here stops the deletion, as any failed entry does) and before the directories get their times.
        PlaceDelayed();
        // Before the directories get their times: deleting in them changes those. Directories only while no other
        // session is receiving (see RemovalGate), and no other starts until their modes and times are set too: a
        // directory removed could otherwise turn into a link before the walk that sets them.
        // A file gone since the scan does not stop it, as rsync's vanished files do not, nor one changed while it was
        // read, which rsync does not count as an error: its name is in the manifest, so what stands there stays.
        bool deleting = _deleteExtraneous && !DeletesBefore && DeletionAllowed;
        // Names asked for go whatever else was left out: each was asked for itself.
        bool named = _deleteNamed is { Count: > 0 };
        if (_dryRun)
        {
            // Nothing is removed, so no other session needs keeping out; the names go before SessionDone.
            if (named) DeleteNamed(removeDirectories: true);
            if (deleting) DeleteExtraneous(removeDirectories: true);
        }
        else
        {
            // After a deletion before the files too: no other session starts until the directories' modes and times are set.
            bool alone = (deleting || named || DeletesBefore) && _removals.TryBeginRemoving();
            try
            {
                if (named) DeleteNamed(alone);
                if (deleting) DeleteExtraneous(alone);
                ApplyDirectoryMetadata();
            }
            finally
            {
                if (alone) _removals.EndRemoving();
            }
        }
        // What a dry run would delete, or with --itemize-changes what was deleted (also a directory in the way of a
        // file, during the preparation).
        foreach (byte[] names in WouldDeleteMessage.Encode(_wouldDelete))
        {
            _control!.Post(ControlMessageType.WouldDelete, names);
            await _control.PaceAsync().ConfigureAwait(false);
        }
        // A limit on deletions adds what it left.
        byte[] done = new byte[_mostDeletions is null ? 24 : 28];
        BinaryPrimitives.WriteInt32LittleEndian(done, _filesCommitted);
        BinaryPrimitives.WriteInt32LittleEndian(done.AsSpan(4), _extraneous?.Deleted ?? 0);
        BinaryPrimitives.WriteInt64LittleEndian(done.AsSpan(8), Interlocked.Read(ref _bytesWritten));
        BinaryPrimitives.WriteInt32LittleEndian(done.AsSpan(16), _extraneous?.Failed ?? 0);
        BinaryPrimitives.WriteInt32LittleEndian(done.AsSpan(20), (_deletionRan ? SessionDoneDeleted : 0) | (_xattrsNotSet > 0 ? SessionDoneXattrsNotSet : 0) | (_modesNotSet > 0 ? SessionDoneModesNotSet : 0));
        if (_mostDeletions is not null) BinaryPrimitives.WriteInt32LittleEndian(done.AsSpan(24), _extraneous?.LeftByLimit ?? 0);
        _control!.Post(ControlMessageType.SessionDone, done);
        await _control.FlushAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Deletes what the manifest's directories (and the root, when a directory's contents were sent there) hold beyond
    /// what the manifest names, as rsync's --delete does, once every file is in place. Not after a file was left out
    /// (unless the sender said to ignore errors): as rsync, a send that could not read everything deletes nothing. The names' hashes were kept for this.
    /// </summary>
    private void DeleteExtraneous(bool removeDirectories)
    {
        _extraneous ??= NewExtraneous();
        _exclude?.ForgetDirectories();
        _extraneous.RemoveDirectories = removeDirectories;
        // Beside the files, what goes must not be renamed over what the source just put there (x over the source's x~).
        if (_backups is not null) _backups.NamedBySource = path => _names.Contains(NameHash(path));
        // A dry run's destination that a real session would create holds nothing to delete.
        if (_rootIsSent && !_guard.Planned(_guard.Root)) _extraneous.Clean(_guard.Root, "");
        foreach (var (_, path, entry) in _directories)
        {
            // A dry run's planned directory would be created empty: what stands there now (a link's target) is not its.
            // An implied one (relative paths) was sent only as the way to what is below it: what else it holds stays.
            if (_guard.Planned(path) || entry.Implied) continue;
            _extraneous.Clean(path, entry.Path);
            StillBusy();
        }
        _deletionRan = true;
        if (_backups is not null) _backups.NamedBySource = null;
        // Before the files (--delete-before), lanes may still read the names: they go with the session.
        if (_deletingBefore) return;
        _names.Clear();
        _names.TrimExcess();
    }

    /// <summary>
    /// Deletes what stands at each name the sender asked to delete (DeleteNamed), reached as the deletion reaches what
    /// it deletes: every directory on the way must be a real one (not a link) that this session did not plan; where
    /// the way is not there, neither is the name. A directory this session wrote into stays.
    /// </summary>
    private void DeleteNamed(bool removeDirectories)
    {
        _extraneous ??= NewExtraneous();
        _exclude?.ForgetDirectories();
        _extraneous.RemoveDirectories = removeDirectories;
        // The receiver's own directory may be reached through a link, as its user gave it (as the deletion's Clean takes
        // it); a directory a URL names was made without links, and one that became a link since is not gone through.
        // Looked at once, for every name.
        bool rootStands = !_guard.Planned(_guard.Root) && new DirectoryInfo(_guard.Root) is { Exists: true } root && (root.LinkTarget is null || _destination.Length == 0);
        if (rootStands)
        {
            foreach (string path in _deleteNamed!)
            {
                StillBusy();
                string full = _guard.FullPath(path);
                if (!RealDirectoriesOnTheWay(path) || _guard.Checked(full)) continue;
                _extraneous.RemoveNamed(full, path, withContents: _deleteExtraneous || _force);
            }
        }
        _deleteNamed = null;
    }

    /// <summary>
    /// Whether each directory above <paramref name="path"/>, below the destination, is a real directory, there now and
    /// not only planned by a dry run: looked at from the top down, so nothing beyond a link on the way is looked at.
    /// </summary>
    private bool RealDirectoriesOnTheWay(string path)
    {
        for (int slash = path.IndexOf('/'); slash > 0; slash = path.IndexOf('/', slash + 1))
        {
            string directory = _guard.FullPath(path[..slash]);
            if (_guard.Planned(directory) || new DirectoryInfo(directory) is not { Exists: true, LinkTarget: null }) return false;
        }
        return true;
    }

    /// <summary>
    /// What to delete: neither a name of the manifest nor a directory this session checked (a parent of an entry
    /// that a sender did not name itself): the session still sets modes and times below it, by path.
    /// </summary>
    private ExtraneousEntries NewExtraneous() =>
        new((relative, full) => _names.Contains(NameHash(relative)) || _guard.Checked(full), StillBusy, _exclude, _dryRun ? WouldDelete : null, _backups)
        {
            // With --itemize-changes, a real deletion names what it removed, as a dry run names what it would.
            Removed = _itemize && !_dryRun ? WouldDelete : null,
            // A destination reached through a link is the directory it leads to.
            Device = _oneFileSystem ? SpecialFiles.DeviceOf(_guard.Root, follow: true) : null,
            Most = _mostDeletions,
            RootMayBeLink = _destination.Length == 0,
        };

    /// <summary>Counts an entry the system would not give its owner (it arrived all the same), for the receiver's log.</summary>
    private void OwnerNotSet() => Interlocked.Increment(ref _ownersNotSet);

    /// <summary>Counts an entry the file system would not give its mode (it arrived all the same), for the log and the sender.</summary>
    private void ModeNotSet(string path)
    {
        Interlocked.Increment(ref _modesNotSet);
        Interlocked.CompareExchange(ref _firstModeNotSet, path, null);
    }

    /// <summary>A dry run's deletion names what it would remove, the first <see cref="WouldDeleteMessage.MostNamed"/> of it; the rest is counted.</summary>
    private void WouldDelete(string path)
    {
        if (_wouldDelete.Count == WouldDeleteMessage.MostNamed || _wouldDeleteBytes > WouldDeleteMessage.MostBytes) return;
        int bytes = System.Text.Encoding.UTF8.GetByteCount(path);
        // The first that does not fit ends the naming, so the names are always the first ones.
        if ((_wouldDeleteBytes += bytes) > WouldDeleteMessage.MostBytes) return;
        _wouldDelete.Add(path);
    }

    /// <summary>
    /// Called often while deleting, and while reading files in place whole (seeding, --checksum): keeps this side's idle timer
    /// quiet and, about once a second, tells the sender (StillWorking) that the answer (SessionDone, or a chunk's
    /// acceptance) is coming, so that a long deletion or copy does not read as a receiver gone silent.
    /// </summary>
    private void StillBusy()
    {
        // A session that failed meanwhile (the receiver stopping, say) stops its walk here.
        if (_failure is not null) throw new OperationCanceledException("the session ended");
        Touch();
        if (!(_finishing || _deletingBefore || Volatile.Read(ref _readingInPlace) > 0) || _clock.ElapsedTicks - _lastStillWorking < _options.StillWorkingInterval.TotalSeconds * Stopwatch.Frequency) return;
        _lastStillWorking = _clock.ElapsedTicks;
        _control!.Post(ControlMessageType.StillWorking, []);
    }

    /// <summary>
    /// Gives a directory that stood there without its owner's write or search (made so by another tool: cp -a, tar)
    /// both, so that what goes below it can be written, as rsync opens such a directory for the transfer; its mode is
    /// set at the end (<see cref="ApplyDirectoryMetadata"/>). Another user's directory stays as it is, and what goes
    /// below it fails on its own, named.
    /// </summary>
    private static void OpenForWriting(string directory)
    {
        if (OperatingSystem.IsWindows()) return;
        const UnixFileMode Needed = UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        try
        {
            var mode = new DirectoryInfo(directory).UnixFileMode;
            if ((mode & Needed) != Needed) SpecialFiles.SetModeNotFollowing(directory, mode | Needed);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { }
    }

    /// <summary>
    /// Deepest first, after all files are in, so writing a child does not change a parent's mtime afterwards. A
    /// directory whose mode or time cannot be set (another user's) is reported to the sender, as rsync reports it,
    /// and the others are still set.
    /// </summary>
    private void ApplyDirectoryMetadata()
    {
        for (int i = _directories.Count - 1; i >= 0; i--)
        {
            var (id, path, entry) = _directories[i];
            try
            {
                // Never through a link a local user may have swapped in since the directory was checked: nothing is set then.
                // The owner first: a change of owner may clear mode bits.
                if (SpecialFiles.MayChangeOwners && entry.Owner is { } owner && !SpecialFiles.TrySetOwnerNotFollowing(path, owner)) OwnerNotSet();
                try
                {
                    if (DirectoryModeOf(entry, path) is { } mode && !OperatingSystem.IsWindows() && !SpecialFiles.SetModeNotFollowing(path, mode))
                        throw new EntryConflictException($"'{entry.Path}' became a link in the destination while it was being received; its mode and time were not set");
                }
                // Refused by its file system (FAT, a share that keeps none), not for want of rights: another user's stays a failure.
                catch (Exception ex) when (StorageErrors.RefusesModes(ex) && SpecialFiles.MayChangeMode(path))
                {
                    // Where modes are left to the receiver, what its file system gives is as good (more flags bit 14).
                    if (_keepModes) ModeNotSet(entry.Path);
                }
                if (!_omitDirectoryTimes) Directory.SetLastWriteTimeUtc(path, SourceScanner.FromNanoseconds(entry.MtimeNanoseconds));
            }
            catch (Exception ex) when (StorageErrors.ConcernsOneEntry(ex))
            {
                ReportFailed(id, StorageErrors.Describe(ex, $"setting the mode and time of '{entry.Path}'"));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw StorageErrors.Describe(ex, $"setting the mode and time of '{entry.Path}'");
            }
        }
    }

    /// <summary>
    /// The mode a directory entry is given at <paramref name="full"/>, always with its owner's write and search
    /// (<see cref="PartialFile.DirectoryMode"/>): the entry's; or, without modes kept (rsync --no-perms), the entry's
    /// bits less the umask for a directory this session made, as a new file takes them, and null for one that stood,
    /// which keeps its own.
    /// </summary>
    private UnixFileMode? DirectoryModeOf(ManifestEntry entry, string full) =>
        _keepModes ? PartialFile.DirectoryMode(entry.Mode)
        : _guard.Created(full) ? PartialFile.DirectoryMode(entry.Mode & ~SpecialFiles.Umask) : null;

    /// <summary>A directory this session made, where modes are not kept, takes <paramref name="mode"/> as far as its file system takes it (rsync --no-perms).</summary>
    private static void GiveMadeDirectoryItsMode(string full, UnixFileMode mode)
    {
        if (OperatingSystem.IsWindows()) return;
        try
        {
            SpecialFiles.SetModeNotFollowing(full, mode);
        }
        catch (Exception ex) when (StorageErrors.RefusesModes(ex)) { }
    }

    /// <summary>Records the first failure, tells the sender, and tears the connections down; idempotent.</summary>
    private void Fail(Exception ex)
    {
        var error = ex switch
        {
            SingularityException known => known,
            OperationCanceledException => new TransferAbortedException(ErrorCode.Cancelled, "the receiver is shutting down"),
            _ => StorageErrors.Describe(ex, "receiving"),
        };
        if (Interlocked.Exchange(ref _failed, 1) != 0) return;
        _failure = error;
        try
        {
            if (error.Code != ErrorCode.ConnectionLost) _control?.Post(ControlMessageType.Error, ErrorMessage.Encode(error.Code, ForSender(error.Message)));
        }
        catch (Exception) { }
        _ = AbortSoonAsync();
    }

    /// <summary>Gives the Error message a moment to leave before the connections are cut.</summary>
    private async Task AbortSoonAsync()
    {
        try { await _control!.FlushAsync().WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false); }
        catch (Exception) { }
        _cts.Cancel();
        _control?.Connection.Abort();
        lock (_laneConnections)
        {
            foreach (var lane in _laneConnections) lane.Abort();
        }
    }

    private async Task<ReceiveResult> FinishAsync()
    {
        // The control loop, which alone links, has ended.
        _linkDests?.Dispose();
        Task[] lanes;
        lock (_laneConnections)
        {
            if (_failure is null)
                foreach (var lane in _laneConnections) lane.CompleteWrites();
            _joinClosed = true;
            lanes = [.. _laneTasks];
        }
        if (_failure is not null)
        {
            _cts.Cancel();
            lock (_laneConnections)
                foreach (var lane in _laneConnections) lane.Abort();
        }
        try
        {
            // A sender closes its lanes once it has SessionDone; one that does not is cut off.
            await Task.WhenAll(lanes).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            lock (_laneConnections)
                foreach (var lane in _laneConnections) lane.Abort();
            await Task.WhenAll(lanes).ConfigureAwait(false);
        }
        await WhenFlushesEndAsync().ConfigureAwait(false);
        // No lane writes any more: a file withdrawn while one did, and whose write did not end (it failed), goes now.
        lock (_withdrawnWhileWritten)
            foreach (var file in _withdrawnWhileWritten)
            {
                try { file.AbandonIfWithdrawn(); }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or SingularityException) { }
            }
        if (_failure is not null)
        {
            // Verified shards stay on disk with their journal: the next session for the same source resumes from them.
            // One file that cannot be abandoned cleanly must not keep the others open: each gives back its handles
            // and its place in the receiver's hold budget, which outlives this session.
            foreach (var file in Volatile.Read(ref _files))
            {
                if (file is null || file == Released || file == Failed) continue;
                try { file.Abandon(); }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or SingularityException) { }
            }
            AbandonDelayed();
        }
        await _control!.DisposeAsync().ConfigureAwait(false);
        ILaneConnection[] connections;
        lock (_laneConnections) connections = [.. _laneConnections];
        foreach (var lane in connections) await lane.DisposeAsync().ConfigureAwait(false);
        await _cts.CancelAsync().ConfigureAwait(false);
        return new ReceiveResult
        {
            SessionId = Id.ToString(),
            Remote = Remote,
            Destination = _destination,
            FilesLinked = _filesLinked,
            FilesCompared = _filesCompared,
            FilesCopied = _filesCopied,
            Notices = [.. _notices],
            Files = _filesCommitted - _filesDropped - _filesFailed,
            FilesUnchanged = _filesUnchanged,
            FilesNotSent = _filesDropped,
            EntriesFailed = _entriesFailed,
            WriteFailures = [.. _failedEntries],
            DryRun = _dryRun,
            OwnersNotSet = _ownersNotSet,
            DevicesSkipped = _devicesSkipped,
            XattrsNotSet = _xattrsNotSet,
            FirstXattrsNotSet = _firstXattrsNotSet,
            ModesNotSet = _modesNotSet,
            FirstModeNotSet = _firstModeNotSet,
            EntriesDeleted = _extraneous?.Deleted ?? 0,
            EntriesNotDeleted = _extraneous?.Failed ?? 0,
            EntriesLeftByLimit = _extraneous?.LeftByLimit ?? 0,
            DeletionFailures = _extraneous?.Failures ?? [],
            Bytes = Interlocked.Read(ref _bytesWritten),
            Elapsed = _clock.Elapsed,
            Cipher = Keys.Suite,
            Error = _failure,
        };
    }

    /// <summary>Ends the session because the receiver is stopping.</summary>
    public void Cancel() => Fail(new TransferAbortedException(ErrorCode.Cancelled, "the receiver is shutting down"));

    private static SingularityException PeerError(ReadOnlySpan<byte> body)
    {
        var (code, message) = ErrorMessage.Decode(body);
        return new TransferAbortedException(code, $"the sender ended the session: {message}");
    }
}
