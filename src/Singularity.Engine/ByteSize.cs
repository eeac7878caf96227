using System.Globalization;

namespace Singularity.Engine;

/// <summary>Reads and writes byte counts with binary suffixes (KiB, MiB, GiB, TiB; K, M, G, T and KB, MB, GB, TB mean the same here).</summary>
public static class ByteSize
{
    /// <summary>Parses "4MiB", "512k", "2 GiB" or a plain number of bytes.</summary>
    public static bool TryParse(string text, out long bytes)
    {
        bytes = 0;
        if (string.IsNullOrWhiteSpace(text)) return false;
        string value = text.Trim();
        int split = 0;
        while (split < value.Length && (char.IsAsciiDigit(value[split]) || value[split] == '.')) split++;
        if (split == 0 || !double.TryParse(value.AsSpan(0, split), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double number)) return false;
        long multiplier = value[split..].Trim().ToUpperInvariant() switch
        {
            "" or "B" => 1,
            "K" or "KB" or "KIB" => 1L << 10,
            "M" or "MB" or "MIB" => 1L << 20,
            "G" or "GB" or "GIB" => 1L << 30,
            "T" or "TB" or "TIB" => 1L << 40,
            _ => 0,
        };
        if (multiplier == 0) return false;
        double result = Math.Round(number * multiplier);
        if (result > long.MaxValue) return false;
        bytes = (long)result;
        return true;
    }

    /// <summary>Formats a count exactly, in the largest binary unit that divides it, the way options are written: "4KiB", "16MiB", "1000".</summary>
    internal static string Exact(long bytes)
    {
        string[] units = ["", "KiB", "MiB", "GiB", "TiB"];
        int unit = 0;
        while (bytes != 0 && bytes % 1024 == 0 && unit < units.Length - 1)
        {
            bytes /= 1024;
            unit++;
        }
        return string.Create(CultureInfo.InvariantCulture, $"{bytes}{units[unit]}");
    }

    /// <summary>Formats with the largest binary unit that keeps the number at least 1, e.g. "1.50 GiB".</summary>
    public static string Format(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
        double value = bytes;
        int unit = 0;
        while (Math.Abs(value) >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }
        return unit == 0 ? $"{bytes} B" : string.Create(CultureInfo.InvariantCulture, $"{value:0.00} {units[unit]}");
    }
}
