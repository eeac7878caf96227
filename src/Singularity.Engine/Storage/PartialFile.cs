using System.Collections.ObjectModel;
using System.IO.Hashing;
using System.Text;
using Microsoft.Win32.SafeHandles;
using Singularity.Engine.Integrity;
using Singularity.Engine.Protocol;

namespace Singularity.Engine.Storage;

/// <summary>
/// One incoming file: shards are written at their offsets into a hidden, preallocated temporary file beside the
/// target; once every shard is verified and the sender's whole-file digest matches, it is flushed and renamed into
/// place. Files of more than one shard keep a <see cref="ResumeJournal"/> so a later session sends only what is
/// missing. A shard is claimed before it is written, so a duplicate is never written twice and the handle is closed
/// only after the last write.
/// </summary>
/// <remarks>
/// Two sessions may receive the same path at once, so a session must never rename another's temporary file into
/// place. A resumable file's temporary name (<c>.NAME.sglty-part</c>) is fixed, so the next session finds it: the
/// session holds it and its journal open, and locked, from the first write to the rename, and another session that
/// meets them locked is refused as busy. Any other file's name also carries the session
/// (<c>.NAME.SESSION.sglty-part</c>), so it is never shared; it is locked the same way, which keeps cleaning partials
/// away from it until its commit.
/// </remarks>
internal sealed class PartialFile
{
    /// <summary>Permission bits only: setuid, setgid and sticky bits from a peer are never applied.</summary>
    internal const UnixFileMode SafeModeBits = (UnixFileMode)0x1FF;

    /// <summary>
    /// The mode a receiver gives a directory: its permission bits with the owner's write and search, so later sessions
    /// can still write below it, and its sticky bit, which only restricts (without it a shared 1777 directory would
    /// arrive open for anyone to delete others' files in).
    /// </summary>
    internal static UnixFileMode DirectoryMode(UnixFileMode mode) => (mode & (SafeModeBits | UnixFileMode.StickyBit)) | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    public const string PartSuffix = ".sglty-part";

    /// <summary>Journal records are written in groups, after one flush of the data they claim.</summary>
    private const int JournalBatch = 16;
    private static readonly TimeSpan JournalInterval = TimeSpan.FromSeconds(1);

    private readonly Lock _lock = new();
    // Held across a journal flush (the data's fsync, then the append of the records it covers), and by Finish and
    // Abandon, which close the handle; lanes claiming and completing shards take only _lock meanwhile, so they never
    // wait for the disk. Null for a file without a journal, which is flushed once, after its last write. A tree of
    // millions of small files holds one of these objects per file, so each field counts.
    private readonly Lock? _flushLock;
    private readonly int _shardSize;
    private readonly bool _durable;
    private readonly bool _preallocate;
    private readonly bool _applyMode;
    // A sparse session's file may end in a hole, which no write reached: its length is set after the last write.
    private readonly bool _sparse;
    // The boxed digest of the last shard as a hole, once a hole for it arrived (HoleDigest).
    private object? _lastHole;
    private readonly IReadOnlyDictionary<int, ulong> _offered;
    private readonly InPlaceBasis? _inPlace;
    private readonly ulong _session;
    // Records waiting for the next flush, under _lock; null for a file that keeps no journal. A flush takes the list
    // and leaves a new one: one small allocation per group of shards.
    private List<(int Index, ulong Digest)>? _unjournaled;
    private SafeFileHandle? _handle;
    private FileStream? _stream;
    private ResumeJournal? _journal;
    private DateTime _lastJournal;
    // Claimed shards and verified digests, from the first shard claimed or kept to the commit.
    private ShardTable? _shards;
    private int _verified;
    private ulong? _sealedDigest;
    private bool _written;
    private bool _flushing;
    // A journal flush or append failed: nothing more is journaled, and the file is never finished in this session.
    private bool _journalFailed;
    private bool _committing;
    private bool _mtimeApplied;
    // Where the file waits to go into place at the session's end (rsync --delay-updates): the device and inode it was
    // written to, which its commit finds at its name again.
    private (ulong Device, ulong Inode)? _waitingAs;
    private readonly OpenFileBudget? _holds;
    private bool _holding;
    private readonly OpenFileBudget? _writing;
    private bool _inWriting;
    private bool _givenUp;
    // Shards claimed and being written (TryClaim until CompleteShard or ReleaseClaim); a file withdrawn meanwhile is
    // abandoned by the last of them (_abandonWhenWritten), not under their feet.
    private int _writesInFlight;
    private bool _abandonWhenWritten;

    // holds: bounds the finished files held open until their commit; null holds every one.
    // writing: bounds the files open for writing; null leaves them unbounded.
    // offerLimit: the most journal records this file may offer; a journal holding more is not read, and the file
    // starts afresh.
    // sparse: shards may arrive as holes, and the file is not preallocated (the caller passes preallocate false).
    // inPlace: the file is written where it stands, not beside it (rsync --inplace), and offers what the standing
    // file holds; it keeps no journal and is never renamed. Null for a file written beside its name.
    public PartialFile(uint id, ManifestEntry entry, string finalPath, int shardSize, bool durable, ulong session, bool preallocate = true, bool applyMode = true, OpenFileBudget? holds = null, OpenFileBudget? writing = null, long offerLimit = long.MaxValue, bool sparse = false, InPlaceBasis? inPlace = null)
    {
        _inPlace = inPlace;
        _sparse = sparse;
        _applyMode = applyMode;
        _holds = holds;
        _writing = writing;
        Id = id;
        Entry = entry;
        FinalPath = finalPath;
        _shardSize = shardSize;
        _durable = durable;
        _session = session;
        ShardCount = Digests.ShardCount(entry.Size, shardSize);
        if (Resumable)
        {
            _flushLock = new();
            _unjournaled = new(JournalBatch);
        }
        // A file of one shard is written in one call: reserving its space first is a second system call for nothing.
        _preallocate = preallocate && ShardCount > 1;
        _written = ShardCount == 0;
        // Preallocation reserves space without setting the length, so a partial is as long as its furthest write;
        // a record for bytes beyond that length is not trusted.
        _offered = inPlace is not null ? inPlace.Offers
            : Resumable && new FileInfo(TempPath) is { Exists: true, LinkTarget: null } part && part.Length <= entry.Size
                && ResumeJournal.MostRecords(JournalPath) <= offerLimit
            ? ResumeJournal.Load(JournalPath, entry.Size, entry.MtimeNanoseconds, shardSize, ShardCount)
                .Where(r => (long)r.Key * shardSize + Digests.ShardLength(entry.Size, shardSize, r.Key) <= part.Length)
                .ToDictionary()
            : ReadOnlyDictionary<int, ulong>.Empty;
    }

