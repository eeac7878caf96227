using System.Numerics;
using Microsoft.Win32.SafeHandles;
using Singularity.Engine.Integrity;
using Singularity.Engine.Protocol;
using Singularity.Engine.Storage;

namespace Singularity.Engine.Transfer;

/// <summary>
/// One outgoing file. All lanes share one read handle, opened at the first shard and closed after the last read;
/// a retransmission reads through a handle of its own. The whole-file digest is built from the shard digests as they are sent.
/// </summary>
internal sealed class SenderFile(uint id, SourceEntry source, int shardSize, SourceRoots? roots = null)
{
    private readonly Lock _lock = new();
    private SafeFileHandle? _handle;
    private ulong[]? _digests;
    // Shards not yet read through the shared handle, and which were: a shard read again after its lane gave it back
    // (lost before it was sent) is not counted twice, or the check after the last read would run one read early.
    private int _unread = Digests.ShardCount(source.Entry.Size, shardSize);
    private ulong[]? _read;
    private int _unsent = Digests.ShardCount(source.Entry.Size, shardSize);
    private readonly ulong[] _acknowledged = new ulong[Digests.BitmapWords(Digests.ShardCount(source.Entry.Size, shardSize))];
    private ulong[]? _sent;
    private Dictionary<int, ulong>? _offered;
    private bool _sealed;
    private bool _present;
    private int _dropped;
    // Why the first open failed, before anything was read: every lane that meets the file later fails the same way
    // rather than opening it again, so that a file being left out is never read and sent after all.
    private SingularityException? _unopenable;
    // Reads of the shared handle under way, whether every shard was read, and why the file was found changed while it
    // was read: the handle closes once no read uses it, and no read, keep or seal starts after a change.
    private int _reading;
    private bool _allRead;
    private SingularityException? _withdrawn;

    public uint Id { get; } = id;
    public ManifestEntry Entry { get; } = source.Entry;
    public string SourcePath { get; } = source.SourcePath;
    public int ShardCount { get; } = Digests.ShardCount(source.Entry.Size, shardSize);

    public int ShardLength(int index) => Digests.ShardLength(Entry.Size, shardSize, index);

    /// <summary>The receiver holds this file already (same size and mtime): none of it is sent. Set before its acceptance.</summary>
    public bool Present { get => Volatile.Read(ref _present); set => Volatile.Write(ref _present, value); }

    /// <summary>Of a file <see cref="Present"/>, the receiver keeps its own version, which differs (FilesKept). Set before its acceptance.</summary>
    public bool KeptAtReceiver { get; set; }

    /// <summary>The file could not be opened for its first read (not readable, or gone), and no lane has opened it since: nothing of it was read or sent.</summary>
    public bool Unopenable => Volatile.Read(ref _unopenable) is not null;

    /// <summary>Left out after it could not be opened: none of its shards are handed out any more.</summary>
    public bool Dropped => Volatile.Read(ref _dropped) != 0;

    /// <summary>Marks the file dropped; true for the one caller that does it first.</summary>
    public bool TryDrop() => Interlocked.Exchange(ref _dropped, 1) == 0;

    /// <summary>A shard of it did not pack (<see cref="TransferOptions.Compress"/>): already compressed data, whose other shards are sent as they are.</summary>
    public bool Incompressible { get => Volatile.Read(ref _incompressible); set => Volatile.Write(ref _incompressible, value); }
    private bool _incompressible;

    /// <summary>Set when the file's seal is posted: the receiver may commit it only after that.</summary>
    public bool Sealed { get => Volatile.Read(ref _sealed); set => Volatile.Write(ref _sealed, value); }

    /// <summary>
    /// Reads shard <paramref name="index"/> into <paramref name="destination"/> and returns its digest. With
    /// <paramref name="holes"/> (a sparse send), a shard that lies wholly in a hole of the file is not read:
    /// <paramref name="hole"/> is set and the digest is that of its zeros. A file found changed (SourceChanged: by
    /// its length and time, replaced, or a resend whose digest is not the first copy's) is marked so, and no other
    /// lane reads, keeps or seals it after.
    /// </summary>
    public ulong Read(int index, Span<byte> destination, bool retransmit, HoleDigests? holes, out bool hole)
    {
        try
        {
            return retransmit ? ReadAgain(index, destination, holes, out hole) : ReadShared(index, destination, holes, out hole);
        }
        catch (SingularityException ex) when (ex.Code == ErrorCode.SourceChanged)
        {
            lock (_lock) _withdrawn ??= ex;
            throw;
        }
    }

