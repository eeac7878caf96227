using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Singularity.Engine;
using Singularity.Engine.Protocol;
using Singularity.Engine.Security;

namespace Singularity.Tests.Support;

/// <summary>
/// A hand-driven receiver over real sockets, for answering a real sender with what a well-behaved receiver never
/// would. It completes the real handshake of each control connection (plaintext, so tests can read and write
/// messages by hand), answers every lane that joins, and records the shard frames the lanes carry.
/// </summary>
public sealed class RawReceiver : IAsyncDisposable
{
    private const string Token = "raw-receiver-token";
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new(TimeSpan.FromMinutes(2));
    private readonly List<Task> _lanes = [];
    private readonly Channel<(TcpClient Client, byte[] Hello)> _controls = Channel.CreateUnbounded<(TcpClient, byte[])>();
    private readonly Task _accepting;
    private int _controlConnections;
    private TcpClient? _control;
    private NetworkStream _stream = null!;

    public RawReceiver()
    {
        _listener.Start();
        _accepting = AcceptConnectionsAsync();
    }

    public ConnectionUrl Url => new("127.0.0.1", ((IPEndPoint)_listener.LocalEndpoint).Port, Token);

    /// <summary>Control connections made so far: one per session the sender started.</summary>
    public int ControlConnections => Volatile.Read(ref _controlConnections);

    /// <summary>Keeps each lane open after the sender ends its stream, until disposal, as a path that went silent would: the sender hears nothing, not even the close.</summary>
    public bool HoldLanesOpen { get; init; }

    /// <summary>What its HelloReply tells the sender it takes (PROTOCOL §2.2): none, as a receiver from before them, unless given.</summary>
    public uint Capabilities { get; init; }

    /// <summary>The control HelloReply (48 bytes) and what follows it, of a test's making, in place of an acceptance (PROTOCOL §2.2).</summary>
    internal Func<(byte[] Reply, byte[] After)>? Reply { get; init; }

    /// <summary>The shard frames every lane carried, in the order each lane read them.</summary>
    internal ConcurrentQueue<ShardHeader> Shards { get; } = new();

    /// <summary>
    /// Takes the next control connection (a sender's next session) and completes its handshake; answering in another
    /// protocol <paramref name="version"/>, it waits for no Finished, which a sender of this version never sends.
    /// </summary>
    public async Task AcceptAsync(ushort version = WireFormat.Version)
    {
        byte[] hello;
        (_control, hello) = await _controls.Reader.ReadAsync(_stop.Token);
        _stream = _control.GetStream();
        byte[] clientAuth = new byte[Handshake.ClientAuthSize];
        await _stream.ReadExactlyAsync(clientAuth, _stop.Token);
        Assert.True(Handshake.VerifyBinder(hello, clientAuth, Token));
        byte[] reply = new byte[HelloReply.Size];
        new HelloReply(ErrorCode.None, SessionId.NewRandom(), Capabilities, version, Handshake.ServerAuthSize).WriteTo(reply);
        if (Reply is not null)
        {
            // A reply of the test's making: one that accepts goes on with the handshake (its transcript holds it as
            // written), any other is written alone, with what the test has follow it.
            (reply, byte[] after) = Reply();
            if (!HelloReply.TryRead(reply, out var made, out _) || made.Status != ErrorCode.None || made.Version != WireFormat.Version || made.AuthLength != Handshake.ServerAuthSize)
            {
                await _stream.WriteAsync(reply.Concat(after).ToArray(), _stop.Token);
                return;
            }
        }
        var (serverAuth, pending) = Handshake.ServerRespond(hello, clientAuth, reply, Token, CipherSuite.None);
        await _stream.WriteAsync(reply.Concat(serverAuth).ToArray(), _stop.Token);
        if (version != WireFormat.Version) return;
        byte[] finished = new byte[Handshake.MacSize];
        await _stream.ReadExactlyAsync(finished, _stop.Token);
        Assert.True(pending.VerifyClientFinished(finished));
    }

    /// <summary>Closes the current control connection, as a receiver that went away.</summary>
    public void DropSession() => _control?.Dispose();

