using Singularity.Engine;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

public sealed class TreeTransferTests
{
    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task A_tree_of_thousands_of_small_files_with_empty_directories_and_links_arrives_intact()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/project");
        var random = new Random(7);
        for (int i = 0; i < 3000; i++)
        {
            string directory = Path.Combine(tree, $"d{i % 17}", $"e{i % 5}");
            TestFiles.Create(Path.Combine(directory, $"f{i}.dat"), random.Next(0, 9000), seed: i);
        }
        Directory.CreateDirectory(Path.Combine(tree, "empty", "nested", "deeper"));
        Directory.CreateDirectory(Path.Combine(tree, "also-empty"));
        File.CreateSymbolicLink(Path.Combine(tree, "link-to-file"), "d1/e1/f1.dat");
        File.CreateSymbolicLink(Path.Combine(tree, "link-out"), "/etc/hostname");
        Directory.CreateSymbolicLink(Path.Combine(tree, "link-to-dir"), "d2");
        File.CreateSymbolicLink(Path.Combine(tree, "dangling"), "does/not/exist");
        string script = TestFiles.Create(Path.Combine(tree, "run.sh"), 100);
        File.SetUnixFileMode(script, (UnixFileMode)0b111_101_000);
        var mtime = new DateTime(2020, 5, 17, 10, 30, 15, DateTimeKind.Utc);
        File.SetLastWriteTimeUtc(script, mtime);
        // A shared directory keeps its sticky bit; a read-only one stays writable by its owner.
        File.SetUnixFileMode(Path.Combine(tree, "empty"), (UnixFileMode)0b1_111_111_111);
        File.SetUnixFileMode(Path.Combine(tree, "also-empty"), (UnixFileMode)0b101_101_101);
        Directory.SetLastWriteTimeUtc(Path.Combine(tree, "also-empty"), mtime);
        // A link's own time (.NET sets and reads it without following the link).
        File.SetLastWriteTimeUtc(Path.Combine(tree, "link-out"), mtime);

        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);
        var result = await SingularitySender.SendAsync([tree], receiver.Url, new TransferOptions { ShardSize = 4096, Lanes = 4 });
        var received = await receiver.NextResultAsync();

        Assert.True(received.Succeeded, received.Error?.Message);
        TestFiles.AssertSameTree(tree, Path.Combine(destination, "project"));
        Assert.Equal(3001, result.Files);
        Assert.Equal(3001, received.Files);
        string copied = Path.Combine(destination, "project", "run.sh");
        Assert.Equal((UnixFileMode)0b111_101_000, File.GetUnixFileMode(copied));
        Assert.Equal((UnixFileMode)0b1_111_111_111, File.GetUnixFileMode(Path.Combine(destination, "project", "empty")));
        Assert.Equal((UnixFileMode)0b111_101_101, File.GetUnixFileMode(Path.Combine(destination, "project", "also-empty")));
        Assert.Equal(mtime, File.GetLastWriteTimeUtc(copied));
        Assert.Equal(mtime, Directory.GetLastWriteTimeUtc(Path.Combine(destination, "project", "also-empty")));
        Assert.Equal("/etc/hostname", new FileInfo(Path.Combine(destination, "project", "link-out")).LinkTarget);
        Assert.Equal(mtime, new FileInfo(Path.Combine(destination, "project", "link-out")).LastWriteTimeUtc);
        Assert.Empty(Directory.GetFiles(destination, "*.sglty-part", SearchOption.AllDirectories));
    }

    /// <summary>
    /// On a disk, flushes go to threads of their own while the lanes go on receiving. Here every flush goes there, so
    /// each file's flush and commit run beside the lanes; a lost hand-off would leave a file uncommitted and the send
    /// would never end.
    /// </summary>
    [Fact]
    public async Task Files_flushed_beside_the_lanes_all_arrive()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/flushed");
        var random = new Random(13);
        for (int i = 0; i < 2000; i++)
        {
            long size = i % 200 == 5 ? 5 * 4096 + random.Next(1, 4096) : random.Next(1, 6000);
            TestFiles.Create(Path.Combine(tree, $"d{i % 11}", $"f{i}.dat"), size, seed: i);
        }
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination, slowFlush: TimeSpan.Zero);

        var result = await SingularitySender.SendAsync([tree], receiver.Url, new TransferOptions { ShardSize = 4096 })
            .WaitAsync(TimeSpan.FromMinutes(2));

        Assert.Equal(2000, result.Files);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameTree(tree, Path.Combine(destination, "flushed"));
    }

    /// <summary>
    /// With no file allowed ahead of the commits, each chunk waits until every file announced before it is committed:
    /// the strictest pacing still ends, and every file arrives, at a receiver that refuses more uncommitted files than
    /// a chunk holds (about 1,000 here).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_manifest_of_several_chunks_is_accepted_chunk_by_chunk_and_every_file_arrives(bool noFileAheadOfCommits)
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/many");
        // Long names make a manifest of a few thousand entries span several chunks of about 256 KiB.
        string deep = Path.Combine(new string('a', 60), new string('b', 60), new string('c', 60));
        var random = new Random(11);
        for (int i = 0; i < 4000; i++)
        {
            // Empty files, one-shard files and a few files of several shards, spread over every chunk.
            long size = i % 500 == 7 ? 3 * 4096 + random.Next(1, 4096) : i % 10 == 3 ? 0 : random.Next(1, 2000);
            TestFiles.Create(Path.Combine(tree, $"d{i % 7}", deep, $"{new string('f', 40)}-{i}.dat"), size, seed: i);
        }

        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination, noFileAheadOfCommits ? new TransferOptions { Limits = new ProtocolLimits { MaxUncommittedFiles = 1200 } } : null);
        var result = await SingularitySender.SendAsync([tree], receiver.Url, new TransferOptions { ShardSize = 4096, Lanes = 3, FilesAheadOfCommits = noFileAheadOfCommits ? 0 : 16384 });
        var received = await receiver.NextResultAsync();

        Assert.True(received.Succeeded, received.Error?.Message);
        // The paths alone fill more than three chunks.
        long pathBytes = Directory.GetFiles(tree, "*", SearchOption.AllDirectories).Sum(f => (long)System.Text.Encoding.UTF8.GetByteCount(Path.GetRelativePath(Path.GetDirectoryName(tree)!, f)));
        Assert.True(pathBytes > 3 * (256 << 10), $"{pathBytes} bytes of paths");
        TestFiles.AssertSameTree(tree, Path.Combine(destination, "many"));
        Assert.Equal(4000, result.Files);
        Assert.Equal(4000, received.Files);
    }

    /// <summary>
    /// Acknowledgements and commits both count bytes done (a commit counts the shards whose acknowledgement has not
    /// come yet): every byte is counted, and none twice.
    /// </summary>
    [Fact]
    public async Task Progress_counts_every_byte_once()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/counted");
        var random = new Random(5);
        for (int i = 0; i < 300; i++)
            TestFiles.Create(Path.Combine(tree, $"d{i % 5}", $"f{i}.dat"), i % 50 == 0 ? 70 * 4096 + random.Next(1, 4096) : random.Next(0, 3000), seed: i);
        long total = Directory.GetFiles(tree, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);
        long most = 0, last = 0;
        var progress = new SynchronousProgress(p =>
        {
            Interlocked.Exchange(ref most, Math.Max(Interlocked.Read(ref most), p.BytesAcknowledged));
            Interlocked.Exchange(ref last, p.BytesAcknowledged);
        });

        await SingularitySender.SendAsync([tree], receiver.Url, new TransferOptions { ShardSize = 4096, Lanes = 3 }, progress);

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameTree(tree, Path.Combine(destination, "counted"));
        Assert.Equal(total, Interlocked.Read(ref last));
        Assert.True(Interlocked.Read(ref most) <= total, $"{most} bytes acknowledged of {total}");
    }

    /// <summary>
    /// A tree a receiver writes into, sent onward, holds that receiver's partials while a receive runs or after one was
    /// cut off: sglty's working files, which no receiver takes (it ended the whole session). They are skipped, each
    /// named, and the rest arrives. An entry of the user's own whose name ends so (no receiver takes it either) is
    /// left out as not sent, with what it holds; one named as a source is refused before anything moves.
    /// </summary>
    [Fact]
    public async Task Partials_of_an_unfinished_receive_in_a_tree_are_skipped_and_named()
    {
        const string Skipped = "a partial file of a receive not finished, which no receiver takes (`sglty partials --dir DIR --clean` removes those of DIR)";
        const string Refused = "its name ends as a receiver's partial files do (.sglty-part, .sglty-state), which no receiver takes; rename it";
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        string kept = TestFiles.Create(Path.Combine(tree, "a.txt"), 1000);
        TestFiles.Create(Path.Combine(tree, ".big.sglty-part"), 5000, seed: 2);
        TestFiles.Create(Path.Combine(tree, ".big.sglty-state"), 64, seed: 3);
        TestFiles.Create(Path.Combine(tree, "notes.sglty-part"), 64, seed: 5);
        TestFiles.Create(Path.Combine(tree, "sub", ".old.SGLTY-PART", "f"), 10, seed: 4);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);
        var events = new List<string>();

        var result = await SingularitySender.SendAsync([tree], receiver.Url, new TransferOptions(), null, line => { lock (events) events.Add(line); });
        Assert.True((await receiver.NextResultAsync()).Succeeded);

        Assert.Equal(1, result.Files);
        Assert.Equal(["tree", "tree/a.txt", "tree/sub"], Directory.EnumerateFileSystemEntries(destination, "*", SearchOption.AllDirectories).Select(path => Path.GetRelativePath(destination, path)).Order(StringComparer.Ordinal));
        TestFiles.AssertSameBytes(kept, Path.Combine(destination, "tree", "a.txt"));
        Assert.Equal(["skipping 'tree/.big.sglty-part': " + Skipped, "skipping 'tree/.big.sglty-state': " + Skipped], events.Where(line => line.StartsWith("skipping", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        Assert.Equal([("tree/notes.sglty-part", false), ("tree/sub/.old.SGLTY-PART", true)], result.NotSent.Select(entry => (entry.Path, entry.IsDirectory)).Order());
        Assert.All(result.NotSent, entry => Assert.True(entry.NameRefused && entry.Reason == Refused && !entry.IsFile, entry.ToString()));
        Assert.Contains("not sending 'tree/sub/.old.SGLTY-PART/' or what it holds: " + Refused, events);

        var refused = await Assert.ThrowsAsync<SingularityException>(() => SingularitySender.SendAsync([Path.Combine(tree, ".big.sglty-part")], receiver.Url));
        Assert.Equal(ErrorCode.BadPath, refused.Code);
        Assert.Contains(Refused, refused.Message);

        // Excluded, it is no source at all.
        await SingularitySender.SendAsync([Path.Combine(tree, ".big.sglty-part"), Path.Combine(tree, "a.txt")], receiver.Url, new TransferOptions { Exclude = ["*.sglty-part"] });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        // Nor can a send name its one file so.
        var misnamed = await Assert.ThrowsAsync<ArgumentException>(() => SingularitySender.SendAsync([kept], receiver.Url, new TransferOptions { FileName = "x.Sglty-State" }));
        Assert.Equal(nameof(TransferOptions.FileName), misnamed.ParamName);

        // Listed with relative paths (a list from find names them): a partial is skipped as in a walk, so that the
        // rest, and a deletion, go on; the user's own are left out, a file below a directory so named too.
        string[] Listed(params string[] names) => [.. names.Select(name => temp.Path + "/src/./" + name)];
        events.Clear();
        result = await SingularitySender.SendAsync(Listed("tree/a.txt", "tree/.big.sglty-part"), receiver.Url, new TransferOptions { Relative = true, DeleteExtraneous = true }, null, line => { lock (events) events.Add(line); });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Empty(result.NotSent);
        Assert.False(result.DeletionSkipped);
        Assert.Equal(["skipping 'tree/.big.sglty-part': " + Skipped], events.Where(line => line.StartsWith("skipping", StringComparison.Ordinal)));
        TestFiles.AssertSameBytes(kept, Path.Combine(destination, "tree", "a.txt"));

        result = await SingularitySender.SendAsync(Listed("tree/a.txt", "tree/notes.sglty-part", "tree/sub/.old.SGLTY-PART/f"), receiver.Url, new TransferOptions { Relative = true });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(["tree/notes.sglty-part", "tree/sub/.old.SGLTY-PART/f"], result.NotSent.Select(entry => entry.Path).Order(StringComparer.Ordinal));
        Assert.Equal("the directory 'tree/sub/.old.SGLTY-PART' in its path: " + Refused, result.NotSent.Single(entry => entry.Path.EndsWith("/f", StringComparison.Ordinal)).Reason);
        Assert.Equal(1, result.FilesTransferred);
    }

    /// <summary>
    /// A tree made a directory at a time can go deeper than a path the system takes (PATH_MAX): what lies there is left
    /// out and named, as rsync names what it cannot open, and the rest arrives, where .NET's empty FullName for it
    /// ended the send as an internal error.
    /// </summary>
    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task What_lies_deeper_than_a_path_the_system_takes_is_left_out_and_named()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        string kept = TestFiles.Create(Path.Combine(tree, "a.txt"), 1000);
        string deep = await TestFiles.CreateDeepAsync(tree, levels: 17);
        try
        {
            string destination = temp.Sub("dst");
            await using var receiver = new LoopbackReceiver(destination);

            var result = await SingularitySender.SendAsync([tree], receiver.Url, new TransferOptions());
            Assert.True((await receiver.NextResultAsync()).Succeeded);

            var left = Assert.Single(result.NotSent);
            Assert.StartsWith("tree/deep/", left.Path);
            Assert.True(left.IsDirectory);
            Assert.StartsWith("its path is longer than the system takes", left.Reason);
            Assert.Equal(1, result.FilesTransferred);
            TestFiles.AssertSameBytes(kept, Path.Combine(destination, "tree", "a.txt"));

            // Rules that take every directory and leave out other files take it as the directory it is: named still.
            result = await SingularitySender.SendAsync([tree], receiver.Url, new TransferOptions { Exclude = ["+ */", "+ *.txt", "- *"] });
            Assert.True((await receiver.NextResultAsync()).Succeeded);
            Assert.Equal(left.Path, Assert.Single(result.NotSent).Path);
        }
        finally
        {
            await TestFiles.RemoveDeepAsync(deep);
        }
    }

    /// <summary>
    /// .NET reports sockets, FIFOs and devices as files of no length: they would arrive as empty files. They are
    /// skipped without -D, each named in one line, as rsync skips them; a link to one is still a link, and an
    /// empty regular file still arrives.
    /// </summary>
    [SkippableFact]
    public async Task Sockets_and_FIFOs_in_a_tree_are_skipped_and_named()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "special files are told apart on Linux only");
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        TestFiles.Create(Path.Combine(tree, "a.txt"), 1000);
        TestFiles.Create(Path.Combine(tree, "empty"), 0);
        TestFiles.CreateFifo(Path.Combine(tree, "sub", "pipe"));
        using var socket = TestFiles.CreateSocketFile(Path.Combine(tree, "sock"));
        File.CreateSymbolicLink(Path.Combine(tree, "pipe-link"), "sub/pipe");
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);
        var events = new List<string>();

        var result = await SingularitySender.SendAsync([tree], receiver.Url, new TransferOptions(), null, line => { lock (events) events.Add(line); });
        Assert.True((await receiver.NextResultAsync()).Succeeded);

        Assert.Equal(2, result.Files);
        string copy = Path.Combine(destination, "tree");
        Assert.Equal(["a.txt", "empty", "pipe-link", "sub"], Directory.GetFileSystemEntries(copy).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(copy, "sub")));
        TestFiles.AssertSameBytes(Path.Combine(tree, "a.txt"), Path.Combine(copy, "a.txt"));
        Assert.Equal(0, new FileInfo(Path.Combine(copy, "empty")).Length);
        Assert.Equal("sub/pipe", new FileInfo(Path.Combine(copy, "pipe-link")).LinkTarget);
        Assert.Contains("skipping 'tree/sub/pipe': it is a FIFO; send it with --specials (or -D)", events);
        Assert.Contains("skipping 'tree/sock': it is a socket; send it with --specials (or -D)", events);
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/.")]
    public async Task A_trailing_slash_or_dot_sends_the_contents_and_several_paths_go_in_one_session(string ending)
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        TestFiles.Create(Path.Combine(tree, "a.txt"), 10);
        TestFiles.Create(Path.Combine(tree, "sub", "b.txt"), 20_000);
        string single = TestFiles.Create(Path.Combine(temp.Path, "src", "single.bin"), 70_000);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);

        await SingularitySender.SendAsync([tree + ending, single], receiver.Url, new TransferOptions { ShardSize = 4096 });
        Assert.True((await receiver.NextResultAsync()).Succeeded);

        Assert.False(Directory.Exists(Path.Combine(destination, "tree")));
        TestFiles.AssertSameBytes(Path.Combine(tree, "a.txt"), Path.Combine(destination, "a.txt"));
        TestFiles.AssertSameBytes(Path.Combine(tree, "sub", "b.txt"), Path.Combine(destination, "sub", "b.txt"));
        TestFiles.AssertSameBytes(single, Path.Combine(destination, "single.bin"));
    }

    /// <summary>
    /// A link given as a source is followed: a link to a file sends the file under the link's name, a link to a
    /// directory sends the tree under the link's name, or its contents with a trailing slash.
    /// </summary>
    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Links_given_as_sources_send_what_they_point_to()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("real/tree");
        TestFiles.Create(Path.Combine(tree, "a.txt"), 10);
        TestFiles.Create(Path.Combine(tree, "sub", "b.txt"), 20_000, seed: 2);
        string file = TestFiles.Create(Path.Combine(temp.Path, "real", "file.bin"), 70_000, seed: 3);
        string links = temp.Sub("links");
        File.CreateSymbolicLink(Path.Combine(links, "file-link"), file);
        Directory.CreateSymbolicLink(Path.Combine(links, "tree-link"), tree);
        Directory.CreateSymbolicLink(Path.Combine(links, "contents-link"), tree);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);

        await SingularitySender.SendAsync(
            [Path.Combine(links, "file-link"), Path.Combine(links, "tree-link"), Path.Combine(links, "contents-link") + "/"],
            receiver.Url, new TransferOptions { ShardSize = 4096 });
        Assert.True((await receiver.NextResultAsync()).Succeeded);

        TestFiles.AssertSameBytes(file, Path.Combine(destination, "file-link"));
        TestFiles.AssertSameTree(tree, Path.Combine(destination, "tree-link"));
        TestFiles.AssertSameBytes(Path.Combine(tree, "a.txt"), Path.Combine(destination, "a.txt"));
        TestFiles.AssertSameBytes(Path.Combine(tree, "sub", "b.txt"), Path.Combine(destination, "sub", "b.txt"));
    }

    /// <summary>
    /// Files gone between the scan and their first read (here, of one shard and of many, read by several lanes) are
    /// left out and named, and the session still finishes with everything else in place.
    /// </summary>
    [Fact]
    public async Task Files_that_vanish_after_the_scan_are_left_out_and_the_rest_arrives()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        string kept = TestFiles.Create(Path.Combine(tree, "kept"), 20_000, seed: 1);
        string small = TestFiles.Create(Path.Combine(tree, "small"), 1000, seed: 2);
        string large = TestFiles.Create(Path.Combine(tree, "large"), 40 * 4096 + 3, seed: 3);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);

        // The scan runs before SendAsync returns; no file is read before the receiver accepts the manifest.
        var send = SingularitySender.SendAsync([tree], receiver.Url, new TransferOptions { ShardSize = 4096, Lanes = 4 });
        File.Delete(small);
        File.Delete(large);
        var result = await send;
        var received = await receiver.NextResultAsync();

        Assert.Equal(["tree/large", "tree/small"], result.NotSent.Select(e => e.Path).Order());
        Assert.All(result.NotSent, e => Assert.Equal("it vanished since the scan", e.Reason));
        Assert.True(received.Succeeded, received.Error?.Message);
        Assert.Equal((1, 2), (received.Files, received.FilesNotSent));
        TestFiles.AssertSameBytes(kept, Path.Combine(destination, "tree", "kept"));
        Assert.Equal(["kept"], Directory.GetFileSystemEntries(Path.Combine(destination, "tree")).Select(Path.GetFileName));
    }

    /// <summary>
    /// Sending a tree again with the quick check leaves every file the receiver holds with the same size and mtime as
    /// it is (only a changed mode is applied) and sends only the rest; without it, every file goes again.
    /// </summary>
    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Sending_again_sends_only_what_changed_unless_told_to_ignore_times()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        for (int i = 0; i < 40; i++) TestFiles.Create(Path.Combine(tree, $"d{i % 4}", $"f{i}"), 100 + i * 997, seed: i);
        // Of several shards of PartialFixtures' size too, so that a partial of it can be left below.
        string big = TestFiles.Create(Path.Combine(tree, "big"), 3 * PartialFixtures.Shard + 7, seed: 99);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);
        var quick = new TransferOptions { ShardSize = 4096, SkipUnchanged = true };
        long total = Directory.GetFiles(tree, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);

        var first = await SingularitySender.SendAsync([tree], receiver.Url, quick);
        Assert.Equal((41, 0, total), (first.Files, first.FilesUnchanged, first.BytesSent));
        Assert.True((await receiver.NextResultAsync()).Succeeded);

        var again = await SingularitySender.SendAsync([tree], receiver.Url, quick);
        var received = await receiver.NextResultAsync();
        Assert.Equal((41, 41, total, 0L), (again.Files, again.FilesUnchanged, again.BytesUnchanged, again.BytesSent));
        Assert.Equal((41, 41, 0L), (received.Files, received.FilesUnchanged, received.Bytes));

        // One file rewritten (another mtime), one with only its mode changed.
        string changed = Path.Combine(tree, "d1", "f5");
        TestFiles.Create(changed, 100 + 5 * 997, seed: 1234);
        File.SetLastWriteTimeUtc(changed, new DateTime(2021, 3, 4, 5, 6, 7, DateTimeKind.Utc));
        File.SetUnixFileMode(big, (UnixFileMode)0b110_000_000);
        var third = await SingularitySender.SendAsync([tree], receiver.Url, quick);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((40, 100L + 5 * 997), (third.FilesUnchanged, third.BytesSent));
        TestFiles.AssertSameTree(tree, Path.Combine(destination, "tree"));
        Assert.Equal((UnixFileMode)0b110_000_000, File.GetUnixFileMode(Path.Combine(destination, "tree", "big")));

        // A partial an interrupted send left beside a file in place is resumed rather than stranded.
        PartialFixtures.LeaveJournaled(Path.Combine(destination, "tree", "big"), File.ReadAllBytes(big), shards: 2);
        Assert.NotEmpty(PartialFiles.Find(destination));
        var resumed = await SingularitySender.SendAsync([tree], receiver.Url, quick);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(40, resumed.FilesUnchanged);
        Assert.Empty(PartialFiles.Find(destination));
        TestFiles.AssertSameTree(tree, Path.Combine(destination, "tree"));

        var ignoring = await SingularitySender.SendAsync([tree], receiver.Url, quick with { SkipUnchanged = false });
        Assert.Equal(total, (await receiver.NextResultAsync()).Bytes);
        Assert.Equal((0, total), (ignoring.FilesUnchanged, ignoring.BytesSent));
        TestFiles.AssertSameTree(tree, Path.Combine(destination, "tree"));
    }

    [Fact]
    public async Task An_existing_file_is_replaced_atomically()
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "f.bin"), 100_000, seed: 2);
        string destination = temp.Sub("dst");
        TestFiles.Create(Path.Combine(destination, "f.bin"), 5, seed: 3);
        await using var receiver = new LoopbackReceiver(destination);

        await SingularitySender.SendAsync([source], receiver.Url, new TransferOptions { ShardSize = 4096 });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameBytes(source, Path.Combine(destination, "f.bin"));
    }
}
