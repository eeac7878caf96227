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

    /// <summary>Puts a link to <paramref name="target"/> at a directory named d just before it is created.</summary>
    private static Action<string> LinkTo(string target) => path =>
    {
        if (Path.GetFileName(path) == "d") Directory.CreateSymbolicLink(path, target);
    };
}