    public uint Id { get; }
    public ManifestEntry Entry { get; }
    public string FinalPath { get; }
    // The names below are built when needed rather than kept: they are wanted at the open and the commit only.
    public string TempPath => _inPlace is not null ? FinalPath : Resumable ? ResumablePath : TemporaryPath(_session);
    public string JournalPath => ResumeJournal.PathFor(TempPath);

    /// <summary>Where a resumable partial of this file lives; the same as <see cref="TempPath"/> when this one is resumable.</summary>
    public string ResumablePath => TemporaryPath(FinalPath, null);

    /// <summary>Where a resumable partial of the file that goes to <paramref name="finalPath"/> lives.</summary>
    public static string ResumablePathFor(string finalPath) => TemporaryPath(finalPath, null);

    /// <summary>
    /// Removes the resumable partial and journal an earlier, larger version of a file left under its name, when the
    /// file now arriving is too small to resume (one shard at most): that partial can never be resumed, and would
    /// otherwise stay beside the file for good. Each only while holding its lock; one a session holds stays, and
    /// then this returns true: a partial stands at the resumable name.
    /// </summary>
    public static bool RemoveStaleResumable(string finalPath)
    {
        string partial = ResumablePathFor(finalPath);
        bool stays = RemoveLeftover(partial, null);
        RemoveLeftover(ResumeJournal.PathFor(partial), null);
        return stays;
    }

    private string TemporaryPath(ulong? session) => TemporaryPath(FinalPath, session);

    private static string TemporaryPath(string finalPath, ulong? session) =>
        Path.Join(Path.GetDirectoryName(finalPath.AsSpan()), TemporaryName(Path.GetFileName(finalPath), session));

    public int ShardCount { get; }
    public bool Committed { get; private set; }

    /// <summary>The file could not be opened for its first shard, for a reason that concerns it alone (see <see cref="StorageErrors.ConcernsOneEntry"/>); nothing of it was written.</summary>
    public bool OpenFailed { get; private set; }

    /// <summary>
    /// A file of one shard is all or nothing: no journal. Without flushes (--no-fsync) a journal record could outlive
    /// the data it claims in a power failure, so there is no journal either.
    /// </summary>
    public bool Resumable => ShardCount > 1 && _durable && _inPlace is null;

    /// <summary>Written where it stands (rsync --inplace), rather than beside its name and renamed into place.</summary>
    public bool InPlace => _inPlace is not null;

    /// <summary>Of this file's bytes, those the file it is written into holds already, taking no new space.</summary>
    public long HeldInPlace => _inPlace is { } basis ? Math.Min(basis.Length, Entry.Size) : 0;

    /// <summary>Shards a previous session left verified on disk, offered to the sender, which keeps those its source still matches.</summary>
    public IReadOnlyDictionary<int, ulong> Offered => _offered;

    /// <summary>The partial was seeded in this session from the version at the file's name (<see cref="BasisSeed"/>), and its offers are that version's shards.</summary>
    public bool FromBasis { get; init; }

    /// <summary>
    /// Bytes of the basis at <see cref="FinalPath"/> that the sums sent for this file cover (BasisSums), from which its
    /// patched shards may copy; 0 where none were sent, and a patched shard of it is refused.
    /// </summary>
    public long PatchCoverage { get; set; }

    /// <summary>The size of the blocks those sums are of: a patch copies whole blocks alone.</summary>
    public int PatchBlockSize { get; set; }

    /// <summary>Bytes of the sender's bound on sums that this file's take (<see cref="BlockSums.SenderHolds"/>), until it settles.</summary>
    public long SumsHeld => PatchCoverage == 0 ? 0 : BasisBlocks.BytesFor((int)(PatchCoverage / PatchBlockSize));

    public int ExpectedLength(uint index) => Digests.ShardLength(Entry.Size, _shardSize, (int)index);

    /// <summary>
    /// The digest of shard <paramref name="index"/> as a hole. A shorter last shard's is computed once per file, so
    /// that copies of its hole (a few bytes each on the wire) cannot make the receiver hash megabytes of zeros each.
    /// </summary>
    public ulong HoleDigest(HoleDigests holes, uint index)
    {
        int length = ExpectedLength(index);
        if (length == _shardSize) return holes.Of(length);
        if (Volatile.Read(ref _lastHole) is ulong known) return known;
        ulong digest = holes.Of(length);
        Volatile.Write(ref _lastHole, digest);
        return digest;
    }

    // Shards claimed by a patch being written, whose bytes are not checked yet.
    private HashSet<uint>? _patching;

    /// <summary>Reserves a shard for writing; false if it was already claimed (a duplicate). Opens the file on first use.</summary>
    public bool TryClaim(uint index, out SafeFileHandle handle) => TryClaim(index, out handle, out _);

