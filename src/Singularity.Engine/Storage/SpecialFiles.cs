using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

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

    private const int AtEmptyPath = 0x1000;
    private const uint StatxInode = 0x100;
    private const ushort LinkType = 0xA000;

    /// <summary>
    /// True if <paramref name="handle"/>, just opened from <paramref name="path"/>, is not the file that bears that name
    /// now: the name is a link (opening followed it), names another file (it was swapped around the open), or is gone.
    /// A scan sends links as links, so a file it listed and the sender then reads through a link is one a local user
    /// swapped in, perhaps one they cannot read themselves. Linux only; elsewhere, or without statx, false.
    /// </summary>
    public static bool OpenedElsewhere(SafeFileHandle handle, string path)
    {
        if (!OperatingSystem.IsLinux()) return false;
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            if (statx((int)handle.DangerousGetHandle(), "", AtEmptyPath, StatxType | StatxInode, out var opened) != 0) return false;
            if (statx(AtFdCwd, path, AtSymlinkNoFollow, StatxType | StatxInode, out var named) != 0) return true;
            return (named.Mode & FileTypeMask) == LinkType || named.Inode != opened.Inode
                || named.DeviceMajor != opened.DeviceMajor || named.DeviceMinor != opened.DeviceMinor;
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            return false;
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    /// <summary>The fields of <c>struct statx</c> read here, at their offsets; the kernel writes all 256 bytes.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    private struct StatxBuffer
    {
        [FieldOffset(0)] public uint Mask;
        [FieldOffset(28)] public ushort Mode;
        [FieldOffset(32)] public ulong Inode;
        [FieldOffset(136)] public uint DeviceMajor;
        [FieldOffset(140)] public uint DeviceMinor;
    }

    // LibraryImport would need unsafe code in this library; CA2101 asks for marshaling the path already names (UTF-8).
#pragma warning disable SYSLIB1054, CA2101
    [DllImport("libc", EntryPoint = "statx", SetLastError = false)]
    private static extern int statx(int directory, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, out StatxBuffer buffer);
#pragma warning restore SYSLIB1054, CA2101
}
