using CsCheck;
using Singularity.Engine.Storage;
using Singularity.Tests.Support;

namespace Singularity.Tests.Storage;

/// <summary>rsync --chmod's changes: read as rsync reads them, applied as chmod(1) applies them.</summary>
public sealed class ModeChangesTests
{
    [Theory]
    [InlineData("u+x", 0b110_100_100, false, 0b111_100_100)]
    [InlineData("go-w", 0b111_111_111, false, 0b111_101_101)]
    [InlineData("a=rX", 0b110_110_110, false, 0b100_100_100)]
    [InlineData("a=rX", 0b111_000_000, false, 0b101_101_101)]
    [InlineData("a=rX", 0b110_000_000, true, 0b101_101_101)]
    [InlineData("+x", 0b110_100_100, false, 0b111_101_101)]
    [InlineData("Du=rwx,Dgo=rx,Fu=rw,Fgo=r", 0b111_111_111, true, 0b111_101_101)]
    [InlineData("Du=rwx,Dgo=rx,Fu=rw,Fgo=r", 0b111_111_111, false, 0b110_100_100)]
    [InlineData("D2775,F664", 0b100_000_000, true, 0b010_111_111_101)]
    [InlineData("D2775,F664", 0b100_000_000, false, 0b110_110_100)]
    [InlineData("g+s,+t", 0b111_101_101, true, 0b011_111_101_101)]
    [InlineData("u=rw-w+x", 0b000_000_000, false, 0b101_000_000)]
    [InlineData("o=", 0b001_111_111_111, false, 0b111_111_000)]
    [InlineData("F600", 0b111_101_101, true, 0b111_101_101)]
    public void Clauses_change_what_they_name(string spec, int before, bool directory, int after) =>
        Assert.Equal((UnixFileMode)after, ModeChanges.Parse([spec]).Apply((UnixFileMode)before, directory));

    [Theory]
    [InlineData("u+q", "'q' is not one of r, w, x, X, s and t")]
    [InlineData("ug", "it names no '+', '-' or '='")]
    [InlineData("D", "it changes nothing")]
    [InlineData("u+r,", "it changes nothing")]
    [InlineData("8", "an octal mode is 1 to 4 digits from 0 to 7")]
    [InlineData("17777", "an octal mode is 1 to 4 digits from 0 to 7")]
    [InlineData("u*x", "'*' is not '+', '-' or '='")]
    public void What_rsync_would_not_read_is_refused(string spec, string why) =>
        Assert.Contains(why, Assert.Throws<FormatException>(() => ModeChanges.Parse([spec])).Message);

    /// <summary>Symbolic modes with a who change a file exactly as chmod(1) changes it (chmod alone applies a umask to a clause without one). One thread: the cases share a file.</summary>
    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void Symbolic_modes_agree_with_chmod()
    {
        Skip.IfNot(OperatingSystem.IsLinux() && Environment.IsPrivilegedProcess, "chmod sets the sticky bit of a file for root only");
        using var temp = new TempDirectory();
        string file = TestFiles.Create(Path.Combine(temp.Path, "f"), 1);
        var who = Gen.OneOf("u", "g", "o", "a", "ug", "go", "uo");
        var operation = Gen.Select(Gen.OneOf('+', '-', '='), Gen.String[Gen.Char["rwxXst"], 0, 4], (op, permissions) => op + permissions);
        var clause = Gen.Select(who, operation.Array[1, 3], (w, ops) => w + string.Concat(ops));
        var spec = Gen.Select(clause.Array[1, 3], clauses => string.Join(',', clauses));
        Gen.Select(Gen.Int[0, 0b111_111_111_111], spec).Sample((mode, text) =>
        {
            File.SetUnixFileMode(file, (UnixFileMode)mode);
            Assert.True(Commands.Run("chmod", text, file), text);
            var expected = File.GetUnixFileMode(file);
            var changed = ModeChanges.Parse([text]).Apply((UnixFileMode)mode, directory: false);
            Assert.True(expected == changed, $"{Convert.ToString(mode, 8)} with '{text}': chmod gives {Convert.ToString((int)expected, 8)}, not {Convert.ToString((int)changed, 8)}");
        }, iter: 300, threads: 1);
    }
}