    /// <summary>
    /// As <see cref="TryClaim(uint, out SafeFileHandle)"/>; with <paramref name="patch"/>, the claim is a patch's, whose
    /// bytes are checked only once written, and which may yet be released (<see cref="ReleaseClaim"/>): until it is
    /// completed or released, a copy of the shard that finds it claimed is told so (<paramref name="beingPatched"/>),
    /// and must not be acknowledged, as the patch's outcome answers for the shard.
    /// </summary>
    public bool TryClaim(uint index, out SafeFileHandle handle, out bool beingPatched, bool patch = false)
    {
        lock (_lock)
        {
            handle = null!;
            beingPatched = false;
            if (Committed || _written || _givenUp) return false;
            if (!Claim(index))
            {
                beingPatched = _patching?.Contains(index) == true;
                return false;
            }
            if (patch) (_patching ??= []).Add(index);
            _writesInFlight++;
            if (_handle is null)
            {
                TakeWritingPlace();
                try
                {
                    Open();
                }
                catch (Exception ex) when (StorageErrors.ConcernsOneEntry(ex))
                {
                    // Nothing of it was written: the session may give this file up alone (OpenFailed), and every
                    // later shard of it is taken for a duplicate rather than opening it again.
                    _givenUp = OpenFailed = true;
                    _writesInFlight--;
                    throw;
                }
            }
            handle = _handle!;
            return true;
        }
    }

    /// <summary>
    /// A file being written counts against its session's limit, which only the sender can exceed, and against the
    /// receiver's, which its sessions share: a sender refused for the latter is told the receiver is busy, and retries.
    /// The place is given back once the file is finished or abandoned. A file whose open failed keeps its place until
    /// the session abandons it.
    /// </summary>
    private void TakeWritingPlace()
    {
        if (_inWriting || _writing is null) return;
        if (!_writing.TryTake(out bool receiverFull))
        {
            throw receiverFull
                ? new SingularityException(ErrorCode.Busy, "the receiver has as many files open for writing as its open-file limit allows; try again later")
                : new ProtocolViolationException($"sender holds more than {_writing.Limit} files open at once", ErrorCode.LimitExceeded);
        }
        _inWriting = true;
    }

    /// <summary>Gives back this file's place among the files being written; the caller holds _lock.</summary>
    private void StopWriting() => GiveBack(ref _inWriting, _writing);

    /// <summary>Gives back a place this file took in <paramref name="budget"/>, once, if <paramref name="taken"/>.</summary>
    private static void GiveBack(ref bool taken, OpenFileBudget? budget)
    {
        if (!taken) return;
        taken = false;
        budget?.Return();
    }

    /// <summary>Counts an offered shard the sender confirmed as still matching its source; true if it completed the file.</summary>
    public bool Keep(uint index)
    {
        lock (_lock)
        {
            if (!_offered.TryGetValue((int)index, out ulong digest))
                throw new ProtocolViolationException($"shard {index} of '{Entry.Path}' was kept but never offered");
            if (Committed || _written || _givenUp || !Claim(index)) return false;
            _shards!.Set((int)index, digest);
            // Its bytes were flushed by the session that journaled them, so its record may be written at once. A
            // file written in place keeps no journal: its shards are where they stand.
            _unjournaled?.Add(((int)index, digest));
            if (++_verified < ShardCount) return false;
        }
        Finish();
        return true;
    }

    /// <summary>
    /// Gives back the claim of a patch's shard (<see cref="TryClaim(uint, out SafeFileHandle, out bool, bool)"/>) whose
    /// bytes, once written, failed their check (its basis changed meanwhile): its copy asked for again is written as a
    /// first one.
    /// </summary>
    public void ReleaseClaim(uint index)
    {
        lock (_lock)
        {
            _patching?.Remove(index);
            _shards!.Release((int)index);
            if (!WrittenWhileWithdrawn()) return;
        }
        Abandon();
    }

    /// <summary>Counts a write in flight ended; true for the last one of a file withdrawn meanwhile, whose caller then abandons it. The caller holds _lock.</summary>
    private bool WrittenWhileWithdrawn()
    {
        if (--_writesInFlight > 0 || !_abandonWhenWritten) return false;
        _abandonWhenWritten = false;
        return true;
    }

    /// <summary>Records a written shard and journals it in groups; true when it was the last one, and the caller must then <see cref="FinishWriting"/>.</summary>
    public bool CompleteShard(uint index, ulong digest)
    {
        bool abandon = false;
        lock (_lock)
        {
            _patching?.Remove(index);
            // Withdrawn while this shard was written: nothing more is recorded, and the last write abandons it.
            if (_givenUp)
            {
                if (!WrittenWhileWithdrawn()) return false;
                abandon = true;
            }
            else
            {
                _shards!.Set((int)index, digest);
                _unjournaled?.Add(((int)index, digest));
                // The last shard's write stays in flight until FinishWriting has flushed and closed or held the file.
                if (++_verified == ShardCount) return true;
                _writesInFlight--;
                // One lane flushes at a time, and the file's other lanes go on writing; what they complete meanwhile
                // waits for the next flush.
                if (_journal is null || _flushing || (_unjournaled!.Count < JournalBatch && DateTime.UtcNow - _lastJournal <= JournalInterval)) return false;
                _flushing = true;
            }
        }
        if (abandon)
        {
            Abandon();
            return false;
        }
        try
        {
            lock (_flushLock!) AppendJournal(flushFirst: true);
        }
        finally
        {
            lock (_lock) _flushing = false;
        }
        return false;
    }

    /// <summary>
    /// After the last shard was recorded: flushes the file and holds or closes it (<see cref="Finish"/>); it no longer
    /// counts among the files being written. A withdrawal meanwhile waits for it, and is carried out here.
    /// </summary>
    public void FinishWriting()
    {
        try
        {
            Finish();
        }
        finally
        {
            bool abandon;
            lock (_lock) abandon = WrittenWhileWithdrawn();
            if (abandon) Abandon();
        }
    }

