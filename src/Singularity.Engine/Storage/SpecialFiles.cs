using System.Runtime.InteropServices;

namespace Singularity.Engine.Storage;

/// <summary>
/// Tells sockets, FIFOs and devices from regular files. .NET reports them all as files of no length on Unix, and a
/// tree holding one would deliver it as an empty file (reading a FIFO would even wait for a writer). Only Linux is
/// asked, through <c>statx</c>, whose buffer has one layout on every architecture; elsewhere nothing is special.
/// </summary>
internal static class SpecialFiles
{
    /// <summary>What <paramref name="path"/> is (not following a link) when it is neither a regular file, a directory nor a link: "a socket", "a FIFO" or "a device"; else null.</summary>
    public static string? KindOf(string path)
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            if (statx(AtFdCwd, path, AtSymlinkNoFollow, StatxType, out var status) != 0 || (status.Mask & StatxType) == 0) return null;
            return (status.Mode & FileTypeMask) switch
            {
                0xC000 => "a socket",
                0x1000 => "a FIFO",
                0x2000 or 0x6000 => "a device",
                _ => null,
            };
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            // A C library without statx (glibc before 2.28): such entries are sent as before, as empty files.
            return null;
        }
    }

    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxType = 0x1;
    private const ushort FileTypeMask = 0xF000;

    /// <summary>The head of <c>struct statx</c> up to <c>stx_mode</c>; the kernel writes all 256 bytes.</summary>
    [StructLayout(LayoutKind.Sequential, Size = 256)]
    private struct StatxBuffer
    {
        public uint Mask;
        public uint BlockSize;
        public ulong Attributes;
        public uint Links;
        public uint Uid;
        public uint Gid;
        public ushort Mode;
    }

    // LibraryImport would need unsafe code in this library; CA2101 asks for marshaling the path already names (UTF-8).
#pragma warning disable SYSLIB1054, CA2101
    [DllImport("libc", EntryPoint = "statx", SetLastError = false)]
    private static extern int statx(int directory, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, out StatxBuffer buffer);
#pragma warning restore SYSLIB1054, CA2101
}
