using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Singularity.Engine.Protocol;

namespace Singularity.Engine.Storage;

/// <summary>
/// Tells sockets, FIFOs and devices from regular files. .NET reports them all as files of no length on Unix, and a
/// tree holding one would deliver it as an empty file (reading a FIFO would even wait for a writer). Only Linux is
/// asked, through <c>statx</c>, whose buffer has one layout on every architecture; elsewhere nothing is special.
/// </summary>
internal static class SpecialFiles
{
    /// <summary>
    /// What a name is, read without following a link there: its kind, size and mtime (in the scan's units, ns), and its
    /// device and inode; and a special file's type and device number (<see cref="ManifestEntry.SpecialType"/>,
    /// <see cref="ManifestEntry.DeviceNumber"/>).
    /// </summary>
    public readonly record struct EntryStatus(bool Regular, bool Link, long Size, long ModifiedNanoseconds, ulong Device, ulong Inode)
    {
        public ushort SpecialType { get; init; }
        public (uint Major, uint Minor)? DeviceNumber { get; init; }
    }

    /// <summary>
    /// The file type (<see cref="SpecialTypes"/>) and device number (0, 0 but for a device) of <paramref name="path"/>,
    /// not following a link, when it is a socket, a FIFO or a device; else null, and on any system but Linux.
    /// </summary>
    public static (ushort Type, uint Major, uint Minor)? SpecialAt(string path)
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            if (statx(AtFdCwd, path, AtSymlinkNoFollow, StatxType, out var status) != 0 || (status.Mask & StatxType) == 0) return null;
            if (status.SpecialType == 0) return null;
            var (major, minor) = status.DeviceNumber ?? (0, 0);
            return (status.SpecialType, major, minor);
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            // A C library without statx (glibc before 2.28): such entries are sent as before, as empty files.
            return null;
        }
    }

    /// <summary>
    /// Makes the FIFO, socket or device <paramref name="type"/> at <paramref name="path"/> (mknod, which never follows
    /// a link and fails where anything stands), with <paramref name="mode"/> less the umask. Throws an
    /// <see cref="IOException"/> or <see cref="UnauthorizedAccessException"/> saying what went wrong, without the
    /// path: a device needs a receiver allowed to make one (root).
    /// </summary>
    public static void Make(string path, ushort type, UnixFileMode mode, (uint Major, uint Minor)? device)
    {
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("only a Linux receiver makes FIFOs, sockets and devices");
        // glibc's makedev: the major's low 12 bits and the minor's low 8 first, then the rest of each above.
        ulong number = device is var (major, minor)
            ? ((ulong)(major & 0xFFFFF000) << 32) | ((ulong)(major & 0xFFF) << 8) | ((ulong)(minor & 0xFFFFFF00) << 12) | (minor & 0xFF)
            : 0;
        try
        {
            if (mknod(path, type | (uint)mode, number) != 0) throw Errno.ToException(Marshal.GetLastPInvokeError());
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            throw new PlatformNotSupportedException("this receiver's C library cannot make FIFOs, sockets and devices (glibc 2.33 or later can)");
        }
    }

    /// <summary>
    /// Opens <paramref name="path"/> for reading if it is a regular file, never through a link at its last component
    /// and without waiting: opening a FIFO for reading waits for a writer, and opening a device may make it act. Null
    /// if the name is a link or not a regular file (one a local user swapped in since it was looked at); throws an
    /// <see cref="IOException"/> or <see cref="UnauthorizedAccessException"/> saying what else went wrong, without
    /// the path. Elsewhere than on Linux, or where the open flags are not known here, it opens as .NET does.
    /// </summary>
    public static SafeFileHandle? OpenRegular(string path) => OpenRegular(path, orFollowing: true);

    /// <summary>
    /// As <see cref="OpenRegular(string)"/>, and null too when what was opened is not the file that bears the name now
    /// (<see cref="OpenedElsewhere"/>): the one file a name that was looked at still holds, or nothing.
    /// </summary>
    public static SafeFileHandle? OpenRegularAsNamed(string path)
    {
        var handle = OpenRegular(path);
        if (handle is null || !OpenedElsewhere(handle, path)) return handle;
        handle.Dispose();
        return null;
    }

    /// <summary>
    /// As <see cref="OpenRegular(string)"/>, for <paramref name="below"/> (names joined by '/') in the directory
    /// <paramref name="root"/>, never through a link below the root, at any of its names: a directory of the tree that
    /// a local user swapped for a link since the scan leads nowhere outside it (openat2's RESOLVE_NO_SYMLINKS, or each
    /// directory opened in turn without following a link), so what is opened stood at that name in the tree. The root
    /// may be reached through links: the user named it. Null where a link stands on the way, or anything but a regular
    /// file at the end; throws as OpenRegular does (a FileNotFoundException where a name is gone, an IOException where
    /// one on the way is not a directory). Whether it is the file a scan found there is the caller's to check (its
    /// device and inode). Elsewhere than on Linux, or with <paramref name="below"/> empty (the root is the file), as
    /// <see cref="OpenRegularAsNamed"/>.
    /// </summary>
    public static SafeFileHandle? OpenRegularBelow(string root, string below) => OpenRegularBelow(root, below, rootHandle: null, walk: false);

    /// <summary>
    /// As <see cref="OpenRegularBelow(string, string)"/>, below <paramref name="rootHandle"/> where given (the root,
    /// opened by <see cref="OpenPath"/> and held by the caller), else below the root opened for this call alone; with
    /// <paramref name="walk"/>, each directory in turn, as where openat2 is refused (for tests).
    /// </summary>
    internal static SafeFileHandle? OpenRegularBelow(string root, string below, SafeFileHandle? rootHandle, bool walk = false)
    {
        string path = below.Length == 0 ? root : Path.Join(root, below);
        if (below.Length == 0 || !OperatingSystem.IsLinux() || NoFollow() is not { } noFollow) return OpenRegularAsNamed(path);
        SafeFileHandle? handle;
        try
        {
            using var own = rootHandle is null ? OpenPath(root) : null;
            handle = OpenBeneath(rootHandle ?? own!, below, OpenNonBlocking | OpenNoControllingTerminal | OpenCloseOnExec, noFollow, walk);
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            return OpenRegularAsNamed(path);
        }
        if (handle is null) return null;
        try
        {
            // No link was followed below the root, so what was opened stood at the name then: a file of the tree.
            if (TypeOf(handle) == RegularType) return handle;
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            // A C library without statx (glibc before 2.28) cannot tell what was opened.
            handle.Dispose();
            return OpenRegularAsNamed(path);
        }
        handle.Dispose();
        return null;
    }

    /// <summary>
    /// Opens <paramref name="path"/> (through links, as named) only to name it (O_PATH), as a directory to open below;
    /// throws as OpenRegular does where it cannot be opened. Linux only.
    /// </summary>
    internal static SafeFileHandle OpenPath(string path)
    {
        int descriptor = open(path, PathOnly | OpenCloseOnExec);
        return descriptor >= 0 ? new SafeFileHandle(descriptor, ownsHandle: true) : throw Errno.ToException(Marshal.GetLastPInvokeError());
    }

    /// <summary>Opens <paramref name="below"/> in <paramref name="directory"/> with <paramref name="flags"/>, following no link on the way; null where one stands there.</summary>
    private static SafeFileHandle? OpenBeneath(SafeFileHandle directory, string below, int flags, int noFollow, bool walk)
    {
        int error;
        if (!walk)
        {
            var how = new OpenHow { Flags = (ulong)(flags | noFollow), Resolve = ResolveNoSymlinks | ResolveBeneath };
            nint descriptor = syscall(OpenAt2, directory, below, ref how, (nuint)Marshal.SizeOf<OpenHow>());
            if (descriptor >= 0) return new SafeFileHandle(descriptor, ownsHandle: true);
            error = Marshal.GetLastPInvokeError();
            // A link on the way, or a way out of the directory.
            if (error is Errno.TooManyLinks or CrossDevice) return null;
            // A kernel before 5.6, or a sandbox that refuses the call: each directory in turn.
            if (error is not (Errno.NoSystemCall or Errno.NotPermitted)) throw Errno.ToException(error);
        }
        string[] names = below.Split('/');
        var current = directory;
        try
        {
            foreach (string name in names[..^1])
            {
                int next = openat(current, name, PathOnly | noFollow | OpenCloseOnExec);
                if (next < 0) throw Errno.ToException(Marshal.GetLastPInvokeError());
                if (current != directory) current.Dispose();
                current = new SafeFileHandle(next, ownsHandle: true);
                // With O_NOFOLLOW, O_PATH opens a link itself.
                if (TypeOf(current) == LinkType) return null;
                if (!IsDirectory(current)) throw Errno.ToException(Errno.NotADirectory);
            }
            int opened = openat(current, names[^1], flags | noFollow);
            if (opened >= 0) return new SafeFileHandle(opened, ownsHandle: true);
            error = Marshal.GetLastPInvokeError();
            // O_NOFOLLOW refuses a link at the name with ELOOP.
            return error == Errno.TooManyLinks ? null : throw Errno.ToException(error);
        }
        finally
        {
            if (current != directory) current.Dispose();
        }
    }

    // openat2(2)'s number (the same on every architecture that has it) and its struct open_how.
    private const int OpenAt2 = 437;
    private const ulong ResolveNoSymlinks = 0x04;
    private const ulong ResolveBeneath = 0x08;
    private const int CrossDevice = 18;

    [StructLayout(LayoutKind.Sequential)]
    private struct OpenHow
    {
        public ulong Flags;
        public ulong Mode;
        public ulong Resolve;
    }

    /// <summary>
    /// As <see cref="OpenRegular(string)"/>, but null wherever the open could follow a link at the name: elsewhere than
    /// on Linux, or where the open flags or the call are not known here.
    /// </summary>
    public static SafeFileHandle? OpenRegularNotFollowing(string path) => OpenRegular(path, orFollowing: false);

    /// <summary>
    /// As <see cref="OpenRegularNotFollowing"/>, for reading and writing (a file written where it stands, rsync
    /// --inplace); null too where the name is a link or not a regular file.
    /// </summary>
    public static SafeFileHandle? OpenRegularForWritingNotFollowing(string path) => OpenRegular(path, orFollowing: false, OpenReadWrite);

    private static SafeFileHandle? OpenRegular(string path, bool orFollowing, int access = 0)
    {
        if (!OperatingSystem.IsLinux() || NoFollow() is not { } noFollow) return orFollowing ? OpenFollowing(path) : null;
        int descriptor;
        try
        {
            descriptor = open(path, access | noFollow | OpenNonBlocking | OpenNoControllingTerminal | OpenCloseOnExec);
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            return orFollowing ? OpenFollowing(path) : null;
        }
        if (descriptor < 0)
        {
            int error = Marshal.GetLastPInvokeError();
            // O_NOFOLLOW refuses a link at the name with ELOOP.
            if (error == Errno.TooManyLinks) return null;
            throw Errno.ToException(error);
        }
        var handle = new SafeFileHandle(descriptor, ownsHandle: true);
        try
        {
            if (TypeOf(handle) == RegularType) return handle;
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            // A C library without statx (glibc before 2.28) cannot tell what was opened.
            handle.Dispose();
            return orFollowing ? OpenFollowing(path) : null;
        }
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

    /// <summary>
    /// Opens <paramref name="path"/> read-only, a directory too, as the C library does (.NET refuses directories);
    /// null if it cannot be opened, or on a system without that call. Linux only: elsewhere, null.
    /// </summary>
    public static SafeFileHandle? OpenReadOnly(string path)
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            int descriptor = open(path, OpenCloseOnExec);
            return descriptor < 0 ? null : new SafeFileHandle(descriptor, ownsHandle: true);
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            return null;
        }
    }

    private static SafeFileHandle OpenFollowing(string path) => File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);

    /// <summary>O_DIRECTORY, which differs between architectures as O_NOFOLLOW does; null where it is not known here.</summary>
    private static int? DirectoryOnly() => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 or Architecture.X86 or Architecture.RiscV64 or Architecture.LoongArch64 or Architecture.S390x => 0x10000,
        Architecture.Arm64 or Architecture.Arm or Architecture.Armv6 or Architecture.Ppc64le => 0x4000,
        _ => null,
    };

    /// <summary>O_NOFOLLOW, whose value differs between architectures; null where it is not known here.</summary>
    private static int? NoFollow() => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 or Architecture.X86 or Architecture.RiscV64 or Architecture.LoongArch64 or Architecture.S390x => 0x20000,
        Architecture.Arm64 or Architecture.Arm or Architecture.Armv6 or Architecture.Ppc64le => 0x8000,
        _ => null,
    };

    // Open flags shared by the architectures above (O_RDONLY is 0). O_PATH opens a name without reading it.
    private const int PathOnly = 0x200000;
    private const int OpenNonBlocking = 0x800;
    private const int OpenReadWrite = 2;
    private const int OpenWriteOnly = 0x1;
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
    private const uint StatxLinks = 0x4;
    private const ushort LinkType = 0xA000;
    private const ushort DirectoryType = 0x4000;
    private const uint StatxSize = 0x200;
    private const uint StatxModified = 0x40;
    private const uint StatxChanged = 0x80;
    private const uint StatxMode = 0x2;
    private const int AtSymlinkFollow = 0x400;

    /// <summary>
    /// True if <paramref name="handle"/>, just opened from <paramref name="path"/>, is not the file that bears that name
    /// now: the name is a link (opening followed it), names another file (it was swapped around the open), or is gone.
    /// A scan sends links as links, so a file it listed and the sender then reads through a link is one a local user
    /// swapped in, perhaps one they cannot read themselves. Linux only; elsewhere, or without statx, false.
    /// </summary>
    public static bool OpenedElsewhere(SafeFileHandle handle, string path)
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            if (statx(handle, "", AtEmptyPath, StatxType | StatxInode, out var opened) != 0) return false;
            if (statx(AtFdCwd, path, AtSymlinkNoFollow, StatxType | StatxInode, out var named) != 0) return true;
            return (named.Mode & FileTypeMask) == LinkType || named.Inode != opened.Inode
                || named.Device != opened.Device;
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            return false;
        }
    }

    /// <summary>
    /// The device and inode of the file <paramref name="handle"/> holds open, with the time it last changed (its ctime,
    /// in nanoseconds), which a write to its bytes or attributes moves once the time stamps' tick has passed (see
    /// <see cref="ChangedLately"/>), and its count of names; null where they cannot be read (not Linux, no statx).
    /// </summary>
    public static (ulong Device, ulong Inode, long Changed, uint Names)? VersionOf(SafeFileHandle handle)
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            const uint wanted = StatxInode | StatxChanged | StatxLinks;
            return statx(handle, "", AtEmptyPath, wanted, out var status) == 0 && (status.Mask & wanted) == wanted
                ? (status.Device, status.Inode, status.ChangedSeconds * 1_000_000_000 + status.ChangedNanoseconds, status.Links) : null;
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            return null;
        }
    }

    /// <summary>
    /// Whether a file whose ctime is <paramref name="changed"/> (nanoseconds) changed so lately that a write now could
    /// leave its ctime as it is, within one tick of the time stamps: a ctime of whole seconds is taken for a file system
    /// that keeps no finer (some keep two), 3 s; any other for the kernel's clock, whose tick is a few milliseconds
    /// before Linux 6.13, 50 ms.
    /// </summary>
    public static bool ChangedLately(long changed)
    {
        long now = (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100;
        return now - changed < (changed % 1_000_000_000 == 0 ? 3_000_000_000 : 50_000_000);
    }

    /// <summary>
    /// Takes an exclusive lock (flock) on the open file, without waiting: false if another process or handle holds one.
    /// True where no lock can be taken at all (not Linux, a file system without flock): nothing is locked there.
    /// </summary>
    public static bool TryLockExclusive(SafeFileHandle handle)
    {
        if (!OperatingSystem.IsLinux()) return true;
        try
        {
            return Flock(handle, LockExclusive | LockNonBlocking) == 0 || Marshal.GetLastPInvokeError() != Errno.WouldBlock;
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            return true;
        }
    }

    // flock's operations, for this and DestinationLock.
    internal const int LockShared = 1;
    internal const int LockExclusive = 2;
    internal const int LockNonBlocking = 4;
    private const int LockRelease = 8;

    /// <summary>
    /// Lets go of a lock taken with <see cref="TryLockExclusive"/> or <see cref="Flock"/>, before its handle closes. A
    /// lock lasts until the last descriptor of the open file closes, and a child process this program starts holds a
    /// copy of each from its fork to its exec: closing alone could leave the lock held that moment, and a session's next
    /// open of the file (a journal read again, then loaded) refused. .NET lets go of its own locks (FileShare) so.
    /// </summary>
    public static void Unlock(SafeFileHandle? handle)
    {
        if (!OperatingSystem.IsLinux() || handle is null || handle.IsInvalid || handle.IsClosed) return;
        try
        {
            flock(handle, LockRelease);
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
        }
    }

    /// <summary>Lets go of the lock on a handle when disposed (<see cref="Unlock"/>): declared after what closes the handle, it runs first.</summary>
    public readonly struct Unlocking(SafeFileHandle? handle) : IDisposable
    {
        public void Dispose() => Unlock(handle);
    }

    /// <summary>flock(2) on the open file: 0, or -1 with the error number kept (<see cref="Marshal.GetLastPInvokeError"/>).</summary>
    internal static int Flock(SafeFileHandle handle, int operation) => flock(handle, operation);

    /// <summary>
    /// The device and inode of what <paramref name="path"/> names, not following a link there unless
    /// <paramref name="follow"/>, with its count of names (hard links); null where they cannot be read (not Linux, no
    /// statx, or gone).
    /// </summary>
    public static (ulong Device, ulong Inode, uint Names)? IdentityOf(string path, bool follow = false)
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            const uint wanted = StatxInode | StatxLinks;
            return statx(AtFdCwd, path, follow ? 0 : AtSymlinkNoFollow, wanted, out var status) == 0 && (status.Mask & wanted) == wanted
                ? (status.Device, status.Inode, status.Links) : null;
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            return null;
        }
    }

    /// <summary>
    /// The error number a look at <paramref name="path"/> meets (following a link at it when <paramref name="follow"/>),
    /// such as <see cref="Errno.NoEntry"/>; 0 if something stands there, and -1 where it cannot be asked (not Linux).
    /// </summary>
    public static int StatusError(string path, bool follow = false)
    {
        if (!OperatingSystem.IsLinux()) return -1;
        try
        {
            return statx(AtFdCwd, path, follow ? 0 : AtSymlinkNoFollow, StatxType, out _) == 0 ? 0 : Marshal.GetLastPInvokeError();
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            return -1;
        }
    }

    /// <summary>The device (file system) of what <paramref name="path"/> names, not following a link there unless <paramref name="follow"/>; null where it cannot be read.</summary>
    public static ulong? DeviceOf(string path, bool follow = false) => IdentityOf(path, follow)?.Device;

    /// <summary>
    /// Gives the file <paramref name="existing"/> names the further name <paramref name="created"/> (a hard link),
    /// never following a link at <paramref name="existing"/>; throws as .NET would, keeping the error number. Unix only.
    /// </summary>
    public static void Link(string existing, string created)
    {
        if (OperatingSystem.IsWindows()) throw new PlatformNotSupportedException("hard links are made on Linux and other Unix systems only");
        // linkat without AT_SYMLINK_FOLLOW: never through a link at the existing name, where link(2) may follow it
        // (macOS). AT_FDCWD is -2 there, -100 on Linux and the BSDs.
        int here = OperatingSystem.IsMacOS() ? -2 : AtFdCwd;
        if (linkat(here, existing, here, created, 0) != 0) throw Errno.ToException(Marshal.GetLastPInvokeError());
    }

    /// <summary>
    /// Gives what <paramref name="from"/> names (a file, or a link itself, never followed) the name <paramref name="to"/>,
    /// replacing a file or link there, as rename(2) does; throws as .NET would, keeping the error number. Elsewhere
    /// than on Unix, as .NET moves a file.
    /// </summary>
    public static void Rename(string from, string to)
    {
        if (OperatingSystem.IsWindows())
        {
            File.Move(from, to, overwrite: true);
            return;
        }
        // .NET's File.Move looks at what the name leads to first, so it refuses to move a link to a directory.
        if (rename(from, to) != 0) throw Errno.ToException(Marshal.GetLastPInvokeError());
    }

    /// <summary>
    /// Sets the mtime of the file <paramref name="handle"/> holds open to <paramref name="nanoseconds"/> (in the units the
    /// scan records), and its atime to now (it was just written or looked at): on Linux in one call (futimens,
    /// UTIME_NOW), where .NET reads the file's times first to keep its atime; elsewhere as .NET sets it. Not with the
    /// atime left out (UTIME_OMIT): a FUSE file system on libfuse 2 (bindfs, and others of its age) drops a change of
    /// the mtime alone, and every file would then read as changed at the next send.
    /// </summary>
    public static void SetModified(SafeFileHandle handle, long nanoseconds)
    {
        // struct timespec of two 64-bit fields.
        if (OperatingSystem.IsLinux() && Environment.Is64BitProcess)
        {
            long seconds = Math.DivRem(nanoseconds, 1_000_000_000, out long rest);
            if (rest < 0) (seconds, rest) = (seconds - 1, rest + 1_000_000_000);
            var times = new TimePair { AccessNanoseconds = UtimeNow, ModifiedSeconds = seconds, ModifiedNanoseconds = rest };
            try
            {
                if (futimens(handle, ref times) != 0) throw Errno.ToException(Marshal.GetLastPInvokeError());
                return;
            }
            catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
            {
            }
        }
        File.SetLastWriteTimeUtc(handle, SourceScanner.FromNanoseconds(nanoseconds));
    }

    // futimens(2)'s times: the atime set to now, then the mtime.
    private const long UtimeNow = (1L << 30) - 1;

    [StructLayout(LayoutKind.Sequential)]
    private struct TimePair
    {
        public long AccessSeconds;
        public long AccessNanoseconds;
        public long ModifiedSeconds;
        public long ModifiedNanoseconds;
    }

    /// <summary>
    /// Whether this process may give what it writes any owner: on Linux, root with CAP_CHOWN in effect (a container may
    /// drop it). Root in a user namespace may still be refused ids it does not map: each change says for itself.
    /// </summary>
    public static bool MayChangeOwners { get; } = OperatingSystem.IsLinux() && Environment.IsPrivilegedProcess && HasChownCapability();

    private static bool HasChownCapability()
    {
        try
        {
            string? line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("CapEff:", StringComparison.Ordinal));
            return line is null || !ulong.TryParse(line.AsSpan(7).Trim(), System.Globalization.NumberStyles.HexNumber, null, out ulong effective) || (effective & 1) != 0;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return true;
        }
    }

    /// <summary>
    /// The owner and group of what <paramref name="path"/> names, following a link there only if <paramref name="follow"/>;
    /// null where they cannot be read (not Linux, or gone).
    /// </summary>
    public static (uint User, uint Group)? OwnerOf(string path, bool follow = false)
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            return statx(AtFdCwd, path, follow ? 0 : AtSymlinkNoFollow, StatxOwner | StatxGroup, out var status) == 0 && (status.Mask & (StatxOwner | StatxGroup)) == (StatxOwner | StatxGroup)
                ? (status.Owner, status.Group) : null;
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            return null;
        }
    }

    /// <summary>
    /// Gives <paramref name="handle"/>'s file an owner and group; false if the system refused (an id a user namespace
    /// does not map, a file system without owners, no right to): an owner is never worth failing a file for. Linux only.
    /// </summary>
    public static bool TrySetOwner(SafeFileHandle handle, (uint User, uint Group) owner) => fchown(handle, owner.User, owner.Group) == 0;

    /// <summary>As <see cref="TrySetOwner(SafeFileHandle, ValueTuple{uint, uint})"/>, for what <paramref name="path"/> names, never following a link there (a link gets them itself).</summary>
    public static bool TrySetOwnerNotFollowing(string path, (uint User, uint Group) owner) =>
        fchownat(AtFdCwd, path, owner.User, owner.Group, AtSymlinkNoFollow) == 0;

    /// <summary>
    /// Whether this process may change the mode of <paramref name="handle"/>'s file: its owner may, and root. Linux
    /// only (elsewhere, or without statx, true: the change itself then tells).
    /// </summary>
    public static bool MayChangeMode(SafeFileHandle handle)
    {
        if (!OperatingSystem.IsLinux() || Environment.IsPrivilegedProcess) return true;
        try
        {
            return statx(handle, "", AtEmptyPath, StatxOwner, out var status) != 0 || (status.Mask & StatxOwner) == 0 || status.Owner == geteuid();
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            return true;
        }
    }

    /// <summary>As <see cref="MayChangeMode(SafeFileHandle)"/>, for what <paramref name="path"/> names (not following a link there): its owner may, and root; true where the owner cannot be read.</summary>
    public static bool MayChangeMode(string path) =>
        Environment.IsPrivilegedProcess || OwnerOf(path) is not { } owner || owner.User == EffectiveUser;

    /// <summary>
    /// Opens the directory <paramref name="root"/>, then each of <paramref name="names"/> below it in turn, never
    /// following a link below the root (O_NOFOLLOW) and checking that each step is a directory: what is reached lies
    /// inside the root, whatever links were put in the tree since it was read. Null if a step fails (a link, gone, not
    /// a directory, not readable), or elsewhere than on Linux.
    /// </summary>
    public static SafeFileHandle? OpenDirectoryBelow(string root, IEnumerable<string> names)
    {
        if (!OperatingSystem.IsLinux() || NoFollow() is not { } noFollow) return null;
        try
        {
            // O_PATH: a directory its user may pass through but not list is reached too, and nothing swapped in (a
            // FIFO) makes the open wait. The root may be reached through links: the user named it.
            int descriptor = open(root, PathOnly | OpenCloseOnExec);
            if (descriptor < 0) return null;
            var current = new SafeFileHandle(descriptor, ownsHandle: true);
            foreach (string name in names)
            {
                if (!IsDirectory(current))
                {
                    current.Dispose();
                    return null;
                }
                // With O_NOFOLLOW, O_PATH opens a link itself, which then fails the check.
                descriptor = openat(current, name, PathOnly | noFollow | OpenCloseOnExec);
                current.Dispose();
                if (descriptor < 0) return null;
                current = new SafeFileHandle(descriptor, ownsHandle: true);
            }
            if (IsDirectory(current)) return current;
            current.Dispose();
            return null;
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            return null;
        }
    }

    private static bool IsDirectory(SafeFileHandle handle) => TypeOf(handle) == DirectoryType;

    /// <summary>Picks names, by their UTF-8 bytes, from a directory's listing (<see cref="NamesIn"/>).</summary>
    public delegate bool NamePicker(ReadOnlySpan<byte> name);

    /// <summary>
    /// The names in the directory <paramref name="path"/> that <paramref name="picked"/> takes, read with getdents64
    /// alone: no name is looked up, so no link is followed and no status read (as .NET's enumeration reads a link's
    /// target). Null when more than <paramref name="most"/> names are read before the end (the listing is given up),
    /// or when the names cannot be read (not Linux, no getdents64 in the C library, an error); <paramref name="read"/>
    /// counts the names read either way.
    /// </summary>
    public static List<string>? NamesIn(string path, NamePicker picked, long most, out long read)
    {
        read = 0;
        if (!OperatingSystem.IsLinux() || DirectoryOnly() is not { } directoryOnly) return null;
        try
        {
            int descriptor = open(path, directoryOnly | OpenCloseOnExec);
            if (descriptor < 0) return null;
            using var directory = new SafeFileHandle(descriptor, ownsHandle: true);
            byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(32 << 10);
            try
            {
                var names = new List<string>();
                while (true)
                {
                    nint length = getdents64(directory, buffer, buffer.Length);
                    if (length < 0) return null;
                    if (length == 0) return names;
                    // Each record: u64 inode, i64 offset, u16 record length, u8 type, then the name and its NUL.
                    for (int at = 0; at < length;)
                    {
                        int record = System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(buffer.AsSpan(at + 16));
                        var name = buffer.AsSpan(at + 19, record - 19);
                        name = name[..name.IndexOf((byte)0)];
                        if (++read > most) return null;
                        if (picked(name)) names.Add(System.Text.Encoding.UTF8.GetString(name));
                        at += record;
                    }
                }
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
            }
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            return null;
        }
    }

    /// <summary>
    /// What stands at a name: its kind (null for anything but a regular file, a directory, a link, a socket, a FIFO or
    /// a device), size, mtime (in the units the scan records), mode bits, owner and identity; and a special file's type
    /// and device number (<see cref="ManifestEntry.SpecialType"/>, <see cref="ManifestEntry.DeviceNumber"/>).
    /// </summary>
    public readonly record struct Standing(EntryKind? Kind, long Size, long ModifiedNanoseconds, UnixFileMode Mode, uint User, uint Group, ulong Device, ulong Inode)
    {
        /// <summary>Its count of names (hard links).</summary>
        public uint Names { get; init; }
        public ushort SpecialType { get; init; }
        public (uint Major, uint Minor)? DeviceNumber { get; init; }
    }

    /// <summary>
    /// What stands at <paramref name="path"/>, never following a link there; null where nothing does or it cannot be
    /// read, and on any system but Linux.
    /// </summary>
    public static Standing? StandingAt(string path)
    {
        // Asked once where statx cannot be called, not failed (or thrown) for each file of a walk.
        if (!HasStatx) return null;
        const uint wanted = StatxType | StatxMode | StatxOwner | StatxGroup | StatxSize | StatxModified | StatxInode | StatxLinks;
        try
        {
            if (statx(AtFdCwd, path, AtSymlinkNoFollow, wanted, out var status) != 0 || (status.Mask & wanted) != wanted) return null;
            EntryKind? kind = (ushort)(status.Mode & FileTypeMask) switch
            {
                RegularType => EntryKind.File,
                DirectoryType => EntryKind.Directory,
                LinkType => EntryKind.Symlink,
                var type when SpecialTypes.IsSpecial(type) => EntryKind.Special,
                _ => null,
            };
            return new Standing(kind, (long)status.Size, status.Modified, (UnixFileMode)(status.Mode & 0xFFF), status.Owner, status.Group, status.Device, status.Inode)
            {
                SpecialType = status.SpecialType,
                DeviceNumber = status.DeviceNumber,
                Names = status.Links,
            };
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            return null;
        }
    }

    /// <summary>
    /// Whether statx can be called here (Linux with a C library of glibc 2.28, musl 1.2.5 or later, and no sandbox that
    /// refuses the call): asked once, of "/", so that a walk where it cannot goes .NET's way at once rather than failing
    /// a call for each file.
    /// </summary>
    public static bool HasStatx => s_hasStatx.Value;

    private static readonly Lazy<bool> s_hasStatx = new(() =>
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            return statx(AtFdCwd, "/", 0, StatxType, out _) == 0;
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            return false;
        }
    });

    /// <summary>
    /// The size, mtime (in the units the scan records) and identity of the file <paramref name="handle"/> holds open,
    /// in one look; null where they cannot be read so (not Linux, no statx).
    /// </summary>
    public static (long Size, long ModifiedNanoseconds, ulong Device, ulong Inode)? OpenFileStatus(SafeFileHandle handle)
    {
        // Where statx cannot be called (a sandbox that refuses it), the caller reads the file's status as .NET does,
        // rather than taking the refusal for a file it cannot read.
        if (!HasStatx) return null;
        const uint wanted = StatxSize | StatxModified | StatxInode;
        try
        {
            if (statx(handle, "", AtEmptyPath, wanted, out var status) != 0)
                throw Errno.ToException(Marshal.GetLastPInvokeError());
            return (status.Mask & wanted) == wanted ? ((long)status.Size, status.Modified, status.Device, status.Inode) : null;
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            return null;
        }
    }

    /// <summary>The file type bits of what <paramref name="handle"/> is open on; 0 if they cannot be read.</summary>
    private static ushort TypeOf(SafeFileHandle handle) =>
        statx(handle, "", AtEmptyPath, StatxType, out var status) == 0 && (status.Mask & StatxType) != 0 ? (ushort)(status.Mode & FileTypeMask) : (ushort)0;

    /// <summary>What <paramref name="name"/> in <paramref name="directory"/> is, never following a link there; or the error number that kept it from being read (<see cref="Errno.NoEntry"/> when gone).</summary>
    public static (EntryStatus? Status, int Error) StatusAt(SafeFileHandle directory, string name)
    {
        const uint wanted = StatxType | StatxSize | StatxModified | StatxInode;
        if (statx(directory, name, AtSymlinkNoFollow, wanted, out var status) != 0) return (null, Marshal.GetLastPInvokeError());
        if ((status.Mask & wanted) != wanted) return (null, Errno.NotSupported);
        ushort type = (ushort)(status.Mode & FileTypeMask);
        return (new EntryStatus(type == RegularType, type == LinkType, (long)status.Size, status.Modified, status.Device, status.Inode)
        {
            SpecialType = status.SpecialType,
            DeviceNumber = status.DeviceNumber,
        }, 0);
    }

    /// <summary>
    /// Opens <paramref name="name"/> in <paramref name="directory"/> without reading it and never following a link
    /// there (O_PATH, O_NOFOLLOW: a link is opened itself), and reads what it is: a regular file's size, mtime (in the
    /// units the scan records), mode bits and owner. Null, with nothing open, when it is anything but a regular file or
    /// cannot be opened. What is read is the open file's own, whatever comes to stand at the name since.
    /// </summary>
    public static (SafeFileHandle File, long Size, long ModifiedNanoseconds, UnixFileMode Mode, uint User, uint Group)? OpenRegularAt(SafeFileHandle directory, string name)
    {
        if (NoFollow() is not { } noFollow) return null;
        int descriptor = openat(directory, name, PathOnly | noFollow | OpenCloseOnExec);
        if (descriptor < 0) return null;
        var file = new SafeFileHandle(descriptor, ownsHandle: true);
        const uint wanted = StatxType | StatxMode | StatxOwner | StatxGroup | StatxSize | StatxModified;
        StatxBuffer status;
        try
        {
            if (statx(file, "", AtEmptyPath, wanted, out status) != 0 || (status.Mask & wanted) != wanted || (status.Mode & FileTypeMask) != RegularType)
            {
                file.Dispose();
                return null;
            }
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            file.Dispose();
            return null;
        }
        return (file, (long)status.Size, status.Modified, (UnixFileMode)(status.Mode & 0xFFF), status.Owner, status.Group);
    }

    /// <summary>
    /// Gives the file open as <paramref name="file"/> (<see cref="OpenRegularAt"/>) the further name
    /// <paramref name="created"/> (a hard link), never replacing what stands there: the link is made to the open file
    /// itself, through /proc, so nothing swapped in at its name since it was opened is linked. 0, or the error number
    /// (<see cref="Errno.Exists"/> when something stands at <paramref name="created"/>).
    /// </summary>
    public static int LinkOpened(SafeFileHandle file, string created) =>
        linkat(AtFdCwd, $"/proc/self/fd/{file.DangerousGetHandle()}", AtFdCwd, created, AtSymlinkFollow) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>
    /// Copies the regular file open as <paramref name="file"/> (<see cref="OpenRegularAt"/>), of
    /// <paramref name="size"/> bytes, to a new file at <paramref name="created"/>, never replacing what stands there:
    /// the copy is written unnamed in that directory (O_TMPFILE), given <paramref name="mode"/>,
    /// <paramref name="owner"/> (when not null) and <paramref name="modifiedNanoseconds"/>, flushed when asked, and
    /// only then named, so no half-made copy is ever seen at the name, nor left behind. 0, or an error number:
    /// <see cref="Errno.Exists"/> when something stands at the name, <see cref="Errno.InvalidArgument"/> when the file
    /// changed size meanwhile or a read or a write failed, or what the system answered (a file system without unnamed
    /// files).
    /// </summary>
    public static int CopyOpened(SafeFileHandle file, long size, string created, UnixFileMode mode, (uint User, uint Group)? owner, long modifiedNanoseconds, bool flush, Action alive)
    {
        if (!OperatingSystem.IsLinux() || UnnamedFile() is not { } unnamed) return Errno.NotSupported;
        using var source = ReopenForReading(file);
        if (source is null) return Errno.AccessDenied;
        int descriptor = open(Path.GetDirectoryName(created)!, unnamed | OpenWriteOnly | OpenCloseOnExec, 0b110_000_000);
        if (descriptor < 0) return Marshal.GetLastPInvokeError();
        using var copy = new SafeFileHandle(descriptor, ownsHandle: true);
        byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            for (long done = 0; done < size;)
            {
                int read = RandomAccess.Read(source, buffer.AsSpan(0, (int)Math.Min(buffer.Length, size - done)), done);
                if (read == 0) return Errno.InvalidArgument;
                RandomAccess.Write(copy, buffer.AsSpan(0, read), done);
                done += read;
                alive();
            }
            // One that grew meanwhile is not the copy that was checked either.
            if (RandomAccess.GetLength(source) != size) return Errno.InvalidArgument;
            if (owner is { } given && !TrySetOwner(copy, given)) return Errno.NotPermitted;
            File.SetUnixFileMode(copy, mode);
            File.SetLastWriteTimeUtc(copy, SourceScanner.FromNanoseconds(modifiedNanoseconds));
            if (flush) RandomAccess.FlushToDisk(copy);
            return LinkOpened(copy, created);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return Errno.InvalidArgument;
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>O_TMPFILE, which holds O_DIRECTORY, whose value differs between architectures; null where it is not known here.</summary>
    private static int? UnnamedFile() => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 or Architecture.X86 or Architecture.RiscV64 or Architecture.LoongArch64 or Architecture.S390x => 0x400000 | 0x10000,
        Architecture.Arm64 or Architecture.Arm or Architecture.Armv6 or Architecture.Ppc64le => 0x400000 | 0x4000,
        _ => null,
    };

    /// <summary>Opens for reading the regular file open as <paramref name="file"/> (<see cref="OpenRegularAt"/>): that file itself, through /proc; null if it cannot be read.</summary>
    public static SafeFileHandle? ReopenForReading(SafeFileHandle file)
    {
        // Non-blocking, as a basis at its own name is opened: a file under a lease is not waited for.
        int descriptor = open($"/proc/self/fd/{file.DangerousGetHandle()}", OpenNonBlocking | OpenCloseOnExec);
        return descriptor < 0 ? null : new SafeFileHandle(descriptor, ownsHandle: true);
    }

    /// <summary>
    /// Where <paramref name="path"/> leads, following every link on the way, as the kernel reaches it (the target of
    /// /proc/self/fd for it opened); null when it cannot be opened (missing, not searchable), or elsewhere than on Linux.
    /// Opened to be named alone (O_PATH), never read: an open for reading of a FIFO there (one a sender made, or one a
    /// link it sent leads to) would wait for a writer for ever.
    /// </summary>
    public static string? RealPath(string path) => RealPath(path, out _);

    /// <summary>As <see cref="RealPath(string)"/>, with the error number of an open that failed (0 when it was /proc that could not tell).</summary>
    public static string? RealPath(string path, out int error)
    {
        error = 0;
        if (!OperatingSystem.IsLinux()) return null;
        int descriptor = open(path, PathOnly | OpenCloseOnExec);
        if (descriptor < 0)
        {
            error = Marshal.GetLastPInvokeError();
            return null;
        }
        using var handle = new SafeFileHandle(descriptor, ownsHandle: true);
        return new FileInfo($"/proc/self/fd/{descriptor}").LinkTarget;
    }

    /// <summary>
    /// 0 where this process may make entries in the directory <paramref name="directory"/> (write and search, on a file
    /// system not mounted read-only), asked without making anything there; else the error number. 0 elsewhere than on
    /// Linux, where nothing is asked.
    /// </summary>
    public static int MayWriteIn(string directory) => !OperatingSystem.IsLinux() || access(directory, 2 | 1) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>PATH_MAX on Linux: the bytes of the longest path a call takes, its NUL included.</summary>
    public const int LongestPath = 4096;

    /// <summary>
    /// Whether no call takes <paramref name="fullPath"/> whole: a tree made a directory at a time can go deeper than
    /// PATH_MAX, and .NET lists what lies there with an empty FullName, which its own calls refuse as no path. Linux's
    /// limit is known here; elsewhere only the empty FullName tells.
    /// </summary>
    public static bool TooLongForTheSystem(string fullPath) =>
        // A char is at most 3 bytes of UTF-8 (a pair of surrogates 4): most paths are told by their length alone.
        fullPath.Length == 0 || (OperatingSystem.IsLinux() && fullPath.Length * 3 >= LongestPath && System.Text.Encoding.UTF8.GetByteCount(fullPath) >= LongestPath);

    /// <summary>The user this process runs as: what a file it creates belongs to.</summary>
    public static uint EffectiveUser => geteuid();

    /// <summary>This process's umask, read once (Linux: /proc/self/status, which does not change it); 022 where it cannot be read.</summary>
    public static UnixFileMode Umask => s_umask.Value;

    private static readonly Lazy<UnixFileMode> s_umask = new(() =>
    {
        const UnixFileMode Usual = UnixFileMode.GroupWrite | UnixFileMode.OtherWrite;
        try
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("Umask:", StringComparison.Ordinal))
                    return (UnixFileMode)Convert.ToInt32(line[6..].Trim(), 8) & (UnixFileMode)0x1FF;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or ArgumentException) { }
        return Usual;
    });

    /// <summary>The target of the link <paramref name="name"/> in <paramref name="directory"/>, as UTF-8; null if it is not a link or cannot be read.</summary>
    public static string? LinkTargetAt(SafeFileHandle directory, string name)
    {
        byte[] buffer = new byte[4097];
        nint length = readlinkat(directory, name, buffer, buffer.Length);
        return length < 0 || length >= buffer.Length ? null : System.Text.Encoding.UTF8.GetString(buffer, 0, (int)length);
    }

    /// <summary>Removes the name <paramref name="name"/> (not a directory) from <paramref name="directory"/>; throws as .NET would.</summary>
    public static void RemoveAt(SafeFileHandle directory, string name)
    {
        if (unlinkat(directory, name, 0) != 0) throw Errno.ToException(Marshal.GetLastPInvokeError());
    }

    /// <summary>The fields of <c>struct statx</c> read here, at their offsets; the kernel writes all 256 bytes.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    private struct StatxBuffer
    {
        [FieldOffset(0)] public uint Mask;
        [FieldOffset(16)] public uint Links;
        [FieldOffset(20)] public uint Owner;
        [FieldOffset(24)] public uint Group;
        [FieldOffset(28)] public ushort Mode;
        [FieldOffset(32)] public ulong Inode;
        [FieldOffset(40)] public ulong Size;
        [FieldOffset(96)] public long ChangedSeconds;
        [FieldOffset(104)] public uint ChangedNanoseconds;
        [FieldOffset(112)] public long ModifiedSeconds;
        [FieldOffset(120)] public uint ModifiedNanoseconds;
        [FieldOffset(128)] public uint SpecialMajor;
        [FieldOffset(132)] public uint SpecialMinor;
        [FieldOffset(136)] public uint DeviceMajor;
        [FieldOffset(140)] public uint DeviceMinor;

        public readonly ulong Device => ((ulong)DeviceMajor << 32) | DeviceMinor;

        /// <summary>A socket's, a FIFO's or a device's file type bits (<see cref="SpecialTypes"/>); 0 for anything else.</summary>
        public readonly ushort SpecialType => SpecialTypes.IsSpecial((ushort)(Mode & FileTypeMask)) ? (ushort)(Mode & FileTypeMask) : (ushort)0;

        /// <summary>A device's number; null for anything else.</summary>
        public readonly (uint Major, uint Minor)? DeviceNumber => SpecialTypes.IsDevice(SpecialType) ? (SpecialMajor, SpecialMinor) : null;

        /// <summary>
        /// The mtime in the units the scan records: nanoseconds, to 100 ns, as .NET keeps times, held to the years 1678
        /// to 2262 as the scan holds them (<see cref="SourceScanner.ToNanoseconds"/>).
        /// </summary>
        public readonly long Modified =>
            (long)Int128.Clamp((Int128)ModifiedSeconds * 1_000_000_000 + ModifiedNanoseconds / 100 * 100, long.MinValue / 100 * 100, long.MaxValue / 100 * 100);
    }

    // LibraryImport would need unsafe code in this library; CA2101 asks for marshaling the path already names (UTF-8).
