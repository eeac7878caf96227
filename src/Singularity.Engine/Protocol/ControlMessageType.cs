namespace Singularity.Engine.Protocol;

/// <summary>Messages on the control connection; "S" is the sender, "R" the receiver. Bodies are described in docs/PROTOCOL.md.</summary>
internal enum ControlMessageType : byte
{
    /// <summary>S→R: shard size, lanes, entry count, total bytes.</summary>
    OpenSession = 1,
    /// <summary>S→R: a run of manifest entries.</summary>
    ManifestChunk = 2,
    /// <summary>R→S: how many manifest entries are valid and prepared so far (their directories exist); shards of those may flow.</summary>
    ManifestAccepted = 3,
    /// <summary>S→R: batched (file id, whole-file digest) after a file's last shard was sent.</summary>
    FilesSealed = 4,
    /// <summary>R→S: batched (file id, shard index) of shards verified and written.</summary>
    ShardAcks = 5,
    /// <summary>R→S: one shard failed verification; send it again.</summary>
    ShardNack = 6,
    /// <summary>R→S: batched file ids now complete under their final names.</summary>
    FilesCommitted = 7,
    /// <summary>S→R: every file was committed; finish directories and close.</summary>
    Finish = 8,
    /// <summary>R→S: the session succeeded.</summary>
    SessionDone = 9,
    /// <summary>Either way: the session ends with a code and a reason.</summary>
    Error = 10,
    /// <summary>R→S, before ManifestAccepted: batched (file id, shard index, digest) of shards a previous session left verified on disk.</summary>
    ResumeOffer = 11,
    /// <summary>S→R: batched (file id, shard index) of offered shards that still match the source and need not travel.</summary>
    ShardsKept = 12,
    /// <summary>R→S, before ManifestAccepted, when the sender asked for it: batched file ids already in place with the entry's size and mtime, left as they are and not sent.</summary>
    FilesPresent = 13,
    /// <summary>S→R, after the file's acceptance and before any of its shards: batched file ids the sender could not open; the receiver gives them up.</summary>
    FilesDropped = 14,
    /// <summary>R→S: one entry (file, directory or link) the receiver could not write, with the reason; the rest of the session goes on.</summary>
    EntryFailed = 15,
    /// <summary>R→S, after Finish, about once a second while the receiver deletes what the source no longer has: it is still at work.</summary>
    StillWorking = 16,
    /// <summary>S→R, after OpenSession and before the first ManifestChunk, only with a deletion: the patterns of entries the sender left out, which the receiver then keeps.</summary>
    Exclude = 17,
    /// <summary>R→S, in a dry run with a deletion, after Finish and before SessionDone: entries the deletion would remove.</summary>
    WouldDelete = 18,
    /// <summary>R→S, before ManifestAccepted, only with OpenSession's delta flag: batched (file id, shard index, digest) of shards the version already at the file's name holds, copied into its partial.</summary>
    BasisOffer = 19,
    /// <summary>S→R, after OpenSession and before the first ManifestChunk, at most once: the names of the users and groups whose ids the entries carry, which a receiver that gives owners maps to its own ids.</summary>
    OwnerNames = 20,
    /// <summary>R→S, before ManifestAccepted, only with OpenSession's --size-only, --update, --ignore-existing or --existing bits: batched file ids in place that differ by the quick check but which that rule keeps, or (--existing) that are not there; left as they are and not sent.</summary>
    FilesKept = 21,
    /// <summary>S→R, after OpenSession and before the first ManifestChunk, only with a deletion: the paths of files the sender's size rules (--max-size, --min-size) leave out, which the receiver's deletion then keeps.</summary>
    LeftOut = 22,
    /// <summary>S→R, after OpenSession and before the first ManifestChunk, at most once: what the session replaces or deletes is kept, renamed with a suffix or moved below a backup directory (rsync --backup).</summary>
    Backup = 23,
    /// <summary>S→R, before OpenSession, at most once: the directory below the receiver's own that the session writes into as its root (the path of the sender's URL).</summary>
    Destination = 24,
    /// <summary>S→R, after OpenSession and before the first ManifestChunk, at most once, only with OpenSession's quick check and without --checksum: directories of earlier copies whose unchanged files the receiver links rather than receives (rsync --link-dest).</summary>
    LinkDest = 25,
    /// <summary>S→R, after OpenSession and before the first ManifestChunk: paths the user gave that the source does not have, which the receiver deletes (rsync --delete-missing-args).</summary>
    DeleteNamed = 26,
    /// <summary>R→S, only with OpenSession's more flags bit 6, before the ManifestAccepted that covers the entries: how what stands at each entry's name differs from it (rsync --itemize-changes).</summary>
    Itemized = 27,
    /// <summary>R→S, only with OpenSession's delta flag to a sender whose Hello set capability bit 0, before the ManifestAccepted that covers the file, after its offers, once a file (in pieces to a sender that set bit 1): the sums of the blocks of the version it seeded the file's partial from, or summed alone, by which the sender sends shards as patches (data frame flag bit 3).</summary>
    BasisSums = 28,
    /// <summary>S→R, only to a receiver whose HelloReply set capability bit 1, after the file's acceptance and before any shard of it: batched ids of files gone since the scan, left out as FilesDropped leaves them, which do not stop the receiver's deletion.</summary>
    FilesVanished = 29,
    /// <summary>S→R, only to a receiver whose HelloReply set capability bit 2, after the file's acceptance and before its seal: batched ids of files the sender found changed while it read them (written to, shortened or replaced), left out whatever of them arrived.</summary>
    FilesWithdrawn = 30,
}
