using System.Text;
using Singularity.Engine;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>With <see cref="TransferOptions.Compress"/>, shards that pack travel packed and every file still arrives byte for byte; data that does not pack travels as it is.</summary>
public sealed class CompressionTests
{
    /// <summary>A log of about a megabyte, as a web server writes it.</summary>
    private static string Log(int seed)
    {
        var random = new Random(seed);
        var log = new StringBuilder();
        while (log.Length < 1_000_000) log.Append($"2026-12-05T01:{random.Next(60):00}:{random.Next(60):00}Z INFO [worker-{random.Next(32)}] GET /api/v1/items/{random.Next(100_000)} status=200 ms={random.NextDouble() * 100:0.000}\n");
        return log.ToString();
    }

    [Theory]
    [InlineData(CipherSuite.None)]
    [InlineData(CipherSuite.Aes256Gcm)]
    [InlineData(CipherSuite.ChaCha20Poly1305)]
    public async Task Text_travels_packed_and_random_bytes_as_they_are(CipherSuite cipher)
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        // A log of many shards and a short last one, and random bytes, which do not pack.
        File.WriteAllText(Path.Combine(tree, "app.log"), Log(11));
        long logBytes = new FileInfo(Path.Combine(tree, "app.log")).Length;
        TestFiles.Create(Path.Combine(tree, "sub", "random.bin"), 300_000, seed: 12);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { Cipher = cipher });

        var result = await SingularitySender.SendAsync([tree], receiver.Url, new TransferOptions { ShardSize = 64 << 10, Compress = true, Cipher = cipher });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameTree(tree, Path.Combine(destination, "tree"));
        Assert.Equal(logBytes + 300_000, result.BytesSent);
        // The log packs about threefold; the random file's first shard does not, and the rest of it is not tried.
        Assert.InRange(result.WireBytes, 300_000, 300_000 + logBytes / 2);
    }

    /// <summary>
    /// <see cref="TransferOptions.CompressLevel"/> packs tighter at a higher level, and the receiver unpacks it alike;
    /// a level outside 1 to 9 is refused before anything is sent.
    /// </summary>
    [Fact]
    public async Task A_higher_level_packs_tighter_and_arrives_the_same()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        File.WriteAllText(Path.Combine(tree, "app.log"), Log(13));
        await using var receiver = new LoopbackReceiver(temp.Sub("dst"));
        var options = new TransferOptions { ShardSize = 256 << 10, Compress = true, SkipUnchanged = false };

        var fast = await SingularitySender.SendAsync([tree], receiver.Url, options);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        var tight = await SingularitySender.SendAsync([tree], receiver.Url, options with { CompressLevel = 9 });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        var refused = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => SingularitySender.SendAsync([tree], receiver.Url, options with { CompressLevel = 10 }));

        TestFiles.AssertSameTree(tree, Path.Combine(temp.Path, "dst", "tree"));
        Assert.True(tight.WireBytes < fast.WireBytes, $"level 9 sent {tight.WireBytes} bytes, level 1 {fast.WireBytes}");
        Assert.Equal(nameof(TransferOptions.CompressLevel), refused.ParamName);
    }
}
