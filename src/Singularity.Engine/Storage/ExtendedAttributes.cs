using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;
using Singularity.Engine.Protocol;

namespace Singularity.Engine.Storage;

/// <summary>Which extended attributes a send keeps: the others (rsync -X), POSIX ACLs (rsync -A), or both.</summary>
[Flags]
internal enum AttributeScope
{
    None = 0,
    /// <summary>Extended attributes but ACLs, in the namespaces this process may handle (<see cref="ExtendedAttributes.Handled"/>).</summary>
    Xattrs = 1,
    /// <summary>POSIX ACLs: <c>system.posix_acl_access</c> and, on a directory, <c>system.posix_acl_default</c>.</summary>
    Acls = 2,
}

/// <summary>
/// An entry's extended attributes (rsync -X) and ACLs (rsync -A, which Linux keeps as two of them): names in ordinal
/// byte order, each with its value. Read and written on Linux only, never through a link at the name (a link's own
/// are a link's), and only those of the send's <see cref="Scope"/>: with -X, those in the namespaces this process may
/// handle, as rsync handles them: every one but <c>system.*</c> (ACLs, and what the kernel computes) for root,
/// <c>user.*</c> alone for anyone else. <c>security.capability</c>, which grants a program privileges as a setuid bit
/// does, is never sent nor given, as no setuid bit is; a receiver takes one it finds for a difference, and removes it.
/// ACLs travel as the kernel keeps them, users and groups by number, as rsync --numeric-ids sends them.
/// </summary>
internal sealed class ExtendedAttributes : IEquatable<ExtendedAttributes>
{
    /// <summary>The names Linux keeps a POSIX ACL under: a file's or directory's, and a directory's default for what is made in it.</summary>
    public const string AccessAcl = "system.posix_acl_access", DefaultAcl = "system.posix_acl_default";

    /// <summary>The most bytes of names and values together one entry carries (Linux's own most for one value, and for a list of names).</summary>
    public const int MostBytes = 64 << 10;

    /// <summary>The most a receiver reads of what stands at a name (names and values), beyond what any entry carries: what a local user put there.</summary>
    private const int MostStanding = 16 << 20;

    /// <summary>File capabilities: never sent nor given (see the class).</summary>
    private const string Capability = "security.capability";

    /// <summary>None: what an entry without any has, and what a receiver leaves on it.</summary>
    public static readonly ExtendedAttributes None = new([]);

    public ExtendedAttributes(IReadOnlyList<(string Name, byte[] Value)> items) => Items = items;

    public IReadOnlyList<(string Name, byte[] Value)> Items { get; }

    /// <summary>Which attributes these are of: what is read, compared, set and removed. Not part of equality.</summary>
    public AttributeScope Scope { get; init; } = AttributeScope.Xattrs;

    /// <summary>These attributes, to be read, compared, set and removed within <paramref name="scope"/>.</summary>
    public ExtendedAttributes In(AttributeScope scope) => new(Items) { Scope = scope };

    /// <summary>Whether these hold an access ACL, whose mask the mode's group bits are.</summary>
    public bool HasAccessAcl => Items.Any(item => item.Name == AccessAcl);

    /// <summary>Whether <paramref name="name"/> is a POSIX ACL's.</summary>
    public static bool IsAcl(string name) => name is AccessAcl or DefaultAcl;

    /// <summary>Whether <paramref name="name"/> is within <paramref name="scope"/>.</summary>
    public static bool Within(AttributeScope scope, string name) =>
        IsAcl(name) ? (scope & AttributeScope.Acls) != 0 : (scope & AttributeScope.Xattrs) != 0 && Handled(name);

    /// <summary>The bytes of the names (UTF-8) and values.</summary>
    public int Bytes => Items.Sum(item => Encoding.UTF8.GetByteCount(item.Name) + item.Value.Length);

    /// <summary>Whether this process reads, sets and removes the attribute <paramref name="name"/>, not an ACL's, with -X (see the class).</summary>
    public static bool Handled(string name) =>
        Privileged ? !name.StartsWith("system.", StringComparison.Ordinal) : name.StartsWith("user.", StringComparison.Ordinal);

