using System.Text;

namespace Singularity.Engine.Storage;

/// <summary>
/// Which partial files and journals an earlier session left in the destination's directories, read with one listing
/// of each directory as a session prepares its files there, rather than a lookup of a partial's and a journal's name
/// for every file (two failed lookups for each file of a tree sent again unchanged, where a listing of its directory
/// costs less than one). The listing reads names alone (<see cref="SpecialFiles.NamesIn"/>: no status, no link
/// followed), and keeps only those reserved for partial files, compared in any letter case, so that a file system
/// that ignores case answers "may stand" rather than miss one; the caller then looks by name.
/// <para>
/// A manifest is walked depth first, so a directory's files come within its subtree's run: the listings of the
/// directories on the way to the last one asked about are kept, and a listing is dropped once the manifest leaves its
/// directory. Listings may read at most four names for each question asked, beyond an allowance: a listing that would
/// pass that is given up where it stands, and its directory answered "may stand", so that a directory of a million
/// names costs a session sending one file there no more than the allowance, and a manifest in another order (a
/// --files-from list that comes back to a large directory) no more than a few times its lookups. A partial another
/// session leaves after a listing is not seen: as with a lookup made a moment before it, the two sessions then
/// settle the file between them by its lock.
/// </para>
/// </summary>
internal sealed class StandingPartials(long allowance = 65_536)
{
    private static readonly byte[] PartEnding = Encoding.ASCII.GetBytes(PartialFile.PartSuffix);
    private static readonly byte[] StateEnding = Encoding.ASCII.GetBytes(ResumeJournal.StateSuffix);

    // The listings of the directories on the way to the last one asked about; Reserved null where its listing was
    // given up (any name may stand), empty where none stands.
    private readonly List<(string Directory, HashSet<string>? Reserved)> _open = [];
    private long _listed;
    private long _asked;

    /// <summary>Listings made so far, given up or not (for tests).</summary>
    internal int Listings { get; private set; }

    /// <summary>Names the listings read (for tests).</summary>
    internal long NamesRead => _listed;

    /// <summary>
    /// Whether a resumable partial or journal of the file at <paramref name="full"/> may stand beside it: false only
    /// when its directory's listing shows neither.
    /// </summary>
    public bool MayStand(string full)
    {
        _asked++;
        string? directory = Path.GetDirectoryName(full);
        if (directory is null || ListingOf(directory) is not { } reserved) return true;
        if (reserved.Count == 0) return false;
        string partial = PartialFile.TemporaryName(Path.GetFileName(full), null);
        return reserved.Contains(partial) || reserved.Contains(Path.GetFileName(ResumeJournal.PathFor(partial)));
    }

    /// <summary>The reserved names of <paramref name="directory"/>, listed now if they are not among those kept; null when they cannot be had.</summary>
    private HashSet<string>? ListingOf(string directory)
    {
        // Keep only the listings of this directory and those above it.
        while (_open.Count > 0 && !Holds(_open[^1].Directory, directory)) _open.RemoveAt(_open.Count - 1);
        if (_open.Count > 0 && PathGuard.NameComparer.Equals(_open[^1].Directory, directory)) return _open[^1].Reserved;
        long budget = 4 * _asked + allowance - _listed;
        if (budget <= 0)
        {
            _open.Add((directory, null));
            return null;
        }
        Listings++;
        var names = SpecialFiles.NamesIn(directory, EndsReserved, budget, out long read);
        _listed += read;
        HashSet<string>? reserved = names is null ? null : new(names, StringComparer.OrdinalIgnoreCase);
        _open.Add((directory, reserved));
        return reserved;
    }

    private static bool EndsReserved(ReadOnlySpan<byte> name) => EndsWith(name, PartEnding) || EndsWith(name, StateEnding);

    private static bool EndsWith(ReadOnlySpan<byte> name, ReadOnlySpan<byte> ending) =>
        name.Length >= ending.Length && Ascii.EqualsIgnoreCase(name[^ending.Length..], ending);

    /// <summary>Whether <paramref name="directory"/> is <paramref name="path"/> or above it (the root "/" too).</summary>
    private static bool Holds(string directory, string path) => PathGuard.NameComparer.Equals(directory, path) || PathGuard.IsBelow(directory, path);
}
