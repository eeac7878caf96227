using System.Runtime.InteropServices;
using System.Text.Unicode;

namespace Singularity.Engine.Storage;

/// <summary>
/// Names and link targets the protocol cannot carry. Its paths and targets are UTF-8 (PROTOCOL §4), and .NET reads
/// bytes that are not UTF-8 as U+FFFD: a file of such a name could then not be opened by the name .NET gives it, and
/// a link's target would arrive changed. Both are found here, so the sender refuses them in one line instead.
/// </summary>
internal static class Utf8Names
{
    /// <summary>True if <paramref name="entry"/>'s name on disk is not UTF-8: its name as read holds U+FFFD and nothing has that name.</summary>
    public static bool NameIsNotUtf8(FileSystemInfo entry) =>
        entry.Name.Contains('\uFFFD') && !File.Exists(entry.FullName) && !Directory.Exists(entry.FullName) && new FileInfo(entry.FullName).LinkTarget is null;

    /// <summary>True if the link at <paramref name="path"/>, whose target reads as <paramref name="target"/>, points at bytes that are not UTF-8.</summary>
    public static bool TargetIsNotUtf8(string path, string target)
    {
        if (!target.Contains('\uFFFD') || OperatingSystem.IsWindows()) return false;
        byte[] buffer = new byte[4096];
        try
        {
            nint length = readlink(path, buffer, buffer.Length);
            return length >= 0 && !Utf8.IsValid(buffer.AsSpan(0, (int)length));
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            return false;
        }
    }

    // LibraryImport would need unsafe code in this library; CA2101 asks for marshaling the path already names (UTF-8).
#pragma warning disable SYSLIB1054, CA2101
    [DllImport("libc", SetLastError = false)]
    private static extern nint readlink([MarshalAs(UnmanagedType.LPUTF8Str)] string path, byte[] buffer, nint size);
#pragma warning restore SYSLIB1054, CA2101
}