    private static readonly bool Privileged = Environment.IsPrivilegedProcess;

    /// <summary>
    /// The attributes of what <paramref name="path"/> names (following a link there only if <paramref name="follow"/>),
    /// in the scope; <see cref="None"/> where the file system keeps none. Throws an <see cref="IOException"/> or
    /// <see cref="UnauthorizedAccessException"/> for any other failure. What a <paramref name="source"/> sends leaves
    /// capabilities out, and is refused (a <see cref="SingularityException"/> whose message says why, of the entry)
    /// beyond <see cref="MostBytes"/> or with a name that is not UTF-8; what stands at a receiver is read as it is,
    /// names that are not UTF-8 aside (never touched).
    /// </summary>
    public static ExtendedAttributes Of(string path, AttributeScope scope, bool follow = false, bool source = false) =>
        Read(scope, buffer => follow ? listxattr(path, buffer, buffer.Length) : llistxattr(path, buffer, buffer.Length),
            (name, buffer) => follow ? getxattr(path, name, buffer, buffer.Length) : lgetxattr(path, name, buffer, buffer.Length), source);

    /// <summary>As <see cref="Of(string, AttributeScope, bool, bool)"/>, for what stands at a receiver, open at <paramref name="handle"/>.</summary>
    public static ExtendedAttributes Of(SafeFileHandle handle, AttributeScope scope) =>
        Read(scope, buffer => flistxattr(handle, buffer, buffer.Length), (name, buffer) => fgetxattr(handle, name, buffer, buffer.Length), source: false);

