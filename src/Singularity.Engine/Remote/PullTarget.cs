using Singularity.Engine.Storage;

namespace Singularity.Engine;

/// <summary>
/// Where a pull goes here, as scp and rsync take a target, and how the side pulled from is kept to it. An existing
/// directory receives the sources. One path pulled to any other name (not ending in '/') takes that name: it is
/// received into a private staging directory beside it (<c>.NAME.sglty-pull</c>), never into the directory above it,
/// where the side pulled from could write whatever it liked (scp's CVE-2019-6111); once the send has ended, what it
/// sent under NAME, and that alone, is renamed into place (with --backup, the backup the receiver made there of what
/// the name held goes beside it too). Anything else (a pattern too, which may match many) goes
/// into a directory of that name, made for it. A dry run makes nothing here.
/// </summary>
internal sealed class PullTarget
{
    private readonly string? _named;
    private readonly string? _standIn;
    private readonly List<string> _made;
    // With --backup: the suffix of the backup the receiver makes of the file at the name, in the staging directory.
    private string? _backupSuffix;

    private PullTarget(string directory, string? fileName, string? named, string? standIn, List<string> made)
    {
        Directory = directory;
        FileName = fileName;
        _named = named;
        _standIn = standIn;
        _made = made;
    }

    private volatile bool _arrived;

    /// <summary>Where the pull goes: the name given, or the directory.</summary>
    public string Named => _named ?? Directory;

    /// <summary>Where a pull to a name is received first (the directory served); null where the sources go into a directory.</summary>
    private string? Staging => _named is null ? null : Directory;

    /// <summary>The directory the receiver serves.</summary>
    public string Directory { get; }

    /// <summary>The name the one path sent takes (a directory sent goes into a directory of that name); null where the sources go into <see cref="Directory"/>.</summary>
    public string? FileName { get; }

    /// <summary>Whether a session has started here: the login and the send there worked, and something may have arrived.</summary>
    public bool Arrived
    {
        get => _arrived;
        set => _arrived = value;
    }

    public static PullTarget Prepare(string target, IReadOnlyList<string> paths, bool makePath, TransferOptions options)
    {
        // "DIR/", "DIR/." and "DIR/.." name a directory, whatever stands there, as they do to cp.
        bool namesDirectory = target.EndsWith('/') || Path.GetFileName(target) is "." or ".." || target is "." or "..";
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(target));
        if (System.IO.Directory.Exists(full)) return new PullTarget(full, null, null, null, []);
        bool standing = Path.Exists(full) || new FileInfo(full).LinkTarget is not null;
        string above = Path.GetDirectoryName(full) ?? "/";
        string name = Path.GetFileName(full);
        // A file there is written over, as scp and rsync write over it, but only by one path.
        // A pattern may match many: what it matches goes into a directory, as several paths do.
        bool namesFile = !namesDirectory && paths is [var only] && !options.Relative && !SourceScanner.ContentsOnly(only) && !RemoteCommand.HasWildcards(only) && name.Length > 0;
        if (standing && !namesFile)
            throw new SingularityException(ErrorCode.BadPath, $"'{target}' is not a directory, and a pull of more than one path, of a pattern, of a directory's contents or with --relative goes into one");
        if (!makePath && !System.IO.Directory.Exists(above))
            throw new SingularityException(ErrorCode.BadPath, $"'{above}' is not there; make it first, or pull with --mkpath");
        if (namesFile && options.BackupDirectory is not null)
            throw new SingularityException(ErrorCode.BadPath, $"--backup-dir with a pull to a name ('{target}') is not offered yet: pull into a directory ('{above}/'), where what is pulled keeps its own name, or give --backup alone");
        string served = namesFile ? above : full;
        if (options.DryRun)
        {
            // Nothing is made: the receiver serves a directory of its own, where everything is new but the file at the
            // name, which stands there as an empty file of its size, time and mode, for the quick check to judge.
            string standIn = System.IO.Directory.CreateTempSubdirectory("sglty-dry-run-").FullName;
            if (namesFile && File.Exists(full) && new FileInfo(full).LinkTarget is null) Placeholder(full, Path.Combine(standIn, name));
            return new PullTarget(standIn, namesFile ? name : null, null, standIn, []);
        }
        var made = MadeDirectories.Missing(served);
        System.IO.Directory.CreateDirectory(served);
        if (!namesFile) return new PullTarget(served, null, null, null, made);
        string staging = Path.Combine(above, $".{name}.sglty-pull");
        bool stagingMade = !Path.Exists(staging) && new DirectoryInfo(staging).LinkTarget is null;
        if (stagingMade && OperatingSystem.IsWindows()) System.IO.Directory.CreateDirectory(staging);
        else if (stagingMade) System.IO.Directory.CreateDirectory(staging, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        else if (!System.IO.Directory.Exists(staging) || new DirectoryInfo(staging).LinkTarget is not null)
            throw new SingularityException(ErrorCode.BadPath, $"'{staging}', where a pull to '{target}' is received first, is not a directory; move it away");
        // The file there under its name too, so that the quick check and delta see it, and a resume finds its partial;
        // one an earlier pull linked that another file has replaced since is linked again, so that what a backup
        // keeps and what the quick check compares is the file at the name now.
        string inStaging = Path.Combine(staging, name);
        if (!stagingMade && FileIdentity(inStaging) is { } linked && FileIdentity(full) is { } now && linked != now && File.Exists(inStaging) && new FileInfo(inStaging).LinkTarget is null)
            File.Delete(inStaging);
        if (!OperatingSystem.IsWindows() && File.Exists(full) && new FileInfo(full).LinkTarget is null && !Path.Exists(inStaging))
        {
            try
            {
                SpecialFiles.Link(full, inStaging);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Then it is sent whole.
            }
        }
        return new PullTarget(staging, name, full, null, made) { _backupSuffix = options.Backup ? options.BackupSuffixOrDefault : null };
    }

