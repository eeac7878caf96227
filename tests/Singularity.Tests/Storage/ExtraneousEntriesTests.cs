using Singularity.Engine.Storage;
using Singularity.Tests.Support;

namespace Singularity.Tests.Storage;

/// <summary>Deleting what a manifest does not name stays inside the destination and leaves partial files alone.</summary>
public sealed class ExtraneousEntriesTests
{
    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void Links_are_deleted_as_links_and_never_followed()
    {
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst"), outside = temp.Sub("outside");
        string precious = TestFiles.Create(Path.Combine(outside, "precious"), 10);
        TestFiles.Create(Path.Combine(destination, "gone", "deep", "f"), 10);
        Directory.CreateSymbolicLink(Path.Combine(destination, "gone", "out"), outside);
        Directory.CreateSymbolicLink(Path.Combine(destination, "out"), outside);
        File.CreateSymbolicLink(Path.Combine(destination, "file-out"), precious);
        string kept = TestFiles.Create(Path.Combine(destination, "kept"), 10);
        string partial = TestFiles.Create(Path.Combine(destination, ".half.sglty-part"), 10);
        string deeper = TestFiles.Create(Path.Combine(destination, "other", ".big.sglty-part"), 10);
        string journal = TestFiles.Create(Path.Combine(destination, ".half.SGLTY-STATE"), 10);
        var extraneous = new ExtraneousEntries((path, _) => path == "kept", () => { });

        extraneous.Clean(destination, "");

        // gone, gone/deep, gone/deep/f, gone/out, out, file-out; "other" stays, for the partial file in it.
        Assert.Equal((6, 0), (extraneous.Deleted, extraneous.Failed));
        Assert.Equal([journal, partial, kept, Path.Combine(destination, "other")], Directory.GetFileSystemEntries(destination).Order(StringComparer.Ordinal));
        Assert.True(File.Exists(deeper), "a partial file in a directory deleted was deleted");
        Assert.True(File.Exists(precious));
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void A_directory_that_became_a_link_is_not_walked_through()
    {
        using var temp = new TempDirectory();
        string outside = temp.Sub("outside");
        string precious = TestFiles.Create(Path.Combine(outside, "precious"), 10);
        string link = Path.Combine(temp.Path, "was-a-directory");
        Directory.CreateSymbolicLink(link, outside);
        var extraneous = new ExtraneousEntries((_, _) => false, () => { });

        extraneous.Clean(link, "was-a-directory");

        Assert.Equal((0, 0), (extraneous.Deleted, extraneous.Failed));
        Assert.True(File.Exists(precious));
    }

    /// <summary>
    /// A name that is not UTF-8 reads as U+FFFD, which names another file or none: it is left and named, and so is a
    /// real U+FFFD beside it, which cannot be told from it; failures beyond the first hundred are only counted.
    /// </summary>
    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void Names_that_are_not_UTF8_are_left_and_named()
    {
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        TestFiles.Create(Path.Combine(destination, "bad", "\uFFFD"), 10);
        TestFiles.Create(Path.Combine(destination, "ok"), 10);
        const string Make = "touch \"$1/bad/$(printf '\\377')\"; mkdir \"$1/many\"; for i in $(seq 150); do touch \"$1/many/x$i$(printf '\\377')\"; done";
        Assert.True(Commands.Run("bash", "-c", Make, "bash", destination));
        try
        {
            var extraneous = new ExtraneousEntries((path, _) => path == "many", () => { });
            extraneous.Clean(destination, "");

            Assert.Equal((1, 2), (extraneous.Deleted, extraneous.Failed));
            Assert.Equal(["'bad/\uFFFD': its name is not UTF-8, which cannot be given back to the system to delete it"], extraneous.Failures.Distinct());
            Assert.False(File.Exists(Path.Combine(destination, "ok")));
            Assert.Equal(2, Directory.GetFileSystemEntries(Path.Combine(destination, "bad")).Length);

            var many = new ExtraneousEntries((_, _) => false, () => { });
            many.Clean(Path.Combine(destination, "many"), "many");
            Assert.Equal((0, 150, ExtraneousEntries.MostFailuresNamed), (many.Deleted, many.Failed, many.Failures.Count));
        }
        finally
        {
            Assert.True(Commands.Run("bash", "-c", "rm -rf \"$1\"", "bash", destination));
        }
    }
}
