using System.Buffers.Binary;
using System.Diagnostics;
using Singularity.Engine.Protocol;
using Singularity.Engine.Storage;

namespace Singularity.Tests.Support;

/// <summary>Partial files of 64 KiB shards, as sessions of a receiver make them, and random bytes to fill them.</summary>
internal static class PartialFixtures
{
    public const int Shard = 64 << 10;
    public static readonly UnixFileMode Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>The durable (resumable when of more than one shard) partial of <paramref name="final"/> in session <paramref name="session"/>.</summary>
    public static PartialFile Partial(string final, long size, ulong session) =>
        new(0, new ManifestEntry(EntryKind.File, Path.GetFileName(final), size, Mode, 0, null), final, Shard, durable: true, session);

    public static byte[] Data(int size, int seed)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>
    /// The records of a journal another handle holds locked. `cat` reads it without taking a lock, as a later process
    /// would after this one stopped.
    /// </summary>
    public static List<(int Index, ulong Digest)> JournalRecords(string path)
    {
        using var cat = Process.Start(new ProcessStartInfo("cat", [path]) { RedirectStandardOutput = true })!;
        using var bytes = new MemoryStream();
        cat.StandardOutput.BaseStream.CopyTo(bytes);
        cat.WaitForExit();
        Assert.Equal(0, cat.ExitCode);
        var journal = bytes.ToArray().AsSpan();
        var records = new List<(int, ulong)>();
        for (int at = ResumeJournal.HeaderSize; at + ResumeJournal.RecordSize <= journal.Length; at += ResumeJournal.RecordSize)
            records.Add((BinaryPrimitives.ReadInt32LittleEndian(journal[at..]), BinaryPrimitives.ReadUInt64LittleEndian(journal[(at + 8)..])));
        return records;
    }
}
