using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Singularity.Engine.Security;

/// <summary>
/// Seals or opens the frames of one stream (the control connection or one lane) in one direction. The 96-bit nonce
/// is the stream number (u32) followed by a frame counter (u64), and each direction has its own key, so a nonce never
/// repeats under a key. Both ends count frames, so the counter never travels.
/// </summary>
internal sealed class FrameCipher : IDisposable
{
    public const int TagSize = 16;

    private readonly AesGcm? _aes;
    private readonly ChaCha20Poly1305? _chacha;
    private readonly uint _stream;
    private ulong _counter;

    public FrameCipher(CipherSuite suite, ReadOnlySpan<byte> key, uint stream)
    {
        _stream = stream;
        switch (suite)
        {
            case CipherSuite.Aes256Gcm: _aes = new AesGcm(key, TagSize); break;
            case CipherSuite.ChaCha20Poly1305: _chacha = new ChaCha20Poly1305(key); break;
            default: throw new ArgumentOutOfRangeException(nameof(suite));
        }
    }

    /// <summary>Encrypts <paramref name="data"/> in place and writes the tag; <paramref name="associated"/> (the frame header) is authenticated too.</summary>
    public void Seal(Span<byte> data, Span<byte> tag, ReadOnlySpan<byte> associated)
    {
        Span<byte> nonce = stackalloc byte[12];
        NextNonce(nonce);
        if (_aes is not null) _aes.Encrypt(nonce, data, data, tag, associated);
        else _chacha!.Encrypt(nonce, data, data, tag, associated);
    }

    /// <summary>Decrypts in place; false if any byte of data, tag or header was altered (or a frame was dropped or replayed).</summary>
    public bool TryOpen(Span<byte> data, ReadOnlySpan<byte> tag, ReadOnlySpan<byte> associated)
    {
        Span<byte> nonce = stackalloc byte[12];
        NextNonce(nonce);
        try
        {
            if (_aes is not null) _aes.Decrypt(nonce, data, tag, data, associated);
            else _chacha!.Decrypt(nonce, data, tag, data, associated);
            return true;
        }
        catch (AuthenticationTagMismatchException)
        {
            return false;
        }
    }

    private void NextNonce(Span<byte> nonce)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(nonce, _stream);
        BinaryPrimitives.WriteUInt64LittleEndian(nonce[4..], _counter++);
    }

    public void Dispose()
    {
        _aes?.Dispose();
        _chacha?.Dispose();
    }
}