    /// <summary>A resend reads through a handle of its own, and must find what the first copy carried.</summary>
    private ulong ReadAgain(int index, Span<byte> destination, HoleDigests? holes, out bool hole)
    {
        using var own = OpenAgain();
        ulong digest = ReadAt(own, destination, (long)index * shardSize, holes, out hole);
        if (!MatchesFirstSend(index, digest))
            throw new SingularityException(ErrorCode.SourceChanged, $"'{SourcePath}' changed while it was being sent; send it again once it is stable");
        return digest;
    }

    /// <summary>A first read goes through the handle all lanes share, opened (and checked against the scan) at the first.</summary>
    private ulong ReadShared(int index, Span<byte> destination, HoleDigests? holes, out bool hole)
    {
        long offset = (long)index * shardSize;
        SafeFileHandle handle;
        ulong[] read;
        lock (_lock)
        {
            if (_unopenable is { } failed) throw failed;
            if (_withdrawn is { } changed) throw changed;
            if (_handle is null)
            {
                // Never opened yet, so nothing of the file was read: a file that cannot be opened can be left out.
                // Opened again (a shard given back after every shard was read), it is part sent, and gone is a change.
                try { _handle = _digests is null ? OpenSource() : OpenAgain(); }
                catch (SingularityException ex) when (_digests is null && ex.Code == ErrorCode.IoError)
                {
                    Volatile.Write(ref _unopenable, ex);
                    throw;
                }
                // A file of one shard is checked once, after its read.
                if (ShardCount > 1) EnsureAsScanned(_handle);
            }
            _digests ??= new ulong[ShardCount];
            read = _read ??= new ulong[Digests.BitmapWords(ShardCount)];
            handle = _handle;
            _reading++;
        }
        ulong digest;
        bool last = false;
        try
        {
            try
            {
                digest = ReadAt(handle, destination, offset, holes, out hole);
            }
            finally
            {
                ulong bit = 1UL << (index % 64);
                if ((Interlocked.Or(ref read[index / 64], bit) & bit) == 0) Interlocked.Decrement(ref _unread);
                last = Volatile.Read(ref _unread) == 0;
            }
            // Every shard is read (each read that ends after the last first read checks), and the whole-file digest
            // will vouch for what was read: a file written to meanwhile would be delivered as a mix of old and new bytes.
            if (last) EnsureAsScanned(handle);
        }
        finally
        {
            DoneReading(last);
        }
        _digests[index] = digest;
        return digest;
    }

    /// <summary>
    /// Refuses a file that is no longer as the scan saw it: another file (renamed over its name, as editors save) of
    /// another size or time, shorter, or as long with another modification time (written to in place). A file that grew
    /// is taken as appended to, as a log is, and its first bytes, as many as the scan saw, are what is sent: growth
    /// cannot be told from a rewrite in place that also grew, which therefore passes. Another inode at the scan's size
    /// and time passes too: some FUSE and network file systems number a file anew once the kernel has let it go.
    /// </summary>
    private void EnsureAsScanned(SafeFileHandle handle)
    {
        long length, modified;
        bool another = false;
        try
        {
            if (SpecialFiles.OpenFileStatus(handle) is { } status)
            {
                another = source.Identity is { } scanned && (status.Device != scanned.Device || status.Inode != scanned.Inode);
                (length, modified) = (status.Size, status.ModifiedNanoseconds);
            }
            else
            {
                // Compared as the scan recorded it, so that an mtime beyond what the record holds compares equal to itself.
                (length, modified) = (RandomAccess.GetLength(handle), SourceScanner.ToNanoseconds(File.GetLastWriteTimeUtc(handle)));
            }
        }
        catch (IOException ex)
        {
            throw CannotRead(ex);
        }
        if (another && (length != Entry.Size || modified != Entry.MtimeNanoseconds))
            throw new SingularityException(ErrorCode.SourceChanged, $"'{SourcePath}' was replaced by another file while it was being sent; send it again once it is stable");
        if (length < Entry.Size) throw Shrank();
        if (length == Entry.Size && modified != Entry.MtimeNanoseconds)
            throw new SingularityException(ErrorCode.SourceChanged, $"'{SourcePath}' was written to while it was being sent; send it again once it is stable");
    }

    private SingularityException CannotRead(Exception ex) =>
        new(ErrorCode.IoError, $"cannot read '{SourcePath}': {ex.Message}", ex);

    private SingularityException Shrank() =>
        new(ErrorCode.SourceChanged, $"'{SourcePath}' shrank while it was being sent; send it again once it is stable");

