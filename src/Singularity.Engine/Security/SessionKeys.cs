using System.Security.Cryptography;

namespace Singularity.Engine.Security;

/// <summary>What a completed handshake yields: the cipher and one key per direction, plus the key that admits data lanes.</summary>
internal sealed class SessionKeys(CipherSuite suite, byte[] senderToReceiver, byte[] receiverToSender, byte[] laneAuth)
{
    public CipherSuite Suite { get; } = suite;
    public bool Encrypted => Suite != CipherSuite.None;

    /// <summary>Stream 0 is the control connection; lane k is stream k + 1.</summary>
    public static uint StreamOf(ushort? lane) => lane is { } index ? index + 1u : 0u;

    public FrameCipher? SenderToReceiver(uint stream) => Encrypted ? new FrameCipher(Suite, senderToReceiver, stream) : null;

    public FrameCipher? ReceiverToSender(uint stream) => Encrypted ? new FrameCipher(Suite, receiverToSender, stream) : null;

    /// <summary>HMAC-SHA256 of a lane's hello under the lane key: only a party to the handshake can add lanes.</summary>
    public byte[] LaneBinder(ReadOnlySpan<byte> hello) => HMACSHA256.HashData(laneAuth, hello);
}