    /// <summary>Whether what <paramref name="path"/> names (following a link there only if <paramref name="follow"/>) has these attributes, of this scope; one that cannot be read has not.</summary>
    public bool StandAt(string path, bool follow = false)
    {
        try
        {
            return SameAs(Of(path, Scope, follow));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>How what stands (read within this <see cref="Scope"/>) differs from these: in its ACLs, and in its other attributes.</summary>
    public (bool Acls, bool Others) Differences(ExtendedAttributes standing) =>
        (!SameWhere(standing, IsAcl), !SameWhere(standing, name => !IsAcl(name)));

    /// <summary>Whether what stands (read within this <see cref="Scope"/>) has these attributes, those of this scope.</summary>
    public bool SameAs(ExtendedAttributes standing) => Differences(standing) is (false, false);

    private bool SameWhere(ExtendedAttributes other, Func<string, bool> which) =>
        new ExtendedAttributes([.. Items.Where(item => which(item.Name) && Within(Scope, item.Name))]).Equals(new ExtendedAttributes([.. other.Items.Where(item => which(item.Name))]));

    /// <summary>
    /// Gives what <paramref name="path"/> names (never through a link there) these attributes: sets each that differs,
    /// and removes the handled ones it has beyond them. False where the file system or the system refuses (no
    /// attributes there, or a namespace this process may not write): what could be set is.
    /// </summary>
    public bool ApplyTo(string path) => ApplyWritable(
        () => Apply(Of(path, Scope), (name, value) => lsetxattr(path, name, value, value.Length, 0), name => lremovexattr(path, name)),
        () => SpecialFiles.StandingAt(path) is { Kind: EntryKind.File or EntryKind.Directory or EntryKind.Special } standing ? standing.Mode : null,
        mode => SpecialFiles.SetModeNotFollowing(path, mode));

    /// <summary>As <see cref="ApplyTo(string)"/>, to the file <paramref name="handle"/> is open on.</summary>
    public bool ApplyTo(SafeFileHandle handle) => ApplyWritable(
        () => Apply(Of(handle, Scope), (name, value) => fsetxattr(handle, name, value, value.Length, 0), name => fremovexattr(handle, name)),
        () => OperatingSystem.IsLinux() ? File.GetUnixFileMode(handle) : null,
        mode =>
        {
            if (!OperatingSystem.IsLinux()) return false;
            File.SetUnixFileMode(handle, mode);
            return true;
        });

    /// <summary>
    /// Applies <paramref name="once"/>; where that is refused and the owner may not write (0444), which refuses user.*
    /// attributes even to the owner, once more with the owner's write for the change and back, as rsync does it.
    /// </summary>
    private static bool ApplyWritable(Func<bool> once, Func<UnixFileMode?> mode, Func<UnixFileMode, bool> setMode)
    {
        if (once()) return true;
        if (mode() is not { } standing || (standing & UnixFileMode.UserWrite) != 0 || !setMode(standing | UnixFileMode.UserWrite)) return false;
        try { return once(); }
        finally { setMode(standing); }
    }

    private bool Apply(ExtendedAttributes standing, Func<string, byte[], int> set, Func<string, int> remove)
    {
        bool all = true;
        var wanted = Items.Where(item => Within(Scope, item.Name) && item.Name != Capability).ToDictionary(item => item.Name, item => item.Value, StringComparer.Ordinal);
        foreach (var (name, value) in standing.Items)
            if (!wanted.ContainsKey(name) && remove(name) != 0) all &= Refused();
        var standingValues = standing.Items.ToDictionary(item => item.Name, item => item.Value, StringComparer.Ordinal);
        // ACLs last, as rsync sets them: an ACL that takes the owner's write would refuse the user.* attributes after it.
        foreach (var (name, value) in wanted.OrderBy(item => IsAcl(item.Key)))
            if (!(standingValues.TryGetValue(name, out var had) && had.AsSpan().SequenceEqual(value)) && set(name, value) != 0) all &= Refused();
        return all;
    }

    /// <summary>
    /// A change the system refused for a reason of the file system's, this process's or the attribute's own (one it
    /// cannot hold, a name it does not take): false, counted by the caller; any other failure is thrown.
    /// </summary>
    private static bool Refused()
    {
        int error = Marshal.GetLastPInvokeError();
        if (error is Errno.NotSupported or Errno.NotPermitted or Errno.AccessDenied or Errno.NoSpace or Errno.TooBig or Errno.NoData or Errno.InvalidArgument or Errno.OutOfRange) return false;
        throw Errno.ToException(error);
    }

    /// <summary>Reads the attributes of the scope, of a source being sent or of what stands at a receiver (see <see cref="Of(string, AttributeScope, bool, bool)"/>).</summary>
    private static ExtendedAttributes Read(AttributeScope scope, Func<byte[], long> list, Func<string, byte[], long> get, bool source)
    {
        if (!OperatingSystem.IsLinux()) return None.In(scope);
        byte[] names = new byte[1024];
        long length;
        while ((length = list(names)) < 0)
        {
            int error = Marshal.GetLastPInvokeError();
            if (error == Errno.NotSupported) return None.In(scope);
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
            // Only a name of the scope is looked at: one outside it, UTF-8 or not, is none of this send's.
            if (!Within(scope, Encoding.UTF8.GetString(bytes))) continue;
            string name;
            try
            {
                name = WireFormat.StrictUtf8.GetString(bytes);
            }
            catch (DecoderFallbackException)
            {
                if (!source) continue;
                throw new SingularityException(ErrorCode.BadPath, "the name of one of its extended attributes is not valid UTF-8, which the receiver needs");
            }
            if (!Within(scope, name) || (source && name == Capability)) continue;
            // Removed since it was listed: as if it had never been.
            if (ValueOf(name, get) is not { } value) continue;
            total += bytes.Length + value.Length;
            if (source && total > MostBytes)
                throw new SingularityException(ErrorCode.BadPath, $"its extended attributes hold more than the {MostBytes >> 10} KiB an entry carries");
            if (total > MostStanding) throw new IOException($"its extended attributes hold more than {MostStanding >> 20} MiB");
            items.Add((name, value));
        }
        items.Sort((a, b) => Compare(a.Item1, b.Item1));
        return new ExtendedAttributes(items) { Scope = scope };
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

    /// <summary>Names in the order they travel: by their UTF-8 bytes, as the receiver checks them.</summary>
    public static int Compare(string a, string b) => Encoding.UTF8.GetBytes(a).AsSpan().SequenceCompareTo(Encoding.UTF8.GetBytes(b));

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