#pragma warning disable SYSLIB1054, CA2101
    // The error is kept for StatusError, which tells a name gone from one it may not look at.
    [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
    private static extern int statx(int directory, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, out StatxBuffer buffer);

    [DllImport("libc", EntryPoint = "mknod", SetLastError = true)]
    private static extern int mknod([MarshalAs(UnmanagedType.LPUTF8Str)] string path, uint mode, ulong device);

    [DllImport("libc", EntryPoint = "fchmodat", SetLastError = true)]
    private static extern int fchmodat(int directory, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, uint mode, int flags);

    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    private static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    // open's mode, for a file it creates (open is variadic; the mode is its third argument).
    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    private static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mode);

    [DllImport("libc", EntryPoint = "access", SetLastError = true)]
    private static extern int access([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int mode);

    [DllImport("libc", EntryPoint = "linkat", SetLastError = true)]
    private static extern int linkat(int existingDirectory, [MarshalAs(UnmanagedType.LPUTF8Str)] string existing, int createdDirectory, [MarshalAs(UnmanagedType.LPUTF8Str)] string created, int flags);

    [DllImport("libc", EntryPoint = "getdents64", SetLastError = true)]
    private static extern nint getdents64(SafeFileHandle directory, byte[] buffer, nint size);

    [DllImport("libc", EntryPoint = "futimens", SetLastError = true)]
    private static extern int futimens(SafeFileHandle descriptor, ref TimePair times);

    [DllImport("libc", EntryPoint = "rename", SetLastError = true)]
    private static extern int rename([MarshalAs(UnmanagedType.LPUTF8Str)] string from, [MarshalAs(UnmanagedType.LPUTF8Str)] string to);

    [DllImport("libc", EntryPoint = "geteuid")]
    private static extern uint geteuid();

    // A handle passed as such is kept from closing for the call's length, as the marshaller adds and drops its reference.
    // The error is kept for StatusAt, which tells a name gone from one it may not look at.
    [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
    private static extern int statx(SafeFileHandle directory, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, out StatxBuffer buffer);

    [DllImport("libc", EntryPoint = "openat", SetLastError = true)]
    private static extern int openat(SafeFileHandle directory, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    // glibc has no openat2 of its own (2.36): the call by its number.
    [DllImport("libc", EntryPoint = "syscall", SetLastError = true)]
    // C's long, the call's number and result, is a pointer's size on Linux.
    private static extern nint syscall(nint number, SafeFileHandle directory, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, ref OpenHow how, nuint size);

    [DllImport("libc", EntryPoint = "unlinkat", SetLastError = true)]
    private static extern int unlinkat(SafeFileHandle directory, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", EntryPoint = "readlinkat", SetLastError = true)]
    private static extern nint readlinkat(SafeFileHandle directory, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, byte[] buffer, nint size);

    [DllImport("libc", EntryPoint = "flock", SetLastError = true)]
    private static extern int flock(SafeFileHandle descriptor, int operation);

    [DllImport("libc", EntryPoint = "fchown", SetLastError = true)]
    private static extern int fchown(SafeFileHandle descriptor, uint owner, uint group);

    [DllImport("libc", EntryPoint = "fchownat", SetLastError = true)]
    private static extern int fchownat(int directory, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, uint owner, uint group, int flags);
#pragma warning restore SYSLIB1054, CA2101
}
