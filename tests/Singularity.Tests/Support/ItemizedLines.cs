using Singularity.Engine;

namespace Singularity.Tests.Support;

/// <summary>rsync's --itemize-changes lines beside sglty's, for tests that run both on the same trees.</summary>
public static class ItemizedLines
{
    /// <summary>rsync's itemized lines for a run with these arguments.</summary>
    public static List<string> Rsync(params string[] arguments)
    {
        string? output = Commands.Output("rsync", arguments);
        Assert.NotNull(output);
        return [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries)];
    }

    /// <summary>
    /// The same lines, in any order (rsync and sglty take entries in different orders), but rsync's for the
    /// destination itself ('./'), which sglty leaves as it is, sending what a directory holds into it.
    /// </summary>
    public static void AssertSameLines(IEnumerable<string> rsync, IReadOnlyList<ItemizedChange> changes) =>
        Assert.Equal(rsync.Where(line => !line.EndsWith(" ./", StringComparison.Ordinal)).Order(StringComparer.Ordinal), changes.Select(change => change.ToString()).Order(StringComparer.Ordinal));
}
