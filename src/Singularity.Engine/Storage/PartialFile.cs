using Microsoft.Win32.SafeHandles;
using Singularity.Engine.Integrity;
using Singularity.Engine.Protocol;

namespace Singularity.Engine.Storage;

/// <summary>
/// One incoming file: shards are written at their offsets into a hidden, preallocated temporary file beside the
/// target; once every shard is verified and the sender's whole-file digest matches, it is flushed and renamed into place.
/// A shard is claimed before it is written, so a duplicate is refused and the handle is closed only after the last write.
/// </summary>
internal sealed class PartialFile
{
    /// <summary>Permission bits only: setuid, setgid and sticky bits from a peer are never applied.</summary>
    internal const UnixFileMode SafeModeBits = (UnixFileMode)0x1FF;

    private readonly Lock _lock = new();
    private readonly int _shardSize;
    private SafeFileHandle? _handle;
    private ulong[]? _digests;
    private ulong[]? _claimed;
    private int _verified;
    private ulong? _sealedDigest;
    private bool _written;
    private bool _committing;

    public PartialFile(uint id, ManifestEntry entry, string finalPath, string tempPath, int shardSize)
    {
        Id = id;
        Entry = entry;
        FinalPath = finalPath;
        TempPath = tempPath;
        _shardSize = shardSize;
        ShardCount = Digests.ShardCount(entry.Size, shardSize);
        _written = ShardCount == 0;
    }

    public uint Id { get; }
    public ManifestEntry Entry { get; }
    public string FinalPath { get; }
    public string TempPath { get; }
    public int ShardCount { get; }
    public bool Committed { get; private set; }
    public bool HasTempFile { get; private set; }

    public int ExpectedLength(uint index) => Digests.ShardLength(Entry.Size, _shardSize, (int)index);

    /// <summary>Reserves a shard for writing; false if it was already claimed (a duplicate). Opens the file on first use.</summary>
    public bool TryClaim(uint index, ref int openFiles, int maxOpenFiles, bool durable, out SafeFileHandle handle)
    {
        lock (_lock)
        {
            handle = null!;
            if (Committed || _written) return false;
            _claimed ??= new ulong[(ShardCount + 63) / 64];
            ref ulong word = ref _claimed[index / 64];
            ulong bit = 1UL << (int)(index % 64);
            if ((word & bit) != 0) return false;
            if (_handle is null)
            {
                if (Interlocked.Increment(ref openFiles) > maxOpenFiles)
                {
                    Interlocked.Decrement(ref openFiles);
                    throw new ProtocolViolationException($"sender holds more than {maxOpenFiles} files open at once", ErrorCode.LimitExceeded);
                }
                _handle = Open(TempPath, Entry.Size);
                HasTempFile = true;
                _digests = new ulong[ShardCount];
            }
            word |= bit;
            handle = _handle;
            return true;
        }
    }

    /// <summary>Records a written shard; when it was the last one, flushes and closes the file and returns true.</summary>
    public bool CompleteShard(uint index, ulong digest, ref int openFiles, bool durable)
    {
        SafeFileHandle handle;
        lock (_lock)
        {
            _digests![index] = digest;
            if (++_verified < ShardCount) return false;
            handle = _handle!;
        }
        // Only the last claimed shard's writer gets here, so no other write can be in progress on the handle.
        if (durable) RandomAccess.FlushToDisk(handle);
        handle.Dispose();
        Interlocked.Decrement(ref openFiles);
        lock (_lock)
        {
            _handle = null;
            _written = true;
        }
        return true;
    }

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
            if (!_written || !_sealedDigest.HasValue || _committing) return false;
            _committing = true;
            return true;
        }
    }

    /// <summary>Checks the whole-file digest, applies mode and mtime, and renames the file into place.</summary>
    public void Commit(bool applyMode)
    {
        ulong expected = Digests.File(_digests ?? []);
        if (expected != _sealedDigest!.Value)
            throw new IntegrityException($"'{Entry.Path}' failed its whole-file check; nothing was committed");
        if (ShardCount == 0)
        {
            Open(TempPath, 0).Dispose();
            HasTempFile = true;
        }
        if (applyMode && !OperatingSystem.IsWindows())
            File.SetUnixFileMode(TempPath, Entry.Mode & SafeModeBits);
        File.SetLastWriteTimeUtc(TempPath, SourceScanner.FromNanoseconds(Entry.MtimeNanoseconds));
        File.Move(TempPath, FinalPath, overwrite: true);
        Committed = true;
        HasTempFile = false;
        _digests = null;
        _claimed = null;
    }

    /// <summary>Closes and deletes the temporary file of a session that failed.</summary>
    public void Discard()
    {
        lock (_lock)
        {
            _handle?.Dispose();
            _handle = null;
            if (HasTempFile && !Committed)
            {
                try { File.Delete(TempPath); }
                catch (IOException) { }
                catch (UnauthorizedAccessException) { }
                HasTempFile = false;
            }
        }
    }

    private static SafeFileHandle Open(string path, long size)
    {
        try
        {
            // CreateNew (O_EXCL) never follows a link planted at the temporary name; a leftover is removed first.
            if (File.Exists(path) || new FileInfo(path).LinkTarget is not null) File.Delete(path);
            return File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, FileOptions.None, preallocationSize: size);
        }
        catch (IOException ex) when (StorageErrors.IsDiskFull(ex))
        {
            throw new SingularityException(ErrorCode.DiskFull, $"disk full: cannot reserve {size} bytes for '{path}'; free space on the receiver and send again", ex);
        }
    }
}
