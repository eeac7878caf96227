using Singularity.Engine.Storage;
using Singularity.Tests.Support;

namespace Singularity.Tests.Storage;

/// <summary>What the sender opened must be its name's own file: the statx fields read for that (inode, device, type) are read right.</summary>
public sealed class SpecialFilesTests
{
    [Fact]
    public void An_open_file_is_told_from_another_file_or_a_link_now_under_its_name()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var temp = new TempDirectory();
        string path = TestFiles.Create(Path.Combine(temp.Path, "f"), 10);
        string other = TestFiles.Create(Path.Combine(temp.Path, "other"), 10, seed: 2);

        using (var handle = File.OpenHandle(path))
            Assert.False(SpecialFiles.OpenedElsewhere(handle, path));

        using (var handle = File.OpenHandle(path))
        {
            File.Move(other, path, overwrite: true);
            Assert.True(SpecialFiles.OpenedElsewhere(handle, path));
        }

        string link = Path.Combine(temp.Path, "link");
        File.CreateSymbolicLink(link, path);
        using (var handle = File.OpenHandle(link))
            Assert.True(SpecialFiles.OpenedElsewhere(handle, link));

        using (var handle = File.OpenHandle(path))
        {
            File.Delete(path);
            Assert.True(SpecialFiles.OpenedElsewhere(handle, path));
        }
    }

    /// <summary>
    /// Only a regular file is opened, and never through a link: a FIFO swapped in under a name would otherwise make
    /// the open wait for a writer for ever (the guard below turns such a wait into a failure rather than a hang).
    /// </summary>
    [Fact]
    public async Task Only_a_regular_file_is_opened_never_through_a_link_and_never_waiting()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var temp = new TempDirectory();
        string file = TestFiles.Create(Path.Combine(temp.Path, "f"), 10);
        string fifo = TestFiles.CreateFifo(Path.Combine(temp.Path, "pipe"));
        string toFile = Path.Combine(temp.Path, "to-file"), toFifo = Path.Combine(temp.Path, "to-pipe");
        File.CreateSymbolicLink(toFile, file);
        File.CreateSymbolicLink(toFifo, fifo);

        using (var handle = SpecialFiles.OpenRegular(file))
            Assert.Equal(10, RandomAccess.GetLength(Assert.IsType<Microsoft.Win32.SafeHandles.SafeFileHandle>(handle)));
        foreach (string path in (string[])[fifo, toFile, toFifo, temp.Path])
            Assert.Null(await Task.Run(() => SpecialFiles.OpenRegular(path)).WaitAsync(TimeSpan.FromSeconds(60)));
        var missing = Assert.Throws<FileNotFoundException>(() => SpecialFiles.OpenRegular(Path.Combine(temp.Path, "gone")));
        Assert.Equal("no such file", missing.Message);
    }

    /// <summary>A directory's mode is set on it, never through a link now at its name (one a local user swapped in).</summary>
    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void A_mode_is_never_set_through_a_link()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var temp = new TempDirectory();
        string directory = temp.Sub("d"), target = temp.Sub("target");
        File.SetUnixFileMode(target, (UnixFileMode)0b111_000_000);
        string link = Path.Combine(temp.Path, "link");
        Directory.CreateSymbolicLink(link, target);

        Assert.True(SpecialFiles.SetModeNotFollowing(directory, (UnixFileMode)0b111_101_000));
        Assert.False(SpecialFiles.SetModeNotFollowing(link, (UnixFileMode)0b111_111_111));

        Assert.Equal((UnixFileMode)0b111_101_000, File.GetUnixFileMode(directory));
        Assert.Equal((UnixFileMode)0b111_000_000, File.GetUnixFileMode(target));
    }

    /// <summary>
    /// A file opened to be linked (--link-dest) is linked as opened: a link swapped in at its name since is neither
    /// taken for a regular file nor linked in its place; nor is a link at the name when it is opened.
    /// </summary>
    [Fact]
    public void The_file_opened_is_the_one_linked_whatever_stands_at_its_name_since()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var temp = new TempDirectory();
        string file = TestFiles.Create(Path.Combine(temp.Path, "old", "f"), 10);
        string secret = TestFiles.Create(Path.Combine(temp.Path, "secret"), 10, seed: 2);
        File.CreateSymbolicLink(Path.Combine(temp.Path, "old", "l"), secret);
        using var directory = SpecialFiles.OpenDirectoryBelow(Path.Combine(temp.Path, "old"), []);
        Assert.NotNull(directory);
        Assert.Null(SpecialFiles.OpenRegularAt(directory, "l"));

        var opened = SpecialFiles.OpenRegularAt(directory, "f");
        Assert.NotNull(opened);
        using var handle = opened.Value.File;
        Assert.Equal(10, opened.Value.Size);
        File.Move(file, Path.Combine(temp.Path, "moved"));
        File.CreateSymbolicLink(file, secret);
        string created = Path.Combine(temp.Path, "new");

        Assert.Equal(0, SpecialFiles.LinkOpened(handle, created));

        Assert.Null(new FileInfo(created).LinkTarget);
        Assert.Equal(SpecialFiles.IdentityOf(Path.Combine(temp.Path, "moved"))!.Value.Inode, SpecialFiles.IdentityOf(created)!.Value.Inode);
        Assert.Equal(Errno.Exists, SpecialFiles.LinkOpened(handle, created));
    }

    /// <summary>
    /// An open file's mtime is set to the nanosecond the scan records, before 1970 too, and its atime to now, in one
    /// call: .NET reads both first. (The atime is not left out: a FUSE file system on libfuse 2 drops an mtime set alone.)
    /// </summary>
    [Theory]
    [InlineData(1_796_643_297_605_932_200L)]
    [InlineData(-1_500_000_000L)]
    [InlineData(-100L)]
    [InlineData(0L)]
    public void An_open_file_takes_the_mtime_and_an_atime_of_now(long nanoseconds)
    {
        using var temp = new TempDirectory();
        string path = TestFiles.Create(Path.Combine(temp.Path, "f"), 10);
        var accessed = new DateTime(2020, 1, 2, 3, 4, 5, DateTimeKind.Utc);
        File.SetLastAccessTimeUtc(path, accessed);
        using (var handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite)) SpecialFiles.SetModified(handle, nanoseconds);

        Assert.Equal(nanoseconds, SourceScanner.ToNanoseconds(File.GetLastWriteTimeUtc(path)));
        Assert.True(File.GetLastAccessTimeUtc(path) > accessed.AddYears(1), $"atime {File.GetLastAccessTimeUtc(path):o}");
    }

    /// <summary>
    /// A file of a tree opens below its root, never through a link on the way (a directory a local user swapped for a
    /// link since the scan), whether through openat2 or each directory in turn; the root itself may be reached through
    /// a link, as the user named it, and held open for the files below it. A name gone throws as gone; a file where a
    /// directory was, as not a directory.
    /// </summary>
    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void A_file_below_a_root_opens_only_through_directories(bool walk, bool held)
    {
        if (!OperatingSystem.IsLinux()) return;
        using var temp = new TempDirectory();
        string root = temp.Sub("root");
        TestFiles.Create(Path.Combine(root, "a", "b", "f"), 10);
        string outside = temp.Sub("outside");
        TestFiles.Create(Path.Combine(outside, "f"), 10, seed: 2);
        Directory.CreateSymbolicLink(Path.Combine(root, "a", "link"), outside);
        File.CreateSymbolicLink(Path.Combine(root, "a", "b", "g"), Path.Combine(outside, "f"));
        // A link that stays inside the root is refused too: the scan saw a directory there.
        Directory.CreateSymbolicLink(Path.Combine(root, "a", "inside"), "b");
        string named = Path.Combine(temp.Path, "named");
        Directory.CreateSymbolicLink(named, root);
        TestFiles.Create(Path.Combine(root, "file"), 10, seed: 3);
        using var rootHandle = held ? SpecialFiles.OpenPath(root) : null;
        using var namedHandle = held ? SpecialFiles.OpenPath(named) : null;

        using (var opened = SpecialFiles.OpenRegularBelow(root, "a/b/f", rootHandle, walk)) Assert.NotNull(opened);
        using (var opened = SpecialFiles.OpenRegularBelow(named, "a/b/f", namedHandle, walk)) Assert.NotNull(opened);
        Assert.Null(SpecialFiles.OpenRegularBelow(root, "a/link/f", rootHandle, walk));
        Assert.Null(SpecialFiles.OpenRegularBelow(root, "a/inside/f", rootHandle, walk));
        Assert.Null(SpecialFiles.OpenRegularBelow(root, "a/b/g", rootHandle, walk));
        Assert.Throws<FileNotFoundException>(() => SpecialFiles.OpenRegularBelow(root, "a/gone/f", rootHandle, walk));
        Assert.Throws<FileNotFoundException>(() => SpecialFiles.OpenRegularBelow(root, "a/b/gone", rootHandle, walk));
        Assert.Throws<IOException>(() => SpecialFiles.OpenRegularBelow(root, "file/f", rootHandle, walk));
    }
}
