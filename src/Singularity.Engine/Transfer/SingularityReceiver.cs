using System.Collections.Concurrent;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Singularity.Engine.Protocol;
using Singularity.Engine.Transfer;
using Singularity.Engine.Transport;

namespace Singularity.Engine;

/// <summary>
/// Listens on one port and serves any number of sessions at once, each confined to the destination directory.
/// A client that speaks garbage, times out or breaks the protocol loses its own connection; others go on.
/// </summary>
public sealed class SingularityReceiver : IAsyncDisposable
{
    private readonly ReceiverOptions _options;
    private readonly ILaneListener _listener;
    private readonly ConcurrentDictionary<SessionId, ReceiverSession> _sessions = new();
    private readonly ConcurrentDictionary<Task, bool> _connections = new();
    private readonly CancellationTokenSource _stopping = new();
    private int _sessionCount;

    private SingularityReceiver(ReceiverOptions options, ILaneListener listener)
    {
        _options = options;
        _listener = listener;
        LocalEndPoint = (IPEndPoint)listener.LocalEndPoint;
        Url = new ConnectionUrl(AdvertisedHost(options.Listen.Address, LocalEndPoint.Address), LocalEndPoint.Port);
    }

    /// <summary>The bound address, with the real port when port 0 was asked for.</summary>
    public IPEndPoint LocalEndPoint { get; }

    /// <summary>The URL a sender passes to <c>sglty send --to</c>.</summary>
    public ConnectionUrl Url { get; }

    /// <summary>Raised when a session starts, with its id and the sender's address.</summary>
    public event Action<string, string>? SessionStarted;

    /// <summary>Raised when a session ends, successfully or not.</summary>
    public event Action<ReceiveResult>? SessionCompleted;

    /// <summary>Raised when a connection is refused before it joined a session (bad magic, wrong version, timeout).</summary>
    public event Action<string>? ConnectionRejected;

    /// <summary>Checks the destination and binds the listening socket; throws a <see cref="SingularityException"/> with a one-line reason on failure.</summary>
    public static SingularityReceiver Start(ReceiverOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Transfer.Validate();
        string directory = Path.GetFullPath(options.Directory);
        try
        {
            Directory.CreateDirectory(directory);
            string probe = Path.Combine(directory, $".sglty-probe-{Environment.ProcessId}-{Guid.NewGuid():N}");
            using (File.Create(probe, 1, FileOptions.DeleteOnClose)) { }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new SingularityException(ErrorCode.IoError, $"destination '{directory}' is not writable ({ex.Message}); choose another --dir or fix its permissions", ex);
        }
        var transport = new TcpTransport(options.Transfer.SocketBufferSize);
        var listener = transport.Listen(options.Listen);
        return new SingularityReceiver(options with { Directory = directory }, listener);
    }

