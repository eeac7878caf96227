using Singularity.Engine;
using Singularity.Engine.Protocol;
using Singularity.Engine.Security;
using Singularity.Engine.Storage;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// With <see cref="TransferOptions.OneFileSystem"/> (rsync -x), a send stays on each given directory's file system:
/// a mount point below it goes empty (and a deletion leaves what the receiver holds there) or, as rsync -xx, not at
/// all; and the receiver's deletion stays on the destination's file system. Each test mounts a tmpfs, so needs root.
/// </summary>
public sealed class OneFileSystemTests
{
    private static readonly TransferOptions Quick = new() { ShardSize = 4096, SkipUnchanged = true };

    [SkippableFact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task A_mount_point_below_the_source_is_sent_empty_and_its_contents_at_the_receiver_survive_a_deletion()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        TestFiles.Create(Path.Combine(tree, "a"), 10_000, seed: 1);
        TestFiles.Create(Path.Combine(tree, "sub", "b"), 20_000, seed: 2);
        using var mounted = MountAt(temp.Sub("src/tree/mnt"));
        string mount = mounted.Path;
        TestFiles.Create(Path.Combine(mount, "inner"), 5_000, seed: 3);
        TestFiles.Create(Path.Combine(mount, "deep", "x"), 100, seed: 4);
        string destination = temp.Sub("dst"), received = Path.Combine(destination, "tree");
        await using var receiver = new LoopbackReceiver(destination);

        // Crossing, as by default: what the mount holds travels (so the mount is readable, and the rest tells).
        var crossing = await SingularitySender.SendAsync([tree], receiver.Url, Quick);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(4, crossing.Files);
        TestFiles.AssertSameBytes(Path.Combine(mount, "deep", "x"), Path.Combine(received, "mnt", "deep", "x"));

        TestFiles.Create(Path.Combine(received, "stale"), 10);
        var staying = await SingularitySender.SendAsync([tree], receiver.Url, Quick with { OneFileSystem = MountPoints.SentEmpty, DeleteExtraneous = true });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        // Only stale goes: mnt is sent without what it holds, so what the receiver holds there is not the send's to delete.
        Assert.Equal((1, 0, false), (staying.EntriesDeleted, staying.EntriesNotDeleted, staying.DeletionSkipped));
        Assert.False(File.Exists(Path.Combine(received, "stale")));
        TestFiles.AssertSameBytes(Path.Combine(mount, "inner"), Path.Combine(received, "mnt", "inner"));

        // Into a fresh destination: the mount point arrives empty, with -xx not at all.
        string empty = temp.Sub("empty"), none = temp.Sub("none");
        await using (var fresh = new LoopbackReceiver(empty))
        {
            await SingularitySender.SendAsync([tree], fresh.Url, Quick with { OneFileSystem = MountPoints.SentEmpty });
            Assert.True((await fresh.NextResultAsync()).Succeeded);
        }
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(empty, "tree", "mnt")));
        TestFiles.AssertSameBytes(Path.Combine(tree, "sub", "b"), Path.Combine(empty, "tree", "sub", "b"));
        await using (var fresh = new LoopbackReceiver(none))
        {
            await SingularitySender.SendAsync([tree], fresh.Url, Quick with { OneFileSystem = MountPoints.LeftOut });
            Assert.True((await fresh.NextResultAsync()).Succeeded);
        }
        Assert.False(Directory.Exists(Path.Combine(none, "tree", "mnt")));
        TestFiles.AssertSameBytes(Path.Combine(tree, "a"), Path.Combine(none, "tree", "a"));

        // A mount point named as the path itself is sent whole: -x limits the walk, not what the user names.
        await SingularitySender.SendAsync([mount], receiver.Url, Quick with { OneFileSystem = MountPoints.LeftOut });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameTree(mount, Path.Combine(destination, "mnt"));
    }

    [SkippableFact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task The_receivers_deletion_stays_on_the_destinations_file_system()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        TestFiles.Create(Path.Combine(tree, "a"), 10_000, seed: 1);
        string destination = temp.Sub("dst"), received = Path.Combine(destination, "tree");
        using var mounted = MountAt(Path.Combine(received, "mounted"));
        string mount = mounted.Path;
        string theirs = TestFiles.Create(Path.Combine(mount, "theirs"), 10);
        TestFiles.Create(Path.Combine(received, "stale", "f"), 10);
        await using var receiver = new LoopbackReceiver(destination);

        var staying = await SingularitySender.SendAsync([tree], receiver.Url, Quick with { OneFileSystem = MountPoints.SentEmpty, DeleteExtraneous = true });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((2, 0), (staying.EntriesDeleted, staying.EntriesNotDeleted));
        Assert.True(File.Exists(theirs), "the deletion went into a file system mounted below the destination");
        Assert.False(Directory.Exists(Path.Combine(received, "stale")));
        TestFiles.AssertSameBytes(Path.Combine(tree, "a"), Path.Combine(received, "a"));

        // Without -x the deletion goes in, as rsync's does, and only the mount point itself stays.
        var crossing = await SingularitySender.SendAsync([tree], receiver.Url, Quick with { DeleteExtraneous = true });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.False(File.Exists(theirs));
        Assert.Equal((1, 1), (crossing.EntriesDeleted, crossing.EntriesNotDeleted));
    }

    [SkippableFact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void With_relative_paths_a_mount_point_is_implied_unless_a_later_path_goes_below_it()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        TestFiles.Create(Path.Combine(tree, "a"), 10);
        using var mounted = MountAt(temp.Sub("src/tree/mnt"));
        string mount = mounted.Path;
        TestFiles.Create(Path.Combine(mount, "inner"), 10);
        string source = temp.Sub("src");
        var alone = SourceScanner.Scan([$"{source}/./tree"], null, [], rules: new() { Relative = true, OneFileSystem = MountPoints.SentEmpty });
        Assert.Equal(["tree", "tree/a", "tree/mnt"], alone.Select(entry => entry.Entry.Path));
        Assert.Equal(["tree/mnt"], alone.Where(entry => entry.Entry.Implied).Select(entry => entry.Entry.Path));

        // A path named below the mount point is sent, as rsync -x sends what the user names.
        var named = SourceScanner.Scan([$"{source}/./tree", $"{source}/./tree/mnt/inner"], null, [], rules: new() { Relative = true, OneFileSystem = MountPoints.SentEmpty });
        Assert.Equal(["tree", "tree/a", "tree/mnt", "tree/mnt/inner"], named.Select(entry => entry.Entry.Path));
    }

    /// <summary>
    /// A source, or a receiver's directory, given through a link stays on the file system the link leads to, not the
    /// link's own; and --prune-empty-dirs keeps a mount point sent empty, whose contents at the receiver a deletion leaves.
    /// </summary>
    [SkippableFact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Roots_given_through_links_stay_where_the_links_lead()
    {
        using var temp = new TempDirectory();
        using var diskMount = MountAt(temp.Sub("disk"));
        using var landingMount = MountAt(temp.Sub("landing"));
        string disk = diskMount.Path, landing = landingMount.Path;
        string tree = Path.Combine(disk, "tree");
        TestFiles.Create(Path.Combine(tree, "a"), 10_000, seed: 1);
        TestFiles.Create(Path.Combine(tree, "sub", "b"), 20_000, seed: 2);
        string link = Path.Combine(temp.Sub("src"), "www");
        Directory.CreateSymbolicLink(link, tree);
        string destination = Path.Combine(temp.Path, "dst");
        Directory.CreateSymbolicLink(destination, landing);
        string stale = TestFiles.Create(Path.Combine(landing, "sub", "stale"), 10), beside = TestFiles.Create(Path.Combine(landing, "beside"), 10);
        await using var receiver = new LoopbackReceiver(destination);

        var sent = await SingularitySender.SendAsync([link + "/"], receiver.Url, Quick with { OneFileSystem = MountPoints.SentEmpty, DeleteExtraneous = true });
        Assert.True((await receiver.NextResultAsync()).Succeeded);

        TestFiles.AssertSameTree(tree, landing);
        Assert.False(File.Exists(stale), "the deletion took the receiver's directory for another file system");
        Assert.False(File.Exists(beside), "the receiver's directory, given through a link, was not cleaned");
        Assert.Equal(2, sent.EntriesDeleted);

        // A mount point below, sent empty, is no empty chain to prune.
        using var inner = MountAt(Path.Combine(tree, "mnt"));
        string theirs = TestFiles.Create(Path.Combine(landing, "mnt", "theirs"), 10);
        var pruned = await SingularitySender.SendAsync([link + "/"], receiver.Url, Quick with { OneFileSystem = MountPoints.SentEmpty, DeleteExtraneous = true, PruneEmptyDirectories = true });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((0, 0, false), (pruned.EntriesDeleted, pruned.EntriesNotDeleted, pruned.DeletionSkipped));
        Assert.True(File.Exists(theirs), "the mount point was pruned, and the deletion took what the receiver holds there");
    }

    /// <summary>`-x` once sends a mount point empty; twice, as rsync reads `-xx`, leaves it out.</summary>
    [SkippableFact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task The_command_counts_x_as_rsync_does()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        TestFiles.Create(Path.Combine(tree, "a"), 1000);
        using var mounted = MountAt(temp.Sub("src/tree/mnt"));
        string mount = mounted.Path;
        TestFiles.Create(Path.Combine(mount, "inner"), 10);
        foreach (var (flags, name, mountPoint) in new[] { (new[] { "-x" }, "once", true), (["-xx"], "twice", false), (["--one-file-system", "-x"], "long", false) })
        {
            string destination = temp.Sub(name);
            await using var receiver = new LoopbackReceiver(destination);
            var (exit, _, error) = await SgltyProcess.RunAsync(["send", tree, "--to", receiver.Url.ToString(), .. flags]);
            Assert.True(exit == 0, error);
            Assert.True((await receiver.NextResultAsync()).Succeeded);
            TestFiles.AssertSameBytes(Path.Combine(tree, "a"), Path.Combine(destination, "tree", "a"));
            Assert.Equal(mountPoint, Directory.Exists(Path.Combine(destination, "tree", "mnt")));
            Assert.False(File.Exists(Path.Combine(destination, "tree", "mnt", "inner")));
        }
    }

    /// <summary>The flag only narrows a deletion: a receiver refuses it without one, before anything is written.</summary>
    [Fact]
    public async Task A_receiver_refuses_one_file_system_without_a_deletion()
    {
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { Cipher = CipherSuite.None });
        await using var peer = await RawPeer.ConnectAsync(receiver.Url);

        var (_, answer, body) = await peer.OpenWithManifestAsync(receiver.Token, 4096, OpenSessionFlags.OneFileSystem,
            new ManifestEntry(EntryKind.Directory, "made", 0, (UnixFileMode)0b111_101_101, 0, null));

        Assert.Equal(ControlMessageType.Error, answer);
        Assert.Contains("stays on one file system, without a deletion", ErrorMessage.Decode(body).Reason);
        Assert.False((await receiver.NextResultAsync()).Succeeded);
        Assert.Empty(Directory.EnumerateFileSystemEntries(destination));
    }

    /// <summary>Mounts a small tmpfs at <paramref name="directory"/> (made if missing), unmounted when disposed; skips the test where that is not permitted.</summary>
    private static Mounted MountAt(string directory)
    {
        Skip.IfNot(OperatingSystem.IsLinux() && Environment.IsPrivilegedProcess, "needs root on Linux to mount a tmpfs");
        Directory.CreateDirectory(directory);
        Skip.IfNot(Commands.Run("mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", directory), "mount -t tmpfs is not permitted here");
        return new Mounted(directory);
    }

    private sealed class Mounted(string path) : IDisposable
    {
        public string Path { get; } = path;

        public void Dispose() => Commands.Run("umount", "-l", Path);
    }
}
