namespace Singularity.Engine.Protocol;

/// <summary>Bits of OpenSession's flags field (PROTOCOL §3); a receiver refuses bits it does not know, since one may ask it to change nothing.</summary>
internal static class OpenSessionFlags
{
    /// <summary>Files already in place with the entry's size and mtime are named in FilesPresent and not sent.</summary>
    public const ushort SkipUnchanged = 1;

    /// <summary>Once every file is settled, entries of the manifest's directories that the manifest does not name are deleted.</summary>
    public const ushort DeleteExtraneous = 2;

    /// <summary>With <see cref="DeleteExtraneous"/>: the manifest holds a directory's contents at the destination's root, so the root is cleaned too.</summary>
    public const ushort RootIsSent = 4;

    /// <summary>A dry run: the receiver changes nothing, names the files in place (with <see cref="SkipUnchanged"/>) and, with <see cref="DeleteExtraneous"/>, what it would delete (WouldDelete).</summary>
    public const ushort DryRun = 8;

    /// <summary>Shards in a hole of the source travel as headers alone (shard flag bit 1), and the receiver leaves long runs of zeros as holes.</summary>
    public const ushort Sparse = 16;

    /// <summary>Shards may travel compressed (shard flag bit 2): the receiver then holds a second buffer a lane to unpack them.</summary>
    public const ushort Compressed = 32;

    /// <summary>The receiver may seed a changed file's partial from the version at its name and offer its shards (BasisOffer), so that only the shards that differ travel.</summary>
    public const ushort Delta = 64;

    /// <summary>Hard links are kept: files may be marked linked, and hard link entries name them (docs/PROTOCOL.md §3, §4).</summary>
    public const ushort HardLinks = 128;

    /// <summary>With <see cref="SkipUnchanged"/>: a file in place of the entry's size is kept, whatever its mtime (rsync --size-only).</summary>
    public const ushort SizeOnly = 256;

    /// <summary>With <see cref="SkipUnchanged"/>: a file in place newer than the entry is kept (rsync --update).</summary>
    public const ushort Update = 512;

    /// <summary>With <see cref="SkipUnchanged"/>: any file in place is kept (rsync --ignore-existing).</summary>
    public const ushort IgnoreExisting = 1024;

    /// <summary>With <see cref="SkipUnchanged"/>, not with <see cref="SizeOnly"/>: a file in place is judged by its contents, against the digest its entry carries, not by its mtime (rsync --checksum).</summary>
    public const ushort Checksum = 2048;

    /// <summary>With <see cref="DeleteExtraneous"/>: the deletion stays on the destination's file system, neither cleaning nor deleting a directory on another (rsync -x).</summary>
    public const ushort OneFileSystem = 4096;

    /// <summary>OpenSession's count field holds the most entries the deletions remove, those of <see cref="DeleteExtraneous"/> and of DeleteNamed together (rsync --max-delete).</summary>
    public const ushort MostDeletions = 8192;

    /// <summary>With <see cref="SkipUnchanged"/>: an entry where nothing stands at the receiver is not made, a file or a link named in FilesKept (rsync --existing).</summary>
    public const ushort ExistingOnly = 16384;

    /// <summary>The body holds 8 more bytes (32 in all): <see cref="MoreSessionFlags"/> and a modify window.</summary>
    public const ushort More = 32768;

    /// <summary>The bits that keep files in place the quick check alone would replace, each named in FilesKept.</summary>
    public const ushort KeepRules = SizeOnly | Update | IgnoreExisting | ExistingOnly;

    /// <summary>Every bit this side knows.</summary>
    public const ushort Known = SkipUnchanged | DeleteExtraneous | RootIsSent | DryRun | Sparse | Compressed | Delta | HardLinks | KeepRules | Checksum | OneFileSystem | MostDeletions | More;
}

/// <summary>Bits of OpenSession's second flags field, present with <see cref="OpenSessionFlags.More"/> (PROTOCOL §3); refused when unknown, as the first's are.</summary>
internal static class MoreSessionFlags
{
    /// <summary>The quick check compares mtimes in whole seconds, the same within the window OpenSession carries (rsync --modify-window).</summary>
    public const uint ModifyWindow = 1;

