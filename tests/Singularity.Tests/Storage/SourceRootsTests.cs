using Singularity.Engine.Storage;
using Singularity.Tests.Support;

namespace Singularity.Tests.Storage;

public sealed class SourceRootsTests
{
    /// <summary>
    /// A root is opened once and held for every file below it; one that cannot be opened is not held (the file's own
    /// open then says why, and a root that comes back is found); past the most held, and once the session ended, the
    /// caller opens roots for itself.
    /// </summary>
    [Fact]
    public void A_root_is_held_once_until_the_session_ends()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var temp = new TempDirectory();
        string root = temp.Sub("root");
        string later = Path.Combine(temp.Path, "later");
        var roots = new SourceRoots();

        var held = roots.Of(root);
        Assert.NotNull(held);
        Assert.Same(held, roots.Of(root));
        Assert.Null(roots.Of(later));
        Directory.CreateDirectory(later);
        Assert.NotNull(roots.Of(later));
        for (int i = 2; i < 64; i++) Assert.NotNull(roots.Of(temp.Sub($"r{i}")));
        Assert.Null(roots.Of(temp.Sub("one-more")));

        roots.Dispose();
        Assert.True(held!.IsClosed);
        Assert.Null(roots.Of(root));
    }
}
