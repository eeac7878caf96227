using System.Text;
using Singularity.Engine;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>With <see cref="TransferOptions.Compress"/>, shards that pack travel packed and every file still arrives byte for byte; data that does not pack travels as it is.</summary>
public sealed class CompressionTests
{
    [Theory]
    [InlineData(CipherSuite.None)]
    [InlineData(CipherSuite.Aes256Gcm)]
    [InlineData(CipherSuite.ChaCha20Poly1305)]
    public async Task Text_travels_packed_and_random_bytes_as_they_are(CipherSuite cipher)
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        // A log of many shards and a short last one, and random bytes, which do not pack.
        var random = new Random(11);
        var log = new StringBuilder();
        while (log.Length < 1_000_000) log.Append($"2026-12-05T01:{random.Next(60):00}:{random.Next(60):00}Z INFO [worker-{random.Next(32)}] GET /api/v1/items/{random.Next(100_000)} status=200 ms={random.NextDouble() * 100:0.000}\n");
        File.WriteAllText(Path.Combine(tree, "app.log"), log.ToString());
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
}
