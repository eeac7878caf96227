using Singularity.Engine.Storage;
using Singularity.Tests.Support;

namespace Singularity.Tests.Storage;

public sealed class DestinationLockTests
{
    /// <summary>
    /// A receiver's lock on its destination is let go of before its handle closes: a child process started meanwhile
    /// (here, copies of the descriptor as it would hold them until its exec) kept it held, and a receiver started
    /// again in the same directory at once was refused as busy.
    /// </summary>
    [SkippableFact]
    public void A_destination_lock_lets_go_before_it_closes()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "the destination lock is taken on Linux");
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        var first = DestinationLock.Take(destination);
        Assert.NotNull(first);

        using (DescriptorCopies.Of(destination))
        {
            first.Dispose();
            using var again = DestinationLock.Take(destination);
            Assert.NotNull(again);
        }
    }
}
