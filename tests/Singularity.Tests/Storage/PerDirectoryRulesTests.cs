using Singularity.Engine;
using Singularity.Engine.Protocol;
using Singularity.Engine.Storage;
using Singularity.Tests.Support;

namespace Singularity.Tests.Storage;

/// <summary>
/// The rules of per-directory merge files (a dir-merge rule) as each side reads them: the deepest directory's first,
/// in the dir-merge rule's place, for the sender as it walks and for a receiver in any order of directories, within
/// the bounds a receiver holds them to.
/// </summary>
public sealed class PerDirectoryRulesTests
{
    /// <summary>A receiver cleans directories in no set order: one entered before those above it still reads theirs, and drops those of others.</summary>
    [Fact]
    public void A_receiver_reads_the_directories_above_one_it_enters_first()
    {
        using var temp = new TempDirectory();
        Directory.CreateDirectory(Path.Combine(temp.Path, "a", "b", "c"));
        Directory.CreateDirectory(Path.Combine(temp.Path, "z"));
        File.WriteAllText(Path.Combine(temp.Path, ".rules"), "- *.top\n");
        File.WriteAllText(Path.Combine(temp.Path, "a", ".rules"), "- *.a\n+ keep.top\n");
        File.WriteAllText(Path.Combine(temp.Path, "a", "b", "c", ".rules"), "- /here\n");
        var patterns = ExcludeMessage.Decode(ExcludeMessage.Encode(ExcludePatterns.Parse([": .rules"], receiving: true)!), dirMerge: true);

        patterns.EnterDirectory("a/b/c", Path.Combine(temp.Path, "a", "b", "c"));
        Assert.True(patterns.Excludes("a/b/c/x.top", isDirectory: false));
        Assert.True(patterns.Excludes("a/b/c/x.a", isDirectory: false));
        Assert.False(patterns.Excludes("a/b/c/keep.top", isDirectory: false));
        Assert.True(patterns.Excludes("a/b/c/here", isDirectory: false));
        // Anchored at its directory: not deeper, and not beside it.
        Assert.False(patterns.Excludes("a/b/c/d/here", isDirectory: false));
        Assert.False(patterns.Excludes("a/b/here", isDirectory: false));

        patterns.EnterDirectory("z", Path.Combine(temp.Path, "z"));
        Assert.True(patterns.Excludes("z/keep.top", isDirectory: false));
        Assert.False(patterns.Excludes("z/x.a", isDirectory: false));
    }

    /// <summary>Where the send holds a directory, not its contents, the receiver reads no file of its own directory, as the sender reads none above it.</summary>
    [Fact]
    public void A_receiver_reads_its_own_directory_only_where_told()
    {
        using var temp = new TempDirectory();
        Directory.CreateDirectory(Path.Combine(temp.Path, "tree"));
        File.WriteAllText(Path.Combine(temp.Path, ".rules"), "- *.o\n");
        var patterns = ExcludePatterns.Parse([": .rules"], receiving: true)!;

        patterns.ReadsRoot = false;
        patterns.EnterDirectory("tree", Path.Combine(temp.Path, "tree"));
        Assert.False(patterns.Excludes("tree/x.o", isDirectory: false));
        patterns.ReadsRoot = true;
        patterns.EnterDirectory("", temp.Path);
        patterns.EnterDirectory("tree", Path.Combine(temp.Path, "tree"));
        Assert.True(patterns.Excludes("tree/x.o", isDirectory: false));
    }

    /// <summary>Protect and risk rules are the receiver's, hide and show the sender's; with --delete-excluded a receiver keeps its files' protect rules alone.</summary>
    [Theory]
    [InlineData(false, false, "p", false)]
    [InlineData(false, false, "h", true)]
    [InlineData(false, false, "x", true)]
    [InlineData(true, false, "p", true)]
    [InlineData(true, false, "h", false)]
    [InlineData(true, false, "x", true)]
    [InlineData(true, true, "p", true)]
    [InlineData(true, true, "x", false)]
    public void Each_side_takes_its_rules_of_a_file(bool receiving, bool deleteExcluded, string name, bool excluded)
    {
        using var temp = new TempDirectory();
        File.WriteAllText(Path.Combine(temp.Path, ".rules"), "P p\nH h\n- x\n");
        var patterns = ExcludePatterns.Parse(ExcludePatterns.ForSide([":e .rules"], sender: !receiving, deleteExcluded), receiving)!;

        patterns.EnterDirectory("", temp.Path);
        Assert.Equal(excluded, patterns.Excludes(name, isDirectory: false));
        // 'e' keeps the files themselves out (at a receiver, from the deletion), but where the receiver deletes what is excluded.
        Assert.Equal(!deleteExcluded, patterns.Excludes(".rules", isDirectory: false));
    }

