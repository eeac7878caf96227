using CsCheck;
using Singularity.Engine;
using Singularity.Engine.Protocol;
using Singularity.Engine.Storage;

namespace Singularity.Tests.Storage;

/// <summary>Exclude and include patterns match as rsync's --exclude and --include do, and the receiver refuses malformed ones from the wire.</summary>
public sealed class ExcludePatternsTests
{
    [Theory]
    // No '/': a name at any depth.
    [InlineData("*.tmp", "tree/a/x.tmp", false, true)]
    [InlineData("*.tmp", "x.tmp", false, true)]
    [InlineData("*.tmp", "tree/x.tmp/y", false, false)]
    [InlineData(".git", "tree/.git", true, true)]
    [InlineData(".git", "tree/.gitignore", false, false)]
    [InlineData("?.log", "a/b.log", false, true)]
    [InlineData("?.log", "a/bb.log", false, false)]
    // A '/' inside: the end of the path, from a '/'.
    [InlineData("logs/*.gz", "tree/b/logs/z.gz", false, true)]
    [InlineData("logs/*.gz", "tree/blogs/z.gz", false, false)]
    [InlineData("logs/*.gz", "tree/logs/deeper/z.gz", false, false)]
    [InlineData("b/*", "tree/b/logs", true, true)]
    // A leading '/': the whole path from the destination.
    [InlineData("/tree/build", "tree/build", false, true)]
    [InlineData("/tree/build", "other/tree/build", false, false)]
    [InlineData("/build", "tree/build", false, false)]
    // A trailing '/': directories only; '/***': the directory and all below it.
    [InlineData("cache/", "tree/cache", true, true)]
    [InlineData("cache/", "tree/cache", false, false)]
    [InlineData("cache/***", "tree/cache", true, true)]
    [InlineData("cache/***", "tree/cache/a/b", false, true)]
    [InlineData("cache/***", "tree/cache", false, false)]
    // '**' crosses '/', and what surrounds it stays: '/**/' needs a directory, as with rsync.
    [InlineData("/tree/**/*.o", "tree/a/b/c.o", false, true)]
    [InlineData("/tree/**/*.o", "tree/c.o", false, false)]
    [InlineData("/tree/**/*.o", "src/a/c.o", false, false)]
    [InlineData("/tree/**.o", "tree/a/b/c.o", false, true)]
    [InlineData("**.o", "deep/er/c.o", false, true)]
    [InlineData("foo/**", "tree/foo", true, false)]
    [InlineData("foo/**", "tree/foo/x", false, true)]
    [InlineData("**", "anything/at/all", false, true)]
    // A leading "**/" matches at the start too, as rsync lets it.
    [InlineData("**/foo", "foo", false, true)]
    [InlineData("**/foo", "a/b/foo", false, true)]
    [InlineData("**/foo", "a/xfoo", false, false)]
    // Anchored, it needs a directory above foo, as with rsync ('/x/**/y' is not 'x/y').
    [InlineData("/**/foo", "foo", false, false)]
    [InlineData("/**/foo", "a/foo", false, true)]
    [InlineData("/x/**/y", "x/y", false, false)]
    // Classes: one character but '/'.
    [InlineData("*.[oa]", "lib/x.a", false, true)]
    [InlineData("*.[oa]", "lib/x.so", false, false)]
    [InlineData("[!0-9]*", "x/abc", false, true)]
    [InlineData("[!0-9]*", "x/1bc", false, false)]
    [InlineData("[]x]", "a/]", false, true)]
    [InlineData("a[/]b", "a/b", false, false)]
    // Named classes, as rsync's: those of the C locale, alone or beside other characters, negated too.
    [InlineData("[[:digit:]]*", "x/1bc", false, true)]
    [InlineData("[[:digit:]]*", "x/abc", false, false)]
    [InlineData("*.[[:upper:]]", "x/y.C", false, true)]
    [InlineData("*.[[:upper:]]", "x/y.c", false, false)]
    [InlineData("[![:alpha:]]*", "x/_y", false, true)]
    [InlineData("[![:alpha:]]*", "x/y_", false, false)]
    [InlineData("[[:alpha:]_]*", "x/_y", false, true)]
    [InlineData("*[[:space:]]*", "x/a b", false, true)]
    [InlineData("*[[:space:]]*", "x/ab", false, false)]
    [InlineData("[[:xdigit:]][[:xdigit:]]", "x/aF", false, true)]
    [InlineData("[[:xdigit:]][[:xdigit:]]", "x/aG", false, false)]
    [InlineData("[[:punct:]]*", "x/#y", false, true)]
    [InlineData("[[:alnum:]]", "x/é", false, false)]
    // '\' escapes only in a pattern with a wildcard; case counts; "- " is dropped.
    [InlineData(@"a\*b", "dir/a*b", false, true)]
    [InlineData(@"a\*b", "dir/axxb", false, false)]
    [InlineData(@"*\.bak", "dir/x.bak", false, true)]
    [InlineData(@"*\[1\]", "dir/n[1]", false, true)]
    [InlineData(@"foo\bar", @"dir/foo\bar", false, true)]
    [InlineData(@"foo\bar", "dir/foobar", false, false)]
    [InlineData("*.TMP", "x.tmp", false, false)]
    [InlineData("- *.bak", "a/x.bak", false, true)]
    public void A_pattern_matches_as_rsync_matches_it(string pattern, string path, bool isDirectory, bool excluded) =>
        Assert.Equal(excluded, ExcludePatterns.Parse([pattern])!.Excludes(path, isDirectory));

