using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Singularity.Engine;

namespace Singularity.Tests.Support;

/// <summary>
/// A real TCP relay between a sender and a receiver on loopback that records what the sender writes and can damage
/// it in flight: <see cref="Tamper"/> sees every byte going to the receiver with its connection number and offset.
/// </summary>
public sealed class TcpRelay : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly IPEndPoint _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private readonly ConcurrentBag<Task> _pumps = [];
    private int _connections;

    public TcpRelay(ConnectionUrl target)
    {
        _target = new IPEndPoint(IPAddress.Parse(target.Host), target.Port);
        Url = target with { Port = 0 };
        _listener.Start();
        Url = target with { Port = ((IPEndPoint)_listener.LocalEndpoint).Port };
        _accepting = AcceptAsync();
    }

    /// <summary>The relay's address, with the receiver's token.</summary>
    public ConnectionUrl Url { get; }

    /// <summary>Everything each connection sent towards the receiver, by connection number (0 is the first, the control connection).</summary>
    public ConcurrentDictionary<int, MemoryStream> Recorded { get; } = new();

    /// <summary>Optional cut: (connection, bytes forwarded so far) → true to reset both sides of that connection.</summary>
    public Func<int, long, bool>? Cut { get; set; }

    /// <summary>Optional stall: (connection, bytes forwarded so far) → true to drop that chunk and keep the connection open. The relay still reads, so the sender's kernel sees its bytes acknowledged: only the sender's own watchdog can notice.</summary>
    public Func<int, long, bool>? Stall { get; set; }

    /// <summary>
    /// Optional black hole: (connection, bytes forwarded so far) → true to stop forwarding that connection and have this
    /// side's kernel drop every segment the sender sends on it from then on, unacknowledged, as on a path that went
    /// silent (Linux: a socket filter that drops everything).
    /// </summary>
    public Func<int, long, bool>? Blackhole { get; set; }

    /// <summary>Connections cut so far.</summary>
    public int CutCount => _cuts;

    private int _cuts;

    /// <summary>Optional hold: (connection, bytes forwarded so far) → a task that must complete before that chunk goes on towards the receiver.</summary>
    public Func<int, long, Task>? Hold { get; set; }

    /// <summary>
    /// Rewrites <paramref name="path"/> in place with other bytes of its length and a later modification time, once, as
    /// the first bytes of the send pass (those of the control connection): after the sender's scan, before any read.
    /// </summary>
    public void RewriteOnceAfterScan(string path)
    {
        long length = new FileInfo(path).Length;
        var scanned = File.GetLastWriteTimeUtc(path);
        OnceAfterScan(() =>
        {
            TestFiles.Create(path, length, seed: 5);
            File.SetLastWriteTimeUtc(path, scanned.AddSeconds(1));
        });
    }

    /// <summary>Renames another file of <paramref name="length"/> bytes over <paramref name="path"/> (as editors save), once, after the sender's scan, before any read.</summary>
    public void ReplaceOnceAfterScan(string path, long length) =>
        OnceAfterScan(() => File.Move(TestFiles.Create(path + ".new", length, seed: 6), path, overwrite: true));

    /// <summary>Runs <paramref name="change"/> once, as the first bytes of the send pass (those of the control connection).</summary>
    private void OnceAfterScan(Action change)
    {
        int changed = 0;
        Hold = (_, _) =>
        {
            if (Interlocked.Exchange(ref changed, 1) == 0) change();
            return Task.CompletedTask;
        };
    }

    /// <summary>Optional damage: (connection, offset in that connection, byte) → byte to forward.</summary>
    public Func<int, long, byte, byte>? Tamper { get; set; }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_stop.Token); }
            catch (Exception) { return; }
            int number = Interlocked.Increment(ref _connections) - 1;
            _pumps.Add(Task.Run(() => RelayAsync(client, number)));
        }
    }

    private readonly ConcurrentBag<Socket> _sockets = [];

    /// <summary>Cuts every connection once, the first time <paramref name="when"/> holds for a chunk (connection, bytes forwarded so far on it): a network that fails once.</summary>
    public void CutAllOnce(Func<int, long, bool> when) =>
        Cut = (connection, forwarded) =>
        {
            if (when(connection, forwarded) && CutCount == 0) CutAll();
            return false;
        };

    /// <summary>Resets every connection relayed so far, as if the network between the two sides failed.</summary>
    public void CutAll()
    {
        Interlocked.Increment(ref _cuts);
        foreach (var socket in _sockets)
        {
            try { socket.Close(0); }
            catch (Exception) { }
        }
    }

    private async Task RelayAsync(TcpClient client, int number)
    {
        using var _ = client;
        using var server = new TcpClient();
        _sockets.Add(client.Client);
        try
        {
            await server.ConnectAsync(_target, _stop.Token);
            _sockets.Add(server.Client);
            var recording = Recorded.GetOrAdd(number, _ => new MemoryStream());
            var up = PumpAsync(client.GetStream(), server.GetStream(), number, recording);
            var down = PumpAsync(server.GetStream(), client.GetStream(), -1, null);
            await Task.WhenAny(up, down);
        }
        catch (Exception) { }
    }

    private async Task PumpAsync(NetworkStream from, NetworkStream to, int number, MemoryStream? recording)
    {
        byte[] buffer = new byte[64 << 10];
        long offset = 0;
        try
        {
            while (true)
            {
                int read = await from.ReadAsync(buffer, _stop.Token);
                if (read == 0) break;
                if (recording is not null)
                {
                    lock (recording) recording.Write(buffer, 0, read);
                    if (Tamper is { } tamper)
                        for (int i = 0; i < read; i++) buffer[i] = tamper(number, offset + i, buffer[i]);
                }
                if (recording is not null && Stall is { } stall && stall(number, offset + read))
                {
                    offset += read;
                    continue;
                }
                if (recording is not null && Blackhole is { } blackhole && blackhole(number, offset + read))
                {
                    DropEverything(from.Socket);
                    await Task.Delay(Timeout.Infinite, _stop.Token);
                }
                if (recording is not null && Cut is { } cut && cut(number, offset + read))
                {
                    Interlocked.Increment(ref _cuts);
                    from.Socket.Close(0);
                    to.Socket.Close(0);
                    return;
                }
                if (recording is not null && Hold is { } hold) await hold(number, offset + read).WaitAsync(_stop.Token);
                offset += read;
                await to.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
            }
            to.Socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception)
        {
            from.Socket.Close(0);
            to.Socket.Close(0);
        }
    }

    /// <summary>Attaches the classic BPF program "ret #0": the kernel drops each arriving segment before TCP sees it, so none is acknowledged.</summary>
    private static void DropEverything(Socket socket)
    {
        // struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }: code 0x06 is BPF_RET | BPF_K, and k = 0 keeps no byte.
        ulong[] program = [0x06];
        var pinned = System.Runtime.InteropServices.GCHandle.Alloc(program, System.Runtime.InteropServices.GCHandleType.Pinned);
        try
        {
            // struct sock_fprog { u16 len; struct sock_filter *filter; }: the kernel copies the program.
            byte[] fprog = new byte[16];
            BitConverter.TryWriteBytes(fprog, (ushort)1);
            BitConverter.TryWriteBytes(fprog.AsSpan(8), pinned.AddrOfPinnedObject().ToInt64());
            socket.SetRawSocketOption(1 /* SOL_SOCKET */, 26 /* SO_ATTACH_FILTER */, fprog);
        }
        finally
        {
            pinned.Free();
        }
    }

    public byte[] RecordedBytes(int connection)
    {
        var stream = Recorded[connection];
        lock (stream) return stream.ToArray();
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        await Task.WhenAll(_pumps);
    }
}
