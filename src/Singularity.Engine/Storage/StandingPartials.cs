namespace Singularity.Engine.Storage;

/// <summary>
/// Which partial files and journals an earlier session left in the destination's directories, read with one listing
/// of each directory as a session prepares its files there, rather than a lookup of a partial's and a journal's name
/// for every file (two failed lookups for each file of a tree sent again unchanged, where a listing of its directory
/// costs less than one). A manifest is walked depth first, so a directory's files come within its subtree's run: the
/// listings of the directories on the way to the last one asked about are kept, and a listing is dropped once the
/// manifest leaves its directory. A manifest in another order (a --files-from list) could come back to a directory
/// many times: once the entries listed outrun the questions asked, no more listings are made, and every answer is
/// "may stand", for the caller to look. Only names reserved for partial files are kept from a listing.
/// </summary>
internal sealed class StandingPartials(long allowance = 65_536)
{
    private readonly List<(string Directory, HashSet<string>? Reserved)> _open = [];
    private long _listed;
    private long _asked;

    /// <summary>Listings made so far (for tests).</summary>
    internal int Listings { get; private set; }

    /// <summary>
    /// Whether a resumable partial or journal of the file at <paramref name="full"/> may stand beside it: false only
    /// when its directory's listing shows neither.
    /// </summary>
    public bool MayStand(string full)
    {
        _asked++;
        string? directory = Path.GetDirectoryName(full);
        if (directory is null || ListingOf(directory) is not { } listing) return true;
        if (listing.Reserved is null) return false;
        string partial = PartialFile.TemporaryName(Path.GetFileName(full), null);
        return listing.Reserved.Contains(partial) || listing.Reserved.Contains(Path.GetFileName(ResumeJournal.PathFor(partial)));
    }

    /// <summary>The listing of <paramref name="directory"/>, made now if it is not among those kept; null when none can be had.</summary>
    private (string Directory, HashSet<string>? Reserved)? ListingOf(string directory)
    {
        // Keep only the listings of this directory and those above it.
        while (_open.Count > 0 && !Holds(_open[^1].Directory, directory)) _open.RemoveAt(_open.Count - 1);
        if (_open.Count > 0 && PathGuard.NameComparer.Equals(_open[^1].Directory, directory)) return _open[^1];
        if (_listed > 4 * _asked + allowance) return null;
        HashSet<string>? reserved = null;
        try
        {
            var names = new System.IO.Enumeration.FileSystemEnumerable<string>(directory, static (ref entry) => entry.FileName.ToString(), Everything)
            {
                ShouldIncludePredicate = (ref entry) =>
                {
                    _listed++;
                    return PathGuard.IsReserved(entry.FileName);
                },
            };
            foreach (string name in names) (reserved ??= new(PathGuard.NameComparer)).Add(name);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        Listings++;
        _open.Add((directory, reserved));
        return _open[^1];
    }

    // Every entry, links and hidden names included, without looking at any; a directory that cannot be listed throws.
    private static readonly EnumerationOptions Everything = new() { AttributesToSkip = 0, IgnoreInaccessible = false, RecurseSubdirectories = false };

    /// <summary>Whether <paramref name="directory"/> is <paramref name="path"/> or above it.</summary>
    private static bool Holds(string directory, string path) =>
        path.StartsWith(directory, PathGuard.NameComparison)
        && (path.Length == directory.Length || path[directory.Length] == Path.DirectorySeparatorChar);
}