    /// <summary>
    /// Appends every waiting record; with <paramref name="flushFirst"/>, only after flushing the data they claim
    /// (otherwise the caller flushed it, or an earlier session did, for shards kept from it): a record never runs
    /// ahead of its bytes. The caller holds the flush lock, or is opening the journal, when no flush can run. After a
    /// failed flush or append nothing more is appended, and the file is never finished: the kernel may report lost
    /// data to one flush only, so a later flush that succeeds proves nothing. The journal stays open, and locked, so
    /// no other session takes it over meanwhile.
    /// </summary>
    private void AppendJournal(bool flushFirst)
    {
        ResumeJournal journal;
        SafeFileHandle? handle;
        List<(int Index, ulong Digest)> group;
        lock (_lock)
        {
            // A flush that comes after Finish finds the handle gone: Finish journaled every record, or failed.
            handle = _handle;
            if (_journalFailed || _journal is null || _unjournaled is not { Count: > 0 } || (flushFirst && handle is null)) return;
            journal = _journal;
            group = _unjournaled;
            _unjournaled = new(JournalBatch);
        }
        try
        {
            if (flushFirst)
            {
                BeforeJournalFlush?.Invoke(group.Count);
                RandomAccess.FlushToDisk(handle!);
            }
            journal.Append(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(group));
        }
        catch
        {
            lock (_lock) _journalFailed = true;
            throw;
        }
        lock (_lock) _lastJournal = DateTime.UtcNow;
    }

    /// <summary>For tests: runs before each journal flush on this thread, with the number of records it covers.</summary>
    [ThreadStatic]
    internal static Action<int>? BeforeJournalFlush;

    /// <summary>
    /// After the last shard: only this caller can reach here, so no write is in progress on the handle. The file no
    /// longer counts as one being written. It keeps its handle (and a resumable one its journal), and their locks,
    /// until the commit, within the session's budget of held files.
    /// </summary>
    private void Finish()
    {
        // A flush in progress still uses the handle this closes.
        _flushLock?.Enter();
        try
        {
            FinishUnderFlushLock();
        }
        finally
        {
            _flushLock?.Exit();
        }
    }

    /// <summary>The body of <see cref="Finish"/>, under the flush lock when the file has one.</summary>
    private void FinishUnderFlushLock()
    {
        SafeFileHandle? handle;
        FileStream? stream;
        bool keep;
        lock (_lock)
        {
            // The lane whose flush failed is ending the session; its data may be lost, so the file is left to Abandon.
            if (_journalFailed) throw new IOException($"an earlier flush of '{Entry.Path}' failed");
            handle = _handle;
            _holding = handle is not null && HoldUntilRename && (_holds?.TryTake() ?? true);
            // A file written in place stays held (and locked) until its commit whatever the budget: what it holds is
            // what the commit vouches for.
            keep = _holding || (handle is not null && _inPlace is not null);
            stream = keep ? null : _stream;
            _handle = null;
            if (!keep) _stream = null;
        }
        try
        {
            if (handle is not null)
            {
                if (_sparse && RandomAccess.GetLength(handle) < Entry.Size) RandomAccess.SetLength(handle, Entry.Size);
                // A held file gets its mtime through the open handle, after the last write (a write would move it
                // again) and before the flush, so it is as durable as the data; it stays locked until the commit, so
                // cleaning partials never removes it. A file beyond the hold budget is closed here and keeps a fresh
                // mtime until its commit, so that cleaning partials by age never takes it for an old leftover. The
                // mode waits for the commit: a partial left by a failed session must stay private and writable for
                // the session that resumes it.
                // A file written in place gets its length and mtime at its commit, once its digest is checked.
                if (keep && _inPlace is null)
                {
                    SpecialFiles.SetModified(handle, Entry.MtimeNanoseconds);
                    _mtimeApplied = true;
                }
                if (_durable)
                {
                    RandomAccess.FlushToDisk(handle);
                    // The data is on disk: its last records may follow, so a session that ends before the commit
                    // leaves a journal that vouches for every shard.
                    AppendJournal(flushFirst: false);
                }
            }
        }
        finally
        {
            stream?.Dispose();
            lock (_lock)
            {
                if (!keep)
                {
                    _journal?.Dispose();
                    _journal = null;
                }
                _unjournaled?.Clear();
                // Closed, or now counted among the held files.
                StopWriting();
            }
        }
        // Only now may a seal commit the file: never before its data is flushed.
        lock (_lock) _written = true;
    }

    /// <summary>Gives back this file's place in the hold budget once its held handle is closed.</summary>
    private void StopHolding() => GiveBack(ref _holding, _holds);

    /// <summary>Whether a file may be renamed while open: on Windows an open file without delete sharing cannot be.</summary>
    private static bool HoldUntilRename => !OperatingSystem.IsWindows();

    /// <summary>Records the sender's whole-file digest; false if one was already given.</summary>
    public bool Seal(ulong digest)
    {
        lock (_lock)
        {
            if (_sealedDigest.HasValue) return false;
            _sealedDigest = digest;
            return true;
        }
    }

    /// <summary>True once, for the caller that must commit: every shard written and the seal received.</summary>
    public bool TryBeginCommit()
    {
        lock (_lock)
        {
            if (!_written || !_sealedDigest.HasValue || _committing || _givenUp) return false;
            _committing = true;
            return true;
        }
    }

    /// <summary>Whether the commit could not give the file its entry's owner (see SpecialFiles.TrySetOwner); it was committed all the same.</summary>
    public bool OwnerNotSet { get; private set; }

    /// <summary>The extended attributes the commit gives the file (rsync -X); null where the session keeps none.</summary>
    public ExtendedAttributes? Xattrs { get; set; }

    /// <summary>Whether the commit could not give the file all its <see cref="Xattrs"/>; it was committed all the same.</summary>
    public bool XattrsNotSet { get; private set; }

    /// <summary>
    /// Whether the file system refused the file its entry's mode (FAT, exFAT, a share that keeps none); it was committed
    /// all the same, as rsync commits it, with the mode the file system gives.
    /// </summary>
    public bool ModeNotSet { get; private set; }

    /// <summary>
    /// Gives the file <paramref name="mode"/> (through <paramref name="handle"/> where it is held). A refusal counts as
    /// <see cref="ModeNotSet"/> where the session keeps modes; where it does not, the file system's own mode is as good.
    /// </summary>
    private void SetMode(SafeFileHandle? handle, string path, UnixFileMode mode)
    {
        if (OperatingSystem.IsWindows()) return;
        try
        {
            if (handle is not null) File.SetUnixFileMode(handle, mode);
            else File.SetUnixFileMode(path, mode);
        }
        catch (Exception ex) when (StorageErrors.RefusesModes(ex))
        {
            ModeNotSet = _applyMode;
        }
    }

