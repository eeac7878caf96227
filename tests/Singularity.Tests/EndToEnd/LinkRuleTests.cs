using Singularity.Engine;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// The rules for links that point outside the tree, and links to directories, as rsync's of the same names:
/// --safe-links leaves them out (and a deleting receiver keeps what stands at their names), --copy-unsafe-links sends
/// what they point to, -k sends links to directories as directories. "Outside" is judged from the link's place below
/// the destination.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class LinkRuleTests
{
    private static readonly TransferOptions Quick = new() { ShardSize = 4096, SkipUnchanged = true };

    /// <summary>A tree with links within it and links out of it; the file outside is <c>outside/o.txt</c>.</summary>
    private static string Tree(TempDirectory temp)
    {
        string tree = temp.Sub("src/tree"), outside = temp.Sub("src/outside");
        TestFiles.Create(Path.Combine(tree, "in.txt"), 20_000, seed: 1);
        TestFiles.Create(Path.Combine(tree, "sub", "deep", "x"), 5_000, seed: 2);
        TestFiles.Create(Path.Combine(outside, "o.txt"), 30_000, seed: 3);
        TestFiles.Create(Path.Combine(outside, "d", "y"), 7_000, seed: 4);
        File.CreateSymbolicLink(Path.Combine(tree, "safe"), "in.txt");
        File.CreateSymbolicLink(Path.Combine(tree, "sub", "safe2"), "../in.txt");
        File.CreateSymbolicLink(Path.Combine(tree, "sub", "deep", "ok3"), "../../in.txt");
        Directory.CreateSymbolicLink(Path.Combine(tree, "dirlink"), "sub");
        File.CreateSymbolicLink(Path.Combine(tree, "abs"), Path.Combine(outside, "o.txt"));
        File.CreateSymbolicLink(Path.Combine(tree, "up"), "../outside/o.txt");
        File.CreateSymbolicLink(Path.Combine(tree, "sub", "up2"), "../../outside/o.txt");
        Directory.CreateSymbolicLink(Path.Combine(tree, "dirup"), "../outside/d");
        File.CreateSymbolicLink(Path.Combine(tree, "tricky"), "nothing/../../x");
        return tree;
    }

    [Fact]
    public async Task Safe_links_leaves_out_links_out_of_the_tree_and_a_deletion_keeps_their_names()
    {
        using var temp = new TempDirectory();
        string tree = Tree(temp), destination = temp.Sub("dst");
        // What stands at the names of unsafe links stays, whatever it is; what the source does not have goes.
        string kept = TestFiles.Create(Path.Combine(destination, "up"), 1_000, seed: 9);
        TestFiles.Create(Path.Combine(destination, "dirup", "k"), 1_000, seed: 10);
        TestFiles.Create(Path.Combine(destination, "gone"), 1_000, seed: 11);
        byte[] keptBytes = File.ReadAllBytes(kept);
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([tree + "/"], receiver.Url, Quick with { SafeLinks = true, DeleteExtraneous = true });
        Assert.True((await receiver.NextResultAsync()).Succeeded);

        Assert.Equal(5, result.UnsafeLinksLeftOut);
        Assert.Empty(result.NotSent);
        Assert.Equal(1, result.EntriesDeleted);
        Assert.False(File.Exists(Path.Combine(destination, "gone")));
        Assert.Equal(keptBytes, File.ReadAllBytes(kept));
        Assert.True(File.Exists(Path.Combine(destination, "dirup", "k")));
        foreach (string name in new[] { "abs", "sub/up2", "tricky" })
            Assert.False(Path.Exists(Path.Combine(destination, name)), name);
        Assert.Equal("in.txt", new FileInfo(Path.Combine(destination, "safe")).LinkTarget);
        Assert.Equal("../in.txt", new FileInfo(Path.Combine(destination, "sub", "safe2")).LinkTarget);
        Assert.Equal("../../in.txt", new FileInfo(Path.Combine(destination, "sub", "deep", "ok3")).LinkTarget);
        Assert.Equal("sub", new FileInfo(Path.Combine(destination, "dirlink")).LinkTarget);
        TestFiles.AssertSameBytes(Path.Combine(tree, "in.txt"), Path.Combine(destination, "in.txt"));

        // Sent by its name, the tree is one level down at the destination: "../outside" no longer climbs above it.
        string named = temp.Sub("named");
        await using var second = new LoopbackReceiver(named);
        var byName = await SingularitySender.SendAsync([tree], second.Url, Quick with { SafeLinks = true });
        Assert.True((await second.NextResultAsync()).Succeeded);
        Assert.Equal(2, byName.UnsafeLinksLeftOut);
        Assert.Equal("../outside/o.txt", new FileInfo(Path.Combine(named, "tree", "up")).LinkTarget);
        Assert.Equal("../outside/d", new FileInfo(Path.Combine(named, "tree", "dirup")).LinkTarget);
        Assert.False(Path.Exists(Path.Combine(named, "tree", "abs")));
        Assert.False(Path.Exists(Path.Combine(named, "tree", "tricky")));
    }

    [Fact]
    public async Task Copy_unsafe_links_sends_what_links_out_of_the_tree_point_to()
    {
        using var temp = new TempDirectory();
        string tree = Tree(temp), outside = temp.Sub("src/outside"), destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([tree + "/"], receiver.Url, Quick with { CopyUnsafeLinks = true, SafeLinks = true });
        Assert.True((await receiver.NextResultAsync()).Succeeded);

        // The one that leads nowhere is named, as rsync names it (send exits 23).
        Assert.Equal("tricky", Assert.Single(result.NotSent).Path);
        Assert.Contains("does not exist", result.NotSent[0].Reason);
        Assert.Equal(0, result.UnsafeLinksLeftOut);
        // The files that arrived: the link left out is no file.
        Assert.Equal((6, 6, 0), (result.Files, result.FilesTransferred, result.FilesNotSent));
        foreach (string name in new[] { "abs", "up", "sub/up2" })
        {
            Assert.Null(new FileInfo(Path.Combine(destination, name)).LinkTarget);
            TestFiles.AssertSameBytes(Path.Combine(outside, "o.txt"), Path.Combine(destination, name));
        }
        Assert.Null(new DirectoryInfo(Path.Combine(destination, "dirup")).LinkTarget);
        TestFiles.AssertSameTree(Path.Combine(outside, "d"), Path.Combine(destination, "dirup"));
        // Links within the tree stay links, a link to a directory too.
        Assert.Equal("in.txt", new FileInfo(Path.Combine(destination, "safe")).LinkTarget);
        Assert.Equal("../../in.txt", new FileInfo(Path.Combine(destination, "sub", "deep", "ok3")).LinkTarget);
        Assert.Equal("sub", new FileInfo(Path.Combine(destination, "dirlink")).LinkTarget);
    }

    /// <summary>
    /// A link back up the tree, followed only because it points outside it, is copied once: inside the copy, one
    /// level down, the same link no longer climbs above the top and stays a link, as rsync judges it there. One
    /// that would climb out wherever it stands would never end, and is left out.
    /// </summary>
    [Fact]
    public async Task Copy_unsafe_links_follows_a_link_up_the_tree_once()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree"), destination = temp.Sub("dst");
        TestFiles.Create(Path.Combine(tree, "a"), 3_000, seed: 1);
        Directory.CreateSymbolicLink(Path.Combine(tree, "self"), "../tree");
        Directory.CreateSymbolicLink(Path.Combine(temp.Sub("src/tree/sub"), "me"), "../../tree/sub");
        Directory.CreateSymbolicLink(Path.Combine(tree, "abs"), tree);
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([tree + "/"], receiver.Url, Quick with { CopyUnsafeLinks = true });
        Assert.True((await receiver.NextResultAsync()).Succeeded);

        // An absolute link is unsafe wherever it stands: a loop, named (rsync follows it until the kernel says ELOOP).
        Assert.Equal(["abs", "self/abs"], result.NotSent.Select(entry => entry.Path).Order(StringComparer.Ordinal));
        Assert.All(result.NotSent, entry => Assert.True(entry.IsLink));
        Assert.Null(new DirectoryInfo(Path.Combine(destination, "self")).LinkTarget);
        TestFiles.AssertSameBytes(Path.Combine(tree, "a"), Path.Combine(destination, "self", "a"));
        Assert.Equal("../tree", new FileInfo(Path.Combine(destination, "self", "self")).LinkTarget);
        Assert.Null(new DirectoryInfo(Path.Combine(destination, "sub", "me")).LinkTarget);
        Assert.Equal("../../tree/sub", new FileInfo(Path.Combine(destination, "sub", "me", "me")).LinkTarget);
        Assert.Equal("../../tree/sub", new FileInfo(Path.Combine(destination, "self", "sub", "me")).LinkTarget);
    }

    [Fact]
    public async Task Copy_dirlinks_sends_links_to_directories_as_directories()
    {
        using var temp = new TempDirectory();
        string tree = Tree(temp), outside = temp.Sub("src/outside"), destination = temp.Sub("dst");
        // A link back up the walk would never end: named and left out.
        Directory.CreateSymbolicLink(Path.Combine(tree, "sub", "loop"), "..");
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([tree + "/"], receiver.Url, Quick with { CopyDirLinks = true });
        Assert.True((await receiver.NextResultAsync()).Succeeded);

        Assert.Equal(["dirlink/loop", "sub/loop"], result.NotSent.Select(entry => entry.Path).Order(StringComparer.Ordinal));
        Assert.Null(new DirectoryInfo(Path.Combine(destination, "dirlink")).LinkTarget);
        TestFiles.AssertSameBytes(Path.Combine(tree, "sub", "deep", "x"), Path.Combine(destination, "dirlink", "deep", "x"));
        Assert.Equal("../in.txt", new FileInfo(Path.Combine(destination, "dirlink", "safe2")).LinkTarget);
        Assert.Null(new DirectoryInfo(Path.Combine(destination, "dirup")).LinkTarget);
        TestFiles.AssertSameTree(Path.Combine(outside, "d"), Path.Combine(destination, "dirup"));
        // Links to files, and to nothing, stay links.
        Assert.Equal("../outside/o.txt", new FileInfo(Path.Combine(destination, "up")).LinkTarget);
        Assert.Equal("nothing/../../x", new FileInfo(Path.Combine(destination, "tricky")).LinkTarget);
        Assert.Equal("in.txt", new FileInfo(Path.Combine(destination, "safe")).LinkTarget);
    }

    [Fact]
    public async Task The_command_names_unsafe_links_with_v_and_refuses_following_with_remove_source_files()
    {
        using var temp = new TempDirectory();
        string tree = Tree(temp), destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);

        var (exit, output, error) = await SgltyProcess.RunAsync("send", tree + "/", "--to", receiver.Url.ToString(), "--safe-links", "-v", "--json");
        Assert.True(exit == 0, error);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Contains("ignoring unsafe link 'sub/up2' -> '../../outside/o.txt'", error);
        Assert.Contains("\"unsafe_links_left_out\":5", output);
        Assert.False(Path.Exists(Path.Combine(destination, "up")));

        foreach (string option in new[] { "-k", "--copy-unsafe-links" })
        {
            var (refused, _, why) = await SgltyProcess.RunAsync("send", tree, "--to", receiver.Url.ToString(), option, "--remove-source-files");
            Assert.NotEqual(0, refused);
            Assert.Contains("sends what links point to, which --remove-source-files would then remove", why);
        }
        Assert.True(File.Exists(Path.Combine(tree, "in.txt")));
    }
}
