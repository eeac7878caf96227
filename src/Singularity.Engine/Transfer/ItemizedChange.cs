using Singularity.Engine.Protocol;

namespace Singularity.Engine;

/// <summary>What a send did with an entry at the receiver, the first column of rsync's --itemize-changes.</summary>
public enum ItemizedUpdate : byte
{
    /// <summary>Its contents travelled ('&gt;').</summary>
    Sent,
    /// <summary>Made at the receiver without contents travelling: a directory, a link, a device or special, or a file copied there from an earlier copy ('c').</summary>
    Made,
    /// <summary>Given a further name of a file: a hard link of the source, or one to an earlier copy ('h').</summary>
    HardLinked,
    /// <summary>Left as it stood, but for the attributes named ('.').</summary>
    Unchanged,
    /// <summary>Deleted, or moved to its backup ('*deleting').</summary>
    Deleted,
}

/// <summary>How what stood at an entry's name at the receiver differed from the entry, rsync's --itemize-changes letters.</summary>
[Flags]
public enum ItemizedAttributes : ushort
{
    None = 0,
    /// <summary>Nothing of its kind stood there: all letters read '+'.</summary>
    New = 1,
    /// <summary>A file's contents differed (with --checksum), a link's target, or a device's number ('c').</summary>
    Contents = 2,
    /// <summary>A file's size ('s').</summary>
    Size = 4,
    /// <summary>The modification time, where the send sets it ('t').</summary>
    Time = 8,
    /// <summary>The permissions ('p').</summary>
    Permissions = 16,
    /// <summary>The owner, where the receiver gives owners ('o').</summary>
    Owner = 32,
    /// <summary>The group, where the receiver gives owners ('g').</summary>
    Group = 64,
    /// <summary>The extended attributes, where the send keeps them ('x').</summary>
    Xattrs = 256,
    /// <summary>The POSIX ACL, where the send keeps them ('a').</summary>
    Acls = 512,
}

/// <summary>
/// One entry of a send's itemized changes (<see cref="TransferOptions.ItemizeChanges"/>), printed as rsync
/// --itemize-changes prints it by <see cref="ToString"/>: <c>&gt;f.st...... logs/app.log</c>.
/// </summary>
/// <param name="Path">The entry's path at the receiver, relative to the destination ('/' separators).</param>
/// <param name="Kind">What the entry is; a deleted entry is a <see cref="EntryKind.Directory"/> or, whatever else it was, a <see cref="EntryKind.File"/>.</param>
/// <param name="Update">What the send did with it.</param>
/// <param name="Changes">How what stood there differed from it.</param>
/// <param name="LinkTarget">A link's target, or the path a hard link shares its file with; null otherwise.</param>
public sealed record ItemizedChange(string Path, EntryKind Kind, ItemizedUpdate Update, ItemizedAttributes Changes, string? LinkTarget = null)
{
    /// <summary>A file's size in bytes, as sent, a link's the length of its target (UTF-8), as rsync's %l gives them; 0 for a directory, a hard link and a deletion.</summary>
    public long Size { get; init; }

    /// <summary>The entry's permission bits, as sent; 0 for a deletion.</summary>
    public UnixFileMode Mode { get; init; }

    /// <summary>Whether a <see cref="EntryKind.Special"/> entry is a device (rsync's 'D'), not a FIFO or a socket ('S').</summary>
    public bool Device { get; init; }

    /// <summary>The entry's modification time (UTC), as sent; the Unix epoch for a deletion, as rsync's %M gives it.</summary>
    public DateTime Modified { get; init; } = DateTime.UnixEpoch;

    /// <summary>The attribute bits a receiver may send in Itemized (PROTOCOL §3); bit 7, not made, is apart (ReceiverSession.ItemizedNotMade).</summary>
    internal const ItemizedAttributes Known = (ItemizedAttributes)127 | ItemizedAttributes.Xattrs | ItemizedAttributes.Acls;

    /// <summary>
    /// The eleven letters of rsync's <c>%i</c>: what was done ('&gt;', 'c', 'h', '.'), the kind ('f', 'd', 'L', 'D', 'S'), then
    /// c, s, t, p, o, g, u, a, x, with '.' for what did not change, all '+' for a new entry, and spaces for an entry that did
    /// not change at all; <c>*deleting  </c> for a deletion.
    /// </summary>
    public string Letters
    {
        get
        {
            if (Update == ItemizedUpdate.Deleted) return "*deleting  ";
            Span<char> letters = stackalloc char[11];
            letters[0] = Update switch { ItemizedUpdate.Sent => '>', ItemizedUpdate.Made => 'c', ItemizedUpdate.HardLinked => 'h', _ => '.' };
            letters[1] = Kind switch { EntryKind.Directory => 'd', EntryKind.Symlink => 'L', EntryKind.Special => Device ? 'D' : 'S', _ => 'f' };
            if ((Changes & ItemizedAttributes.New) != 0)
            {
                letters[2..].Fill('+');
                return new string(letters);
            }
            letters[2..].Fill('.');
            if ((Changes & ItemizedAttributes.Contents) != 0) letters[2] = 'c';
            if ((Changes & ItemizedAttributes.Size) != 0) letters[3] = 's';
            if ((Changes & ItemizedAttributes.Time) != 0) letters[4] = 't';
            if ((Changes & ItemizedAttributes.Permissions) != 0) letters[5] = 'p';
            if ((Changes & ItemizedAttributes.Owner) != 0) letters[6] = 'o';
            if ((Changes & ItemizedAttributes.Group) != 0) letters[7] = 'g';
            if ((Changes & ItemizedAttributes.Acls) != 0) letters[9] = 'a';
            if ((Changes & ItemizedAttributes.Xattrs) != 0) letters[10] = 'x';
            // As rsync shows an entry that did not change at all (with -ii): its letters blank.
            if (Changes == ItemizedAttributes.None && Update != ItemizedUpdate.Sent) letters[2..].Fill(' ');
            return new string(letters);
        }
    }

    /// <summary>The path as rsync's <c>%n</c> gives it: a directory's ending in '/'.</summary>
    public string Name => Kind == EntryKind.Directory && !Path.EndsWith('/') ? Path + "/" : Path;

    /// <summary>What rsync's <c>%L</c> gives: a link's <c> -&gt; target</c>, a hard link's <c> =&gt; path</c>, else nothing.</summary>
    public string Target => LinkTarget is null ? "" : Kind == EntryKind.Symlink ? $" -> {LinkTarget}" : $" => {LinkTarget}";

    /// <summary>The line rsync's <c>--itemize-changes</c> prints (<c>%i %n%L</c>): the letters, the path (a directory's with '/'), and a link's <c> -&gt; target</c> or a hard link's <c> =&gt; path</c>.</summary>
    public override string ToString() => $"{Letters} {Name}{Target}";
}