    /// <summary>
    /// The mode of a file whose session keeps no modes (rsync --no-perms): that of the file it replaces at
    /// <paramref name="finalPath"/>, or, for a new one, the entry's within this process's umask.
    /// </summary>
    private UnixFileMode ModeNotKept(string finalPath)
    {
        var standing = new FileInfo(finalPath);
        return standing.LinkTarget is null && standing.Exists ? standing.UnixFileMode & SafeModeBits : Entry.Mode & SafeModeBits & ~SpecialFiles.Umask;
    }

    /// <summary>Where what stands at the file's name goes before the file takes it (rsync --backup); null to replace it.</summary>
    public Backups? Backups { get; init; }

    /// <summary>Checks the whole-file digest, applies mode and mtime, and renames the file into place (keeping what stood there first, with <see cref="Backups"/>).</summary>
    public void Commit()
    {
        FileStream? held;
        lock (_lock)
        {
            held = _stream;
            _stream = null;
        }
        if (_inPlace is not null)
        {
            try
            {
                CommitInPlace(held);
            }
            finally
            {
                // Locked by this session, not by .NET, which would let go of its own lock at the close.
                SpecialFiles.Unlock(held?.SafeFileHandle);
                held?.Dispose();
                StopHolding();
            }
            return;
        }
        FileStream? journalLock = null, locked = null;
        SafeFileHandle? own = null;
        string temp = TempPath;
        try
        {
            // Not held since its last write (every shard kept from an earlier session's partial, the hold budget was
            // spent, or on Windows), it was open to other sessions meanwhile. Its journal, then the partial, are locked
            // now, in the order a session writing the file takes them, and the journal must still vouch for every
            // shard this commit counts as verified.
            if (held is null && Resumable)
            {
                try
                {
                    journalLock = ResumeJournal.LockAndLoad(JournalPath, Entry.Size, Entry.MtimeNanoseconds, _shardSize, ShardCount, out var journaled);
                    if (HoldUntilRename) locked = LockExisting(temp, Entry.Path);
                    if (!ResumeJournal.Vouches(journaled, _shards?.All() ?? []))
                        throw Changed(Entry.Path);
                }
                catch (IOException ex) when (StorageErrors.IsLocked(ex))
                {
                    throw InUse(Entry.Path);
                }
            }
            CheckWholeFile(journalLock);
            if (ShardCount == 0) CreateExclusive(temp, 0, Entry.Path).Dispose();
            // Not held, the partial could have been replaced meanwhile by anyone who may write its directory (by a link
            // to a file of the system's, say): what the commit changes, it changes through a handle opened without
            // following a link, on a regular file, the one this session wrote when it kept its identity.
            if (held is null && OperatingSystem.IsLinux())
            {
                own = SpecialFiles.OpenRegularNotFollowing(temp);
                if (own is null || (_waitingAs is { } wrote && SpecialFiles.VersionOf(own) is { } found && (found.Device, found.Inode) != wrote))
                    throw new FileNotFoundException("its partial file was replaced by another program (a link, or another file, stands at its name)");
            }
            var handle = held?.SafeFileHandle ?? own;
            // Read before a backup takes the file away: the one it replaces gives its mode where modes are not kept.
            var mode = _applyMode ? Entry.Mode & SafeModeBits : ModeNotKept(FinalPath);
            // Before the file takes its owner and mode: one whose backup cannot be made stays a private partial.
            Backups?.Keep(FinalPath, Entry.Path);
            // The owner first: a change of owner may clear mode bits.
            if (SpecialFiles.MayChangeOwners && Entry.Owner is { } owner)
                OwnerNotSet = !(handle is not null ? SpecialFiles.TrySetOwner(handle, owner) : SpecialFiles.TrySetOwnerNotFollowing(temp, owner));
            if (Xattrs is { } xattrs) XattrsNotSet = !(handle is not null ? xattrs.ApplyTo(handle) : xattrs.ApplyTo(temp));
            SetMode(handle, temp, mode);
            // Set when the last shard was written, unless the file was not held then: empty, every shard kept from a
            // partial, beyond the hold budget, or on Windows.
            if (!_mtimeApplied)
            {
                if (handle is not null) SpecialFiles.SetModified(handle, Entry.MtimeNanoseconds);
                else File.SetLastWriteTimeUtc(temp, SourceScanner.FromNanoseconds(Entry.MtimeNanoseconds));
            }
            try
            {
                SpecialFiles.Rename(temp, FinalPath);
            }
            catch (FileNotFoundException ex)
            {
                // The partial lies beside its final name: only it can be gone. Said without this side's paths, which
                // the sender reads.
                throw new FileNotFoundException("its partial file is gone (removed by another program)", ex);
            }
            Committed = true;
            // Windows cannot delete a file open without delete sharing; the partial is in place by now.
            journalLock?.Dispose();
            // The file is in place: a journal that cannot be deleted only lingers (sglty partials lists it), and must not
            // make a committed file count as failed.
            if (Resumable)
            {
                try { File.Delete(JournalPath); }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { }
            }
            _shards = null;
        }
        finally
        {
            held?.Dispose();
            own?.Dispose();
            locked?.Dispose();
            journalLock?.Dispose();
            // No flush can be using the journal: the file's Finish waited for the last one, and a later one finds
            // the handle gone.
            lock (_lock)
            {
                _journal?.Dispose();
                _journal = null;
            }
            StopHolding();
        }
    }

    /// <summary>
    /// Checks the sender's whole-file digest against the shards verified; on a mismatch the partial and its journal go
    /// (the journal cannot be trusted either: the next session starts this file afresh), and nothing is committed.
    /// </summary>
    private void CheckWholeFile(FileStream? journalLock)
    {
        ulong expected = _shards?.FileDigest() ?? Digests.File([]);
        if (expected == _sealedDigest!.Value) return;
        journalLock?.Dispose();
        TryDelete(TempPath);
        TryDelete(ResumeJournal.PathFor(TempPath));
        throw new IntegrityException($"'{Entry.Path}' failed its whole-file check; nothing was committed");
    }

