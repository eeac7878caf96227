using System.Security.Cryptography;

namespace Singularity.Tests.Support;

/// <summary>Makes test data and compares trees byte for byte.</summary>
public static class TestFiles
{
    /// <summary>Writes <paramref name="size"/> pseudo-random bytes (seeded, so a failure can be replayed).</summary>
    public static string Create(string path, long size, int seed = 1)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        var random = new Random(seed);
        byte[] block = new byte[Math.Min(size, 1 << 20)];
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        for (long left = size; left > 0;)
        {
            int n = (int)Math.Min(block.Length, left);
            random.NextBytes(block.AsSpan(0, n));
            stream.Write(block, 0, n);
            left -= n;
        }
        return path;
    }

    /// <summary>A file of <paramref name="size"/> bytes that holds pseudo-random bytes in the <paramref name="data"/> ranges and holes everywhere else.</summary>
    public static string CreateSparse(string path, long size, int seed, params (long Offset, int Length)[] data)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        var random = new Random(seed);
        using var file = File.OpenHandle(path, FileMode.Create, FileAccess.Write);
        RandomAccess.SetLength(file, size);
        foreach (var (offset, length) in data)
        {
            byte[] bytes = new byte[length];
            random.NextBytes(bytes);
            RandomAccess.Write(file, bytes, offset);
        }
        return path;
    }

    /// <summary>The bytes the file system allocated for <paramref name="path"/> (its blocks, as `stat` reports them), which a hole does not take.</summary>
    public static long AllocatedBytes(string path)
    {
        var info = new System.Diagnostics.ProcessStartInfo("stat", ["-c", "%b %B", path]) { RedirectStandardOutput = true };
        using var stat = System.Diagnostics.Process.Start(info)!;
        string[] fields = stat.StandardOutput.ReadToEnd().Split(' ', StringSplitOptions.TrimEntries);
        stat.WaitForExit();
        Assert.Equal(0, stat.ExitCode);
        return long.Parse(fields[0]) * long.Parse(fields[1]);
    }

    /// <summary>Makes a FIFO at <paramref name="path"/> (Unix only).</summary>
    public static string CreateFifo(string path)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        Assert.True(mkfifo(path, 0b110_100_100) == 0, $"mkfifo {path} failed");
        return path;
    }

    /// <summary>Binds a Unix domain socket at <paramref name="path"/>; its file lasts until the socket is disposed.</summary>
    public static System.Net.Sockets.Socket CreateSocketFile(string path)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        socket.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(path));
        return socket;
    }

#pragma warning disable SYSLIB1054, CA2101
    [System.Runtime.InteropServices.DllImport("libc")]
    private static extern int mkfifo([System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.LPUTF8Str)] string path, uint mode);
#pragma warning restore SYSLIB1054, CA2101

    /// <summary>Asserts that two files hold exactly the same bytes.</summary>
    public static void AssertSameBytes(string expected, string actual)
    {
        Assert.True(File.Exists(actual), $"missing {actual}");
        var a = new FileInfo(expected);
        var b = new FileInfo(actual);
        Assert.Equal(a.Length, b.Length);
        using var x = File.OpenRead(expected);
        using var y = File.OpenRead(actual);
        byte[] bx = new byte[1 << 20], by = new byte[1 << 20];
        long position = 0;
        while (true)
        {
            int nx = x.ReadAtLeast(bx, bx.Length, throwOnEndOfStream: false);
            int ny = y.ReadAtLeast(by, by.Length, throwOnEndOfStream: false);
            Assert.Equal(nx, ny);
            if (nx == 0) break;
            int diff = bx.AsSpan(0, nx).CommonPrefixLength(by.AsSpan(0, ny));
            Assert.True(diff == nx, $"{actual} differs from {expected} at byte {position + diff}");
            position += nx;
        }
    }

    /// <summary>
    /// Makes <c>deep</c> in <paramref name="directory"/>, holding a chain of <paramref name="levels"/> directories of
    /// 250-byte names with a file <c>f</c> at its end: beyond PATH_MAX (4,096 bytes) from about 16 levels. It is made a
    /// step at a time (bash's cd -P goes by the name alone), as .NET cannot make it, nor remove it: use
    /// <see cref="RemoveDeepAsync"/>. Returns the path of <c>deep</c>.
    /// </summary>
    public static async Task<string> CreateDeepAsync(string directory, int levels)
    {
        string name = new('n', 250);
        using var make = System.Diagnostics.Process.Start("bash", ["-c", $"cd '{directory}' && mkdir deep && cd deep && for i in $(seq {levels}); do mkdir {name} && cd -P {name} || exit 1; done && echo deep > f"])!;
        await make.WaitForExitAsync();
        Assert.Equal(0, make.ExitCode);
        return System.IO.Path.Combine(directory, "deep");
    }

    /// <summary>Removes what <see cref="CreateDeepAsync"/> made.</summary>
    public static async Task RemoveDeepAsync(string deep)
    {
        using var remove = System.Diagnostics.Process.Start("rm", ["-rf", deep])!;
        await remove.WaitForExitAsync();
    }

    /// <summary>Asserts that two trees have the same entries, the same link targets and the same file bytes.</summary>
    public static void AssertSameTree(string expected, string actual)
    {
        var left = Entries(expected);
        var right = Entries(actual);
        Assert.Equal(left.Keys.Order(StringComparer.Ordinal), right.Keys.Order(StringComparer.Ordinal));
        foreach (var (relative, info) in left)
        {
            var other = right[relative];
            if (info.LinkTarget is not null)
            {
                Assert.Equal(info.LinkTarget, other.LinkTarget);
            }
            else if (info is FileInfo)
            {
                Assert.IsType<FileInfo>(other);
                Assert.Null(other.LinkTarget);
                // A FIFO, socket or device: of the same type and number (a FIFO's read would wait for a writer).
                if (Singularity.Engine.Storage.SpecialFiles.SpecialAt(info.FullName) is { } special) Assert.Equal(special, Singularity.Engine.Storage.SpecialFiles.SpecialAt(other.FullName));
                else AssertSameBytes(info.FullName, other.FullName);
            }
            else
            {
                Assert.IsType<DirectoryInfo>(other);
                Assert.Null(other.LinkTarget);
            }
        }
    }

    private static Dictionary<string, FileSystemInfo> Entries(string root)
    {
        var result = new Dictionary<string, FileSystemInfo>(StringComparer.Ordinal);
        var pending = new Stack<DirectoryInfo>();
        pending.Push(new DirectoryInfo(root));
        while (pending.TryPop(out var directory))
        {
            foreach (var child in directory.EnumerateFileSystemInfos())
            {
                result[System.IO.Path.GetRelativePath(root, child.FullName)] = child;
                if (child is DirectoryInfo sub && child.LinkTarget is null) pending.Push(sub);
            }
        }
        return result;
    }

    public static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(stream));
    }
}