    /// <summary>The receiver sets no directory's mtime (rsync -O, --omit-dir-times).</summary>
    public const uint OmitDirectoryTimes = 2;

    /// <summary>The receiver sets no link's mtime (rsync -J, --omit-link-times).</summary>
    public const uint OmitLinkTimes = 4;

    /// <summary>LinkDest's directories are only compared with: a file unchanged there is named in FilesPresent and not made (rsync --compare-dest).</summary>
    public const uint CompareDest = 8;

    /// <summary>A file unchanged in LinkDest's directories is copied rather than linked (rsync --copy-dest).</summary>
    public const uint CopyDest = 16;

    /// <summary>With a deletion (flag bit 1): the receiver deletes even after a file was given up or an entry failed (rsync --ignore-errors).</summary>
    public const uint IgnoreErrors = 32;

    /// <summary>The receiver tells how what stands at each entry's name differs from it (Itemized), and, with a deletion, names what it deleted (WouldDelete) (rsync --itemize-changes).</summary>
    public const uint Itemize = 64;

    /// <summary>Owners kept in part (rsync -o or -g alone): an entry's user or group of <see cref="ManifestEntry.IdNotKept"/> is left as the receiver finds or makes it.</summary>
    public const uint OwnerParts = 128;

    /// <summary>A changed file where a regular file stands is written into that file, where it stands, rather than beside it and renamed (rsync --inplace).</summary>
    public const uint InPlace = 256;

    /// <summary>Entries carry their extended attributes (manifest entry flags bit 6; rsync -X), which R gives them.</summary>
    public const uint Xattrs = 512;

    /// <summary>The manifest may hold devices, FIFOs and sockets (entry kind 5; rsync -D), so that a receiver from before them refuses the session rather than an entry.</summary>
    public const uint Specials = 1024;

    /// <summary>Entries carry their POSIX ACLs (as the extended attributes Linux keeps them as, manifest entry flags bit 6; rsync -A), which R gives them.</summary>
    public const uint Acls = 2048;

    /// <summary>A directory with anything in it where the source has a file, a link or a special is deleted with what it holds, without a deletion (rsync --force); so is one a DeleteNamed names.</summary>
    public const uint Force = 4096;

    /// <summary>
    /// The session's one entry, not a directory, takes the last name of the Destination where no directory stands at
    /// it, and the path above becomes the destination (rsync and scp name what they copy to a path that is not a directory).
    /// </summary>
    public const uint NamesOneFile = 8192;

    /// <summary>
    /// Modes are not kept (rsync --no-perms): a new entry takes the sender's permission bits within the receiver's
    /// umask, a file that replaces another the mode of the one it replaces, a file or a directory in place keeps its
    /// own, each as far as the file system takes it, and a mode that differs changes nothing.
    /// </summary>
    public const uint KeepsNoModes = 16384;

    /// <summary>
    /// The receiver puts the files it receives into place together, at Finish, rather than each once verified (rsync
    /// --delay-updates): FilesCommitted then says a file is verified and ready, and an EntryFailed may still name it
    /// before SessionDone. Hard links to such a file are made after it. Not with <see cref="InPlace"/>.
    /// </summary>
    public const uint DelayUpdates = 32768;

    /// <summary>
    /// The Exclude message may hold dir-merge rules (":MODIFIERS NAME", rsync's per-directory merge files): the
    /// receiver reads the files NAME in the destination as it deletes, so that one from before them refuses the
    /// session rather than take such a rule for a pattern.
    /// </summary>
    public const uint PerDirectoryRules = 65536;

    /// <summary>
    /// With a deletion (flag bit 1): the receiver deletes once it has prepared the whole manifest, before the last
    /// ManifestAccepted and before its check of free space, rather than at Finish (rsync --delete-before).
    /// </summary>
    public const uint DeleteBefore = 131072;

    /// <summary>Every bit this side knows.</summary>
    public const uint Known = ModifyWindow | OmitDirectoryTimes | OmitLinkTimes | CompareDest | CopyDest | IgnoreErrors | Itemize | OwnerParts | InPlace | Xattrs | Specials | Acls | Force | NamesOneFile | KeepsNoModes | DelayUpdates | PerDirectoryRules | DeleteBefore;
}
