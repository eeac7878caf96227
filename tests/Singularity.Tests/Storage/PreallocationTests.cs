using Singularity.Engine.Storage;

namespace Singularity.Tests.Storage;

public sealed class PreallocationTests
{
    /// <summary>The file system type of each mount point, read from /proc/mounts independently of the code under test.</summary>
    private static Dictionary<string, string> Mounts() =>
        File.ReadAllLines("/proc/mounts")
            .Select(line => line.Split(' '))
            .Where(fields => fields.Length > 2)
            .GroupBy(fields => fields[1])
            .ToDictionary(group => group.Key, group => group.Last()[2]);

    [SkippableFact]
    public void Memory_backed_destinations_are_not_preallocated_and_disks_are()
    {
        Skip.IfNot(OperatingSystem.IsLinux() && File.Exists("/proc/mounts"), "needs /proc/mounts");
        var mounts = Mounts();
        Skip.IfNot(mounts.GetValueOrDefault("/dev/shm") == "tmpfs", "/dev/shm is not a tmpfs here");
        Assert.False(PartialFile.PreallocationHelps("/dev/shm"));
        if (mounts.GetValueOrDefault("/") is "ext4" or "xfs" or "btrfs")
            Assert.True(PartialFile.PreallocationHelps("/"));
    }
}
