using System.Security.Cryptography;
using System.Text;

namespace Singularity.Engine.Security;

/// <summary>
/// The control connection's handshake, in the shape of TLS 1.3's PSK-with-(EC)DHE mode: the token is the pre-shared
/// key, each side contributes a fresh nonce and an ephemeral P-256 key, and HKDF-SHA256 turns token, shared secret
/// and transcript into keys. The client proves the token first (binder), the server answers with its share and a
/// Finished MAC, the client ends with its own Finished. See docs/SECURITY.md.
/// </summary>
internal static class Handshake
{
    public const byte Method = 1;
    public const int NonceSize = 32;
    public const int PointSize = 65;
    public const int MacSize = 32;
    /// <summary>Client auth data: nonce, public key, cipher, reserved, binder.</summary>
    public const int ClientAuthSize = NonceSize + PointSize + 2 + MacSize;
    /// <summary>Server auth data: nonce, public key, cipher, Finished.</summary>
    public const int ServerAuthSize = NonceSize + PointSize + 1 + MacSize;
    public const int LaneAuthSize = MacSize;

    private static readonly byte[] PskSalt = "sglty/1 psk"u8.ToArray();

    /// <summary>The client's first flight after its hello; also returns the private state it needs to finish.</summary>
    public static (byte[] Auth, ECDiffieHellman Ephemeral) ClientStart(ReadOnlySpan<byte> hello, string token, CipherSuite requested)
    {
        var ephemeral = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        byte[] auth = new byte[ClientAuthSize];
        RandomNumberGenerator.Fill(auth.AsSpan(0, NonceSize));
        WritePoint(ephemeral, auth.AsSpan(NonceSize, PointSize));
        auth[NonceSize + PointSize] = (byte)requested;
        auth[NonceSize + PointSize + 1] = 0;
        byte[] early = Early(token);
        Binder(early, hello, auth.AsSpan(0, ClientAuthSize - MacSize)).CopyTo(auth.AsSpan(ClientAuthSize - MacSize));
        return (auth, ephemeral);
    }

    /// <summary>Server side: checks the binder in constant time. False means the client does not hold this receiver's token.</summary>
    public static bool VerifyBinder(ReadOnlySpan<byte> hello, ReadOnlySpan<byte> clientAuth, string token)
    {
        if (clientAuth.Length != ClientAuthSize || clientAuth[NonceSize + PointSize + 1] != 0) return false;
        byte[] expected = Binder(Early(token), hello, clientAuth[..(ClientAuthSize - MacSize)]);
        return CryptographicOperations.FixedTimeEquals(expected, clientAuth[(ClientAuthSize - MacSize)..]);
    }

    public static CipherSuite RequestedCipher(ReadOnlySpan<byte> clientAuth) => (CipherSuite)clientAuth[NonceSize + PointSize];

    /// <summary>Server side, after the binder: builds the server's auth data for the given reply header and derives the pending state.</summary>
    public static (byte[] Auth, Pending State) ServerRespond(ReadOnlySpan<byte> hello, ReadOnlySpan<byte> clientAuth, ReadOnlySpan<byte> reply, string token, CipherSuite chosen)
    {
        using var ephemeral = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        byte[] auth = new byte[ServerAuthSize];
        RandomNumberGenerator.Fill(auth.AsSpan(0, NonceSize));
        WritePoint(ephemeral, auth.AsSpan(NonceSize, PointSize));
        auth[NonceSize + PointSize] = (byte)chosen;
        byte[] shared = Agree(ephemeral, clientAuth.Slice(NonceSize, PointSize));
        var state = Derive(token, shared, Transcript(hello, clientAuth, reply, auth.AsSpan(0, ServerAuthSize - MacSize)), chosen);
        state.ServerFinished.CopyTo(auth.AsSpan(ServerAuthSize - MacSize));
        return (auth, state);
    }

