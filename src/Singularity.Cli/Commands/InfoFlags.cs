namespace Singularity.Cli.Commands;

/// <summary>
/// rsync's --info=FLAGS, for the flags whose output sglty gives: progress, stats and name, each with an optional
/// level (no digit is level 1), comma-separated (--info=progress2,stats2). A later flag of the same name wins, as
/// with rsync. Null where the flags did not name it.
/// </summary>
internal sealed record InfoFlags(int? Progress, int? Stats, int? Name)
{
    /// <summary>The flags of every --info given, in order; null with <paramref name="error"/> for one sglty does not give, naming it.</summary>
    public static InfoFlags? Parse(IEnumerable<string> values, out string? error)
    {
        error = null;
        int? progress = null, stats = null, name = null;
        foreach (string flag in values.SelectMany(value => value.Split(',', StringSplitOptions.RemoveEmptyEntries)))
        {
            string word = flag.TrimEnd("0123456789".ToCharArray());
            string digits = flag[word.Length..];
            int level = digits.Length == 0 ? 1 : digits.Length == 1 ? digits[0] - '0' : -1;
            switch (word.ToLowerInvariant())
            {
                case "progress" when level is >= 0 and <= 2: progress = level; break;
                case "stats" when level is >= 0 and <= 3: stats = level; break;
                case "name" when level is >= 0 and <= 1: name = level; break;
                default:
                    error = $"'{flag}' is not a flag sglty gives; it gives progress0 to progress2, stats0 to stats3 and name0 or name1";
                    return null;
            }
        }
        return new InfoFlags(progress, stats, name);
    }
}
