using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// `--delete-before`, as rsync's: the receiver deletes what the source does not have once it holds the whole list,
/// before any file arrives, so what goes frees its space for what comes.
/// </summary>
public sealed class DeleteBeforeTests
{
    /// <summary>
    /// A destination with room for the new file only once the old one is gone: --delete-before makes that room first,
    /// where --delete (after the files) is refused before anything moves, as the disk is too small.
    /// </summary>
    [SkippableFact]
    public async Task What_goes_first_frees_the_room_for_what_comes()
    {
        Skip.IfNot(Environment.IsPrivilegedProcess && OperatingSystem.IsLinux(), "needs root on Linux to mount a size-limited tmpfs");
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), mount = temp.Sub("small");
        string file = TestFiles.Create(Path.Combine(source, "new.bin"), 40 << 20, seed: 1);
        Skip.IfNot(Commands.Run("mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", mount), "mount -t tmpfs is not permitted here");
        try
        {
            string stale = TestFiles.Create(Path.Combine(mount, "old.bin"), 40 << 20, seed: 2);
            await using var receiver = new LoopbackReceiver(mount);

            var (refused, _, full) = await SgltyProcess.RunAsync("send", source + "/", "--to", receiver.Url.ToString(), "--delete");
            Assert.Equal(11, refused);
            Assert.Contains("disk full", full);
            Assert.False((await receiver.NextResultAsync()).Succeeded);
            Assert.True(File.Exists(stale));

            var (exit, _, error) = await SgltyProcess.RunAsync("send", source + "/", "--to", receiver.Url.ToString(), "--delete-before");
            Assert.True(exit == 0, error);
            Assert.True((await receiver.NextResultAsync()).Succeeded);
            Assert.False(File.Exists(stale));
            TestFiles.AssertSameBytes(file, Path.Combine(mount, "new.bin"));
        }
        finally
        {
            Commands.Run("umount", "-l", mount);
        }
    }

    /// <summary>
    /// A list longer than one manifest chunk: the free space read for the first chunk gains the sizes of what the
    /// deletion removed, so the big file of the last chunk fits where the old one stood.
    /// </summary>
    [SkippableFact]
    public async Task A_long_list_counts_the_room_its_deletion_freed()
    {
        Skip.IfNot(Environment.IsPrivilegedProcess && OperatingSystem.IsLinux(), "needs root on Linux to mount a size-limited tmpfs");
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), mount = temp.Sub("small");
        for (int i = 0; i < 6_000; i++) TestFiles.Create(Path.Combine(source, "many", $"a-file-with-a-long-name-{i:D5}"), 1, seed: i);
        string file = TestFiles.Create(Path.Combine(source, "zz-last", "new.bin"), 40 << 20, seed: 1);
        Skip.IfNot(Commands.Run("mount", "-t", "tmpfs", "-o", "size=80m", "tmpfs", mount), "mount -t tmpfs is not permitted here");
        try
        {
            string stale = TestFiles.Create(Path.Combine(mount, "old.bin"), 40 << 20, seed: 2);
            await using var receiver = new LoopbackReceiver(mount);

            var (exit, _, error) = await SgltyProcess.RunAsync("send", source + "/", "--to", receiver.Url.ToString(), "--delete-before");
            Assert.True(exit == 0, error);
            Assert.True((await receiver.NextResultAsync()).Succeeded);
            Assert.False(File.Exists(stale));
            TestFiles.AssertSameTree(source, mount);
            TestFiles.AssertSameBytes(file, Path.Combine(mount, "zz-last", "new.bin"));
        }
        finally
        {
            Commands.Run("umount", "-l", mount);
        }
    }

    /// <summary>
    /// The destination ends as rsync --delete-before leaves it: deleted before the files arrive, the receiver's
    /// per-directory merge files are those that stood before the send (-F), where --delete reads those that arrived.
    /// A dry run names what it would delete, and deletes nothing.
    /// </summary>
    [SkippableTheory]
    [InlineData("--delete-before")]
    [InlineData("--delete")]
    public async Task The_destination_ends_as_rsyncs(string when)
    {
        Skip.IfNot(Commands.RsyncAtLeast(3, 0), "rsync 3 is not installed");
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), destination = temp.Sub("dst"), copy = Path.Combine(temp.Path, "copy");
        foreach (string name in new[] { "a.txt", "sub/b.txt", "sub/deep/c.txt" })
            TestFiles.Create(Path.Combine(source, name), 2_000 + name.Length, seed: name.Length);
        File.WriteAllText(Path.Combine(source, ".rsync-filter"), "P new-protected\n");
        foreach (string name in new[] { "stale", "sub/stale", "gone/x", "old-protected", "new-protected", "a.txt" })
            TestFiles.Create(Path.Combine(destination, name), 10, seed: 3);
        // Of another size than the source's, so that both tools send it whatever their times.
        File.WriteAllText(Path.Combine(destination, ".rsync-filter"), "P old-protected\n# the receiver's own\n");
        Assert.True(Commands.Run("cp", "-a", destination, copy));
        await using var receiver = new LoopbackReceiver(destination);

        var (dry, listed, _) = await SgltyProcess.RunAsync("send", source + "/", "--to", receiver.Url.ToString(), "-F", when, "--dry-run", "-v");
        Assert.Equal(0, dry);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Contains("deleting stale", listed);
        Assert.True(File.Exists(Path.Combine(destination, "stale")));

        Assert.True(Commands.Run("rsync", "-rlpt", "-F", when == "--delete" ? "--delete-after" : when, source + "/", copy + "/"));
        var (exit, _, error) = await SgltyProcess.RunAsync("send", source + "/", "--to", receiver.Url.ToString(), "-F", when);
        Assert.True(exit == 0, error);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameTree(copy, destination);
        Assert.False(File.Exists(Path.Combine(destination, "stale")));
        Assert.False(Directory.Exists(Path.Combine(destination, "gone")));
        Assert.Equal(when == "--delete-before", File.Exists(Path.Combine(destination, "old-protected")));
        Assert.Equal(when == "--delete", File.Exists(Path.Combine(destination, "new-protected")));
    }

    /// <summary>
    /// A list too long for one manifest chunk: the deletion runs at the last, while the first chunks' files move, and
    /// the send ends with every file in place and nothing else left.
    /// </summary>
    [Fact]
    public async Task A_long_list_deletes_at_its_last_part_and_every_file_arrives()
    {
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), destination = temp.Sub("dst");
        // About 400 KiB of manifest: more than one chunk of 256 KiB.
        for (int i = 0; i < 6_000; i++) TestFiles.Create(Path.Combine(source, $"d{i % 10}", $"a-file-with-a-long-name-{i:D5}"), 1 + i % 7, seed: i);
        for (int i = 0; i < 50; i++) TestFiles.Create(Path.Combine(destination, $"d{i % 10}", $"stale-{i}"), 10, seed: i);
        await using var receiver = new LoopbackReceiver(destination);

        var (exit, _, error) = await SgltyProcess.RunAsync("send", source + "/", "--to", receiver.Url.ToString(), "--delete-before");
        Assert.True(exit == 0, error);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameTree(source, destination);
    }

    /// <summary>Two times to delete at once are refused, with one line naming both.</summary>
    [Fact]
    public async Task Two_times_to_delete_are_refused()
    {
        using var temp = new TempDirectory();
        string source = temp.Sub("src");
        TestFiles.Create(Path.Combine(source, "f"), 10);
        await using var receiver = new LoopbackReceiver(temp.Sub("dst"));

        var (exit, output, error) = await SgltyProcess.RunAsync("send", source, "--to", receiver.Url.ToString(), "--delete-before", "--delete-after");
        Assert.NotEqual(0, exit);
        Assert.Empty(output);
        Assert.Contains("--delete-before and --delete-after choose different times to delete; give one of them", error);
    }
}
