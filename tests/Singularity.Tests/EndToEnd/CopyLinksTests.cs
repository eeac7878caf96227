using Singularity.Engine;
using Singularity.Engine.Protocol;
using Singularity.Engine.Storage;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// With <see cref="TransferOptions.CopyLinks"/> (rsync -L), a link inside a tree arrives as what it points to: a file
/// with its contents, mode and time, a directory with what it holds; a link to nothing, or back to a directory the
/// walk is in, is named and left out, and the rest arrives.
/// </summary>
public sealed class CopyLinksTests
{
    private static readonly TransferOptions Quick = new() { ShardSize = 4096, SkipUnchanged = true };

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Links_arrive_as_what_they_point_to()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree"), outside = temp.Sub("outside");
        TestFiles.Create(Path.Combine(tree, "a"), 10_000, seed: 1);
        string target = TestFiles.Create(Path.Combine(outside, "file"), 50_000, seed: 2);
        File.SetUnixFileMode(target, (UnixFileMode)0b110_100_000);
        File.SetLastWriteTimeUtc(target, new DateTime(2020, 1, 2, 3, 4, 5, DateTimeKind.Utc));
        TestFiles.Create(Path.Combine(outside, "dir", "x"), 3_000, seed: 3);
        TestFiles.Create(Path.Combine(outside, "dir", "y", "z"), 7_000, seed: 4);
        File.CreateSymbolicLink(Path.Combine(tree, "lf"), target);
        Directory.CreateSymbolicLink(Path.Combine(tree, "ld"), Path.Combine(outside, "dir"));
        File.CreateSymbolicLink(Path.Combine(tree, "chain"), "lf");
        File.CreateSymbolicLink(Path.Combine(tree, "dangling"), "nowhere");
        Directory.CreateDirectory(Path.Combine(tree, "sub"));
        Directory.CreateSymbolicLink(Path.Combine(tree, "sub", "up"), "..");
        string destination = temp.Sub("dst"), received = Path.Combine(destination, "tree");
        await using var receiver = new LoopbackReceiver(destination);

        // By default, links travel as links.
        await SingularitySender.SendAsync([tree], receiver.Url, Quick);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(target, new FileInfo(Path.Combine(received, "lf")).LinkTarget);

        var copied = await SingularitySender.SendAsync([tree], receiver.Url, Quick with { CopyLinks = true, DeleteExtraneous = true });
        Assert.True((await receiver.NextResultAsync()).Succeeded);

        Assert.Equal(["tree/dangling", "tree/sub/up"], copied.NotSent.Select(entry => entry.Path).Order(StringComparer.Ordinal));
        Assert.Contains("does not exist", copied.NotSent.Single(entry => entry.Path == "tree/dangling").Reason);
        Assert.Contains("a directory it is in", copied.NotSent.Single(entry => entry.Path == "tree/sub/up").Reason);
        Assert.True(copied.DeletionSkipped, "a send that left something out deleted");
        foreach (string name in new[] { "lf", "chain" })
        {
            var file = new FileInfo(Path.Combine(received, name));
            Assert.Null(file.LinkTarget);
            TestFiles.AssertSameBytes(target, file.FullName);
            Assert.Equal(new DateTime(2020, 1, 2, 3, 4, 5, DateTimeKind.Utc), file.LastWriteTimeUtc);
            Assert.Equal((UnixFileMode)0b110_100_000, file.UnixFileMode);
        }
        Assert.Null(new DirectoryInfo(Path.Combine(received, "ld")).LinkTarget);
        TestFiles.AssertSameTree(Path.Combine(outside, "dir"), Path.Combine(received, "ld"));
        TestFiles.AssertSameBytes(Path.Combine(tree, "a"), Path.Combine(received, "a"));
        // What the first send left stays where the second could not send: the dangling link as a link.
        Assert.Equal("nowhere", new FileInfo(Path.Combine(received, "dangling")).LinkTarget);
    }

    /// <summary>Patterns see a followed link as what it points to, as rsync -L's do: a directory pattern matches a link to a directory.</summary>
    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void Patterns_and_listed_paths_see_links_as_what_they_point_to()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree"), outside = temp.Sub("outside");
        TestFiles.Create(Path.Combine(outside, "dir", "x"), 10);
        TestFiles.Create(Path.Combine(outside, "file"), 10);
        Directory.CreateSymbolicLink(Path.Combine(tree, "ld"), Path.Combine(outside, "dir"));
        File.CreateSymbolicLink(Path.Combine(tree, "lf"), Path.Combine(outside, "file"));

        var excluded = SourceScanner.Scan([tree], null, [], ExcludePatterns.Parse(["ld/"]), new() { CopyLinks = true });
        Assert.Equal(["tree", "tree/lf"], excluded.Select(entry => entry.Entry.Path));
        Assert.Equal(Path.Combine(outside, "file"), excluded[1].SourcePath);

        string source = temp.Sub("src");
        var listed = SourceScanner.Scan([$"{source}/./tree/ld", $"{source}/./tree/lf"], null, [], rules: new() { Relative = true, CopyLinks = true });
        Assert.Equal(["tree", "tree/ld", "tree/ld/x", "tree/lf"], listed.Select(entry => entry.Entry.Path));
        Assert.Equal([EntryKind.Directory, EntryKind.Directory, EntryKind.File, EntryKind.File], listed.Select(entry => entry.Entry.Kind));
        Assert.Equal(Path.Combine(outside, "dir", "x"), listed[2].SourcePath);
    }

    [Fact]
    public async Task The_command_takes_L_and_refuses_it_with_remove_source_files()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        string target = TestFiles.Create(Path.Combine(temp.Sub("outside"), "file"), 1000);
        File.CreateSymbolicLink(Path.Combine(tree, "lf"), target);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);

        var (exit, _, error) = await SgltyProcess.RunAsync("send", tree, "--to", receiver.Url.ToString(), "-L");
        Assert.True(exit == 0, error);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Null(new FileInfo(Path.Combine(destination, "tree", "lf")).LinkTarget);
        TestFiles.AssertSameBytes(target, Path.Combine(destination, "tree", "lf"));

        var (refused, _, why) = await SgltyProcess.RunAsync("send", tree, "--to", receiver.Url.ToString(), "--copy-links", "--remove-source-files");
        Assert.NotEqual(0, refused);
        Assert.Contains("--copy-links sends what links point to, which --remove-source-files would then remove", why);
        Assert.True(File.Exists(target));
    }
}
