using Singularity.Engine;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

public sealed class LargeAndConcurrentTransferTests
{
    [Fact]
    public async Task A_file_of_several_hundred_MiB_arrives_byte_identical()
    {
        using var temp = new TempDirectory();
        long size = (384L << 20) + 12_345;
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "big.bin"), size, seed: 99);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);

        SendResult result;
        try
        {
            result = await SingularitySender.SendAsync([source], receiver.Url);
        }
        catch (SingularityException ex)
        {
            var failed = await receiver.NextResultAsync();
            throw new Xunit.Sdk.XunitException($"sender: {ex.Message}; receiver: {failed.Error?.Message}");
        }
        var received = await receiver.NextResultAsync();

        Assert.True(received.Succeeded, received.Error?.Message);
        Assert.Equal(size, result.Bytes);
        Assert.Equal(size, received.Bytes);
        TestFiles.AssertSameBytes(source, Path.Combine(destination, "big.bin"));
    }

    [Fact]
    public async Task Concurrent_sessions_into_one_receiver_all_arrive()
    {
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);
        var sources = Enumerable.Range(0, 6)
            .Select(i => TestFiles.Create(Path.Combine(temp.Sub($"src{i}"), $"file{i}.bin"), (3 << 20) + i * 7919, seed: i))
            .ToList();

        var sends = sources.Select((source, i) => SingularitySender.SendAsync([source], receiver.Url, new TransferOptions { ShardSize = 64 << 10, Lanes = 1 + i % 4 }));
        await Task.WhenAll(sends);
        for (int i = 0; i < sources.Count; i++)
            Assert.True((await receiver.NextResultAsync()).Succeeded);

        for (int i = 0; i < sources.Count; i++)
            TestFiles.AssertSameBytes(sources[i], Path.Combine(destination, $"file{i}.bin"));
    }
}
