using Singularity.Engine.Integrity;
using Singularity.Tests.Support;
using static Singularity.Tests.Support.PartialFixtures;

namespace Singularity.Tests.Storage;

public sealed class PartialCommitTests
{
    /// <summary>
    /// A partial another program removed before its commit fails that file in words that say so, without a path of the
    /// receiver's (the sender reads them), and nothing takes the file's name.
    /// </summary>
    [Fact]
    public void A_partial_removed_before_its_commit_is_named_gone()
    {
        using var temp = new TempDirectory();
        string final = Path.Combine(temp.Path, "f.bin");
        byte[] data = Data(2 * Shard, 1);
        var file = Partial(final, data.Length, session: 1);
        Assert.True(WriteShards(file, data, 0, 2));
        Assert.True(file.Seal(Digests.File([ShardDigest(data, 0), ShardDigest(data, 1)])));
        Assert.True(file.TryBeginCommit());
        File.Delete(file.TempPath);

        var error = Assert.Throws<FileNotFoundException>(file.Commit);
        Assert.Equal("its partial file is gone (removed by another program)", error.Message);
        Assert.False(File.Exists(final));
    }
}
