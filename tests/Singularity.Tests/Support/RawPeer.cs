using System.Buffers.Binary;
using System.Net.Sockets;
using Singularity.Engine;
using Singularity.Engine.Protocol;

namespace Singularity.Tests.Support;

/// <summary>A hand-driven client over a real socket, for sending what a well-behaved sender never would.</summary>
public sealed class RawPeer : IAsyncDisposable
{
    private readonly TcpClient _client = new();
    private NetworkStream _stream = null!;

    public static async Task<RawPeer> ConnectAsync(ConnectionUrl url)
    {
        var peer = new RawPeer();
        await peer._client.ConnectAsync(url.Host, url.Port);
        peer._stream = peer._client.GetStream();
        peer._stream.ReadTimeout = 30_000;
        return peer;
    }

    public NetworkStream Stream => _stream;

    internal async Task<HelloReply> HelloAsync(ConnectionRole role, SessionId session = default, ushort version = WireFormat.Version)
    {
        byte[] hello = new byte[Hello.Size];
        new Hello(role, session, 0, version: version).WriteTo(hello);
        await _stream.WriteAsync(hello);
        byte[] reply = new byte[HelloReply.Size];
        await _stream.ReadExactlyAsync(reply);
        Assert.True(HelloReply.TryRead(reply, out var answer, out string? error), error);
        return answer;
    }

    internal async Task SendControlAsync(ControlMessageType type, byte[] body)
    {
        byte[] message = new byte[ControlHeader.Size + body.Length];
        ControlHeader.Write(message, type, body.Length);
        body.CopyTo(message, ControlHeader.Size);
        ControlHeader.Seal(message);
        await _stream.WriteAsync(message);
    }

    /// <summary>Reads control messages until one of <paramref name="type"/> arrives, or the stream ends (null).</summary>
    internal async Task<byte[]?> ReadUntilAsync(ControlMessageType type)
    {
        byte[] header = new byte[ControlHeader.Size];
        while (true)
        {
            try { await _stream.ReadExactlyAsync(header); }
            catch (EndOfStreamException) { return null; }
            catch (IOException) { return null; }
            int length = BinaryPrimitives.ReadInt32LittleEndian(header);
            byte[] body = new byte[length];
            await _stream.ReadExactlyAsync(body);
            if ((ControlMessageType)header[4] == type) return body;
        }
    }

    internal static byte[] OpenSession(int shardSize, int lanes, int entries, long totalBytes)
    {
        byte[] body = new byte[24];
        BinaryPrimitives.WriteInt32LittleEndian(body, shardSize);
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(4), (ushort)lanes);
        BinaryPrimitives.WriteInt32LittleEndian(body.AsSpan(8), entries);
        BinaryPrimitives.WriteInt64LittleEndian(body.AsSpan(16), totalBytes);
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
    internal async Task<(SessionId Session, ControlMessageType Answer, byte[]? Body)> OpenWithManifestAsync(int shardSize, params ManifestEntry[] entries)
    {
        var reply = await HelloAsync(ConnectionRole.Control);
        Assert.Equal(ErrorCode.None, reply.Status);
        await SendControlAsync(ControlMessageType.OpenSession, OpenSession(shardSize, 1, entries.Length, entries.Sum(e => e.Size)));
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
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Task.Yield();
        _client.Dispose();
    }
}
