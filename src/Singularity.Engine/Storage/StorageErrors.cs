namespace Singularity.Engine.Storage;

/// <summary>Something at an entry's path in the destination that the receiver will not replace, such as a directory with contents where the source has a file.</summary>
internal sealed class EntryConflictException(string message) : SingularityException(ErrorCode.BadPath, message)
{
    /// <summary>
    /// Whether it stops the receiver's deletion, as an entry that could not be written does; not so a hard link whose
    /// file the sender left out as vanished or changed, whose name, sent, keeps what stands there.
    /// </summary>
    public bool StopsDeletion { get; init; } = true;
}

/// <summary>Recognises file system errors that need their own message.</summary>
internal static class StorageErrors
{
    private const int WindowsDiskFull = unchecked((int)0x80070070);
    private const int WindowsHandleDiskFull = unchecked((int)0x80070027);

    /// <summary>A file another holder has locked: on Unix the lock every session takes on the partials it writes (EWOULDBLOCK), on Windows a sharing violation.</summary>
    public static bool IsLocked(IOException ex) => ex.HResult is 11 or 35 or unchecked((int)0x80070020) or unchecked((int)0x80070021);

    /// <summary>
    /// A mode the file system refused, as one that keeps none refuses it: EPERM or EACCES (FAT on Linux, a FUSE mount
    /// that denies chmod), ENOSYS or EOPNOTSUPP (a FUSE file system that has no chmod, as fusefat).
    /// </summary>
    public static bool RefusesModes(Exception ex) =>
        ex is UnauthorizedAccessException || ex is IOException { HResult: Errno.NoSystemCall or Errno.NotSupported };

    public static bool IsDiskFull(IOException ex) =>
        ex.HResult is Errno.NoSpace or WindowsDiskFull or WindowsHandleDiskFull
        || ex.Message.Contains("No space left", StringComparison.OrdinalIgnoreCase)
        || ex.Message.Contains("disk was full", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Why making or writing in a directory failed, in the user's words: permission denied, no space left, a read-only
    /// file system; else .NET's own message.
    /// </summary>
    public static string Why(Exception ex) => ex switch
    {
        UnauthorizedAccessException => "permission denied",
        IOException io when IsDiskFull(io) => "no space left",
        IOException { HResult: 30 } => "a read-only file system",
        _ => ex.Message,
    };

    /// <summary>
    /// A failure that concerns one entry of a tree, and ends only it, as rsync goes on past it: a place the receiver may
    /// not write (EACCES, EPERM), a name too long for the file system (ENAMETOOLONG), a parent that could not be made or
    /// is not a directory (ENOENT, ENOTDIR), a directory or a file in the way (EISDIR, EEXIST), a link in the way
    /// (ELOOP), a name the file system refuses (EINVAL, EILSEQ), an entry it cannot make (ENOSYS, EOPNOTSUPP). Not a full disk or quota, a read-only file system, an I/O error or too many open files: every later
    /// entry would fail too (or waiting and retrying may mend it), so those end the session; nor a partial another
    /// session holds (busy).
    /// </summary>
    public static bool ConcernsOneEntry(Exception ex) => ex switch
    {
        UnauthorizedAccessException or EntryConflictException or PathTooLongException or DirectoryNotFoundException or FileNotFoundException => true,
        // A name the file system refuses (FAT refuses ':' with EINVAL; some refuse bytes their encoding lacks), and a kind
        // of entry it cannot hold (FAT and exFAT make no links: ENOSYS), are that entry's alone.
        IOException io => io.HResult is Errno.NoEntry or Errno.NotADirectory or Errno.IsADirectory or Errno.Exists or Errno.NameTooLong or Errno.TooManyLinks
            or Errno.InvalidArgument or Errno.IllegalByteSequence or Errno.NoSystemCall or Errno.NotSupported,
        _ => false,
    };

    /// <summary>Turns a raw I/O failure into a session error with a one-line message.</summary>
    public static SingularityException Describe(Exception ex, string what) => ex switch
    {
        SingularityException known => known,
        IOException io when IsDiskFull(io) => new SingularityException(ErrorCode.DiskFull, $"disk full while {what} (no space, or no free inodes: see df -i); free space on the receiver (partial files of interrupted sends count: `sglty partials` lists them) and send again", ex),
        UnauthorizedAccessException => new SingularityException(ErrorCode.IoError, $"permission denied while {what}; check that the destination is writable", ex),
        IOException { HResult: Errno.NoSystemCall or Errno.NotSupported } => new SingularityException(ErrorCode.IoError, $"{Errno.ToException(ex.HResult).Message} while {what}: the file system cannot make that, as a FAT or exFAT disk makes no links", ex),
        IOException { HResult: Errno.InvalidArgument or Errno.IllegalByteSequence } => new SingularityException(ErrorCode.IoError, $"{Errno.ToException(ex.HResult).Message} while {what}, as a FAT or exFAT disk answers a name that holds any of \" * : < > ? \\ | or ends in a dot or a space", ex),
        IOException => new SingularityException(ErrorCode.IoError, $"I/O error while {what}: {ex.Message}", ex),
        _ => new SingularityException(ErrorCode.Internal, $"unexpected error while {what}: {ex.Message}", ex),
    };
}
