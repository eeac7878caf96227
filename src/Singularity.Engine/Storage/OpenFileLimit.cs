using System.Runtime.InteropServices;

namespace Singularity.Engine.Storage;

/// <summary>
/// The process's limit on open file descriptors (<c>RLIMIT_NOFILE</c>). Many systems start programs with a soft limit
/// of 1024 and a far higher hard one. The .NET runtime raises the soft limit to the hard one when it starts a
/// JIT-compiled program, but a Native AOT program such as sglty keeps what it was given, and a receiver that keeps
/// finished files open until their commit ran out of descriptors in a tree of 20,000 files. This does what the
/// runtime does, once, and tells how many descriptors there are to plan with.
/// </summary>
internal static class OpenFileLimit
{
    private static readonly Lazy<long> Raised = new(RaiseSoftLimit);

    /// <summary>The soft limit after raising it as far as the hard limit allows; <see cref="long.MaxValue"/> where there is none to read.</summary>
    public static long Current => Raised.Value;

    private static long RaiseSoftLimit()
    {
        int resource = OperatingSystem.IsLinux() ? 7 : OperatingSystem.IsMacOS() ? 8 : -1;
        // The layout below is the 64-bit one.
        if (resource < 0 || IntPtr.Size != 8) return long.MaxValue;
        try
        {
            if (getrlimit(resource, out var limit) != 0) return long.MaxValue;
            if (limit.Soft < limit.Hard)
            {
                // macOS refuses a soft limit above OPEN_MAX (10240) for an unlimited hard limit; the runtime stops there too.
                ulong wanted = OperatingSystem.IsMacOS() ? Math.Min(limit.Hard, 10240) : limit.Hard;
                var raised = limit with { Soft = wanted };
                if (wanted > limit.Soft && setrlimit(resource, in raised) == 0) limit = raised;
            }
            return limit.Soft >= (ulong)long.MaxValue ? long.MaxValue : (long)limit.Soft;
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            return long.MaxValue;
        }
    }

    /// <summary><c>struct rlimit</c>: two 64-bit counts on every 64-bit Unix .NET runs on.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private record struct ResourceLimit(ulong Soft, ulong Hard);

    // LibraryImport would need unsafe code in this library.
#pragma warning disable SYSLIB1054
    [DllImport("libc", SetLastError = false)]
    private static extern int getrlimit(int resource, out ResourceLimit limit);

    [DllImport("libc", SetLastError = false)]
    private static extern int setrlimit(int resource, in ResourceLimit limit);
#pragma warning restore SYSLIB1054
}
