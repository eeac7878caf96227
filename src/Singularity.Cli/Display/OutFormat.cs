using System.Globalization;
using System.Text;
using Singularity.Engine;

namespace Singularity.Cli.Display;

/// <summary>
/// rsync's --out-format: a line per itemized change, made from a format of '%' escapes (each with an optional width,
/// '-' to pad on the right, and for %l a "'" to group its digits), read once. -i is the format <c>%i %n%L</c>.
/// </summary>
internal sealed class OutFormat
{
    /// <summary>The escapes this format takes, each rsync's: what each gives is in <see cref="Value"/>.</summary>
    public const string Escapes = "nfiLlMBotp";

    private readonly List<(string Text, char Escape, int Width, bool Left, bool Grouped)> _parts = [];

    private OutFormat(string format) => Format = format;

    /// <summary>The format as given.</summary>
    public string Format { get; }

    /// <summary>Whether the format names the itemized letters (%i): without them, rsync prints only what travelled or was made.</summary>
    public bool Itemizes => _parts.Any(part => part.Escape == 'i');

    /// <summary>Whether a deletion is printed in the format: with %i or %o, as rsync's log_delete does; else as "deleting PATH".</summary>
    private bool NamesDeletions => _parts.Any(part => part.Escape is 'i' or 'o');

    /// <summary>The format of rsync's --itemize-changes.</summary>
    public static OutFormat Itemized { get; } = Parse("%i %n%L", out _)!;

    /// <summary>Reads a format; null, with the reason, for an escape rsync's format does not have or this one does not give.</summary>
    public static OutFormat? Parse(string format, out string? error)
    {
        var parsed = new OutFormat(format);
        var text = new StringBuilder();
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%')
            {
                text.Append(format[i]);
                continue;
            }
            int start = i++;
            bool left = false;
            int apostrophes = 0;
            for (; i < format.Length && format[i] is '-' or '\''; i++)
            {
                if (format[i] == '-') left = true;
                else apostrophes++;
            }
            int width = 0;
            for (; i < format.Length && char.IsAsciiDigit(format[i]); i++) width = Math.Min(width * 10 + (format[i] - '0'), 1000);
            if (i == format.Length)
            {
                error = $"'{format[start..]}' at the end of the format names no escape; write %% for a '%'";
                return null;
            }
            if (format[i] == '%' && i == start + 1)
            {
                text.Append('%');
                continue;
            }
            if (apostrophes > 1)
            {
                error = $"'{format[start..(i + 1)]}': sizes in units ('%''l', rsync's) are not offered; '%'l' groups the digits";
                return null;
            }
            if (format[i] != '%' && !Escapes.Contains(format[i]))
            {
                error = $"'%{format[i]}' is not an escape sglty gives; it gives %n (the path), %f (without a directory's '/'), %i (the itemized letters), %L (' -> TARGET' of a link), %l (the size), %M (the modification time), %B (the permissions), %o (the operation), %t (the time now), %p (the process id) and %%";
                return null;
            }
            parsed._parts.Add((text.ToString(), format[i], width, left, apostrophes == 1));
            text.Clear();
        }
        parsed._parts.Add((text.ToString(), '\0', 0, false, false));
        error = null;
        return parsed;
    }

    /// <summary>
    /// Whether rsync prints this change in this format: without %i, what travelled, was made or deleted, and a
    /// directory whose attributes were set, but not a file or a link whose attributes alone were (rsync's
    /// maybe_log_item), nor what was left as it was.
    /// </summary>
    public bool Shows(ItemizedChange change) =>
        Itemizes || change.Update is not ItemizedUpdate.Unchanged || (change.Kind == Singularity.Engine.Protocol.EntryKind.Directory && change.Changes != ItemizedAttributes.None);

    /// <summary>
    /// The line for a change, the names in it printable (control characters as '?'), the format's own text as given.
    /// Without %i or %o, a deletion is "deleting PATH", as rsync -v prints it.
    /// </summary>
    public string Line(ItemizedChange change)
    {
        if (change.Update == ItemizedUpdate.Deleted && !NamesDeletions) return $"deleting {Errors.Printable(change.Name)}";
        var line = new StringBuilder();
        foreach (var (text, escape, width, left, grouped) in _parts)
        {
            line.Append(text);
            if (escape == '\0') continue;
            string value = Value(change, escape, grouped);
            line.Append(left ? value.PadRight(width) : value.PadLeft(width));
        }
        return line.ToString();
    }

    /// <summary>What an escape gives for a change, as rsync's log format gives it.</summary>
    private static string Value(ItemizedChange change, char escape, bool grouped) => escape switch
    {
        'n' => Errors.Printable(change.Name),
        'f' => Errors.Printable(change.Path.TrimEnd('/')),
        'i' => change.Letters,
        'L' => Errors.Printable(change.Target),
        '%' => "%",
        'l' => change.Size.ToString(grouped ? "#,0" : "0", CultureInfo.InvariantCulture),
        'M' => change.Modified.ToLocalTime().ToString("yyyy/MM/dd-HH:mm:ss", CultureInfo.InvariantCulture),
        'B' => Permissions(change.Mode),
        'o' => change.Update == ItemizedUpdate.Deleted ? "del." : "send",
        't' => DateTime.Now.ToString("yyyy/MM/dd HH:mm:ss", CultureInfo.InvariantCulture),
        'p' => Environment.ProcessId.ToString(CultureInfo.InvariantCulture),
        _ => throw new ArgumentOutOfRangeException(nameof(escape)),
    };

    /// <summary>Permission bits as <c>ls -l</c> shows them, setuid, setgid and sticky included (rsync's %B).</summary>
    private static string Permissions(UnixFileMode mode)
    {
        static char Bit(UnixFileMode mode, UnixFileMode bit, char letter) => (mode & bit) != 0 ? letter : '-';
        static char Special(UnixFileMode mode, UnixFileMode execute, UnixFileMode special, char set) =>
            (mode & special) == 0 ? Bit(mode, execute, 'x') : (mode & execute) != 0 ? set : char.ToUpperInvariant(set);
        return new string([
            Bit(mode, UnixFileMode.UserRead, 'r'), Bit(mode, UnixFileMode.UserWrite, 'w'), Special(mode, UnixFileMode.UserExecute, UnixFileMode.SetUser, 's'),
            Bit(mode, UnixFileMode.GroupRead, 'r'), Bit(mode, UnixFileMode.GroupWrite, 'w'), Special(mode, UnixFileMode.GroupExecute, UnixFileMode.SetGroup, 's'),
            Bit(mode, UnixFileMode.OtherRead, 'r'), Bit(mode, UnixFileMode.OtherWrite, 'w'), Special(mode, UnixFileMode.OtherExecute, UnixFileMode.StickyBit, 't'),
        ]);
    }
}