    [Theory]
    [InlineData("")]
    [InlineData("/")]
    [InlineData("a//b")]
    [InlineData("dir//")]
    [InlineData("a\0b")]
    [InlineData("- ")]
    [InlineData("+ ")]
    [InlineData("+ a//b")]
    [InlineData("*.[oa")]
    [InlineData("[[:letter:]]*")]
    [InlineData("[[:alpha]*")]
    [InlineData("[[:alpha:]*")]
    [InlineData(@"*\")]
    public void A_pattern_that_names_nothing_or_is_malformed_is_refused(string pattern) =>
        Assert.Equal("Exclude", Assert.Throws<ArgumentException>(() => ExcludePatterns.Parse([pattern])).ParamName);

    /// <summary>The first pattern that matches decides, as in rsync's filter rules; "!" clears those before it.</summary>
    [Theory]
    // Only logs, in every directory: rsync's own example.
    [InlineData(new[] { "+ */", "+ *.log", "- *" }, "a/b", true, false)]
    [InlineData(new[] { "+ */", "+ *.log", "- *" }, "a/b/x.log", false, false)]
    [InlineData(new[] { "+ */", "+ *.log", "- *" }, "a/b/x.txt", false, true)]
    // Without "+ */", the directory itself is left out, and what it holds with it.
    [InlineData(new[] { "+ *.log", "- *" }, "a", true, true)]
    [InlineData(new[] { "+ keep.tmp", "*.tmp" }, "d/keep.tmp", false, false)]
    [InlineData(new[] { "+ keep.tmp", "*.tmp" }, "d/other.tmp", false, true)]
    // Later patterns never overrule an earlier match.
    [InlineData(new[] { "*.tmp", "+ keep.tmp" }, "d/keep.tmp", false, true)]
    [InlineData(new[] { "- *.tmp", "+ *" }, "d/x.tmp", false, true)]
    // Nothing matches: the entry is sent, includes or not.
    [InlineData(new[] { "+ *.log" }, "d/x.txt", false, false)]
    [InlineData(new[] { "+ /src/***", "- *" }, "src", true, false)]
    [InlineData(new[] { "+ /src/***", "- *" }, "src/deep/x.c", false, false)]
    [InlineData(new[] { "+ /src/***", "- *" }, "doc", true, true)]
    [InlineData(new[] { "*.tmp", "!", "*.bak" }, "d/x.tmp", false, false)]
    [InlineData(new[] { "*.tmp", "!", "*.bak" }, "d/x.bak", false, true)]
    [InlineData(new[] { "*.tmp", "!" }, "d/x.tmp", false, false)]
    public void The_first_pattern_that_matches_decides(string[] patterns, string path, bool isDirectory, bool excluded) =>
        Assert.Equal(excluded, ExcludePatterns.Parse(patterns)!.Excludes(path, isDirectory));

    /// <summary>
    /// Against any list of includes and excludes, an entry is left out exactly when the first pattern that matches it
    /// alone is an exclude: each pattern in a list means what it means by itself.
    /// </summary>
    [Fact]
    public void A_list_of_patterns_is_its_first_match()
    {
        string[] bodies = ["a", "b", "x.log", "*.log", "b*", "?"], names = ["a", "b", "x.log", "bx", "c"];
        var pattern = Gen.Select(Gen.Bool, Gen.Int[0, 5], Gen.Int[0, bodies.Length - 1].Select(i => bodies[i])).Select(t =>
            (t.Item1 ? "+ " : "- ") + t.Item2 switch
            {
                0 => t.Item3,
                1 => "/" + t.Item3,
                2 => "a/" + t.Item3,
                3 => t.Item3 + "/",
                4 => "**/" + t.Item3,
                _ => t.Item3 + "/***",
            });
        var entry = Gen.Int[0, names.Length - 1].Select(i => names[i]).List[1, 4].Select(parts => string.Join('/', parts));
        Gen.Select(pattern.List[1, 6], entry, Gen.Bool).Sample((patterns, path, isDirectory) =>
        {
            string? first = patterns.FirstOrDefault(p => ExcludePatterns.Parse([p[2..]])!.Excludes(path, isDirectory));
            Assert.Equal(first is not null && first.StartsWith("- ", StringComparison.Ordinal), ExcludePatterns.Parse(patterns)!.Excludes(path, isDirectory));
        });
    }

    /// <summary>
    /// Many '**' against a deep path: a matcher that backtracks takes exponential time here (a receiver's deletion
    /// once spun for minutes on such a pattern from a sender); this one takes the pattern's length times the path's.
    /// </summary>
    [Fact]
    public void Many_double_stars_against_a_deep_path_cost_no_more_than_their_length()
    {
        string pattern = string.Join("/", Enumerable.Repeat("**", 300)) + "/x";
        string path = string.Join("/", Enumerable.Repeat("d", 2000)) + "/f";
        var patterns = ExcludePatterns.Parse([pattern, "/" + pattern, string.Concat(Enumerable.Repeat("*a", 500))])!;
        Assert.False(patterns.Excludes(path, isDirectory: false));
        Assert.True(patterns.Excludes(path[..^1] + "x", isDirectory: false));
    }

    /// <summary>
    /// A receiver caps the work of matching a sender's patterns: a path without a pattern's plain run costs nothing,
    /// and one that needs matching beyond the allowance ends the session with LimitExceeded.
    /// </summary>
    [Fact]
    public void A_receiver_caps_the_work_of_matching()
    {
        var patterns = ExcludePatterns.Parse(["*.tmp"])!;
        patterns.LimitWork(0, 0);
        Assert.False(patterns.Excludes("a/b.txt", isDirectory: false));
        Assert.Equal(ErrorCode.LimitExceeded, Assert.Throws<SingularityException>(() => patterns.Excludes("a/b.tmp", isDirectory: false)).Code);

        var allowed = ExcludePatterns.Parse(["*.tmp"])!;
        allowed.LimitWork(0, ExcludePatterns.ReceiverAllowancePerEntry);
        Assert.True(allowed.Excludes("a/b.tmp", isDirectory: false));
    }

    [Fact]
    public void Too_many_or_too_long_patterns_are_refused()
    {
        Assert.Throws<ArgumentException>(() => ExcludePatterns.Parse([.. Enumerable.Range(0, ExcludePatterns.MostPatterns + 1).Select(i => $"p{i}")]));
        Assert.Throws<ArgumentException>(() => ExcludePatterns.Parse([new string('x', ExcludePatterns.LongestPatternBytes + 1)]));
        Assert.Throws<ArgumentException>(() => ExcludePatterns.Parse([.. Enumerable.Range(0, 9).Select(i => new string((char)('a' + i), 1000))]));
        Assert.NotNull(ExcludePatterns.Parse([.. Enumerable.Range(0, ExcludePatterns.MostPatterns).Select(i => $"p{i}")]));
        Assert.Null(ExcludePatterns.Parse([]));
    }

    /// <summary>Patterns travel unchanged: what the receiver decodes keeps exactly what the sender left out.</summary>
    [Fact]
    public void Patterns_survive_the_wire() =>
        // Names start with a letter: a pattern of "- " or "+ " alone is not a pattern to survive but one to refuse.
        Gen.Select(Gen.String[Gen.Char["abcz09._-é日 "], 0, 12].Select(name => "n" + name), Gen.Int[0, 4], Gen.Bool).Select(t => t.Item2 switch
        {
            0 => t.Item1,
            1 => "*" + t.Item1,
            2 => "/" + t.Item1 + "/*",
            3 => "+ " + t.Item1,
            _ => "**/" + t.Item1,
        } + (t.Item3 ? "/" : "")).List[1, 20].Sample(patterns =>
        {
            var decoded = ExcludeMessage.Decode(ExcludeMessage.Encode(ExcludePatterns.Parse(patterns)!));
            Assert.Equal(patterns, decoded.Patterns);
        });

    [Fact]
    public void A_malformed_body_from_the_wire_is_a_protocol_violation()
    {
        byte[] good = ExcludeMessage.Encode(ExcludePatterns.Parse(["*.tmp", "cache/"])!);
        Assert.Equal(2, ExcludeMessage.Decode(good).Patterns.Count);
        AssertRefused(good[..^1], ErrorCode.ProtocolViolation);
        AssertRefused([.. good, 0], ErrorCode.ProtocolViolation);
        AssertRefused([0, 0], ErrorCode.LimitExceeded);
        AssertRefused([1, 1, 0, 0], ErrorCode.LimitExceeded);
        AssertRefused([1, 0, 0xFF, 0xFF], ErrorCode.LimitExceeded);
        AssertRefused([1, 0, 2, 0, 0xC3, 0x28], ErrorCode.ProtocolViolation);
        AssertRefused([1, 0, 2, 0, (byte)'/', (byte)'/'], ErrorCode.ProtocolViolation);
        AssertRefused([1, 0, 2, 0, (byte)'+', (byte)' '], ErrorCode.ProtocolViolation);
        Assert.False(ExcludeMessage.Decode([2, 0, 3, 0, (byte)'+', (byte)' ', (byte)'x', 1, 0, (byte)'*']).Excludes("d/x", isDirectory: false));
        // Nine patterns of 1000 bytes: each within its limit, more than 8192 bytes together.
        byte[] nine = [9, 0, .. Enumerable.Range(0, 9).SelectMany(i => new byte[] { 0xE8, 0x03 }.Concat(Enumerable.Repeat((byte)('a' + i), 1000)))];
        AssertRefused(nine, ErrorCode.LimitExceeded);
    }

    private static void AssertRefused(byte[] body, ErrorCode code) =>
        Assert.Equal(code, Assert.Throws<ProtocolViolationException>(() => ExcludeMessage.Decode(body)).Code);
}
