using System.CommandLine;
using System.CommandLine.Parsing;
using Singularity.Engine;

namespace Singularity.Cli.Commands;

/// <summary>Options shared by several commands, and the parsers behind them.</summary>
internal static class CommonOptions
{
    public static Option<int?> Lanes(string? description = null) => new("--lanes")
    {
        HelpName = "N",
        Description = description ?? $"data lanes (TCP connections); default {TransferOptions.DefaultLanes}, and `send` then doubles them, up to 16 (fewer with large shards, so that lane buffers stay within 256 MiB), while that raises throughput; unless --shard-size is given, not on a path of under 1 ms round trip, and from 32 up to 64, with 1 MiB shards, on a path of 10 ms or more under any congestion control but BBR",
    };

    // Sizes, durations and the cipher have no default value of their own: their descriptions say the default in the
    // words users type (4MiB, 10m, aes-256-gcm), where the parser would add it as 4194304, 00:10:00 or Aes256Gcm. A
    // command takes an absent one as its default with ??.
    public static Option<long?> Size(string name, string description) =>
        Parsed<long>(name, "SIZE", description, ByteSize.TryParse, text => $"'{text}' is not a size; use a number with an optional suffix such as 512KiB, 4MiB or 2GiB");

    public static Option<CipherSuite?> Encrypt(string description) =>
        Parsed<CipherSuite>("--encrypt", "CIPHER", description, CipherSuites.TryParse, text => $"'{text}' is not a cipher; use aes-256-gcm, chacha20-poly1305 or none");

    /// <summary>Reads an option's text as a value, as the TryParse methods do.</summary>
    public delegate bool Reader<T>(string text, out T value);

    /// <summary>An option of one value that <paramref name="read"/> reads; text it cannot read is refused with <paramref name="error"/>'s line, in the words users type.</summary>
    public static Option<T?> Parsed<T>(string name, string helpName, string description, Reader<T> read, Func<string, string> error) where T : struct => new(name)
    {
        HelpName = helpName,
        Description = description,
        CustomParser = result =>
        {
            string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
            if (read(text, out T value)) return value;
            // Named, as the parser names an option whose number it could not read.
            result.AddError($"{name}: {error(text)}");
            return null;
        },
    };

    public static Option<string?> Token(string description) => new("--token") { Description = description, HelpName = "TOKEN" };

    public static Option<string?> TokenFile() => new("--token-file") { Description = "read the token from the first line of FILE (- for standard input)", HelpName = "FILE" };

    /// <summary>The token from --token, else --token-file, else the environment; null when none is given.</summary>
    public static string? ResolveToken(string? token, string? tokenFile)
    {
        if (!string.IsNullOrWhiteSpace(token)) return token.Trim();
        if (tokenFile == "-")
            return StandardInput.FirstLine()?.Trim() is { Length: > 0 } line ? line : throw new SingularityException(ErrorCode.AuthFailed, "--token-file -: standard input held no token line");
        if (tokenFile is not null)
        {
            try
            {
                string text = File.ReadLines(tokenFile).FirstOrDefault()?.Trim() ?? "";
                if (text.Length == 0) throw new SingularityException(ErrorCode.AuthFailed, $"token file '{tokenFile}' is empty");
                // As ssh does with a private key: worth a word, not a refusal, since the token may be shared on purpose.
                if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(tokenFile) & (UnixFileMode.GroupRead | UnixFileMode.OtherRead)) != 0)
                    Console.Error.WriteLine($"sglty: warning: token file '{tokenFile}' can be read by other users; make it private with chmod 600");
                return text;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                string why = ex switch
                {
                    FileNotFoundException or DirectoryNotFoundException => "no such file; give a file whose first line is the token, or the token itself with --token",
                    UnauthorizedAccessException => "permission denied",
                    _ => ex.Message,
                };
                throw new SingularityException(ErrorCode.AuthFailed, $"cannot read token file '{tokenFile}': {why}");
            }
        }
        string? environment = Environment.GetEnvironmentVariable(SessionToken.EnvironmentVariable);
        return string.IsNullOrWhiteSpace(environment) ? null : environment.Trim();
    }

    /// <summary>Fewer characters than this in a token a user chose earn a warning: one recorded handshake lets anyone try guesses offline.</summary>
    public const int ShortToken = 16;

    public static Option<TimeSpan?> Duration(string name, string description) =>
        Parsed<TimeSpan>(name, "AGE", description, TryParseDuration, text => $"'{text}' is not a duration; use a number with s, m, h or d, such as 90s, 10m or 7d");

    internal static bool TryParseDuration(string text, out TimeSpan value)
    {
        value = default;
        text = text.Trim().ToLowerInvariant();
        if (text.Length == 0) return false;
        char unit = char.IsAsciiLetter(text[^1]) ? text[^1] : 's';
        string digits = char.IsAsciiLetter(text[^1]) ? text[..^1] : text;
        if (!double.TryParse(digits, System.Globalization.NumberStyles.AllowDecimalPoint, System.Globalization.CultureInfo.InvariantCulture, out double number)) return false;
        double seconds = unit switch { 's' => number, 'm' => number * 60, 'h' => number * 3600, 'd' => number * 86400, _ => double.NaN };
        if (double.IsNaN(seconds) || seconds > TimeSpan.MaxValue.TotalSeconds) return false;
        value = TimeSpan.FromSeconds(seconds);
        return true;
    }

    public static Option<string?> Congestion() => new("--congestion")
    {
        HelpName = "NAME",
        Description = "TCP congestion control for this side's connections, e.g. bbr or cubic (Linux); default: the system's",
    };

    public static Option<bool> Json(string description) => new("--json") { Description = description };

    public static TransferOptions Transfer(int lanes, long shardSize) => new()
    {
        Lanes = lanes,
        ShardSize = (int)Math.Clamp(shardSize, 0, int.MaxValue),
    };
}
