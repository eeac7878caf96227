using Singularity.Engine;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

public sealed class SingleFileTransferTests
{
    private const int Shard = 64 << 10;

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(Shard - 1)]
    [InlineData(Shard)]
    [InlineData(Shard + 1)]
    [InlineData(10 * Shard + 12345)]
    public async Task File_arrives_byte_identical(long size)
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "data.bin"), size, seed: (int)size);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([source], receiver.Url, new TransferOptions { ShardSize = Shard, Lanes = 3 });
        var received = await receiver.NextResultAsync();

        Assert.True(received.Succeeded, received.Error?.Message);
        TestFiles.AssertSameBytes(source, Path.Combine(destination, "data.bin"));
        Assert.Equal(size, result.Bytes);
        Assert.Equal(size, result.BytesSent);
        Assert.Equal(1, result.Files);
        Assert.Empty(Directory.GetFiles(destination, "*.sglty-part", SearchOption.AllDirectories));
    }
}
