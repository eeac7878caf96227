using System.Globalization;
using Singularity.Engine;
using Singularity.Engine.Protocol;

namespace Singularity.Cli.Display;

/// <summary>
/// A send's statistics in the lines of rsync's --stats, so that what reads rsync's (a person, or a script's pattern)
/// reads these: the entries and what the send made of them, the bytes of the files and of the wire, and rsync's last
/// two lines. Numbers carry rsync's thousands commas.
/// </summary>
internal static class TransferStats
{
    /// <summary>The lines, after a blank one: at <paramref name="level"/> 1 rsync's last two (bytes on the wire and the speedup), at 2 all.</summary>
    public static IEnumerable<string> Lines(SendResult result, int level)
    {
        if (level >= 2)
            foreach (string line in Counts(result)) yield return line;
        yield return "";
        long traffic = result.TrafficSent + result.TrafficReceived;
        double rate = traffic / Math.Max(result.Elapsed.TotalSeconds, 1e-3);
        yield return $"sent {Number(result.TrafficSent)} bytes  received {Number(result.TrafficReceived)} bytes  {rate.ToString("N2", CultureInfo.InvariantCulture)} bytes/sec";
        double speedup = (double)result.Bytes / Math.Max(traffic, 1);
        yield return $"total size is {Number(result.Bytes)}  speedup is {speedup.ToString("N2", CultureInfo.InvariantCulture)}{(result.DryRun ? " (DRY RUN)" : "")}";
    }

    /// <summary>rsync's counts, after a blank line: entries, what was made and deleted, files and bytes, the wire.</summary>
    private static IEnumerable<string> Counts(SendResult result)
    {
        yield return "";
        yield return $"Number of files: {ByKind(result.Entries, result.Directories, result.Links, result.Devices, result.Specials)}";
        // Known from the receiver's look at each name before it acts (itemizing), which --stats asks for.
        var created = result.Changes.Where(change => change.Update != ItemizedUpdate.Deleted && (change.Changes & ItemizedAttributes.New) != 0).ToList();
        int Created(EntryKind kind, bool device = false) => created.Count(change => change.Kind == kind && change.Device == device);
        yield return $"Number of created files: {ByKind(created.Count, Created(EntryKind.Directory), Created(EntryKind.Symlink), Created(EntryKind.Special, device: true), Created(EntryKind.Special))}";
        // The receiver names what it deleted without its kind (but for a directory), so the count stands alone.
        yield return $"Number of deleted files: {Number(result.EntriesDeleted)}";
        yield return $"Number of regular files transferred: {Number(result.FilesTransferred)}";
        yield return $"Total file size: {Number(result.Bytes)} bytes";
        yield return $"Total transferred file size: {Number(result.BytesTransferred)} bytes";
        // As rsync's, literal and matched make up what was transferred: holes count as literal, as rsync sends them, and
        // what the receiver held already (its versions' shards, or what an earlier send left) as matched; data sent
        // again (a retry, a resend) makes the literal more, never the matched.
        long literal = result.BytesSent + result.BytesInHoles;
        yield return $"Literal data: {Number(literal)} bytes";
        yield return $"Matched data: {Number(Math.Max(0, result.BytesTransferred - literal))} bytes";
        yield return $"File list size: {Number(result.ManifestBytes)}";
        yield return $"File list generation time: {result.ScanTime.TotalSeconds.ToString("N3", CultureInfo.InvariantCulture)} seconds";
        // rsync's time spent sending the list before any file: the manifest travels in chunks beside the files.
        yield return "File list transfer time: 0.000 seconds";
        yield return $"Total bytes sent: {Number(result.TrafficSent)}";
        yield return $"Total bytes received: {Number(result.TrafficReceived)}";
    }

    /// <summary>
    /// A count and, when it is not 0, its kinds, as rsync gives them: <c>5 (reg: 3, dir: 2)</c>, naming no kind of
    /// which there is none; regular files (and further names of them) are what the other kinds leave.
    /// </summary>
    private static string ByKind(int total, int directories, int links, int devices, int specials)
    {
        if (total == 0) return "0";
        var kinds = new List<string>(5);
        int regular = total - directories - links - devices - specials;
        foreach (var (label, count) in new[] { ("reg", regular), ("dir", directories), ("link", links), ("dev", devices), ("special", specials) })
            if (count > 0) kinds.Add($"{label}: {Number(count)}");
        return $"{Number(total)} ({string.Join(", ", kinds)})";
    }

    private static string Number(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
}
