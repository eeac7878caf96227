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

    /// <summary>
    /// Opens <paramref name="path"/> for reading if it is a regular file, never through a link at its last component
    /// and without waiting: opening a FIFO for reading waits for a writer, and opening a device may make it act. Null
    /// if the name is a link or not a regular file (one a local user swapped in since it was looked at); throws an
    /// <see cref="IOException"/> or <see cref="UnauthorizedAccessException"/> saying what else went wrong, without
    /// the path. Elsewhere than on Linux, or where the open flags are not known here, it opens as .NET does.
    /// </summary>
    public static SafeFileHandle? OpenRegular(string path)
    {
        if (!OperatingSystem.IsLinux() || NoFollow() is not { } noFollow) return OpenFollowing(path);
        int descriptor;
        try
        {
            descriptor = open(path, noFollow | OpenNonBlocking | OpenNoControllingTerminal | OpenCloseOnExec);
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            return OpenFollowing(path);
        }
        if (descriptor < 0)
        {
            int error = Marshal.GetLastPInvokeError();
            // O_NOFOLLOW refuses a link at the name with ELOOP.
            if (error == Errno.TooManyLinks) return null;
            throw Errno.ToException(error);
        }
        var handle = new SafeFileHandle(descriptor, ownsHandle: true);
        if (statx(descriptor, "", AtEmptyPath, StatxType, out var status) == 0 && (status.Mask & StatxType) != 0 && (status.Mode & FileTypeMask) == RegularType)
            return handle;
        handle.Dispose();
        return null;
    }

    /// <summary>
    /// Sets the mode of what <paramref name="path"/> names without following a link there (fchmodat with
    /// AT_SYMLINK_NOFOLLOW), so that a directory a local user swapped for a link since it was checked passes no mode
    /// on to the link's target; false if the name is a link now. Elsewhere than on Linux, or with a C library that
    /// cannot do it, as .NET sets it.
    /// </summary>
    public static bool SetModeNotFollowing(string path, UnixFileMode mode)
    {
        if (OperatingSystem.IsLinux())
        {
            try
            {
                if (fchmodat(AtFdCwd, path, (uint)mode, AtSymlinkNoFollow) == 0) return true;
                int error = Marshal.GetLastPInvokeError();
                // The C library refuses to change a link's own mode: the name is a link now. (A C library before
                // glibc 2.32 refuses every such call: there a name that is not a link falls through to .NET's.)
                if (error == Errno.NotSupported && new FileInfo(path).LinkTarget is not null) return false;
                if (error is not (Errno.NotSupported or Errno.NoSystemCall or Errno.InvalidArgument)) throw Errno.ToException(error);
            }
            catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException) { }
        }
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, mode);
        return true;
    }

    private static SafeFileHandle OpenFollowing(string path) => File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);

    /// <summary>O_NOFOLLOW, whose value differs between architectures; null where it is not known here.</summary>
    private static int? NoFollow() => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 or Architecture.X86 or Architecture.RiscV64 or Architecture.LoongArch64 or Architecture.S390x => 0x20000,
        Architecture.Arm64 or Architecture.Arm or Architecture.Armv6 or Architecture.Ppc64le => 0x8000,
        _ => null,
    };

    // Open flags shared by the architectures above (O_RDONLY is 0).
    private const int OpenNonBlocking = 0x800;
    private const int OpenNoControllingTerminal = 0x100;
    private const int OpenCloseOnExec = 0x80000;
    private const ushort RegularType = 0x8000;

    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxType = 0x1;
    private const ushort FileTypeMask = 0xF000;

    private const int AtEmptyPath = 0x1000;
    private const uint StatxInode = 0x100;
    private const uint StatxOwner = 0x8;
    private const uint StatxGroup = 0x10;
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

    /// <summary>Whether this process may give what it writes any owner: root, on Linux.</summary>
    public static bool MayChangeOwners { get; } = OperatingSystem.IsLinux() && Environment.IsPrivilegedProcess;

    /// <summary>The owner and group of what <paramref name="path"/> names, not following a link there; null where they cannot be read (not Linux, or gone).</summary>
    public static (uint User, uint Group)? OwnerOf(string path)
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            return statx(AtFdCwd, path, AtSymlinkNoFollow, StatxOwner | StatxGroup, out var status) == 0 && (status.Mask & (StatxOwner | StatxGroup)) == (StatxOwner | StatxGroup)
                ? (status.Owner, status.Group) : null;
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            return null;
        }
    }

    /// <summary>The owner and group of <paramref name="handle"/>'s file; null where they cannot be read.</summary>
    public static (uint User, uint Group)? OwnerOf(SafeFileHandle handle)
    {
        if (!OperatingSystem.IsLinux()) return null;
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            return statx((int)handle.DangerousGetHandle(), "", AtEmptyPath, StatxOwner | StatxGroup, out var status) == 0 && (status.Mask & (StatxOwner | StatxGroup)) == (StatxOwner | StatxGroup)
                ? (status.Owner, status.Group) : null;
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            return null;
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    /// <summary>Gives <paramref name="handle"/>'s file an owner and group; throws an <see cref="IOException"/> or <see cref="UnauthorizedAccessException"/> saying what went wrong. Linux only.</summary>
    public static void SetOwner(SafeFileHandle handle, (uint User, uint Group) owner)
    {
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            if (fchown((int)handle.DangerousGetHandle(), owner.User, owner.Group) != 0) throw Errno.ToException(Marshal.GetLastPInvokeError());
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    /// <summary>Gives what <paramref name="path"/> names an owner and group, never following a link there (a link gets them itself); throws as <see cref="SetOwner(SafeFileHandle, ValueTuple{uint, uint})"/>. Linux only.</summary>
    public static void SetOwnerNotFollowing(string path, (uint User, uint Group) owner)
    {
        if (fchownat(AtFdCwd, path, owner.User, owner.Group, AtSymlinkNoFollow) != 0) throw Errno.ToException(Marshal.GetLastPInvokeError());
    }

    /// <summary>
    /// Whether this process may change the mode of <paramref name="handle"/>'s file: its owner may, and root. Linux
    /// only (elsewhere, or without statx, true: the change itself then tells).
    /// </summary>
    public static bool MayChangeMode(SafeFileHandle handle)
    {
        if (!OperatingSystem.IsLinux() || Environment.IsPrivilegedProcess) return true;
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            return statx((int)handle.DangerousGetHandle(), "", AtEmptyPath, StatxOwner, out var status) != 0 || (status.Mask & StatxOwner) == 0
                || status.Owner == geteuid();
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            return true;
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
        [FieldOffset(20)] public uint Owner;
        [FieldOffset(24)] public uint Group;
        [FieldOffset(28)] public ushort Mode;
        [FieldOffset(32)] public ulong Inode;
        [FieldOffset(136)] public uint DeviceMajor;
        [FieldOffset(140)] public uint DeviceMinor;
    }

    // LibraryImport would need unsafe code in this library; CA2101 asks for marshaling the path already names (UTF-8).
#pragma warning disable SYSLIB1054, CA2101
    [DllImport("libc", EntryPoint = "statx", SetLastError = false)]
    private static extern int statx(int directory, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, out StatxBuffer buffer);

    [DllImport("libc", EntryPoint = "fchmodat", SetLastError = true)]
    private static extern int fchmodat(int directory, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, uint mode, int flags);

    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    private static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", EntryPoint = "geteuid")]
    private static extern uint geteuid();

    [DllImport("libc", EntryPoint = "fchown", SetLastError = true)]
    private static extern int fchown(int descriptor, uint owner, uint group);

    [DllImport("libc", EntryPoint = "fchownat", SetLastError = true)]
    private static extern int fchownat(int directory, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, uint owner, uint group, int flags);
#pragma warning restore SYSLIB1054, CA2101
}
