using Singularity.Engine;
using Singularity.Engine.Storage;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>With <see cref="TransferOptions.PruneEmptyDirectories"/> (rsync -m), directories that hold nothing but directories do not arrive.</summary>
public sealed class PruneEmptyDirsTests
{
    [Fact]
    public async Task Only_directories_on_the_way_to_something_arrive()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        TestFiles.Create(Path.Combine(tree, "app", "a.log"), 1000, seed: 1);
        TestFiles.Create(Path.Combine(tree, "app", "a.txt"), 1000, seed: 2);
        TestFiles.Create(Path.Combine(tree, "deep", "er", "est", "b.log"), 2000, seed: 3);
        TestFiles.Create(Path.Combine(tree, "other", "c.txt"), 1000, seed: 4);
        Directory.CreateDirectory(Path.Combine(tree, "empty", "chain"));
        Directory.CreateDirectory(Path.Combine(tree, "deep", "er", "nothing"));
        File.CreateSymbolicLink(Path.Combine(temp.Sub("src/tree/linked"), "l"), "../app/a.log");
        string destination = temp.Sub("dst"), received = Path.Combine(destination, "tree");
        await using var receiver = new LoopbackReceiver(destination);
        var logs = new TransferOptions { SkipUnchanged = true, Exclude = ["+ */", "+ *.log", "- *"] };

        await SingularitySender.SendAsync([tree], receiver.Url, logs with { PruneEmptyDirectories = true });
        Assert.True((await receiver.NextResultAsync()).Succeeded);

        var arrived = Directory.GetFileSystemEntries(received, "*", SearchOption.AllDirectories).Select(path => Path.GetRelativePath(received, path)).Order(StringComparer.Ordinal);
        Assert.Equal(["app", "app/a.log", "deep", "deep/er", "deep/er/est", "deep/er/est/b.log"], arrived);
        TestFiles.AssertSameBytes(Path.Combine(tree, "deep", "er", "est", "b.log"), Path.Combine(received, "deep", "er", "est", "b.log"));

        // Without it, every directory arrives, and a link keeps its directory either way.
        await SingularitySender.SendAsync([tree], receiver.Url, logs with { Exclude = ["+ */", "+ *.log", "+ l", "- *"] });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.True(Directory.Exists(Path.Combine(received, "empty", "chain")) && Directory.Exists(Path.Combine(received, "other")));
        Assert.Equal("../app/a.log", new FileInfo(Path.Combine(received, "linked", "l")).LinkTarget);
    }

    /// <summary>With relative paths too: the directories on the way to an empty one, and one listed without -r, are pruned, as rsync -m prunes them.</summary>
    [Fact]
    public void Relative_paths_prune_their_empty_chains_too()
    {
        using var temp = new TempDirectory();
        string source = temp.Sub("src");
        Directory.CreateDirectory(Path.Combine(source, "a", "b", "c"));
        TestFiles.Create(Path.Combine(source, "x", "y", "f"), 10);
        Directory.CreateDirectory(Path.Combine(source, "p", "q"));

        var listed = SourceScanner.Scan([$"{source}/./a/b/c", $"{source}/./x/y"], null, [], rules: new() { Relative = true });
        Assert.Equal(["x", "x/y", "x/y/f"], SourceScanner.PruneEmptyDirectories(listed).Select(entry => entry.Entry.Path));

        var oneLevel = SourceScanner.Scan([$"{source}/./p/", $"{source}/./x/y/f"], null, [], rules: new() { Relative = true, Recursive = false });
        Assert.Equal(["x", "x/y", "x/y/f"], SourceScanner.PruneEmptyDirectories(oneLevel).Select(entry => entry.Entry.Path));
    }
}