    /// <summary>Checks that a retransmitted shard is what was sent the first time.</summary>
    private bool MatchesFirstSend(int index, ulong digest) => _digests is { } digests && digests[index] == digest;

    /// <summary>Counts a shard written to a lane for the first time; returns the whole-file digest once every shard was.</summary>
    public ulong? MarkSent(int index)
    {
        lock (_lock)
        {
            _sent ??= new ulong[Digests.BitmapWords(ShardCount)];
            ulong bit = 1UL << (index % 64);
            if ((_sent[index / 64] & bit) != 0) return null;
            _sent[index / 64] |= bit;
        }
        if (Interlocked.Decrement(ref _unsent) != 0) return null;
        return Digests.File(_digests ?? []);
    }

    /// <summary>The whole-file digest of a file without shards.</summary>
    public ulong MarkSentEmpty() => Digests.File([]);

    /// <summary>Records that a shard is done (acknowledged by the receiver or kept from an earlier session); false if it already was.</summary>
    public bool TryAcknowledge(int index)
    {
        ulong bit = 1UL << (index % 64);
        return (Interlocked.Or(ref _acknowledged[index / 64], bit) & bit) == 0;
    }

    /// <summary>Records a shard the receiver already holds, verified (called before any shard is sent).</summary>
    public void Offer(int index, ulong digest, bool fromBasis = false)
    {
        // A receiver offers a file's shards from one place: a partial an earlier session left, or the version at its name.
        if (_offered is not null && fromBasis != OffersFromBasis) throw new ProtocolViolationException("a file's shards were offered both as resumed and from its basis");
        // Its offers come before its sums, which a patch is made against with what the offers left.
        if (SumsSeen.Count > 0) throw new ProtocolViolationException("a file's shards were offered after its basis sums");
        OffersFromBasis = fromBasis;
        (_offered ??= [])[index] = digest;
    }

    /// <summary>The receiver's offers for this file are the shards of the version already at its name (delta), not an interrupted send's.</summary>
    public bool OffersFromBasis { get; private set; }

    /// <summary>The receiver's sums of the version at this file's name there (BasisSums), seeded from or summed alone: a shard is sent as a patch against it. Null before the file's acceptance, once it is committed, left out or failed, and where none came.</summary>
    public Integrity.BasisBlocks? Basis { get => Volatile.Read(ref _basis); set => Volatile.Write(ref _basis, value); }

    /// <summary>Takes the sums away, once: null if another caller took them, or none came.</summary>
    public Integrity.BasisBlocks? TakeBasis() => Interlocked.Exchange(ref _basis, null);

    private Integrity.BasisBlocks? _basis;

    /// <summary>The sums received for this file until the acceptance that covers it builds them into <see cref="Basis"/> (control connection only).</summary>
    public Integrity.BasisSumsPieces? PendingSums { get => Volatile.Read(ref _pendingSums); set => Volatile.Write(ref _pendingSums, value); }

    /// <summary>Takes the pending sums away, once: null if another caller took them, or none came.</summary>
    public Integrity.BasisSumsPieces? TakePendingSums() => Interlocked.Exchange(ref _pendingSums, null);

    private Integrity.BasisSumsPieces? _pendingSums;

    /// <summary>Block size and count of the sums that came for this file, kept or not (0 before any): the pieces that follow must continue them.</summary>
    public (int BlockSize, int Count) SumsSeen { get; set; }

    /// <summary>Whether this file's sums went beyond what the sender holds: the rest of them are ignored, and it is sent without them.</summary>
    public bool SumsRefused { get; set; }

    /// <summary>The digest the receiver holds for this shard, if it offered one.</summary>
    public bool TryGetOffer(int index, out ulong digest)
    {
        digest = 0;
        return _offered is not null && _offered.TryGetValue(index, out digest);
    }

    /// <summary>Marks every shard done, as the receiver committed the file; returns the bytes of those not done before.</summary>
    public long AcknowledgeAll()
    {
        if (ShardCount == 0) return 0;
        long shards = 0;
        bool last = false;
        // A word at a time: a file of millions of shards is committed on the control connection's reader.
        for (int word = 0; word < _acknowledged.Length; word++)
        {
            int inWord = Math.Min(64, ShardCount - word * 64);
            ulong all = inWord == 64 ? ulong.MaxValue : (1UL << inWord) - 1;
            ulong fresh = all & ~Interlocked.Or(ref _acknowledged[word], all);
            shards += BitOperations.PopCount(fresh);
            if (word == _acknowledged.Length - 1) last = (fresh & (1UL << (inWord - 1))) != 0;
        }
        return shards * shardSize - (last ? shardSize - ShardLength(ShardCount - 1) : 0);
    }

