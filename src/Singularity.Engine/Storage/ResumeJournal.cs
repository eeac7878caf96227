using System.Buffers.Binary;
using System.IO.Hashing;

namespace Singularity.Engine.Storage;

/// <summary>
/// The durable record of which shards of a partial file are verified on disk, kept beside it as
/// <c>.NAME.sglty-state</c>. A 64-byte header names the source (size, mtime, shard size); each 16-byte record
/// (u32 index, u32 check, u64 digest) is appended only after the data it claims was flushed, so a record never
/// claims bytes a crash could lose. A torn or damaged record is ignored: its shard is simply sent again.
/// </summary>
internal sealed class ResumeJournal : IDisposable
{
    public const int HeaderSize = 64;
    public const int RecordSize = 16;
    private static ReadOnlySpan<byte> Magic => "SGLTYRS1"u8;

    private readonly FileStream _stream;
    private readonly byte[] _record = new byte[RecordSize];

    private ResumeJournal(FileStream stream) => _stream = stream;

    public static string PathFor(string partialPath) =>
        partialPath.EndsWith(PartialFile.PartSuffix, StringComparison.Ordinal)
            ? partialPath[..^PartialFile.PartSuffix.Length] + StateSuffix
            : partialPath + StateSuffix;

    public const string StateSuffix = ".sglty-state";

    /// <summary>How many records the journal at <paramref name="path"/> can hold, from its length; 0 if there is none.</summary>
    public static long MostRecords(string path) =>
        new FileInfo(path) is { Exists: true } journal ? Math.Max(0, (journal.Length - HeaderSize) / RecordSize) : 0;

