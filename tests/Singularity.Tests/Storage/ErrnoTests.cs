using Singularity.Engine.Storage;

namespace Singularity.Tests.Storage;

public sealed class ErrnoTests
{
    /// <summary>An error number reads as the other errors do, begun in lower case, and keeps its number for callers to test.</summary>
    [Fact]
    public void An_error_number_reads_in_lower_case_and_keeps_its_number()
    {
        if (!OperatingSystem.IsLinux()) return;
        var notDirectory = Assert.IsType<IOException>(Errno.ToException(Errno.NotADirectory));
        Assert.Equal("not a directory", notDirectory.Message);
        Assert.Equal(Errno.NotADirectory, notDirectory.HResult);
        Assert.Equal("input/output error", Errno.ToException(5).Message);
        Assert.Equal("no such file", Errno.ToException(Errno.NoEntry).Message);
        Assert.Equal("permission denied", Errno.ToException(Errno.AccessDenied).Message);
    }
}
