using Singularity.Engine.Integrity;
using Singularity.Engine.Storage;
using Singularity.Tests.Support;
using static Singularity.Tests.Support.PartialFixtures;

namespace Singularity.Tests.Storage;

/// <summary>
/// A patch's claim on a shard holds until its bytes are checked: a copy of the shard meanwhile is told so, and is not
/// answered for; a failed patch gives its claim back, and the shard is then written as a first copy.
/// </summary>
public sealed class PatchClaimTests
{
    [Fact]
    public void A_copy_of_a_shard_being_patched_is_told_so_until_the_patch_ends()
    {
        using var temp = new TempDirectory();
        byte[] data = Data(2 * Shard, seed: 4);
        var file = Partial(Path.Combine(temp.Path, "f.bin"), data.Length, session: 1);

        // A patch claims shard 0; a copy that comes meanwhile finds it being patched.
        Assert.True(file.TryClaim(0, out _, out bool beingPatched, patch: true));
        Assert.False(beingPatched);
        Assert.False(file.TryClaim(0, out _, out beingPatched));
        Assert.True(beingPatched);
        // The patch failed: the copy sent again claims it, and a further copy is a plain duplicate.
        file.ReleaseClaim(0);
        Assert.True(file.TryClaim(0, out _, out beingPatched));
        Assert.False(file.TryClaim(0, out _, out beingPatched));
        Assert.False(beingPatched);

        // A patch that succeeds leaves a plain duplicate behind it too.
        Assert.True(file.TryClaim(1, out _, out _, patch: true));
        file.CompleteShard(1, ShardDigest(data, 1));
        Assert.False(file.TryClaim(1, out _, out beingPatched));
        Assert.False(beingPatched);
        file.Abandon();
    }
}
