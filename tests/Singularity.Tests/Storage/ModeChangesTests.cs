using CsCheck;
using Singularity.Engine.Storage;
using Singularity.Tests.Support;

namespace Singularity.Tests.Storage;

/// <summary>rsync --chmod's changes, read and applied as rsync 3.x reads and applies them (chmod.c's parse_chmod and tweak_mode).</summary>
public sealed class ModeChangesTests
{
    [Theory]
    [InlineData("u+x", 0b110_100_100, false, 0b111_100_100)]
    [InlineData("go-w", 0b111_111_111, false, 0b111_101_101)]
    [InlineData("a=rX", 0b110_110_110, false, 0b100_100_100)]
    [InlineData("a=rX", 0b111_000_000, false, 0b101_101_101)]
    [InlineData("a=rX", 0b110_000_000, true, 0b101_101_101)]
    // X looks at the mode before the changes: a file that could execute still can.
    [InlineData("a=r,a+X", 0b111_101_101, false, 0b101_101_101)]
    // Without a class, the umask (022 here) holds back what it withholds.
    [InlineData("+x", 0b110_100_100, false, 0b111_101_101)]
    [InlineData("+w", 0b100_100_100, false, 0b110_100_100)]
    [InlineData("=rw", 0b111_111_111, false, 0b110_100_100)]
    [InlineData("Du=rwx,Dgo=rx,Fu=rw,Fgo=r", 0b111_111_111, true, 0b111_101_101)]
    [InlineData("Du=rwx,Dgo=rx,Fu=rw,Fgo=r", 0b111_111_111, false, 0b110_100_100)]
    [InlineData("D2775,F664", 0b100_000_000, true, 0b010_111_111_101)]
    [InlineData("D2775,F664", 0b100_000_000, false, 0b110_110_100)]
    [InlineData("F600", 0b111_101_101, true, 0b111_101_101)]
    [InlineData("000644", 0b111_111_111, false, 0b110_100_100)]
    // s: the setuid and setgid of the classes named, setuid alone without u or g; t: sticky.
    [InlineData("g+s,+t", 0b111_101_101, true, 0b011_111_101_101)]
    [InlineData("+s", 0b111_101_101, true, 0b100_111_101_101)]
    [InlineData("a+s", 0b111_101_101, true, 0b110_111_101_101)]
    // '=' keeps the sticky, setuid and setgid bits unless it names s or t.
    [InlineData("o=", 0b001_111_111_111, true, 0b001_111_111_000)]
    [InlineData("Dgo=rx", 0b001_111_111_111, true, 0b001_111_101_101)]
    [InlineData("u=rw", 0b100_111_101_101, false, 0b100_110_101_101)]
    [InlineData("u=rws", 0b000_111_101_101, false, 0b100_110_101_101)]
    // A class copied from another.
    [InlineData("g=u", 0b111_101_000, false, 0b111_111_000)]
    [InlineData("go=u", 0b111_000_000, false, 0b111_111_111)]
    [InlineData("g-u", 0b111_111_101, false, 0b111_000_101)]
    [InlineData("o+g", 0b111_101_000, false, 0b111_101_101)]
    public void Clauses_change_what_they_name(string spec, int before, bool directory, int after) =>
        Assert.Equal((UnixFileMode)after, ModeChanges.Parse([spec], umask: 0b000_010_010).Apply((UnixFileMode)before, directory));

    [Theory]
    [InlineData("u+q", "'q' is not one of r, w, x, X, s, t, or a class u, g or o to copy")]
    [InlineData("ug", "it names no '+', '-' or '='")]
    [InlineData("D", "it names no '+', '-' or '='")]
    [InlineData("u+r,", "it changes nothing")]
    [InlineData("8", "an octal mode is digits from 0 to 7, at most 7777")]
    [InlineData("17777", "an octal mode is digits from 0 to 7, at most 7777")]
    // Numbers that would overflow a 32-bit read, as Convert.ToInt32 of base 8 takes them: -1, int.MinValue, too big.
    [InlineData("37777777777", "an octal mode is digits from 0 to 7, at most 7777")]
    [InlineData("20000000000", "an octal mode is digits from 0 to 7, at most 7777")]
    [InlineData("40000000000", "an octal mode is digits from 0 to 7, at most 7777")]
    [InlineData("u755", "an octal mode takes no u, g, o or a")]
    [InlineData("u*x", "'*' is not '+', '-' or '='")]
    [InlineData("u=rw+x", "one operator a clause")]
    [InlineData("g+ur", "a class to copy from (u, g or o) stands alone after the operator")]
    [InlineData("g+ru", "a class to copy from (u, g or o) stands alone after the operator")]
    [InlineData("DFu+x", "it is marked both D and F")]
    public void What_rsync_would_not_read_is_refused(string spec, string why) =>
        Assert.Contains(why, Assert.Throws<FormatException>(() => ModeChanges.Parse([spec])).Message);

    /// <summary>
    /// Random changes give a file the mode rsync --chmod gives its copy, where rsync is installed (the benchmarks
    /// install it). One thread: the cases share their files.
    /// </summary>
    [SkippableFact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void Random_changes_agree_with_rsync()
    {
        Skip.IfNot(OperatingSystem.IsLinux() && Environment.IsPrivilegedProcess, "rsync keeps setuid and setgid bits for root only");
        Skip.IfNot(Commands.Run("rsync", "--version"), "rsync is not installed");
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Path, "f"), 1), copy = Path.Combine(temp.Path, "copy");
        var who = Gen.OneOf("", "u", "g", "o", "a", "ug", "go", "Fu", "D", "F");
        // Not "+ts" without u, g or a, where rsync's s takes back the t before it.
        var symbolic = Gen.Select(who, Gen.OneOf('+', '-', '='), Gen.OneOf(Gen.String[Gen.Char["rwxXst"], 0, 4], Gen.OneOf("u", "g", "o")),
            (w, op, permissions) => $"{w}{op}{permissions}").Where(clause => !(clause.Contains('t') && clause.LastIndexOf('s') > clause.IndexOf('t') && !clause[..clause.IndexOfAny(['+', '-', '='])].Any(c => c is 'u' or 'g' or 'a')));
        var octal = Gen.Int[0, 0b111_111_111_111].Select(mode => Convert.ToString(mode, 8));
        var spec = Gen.Frequency((6, symbolic), (1, octal)).Array[1, 4].Select(clauses => string.Join(',', clauses));
        Gen.Select(Gen.Int[0, 0b111_111_111_111], spec).Sample((mode, text) =>
        {
            File.SetUnixFileMode(source, (UnixFileMode)mode);
            File.Delete(copy);
            Assert.True(Commands.Run("rsync", "-p", $"--chmod={text}", source, copy), text);
            var expected = File.GetUnixFileMode(copy);
            var changed = ModeChanges.Parse([text]).Apply((UnixFileMode)mode, directory: false);
            Assert.True(expected == changed, $"{Convert.ToString(mode, 8)} with '{text}': rsync gives {Convert.ToString((int)expected, 8)}, not {Convert.ToString((int)changed, 8)}");
        }, iter: 150, threads: 1);
    }
}
