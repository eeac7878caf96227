namespace Singularity.Engine;

/// <summary>A partial file an interrupted transfer left in a destination, with its resume journal.</summary>
public sealed record PartialFileInfo(string Path, string? JournalPath, long Bytes, DateTime LastWriteUtc);

/// <summary>Finds and removes what interrupted transfers left behind (<c>.NAME[.SESSION].sglty-part</c> and <c>.NAME.sglty-state</c>).</summary>
public static class PartialFiles
{
    /// <summary>Whether <paramref name="name"/> is one a receiver gives a partial file or its journal: hidden, ending in their suffix.</summary>
    internal static bool IsPartialName(string name) =>
        name.StartsWith('.') && (name.EndsWith(Storage.PartialFile.PartSuffix, StringComparison.Ordinal) || name.EndsWith(Storage.ResumeJournal.StateSuffix, StringComparison.Ordinal));

    /// <summary>Every partial file under <paramref name="directory"/>, oldest first.</summary>
    public static IReadOnlyList<PartialFileInfo> Find(string directory)
    {
        var found = new List<PartialFileInfo>();
        foreach (string part in Named(directory, Storage.PartialFile.PartSuffix))
        {
            var info = new FileInfo(part);
            if (info.LinkTarget is not null || !IsPartialName(info.Name)) continue;
            string journal = Storage.ResumeJournal.PathFor(part);
            var journalInfo = new FileInfo(journal);
            var last = journalInfo.Exists && journalInfo.LastWriteTimeUtc > info.LastWriteTimeUtc ? journalInfo.LastWriteTimeUtc : info.LastWriteTimeUtc;
            found.Add(new PartialFileInfo(part, journalInfo.Exists ? journal : null, info.Length, last));
        }
        foreach (string journal in Named(directory, Storage.ResumeJournal.StateSuffix))
        {
            if (!IsPartialName(Path.GetFileName(journal))) continue;
            string part = journal[..^Storage.ResumeJournal.StateSuffix.Length] + Storage.PartialFile.PartSuffix;
            if (!File.Exists(part)) found.Add(new PartialFileInfo(journal, journal, 0, File.GetLastWriteTimeUtc(journal)));
        }
        return [.. found.OrderBy(p => p.LastWriteUtc)];
    }

    /// <summary>
    /// The files below <paramref name="directory"/> whose names end in <paramref name="suffix"/>. Partials are hidden
    /// files, so hidden entries are not skipped; links are. A received tree holds the links its sender chose, and
    /// following one would find (and clean) partials outside the destination, or loop: a link to '.' beside another
    /// makes the walk grow without end. Nor is anything taken deeper than a path the system takes (PATH_MAX, a tree made
    /// a directory at a time), where .NET's walk would fail, and where no receiver writes.
    /// </summary>
    private static IEnumerable<string> Named(string directory, string suffix) =>
        new System.IO.Enumeration.FileSystemEnumerable<string>(directory, static (ref System.IO.Enumeration.FileSystemEntry entry) => entry.ToFullPath(), Walk)
        {
            ShouldIncludePredicate = (ref System.IO.Enumeration.FileSystemEntry entry) => !entry.IsDirectory && entry.FileName.EndsWith(suffix, StringComparison.Ordinal) && Reachable(ref entry),
            ShouldRecursePredicate = Reachable,
        };

    private static readonly EnumerationOptions Walk = new() { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint, IgnoreInaccessible = true };

    /// <summary>Whether a call takes the entry's path (<see cref="Storage.SpecialFiles.TooLongForTheSystem"/>).</summary>
    private static bool Reachable(ref System.IO.Enumeration.FileSystemEntry entry) => !Storage.SpecialFiles.TooLongForTheSystem(entry.ToFullPath());

    /// <summary>Deletes partial files (and journals) not touched for <paramref name="olderThan"/>; returns what was removed. A partial being received right now is skipped.</summary>
    public static IReadOnlyList<PartialFileInfo> Clean(string directory, TimeSpan olderThan)
    {
        var removed = new List<PartialFileInfo>();
        var cutoff = DateTime.UtcNow - olderThan;
        foreach (var partial in Find(directory))
        {
            if (partial.LastWriteUtc > cutoff) continue;
            try
            {
                // A session holds its partial and journal exclusively while it writes them: taking them proves nobody
                // is, and deleting while holding them keeps a session from taking them in between.
                if (partial.JournalPath is not null) DeleteUnused(partial.JournalPath);
                if (partial.Path != partial.JournalPath) DeleteUnused(partial.Path);
                removed.Add(partial);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return removed;
    }

    /// <summary>Deletes a file while holding its exclusive lock; throws an IOException if a session holds it.</summary>
    private static void DeleteUnused(string path) =>
        Storage.PartialFile.DeleteHeld(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.None), path);
}