    /// <summary>
    /// For a session that puts its files into place at its end (rsync --delay-updates): checks the whole-file digest
    /// now, as <see cref="Commit"/> does, and lets go of the file's handles, locks and place in the hold budget until
    /// <see cref="Commit"/>, which then takes them again as for a file not held (the journal must still vouch for
    /// every shard). What it holds stays the shards verified, so that a tree of any size holds no descriptor.
    /// </summary>
    public void CheckAndLetGo()
    {
        FileStream? held;
        lock (_lock)
        {
            held = _stream;
            _stream = null;
        }
        try
        {
            CheckWholeFile(journalLock: null);
            if (ShardCount == 0) return;
            // The file the commit must find at its name: one put there meanwhile is not this one.
            _waitingAs = (held is not null ? SpecialFiles.VersionOf(held.SafeFileHandle) : null) is { } opened ? (opened.Device, opened.Inode)
                : SpecialFiles.IdentityOf(TempPath) is { } named ? (named.Device, named.Inode) : null;
            // Its extended attributes now, so that they are not held in memory until the end (the sender counts them
            // settled at FilesCommitted); a partial is private until its mode, so they show nothing early.
            if (Xattrs is { } xattrs)
            {
                XattrsNotSet = !(held is not null ? xattrs.ApplyTo(held.SafeFileHandle) : xattrs.ApplyTo(TempPath));
                Xattrs = null;
            }
            // Its time waits for the commit, as a file not held keeps a fresh one until then: cleaning partials by age
            // (`sglty partials --clean --older-than`) must not take it, unlocked now, for an old leftover.
            if (held is not null && _mtimeApplied)
            {
                SpecialFiles.SetModified(held.SafeFileHandle, (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100);
                _mtimeApplied = false;
            }
        }
        finally
        {
            held?.Dispose();
            lock (_lock)
            {
                _journal?.Dispose();
                _journal = null;
            }
            StopHolding();
        }
    }

    /// <summary>The sender could not read this file and left it out: nothing more is written, and it is abandoned as a failed session would abandon it.</summary>
    public void GiveUp()
    {
        lock (_lock)
        {
            // The sender drops a file only when it could not open it, so before any of its shards: one it has sent,
            // kept or sealed is a protocol violation, and may already be on its way to its commit.
            if (_shards is not null || _sealedDigest.HasValue || _committing || _written && ShardCount > 0)
                throw new ProtocolViolationException($"'{Entry.Path}' was given up after some of it arrived");
            _givenUp = true;
        }
        Abandon();
    }

    /// <summary>
    /// The sender found the file changed while it read it (FilesWithdrawn), whatever of it arrived: no shard of it is
    /// written or kept after this, and it is abandoned as a failed session abandons it (its verified shards journaled,
    /// which a later session's offers the sender checks against the source as it then is). True when no shard of it is
    /// being written, and the caller abandons it now; else the last write under way does (or
    /// <see cref="AbandonIfWithdrawn"/>, at the session's end). A file sealed, or being committed, cannot be withdrawn.
    /// </summary>
    public bool Withdraw()
    {
        lock (_lock)
        {
            if (_sealedDigest.HasValue || _committing) throw new ProtocolViolationException($"'{Entry.Path}' was withdrawn after its seal");
            _givenUp = true;
            if (_writesInFlight == 0) return true;
            _abandonWhenWritten = true;
            return false;
        }
    }

    /// <summary>Abandons a file withdrawn while shards of it were being written, if the last of them did not: once the session's lanes have ended.</summary>
    public void AbandonIfWithdrawn()
    {
        lock (_lock)
        {
            if (!_abandonWhenWritten) return;
            _abandonWhenWritten = false;
        }
        Abandon();
    }

    /// <summary>
    /// After a failed session: flushes and journals what was verified so the next session resumes from it, or
    /// removes the temporary file of a file too small to resume.
    /// </summary>
    public void Abandon()
    {
        _flushLock?.Enter();
        try
        {
            lock (_lock)
            {
                if (Committed) return;
                try
                {
                    try
                    {
                        AppendJournal(flushFirst: true);
                    }
                    catch (IOException) { }
                    ReleaseReservation();
                }
                finally
                {
                    // Whatever failed above, the handles (and their locks) go now, not at finalization, or the next
                    // session for this path is refused as busy; and the hold budget, which outlives the session,
                    // gets this file's place back.
                    _journal?.Dispose();
                    _journal = null;
                    if (_inPlace is not null) SpecialFiles.Unlock(_stream?.SafeFileHandle);
                    _stream?.Dispose();
                    _stream = null;
                    _handle = null;
                    StopHolding();
                    StopWriting();
                }
                if (!Resumable && _inPlace is null) TryDelete(TempPath);
                // A copy of the version at its name of which this session claimed no shard: the next session seeds
                // it again, so it does not stay taking space (a sender that sent only a manifest would otherwise
                // leave a copy of every file it named). The journal first, in the order a session that resumes the
                // copy takes them: one that holds the journal keeps both, and one that has not taken it yet finds it
                // gone and ends as busy, so its sender retries (PROTOCOL §6.1). A file written in place is the file
                // at its name, left as written so far: neither is removed.
                else if (Resumable && FromBasis && _shards is null && !RemoveLeftover(JournalPath, null))
                    RemoveLeftover(TempPath, null);
            }
        }
        finally
        {
            _flushLock?.Exit();
        }
    }

    /// <summary>
    /// Gives back the space preallocated beyond what was written, for a partial kept for a later session: the
    /// reservation covers the whole declared file, and a transfer that failed early would otherwise hold all of it
    /// (a 512 MiB file with 10 MiB written kept 513 MiB on ext4). Truncating to the current length frees the blocks
    /// past it. A resumed partial is not preallocated again, so its remaining shards take space as they arrive.
    /// </summary>
    private void ReleaseReservation()
    {
        if (!_preallocate || _handle is null || !Resumable) return;
        try
        {
            RandomAccess.SetLength(_handle, RandomAccess.GetLength(_handle));
        }
        catch (Exception)
        {
            // Only a saving: the partial and its journal stay as they are.
        }
    }

    private bool Claim(uint index) => (_shards ??= new ShardTable(ShardCount)).TryClaim((int)index);

    /// <summary>Opens the temporary file: the existing one when resuming, else a new preallocated one; and the journal.</summary>
    private void Open()
    {
        if (_inPlace is not null)
        {
            _stream = OpenInPlace();
            _handle = _stream.SafeFileHandle;
            return;
        }
        bool resume = _offered.Count > 0;
        // A journal describes one partial: a new partial never inherits an old journal, and a resumed one is
        // rewritten with the records of the offered shards the sender kept so far; one it keeps later follows with
        // the next group. An offered shard the sender declines is written again here, so its old record must not
        // survive: a crash before the new record would leave it claiming the new bytes.
        // Opening the journal takes its lock: a session already receiving this file holds it, and this one is refused.
        // The offers were read without it, so under it the journal must still vouch for every one of them.
        if (Resumable)
        {
            try
            {
                _journal = ResumeJournal.Open(JournalPath, Entry.Size, Entry.MtimeNanoseconds, _shardSize, _offered, ShardCount)
                    ?? throw Changed(Entry.Path);
                _lastJournal = DateTime.UtcNow;
            }
            catch (IOException ex) when (StorageErrors.IsLocked(ex))
            {
                throw InUse(Entry.Path);
            }
            AppendJournal(flushFirst: false);
        }
        else if (ShardCount > 1)
        {
            // This file keeps no journal (no flushes): a partial and journal an earlier session left under the
            // resumable name are stale once this one arrives, unless a session is receiving them right now.
            RemoveLeftover(ResumablePath, null);
            RemoveLeftover(ResumeJournal.PathFor(ResumablePath), null);
        }
        string temp = TempPath;
        if (resume && new FileInfo(temp).LinkTarget is not null) throw new SingularityException(ErrorCode.BadPath, $"refused: the partial of '{Entry.Path}' is a symbolic link");
        // The stream is kept (and disposed) with its handle: its finalizer must not close a handle still in use.
        _stream = resume
            ? LockExisting(temp, Entry.Path, FileAccess.ReadWrite) ?? throw new FileNotFoundException($"the partial of '{Entry.Path}' disappeared", temp)
            : CreateExclusive(temp, _preallocate ? Entry.Size : 0, Entry.Path);
        _handle = _stream.SafeFileHandle;
    }

    /// <summary>
    /// Opens the file standing at the name for writing where it stands (rsync --inplace), before this session writes
    /// anything of it: never through a link there, locked, as a partial is, so that a second session writing it in
    /// place is refused as busy, and only the file whose shards were read, unchanged since (one swapped in or written
    /// meanwhile is refused as busy too, and the sender sends again). It is then held until the commit.
    /// </summary>
    private FileStream OpenInPlace()
    {
        var handle = SpecialFiles.OpenRegularForWritingNotFollowing(FinalPath) ?? throw Replaced(Entry.Path);
        try
        {
            if (!SpecialFiles.TryLockExclusive(handle)) throw InUse(Entry.Path);
            // Under the lock, nothing of this session written yet: the same file, not changed since its shards were
            // read (a write moves the ctime of a file not changed lately, which alone offers shards), so the offers hold.
            if (SpecialFiles.VersionOf(handle) != _inPlace!.Version) throw Replaced(Entry.Path);
            return new FileStream(handle, FileAccess.ReadWrite, bufferSize: 0);
        }
        catch
        {
            SpecialFiles.Unlock(handle);
            handle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The commit of a file written in place: its digest checked, then its length, owner, mode and mtime set through a
    /// handle on the file itself, and flushed; nothing is renamed. A file whose digest fails stays as written, as rsync
    /// --inplace leaves it, with the time of its writes (or its old one), never the source's: the next send sends it.
    /// </summary>
    private void CommitInPlace(FileStream? held)
    {
        ulong expected = _shards?.FileDigest() ?? Digests.File([]);
        if (expected != _sealedDigest!.Value)
            throw new IntegrityException($"'{Entry.Path}' failed its whole-file check after it was written in place (--inplace): what stands there is not the source's; send it again");
        // Held from its first write; a file of which every shard was kept was never opened: it is now, as checked there.
        var stream = held ?? OpenInPlace();
        try
        {
            var handle = stream.SafeFileHandle;
            // Longer than the source's where the source shrank: what lies past its end goes.
            if (RandomAccess.GetLength(handle) != Entry.Size) RandomAccess.SetLength(handle, Entry.Size);
            if (SpecialFiles.MayChangeOwners && Entry.Owner is { } owner) OwnerNotSet = !SpecialFiles.TrySetOwner(handle, owner);
            if (Xattrs is { } xattrs) XattrsNotSet = !xattrs.ApplyTo(handle);
            // Where modes are not kept, a file written in place keeps its own.
            if (_applyMode) SetMode(handle, FinalPath, Entry.Mode & SafeModeBits);
            SpecialFiles.SetModified(handle, Entry.MtimeNanoseconds);
            if (_durable) RandomAccess.FlushToDisk(handle);
            Committed = true;
        }
        finally
        {
            if (held is null)
            {
                SpecialFiles.Unlock(stream.SafeFileHandle);
                stream.Dispose();
            }
        }
    }

    private static SingularityException Replaced(string path) =>
        new(ErrorCode.Busy, $"what stands at '{path}' is not the file whose shards were offered any more (replaced, written to, or a link now); send it again");

    /// <summary>
    /// The hidden temporary name of <paramref name="name"/>: <c>.NAME.sglty-part</c>, or <c>.NAME.SESSION.sglty-part</c>
    /// with a session. A name too long for the file system keeps a prefix and a digest of the whole name instead.
    /// </summary>
    internal static string TemporaryName(string name, ulong? session)
    {
        string tail = (session is { } tag ? $".{tag:x16}" : "") + PartSuffix;
        // The journal's suffix is the longer of the two: the journal's name must fit too.
        int room = MaxNameBytes - 1 - (tail.Length - PartSuffix.Length) - Math.Max(PartSuffix.Length, ResumeJournal.StateSuffix.Length);
        if (Encoding.UTF8.GetByteCount(name) <= room) return $".{name}{tail}";
        string digest = $"~{XxHash3.HashToUInt64(Encoding.UTF8.GetBytes(name)):x16}";
        int keep = 0, bytes = 0;
        while (keep < name.Length)
        {
            int step = char.IsHighSurrogate(name[keep]) && keep + 1 < name.Length ? 2 : 1;
            int size = Encoding.UTF8.GetByteCount(name.AsSpan(keep, step));
            if (bytes + size > room - digest.Length) break;
            bytes += size;
            keep += step;
        }
        return $".{name[..keep]}{digest}{tail}";
    }

    /// <summary>The longest file name most file systems allow, in bytes.</summary>
    private const int MaxNameBytes = 255;

    private static SingularityException InUse(string path) =>
        new(ErrorCode.Busy, $"another session is receiving '{path}' right now; send it again once that session ends");

    private static SingularityException Changed(string path) =>
        new(ErrorCode.Busy, $"another session wrote the partial of '{path}' since this one offered its shards; send it again");

    /// <summary>
    /// Opens an existing partial with an exclusive lock, which every session holds on the partials it writes; null if
    /// nothing is there. A partial another session holds is refused as busy.
    /// </summary>
    private static FileStream? LockExisting(string path, string entryPath, FileAccess access = FileAccess.Read)
    {
        try
        {
            return new FileStream(path, new FileStreamOptions { Mode = FileMode.Open, Access = access, Share = FileShare.None, BufferSize = 0 });
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        catch (IOException ex) when (StorageErrors.IsLocked(ex))
        {
            throw InUse(entryPath);
        }
    }

    /// <summary>
    /// Removes what an interrupted session left at <paramref name="path"/> (a partial or a journal): a link is removed
    /// as it is (never followed), a file only while this session holds its lock, so no other session can be writing it
    /// or take it over in between. A file another session holds is refused as busy when <paramref name="entryPath"/>
    /// names the file this session needs there, and left alone otherwise. True if a file another session holds stays.
    /// </summary>
    private static bool RemoveLeftover(string path, string? entryPath)
    {
        var existing = new FileInfo(path);
        // Nothing at all there, not even a link (most names have no leftover): told by one lstat, where the link's
        // target would cost a readlink too, for each file of a tree sent again. A name that cannot be looked at (a
        // parent not searchable, a path too long) holds no leftover this session could remove either.
        try
        {
            if ((int)existing.Attributes == -1) return false;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
        if (existing.LinkTarget is not null)
        {
            File.Delete(path);
            return false;
        }
        if (!existing.Exists) return false;
        FileStream? held;
        try
        {
            held = LockExisting(path, entryPath ?? path);
        }
        catch (SingularityException) when (entryPath is null)
        {
            return true;
        }
        if (held is not null) DeleteHeld(held, path);
        return false;
    }

    /// <summary>
    /// Deletes a file while <paramref name="held"/> holds its exclusive lock, so no session can take it in between, and
    /// closes the handle. Windows cannot delete a file held without delete sharing, so there the handle goes first.
    /// </summary>
    internal static void DeleteHeld(FileStream held, string path)
    {
        using (held)
        {
            if (!HoldUntilRename) held.Dispose();
            File.Delete(path);
        }
    }

    /// <summary>
    /// False on memory-backed file systems (tmpfs, ramfs): there preallocation allocates and zeroes every page at once,
    /// on one lane while the others wait, then the shards overwrite them: twice the memory traffic for a reservation
    /// that the session's free-space check already made. On disks it is cheap and keeps large files contiguous.
    /// </summary>
    public static bool PreallocationHelps(string directory)
    {
        try
        {
            return new DriveInfo(directory).DriveFormat is not ("tmpfs" or "ramfs");
        }
        catch (Exception ex) when (ex is IOException or ArgumentException or UnauthorizedAccessException)
        {
            return true;
        }
    }

    /// <summary>
    /// Creates the temporary file with O_EXCL, which never follows a link planted at its name. Only when something is
    /// already there (a leftover partial, a link) is it removed, and the create tried again: the common case costs one
    /// open. A partial another session is writing there is never removed: this session is refused as busy.
    /// </summary>
    internal static FileStream CreateExclusive(string path, long size, string entryPath)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.ReadWrite, Share = FileShare.None, BufferSize = 0, PreallocationSize = size };
        // Private from its creation while it arrives; the sender's mode is applied once it is complete.
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        try
        {
            try
            {
                return new FileStream(path, options);
            }
            catch (IOException ex) when (!StorageErrors.IsDiskFull(ex) && (File.Exists(path) || new FileInfo(path).LinkTarget is not null))
            {
                RemoveLeftover(path, entryPath);
                return new FileStream(path, options);
            }
        }
        catch (IOException ex) when (StorageErrors.IsDiskFull(ex))
        {
            throw new SingularityException(ErrorCode.DiskFull, size > 0 ? $"disk full: cannot reserve {size} bytes for '{path}'; free space on the receiver and send again" : $"disk full: cannot create '{path}' (no space, or no free inodes: see df -i); free space on the receiver and send again", ex);
        }
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}

/// <summary>
/// A file to be written where it stands (rsync --inplace): the regular file standing at its name as it was when its
/// shards were read (device, inode, ctime and count of names), which the file opened for writing must still be, its
/// length then, and those shards' digests, offered to the sender (none without delta).
/// </summary>
internal sealed record InPlaceBasis((ulong Device, ulong Inode, long Changed, uint Names) Version, long Length, IReadOnlyDictionary<int, ulong> Offers);
