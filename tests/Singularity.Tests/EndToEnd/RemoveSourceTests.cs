using System.Diagnostics;
using System.Runtime.Versioning;
using Singularity.Engine;
using Singularity.Engine.Protocol;
using Singularity.Engine.Storage;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// With <see cref="TransferOptions.RemoveSourceFiles"/>, as with rsync --remove-source-files, a send moves: what the
/// receiver holds, byte for byte, is removed here, unless it changed after it was read; directories stay.
/// </summary>
[UnsupportedOSPlatform("windows")]
public sealed class RemoveSourceTests
{
    private static readonly TransferOptions Move = new() { ShardSize = 64 << 10, SkipUnchanged = true, RemoveSourceFiles = true };

    /// <summary>Files sent and files found in place are both removed, as are links; directories stay, empty.</summary>
    [Fact]
    public async Task Moved_files_and_links_arrive_and_only_directories_stay_here()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        TestFiles.Create(Path.Combine(tree, "a.bin"), 300_000, seed: 1);
        TestFiles.Create(Path.Combine(tree, "sub", "b.bin"), 50_000, seed: 2);
        TestFiles.Create(Path.Combine(tree, "sub", "deep", "c.txt"), 1_000, seed: 3);
        TestFiles.Create(Path.Combine(tree, "zero"), 0);
        File.CreateSymbolicLink(Path.Combine(tree, "ln"), "a.bin");
        Directory.CreateDirectory(Path.Combine(tree, "void"));
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);
        // The receiver holds the tree already; then one file changes here, and only it travels.
        await SingularitySender.SendAsync([tree], receiver.Url, Move with { RemoveSourceFiles = false });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.Create(Path.Combine(tree, "sub", "b.bin"), 70_000, seed: 4);
        string reference = CopyOf(tree, temp.Path);

        var result = await SingularitySender.SendAsync([tree], receiver.Url, Move);

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((1, 3), (result.FilesTransferred, result.FilesUnchanged));
        Assert.Equal((5, 0), (result.SourcesRemoved, result.SourcesKept.Count));
        TestFiles.AssertSameTree(reference, Path.Combine(destination, "tree"));
        Assert.Equal(["sub", "sub/deep", "void"], Directory.EnumerateFileSystemEntries(tree, "*", SearchOption.AllDirectories).Select(path => Path.GetRelativePath(tree, path)).Order(StringComparer.Ordinal));
    }

    /// <summary>
    /// A file written to after the send read it (a log appended to, or rewritten in place) is kept, and named: the
    /// receiver holds what was read, not what is there now.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_file_written_to_after_it_was_read_is_kept(bool appended)
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Path, "app.log"), 1000);
        await using var receiver = new RawReceiver();
        var send = SingularitySender.SendAsync([source], receiver.Url, new TransferOptions { Cipher = CipherSuite.None, Lanes = 1, RemoveSourceFiles = true });
        await receiver.AcceptAsync();
        await receiver.ReadUntilAsync(ControlMessageType.ManifestChunk);
        await receiver.SendAsync(ControlMessageType.ManifestAccepted, RawReceiver.Fields(1));
        Assert.NotNull(await receiver.ReadUntilAsync(ControlMessageType.FilesSealed));
        // Read and sealed: now it changes, before the receiver commits it.
        if (appended)
        {
            await File.AppendAllTextAsync(source, "one more line\n");
        }
        else
        {
            await File.WriteAllBytesAsync(source, new byte[1000]);
            File.SetLastWriteTimeUtc(source, File.GetLastWriteTimeUtc(source).AddSeconds(5));
        }
        await receiver.SendAsync(ControlMessageType.FilesCommitted, RawReceiver.Batch([0]));
        await receiver.EndSessionAsync(1, 1000);

        var result = await send;

        var kept = Assert.Single(result.SourcesKept);
        Assert.Equal((source, 0), (kept.Path, result.SourcesRemoved));
        Assert.Contains(appended ? "it changed after it was read (1014 bytes now, 1000 sent)" : "it was modified after it was read", kept.Reason);
        Assert.Equal(appended ? 1014 : 1000, new FileInfo(source).Length);
    }

    /// <summary>An entry the receiver could not write is left out, and so stays here; the rest move.</summary>
    [Fact]
    public async Task What_the_receiver_could_not_write_stays_here()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        string blocked = TestFiles.Create(Path.Combine(tree, "blocked"), 20_000, seed: 1);
        TestFiles.Create(Path.Combine(tree, "free"), 20_000, seed: 2);
        string destination = temp.Sub("dst");
        // A directory with something in it stands where the file would go: without --delete, it stays.
        TestFiles.Create(Path.Combine(destination, "tree", "blocked", "inside"), 10);
        string reference = CopyOf(tree, temp.Path);
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([tree], receiver.Url, Move);

        await receiver.NextResultAsync();
        Assert.Equal("tree/blocked", Assert.Single(result.NotSent).Path);
        Assert.Equal((1, 0), (result.SourcesRemoved, result.SourcesKept.Count));
        TestFiles.AssertSameBytes(Path.Combine(reference, "blocked"), blocked);
        TestFiles.AssertSameBytes(Path.Combine(reference, "free"), Path.Combine(destination, "tree", "free"));
        Assert.False(File.Exists(Path.Combine(tree, "free")));
    }

    /// <summary>
    /// A send whose files would land where they are read, in a running receiver's directory, is refused before
    /// anything is read: the copies would be the sources, and removing them would lose them. Sent by name, the
    /// directory that holds the source is where it lands; sent as contents, the directory itself; a link, where
    /// what it points to lies.
    /// </summary>
    [Theory]
    [InlineData("by name")]
    [InlineData("contents")]
    [InlineData("through a link")]
    [InlineData("relative")]
    [InlineData("into the URL's directory")]
    public async Task A_send_that_would_land_where_it_reads_is_refused(string how)
    {
        using var temp = new TempDirectory();
        string shared = temp.Sub("shared");
        string tree = Path.Combine(shared, "tree");
        TestFiles.Create(Path.Combine(tree, "f"), 50_000, seed: 1);
        string reference = CopyOf(tree, temp.Path);
        string receiving = how == "contents" ? tree : shared;
        string sent = how switch
        {
            "by name" => tree,
            "contents" => tree + "/",
            // Kept as tree/f below the directory before "/./".
            "relative" => shared + "/./tree",
            // Contents sent into shared/tree by the URL's path, to a receiver in shared.
            "into the URL's directory" => tree + "/",
            _ => Link(Path.Combine(temp.Sub("elsewhere"), "tree"), tree),
        };
        await using var receiver = new LoopbackReceiver(receiving);

        var url = how == "into the URL's directory" ? receiver.Url with { Directory = "tree" } : receiver.Url;
        var error = await Assert.ThrowsAsync<SingularityException>(() => SingularitySender.SendAsync([sent], url, Move with { Relative = how == "relative" }));

        Assert.Equal(ErrorCode.BadPath, error.Code);
        Assert.StartsWith($"'{receiving}' is locked as a receiver locks its destination (a running sglty recv, or this copy's own)", error.Message);
        TestFiles.AssertSameTree(reference, tree);
    }

    /// <summary>
    /// One file sent to a URL path that names it (no trailing '/'): at its own name in the receiver's directory or
    /// below, it would land on itself, and is refused before anything is read, the source kept; at another name it moves.
    /// </summary>
    [Theory]
    [InlineData("f", true)]
    [InlineData("below/f", true)]
    [InlineData("g", false)]
    [InlineData("below/g", false)]
    public async Task One_file_named_by_the_url_is_refused_where_it_would_land_on_itself(string path, bool refused)
    {
        using var temp = new TempDirectory();
        string shared = temp.Sub("shared");
        string receiving = path.Contains('/') ? temp.Path : shared;
        if (path.Contains('/')) path = "shared/" + path[(path.IndexOf('/') + 1)..];
        string source = TestFiles.Create(Path.Combine(shared, "f"), 50_000, seed: 1);
        string reference = TestFiles.Create(Path.Combine(temp.Sub("reference"), "f"), 50_000, seed: 1);
        await using var receiver = new LoopbackReceiver(receiving);
        var url = receiver.Url with { Directory = path, NamesDirectory = false };

        if (refused)
        {
            var error = await Assert.ThrowsAsync<SingularityException>(() => SingularitySender.SendAsync([source], url, Move));
            Assert.Equal(ErrorCode.BadPath, error.Code);
            TestFiles.AssertSameBytes(reference, source);
            return;
        }
        var result = await SingularitySender.SendAsync([source], url, Move);
        var received = await receiver.NextResultAsync();
        Assert.True(received.Succeeded, received.Error?.Message);
        Assert.Equal(1, result.SourcesRemoved);
        Assert.False(File.Exists(source));
        TestFiles.AssertSameBytes(reference, Path.Combine(shared, "g"));
    }

    /// <summary>
    /// A receiver in a directory above, where the files land elsewhere than where they are read, is no obstacle: the
    /// files move there; so do they into another directory below it that the URL names.
    /// </summary>
    [Theory]
    [InlineData(null)]
    [InlineData("moved/here")]
    public async Task Contents_move_up_into_a_receiver_above_them(string? directory)
    {
        using var temp = new TempDirectory();
        string shared = temp.Sub("shared");
        string tree = Path.Combine(shared, "tree");
        TestFiles.Create(Path.Combine(tree, "f"), 50_000, seed: 1);
        string reference = CopyOf(tree, temp.Path);
        await using var receiver = new LoopbackReceiver(shared);

        var result = await SingularitySender.SendAsync([tree + "/"], receiver.Url with { Directory = directory }, Move);

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(1, result.SourcesRemoved);
        TestFiles.AssertSameBytes(Path.Combine(reference, "f"), Path.Combine(shared, directory ?? "", "f"));
        Assert.Empty(Directory.EnumerateFileSystemEntries(tree));
    }

    /// <summary>A send cut part way and retried removes, at its end, the files each attempt committed.</summary>
    [Fact]
    public async Task A_retried_send_removes_what_every_attempt_committed()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        for (int i = 0; i < 40; i++) TestFiles.Create(Path.Combine(tree, $"f{i:00}.bin"), 200_000, seed: i);
        string reference = CopyOf(tree, temp.Path);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);
        await using var relay = new TcpRelay(receiver.Url);
        relay.CutAllOnce((connection, forwarded) => connection == 1 && forwarded > (3 << 20));

        var result = await SingularitySender.SendAsync([tree], relay.Url, Move with { Lanes = 1, MaxInFlightBytes = 1 << 20, Retries = 2 });

        Assert.Equal((1, 40, 0), (result.Retries, result.SourcesRemoved, result.SourcesKept.Count));
        TestFiles.AssertSameTree(reference, Path.Combine(destination, "tree"));
        Assert.Empty(Directory.EnumerateFileSystemEntries(tree));
    }

    /// <summary>Every name of a hard-linked file is removed once the receiver holds them all.</summary>
    [Fact]
    public async Task Every_name_of_a_hard_linked_file_is_removed()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        string x = TestFiles.Create(Path.Combine(tree, "a", "x"), 100_000, seed: 1);
        SpecialFiles.Link(x, Path.Combine(tree, "y"));
        string reference = CopyOf(tree, temp.Path);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([tree], receiver.Url, Move with { HardLinks = true });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((1, 2), (result.HardLinks, result.SourcesRemoved));
        TestFiles.AssertSameTree(reference, Path.Combine(destination, "tree"));
        Assert.Equal(2u, SpecialFiles.IdentityOf(Path.Combine(destination, "tree", "y"))?.Names);
        Assert.Equal(["a"], Directory.EnumerateFileSystemEntries(tree, "*", SearchOption.AllDirectories).Select(path => Path.GetRelativePath(tree, path)));
    }

    /// <summary>A dry run removes nothing; a link named as the source is followed to send its file, and kept, as is the file.</summary>
    [Fact]
    public async Task A_dry_run_and_a_link_named_as_the_source_keep_their_sources()
    {
        using var temp = new TempDirectory();
        string file = TestFiles.Create(Path.Combine(temp.Path, "src", "data.bin"), 30_000, seed: 1);
        string link = Link(Path.Combine(temp.Path, "src", "latest"), file);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);

        var dry = await SingularitySender.SendAsync([file], receiver.Url, Move with { DryRun = true });
        await receiver.NextResultAsync();
        var linked = await SingularitySender.SendAsync([link], receiver.Url, Move);
        Assert.True((await receiver.NextResultAsync()).Succeeded);

        Assert.Equal((0, 0), (dry.SourcesRemoved, dry.SourcesKept.Count));
        Assert.False(File.Exists(Path.Combine(destination, "data.bin")));
        var kept = Assert.Single(linked.SourcesKept);
        Assert.Equal((link, 0), (kept.Path, linked.SourcesRemoved));
        Assert.Equal("it is a link, followed to send its file; neither is removed", kept.Reason);
        TestFiles.AssertSameBytes(Path.Combine(destination, "latest"), file);
        Assert.Equal(file, Path.GetFullPath(new FileInfo(link).LinkTarget!, Path.GetDirectoryName(link)!));
        TestFiles.AssertSameBytes(file, Path.Combine(destination, "latest"));
    }

    private static string Link(string path, string target)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.CreateSymbolicLink(path, target);
        return path;
    }

    /// <summary>A copy of <paramref name="tree"/> beside the test's other files, kept to compare with once the sources are gone.</summary>
    private static string CopyOf(string tree, string under)
    {
        string copy = Path.Combine(under, "reference-" + Path.GetFileName(tree));
        using var cp = Process.Start(new ProcessStartInfo("cp", ["-a", tree, copy]))!;
        cp.WaitForExit();
        Assert.Equal(0, cp.ExitCode);
        return copy;
    }
}
