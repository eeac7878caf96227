using System.Runtime.InteropServices;

namespace Singularity.Engine.Storage;

/// <summary>
/// User and group names by id, and ids by name, as the system's name service gives them (getpwuid_r and the like, so
/// LDAP and other NSS sources count, as for ls). Linux only: the structures' first fields are read at offsets that
/// hold there (the name a pointer at 0, the id after two pointers); elsewhere every lookup finds nothing.
/// </summary>
internal static class AccountNames
{
    public static string? UserName(uint id) => Lookup(buffer => getpwuid_r(id, buffer.Entry, buffer.Text, buffer.TextLength, out buffer.Found), readName: true, out _);

    public static string? GroupName(uint id) => Lookup(buffer => getgrgid_r(id, buffer.Entry, buffer.Text, buffer.TextLength, out buffer.Found), readName: true, out _);

    public static uint? UserId(string name) => Lookup(buffer => getpwnam_r(name, buffer.Entry, buffer.Text, buffer.TextLength, out buffer.Found), readName: false, out uint id) is null ? null : id;

    public static uint? GroupId(string name) => Lookup(buffer => getgrnam_r(name, buffer.Entry, buffer.Text, buffer.TextLength, out buffer.Found), readName: false, out uint id) is null ? null : id;

    private const int Range = 34;

    /// <summary>
    /// Runs a lookup into fresh buffers, growing the text buffer while the call says it is too small (ERANGE); the
    /// entry's name if found (or "" when <paramref name="readName"/> is false), and its id.
    /// </summary>
    private static string? Lookup(Func<Buffers, int> call, bool readName, out uint id)
    {
        id = 0;
        if (!OperatingSystem.IsLinux()) return null;
        for (int length = 1024; length <= 1 << 20; length *= 4)
        {
            using var buffer = new Buffers(length);
            int error;
            try
            {
                error = call(buffer);
            }
            catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
            {
                return null;
            }
            if (error == Range) continue;
            if (error != 0 || buffer.Found == IntPtr.Zero) return null;
            // struct passwd and struct group both start with the name, then the password; the id follows them.
            id = (uint)Marshal.ReadInt32(buffer.Entry, 2 * IntPtr.Size);
            return readName ? Marshal.PtrToStringUTF8(Marshal.ReadIntPtr(buffer.Entry)) : "";
        }
        return null;
    }

    /// <summary>The entry (room for struct passwd or struct group) and the text its strings point into.</summary>
    private sealed class Buffers(int textLength) : IDisposable
    {
        public IntPtr Entry { get; } = Marshal.AllocHGlobal(128);
        public IntPtr Text { get; } = Marshal.AllocHGlobal(textLength);
        public nuint TextLength { get; } = (nuint)textLength;
        public IntPtr Found;

        public void Dispose()
        {
            Marshal.FreeHGlobal(Entry);
            Marshal.FreeHGlobal(Text);
        }
    }

    // LibraryImport would need unsafe code in this library; CA2101 asks for marshaling the name already gives (UTF-8).
#pragma warning disable SYSLIB1054, CA2101
    [DllImport("libc", SetLastError = false)]
    private static extern int getpwuid_r(uint uid, IntPtr entry, IntPtr text, nuint length, out IntPtr found);

    [DllImport("libc", SetLastError = false)]
    private static extern int getgrgid_r(uint gid, IntPtr entry, IntPtr text, nuint length, out IntPtr found);

    [DllImport("libc", SetLastError = false)]
    private static extern int getpwnam_r([MarshalAs(UnmanagedType.LPUTF8Str)] string name, IntPtr entry, IntPtr text, nuint length, out IntPtr found);

    [DllImport("libc", SetLastError = false)]
    private static extern int getgrnam_r([MarshalAs(UnmanagedType.LPUTF8Str)] string name, IntPtr entry, IntPtr text, nuint length, out IntPtr found);
#pragma warning restore SYSLIB1054, CA2101
}