    /// <summary>Accepts connections until cancelled or disposed, then waits for running sessions to end.</summary>
    public async Task RunAsync(CancellationToken cancellationToken = default)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token);
        try
        {
            while (!linked.IsCancellationRequested)
            {
                ILaneConnection connection;
                try
                {
                    connection = await _listener.AcceptAsync(linked.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) { break; }
                catch (ObjectDisposedException) { break; }
                catch (SocketException) { continue; }
                var task = Task.Run(() => HandleConnectionAsync(connection));
                _connections[task] = true;
                _ = task.ContinueWith(t => _connections.TryRemove(t, out _), TaskScheduler.Default);
            }
        }
        finally
        {
            foreach (var session in _sessions.Values) session.Cancel();
            await Task.WhenAll(_connections.Keys).ConfigureAwait(false);
        }
    }

    private async Task HandleConnectionAsync(ILaneConnection connection)
    {
        string remote = connection.RemoteEndPoint?.ToString() ?? "unknown";
        bool handedOver = false;
        try
        {
            byte[] buffer = new byte[Hello.Size];
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
            timeout.CancelAfter(_options.Transfer.HandshakeTimeout);
            bool complete;
            try
            {
                complete = await connection.ReadExactlyOrEndAsync(buffer, timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                Reject(remote, "no hello within the handshake timeout");
                return;
            }
            if (!complete) { Reject(remote, "closed before its hello"); return; }
            if (!Hello.TryRead(buffer, out var hello, out string? error))
            {
                // Someone speaking another protocol gets nothing back but a closed connection.
                Reject(remote, error!);
                return;
            }
            if (hello.Version != WireFormat.Version)
            {
                await ReplyAsync(connection, ErrorCode.VersionUnsupported, default, $"this receiver speaks SGLTY version {WireFormat.Version}, the sender speaks {hello.Version}; use the same sglty release on both sides").ConfigureAwait(false);
                Reject(remote, $"protocol version {hello.Version}");
                return;
            }
            if (hello.AuthMethod != 0 || hello.AuthLength != 0)
            {
                await ReplyAsync(connection, ErrorCode.AuthFailed, default, "this receiver does not support the requested authentication").ConfigureAwait(false);
                Reject(remote, "unsupported authentication");
                return;
            }
            if (hello.Role == ConnectionRole.Control)
            {
                handedOver = true;
                await RunSessionAsync(connection, remote).ConfigureAwait(false);
            }
            else
            {
                string? reason = "unknown session";
                if (!_sessions.TryGetValue(hello.Session, out var session) || !session.TryJoin(connection, out reason))
                {
                    await ReplyAsync(connection, session is null ? ErrorCode.ProtocolViolation : ErrorCode.LimitExceeded, hello.Session, reason).ConfigureAwait(false);
                    Reject(remote, $"lane refused: {reason}");
                    return;
                }
                handedOver = true;
                await ReplyAsync(connection, ErrorCode.None, hello.Session, null).ConfigureAwait(false);
            }
        }
        catch (Exception ex)
        {
            Reject(remote, ex.Message);
        }
        finally
        {
            if (!handedOver) await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task RunSessionAsync(ILaneConnection connection, string remote)
    {
        if (Interlocked.Increment(ref _sessionCount) > _options.Transfer.Limits.MaxSessions)
        {
            Interlocked.Decrement(ref _sessionCount);
            await ReplyAsync(connection, ErrorCode.Busy, default, $"the receiver already serves {_options.Transfer.Limits.MaxSessions} sessions; try again later").ConfigureAwait(false);
            await connection.DisposeAsync().ConfigureAwait(false);
            Reject(remote, "too many sessions");
            return;
        }
        var session = new ReceiverSession(SessionId.NewRandom(), _options, remote);
        _sessions[session.Id] = session;
        try
        {
            await ReplyAsync(connection, ErrorCode.None, session.Id, null).ConfigureAwait(false);
            SessionStarted?.Invoke(session.Id.ToString(), remote);
            var result = await session.RunAsync(connection).ConfigureAwait(false);
            SessionCompleted?.Invoke(result);
        }
        finally
        {
            _sessions.TryRemove(session.Id, out _);
            Interlocked.Decrement(ref _sessionCount);
        }
    }

    private static async Task ReplyAsync(ILaneConnection connection, ErrorCode status, SessionId session, string? reason)
    {
        byte[] reply = ErrorReply.Build(status, session, reason);
        await connection.WriteAsync(reply).ConfigureAwait(false);
    }

    private void Reject(string remote, string reason) => ConnectionRejected?.Invoke($"{remote}: {reason}");

    /// <summary>What to print in the URL: the listening address, or for a wildcard listener the first non-loopback address.</summary>
    private static string AdvertisedHost(IPAddress requested, IPAddress bound)
    {
        if (!requested.Equals(IPAddress.Any) && !requested.Equals(IPAddress.IPv6Any))
            return bound.IsIPv4MappedToIPv6 ? bound.MapToIPv4().ToString() : bound.ToString();
        try
        {
            foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
            {
                if (nic.OperationalStatus != OperationalStatus.Up || nic.NetworkInterfaceType == NetworkInterfaceType.Loopback) continue;
                foreach (var address in nic.GetIPProperties().UnicastAddresses)
                    if (address.Address.AddressFamily == AddressFamily.InterNetwork)
                        return address.Address.ToString();
            }
        }
        catch (NetworkInformationException) { }
        return Dns.GetHostName();
    }

    /// <summary>Stops accepting, cancels running sessions and waits for them to clean up.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _listener.DisposeAsync().ConfigureAwait(false);
        foreach (var session in _sessions.Values) session.Cancel();
        await Task.WhenAll(_connections.Keys).ConfigureAwait(false);
        _stopping.Dispose();
    }
}
