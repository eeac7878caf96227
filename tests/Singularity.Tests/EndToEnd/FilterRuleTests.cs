using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// `sglty send --filter` (rsync's filter rules): excludes and includes, hide and show (the sender's alone), protect
/// and risk (the receiver's deletion's alone), clear, and merge files; each send's destination ends exactly as
/// rsync's does with the same rules.
/// </summary>
public sealed class FilterRuleTests
{
    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Filter_rules_leave_the_destination_as_rsyncs_do(bool deleteExcluded)
    {
        Skip.IfNot(Commands.RsyncAtLeast(3, 0), "rsync 3 is not installed");
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), destination = temp.Sub("dst"), copy = Path.Combine(temp.Path, "copy");
        foreach (string name in new[] { "a.txt", "b.tmp", "secret", "keep/x", "logs/app.log", "logs/old.gz", "logs/deep/c.gz", "risky/r", "shown.tmp" })
            TestFiles.Create(Path.Combine(source, name), 1_000 + name.Length, seed: name.Length);
        foreach (string name in new[] { "stale.txt", "b.tmp", "secret", "kept/y", "kept/z.tmp", "risky/old", "logs/was.gz" })
            TestFiles.Create(Path.Combine(destination, name), 10, seed: 3);
        Assert.True(Commands.Run("cp", "-a", destination, copy));
        string merged = Path.Combine(temp.Path, "rules");
        // Lines ended by \n, or by \r alone, as a file from another system may be: rsync reads both.
        string[] ruleLines = ["# logs: only the current ones", "- *.gz", "", "; and what the receiver must keep", "protect kept/", "R risky/old"];
        File.WriteAllText(merged, string.Join(deleteExcluded ? "\r" : "\n", ruleLines) + "\n");
        string[] rules = ["-f", "S shown.tmp", "-f", "- *.tmp", "-f", "H secret", "-f", $". {merged}", "-f", "P risky/"];
        string[] deleting = deleteExcluded ? ["--delete", "--delete-excluded"] : ["--delete"];
        await using var receiver = new LoopbackReceiver(destination);

        Assert.True(Commands.Run("rsync", ["-rlpt", .. deleting, .. rules, source + "/", copy + "/"]));
        var (exit, _, error) = await SgltyProcess.RunAsync(["send", source + "/", "--to", receiver.Url.ToString(), .. deleting, .. rules]);
        Assert.True(exit == 0, error);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameTree(copy, destination);
        // What the rules say, checked as well: hidden at the sender, so deleted at the receiver; protected, kept.
        Assert.False(File.Exists(Path.Combine(destination, "secret")));
        Assert.True(File.Exists(Path.Combine(destination, "kept", "y")));
        Assert.True(File.Exists(Path.Combine(destination, "shown.tmp")));
        Assert.Equal(!deleteExcluded, File.Exists(Path.Combine(destination, "b.tmp")));
    }

    /// <summary>
    /// A name --delete-missing-args would delete is kept where the receiver's rules keep it (a protect rule, an
    /// exclude), not where the sender's alone (hide) leave it out, as rsync's receiver decides.
    /// </summary>
    [SkippableTheory]
    [InlineData("P gone")]
    [InlineData("H gone")]
    [InlineData("- gone")]
    public async Task Missing_names_are_deleted_as_the_receivers_rules_say(string rule)
    {
        Skip.IfNot(Commands.RsyncAtLeast(3, 0), "rsync 3 is not installed");
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), destination = temp.Sub("dst"), copy = Path.Combine(temp.Path, "copy");
        TestFiles.Create(Path.Combine(source, "keep"), 100, seed: 1);
        TestFiles.Create(Path.Combine(destination, "gone"), 10, seed: 2);
        TestFiles.Create(Path.Combine(destination, "other"), 10, seed: 3);
        Assert.True(Commands.Run("cp", "-a", destination, copy));
        await using var receiver = new LoopbackReceiver(destination);

        Assert.True(Commands.Run("rsync", "-rlpt", "-R", "--delete-missing-args", "-f", rule, $"{source}/./gone", $"{source}/./keep", copy + "/"));
        var (exit, _, error) = await SgltyProcess.RunAsync("send", "-R", "--delete-missing-args", "-f", rule, $"{source}/./gone", $"{source}/./keep", "--to", receiver.Url.ToString());
        Assert.True(exit == 0, error);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameTree(copy, destination);
        Assert.Equal(rule != "H gone", File.Exists(Path.Combine(destination, "gone")));
    }

    /// <summary>A bad line of a merge file is named with the file it is in.</summary>
    [Fact]
    public async Task A_bad_merge_file_line_names_its_file()
    {
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), rules = Path.Combine(temp.Path, "rules");
        TestFiles.Create(Path.Combine(source, "f"), 10);
        File.WriteAllLines(rules, ["- *.tmp", "a.o"]);
        await using var receiver = new LoopbackReceiver(temp.Sub("dst"));

        var (exit, _, error) = await SgltyProcess.RunAsync("send", source, "--to", receiver.Url.ToString(), "-f", $". {rules}");
        Assert.NotEqual(0, exit);
        Assert.Contains($"--filter 'a.o' is not a filter rule", error);
        Assert.Contains($"(in the merge file '{rules}')", error);
    }

    /// <summary>What sglty does not offer of rsync's rules (a dir-merge rule's too) is refused with one line naming it, before anything moves.</summary>
    [Theory]
    [InlineData(":C", "the dir-merge modifier 'C' is not offered")]
    [InlineData(":w .rules", "the dir-merge modifier 'w' is not offered")]
    [InlineData("dir-merge,s .rules", "the dir-merge modifier 's' is not offered")]
    [InlineData(":-+ .rules", "'-' or '+', not both")]
    [InlineData(": ../.rules", "a per-directory merge file is named by its name alone")]
    [InlineData(": a/.rules", "a per-directory merge file is named by its name alone")]
    [InlineData(":e", "names no file")]
    [InlineData("-/ /tmp", "rule modifiers ('/') are not offered")]
    [InlineData("exclude,s x", "rule modifiers ('s') are not offered")]
    [InlineData("bogus", "is not a filter rule")]
    [InlineData("-", "names no pattern")]
    [InlineData(". /nonexistent/rules", "/nonexistent/rules")]
    [InlineData("-,s a.o", "rule modifiers ('s') are not offered")]
    [InlineData("exclude, a.o", "rule modifiers ('') are not offered")]
    [InlineData("! x", "a clear rule takes nothing after it")]
    public async Task Rules_not_offered_are_named(string rule, string why)
    {
        using var temp = new TempDirectory();
        string source = temp.Sub("src");
        TestFiles.Create(Path.Combine(source, "f"), 10);
        await using var receiver = new LoopbackReceiver(temp.Sub("dst"));

        var (exit, output, error) = await SgltyProcess.RunAsync("send", source, "--to", receiver.Url.ToString(), "--filter", rule);
        Assert.NotEqual(0, exit);
        Assert.Empty(output);
        Assert.Contains(why, error);
        Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}
