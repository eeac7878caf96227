using System.Buffers.Binary;
using System.Text;
using Singularity.Engine.Storage;

namespace Singularity.Engine.Protocol;

/// <summary>
/// Body of a Backup message (S→R, PROTOCOL §3): u8 suffix length and the suffix's UTF-8 bytes, then u16 directory
/// length and the directory's UTF-8 bytes (empty: each backup beside what it keeps).
/// </summary>
internal static class BackupMessage
{
    public static byte[] Encode(string suffix, string? directory)
    {
        int suffixBytes = Encoding.UTF8.GetByteCount(suffix);
        byte[] body = new byte[1 + suffixBytes + WireFormat.TextSize(directory ?? "")];
        body[0] = checked((byte)suffixBytes);
        Encoding.UTF8.GetBytes(suffix, body.AsSpan(1));
        WireFormat.WriteText(body.AsSpan(1 + suffixBytes), directory ?? "");
        return body;
    }

    /// <summary>What a sender or a receiver finds wrong with a suffix and a directory (relative to the destination), or null when both may be used.</summary>
    public static string? Error(string suffix, string? directory, ProtocolLimits limits) => SuffixError(suffix, directory, limits) ?? DirectoryError(directory, limits);

    /// <summary>What is wrong with the suffix (given the directory, or none), or null.</summary>
    public static string? SuffixError(string suffix, string? directory, ProtocolLimits limits)
    {
        if (suffix.Contains('/') || suffix.Contains('\0')) return $"the backup suffix '{suffix}' holds a '/' or a NUL";
        if (Encoding.UTF8.GetByteCount(suffix) > limits.MaxNameBytes) return $"the backup suffix is longer than {limits.MaxNameBytes} bytes";
        // A backup must never take the name of the receiver's partial files, which deletion and resumption treat as
        // theirs. (A suffix that only completes such a name with a file's own ending, as '-part' does 'x.sglty', fails
        // that file's backup alone: PathGuard refuses the name.)
        if (PathGuard.IsReserved("x" + suffix)) return $"the backup suffix '{suffix}' ends as the receiver's partial files do";
        return directory is null && suffix.Length == 0 ? "an empty backup suffix needs a backup directory: each backup would take the name of what it keeps" : null;
    }

    /// <summary>What is wrong with the backup directory, or null (none is never wrong).</summary>
    public static string? DirectoryError(string? directory, ProtocolLimits limits)
    {
        if (directory is null) return null;
        if (PathGuard.SyntaxError(directory, limits) is { } error) return $"the backup directory must be a relative path inside the destination: {error}";
        return Encoding.UTF8.GetByteCount(directory) > limits.MaxPathBytes ? $"the backup directory is longer than {limits.MaxPathBytes} bytes" : null;
    }

    /// <summary>The suffix and directory of a received body; throws <see cref="ProtocolViolationException"/> for a malformed one.</summary>
    public static (string Suffix, string? Directory) Decode(ReadOnlySpan<byte> body, ProtocolLimits limits)
    {
        if (body.Length < 3) throw new ProtocolViolationException("Backup is truncated");
        int suffixLength = body[0];
        if (body.Length < 3 + suffixLength) throw new ProtocolViolationException("Backup is truncated");
        int directoryLength = BinaryPrimitives.ReadUInt16LittleEndian(body[(1 + suffixLength)..]);
        if (body.Length != 3 + suffixLength + directoryLength) throw new ProtocolViolationException("Backup has the wrong length");
        string suffix, directory;
        try
        {
            suffix = WireFormat.StrictUtf8.GetString(body.Slice(1, suffixLength));
            directory = WireFormat.StrictUtf8.GetString(body.Slice(3 + suffixLength, directoryLength));
        }
        catch (DecoderFallbackException)
        {
            throw new ProtocolViolationException("Backup holds a suffix or a directory that is not UTF-8");
        }
        string? where = directory.Length == 0 ? null : directory;
        if (Error(suffix, where, limits) is { } error) throw new SingularityException(ErrorCode.BadPath, $"refused backups: {error}");
        return (suffix, where);
    }
}
