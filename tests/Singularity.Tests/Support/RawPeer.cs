using System.Buffers.Binary;
using System.Net.Sockets;
using Singularity.Engine;
using Singularity.Engine.Protocol;
using Singularity.Engine.Security;

namespace Singularity.Tests.Support;

/// <summary>A hand-driven client over a real socket, for sending what a well-behaved sender never would.</summary>
public sealed class RawPeer : IAsyncDisposable
{
    private readonly TcpClient _client = new();
    private NetworkStream _stream = null!;

    public static async Task<RawPeer> ConnectAsync(ConnectionUrl url, uint capabilities = 0)
    {
        var peer = new RawPeer { Capabilities = capabilities };
        await peer._client.ConnectAsync(url.Host, url.Port);
        peer._stream = peer._client.GetStream();
        peer._stream.ReadTimeout = 30_000;
        return peer;
    }

    public NetworkStream Stream => _stream;

    /// <summary>The capabilities the control Hello of <see cref="OpenWithMoreFlagsAsync"/> sets; none by default, as a sender before them.</summary>
    internal uint Capabilities { get; init; }

    /// <summary>What the receiver sent before the ManifestAccepted that <see cref="OpenWithMoreFlagsAsync"/> waited for (offers, sums).</summary>
    internal List<(ControlMessageType Type, byte[] Body)> BeforeAcceptance { get; } = [];

    /// <summary>Keys of the control handshake, needed to add lanes to its session.</summary>
    internal SessionKeys? Keys { get; private set; }

    /// <summary>
    /// Completes the real handshake with <paramref name="token"/>, asking for <paramref name="cipher"/> (plaintext by
    /// default so tests can write frames by hand). A data lane needs the <paramref name="keys"/> of its control peer.
    /// </summary>
    internal async Task<HelloReply> HelloAsync(ConnectionRole role, string? token, SessionId session = default, ushort version = WireFormat.Version, SessionKeys? keys = null, ushort lane = 0, CipherSuite cipher = CipherSuite.None, uint capabilities = 0)
    {
        int authLength = token is null ? 0 : role == ConnectionRole.Control ? Handshake.ClientAuthSize : Handshake.LaneAuthSize;
        byte[] hello = new byte[Hello.Size];
        new Hello(role, session, lane, capabilities, authMethod: token is null ? (byte)0 : Handshake.Method, authLength: (uint)authLength, version: version).WriteTo(hello);
        byte[] auth = [];
        System.Security.Cryptography.ECDiffieHellman? ephemeral = null;
        if (token is not null)
        {
            if (role == ConnectionRole.Control) (auth, ephemeral) = Handshake.ClientStart(hello, token, cipher);
            else auth = keys!.LaneBinder(hello);
        }
        await _stream.WriteAsync(hello.Concat(auth).ToArray());
        byte[] reply = new byte[HelloReply.Size];
        await _stream.ReadExactlyAsync(reply);
        Assert.True(HelloReply.TryRead(reply, out var answer, out string? error), error);
        if (answer.Status == ErrorCode.None && role == ConnectionRole.Control && token is not null)
        {
            byte[] serverAuth = new byte[Handshake.ServerAuthSize];
            await _stream.ReadExactlyAsync(serverAuth);
            Assert.True(Handshake.ClientFinish(hello, auth, reply, serverAuth, ephemeral!, token, out var pending));
            await _stream.WriteAsync(pending.ClientFinished);
            Keys = pending.Keys;
        }
        ephemeral?.Dispose();
        return answer;
    }

    /// <summary>Reads the reason that follows a refusing reply.</summary>
    internal async Task<string> ReadRefusalAsync()
    {
        byte[] length = new byte[2];
        await _stream.ReadExactlyAsync(length);
        byte[] text = new byte[BinaryPrimitives.ReadUInt16LittleEndian(length)];
        await _stream.ReadExactlyAsync(text);
        return System.Text.Encoding.UTF8.GetString(text);
    }

    internal Task SendControlAsync(ControlMessageType type, byte[] body) => ControlMessages.WriteAsync(_stream, type, body);

    /// <summary>Reads control messages until one of <paramref name="type"/> arrives, or the stream ends (null).</summary>
    internal async Task<byte[]?> ReadUntilAsync(ControlMessageType type, Action<ControlMessageType>? seen = null)
    {
        // The stream's ReadTimeout covers synchronous reads only: a message that never comes fails the test instead of hanging it.
        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try { return await ControlMessages.ReadUntilAsync(_stream, type, patience.Token, seen); }
        catch (OperationCanceledException) { return null; }
    }

    /// <summary>A directory, "made", for a manifest of one entry that a test sends a message before or after.</summary>
    internal static ManifestEntry MadeDirectory { get; } = new(EntryKind.Directory, "made", 0, (UnixFileMode)0b111_101_101, 0, null);

