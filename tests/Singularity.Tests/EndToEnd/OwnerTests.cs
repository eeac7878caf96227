using Singularity.Engine;
using Singularity.Engine.Storage;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// With <see cref="TransferOptions.PreserveOwners"/>, a receiver running as root gives files, directories and links
/// the source's owner and group, by number, as rsync -a --numeric-ids does, also to files already in place.
/// </summary>
public sealed class OwnerTests
{
    private static readonly TransferOptions Quick = new() { ShardSize = 4096, SkipUnchanged = true };

    [SkippableFact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Owners_arrive_by_number_and_are_brought_up_to_date_in_place()
    {
        Skip.IfNot(SpecialFiles.MayChangeOwners, "giving files owners needs root on Linux");
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        string small = TestFiles.Create(Path.Combine(tree, "small"), 100, seed: 1);
        string large = TestFiles.Create(Path.Combine(tree, "sub", "large"), 50_000, seed: 2);
        string sub = Path.Combine(tree, "sub");
        string link = Path.Combine(tree, "link");
        File.CreateSymbolicLink(link, "small");
        // nobody, and ids no user or group has here.
        SpecialFiles.SetOwnerNotFollowing(small, (65534, 65534));
        SpecialFiles.SetOwnerNotFollowing(large, (4242, 4343));
        SpecialFiles.SetOwnerNotFollowing(sub, (4242, 65534));
        SpecialFiles.SetOwnerNotFollowing(link, (65534, 4343));
        string destination = temp.Sub("dst");
        string received = Path.Combine(destination, "tree");
        await using var receiver = new LoopbackReceiver(destination);

        await SingularitySender.SendAsync([tree], receiver.Url, Quick);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((0u, 0u), SpecialFiles.OwnerOf(Path.Combine(received, "small")));

        var kept = await SingularitySender.SendAsync([tree], receiver.Url, Quick with { PreserveOwners = true });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(2, kept.FilesUnchanged);
        foreach (string source in (string[])[small, large, sub, link])
            Assert.Equal(SpecialFiles.OwnerOf(source), SpecialFiles.OwnerOf(Path.Combine(received, Path.GetRelativePath(tree, source))));

        SpecialFiles.SetOwnerNotFollowing(small, (1, 2));
        File.Delete(Path.Combine(received, "sub", "large"));
        await SingularitySender.SendAsync([tree], receiver.Url, Quick with { PreserveOwners = true });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((1u, 2u), SpecialFiles.OwnerOf(Path.Combine(received, "small")));
        Assert.Equal((4242u, 4343u), SpecialFiles.OwnerOf(Path.Combine(received, "sub", "large")));
        TestFiles.AssertSameTree(tree, received);
    }
}
