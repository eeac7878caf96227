using Singularity.Engine;

namespace Singularity.Cli.Display;

/// <summary>Turns any failure into the single line a user sees, and an exit code.</summary>
internal static partial class Errors
{
    public const int Failure = 1;

    /// <summary>Reasons can come from the peer: control characters are shown as '?' so they cannot drive the terminal.</summary>
    public static string Printable(string text) => string.Create(text.Length, text, static (span, source) =>
    {
        for (int i = 0; i < source.Length; i++)
        {
            // Control characters, and format characters such as bidirectional overrides that can disguise text.
            var category = char.GetUnicodeCategory(source[i]);
            span[i] = category is System.Globalization.UnicodeCategory.Control or System.Globalization.UnicodeCategory.Format ? '?' : source[i];
        }
    });

    /// <summary>A command line that did not parse: the parser's first complaint, in the options' own words, and where to look.</summary>
    public static int ReportUsage(string message, string command, bool json = false)
    {
        // The parser names the .NET type it wanted; users know the option, and that it wants a number.
        var wrongType = WrongType().Match(message);
        if (wrongType.Success)
            message = $"{wrongType.Groups["option"].Value}: '{wrongType.Groups["value"].Value}' is not a {(wrongType.Groups["type"].Value.Contains("System.Int", StringComparison.Ordinal) ? "whole number" : "valid value")}";
        // The parser's own words begin in upper case ("Option '--dir' is required"); every other line in lower.
        if (message.Length > 1 && char.IsUpper(message[0]) && char.IsLower(message[1])) message = char.ToLowerInvariant(message[0]) + message[1..];
        Console.Error.WriteLine($"sglty: error: {Printable(message.TrimEnd('.'))}; see '{command} --help'");
        // A script that asked for JSON reads the failure there too: stdout is never left empty.
        if (json) WriteJson(message.TrimEnd('.'), null, Failure);
        return Failure;
    }

    [System.Text.RegularExpressions.GeneratedRegex("^Cannot parse argument '(?<value>.*)' for option '(?<option>[^']+)' as expected type '(?<type>[^']+)'")]
    private static partial System.Text.RegularExpressions.Regex WrongType();

    /// <summary>The options of <see cref="TransferOptions"/> that a user sets through a flag, by the name an error gives them.</summary>
    private static readonly Dictionary<string, string> Flags = new(StringComparer.Ordinal)
    {
        [nameof(TransferOptions.Lanes)] = "--lanes",
        [nameof(TransferOptions.MaxLanes)] = "--lanes",
        [nameof(TransferOptions.ShardSize)] = "--shard-size",
        [nameof(TransferOptions.MaxInFlightBytes)] = "--in-flight",
        [nameof(TransferOptions.SocketBufferSize)] = "--socket-buffer",
        [nameof(TransferOptions.Retries)] = "--retries",
        [nameof(TransferOptions.RetryTimeout)] = "--timeout",
        [nameof(TransferOptions.StallTimeout)] = "--stall-timeout",
        [nameof(TransferOptions.IdleTimeout)] = "--idle-timeout",
        [nameof(TransferOptions.Exclude)] = "--exclude",
        [nameof(TransferOptions.PreserveOwners)] = "--owners",
        [nameof(TransferOptions.ChownUser)] = "--chown",
        [nameof(TransferOptions.ChownGroup)] = "--chown",
        [nameof(TransferOptions.UserMap)] = "--usermap",
        [nameof(TransferOptions.GroupMap)] = "--groupmap",
        [nameof(TransferOptions.InPlace)] = "--inplace",
        [nameof(TransferOptions.DelayUpdates)] = "--delay-updates",
        [nameof(TransferOptions.MaxFileSize)] = "--max-size",
        [nameof(TransferOptions.MinFileSize)] = "--min-size",
        [nameof(TransferOptions.BackupDirectory)] = "--backup-dir",
        [nameof(TransferOptions.BackupSuffix)] = "--suffix",
        [nameof(TransferOptions.LinkDestinations)] = "--link-dest",
        [nameof(TransferOptions.CompareDestinations)] = "--compare-dest",
        [nameof(TransferOptions.CopyDestinations)] = "--copy-dest",
        [nameof(TransferOptions.CompressLevel)] = "--compress-level",
        [nameof(TransferOptions.MaxDelete)] = "--max-delete",
        [nameof(TransferOptions.CopyLinks)] = "--copy-links",
        [nameof(TransferOptions.CopyUnsafeLinks)] = "--copy-unsafe-links",
        [nameof(TransferOptions.CopyDirLinks)] = "--copy-dirlinks",
        [nameof(TransferOptions.OneFileSystem)] = "--one-file-system",
        [nameof(TransferOptions.ModeChanges)] = "--chmod",
        [nameof(TransferOptions.FileName)] = "--file-name",
    };

