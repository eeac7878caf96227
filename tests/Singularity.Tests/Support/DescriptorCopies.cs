using System.Runtime.InteropServices;

namespace Singularity.Tests.Support;

/// <summary>
/// Copies of this process's descriptors of one file, as a child process started at that moment holds them from its
/// fork to its exec (every test that starts a process makes such children). A lock on the file lasts until the last
/// copy closes unless it is let go of first, so these copies show whether code that locked the file let go of it.
/// </summary>
internal sealed class DescriptorCopies : IDisposable
{
    private readonly List<int> _copies = [];

    /// <summary>Copies every descriptor of this process open on <paramref name="path"/> now (Linux: read from /proc/self/fd).</summary>
    public static DescriptorCopies Of(string path)
    {
        var copies = new DescriptorCopies();
        foreach (string link in Directory.GetFileSystemEntries("/proc/self/fd"))
        {
            string? target;
            try
            {
                target = new FileInfo(link).LinkTarget;
            }
            catch (IOException)
            {
                continue;
            }
            if (target != path || !int.TryParse(Path.GetFileName(link), out int descriptor)) continue;
            // Closed on exec, as the child's own are: a process another test starts meanwhile does not keep it.
            int copy = fcntl(descriptor, DuplicateClosedOnExec, 0);
            if (copy >= 0) copies._copies.Add(copy);
        }
        Assert.NotEmpty(copies._copies);
        return copies;
    }

    public void Dispose()
    {
        foreach (int copy in _copies) close(copy);
        _copies.Clear();
    }

#pragma warning disable SYSLIB1054
    private const int DuplicateClosedOnExec = 1030; // F_DUPFD_CLOEXEC

    [DllImport("libc")]
    private static extern int fcntl(int descriptor, int command, int lowest);

    [DllImport("libc")]
    private static extern int close(int descriptor);
#pragma warning restore SYSLIB1054
}
