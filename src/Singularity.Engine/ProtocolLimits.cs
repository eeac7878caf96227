namespace Singularity.Engine;

/// <summary>Bounds checked on every length, count, offset and path read from the wire, so a broken or hostile peer cannot make a receiver misbehave or grow without bound.</summary>
public sealed record ProtocolLimits
{
    /// <summary>Largest control message body in bytes. Default 1 MiB.</summary>
    public int MaxControlMessageBytes { get; init; } = 1 << 20;

    /// <summary>Most manifest entries (files, directories, links) in one session. Default 4,000,000.</summary>
    public int MaxEntries { get; init; } = 4_000_000;

    /// <summary>
    /// Most files of one session announced in its manifest and not yet committed. A receiver keeps each such file's
    /// state until its commit; a sender announces files about as fast as they are committed (it holds its manifest
    /// back while more than 16,384 files it announced are not, so it stays below about 26,000), and a manifest chunk
    /// that would take a session above this is refused with LimitExceeded; set below 26,000, it refuses such senders
    /// too. Default 65,536.
    /// </summary>
    public int MaxUncommittedFiles { get; init; } = 65_536;

    /// <summary>
    /// Most memory the files of one session that wait, verified, to go into place at its end (rsync --delay-updates)
    /// and their hard links may take at a receiver, which keeps their state until then: counted as 640 bytes an entry
    /// and its two paths (about 1 KiB a file of a typical tree; about 260,000 such files by default). Beyond it, the
    /// session ends with LimitExceeded. Default 256 MiB.
    /// </summary>
    public long MaxDelayedBytes { get; init; } = 256L << 20;

    /// <summary>
    /// Most bytes of extended attributes (rsync -X, at most 64 KiB an entry) a receiver holds at once for the files of
    /// one session not yet committed, whose attributes wait for that; beyond it, LimitExceeded. A sender sends more
    /// only while those it announced stay within half of its own. Default 128 MiB.
    /// </summary>
    public long MaxHeldXattrBytes { get; init; } = 128L << 20;

    /// <summary>Longest relative path, in UTF-8 bytes. Default 4096.</summary>
    public int MaxPathBytes { get; init; } = 4096;

    /// <summary>Longest single path component (file or directory name), in UTF-8 bytes. Default 255.</summary>
    public int MaxNameBytes { get; init; } = 255;

    /// <summary>Most bytes a single session may write (the quota). Default unlimited.</summary>
    public long MaxTotalBytes { get; init; } = long.MaxValue;

    /// <summary>Smallest shard size a sender may ask for. Default 4 KiB.</summary>
    public int MinShardSize { get; init; } = 4 << 10;

    /// <summary>Largest shard size a sender may ask for. Default 16 MiB.</summary>
    public int MaxShardSize { get; init; } = 16 << 20;

    /// <summary>Most data lanes per session, and the range of lane numbers. Default 128: a long lossy path may need 64 lanes, and a session may hold twice its declared lanes while dead ones are replaced.</summary>
    public int MaxLanes { get; init; } = 128;

    /// <summary>
    /// Most bytes of lane buffers one session may make a receiver hold: the receiver keeps one shard buffer per lane
    /// (plus a 16-byte tag, a header and 64 KiB of read-ahead) and lets a session have twice the lanes it declared, so
    /// a session declaring L lanes of S-byte shards needs 2 × L × S; a compressed one twice that, as each lane also
    /// holds a buffer to unpack into. Default 256 MiB: 64 lanes of 1 MiB, 16 of 4 MiB
    /// or 8 of 16 MiB. The read-ahead adds at most <see cref="MaxLanes"/> × 64 KiB (8 MiB by default).
    /// </summary>
    public long MaxLaneBufferBytes { get; init; } = 256L << 20;

    /// <summary>Lane buffer bytes (tags aside) a session declaring <paramref name="lanes"/> lanes of <paramref name="shardSize"/>-byte shards may need.</summary>
    public static long LaneBufferBytes(int lanes, int shardSize, bool compressed = false) => (compressed ? 4L : 2L) * lanes * shardSize;

    /// <summary>The most lanes of <paramref name="shardSize"/>-byte shards whose buffers fit <see cref="MaxLaneBufferBytes"/> (at least 1).</summary>
    public int LanesThatFit(int shardSize, bool compressed = false) => (int)Math.Clamp(MaxLaneBufferBytes / ((compressed ? 4L : 2L) * Math.Max(shardSize, 1)), 1, MaxLanes / 2);

    /// <summary>Most connections a receiver holds in their handshake (not yet authenticated) at once. Default 128.</summary>
    public int MaxHandshakes { get; init; } = 128;

    /// <summary>Most sessions a receiver serves at once. Default 64.</summary>
    public int MaxSessions { get; init; } = 64;

    /// <summary>Most partially received files a session may hold open. Default 1024.</summary>
    public int MaxOpenFiles { get; init; } = 1024;

    /// <summary>How often one shard may fail verification before the session is ended. Default 8.</summary>
    public int MaxShardRetries { get; init; } = 8;
}