    /// <summary>Reads the verified shards recorded for a source of this size, mtime and shard size; empty if the journal is missing, damaged or for another source.</summary>
    public static Dictionary<int, ulong> Load(string path, long size, long mtime, int shardSize, int shardCount)
    {
        var verified = new Dictionary<int, ulong>();
        if (new FileInfo(path).LinkTarget is not null) return verified;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16);
            Read(stream, size, mtime, shardSize, shardCount, verified);
        }
        catch (FileNotFoundException) { }
        catch (DirectoryNotFoundException) { }
        catch (IOException) { verified.Clear(); }
        catch (UnauthorizedAccessException) { verified.Clear(); }
        return verified;
    }

    /// <summary>Adds to <paramref name="verified"/> the records of a journal read from its start, if its header is for this source.</summary>
    internal static void Read(Stream stream, long size, long mtime, int shardSize, int shardCount, Dictionary<int, ulong> verified)
    {
        Span<byte> header = stackalloc byte[HeaderSize];
        if (stream.ReadAtLeast(header, HeaderSize, throwOnEndOfStream: false) < HeaderSize || !Matches(header, size, mtime, shardSize)) return;
        Span<byte> record = stackalloc byte[RecordSize];
        while (stream.ReadAtLeast(record, RecordSize, throwOnEndOfStream: false) == RecordSize)
        {
            int index = BinaryPrimitives.ReadInt32LittleEndian(record);
            ulong digest = BinaryPrimitives.ReadUInt64LittleEndian(record[8..]);
            if (index < 0 || index >= shardCount || BinaryPrimitives.ReadUInt32LittleEndian(record[4..]) != RecordCheck(index, digest)) continue;
            verified[index] = digest;
        }
    }

    /// <summary>True if the journal records every one of <paramref name="expected"/> with the same digest.</summary>
    public static bool Vouches(IReadOnlyDictionary<int, ulong> journaled, IEnumerable<KeyValuePair<int, ulong>> expected) =>
        expected.All(e => journaled.TryGetValue(e.Key, out ulong digest) && digest == e.Value);

    /// <summary>
    /// Opens the journal for appending, exclusively: a second session receiving the same file fails here. It is rewritten
    /// with a fresh header. With <paramref name="expected"/> (shard index to digest), the journal found there must still
    /// record every one of them, read under its lock before it is rewritten; otherwise it is left as it is and the
    /// result is null: another session wrote the partial since they were read.
    /// </summary>
    public static ResumeJournal? Open(string path, long size, long mtime, int shardSize, IReadOnlyDictionary<int, ulong>? expected = null, int shardCount = 0)
    {
        // Never through a link planted at this name; private like the partial it describes. Opened without
        // truncating, so that what it holds can be read under the lock first.
        if (new FileInfo(path).LinkTarget is not null) File.Delete(path);
        bool check = expected is { Count: > 0 };
        // A journal that must vouch for offers is never created here: a missing one vouches for nothing.
        var options = new FileStreamOptions { Mode = check ? FileMode.Open : FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.None, BufferSize = 1 };
        if (!check && !OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        FileStream stream;
        try
        {
            stream = new FileStream(path, options);
        }
        catch (FileNotFoundException) when (check)
        {
            return null;
        }
        try
        {
            if (check)
            {
                var journaled = new Dictionary<int, ulong>();
                // Buffered for the read only (appends go straight to the file), and left undisposed: disposing it
                // would close the journal.
                Read(new BufferedStream(stream, 1 << 16), size, mtime, shardSize, shardCount, journaled);
                if (!Vouches(journaled, expected!))
                {
                    stream.Dispose();
                    return null;
                }
            }
            return Prepare(stream, size, mtime, shardSize);
        }
        catch
        {
            // Never leave the exclusive lock behind when the header cannot be written (a full disk, say).
            stream.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The shard size a journal read from its start was written with, if its header is for a source of this size and
    /// mtime; 0 otherwise.
    /// </summary>
    internal static int ShardSizeOf(Stream stream, long size, long mtime)
    {
        Span<byte> header = stackalloc byte[HeaderSize];
        if (stream.ReadAtLeast(header, HeaderSize, throwOnEndOfStream: false) < HeaderSize) return 0;
        int shardSize = BinaryPrimitives.ReadInt32LittleEndian(header[12..]);
        return Matches(header, size, mtime, shardSize) ? shardSize : 0;
    }

    /// <summary>Rewrites a journal held open, exclusively, from its start: a fresh header for this shard size, then <paramref name="records"/>.</summary>
    internal static void Rewrite(FileStream stream, long size, long mtime, int shardSize, ReadOnlySpan<(int Index, ulong Digest)> records) =>
        Prepare(stream, size, mtime, shardSize).Append(records);

    private static ResumeJournal Prepare(FileStream stream, long size, long mtime, int shardSize)
    {
        stream.SetLength(0);
        Span<byte> header = stackalloc byte[HeaderSize];
        header.Clear();
        Magic.CopyTo(header);
        BinaryPrimitives.WriteUInt16LittleEndian(header[8..], 1);
        BinaryPrimitives.WriteInt32LittleEndian(header[12..], shardSize);
        BinaryPrimitives.WriteInt64LittleEndian(header[16..], size);
        BinaryPrimitives.WriteInt64LittleEndian(header[24..], mtime);
        BinaryPrimitives.WriteUInt64LittleEndian(header[56..], XxHash3.HashToUInt64(header[..56]));
        stream.Position = 0;
        stream.Write(header);
        return new ResumeJournal(stream);
    }

    /// <summary>
    /// Opens an existing journal exclusively, to hold while its partial is renamed, and reads its records for a source of
    /// this size, mtime and shard size; null, with no records, if it is missing or a symbolic link.
    /// </summary>
    public static FileStream? LockAndLoad(string path, long size, long mtime, int shardSize, int shardCount, out Dictionary<int, ulong> records)
    {
        records = [];
        if (new FileInfo(path).LinkTarget is not null) return null;
        FileStream stream;
        try
        {
            stream = new FileStream(path, new FileStreamOptions { Mode = FileMode.Open, Access = FileAccess.Read, Share = FileShare.None, BufferSize = 1 << 16 });
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        try
        {
            Read(stream, size, mtime, shardSize, shardCount, records);
            return stream;
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Appends records; the caller has flushed the data they claim.</summary>
    public void Append(ReadOnlySpan<(int Index, ulong Digest)> records)
    {
        foreach (var (index, digest) in records)
        {
            BinaryPrimitives.WriteInt32LittleEndian(_record, index);
            BinaryPrimitives.WriteUInt32LittleEndian(_record.AsSpan(4), RecordCheck(index, digest));
            BinaryPrimitives.WriteUInt64LittleEndian(_record.AsSpan(8), digest);
            _stream.Write(_record);
        }
        _stream.Flush();
    }

    public void Dispose() => _stream.Dispose();

    private static bool Matches(ReadOnlySpan<byte> header, long size, long mtime, int shardSize) =>
        header[..8].SequenceEqual(Magic)
        && BinaryPrimitives.ReadUInt16LittleEndian(header[8..]) == 1
        && BinaryPrimitives.ReadUInt64LittleEndian(header[56..]) == XxHash3.HashToUInt64(header[..56])
        && BinaryPrimitives.ReadInt32LittleEndian(header[12..]) == shardSize
        && BinaryPrimitives.ReadInt64LittleEndian(header[16..]) == size
        && BinaryPrimitives.ReadInt64LittleEndian(header[24..]) == mtime;

    private static uint RecordCheck(int index, ulong digest)
    {
        Span<byte> bytes = stackalloc byte[12];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, index);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes[4..], digest);
        return (uint)XxHash3.HashToUInt64(bytes);
    }
}