    /// <summary>Client side: checks the server's Finished (false: the receiver holds another token) and returns the client's Finished.</summary>
    public static bool ClientFinish(ReadOnlySpan<byte> hello, ReadOnlySpan<byte> clientAuth, ReadOnlySpan<byte> reply, ReadOnlySpan<byte> serverAuth, ECDiffieHellman ephemeral, string token, out Pending state)
    {
        state = null!;
        if (serverAuth.Length != ServerAuthSize) return false;
        byte[] shared;
        try { shared = Agree(ephemeral, serverAuth.Slice(NonceSize, PointSize)); }
        catch (CryptographicException) { return false; }
        var chosen = (CipherSuite)serverAuth[NonceSize + PointSize];
        state = Derive(token, shared, Transcript(hello, clientAuth, reply, serverAuth[..(ServerAuthSize - MacSize)]), chosen);
        return CryptographicOperations.FixedTimeEquals(state.ServerFinished, serverAuth[(ServerAuthSize - MacSize)..]);
    }

    /// <summary>The secrets both sides hold once the server has answered.</summary>
    internal sealed class Pending(byte[] serverFinished, byte[] clientFinished, SessionKeys keys)
    {
        public byte[] ServerFinished { get; } = serverFinished;
        public byte[] ClientFinished { get; } = clientFinished;
        public SessionKeys Keys { get; } = keys;

        public bool VerifyClientFinished(ReadOnlySpan<byte> received) => CryptographicOperations.FixedTimeEquals(ClientFinished, received);
    }

    private static Pending Derive(string token, byte[] shared, byte[] transcript, CipherSuite suite)
    {
        byte[] early = Early(token);
        byte[] handshake = HKDF.Extract(HashAlgorithmName.SHA256, shared, Expand(early, "derived", [], 32));
        CryptographicOperations.ZeroMemory(shared);
        byte[] serverFinished = HMACSHA256.HashData(Expand(handshake, "s finished", [], 32), transcript);
        byte[] transcript2 = SHA256.HashData([.. transcript, .. serverFinished]);
        byte[] clientFinished = HMACSHA256.HashData(Expand(handshake, "c finished", [], 32), transcript2);
        byte[] master = Expand(handshake, "master", transcript2, 32);
        var keys = new SessionKeys(suite, Expand(master, "s2r key", [], 32), Expand(master, "r2s key", [], 32), Expand(master, "lane auth", [], 32));
        return new Pending(serverFinished, clientFinished, keys);
    }

    private static byte[] Early(string token) => HKDF.Extract(HashAlgorithmName.SHA256, SessionToken.KeyMaterial(token), PskSalt);

    private static byte[] Binder(byte[] early, ReadOnlySpan<byte> hello, ReadOnlySpan<byte> clientAuthWithoutBinder)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(hello);
        hash.AppendData(clientAuthWithoutBinder);
        return HMACSHA256.HashData(Expand(early, "binder", [], 32), hash.GetHashAndReset());
    }

    private static byte[] Transcript(ReadOnlySpan<byte> hello, ReadOnlySpan<byte> clientAuth, ReadOnlySpan<byte> reply, ReadOnlySpan<byte> serverAuthWithoutFinished)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(hello);
        hash.AppendData(clientAuth);
        hash.AppendData(reply);
        hash.AppendData(serverAuthWithoutFinished);
        return hash.GetHashAndReset();
    }

    private static byte[] Expand(byte[] secret, string label, ReadOnlySpan<byte> context, int length)
    {
        byte[] info = [.. Encoding.ASCII.GetBytes("sglty " + label), .. context];
        return HKDF.Expand(HashAlgorithmName.SHA256, secret, length, info);
    }

    private static void WritePoint(ECDiffieHellman key, Span<byte> destination)
    {
        var parameters = key.ExportParameters(includePrivateParameters: false);
        destination[0] = 0x04;
        parameters.Q.X!.CopyTo(destination[1..]);
        parameters.Q.Y!.CopyTo(destination[33..]);
    }

    /// <summary>Raw ECDH with a peer point; importing the point checks that it lies on the curve.</summary>
    private static byte[] Agree(ECDiffieHellman own, ReadOnlySpan<byte> point)
    {
        if (point.Length != PointSize || point[0] != 0x04) throw new CryptographicException("malformed public key");
        using var peer = ECDiffieHellman.Create(new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256,
            Q = new ECPoint { X = point.Slice(1, 32).ToArray(), Y = point.Slice(33, 32).ToArray() },
        });
        return own.DeriveRawSecretAgreement(peer.PublicKey);
    }
}
