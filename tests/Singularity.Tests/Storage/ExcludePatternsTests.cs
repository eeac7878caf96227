using CsCheck;
using Singularity.Engine;
using Singularity.Engine.Protocol;
using Singularity.Engine.Storage;

namespace Singularity.Tests.Storage;

/// <summary>Exclude patterns match as rsync's --exclude does, and the receiver refuses malformed ones from the wire.</summary>
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
    // A '/' inside: the end of the path, whole components only.
    [InlineData("logs/*.gz", "tree/b/logs/z.gz", false, true)]
    [InlineData("logs/*.gz", "tree/blogs/z.gz", false, false)]
    [InlineData("logs/*.gz", "tree/logs/deeper/z.gz", false, false)]
    [InlineData("b/*", "tree/b/logs", true, true)]
    // A leading '/': the whole path from the destination.
    [InlineData("/tree/build", "tree/build", false, true)]
    [InlineData("/tree/build", "other/tree/build", false, false)]
    [InlineData("/build", "tree/build", false, false)]
    // A trailing '/': directories only.
    [InlineData("cache/", "tree/cache", true, true)]
    [InlineData("cache/", "tree/cache", false, false)]
    // '**' as a component: any number of directories, none included.
    [InlineData("/tree/**/*.o", "tree/a/b/c.o", false, true)]
    [InlineData("/tree/**/*.o", "tree/c.o", false, true)]
    [InlineData("/tree/**/*.o", "src/c.o", false, false)]
    [InlineData("**", "anything/at/all", false, true)]
    // '\' makes a wildcard plain; case counts.
    [InlineData(@"a\*b", "dir/a*b", false, true)]
    [InlineData(@"a\*b", "dir/axxb", false, false)]
    [InlineData("*.TMP", "x.tmp", false, false)]
    public void A_pattern_matches_as_rsync_matches_it(string pattern, string path, bool isDirectory, bool excluded) =>
        Assert.Equal(excluded, ExcludePatterns.Parse([pattern])!.Excludes(path, isDirectory));

    [Theory]
    [InlineData("")]
    [InlineData("/")]
    [InlineData("a//b")]
    [InlineData("a\0b")]
    public void A_pattern_that_names_nothing_is_refused(string pattern) =>
        Assert.Throws<ArgumentException>(() => ExcludePatterns.Parse([pattern]));

    [Fact]
    public void Too_many_or_too_long_patterns_are_refused()
    {
        Assert.Throws<ArgumentException>(() => ExcludePatterns.Parse([.. Enumerable.Range(0, ExcludePatterns.MostPatterns + 1).Select(i => $"p{i}")]));
        Assert.Throws<ArgumentException>(() => ExcludePatterns.Parse([new string('x', ExcludePatterns.LongestPatternBytes + 1)]));
        Assert.NotNull(ExcludePatterns.Parse([.. Enumerable.Range(0, ExcludePatterns.MostPatterns).Select(i => $"p{i}")]));
        Assert.Null(ExcludePatterns.Parse([]));
    }

    /// <summary>Patterns travel unchanged: what the receiver decodes keeps exactly what the sender left out.</summary>
    [Fact]
    public void Patterns_survive_the_wire() =>
        Gen.Select(Gen.String[Gen.Char["abcz09._-é日 "], 1, 12], Gen.Int[0, 3], Gen.Bool).Select(t => t.Item2 switch
        {
            0 => t.Item1,
            1 => "*" + t.Item1,
            2 => "/" + t.Item1 + "/*",
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
    }

    private static void AssertRefused(byte[] body, ErrorCode code) =>
        Assert.Equal(code, Assert.Throws<ProtocolViolationException>(() => ExcludeMessage.Decode(body)).Code);
}