    /// <summary>A file larger than a merge file may be, or files on the way that hold more than a side keeps, end the walk with a line that says so.</summary>
    [Fact]
    public void Merge_files_beyond_the_bounds_are_refused()
    {
        using var temp = new TempDirectory();
        File.WriteAllText(Path.Combine(temp.Path, ".rules"), new string('#', ExcludePatterns.LongestRulesFile + 1));
        var patterns = ExcludePatterns.Parse([": .rules"], receiving: true)!;
        var tooLong = Assert.Throws<SingularityException>(() => patterns.EnterDirectory("", temp.Path));
        Assert.Equal(ErrorCode.LimitExceeded, tooLong.Code);
        Assert.Contains("more than the 256 KiB of rules a per-directory merge file may hold", tooLong.Message);

        // Files just within the bound, one a directory, held together on the way down.
        string directory = temp.Path, relative = "";
        string content = "# " + new string('x', ExcludePatterns.LongestRulesFile - 10) + "\n";
        var deep = ExcludePatterns.Parse([": .more"], receiving: true)!;
        var refused = Assert.Throws<SingularityException>(() =>
        {
            for (int i = 0; i < ExcludePatterns.MostHeldBytes / content.Length + 2; i++)
            {
                directory = Path.Combine(directory, "d");
                relative = relative.Length == 0 ? "d" : relative + "/d";
                Directory.CreateDirectory(directory);
                File.WriteAllText(Path.Combine(directory, ".more"), content);
                deep.EnterDirectory(relative, directory);
            }
        });
        Assert.Equal(ErrorCode.LimitExceeded, refused.Code);
        Assert.Contains("hold more than 2 MiB together", refused.Message);
    }

    /// <summary>
    /// A pattern that starts with ':' from a sender that announced no dir-merge rules (OpenSession more flags bit 16)
    /// is an exclude, as a sender of an earlier release meant it; with the bit, a dir-merge rule.
    /// </summary>
    [Fact]
    public void A_colon_is_a_dir_merge_rule_only_where_announced()
    {
        byte[] body = ExcludeMessage.Encode(ExcludePatterns.Parse([": x", ":e"], receiving: true, dirMerge: false)!);

        var unannounced = ExcludeMessage.Decode(body, dirMerge: false);
        Assert.False(unannounced.ReadsPerDirectory);
        Assert.True(unannounced.Excludes("a/: x", isDirectory: false));
        Assert.True(unannounced.Excludes(":e", isDirectory: false));
        var refused = Assert.Throws<ProtocolViolationException>(() => ExcludeMessage.Decode(body, dirMerge: true));
        Assert.Contains("the dir-merge rule ':e' is not", refused.Message);
        Assert.True(ExcludeMessage.Decode(ExcludeMessage.Encode(ExcludePatterns.Parse([": x"], receiving: true)!), dirMerge: true).ReadsPerDirectory);
        // Modifiers the command line refuses are refused from the wire too: given twice, or - with +.
        Assert.Throws<ArgumentException>(() => ExcludePatterns.Parse([":ee x"], receiving: true));
        Assert.Throws<ArgumentException>(() => ExcludePatterns.Parse([":-+ x"], receiving: true));
    }

    /// <summary>
    /// Many short rules are bounded by their count, not their bytes; and a receiver counts reading and matching them
    /// against its allowance, so a sender cannot make it read them again and again without end.
    /// </summary>
    [Fact]
    public void Rules_are_bounded_by_count_and_by_the_receivers_allowance()
    {
        using var temp = new TempDirectory();
        File.WriteAllText(Path.Combine(temp.Path, ".rules"), string.Concat(Enumerable.Repeat("- a\n", ExcludePatterns.MostHeldRules + 1)));
        var many = ExcludePatterns.Parse([": .rules"], receiving: true)!;
        var counted = Assert.Throws<SingularityException>(() => many.EnterDirectory("", temp.Path));
        Assert.Contains("more than 10,000 rules together", counted.Message);

        File.WriteAllText(Path.Combine(temp.Path, ".rules"), "- a\n");
        Directory.CreateDirectory(Path.Combine(temp.Path, "b"));
        var patterns = ExcludePatterns.Parse([": .rules"], receiving: true)!;
        patterns.LimitWork(allowance: 10_000, perEntry: 0);
        var charged = Assert.Throws<SingularityException>(() =>
        {
            // In and out of one directory: each time its files and the root's are read again.
            for (int i = 0; i < 10; i++)
            {
                patterns.ForgetDirectories();
                patterns.EnterDirectory("b", Path.Combine(temp.Path, "b"));
            }
        });
        Assert.Equal(ErrorCode.LimitExceeded, charged.Code);
        Assert.Contains("reading and matching the per-directory merge files costs more than this receiver allows", charged.Message);
    }

    /// <summary>Where no dir-merge rule is given, entering a directory reads nothing.</summary>
    [Fact]
    public void Patterns_without_a_dir_merge_rule_read_no_file()
    {
        using var temp = new TempDirectory();
        File.WriteAllText(Path.Combine(temp.Path, ".rules"), "- *\n");
        var patterns = ExcludePatterns.Parse(["- *.o"])!;
        patterns.EnterDirectory("", temp.Path);
        Assert.False(patterns.ReadsPerDirectory);
        Assert.False(patterns.Excludes("x", isDirectory: false));
    }
}
