using CsCheck;
using Singularity.Engine.Storage;
using Singularity.Tests.Support;

namespace Singularity.Tests.Storage;

/// <summary>Which links point outside the tree, as rsync's --safe-links and --copy-unsafe-links judge them (util1.c's unsafe_symlink).</summary>
public sealed class LinkSafetyTests
{
    // Each verdict is rsync 3.5.0's --safe-links.
    [Theory]
    [InlineData("/etc/hostname", "abs", true)]
    [InlineData("/tree/x", "tree/deep/link", true)]
    [InlineData("", "x", true)]
    [InlineData("in.txt", "safe", false)]
    [InlineData("../outside/o.txt", "up", true)]
    [InlineData("../outside/o.txt", "src/up", false)]
    [InlineData("../../in.txt", "sub/deep/ok", false)]
    [InlineData("../../../in.txt", "sub/deep/ok", true)]
    [InlineData("../../outside/o.txt", "sub/up", true)]
    [InlineData("..//..//x", "a/b/l", false)]
    [InlineData("..", "t/l", false)]
    [InlineData("./x", "a/l", false)]
    [InlineData("x/./y", "a/l", false)]
    // Climbing above the top on the way is enough, wherever the target ends.
    [InlineData("nothing/../../x", "tricky", true)]
    // '..' after another name, or at the end after a '/', whatever the depth.
    [InlineData("a/b/../../../x", "t/l", true)]
    [InlineData("./.././/x", "t/l", true)]
    [InlineData("x/../y", "a/b/l", true)]
    [InlineData("x/..", "a/b/l", true)]
    [InlineData("x/..", "l", true)]
    [InlineData("../..", "t/l", true)]
    [InlineData("../..", "a/b/c/l", true)]
    public void Links_that_climb_above_the_top_or_are_absolute_are_unsafe(string target, string path, bool unsafeLink) =>
        Assert.Equal(unsafeLink, LinkSafety.IsUnsafe(target, path));

    /// <summary>
    /// Random links at random depths: rsync --safe-links copies exactly those judged safe, where rsync 3.4 or later is
    /// installed (the benchmarks install it).
    /// </summary>
    [SkippableFact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void Random_links_are_judged_as_rsync_judges_them()
    {
        // rsync 3.4.0 (CVE-2024-12088) added the rules for '..' after another name and a trailing '/..'.
        var version = System.Text.RegularExpressions.Regex.Match(Commands.Output("rsync", "--version") ?? "", @"version (\d+)\.(\d+)");
        Skip.IfNot(version.Success, "rsync is not installed");
        Skip.If((int.Parse(version.Groups[1].Value), int.Parse(version.Groups[2].Value)).CompareTo((3, 4)) < 0, "rsync is older than 3.4, which judges links otherwise");
        using var temp = new TempDirectory();
        string tree = temp.Sub("tree"), copy = temp.Sub("copy");
        var name = Gen.OneOf("..", ".", "x", "y", "");
        var target = Gen.Select(Gen.Bool, name.Array[1, 6], (absolute, names) => (absolute ? "/" : "") + string.Join('/', names)).Where(text => text.Length > 0);
        var links = Gen.Select(Gen.OneOf("a", "b").Array[0, 4], target).Array[300].Single();
        var expected = new Dictionary<string, bool>();
        for (int i = 0; i < links.Length; i++)
        {
            string path = string.Join('/', [.. links[i].Item1, $"l{i}"]);
            Directory.CreateDirectory(Path.Combine(tree, Path.GetDirectoryName(path) ?? ""));
            File.CreateSymbolicLink(Path.Combine(tree, path), links[i].Item2);
            expected[path] = LinkSafety.IsUnsafe(links[i].Item2, path);
        }
        Assert.True(Commands.Run("rsync", "-rl", "--safe-links", tree + "/", copy));
        foreach (var (path, unsafeLink) in expected)
        {
            bool arrived = new FileInfo(Path.Combine(copy, path)).LinkTarget is not null;
            Assert.True(arrived != unsafeLink, $"'{path}' -> '{File.ResolveLinkTarget(Path.Combine(tree, path), false)?.ToString()}': rsync {(arrived ? "copies" : "leaves out")} it");
        }
        Assert.Contains(true, expected.Values);
        Assert.Contains(false, expected.Values);
    }
}
