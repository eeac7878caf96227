using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using Singularity.Engine;
using Singularity.Engine.Integrity;
using Singularity.Engine.Protocol;
using Singularity.Engine.Security;

namespace Singularity.Benchmarks;

/// <summary>
/// The per-shard work of the hot path, one operation per shard: framing a header, hashing the payload, sealing it.
/// The allocation column should read zero: nothing here may allocate per shard.
/// </summary>
[MemoryDiagnoser]
public class ShardPathBenchmarks
{
    private readonly byte[] _header = new byte[ShardHeader.Size];
    private readonly byte[] _tag = new byte[FrameCipher.TagSize];
    private byte[] _payload = [];
    private FrameCipher _aes = null!;
    private FrameCipher _chacha = null!;

    [Params(64 << 10, 4 << 20)]
    public int ShardSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _payload = RandomNumberGenerator.GetBytes(ShardSize);
        byte[] key = RandomNumberGenerator.GetBytes(32);
        _aes = new FrameCipher(CipherSuite.Aes256Gcm, key, 1);
        _chacha = new FrameCipher(CipherSuite.ChaCha20Poly1305, key, 1);
    }

    [Benchmark]
    public bool FrameHeader()
    {
        new ShardHeader(0x1234, 7, 42, 42L * ShardSize, ShardSize, 0xABCDEF).WriteTo(_header);
        return ShardHeader.TryRead(_header, out _, out _);
    }

    [Benchmark(Baseline = true)]
    public ulong HashXxh3() => Digests.Shard(_payload);

    [Benchmark]
    public void SealAes256Gcm() => _aes.Seal(_payload, _tag, _header);

    [Benchmark]
    public void SealChaCha20Poly1305() => _chacha.Seal(_payload, _tag, _header);
}