    /// <summary>Set when the user interrupted the command (Ctrl-C or SIGTERM).</summary>
    public static volatile bool Interrupted;

    /// <summary>A send that left out entries it could not read, and delivered the rest (rsync's code for the same).</summary>
    public const int PartialTransfer = 23;

    /// <summary>
    /// A send whose every entry left out was a file gone since the scan, with everything else delivered (rsync's code for
    /// vanished source files, which scripts that copy live data take for success).
    /// </summary>
    public const int VanishedSources = 24;

    /// <summary>A send whose deletion stopped at --max-delete, with everything else delivered (rsync's code for the same).</summary>
    public const int DeletionLimit = 25;

    /// <summary>recv --once gave up: no sender started a session within --accept-timeout (rsync's code for a connection it waited for in vain).</summary>
    public const int NoSender = 35;

    /// <summary>The exit code of a command ended by SIGINT, as shells report it.</summary>
    public const int InterruptedExit = 130;

    /// <summary>Prints the one line for <paramref name="ex"/>, and with <paramref name="json"/> the JSON object a script reads instead of the result; returns the exit code.</summary>
    public static int Report(Exception ex, bool json = false)
    {
        if (Interrupted && ex is OperationCanceledException or SingularityException)
        {
            Console.Error.WriteLine("sglty: interrupted");
            if (json) WriteJson("interrupted", null, InterruptedExit);
            return InterruptedExit;
        }
        string message = Describe(ex);
        Console.Error.WriteLine($"sglty: error: {Printable(message)}");
        int exit = ExitFor((ex as SingularityException)?.Code);
        if (json) WriteJson(message, (ex as SingularityException)?.Code, exit);
        return exit;
    }

    /// <summary>
    /// The exit code of a command that failed with <paramref name="code"/>: rsync's for the same kind of failure, so
    /// that a script tells them apart as it would rsync's (README, Exit codes); 1 for the rest, a mistake in the
    /// command line included.
    /// </summary>
    public static int ExitFor(ErrorCode? code) => code switch
    {
        ErrorCode.VersionUnsupported => 2,
        ErrorCode.BadPath => 3,
        ErrorCode.AuthFailed or ErrorCode.Busy => 5,
        ErrorCode.ConnectionLost => 10,
        ErrorCode.IoError or ErrorCode.DiskFull => 11,
        ErrorCode.ProtocolViolation or ErrorCode.IntegrityFailure => 12,
        _ => Failure,
    };

    /// <summary>What went wrong, as the error line says it: an option the engine refused named by its flag.</summary>
    public static string Describe(Exception ex) =>
        ex switch
        {
            SingularityException known => known.Message,
            ArgumentOutOfRangeException range => $"{(range.ParamName is { } name && Flags.TryGetValue(name, out string? flag) ? flag : range.ParamName)}: {range.Message.Split(" (Parameter")[0]}",
            FormatException format => format.Message,
            // A bad option the engine refused; any other ArgumentException is a bug, and says so below.
            ArgumentException { ParamName: { } name } argument when Flags.TryGetValue(name, out string? flag) => $"{flag}: {argument.Message.Split(" (Parameter")[0]}",
            OperationCanceledException => "cancelled",
            _ => $"unexpected error: {ex.Message}",
        };

    /// <summary>The JSON object of a command that failed: "ok" false, the error as the line gives it, its code if the engine named one, and the exit code.</summary>
    public static void WriteJson(string error, ErrorCode? code, int exitCode) => JsonOutput.Write(writer =>
    {
        writer.WriteBoolean("ok", false);
        writer.WriteNumber("exit_code", exitCode);
        writer.WriteString("error", error);
        if (code is { } known) writer.WriteString("code", known.ToString());
    });
}