    /// <summary>Reads each connection's Hello: a control connection waits for <see cref="AcceptAsync"/>, a lane is served at once.</summary>
    private async Task AcceptConnectionsAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                byte[] hello = new byte[Hello.Size];
                try
                {
                    await client.GetStream().ReadExactlyAsync(hello, _stop.Token);
                }
                catch (Exception ex) when (ex is EndOfStreamException or IOException)
                {
                    client.Dispose();
                    continue;
                }
                Assert.True(Hello.TryRead(hello, out var parsed, out string? error), error);
                if (parsed.Role == ConnectionRole.Control)
                {
                    Interlocked.Increment(ref _controlConnections);
                    await _controls.Writer.WriteAsync((client, hello), _stop.Token);
                }
                else lock (_lanes) _lanes.Add(ServeLaneAsync(client, parsed.Session));
            }
        }
        // Disposal cancels, then stops the listener: the loop may meet either first (a stopped listener refuses to accept).
        catch (Exception) when (_stop.IsCancellationRequested) { }
    }

    /// <summary>Answers a lane's Hello (its binder is not checked), then reads its shard frames until it ends.</summary>
    private async Task ServeLaneAsync(TcpClient lane, SessionId session)
    {
        using (lane)
        {
            try
            {
                var stream = lane.GetStream();
                await stream.ReadExactlyAsync(new byte[Handshake.LaneAuthSize], _stop.Token);
                byte[] reply = new byte[HelloReply.Size];
                new HelloReply(ErrorCode.None, session).WriteTo(reply);
                await stream.WriteAsync(reply, _stop.Token);
                byte[] header = new byte[ShardHeader.Size];
                while (true)
                {
                    await stream.ReadExactlyAsync(header, _stop.Token);
                    Assert.True(ShardHeader.TryRead(header, out var shard, out string? error), error);
                    await stream.ReadExactlyAsync(new byte[shard.PayloadLength], _stop.Token);
                    Shards.Enqueue(shard);
                }
            }
            catch (EndOfStreamException) when (HoldLanesOpen)
            {
                try { await Task.Delay(Timeout.Infinite, _stop.Token); }
                catch (OperationCanceledException) { }
            }
            catch (Exception ex) when (ex is EndOfStreamException or IOException or OperationCanceledException) { }
        }
    }

    /// <summary>Waits until every lane that joined has ended its stream, so <see cref="Shards"/> holds all they carried.</summary>
    internal Task LanesEndedAsync()
    {
        lock (_lanes) return Task.WhenAll([.. _lanes]);
    }

    /// <summary>Reads control messages until one of <paramref name="type"/> arrives and returns its body; null if the sender ended the stream first.</summary>
    internal Task<byte[]?> ReadUntilAsync(ControlMessageType type) => ControlMessages.ReadUntilAsync(_stream, type, _stop.Token);

    internal Task SendAsync(ControlMessageType type, byte[] body) => ControlMessages.WriteAsync(_stream, type, body, _stop.Token);

    /// <summary>Writes bytes as they are on the control connection: a header of a test's own making, say.</summary>
    internal async Task SendRawAsync(byte[] bytes) => await _stream.WriteAsync(bytes, _stop.Token);

    /// <summary>Reads the next control message the sender wrote, whatever its type; null once the stream ends (or carries something unreadable).</summary>
    internal async Task<(ControlMessageType Type, byte[] Body)?> ReadNextAsync()
    {
        byte[] header = new byte[ControlHeader.Size];
        try
        {
            await _stream.ReadExactlyAsync(header, _stop.Token);
            if (!ControlHeader.TryRead(header, new ProtocolLimits().MaxControlMessageBytes, out var type, out int length, out _)) return null;
            byte[] body = new byte[length];
            await _stream.ReadExactlyAsync(body, _stop.Token);
            return (type, body);
        }
        catch (Exception ex) when (ex is EndOfStreamException or IOException or ObjectDisposedException or OperationCanceledException) { return null; }
    }

    /// <summary>
    /// Sends several messages in one write, for a test whose sender may refuse the first and close at once: a second
    /// write of its own could then meet the reset, while one write has already left whole.
    /// </summary>
    internal async Task SendTogetherAsync(params (ControlMessageType Type, byte[] Body)[] messages) =>
        await _stream.WriteAsync(messages.SelectMany(message => ControlMessages.Encode(message.Type, message.Body)).ToArray(), _stop.Token);

    /// <summary>
    /// Waits for the sender's Finish and answers it with SessionDone for <paramref name="files"/> files of
    /// <paramref name="bytes"/> bytes (and <paramref name="deleted"/> entries deleted; with
    /// <paramref name="leftByLimit"/>, the 28 bytes of a session with most deletions; and its <paramref name="flags"/>).
    /// </summary>
    internal async Task EndSessionAsync(int files, long bytes, int deleted = 0, int? leftByLimit = null, int flags = 0)
    {
        Assert.NotNull(await ReadUntilAsync(ControlMessageType.Finish));
        byte[] done = new byte[leftByLimit is null ? 24 : 28];
        BinaryPrimitives.WriteInt32LittleEndian(done.AsSpan(20), flags);
        if (leftByLimit is { } left) BinaryPrimitives.WriteInt32LittleEndian(done.AsSpan(24), left);
        BinaryPrimitives.WriteInt32LittleEndian(done, files);
        BinaryPrimitives.WriteInt32LittleEndian(done.AsSpan(4), deleted);
        BinaryPrimitives.WriteInt64LittleEndian(done.AsSpan(8), bytes);
        await SendAsync(ControlMessageType.SessionDone, done);
    }

    /// <summary>A body of 32-bit little-endian fields, one after another (a nack: file, shard, code).</summary>
    internal static byte[] Fields(params uint[] fields)
    {
        byte[] body = new byte[fields.Length * 4];
        for (int i = 0; i < fields.Length; i++) BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(i * 4), fields[i]);
        return body;
    }

    /// <summary>A batched message's body: the count, then each item's fields.</summary>
    internal static byte[] Batch(params uint[][] items) => Fields([(uint)items.Length, .. items.SelectMany(item => item)]);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        _control?.Dispose();
        while (_controls.Reader.TryRead(out var waiting)) waiting.Client.Dispose();
        await _accepting;
        await LanesEndedAsync();
        _stop.Dispose();
    }
}
