namespace Singularity.Engine.Storage;

/// <summary>
/// Which users (or groups) a send gives which others, as rsync's --usermap and --groupmap read them: FROM:TO pairs,
/// the first FROM that matches deciding (<see cref="TransferOptions.UserMap"/>). --chown's one name is the pair
/// <c>*:TO</c>, as rsync makes it. The sender applies it to the ids it reads, before their names travel.
/// </summary>
internal sealed class OwnerMap
{
    private readonly Pair[] _pairs;
    private readonly bool _groups;
    private readonly bool _numericIds;
    // This system's name for each id met, looked up once (a lookup reads /etc/passwd or asks NSS).
    private readonly Dictionary<uint, string> _names = [];

    private OwnerMap(Pair[] pairs, bool groups, bool numericIds)
    {
        _pairs = pairs;
        _groups = groups;
        _numericIds = numericIds;
    }

    /// <summary>Whether every id is given the same one, so that none needs to be read (--chown, or a first pair of <c>*</c>).</summary>
    public bool MapsAll => _pairs[0].Kind == FromKind.Any;

    /// <summary>The ids TO gave by number: they travel without a name, as rsync's.</summary>
    public IEnumerable<uint> ByNumber => _pairs.Where(pair => pair.ToByNumber).Select(pair => pair.To);

    /// <summary>Every id given <paramref name="to"/>, a name or a number (--chown's part).</summary>
    public static OwnerMap All(string to, bool groups, string option)
    {
        var (id, byNumber) = Target(to, groups, option);
        return new([new Pair(FromKind.Any, "*", null, 0, 0, id, byNumber)], groups, numericIds: false);
    }

    /// <summary>
    /// Reads rsync's STRING; <paramref name="numericIds"/> matches every id as one without a name, as rsync's sender
    /// sends none then. A malformed pair, a TO this system does not know, or a number out of range is an
    /// <see cref="ArgumentException"/> naming <paramref name="option"/>.
    /// </summary>
    public static OwnerMap Parse(string text, bool groups, bool numericIds, string option)
    {
        string what = groups ? "group" : "user";
        var pairs = new List<Pair>();
        foreach (string pair in text.Split(','))
        {
            int colon = pair.LastIndexOf(':');
            if (colon < 0 || pair.IndexOf(':') != colon)
                throw Refused($"takes FROM:TO pairs separated by commas, and '{pair}' is not one", option);
            string from = pair[..colon];
            var (to, byNumber) = Target(pair[(colon + 1)..], groups, option);
            pairs.Add(From(from, what, option) with { To = to, ToByNumber = byNumber });
        }
        return new OwnerMap([.. pairs], groups, numericIds);
    }

    /// <summary>The id <paramref name="id"/> is given: that of the first pair that matches it, else itself; null where it was not read (<see cref="MapsAll"/> needs none).</summary>
    public uint? Map(uint? id)
    {
        if (MapsAll) return _pairs[0].To;
        if (id is not { } read) return null;
        foreach (var pair in _pairs)
            if (pair.Matches(read, this)) return pair.To;
        return read;
    }

    /// <summary>The name an id is matched by: this system's, or empty for one it has no name for (every id, with --numeric-ids).</summary>
    private string NameOf(uint id)
    {
        if (_numericIds) return "";
        if (!_names.TryGetValue(id, out string? name))
            _names[id] = name = (OperatingSystem.IsLinux() ? _groups ? AccountNames.GroupName(id) : AccountNames.UserName(id) : null) ?? "";
        return name;
    }

    private static Pair From(string from, string what, string option)
    {
        if (from == "*") return new Pair(FromKind.Any, from, null, 0, 0, 0, false);
        // As rsync: what starts with a digit is a number or a range, and nothing else.
        if (from.Length > 0 && char.IsAsciiDigit(from[0]))
        {
            int dash = from.IndexOf('-');
            string low = dash < 0 ? from : from[..dash], high = dash < 0 ? from : from[(dash + 1)..];
            if (low.All(char.IsAsciiDigit) && high.Length > 0 && high.All(char.IsAsciiDigit)) return Number(low, high);
            throw Refused($"'{from}' starts with a digit but is neither a number nor a range LOW-HIGH", option);
        }
        if (from.Contains('\0')) throw Refused($"the {what} name '{from}' holds a NUL", option);
        // As rsync: a name with a wildcard is matched as a pattern, against names alone.
        if (from.AsSpan().IndexOfAny("*?[") < 0) return new Pair(FromKind.Name, from, null, 0, 0, 0, false);
        ExcludePatterns? pattern;
        try
        {
            // A pattern alone, matched as an entry's name is ('/' never stands in a name).
            pattern = ExcludePatterns.Parse(["- " + from]);
        }
        catch (ArgumentException ex)
        {
            throw Refused(ex.Message, option);
        }
        return new Pair(FromKind.Pattern, from, pattern, 0, 0, 0, false);

        Pair Number(string low, string high)
        {
            uint first = Id(low, what, option), last = Id(high, what, option);
            if (first > last) throw Refused($"the range '{from}' ends before it starts", option);
            return new Pair(FromKind.Range, from, null, first, last, 0, false);
        }
    }

    private static (uint Id, bool ByNumber) Target(string to, bool groups, string option)
    {
        string what = groups ? "group" : "user";
        if (to.Length > 0 && to.All(char.IsAsciiDigit)) return (Id(to, what, option), true);
        if (to.Length == 0 || to.Contains('\0') || !OperatingSystem.IsLinux())
            throw Refused(to.Length == 0 ? $"an empty {what} name to give" : $"{what} names can be looked up on Linux only; give the number", option);
        return ((groups ? AccountNames.GroupId(to) : AccountNames.UserId(to)) ?? throw Refused($"no {what} '{to}' here; give its number, or a name this system knows", option), false);
    }

    private static uint Id(string number, string what, string option) =>
        uint.TryParse(number, out uint id) && id != Protocol.ManifestEntry.IdNotKept ? id : throw Refused($"{what} id {number} is out of range", option);

#pragma warning disable CA2208 // Names the option the caller set.
    private static ArgumentException Refused(string message, string option) => new(message, option);
#pragma warning restore CA2208

    private enum FromKind { Any, Name, Pattern, Range }

    private readonly record struct Pair(FromKind Kind, string From, ExcludePatterns? Pattern, uint Low, uint High, uint To, bool ToByNumber)
    {
        /// <summary>Whether the pair's FROM matches <paramref name="id"/>, by its name in <paramref name="map"/> where it names one (looked up only then).</summary>
        public bool Matches(uint id, OwnerMap map) => Kind switch
        {
            FromKind.Any => true,
            FromKind.Range => id >= Low && id <= High,
            // An empty FROM matches the ids without a name alone, as rsync's.
            FromKind.Name => map.NameOf(id) == From,
            _ => Pattern!.Excludes(map.NameOf(id), isDirectory: false),
        };
    }
}
