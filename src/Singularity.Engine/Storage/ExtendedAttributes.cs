using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Singularity.Engine.Storage;

/// <summary>
/// An entry's extended attributes (rsync -X): names in ordinal byte order, each with its value. Read and written on
/// Linux only, never through a link at the name (a link's own are a link's), and only in the namespaces this process
/// may handle, as rsync handles them: every one but <c>system.*</c> (ACLs, and what the kernel computes) for root,
/// <c>user.*</c> alone for anyone else; and never <c>security.capability</c>, which grants a program privileges as a
/// setuid bit does, and which a receiver never gives, as it gives no setuid bit.
/// </summary>
internal sealed class ExtendedAttributes : IEquatable<ExtendedAttributes>
{
    /// <summary>The most bytes of names and values one entry carries: Linux's own most for one value, and for a list of names.</summary>
    public const int MostBytes = 64 << 10;

    /// <summary>None: what an entry without any has, and what a receiver leaves on it.</summary>
    public static readonly ExtendedAttributes None = new([]);

    public ExtendedAttributes(IReadOnlyList<(string Name, byte[] Value)> items) => Items = items;

    public IReadOnlyList<(string Name, byte[] Value)> Items { get; }

    /// <summary>The bytes of the names (UTF-8) and values.</summary>
    public int Bytes => Items.Sum(item => Encoding.UTF8.GetByteCount(item.Name) + item.Value.Length);

    /// <summary>Whether this process reads, sets and removes the attribute <paramref name="name"/> (see the class).</summary>
    public static bool Handled(string name) =>
        Privileged ? !name.StartsWith("system.", StringComparison.Ordinal) && name != "security.capability" : name.StartsWith("user.", StringComparison.Ordinal);

    private static readonly bool Privileged = Environment.IsPrivilegedProcess;

    /// <summary>
    /// The attributes of what <paramref name="path"/> names (following a link there only if <paramref name="follow"/>),
    /// in the namespaces handled; <see cref="None"/> where the file system keeps none. Throws an
    /// <see cref="IOException"/> or <see cref="UnauthorizedAccessException"/> for any other failure, and a
    /// <see cref="SingularityException"/> for more than <see cref="MostBytes"/>.
    /// </summary>
    public static ExtendedAttributes Of(string path, bool follow = false) =>
        Read(buffer => follow ? listxattr(path, buffer, buffer.Length) : llistxattr(path, buffer, buffer.Length),
            (name, buffer) => follow ? getxattr(path, name, buffer, buffer.Length) : lgetxattr(path, name, buffer, buffer.Length), path);

    /// <summary>As <see cref="Of(string, bool)"/>, for the file <paramref name="handle"/> is open on.</summary>
    public static ExtendedAttributes Of(SafeFileHandle handle) =>
        Read(buffer => flistxattr(handle, buffer, buffer.Length), (name, buffer) => fgetxattr(handle, name, buffer, buffer.Length), null);

    /// <summary>
    /// Gives what <paramref name="path"/> names (never through a link there) these attributes: sets each that differs,
    /// and removes the handled ones it has beyond them. False where the file system or the system refuses (no
    /// attributes there, or a namespace this process may not write): what could be set is.
    /// </summary>
    public bool ApplyTo(string path) => Apply(Of(path),
        (name, value) => lsetxattr(path, name, value, value.Length, 0), name => lremovexattr(path, name));

    /// <summary>As <see cref="ApplyTo(string)"/>, to the file <paramref name="handle"/> is open on.</summary>
    public bool ApplyTo(SafeFileHandle handle) => Apply(Of(handle),
        (name, value) => fsetxattr(handle, name, value, value.Length, 0), name => fremovexattr(handle, name));

    private bool Apply(ExtendedAttributes standing, Func<string, byte[], int> set, Func<string, int> remove)
    {
        bool all = true;
        var wanted = Items.Where(item => Handled(item.Name)).ToDictionary(item => item.Name, item => item.Value, StringComparer.Ordinal);
        foreach (var (name, value) in standing.Items)
            if (!wanted.ContainsKey(name) && remove(name) != 0) all &= Refused();
        var standingValues = standing.Items.ToDictionary(item => item.Name, item => item.Value, StringComparer.Ordinal);
        foreach (var (name, value) in wanted)
            if (!(standingValues.TryGetValue(name, out var had) && had.AsSpan().SequenceEqual(value)) && set(name, value) != 0) all &= Refused();
        return all;
    }

    /// <summary>A change the system refused for a reason of the file system's or this process's: counted, not thrown.</summary>
    private static bool Refused()
    {
        int error = Marshal.GetLastPInvokeError();
        if (error is Errno.NotSupported or Errno.NotPermitted or Errno.AccessDenied or Errno.NoSpace or Errno.TooBig or Errno.NoData) return false;
        throw Errno.ToException(error);
    }

