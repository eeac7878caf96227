namespace Singularity.Engine.Integrity;

/// <summary>
/// The digests of shards that lie in a hole (all zeros), which travel without their bytes. A whole shard's is
/// computed once per session: a disk image of a terabyte may hold hundreds of thousands of them. A file's last,
/// shorter shard is computed when met, once per file at most.
/// </summary>
internal sealed class HoleDigests(int shardSize)
{
    private readonly ulong _whole = Digests.Zeros(shardSize);

    public ulong Of(int length) => length == shardSize ? _whole : Digests.Zeros(length);
}
