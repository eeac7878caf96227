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
}