    private static ExtendedAttributes Read(Func<byte[], long> list, Func<string, byte[], long> get, string? path)
    {
        if (!OperatingSystem.IsLinux()) return None;
        byte[] names = new byte[1024];
        long length;
        while ((length = list(names)) < 0)
        {
            int error = Marshal.GetLastPInvokeError();
            if (error == Errno.NotSupported) return None;
            if (error != Errno.OutOfRange) throw Errno.ToException(error);
            long needed = list([]);
            if (needed < 0) throw Errno.ToException(Marshal.GetLastPInvokeError());
            names = new byte[Math.Max(needed, names.Length * 2)];
        }
        var items = new List<(string, byte[])>();
        int total = 0;
        foreach (var raw in names.AsSpan(0, (int)length).Split((byte)0))
        {
            var bytes = names.AsSpan(0, (int)length)[raw];
            if (bytes.IsEmpty) continue;
            string name = Encoding.UTF8.GetString(bytes);
            if (!Handled(name)) continue;
            // Removed since it was listed: as if it had never been.
            if (ValueOf(name, get) is not { } value) continue;
            total += bytes.Length + value.Length;
            if (total > MostBytes)
                throw new SingularityException(ErrorCode.BadPath, $"cannot send the extended attributes of '{path ?? "a file"}': they hold more than {MostBytes >> 10} KiB; send without -X");
            items.Add((name, value));
        }
        items.Sort((a, b) => string.CompareOrdinal(a.Item1, b.Item1));
        return items.Count == 0 ? None : new ExtendedAttributes(items);
    }

    /// <summary>The value of <paramref name="name"/>, read into a buffer grown until it fits; null if it went meanwhile.</summary>
    private static byte[]? ValueOf(string name, Func<string, byte[], long> get)
    {
        byte[] buffer = new byte[256];
        while (true)
        {
            long length = get(name, buffer);
            if (length >= 0) return buffer.AsSpan(0, (int)length).ToArray();
            int error = Marshal.GetLastPInvokeError();
            if (error == Errno.NoData) return null;
            if (error != Errno.OutOfRange || buffer.Length > MostBytes) throw Errno.ToException(error);
            buffer = new byte[buffer.Length * 4];
        }
    }

    public bool Equals(ExtendedAttributes? other) =>
        other is not null && other.Items.Count == Items.Count
        && Items.Zip(other.Items).All(pair => pair.First.Name == pair.Second.Name && pair.First.Value.AsSpan().SequenceEqual(pair.Second.Value));

    public override bool Equals(object? obj) => Equals(obj as ExtendedAttributes);

    public override int GetHashCode() => Items.Count == 0 ? 0 : HashCode.Combine(Items.Count, Items[0].Name);

#pragma warning disable SYSLIB1054, CA2101
    [DllImport("libc", SetLastError = true)] private static extern long listxattr([MarshalAs(UnmanagedType.LPUTF8Str)] string path, byte[] list, long size);
    [DllImport("libc", SetLastError = true)] private static extern long llistxattr([MarshalAs(UnmanagedType.LPUTF8Str)] string path, byte[] list, long size);
    [DllImport("libc", SetLastError = true)] private static extern long flistxattr(SafeFileHandle file, byte[] list, long size);
    [DllImport("libc", SetLastError = true)] private static extern long getxattr([MarshalAs(UnmanagedType.LPUTF8Str)] string path, [MarshalAs(UnmanagedType.LPUTF8Str)] string name, byte[] value, long size);
    [DllImport("libc", SetLastError = true)] private static extern long lgetxattr([MarshalAs(UnmanagedType.LPUTF8Str)] string path, [MarshalAs(UnmanagedType.LPUTF8Str)] string name, byte[] value, long size);
    [DllImport("libc", SetLastError = true)] private static extern long fgetxattr(SafeFileHandle file, [MarshalAs(UnmanagedType.LPUTF8Str)] string name, byte[] value, long size);
    [DllImport("libc", SetLastError = true)] private static extern int lsetxattr([MarshalAs(UnmanagedType.LPUTF8Str)] string path, [MarshalAs(UnmanagedType.LPUTF8Str)] string name, byte[] value, long size, int flags);
    [DllImport("libc", SetLastError = true)] private static extern int fsetxattr(SafeFileHandle file, [MarshalAs(UnmanagedType.LPUTF8Str)] string name, byte[] value, long size, int flags);
    [DllImport("libc", SetLastError = true)] private static extern int lremovexattr([MarshalAs(UnmanagedType.LPUTF8Str)] string path, [MarshalAs(UnmanagedType.LPUTF8Str)] string name);
    [DllImport("libc", SetLastError = true)] private static extern int fremovexattr(SafeFileHandle file, [MarshalAs(UnmanagedType.LPUTF8Str)] string name);
#pragma warning restore SYSLIB1054, CA2101
}
