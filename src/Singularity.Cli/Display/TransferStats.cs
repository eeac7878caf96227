using System.Globalization;
using Singularity.Engine;
using Singularity.Engine.Protocol;

namespace Singularity.Cli.Display;

/// <summary>
/// A send's statistics in the lines of rsync's --stats, so that what reads rsync's (a person, or a script's pattern)
/// reads these: the entries and what the send made of them, the bytes of the files and of the wire, and rsync's last
/// two lines, numbers written at one of rsync's human-readable levels.
/// </summary>
internal static class TransferStats
{
    /// <summary>
    /// The lines, after a blank one: at <paramref name="level"/> 1 rsync's last two (bytes on the wire and the
    /// speedup), at 2 all; numbers at <paramref name="human"/> 0 bare, 1 with thousands commas (rsync's default), 2
    /// and 3 sizes in units of 1000 and 1024 (rsync -h, -hh).
    /// </summary>
    public static IEnumerable<string> Lines(SendResult result, int level, int human = 1)
    {
        var numbers = new Numbers(human);
        if (level >= 2)
            foreach (string line in Counts(result, numbers)) yield return line;
        yield return "";
        long traffic = result.TrafficSent + result.TrafficReceived;
        double rate = traffic / Math.Max(result.Elapsed.TotalSeconds, 1e-3);
        yield return $"sent {numbers.Size(result.TrafficSent)} bytes  received {numbers.Size(result.TrafficReceived)} bytes  {numbers.Size(rate)} bytes/sec";
        double speedup = (double)result.Bytes / Math.Max(traffic, 1);
        yield return $"total size is {numbers.Size(result.Bytes)}  speedup is {numbers.Fraction(speedup, 2)}{(result.DryRun ? " (DRY RUN)" : "")}";
    }

    /// <summary>rsync's counts, after a blank line: entries, what was made and deleted, files and bytes, the wire.</summary>
    private static IEnumerable<string> Counts(SendResult result, Numbers numbers)
    {
        yield return "";
        yield return $"Number of files: {ByKind(numbers, result.Entries, result.Directories, result.Links, result.Devices, result.Specials)}";
        // Known from the receiver's look at each name before it acts (itemizing), which --stats asks for.
        var created = result.Changes.Where(change => change.Update != ItemizedUpdate.Deleted && (change.Changes & ItemizedAttributes.New) != 0).ToList();
        int Created(EntryKind kind, bool device = false) => created.Count(change => change.Kind == kind && change.Device == device);
        yield return $"Number of created files: {ByKind(numbers, created.Count, Created(EntryKind.Directory), Created(EntryKind.Symlink), Created(EntryKind.Special, device: true), Created(EntryKind.Special))}";
        // The receiver names what it deleted without its kind (but for a directory), so the count stands alone.
        yield return $"Number of deleted files: {numbers.Count(result.EntriesDeleted)}";
        yield return $"Number of regular files transferred: {numbers.Count(result.FilesTransferred)}";
        yield return $"Total file size: {numbers.Size(result.Bytes)} bytes";
        yield return $"Total transferred file size: {numbers.Size(result.BytesTransferred)} bytes";
        // As rsync's, literal and matched make up what was transferred: holes count as literal, as rsync sends them, and
        // what the receiver held already (its versions' shards, or what an earlier send left) as matched; data sent
        // again (a retry, a resend) makes the literal more, never the matched.
        long literal = result.BytesSent + result.BytesInHoles;
        yield return $"Literal data: {numbers.Size(literal)} bytes";
        yield return $"Matched data: {numbers.Size(Math.Max(0, result.BytesTransferred - literal))} bytes";
        yield return $"File list size: {numbers.Size(result.ManifestBytes)}";
        yield return $"File list generation time: {numbers.Fraction(result.ScanTime.TotalSeconds, 3)} seconds";
        // rsync's time spent sending the list before any file: the manifest travels in chunks beside the files.
        yield return $"File list transfer time: {numbers.Fraction(0, 3)} seconds";
        yield return $"Total bytes sent: {numbers.Size(result.TrafficSent)}";
        yield return $"Total bytes received: {numbers.Size(result.TrafficReceived)}";
    }

    /// <summary>
    /// A count and, when it is not 0, its kinds, as rsync gives them: <c>5 (reg: 3, dir: 2)</c>, naming no kind of
    /// which there is none; regular files (and further names of them) are what the other kinds leave.
    /// </summary>
    private static string ByKind(Numbers numbers, int total, int directories, int links, int devices, int specials)
    {
        if (total == 0) return "0";
        var kinds = new List<string>(5);
        int regular = total - directories - links - devices - specials;
        foreach (var (label, count) in new[] { ("reg", regular), ("dir", directories), ("link", links), ("dev", devices), ("special", specials) })
            if (count > 0) kinds.Add($"{label}: {numbers.Count(count)}");
        return $"{numbers.Count(total)} ({string.Join(", ", kinds)})";
    }

    /// <summary>
    /// Numbers at one of rsync's human-readable levels (its do_big_num): a count with thousands commas but at level 0;
    /// a size as a count, or from level 2 one of 1000 or more (1024 at level 3) in units, with two decimals (2.10M).
    /// </summary>
    private readonly record struct Numbers(int Level)
    {
        public string Count(long value) => value.ToString(Level > 0 ? "N0" : "F0", CultureInfo.InvariantCulture);

        public string Fraction(double value, int decimals) => value.ToString((Level > 0 ? "N" : "F") + decimals, CultureInfo.InvariantCulture);

        public string Size(long value) => Level < 2 ? Count(value) : Size((double)value, integral: true);

        /// <summary>A rate, with two decimals where it is not in units.</summary>
        public string Size(double value) => Size(value, integral: false);

        private string Size(double value, bool integral)
        {
            int unit = Level == 3 ? 1024 : 1000;
            if (Level < 2 || Math.Abs(value) < unit) return integral ? Count((long)value) : Fraction(value, 2);
            int power = 0;
            do { value /= unit; power++; } while (Math.Abs(value) >= unit && power < Units.Length - 1);
            return value.ToString("F2", CultureInfo.InvariantCulture) + Units[power];
        }

        private const string Units = " KMGTPE";
    }
}