    /// <summary>
    /// Opens a session of <paramref name="entries"/> declared entries with <paramref name="flags"/>, and sends
    /// <paramref name="type"/> with <paramref name="body"/> (<paramref name="times"/> times) before a manifest chunk
    /// of <see cref="MadeDirectory"/>, or after it: how the messages a sender may send only before the manifest are
    /// tried. Returns the Error that ends the session; fails the test if none comes.
    /// </summary>
    internal async Task<(ErrorCode Code, string Reason)> SendAroundManifestAsync(string token, ControlMessageType type, byte[] body, bool afterTheManifest, ushort flags = 0, int entries = 1, int times = 1)
    {
        Assert.Equal(ErrorCode.None, (await HelloAsync(ConnectionRole.Control, token)).Status);
        await SendControlAsync(ControlMessageType.OpenSession, OpenSession(4096, 1, entries, 0, flags));
        if (afterTheManifest) await SendControlAsync(ControlMessageType.ManifestChunk, Manifest(MadeDirectory));
        for (int i = 0; i < times; i++) await SendControlAsync(type, body);
        if (!afterTheManifest) await SendControlAsync(ControlMessageType.ManifestChunk, Manifest(MadeDirectory));
        byte[]? error = await ReadUntilAsync(ControlMessageType.Error);
        Assert.NotNull(error);
        return ErrorMessage.Decode(error);
    }

    /// <summary>An OpenSession body; with <paramref name="more"/>, the 32-byte one with that second flags field and <paramref name="window"/> (flag bit 15 set).</summary>
    internal static byte[] OpenSession(int shardSize, int lanes, int entries, long totalBytes, ushort flags = 0, int mostDeletions = 0, uint? more = null, int window = 0)
    {
        byte[] body = new byte[more is null ? 24 : 32];
        BinaryPrimitives.WriteInt32LittleEndian(body, shardSize);
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(4), (ushort)lanes);
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(6), (ushort)(flags | (more is null ? 0 : OpenSessionFlags.More)));
        BinaryPrimitives.WriteInt32LittleEndian(body.AsSpan(8), entries);
        BinaryPrimitives.WriteInt32LittleEndian(body.AsSpan(12), mostDeletions);
        BinaryPrimitives.WriteInt64LittleEndian(body.AsSpan(16), totalBytes);
        if (more is { } second)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(24), second);
            BinaryPrimitives.WriteInt32LittleEndian(body.AsSpan(28), window);
        }
        return body;
    }

    internal static byte[] Manifest(params ManifestEntry[] entries)
    {
        byte[] body = new byte[ManifestCodec.ChunkHeaderSize + entries.Sum(ManifestCodec.EncodedSize)];
        BinaryPrimitives.WriteInt32LittleEndian(body, 0);
        BinaryPrimitives.WriteInt32LittleEndian(body.AsSpan(4), entries.Length);
        int offset = ManifestCodec.ChunkHeaderSize;
        foreach (var entry in entries) offset += ManifestCodec.Write(body.AsSpan(offset), entry);
        return body;
    }

    /// <summary>Opens a session with the given manifest and returns the receiver's answer: ManifestAccepted, or the Error body.</summary>
    internal Task<(SessionId Session, ControlMessageType Answer, byte[]? Body)> OpenWithManifestAsync(string token, int shardSize, params ManifestEntry[] entries) =>
        OpenWithManifestAsync(token, shardSize, 0, entries);

    /// <summary>As the overload without them, with OpenSession's <paramref name="flags"/> (such as a deletion asked for).</summary>
    internal Task<(SessionId Session, ControlMessageType Answer, byte[]? Body)> OpenWithManifestAsync(string token, int shardSize, ushort flags, params ManifestEntry[] entries) =>
        OpenWithManifestAsync(token, shardSize, flags, 0, entries);

    /// <summary>As the overload without it, with OpenSession's count field (the most deletions, with flag bit 13).</summary>
    internal Task<(SessionId Session, ControlMessageType Answer, byte[]? Body)> OpenWithManifestAsync(string token, int shardSize, ushort flags, int mostDeletions, params ManifestEntry[] entries) =>
        OpenWithMoreFlagsAsync(token, shardSize, flags, null, mostDeletions, entries);

    /// <summary>As <see cref="OpenWithManifestAsync(string, int, ushort, int, ManifestEntry[])"/>, with OpenSession's second flags field when <paramref name="more"/> is given.</summary>
    internal async Task<(SessionId Session, ControlMessageType Answer, byte[]? Body)> OpenWithMoreFlagsAsync(string token, int shardSize, ushort flags, uint? more, int mostDeletions, params ManifestEntry[] entries)
    {
        var reply = await HelloAsync(ConnectionRole.Control, token, capabilities: Capabilities);
        Assert.Equal(ErrorCode.None, reply.Status);
        await SendControlAsync(ControlMessageType.OpenSession, OpenSession(shardSize, 1, entries.Length, entries.Sum(e => e.Size), flags, mostDeletions, more));
        await SendControlAsync(ControlMessageType.ManifestChunk, Manifest(entries));
        byte[] header = new byte[ControlHeader.Size];
        while (true)
        {
            try { await _stream.ReadExactlyAsync(header); }
            catch (Exception ex) when (ex is EndOfStreamException or IOException) { return (reply.Session, 0, null); }
            byte[] body = new byte[BinaryPrimitives.ReadInt32LittleEndian(header)];
            await _stream.ReadExactlyAsync(body);
            var type = (ControlMessageType)header[4];
            if (type is ControlMessageType.ManifestAccepted or ControlMessageType.Error) return (reply.Session, type, body);
            BeforeAcceptance.Add((type, body));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Task.Yield();
        _client.Dispose();
    }
}