    /// <summary>
    /// Leaves the file out after it was found changed while it was read (<paramref name="reason"/>, SourceChanged):
    /// false if its seal went already, which nothing can take back. Otherwise no read, keep or seal starts after
    /// (each read throws the reason), the shared handle closes once the reads under way end, and the first caller
    /// (<paramref name="first"/>) has <paramref name="post"/> tell the receiver, under the same lock as a keep's
    /// post (<see cref="TryKeep"/>), so that nothing of the file follows its withdrawal on the control connection.
    /// </summary>
    public bool TryWithdraw(SingularityException reason, Action post, out bool first)
    {
        lock (_lock)
        {
            first = false;
            // Left out already (withdrawn by another lane, or failed at the receiver): nothing more to tell.
            if (Dropped) return true;
            if (Sealed) return false;
            _withdrawn ??= reason;
            if (TryDrop())
            {
                first = true;
                post();
            }
            if (_reading == 0) CloseShared();
            return true;
        }
    }

    /// <summary>Has <paramref name="post"/> tell the receiver to keep an offered shard, unless the file was found changed (then false: nothing of it goes after its withdrawal).</summary>
    public bool TryKeep(Action post)
    {
        lock (_lock)
        {
            if (_withdrawn is not null) return false;
            post();
            return true;
        }
    }

    /// <summary>Marks the file sealed, for the caller that posts its seal; false if it was found changed, and is withdrawn instead.</summary>
    public bool TryBeginSeal()
    {
        lock (_lock)
        {
            if (_withdrawn is not null) return false;
            Sealed = true;
            return true;
        }
    }

    /// <summary>
    /// Ends a read of the shared handle; once none is under way, closes it if every shard was read
    /// (<paramref name="last"/>, now or before) or the file was found changed.
    /// </summary>
    private void DoneReading(bool last)
    {
        lock (_lock)
        {
            _allRead |= last;
            if (--_reading > 0 || !_allRead && _withdrawn is null) return;
            CloseShared();
        }
    }

    public void Close()
    {
        lock (_lock) CloseShared();
    }

    /// <summary>Closes the handle the lanes share; the caller holds _lock.</summary>
    private void CloseShared()
    {
        _handle?.Dispose();
        _handle = null;
    }

    /// <summary>For a dry run: opens the source as its first read would, and closes it; the failure that would leave it out, or null.</summary>
    public SingularityException? CheckOpens()
    {
        try
        {
            OpenSource().Dispose();
            return null;
        }
        catch (SingularityException ex) when (ex.Code == ErrorCode.IoError)
        {
            return ex;
        }
    }

    /// <summary>
    /// Opens a file some of which was read already, for a resend or a shard given back: one removed since is a file
    /// changed while it was sent (SourceChanged), not one that vanished before anything of it was read.
    /// </summary>
    private SafeFileHandle OpenAgain()
    {
        try
        {
            return OpenSource();
        }
        catch (SingularityException ex) when (ex.InnerException is FileNotFoundException)
        {
            throw new SingularityException(ErrorCode.SourceChanged, $"'{SourcePath}' was removed while it was being sent", ex);
        }
    }

    private SafeFileHandle OpenSource()
    {
        SafeFileHandle? handle;
        try
        {
            // Below the root the user named, never through a link: a directory swapped for one since the scan.
            handle = SourceRoots.OpenRegular(roots, source);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw CannotRead(ex);
        }
        // The scan saw a file here; what was opened must be that name's own file, not one a link swapped in since
        // (never opened through a link, here or on the way, nor a FIFO, on whose open the lane would wait for ever).
        return handle ?? throw new SingularityException(ErrorCode.SourceChanged, $"'{SourcePath}' was replaced (by a link, or another file), or a directory on its way by a link, while it was being sent; send it again once it is stable");
    }

    private ulong ReadAt(SafeFileHandle handle, Span<byte> destination, long offset, HoleDigests? holes, out bool hole)
    {
        hole = holes is not null && SparseFiles.IsHole(handle, offset, destination.Length);
        if (hole) return holes!.Of(destination.Length);
        int filled = 0;
        while (filled < destination.Length)
        {
            int read;
            try
            {
                read = RandomAccess.Read(handle, destination[filled..], offset + filled);
            }
            catch (IOException ex)
            {
                throw CannotRead(ex);
            }
            if (read == 0) throw Shrank();
            filled += read;
        }
        return Digests.Shard(destination);
    }
}