    /// <summary>Once the send there ended with what it could send: what it sent under the name, and that alone, goes into place.</summary>
    public void Finish()
    {
        if (_named is not { } named) return;
        string staging = Directory;
        string sent = Path.Combine(staging, FileName!);
        var entry = new FileInfo(sent);
        bool isDirectory = System.IO.Directory.Exists(sent) && entry.LinkTarget is null;
        if (entry.Exists || isDirectory || entry.LinkTarget is not null)
        {
            if (isDirectory && (Path.Exists(named) || new FileInfo(named).LinkTarget is not null))
                throw new SingularityException(ErrorCode.BadPath, $"what was pulled is a directory, and '{named}' is not one; it waits in '{staging}'");
            // The backup the receiver made of the file at the name goes beside it first, as a push's is made before
            // the file is replaced: where it cannot go, the file at the name is left as it was.
            string backup = sent + _backupSuffix;
            if (_backupSuffix is not null && (Path.Exists(backup) || new FileInfo(backup).LinkTarget is not null))
            {
                string kept = named + _backupSuffix;
                if (System.IO.Directory.Exists(kept) && new DirectoryInfo(kept).LinkTarget is null)
                    throw new SingularityException(ErrorCode.BadPath, $"'{named}' was left as it was: its backup '{kept}' could not be made: a directory stands there; what was pulled waits in '{staging}'");
                SpecialFiles.Rename(backup, kept);
            }
            SpecialFiles.Rename(sent, named);
        }
        System.IO.Directory.Delete(staging, recursive: true);
    }

    /// <summary>
    /// After the pull, however it ended: a dry run's directory goes, and where the pull did not finish (a login or
    /// what was sent refused, an interruption), what was made for it and still holds nothing, as rsync makes nothing
    /// before it is connected. A staging directory that holds what arrived stays, for the same pull again to resume;
    /// one that holds nothing but the link to the file at the name (a send refused there, or one that ended before its
    /// first byte) goes, as there is nothing in it to resume.
    /// </summary>
    public void Close(bool finished)
    {
        if (_standIn is not null) System.IO.Directory.Delete(_standIn, recursive: true);
        if (Staging is { } staging && System.IO.Directory.Exists(staging) && HoldsNothingArrived())
            Remove(() => System.IO.Directory.Delete(staging, recursive: true));
        if (finished) return;
        // Not recursive: one that holds what arrived stays.
        MadeDirectories.RemoveEmpty(_made);
    }

    /// <summary>Whether the staging directory holds nothing, or the link to the file at the name alone.</summary>
    private bool HoldsNothingArrived()
    {
        var entries = System.IO.Directory.GetFileSystemEntries(Directory);
        if (entries.Length == 0) return true;
        if (entries is not [var only] || Path.GetFileName(only) != FileName) return false;
        return FileIdentity(only) is { } linked && linked == FileIdentity(_named!);
    }

    /// <summary>The file a name names (its device and inode, not through a link); null where it cannot be told.</summary>
    private static (ulong Device, ulong Inode)? FileIdentity(string path) =>
        SpecialFiles.IdentityOf(path) is { } identity ? (identity.Device, identity.Inode) : null;

    /// <summary>A file at <paramref name="copy"/> with <paramref name="file"/>'s size (a hole), time and mode, and none of its bytes.</summary>
    private static void Placeholder(string file, string copy)
    {
        var info = new FileInfo(file);
        using (var stream = new FileStream(copy, FileMode.CreateNew, FileAccess.Write)) stream.SetLength(info.Length);
        File.SetLastWriteTimeUtc(copy, info.LastWriteTimeUtc);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(copy, File.GetUnixFileMode(file));
    }

    private static void Remove(Action remove)
    {
        try
        {
            remove();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Something is in it after all, or it went: it stays as it is.
        }
    }
}
