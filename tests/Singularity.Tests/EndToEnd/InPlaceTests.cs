using Singularity.Engine;
using Singularity.Engine.Storage;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// With <see cref="TransferOptions.InPlace"/> (rsync --inplace), a changed file is written into the file standing at
/// its name: the same inode, every byte the source's, and with delta only the shards that differ written.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class InPlaceTests
{
    private const int Shard = 64 << 10;
    private static readonly TransferOptions InPlace = new() { ShardSize = Shard, InPlace = true, Delta = true };

    /// <summary>Writes <paramref name="bytes"/> random bytes over <paramref name="path"/> at <paramref name="offset"/>.</summary>
    private static void Overwrite(string path, long offset, int bytes, int seed)
    {
        byte[] changed = new byte[bytes];
        new Random(seed).NextBytes(changed);
        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Write);
        RandomAccess.Write(file, changed, offset);
    }

    /// <summary>
    /// Waits until the last change a test made to <paramref name="path"/> lies a tick of the time stamps behind, as a
    /// file long in place does: one changed lately offers none of its shards (<see cref="SpecialFiles.ChangedLately"/>).
    /// </summary>
    private static async Task SettledAsync(string path)
    {
        while (true)
        {
            using (var file = SpecialFiles.OpenRegularNotFollowing(path)!)
                if (!SpecialFiles.ChangedLately(SpecialFiles.VersionOf(file)!.Value.Changed)) return;
            await Task.Delay(20);
        }
    }

    /// <summary>A copy of <paramref name="source"/> at <paramref name="destination"/>, a day older, as an earlier send left it.</summary>
    private static void CopyAsOlder(string source, string destination)
    {
        File.Copy(source, destination, overwrite: true);
        File.SetLastWriteTimeUtc(destination, File.GetLastWriteTimeUtc(source).AddDays(-1));
    }

    /// <summary>
    /// An image with two shards rewritten and a grown tail: only those travel, they are written into the file that
    /// stands there (its inode), no partial is left, and the file gets the source's bytes, time and mode.
    /// </summary>
    [SkippableFact]
    public async Task A_changed_file_is_written_where_it_stands()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "files are written in place on Linux receivers");
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "disk.img"), 20L * Shard, seed: 1);
        string destination = temp.Sub("dst"), target = Path.Combine(destination, "disk.img");
        CopyAsOlder(source, target);
        var before = SpecialFiles.IdentityOf(target)!.Value;
        Overwrite(source, 3L * Shard + 100, 10, seed: 2);
        Overwrite(source, 11L * Shard, Shard, seed: 3);
        using (var log = new FileStream(source, FileMode.Append)) log.Write(new byte[Shard + 7]);
        File.SetUnixFileMode(source, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
        await SettledAsync(target);
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([source], receiver.Url, InPlace);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        // Shards 3 and 11, and the grown tail: 18 of the old shards stayed where they stand.
        Assert.Equal(18L * Shard, result.BytesMatched);
        Assert.Equal(3L * Shard + 7, result.BytesSent);
        TestFiles.AssertSameBytes(source, target);
        Assert.Equal(before.Inode, SpecialFiles.IdentityOf(target)!.Value.Inode);
        Assert.Equal(File.GetLastWriteTimeUtc(source), File.GetLastWriteTimeUtc(target));
        Assert.Equal(File.GetUnixFileMode(source), File.GetUnixFileMode(target));
        Assert.Equal(["disk.img"], Directory.GetFileSystemEntries(destination).Select(Path.GetFileName));
    }

    /// <summary>
    /// A source that shrank to a prefix the standing file holds: every shard is kept, nothing is written, and the file
    /// is still cut to the source's length, and gets its time.
    /// </summary>
    [SkippableFact]
    public async Task A_file_that_shrank_is_cut_to_its_length()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "files are written in place on Linux receivers");
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "f"), 9L * Shard, seed: 4);
        string destination = temp.Sub("dst"), target = Path.Combine(destination, "f");
        CopyAsOlder(source, target);
        using (var file = new FileStream(source, FileMode.Open)) file.SetLength(5L * Shard);
        await SettledAsync(target);
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([source], receiver.Url, InPlace);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((0L, 5L * Shard), (result.BytesSent, result.BytesMatched));
        TestFiles.AssertSameBytes(source, target);
        Assert.Equal(File.GetLastWriteTimeUtc(source), File.GetLastWriteTimeUtc(target));
    }

    /// <summary>Without delta (a local path), a changed file is still written into the file standing there, every shard of it.</summary>
    [SkippableFact]
    public async Task Without_delta_every_shard_is_written_in_place()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "files are written in place on Linux receivers");
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "f"), 7L * Shard + 5, seed: 5);
        string destination = temp.Sub("dst"), target = Path.Combine(destination, "f");
        TestFiles.Create(target, 12L * Shard, seed: 6);
        var before = SpecialFiles.IdentityOf(target)!.Value;
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([source], receiver.Url, InPlace with { Delta = false });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(7L * Shard + 5, result.BytesSent);
        TestFiles.AssertSameBytes(source, target);
        Assert.Equal(before.Inode, SpecialFiles.IdentityOf(target)!.Value.Inode);
    }

    /// <summary>
    /// A link standing at a file's name is never written through: it is replaced by the file, which arrives beside it
    /// as any new file does, and what it pointed to stays as it was. A new file arrives beside its name too.
    /// </summary>
    [SkippableFact]
    public async Task A_link_at_the_name_is_replaced_never_written_through()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "files are written in place on Linux receivers");
        using var temp = new TempDirectory();
        string tree = temp.Sub("src");
        TestFiles.Create(Path.Combine(tree, "f"), 3L * Shard, seed: 7);
        TestFiles.Create(Path.Combine(tree, "new"), 2L * Shard, seed: 8);
        string outside = TestFiles.Create(Path.Combine(temp.Sub("outside"), "precious"), 3L * Shard, seed: 9);
        byte[] kept = File.ReadAllBytes(outside);
        string destination = temp.Sub("dst");
        File.CreateSymbolicLink(Path.Combine(destination, "f"), outside);
        await using var receiver = new LoopbackReceiver(destination);

        await SingularitySender.SendAsync([tree + "/"], receiver.Url, InPlace);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Null(new FileInfo(Path.Combine(destination, "f")).LinkTarget);
        Assert.Equal(kept, File.ReadAllBytes(outside));
        TestFiles.AssertSameTree(tree, destination);
    }

    /// <summary>
    /// A send cut off part way leaves the file part old, part new, with a time that is not the source's; the retry
    /// finds it changed, and finishes it where it stands.
    /// </summary>
    [SkippableFact]
    public async Task A_send_cut_off_part_way_is_finished_by_its_retry()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "files are written in place on Linux receivers");
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "f"), 64L * Shard, seed: 10);
        string destination = temp.Sub("dst"), target = Path.Combine(destination, "f");
        TestFiles.Create(target, 64L * Shard, seed: 11);
        var before = SpecialFiles.IdentityOf(target)!.Value;
        await using var receiver = new LoopbackReceiver(destination);
        await using var relay = new TcpRelay(receiver.Url);
        relay.CutAllOnce((connection, forwarded) => connection == 1 && forwarded > (1 << 20));

        var result = await SingularitySender.SendAsync([source], relay.Url, InPlace with { Lanes = 1, MaxInFlightBytes = 256 << 10, Retries = 2 });
        Assert.Equal(1, result.Retries);
        TestFiles.AssertSameBytes(source, target);
        Assert.Equal(before.Inode, SpecialFiles.IdentityOf(target)!.Value.Inode);
        Assert.Equal(File.GetLastWriteTimeUtc(source), File.GetLastWriteTimeUtc(target));
    }

    /// <summary>
    /// Two names of one file at the receiver, each sent a different version that keeps some of the old one's shards,
    /// and a third the send leaves as it is: a file with other names is never written in place (each name would see
    /// the others' versions), so each sent name arrives beside it, and the third keeps the old contents.
    /// </summary>
    [SkippableFact]
    public async Task Two_names_of_one_file_each_get_their_own_source()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "files are written in place on Linux receivers");
        using var temp = new TempDirectory();
        string tree = temp.Sub("src"), destination = temp.Sub("dst");
        string old = TestFiles.Create(Path.Combine(destination, "a"), 4L * Shard, seed: 13);
        SpecialFiles.Link(old, Path.Combine(destination, "b"));
        SpecialFiles.Link(old, Path.Combine(destination, "kept"));
        byte[] kept = File.ReadAllBytes(old);
        File.SetLastWriteTimeUtc(old, DateTime.UtcNow.AddDays(-1));
        string a = Path.Combine(tree, "a"), b = Path.Combine(tree, "b");
        File.Copy(old, a);
        File.Copy(old, b);
        Overwrite(a, 0, Shard, seed: 14);
        Overwrite(b, Shard, 3 * Shard, seed: 15);
        await SettledAsync(old);
        await using var receiver = new LoopbackReceiver(destination);

        await SingularitySender.SendAsync([a, b], receiver.Url, InPlace with { Lanes = 1 });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameBytes(a, Path.Combine(destination, "a"));
        TestFiles.AssertSameBytes(b, Path.Combine(destination, "b"));
        Assert.Equal(kept, File.ReadAllBytes(Path.Combine(destination, "kept")));
    }

    /// <summary>
    /// On a disk without room for a second copy, what --inplace is for: a changed file needs only what it grows by, so
    /// the send goes through where one beside its name would not fit.
    /// </summary>
    [SkippableFact]
    public async Task A_file_written_in_place_needs_no_room_for_a_second_copy()
    {
        Skip.IfNot(OperatingSystem.IsLinux() && Environment.IsPrivilegedProcess, "needs root on Linux to mount a size-limited tmpfs");
        using var temp = new TempDirectory();
        string mount = temp.Sub("small");
        Skip.IfNot(Commands.Run("mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", mount), "mount -t tmpfs is not permitted here");
        try
        {
            string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "disk.img"), 8L << 20, seed: 16);
            CopyAsOlder(source, Path.Combine(mount, "disk.img"));
            Overwrite(source, 3L << 20, 4096, seed: 17);
            await SettledAsync(Path.Combine(mount, "disk.img"));
            await using var receiver = new LoopbackReceiver(mount);

            var full = await Assert.ThrowsAsync<TransferAbortedException>(() => SingularitySender.SendAsync([source], receiver.Url, new TransferOptions { ShardSize = 1 << 20, Delta = true }));
            Assert.Equal(ErrorCode.DiskFull, full.Code);
            Assert.EndsWith("; or send with --inplace, which writes changed files where they stand and needs no room for a second copy", full.Message);
            Assert.False((await receiver.NextResultAsync()).Succeeded);

            var result = await SingularitySender.SendAsync([source], receiver.Url, new TransferOptions { ShardSize = 1 << 20, Delta = true, InPlace = true });
            Assert.True((await receiver.NextResultAsync()).Succeeded);
            Assert.Equal(1L << 20, result.BytesSent);
            TestFiles.AssertSameBytes(source, Path.Combine(mount, "disk.img"));
        }
        finally
        {
            Commands.Run("umount", "-l", mount);
        }
    }

    /// <summary>
    /// A receiver that is not root, with a file it may not write (0444, its own) and one it may write but not give a
    /// time (another user's, 0666): neither is written in place, where the first would fail and the second end the
    /// session; both arrive beside their names and are renamed over, as without --inplace, and the send exits 0.
    /// </summary>
    [SkippableFact]
    public async Task Files_the_receiver_may_not_write_or_time_arrive_beside_their_names()
    {
        Skip.IfNot(OperatingSystem.IsLinux() && Environment.IsPrivilegedProcess && Commands.Run("setpriv", "--version"), "needs root to run the receiver as another user");
        using var temp = new TempDirectory();
        string tree = temp.Sub("src"), destination = temp.Sub("dst"), urls = temp.Sub("urls");
        foreach (string name in (string[])["read-only", "theirs"]) TestFiles.Create(Path.Combine(tree, name), 3L * Shard, seed: name.Length);
        foreach (string directory in (string[])[temp.Path, destination, urls])
        {
            File.SetUnixFileMode(directory, (UnixFileMode)0b111_101_101);
            if (directory != temp.Path) Assert.True(Commands.Run("chown", "65534:65534", directory));
        }
        string readOnly = TestFiles.Create(Path.Combine(destination, "read-only"), 3L * Shard, seed: 20);
        Assert.True(Commands.Run("chown", "65534:65534", readOnly));
        File.SetUnixFileMode(readOnly, (UnixFileMode)0b100_100_100);
        string theirs = TestFiles.Create(Path.Combine(destination, "theirs"), 3L * Shard, seed: 21);
        File.SetUnixFileMode(theirs, (UnixFileMode)0b110_110_110);
        string urlFile = Path.Combine(urls, "url");

        using var receiver = SgltyProcess.StartUnprivileged("recv", "--dir", destination, "--listen", "127.0.0.1:0", "--once", "--url-file", urlFile);
        string url = await SgltyProcess.WaitForFileAsync(urlFile, receiver);
        var (exit, _, error) = await SgltyProcess.RunAsync("send", tree + "/", "--to", url, "--inplace", "--delta");
        var (receiverExit, _, receiverError) = await SgltyProcess.FinishAsync(receiver);

        Assert.True(exit == 0, error);
        Assert.True(receiverExit == 0, receiverError);
        foreach (string name in (string[])["read-only", "theirs"]) TestFiles.AssertSameBytes(Path.Combine(tree, name), Path.Combine(destination, name));
    }

    /// <summary>
    /// A file changed within a tick of the time stamps may not show a later write in its ctime: one of a file system
    /// with nanoseconds is lately changed for 50 ms, one of whole seconds (some keep no finer) for 3 s.
    /// </summary>
    [Fact]
    public void A_change_is_late_within_a_tick_of_the_time_stamps()
    {
        long now = (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100;
        Assert.True(SpecialFiles.ChangedLately(now - 1_000));
        // Not a whole second, which would read as a file system of whole seconds.
        long settled = now - 200_000_000;
        Assert.False(SpecialFiles.ChangedLately(settled % 1_000_000_000 == 0 ? settled - 7 : settled));
        long second = now / 1_000_000_000 * 1_000_000_000;
        Assert.True(SpecialFiles.ChangedLately(second - 1_000_000_000));
        Assert.False(SpecialFiles.ChangedLately(second - 4_000_000_000));
    }

    /// <summary>
    /// `sglty send --append` (and --append-verify), as rsync users ship logs: a log that grew sends only its new tail,
    /// even on a path where delta is off by default, into the file in place; one rotated to a shorter log is cut to it,
    /// where rsync --append would leave the longer copy.
    /// </summary>
    [SkippableTheory]
    [InlineData("--append")]
    [InlineData("--append-verify")]
    public async Task Append_sends_a_grown_log_s_tail_into_the_file_in_place(string option)
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "files are written in place on Linux receivers");
        using var temp = new TempDirectory();
        string log = TestFiles.Create(Path.Combine(temp.Sub("src"), "app.log"), 5L << 20, seed: 22);
        string destination = temp.Sub("dst"), target = Path.Combine(destination, "app.log");
        CopyAsOlder(log, target);
        using (var grown = new FileStream(log, FileMode.Append)) grown.Write(new byte[300_000]);
        await SettledAsync(target);
        var before = SpecialFiles.IdentityOf(target)!.Value;
        await using var receiver = new LoopbackReceiver(destination);

        var (exit, output, error) = await SgltyProcess.RunAsync("send", log, "--to", receiver.Url.ToString(), option, "--shard-size", "1MiB", "--json");
        Assert.True(exit == 0, error);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        // The new tail alone: the old end fell at a shard's end.
        Assert.Contains("\"bytes_sent\":300000,", output);
        TestFiles.AssertSameBytes(log, target);
        Assert.Equal(before.Inode, SpecialFiles.IdentityOf(target)!.Value.Inode);

        using (var rotated = new FileStream(log, FileMode.Open)) rotated.SetLength(1L << 20);
        (exit, _, error) = await SgltyProcess.RunAsync("send", log, "--to", receiver.Url.ToString(), option, "--shard-size", "1MiB");
        Assert.True(exit == 0, error);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameBytes(log, target);

        var (refused, _, why) = await SgltyProcess.RunAsync("send", log, "--to", receiver.Url.ToString(), option, "--whole-file");
        Assert.NotEqual(0, refused);
        Assert.Contains("--append writes in place with delta, which --whole-file does not go with", why);
    }

    /// <summary>In place goes with neither holes nor backups: refused before anything moves, naming the option.</summary>
    [Fact]
    public async Task In_place_with_sparse_or_backups_is_refused()
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "f"), 10, seed: 12);
        var (sparse, _, sparseWhy) = await SgltyProcess.RunAsync("send", source, "--to", "sglty://127.0.0.1:9/", "--inplace", "--sparse");
        Assert.NotEqual(0, sparse);
        Assert.Contains("--inplace: files written in place cannot be left with holes", sparseWhy);
        var (backup, _, backupWhy) = await SgltyProcess.RunAsync("send", source, "--to", "sglty://127.0.0.1:9/", "--inplace", "--backup");
        Assert.NotEqual(0, backup);
        Assert.Contains("--inplace: a file written in place leaves no version to keep as a backup", backupWhy);
    }
}
