using Singularity.Engine;
using Singularity.Engine.Storage;
using Singularity.Tests.Support;

namespace Singularity.Tests.Storage;

/// <summary>
/// A directory found missing can turn into a link before it is created: another session of the same receiver may
/// create a link there. Nothing is then written through it, and it is not trusted afterwards.
/// </summary>
public sealed class PathGuardTests
{
    [Fact]
    public void A_link_made_where_a_parent_directory_is_about_to_be_created_is_refused()
    {
        using var temp = new TempDirectory();
        string root = temp.Sub("dst"), outside = temp.Sub("outside");
        var guard = new PathGuard(root, new ProtocolLimits()) { BeforeCreate = LinkTo(outside) };

        var error = Assert.Throws<SingularityException>(() => guard.Resolve("d/e/f"));

        Assert.Equal(ErrorCode.BadPath, error.Code);
        Assert.Contains("'d' became a symbolic link", error.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(outside));
        Assert.Contains("symbolic link 'd'", Assert.Throws<SingularityException>(() => guard.Resolve("d/g")).Message);
    }

    [Fact]
    public void A_link_made_where_a_directory_entry_is_about_to_be_created_is_refused()
    {
        using var temp = new TempDirectory();
        string root = temp.Sub("dst"), outside = temp.Sub("outside");
        var guard = new PathGuard(root, new ProtocolLimits()) { BeforeCreate = LinkTo(outside) };

        var error = Assert.Throws<SingularityException>(() => guard.CreateDirectory(guard.Resolve("d")));

        Assert.Equal(ErrorCode.BadPath, error.Code);
        Assert.Contains("'d' became a symbolic link", error.Message);
        Assert.Contains("symbolic link 'd'", Assert.Throws<SingularityException>(() => guard.Resolve("d/g")).Message);
    }

    [Theory]
    [InlineData("dst")]
    [InlineData("dst/")]
    [InlineData("dst/./")]
    [InlineData("other/../dst")]
    public void A_checked_path_maps_under_the_root_however_the_root_was_written(string rootAsGiven)
    {
        using var temp = new TempDirectory();
        string root = temp.Sub("dst");
        var guard = new PathGuard(Path.Combine(temp.Path, rootAsGiven), new ProtocolLimits());

        Assert.Equal(Path.Combine(root, "a", "b", "c.txt"), guard.Resolve("a/b/c.txt"));
        Assert.True(Directory.Exists(Path.Combine(root, "a", "b")));
    }

    [Theory]
    [InlineData("../x")]
    [InlineData("a/../../x")]
    [InlineData("a/..")]
    [InlineData("a/./b")]
    [InlineData("a//b")]
    [InlineData("/etc/x")]
    public void A_path_that_could_climb_or_vanish_is_refused_before_anything_is_created(string relative)
    {
        using var temp = new TempDirectory();
        string root = temp.Sub("dst");
        var guard = new PathGuard(root, new ProtocolLimits());

        var error = Assert.Throws<SingularityException>(() => guard.Resolve(relative));

        Assert.Equal(ErrorCode.BadPath, error.Code);
        // Refused by the syntax check, before any path is built from it.
        Assert.StartsWith("refused path: ", error.Message);
        Assert.Equal([root], Directory.EnumerateFileSystemEntries(temp.Path));
        Assert.Empty(Directory.EnumerateFileSystemEntries(root));
    }

    // The second line of defence, checked on its own: the syntax check refuses every climbing path before it.
    [Theory]
    [InlineData("/srv/dst", "/srv/dst/a", true)]
    [InlineData("/srv/dst", "/srv/dst/a/b", true)]
    [InlineData("/srv/dst/", "/srv/dst/a", true)]
    [InlineData("/", "/a", true)]
    [InlineData("/srv/dst", "/srv/dst", false)]
    [InlineData("/srv/dst/", "/srv/dst/", false)]
    [InlineData("/srv/dst", "/srv/dstx/a", false)]
    [InlineData("/srv/dst", "/srv/ds", false)]
    [InlineData("/srv/dst", "/srv/other/a", false)]
    [InlineData("/srv/dst", "/etc/passwd", false)]
    public void Only_a_path_strictly_inside_the_root_is_below_it(string root, string full, bool below)
    {
        static string Native(string path) => path.Replace('/', Path.DirectorySeparatorChar);

        Assert.Equal(below, PathGuard.IsBelow(Native(root), Native(full)));
    }

    /// <summary>Puts a link to <paramref name="target"/> at a directory named d just before it is created.</summary>
    private static Action<string> LinkTo(string target) => path =>
    {
        if (Path.GetFileName(path) == "d") Directory.CreateSymbolicLink(path, target);
    };
}
