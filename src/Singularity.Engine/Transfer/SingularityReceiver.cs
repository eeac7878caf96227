using System.Collections.Concurrent;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Security.Cryptography;
using Singularity.Engine.Protocol;
using Singularity.Engine.Security;
using Singularity.Engine.Storage;
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
    // Held while this receiver lives: a second one in the same destination would not share its removal gate.
    private readonly DestinationLock? _destinationLock;
    private readonly ConcurrentDictionary<SessionId, ReceiverSession> _sessions = new();
    private readonly RemovalGate _removals = new();
    private readonly ConcurrentDictionary<Task, bool> _connections = new();
    private readonly CancellationTokenSource _stopping = new();
    private int _handshakes;
    private int _sessionSlots;
    private int _sessionsEnded;
    private readonly ConcurrentDictionary<SessionId, TaskCompletionSource<ReceiverSession?>> _pending = new();
    // Sessions that ended lately, oldest first: a lane of theirs that arrives afterwards (it was still connecting when
    // the session failed) is refused as before but not logged, since the session's end was reported with its reason.
    private readonly ConcurrentDictionary<SessionId, bool> _ended = new();
    private readonly ConcurrentQueue<SessionId> _endedOrder = new();
    private const int EndedSessionsKept = 256;
    // Files all sessions of all receivers in this process have open for writing, and finished files they keep open
    // until their commit: the open-file limit is the process's. Made with the first receiver, which raises that limit
    // first.
    private static readonly Lazy<OpenFileBudget> Holds = new(() => new OpenFileBudget(OpenFileBudget.Within(OpenFileLimit.Current)));
    private static readonly Lazy<OpenFileBudget> Writing = new(() => new OpenFileBudget(OpenFileBudget.ForWritingWithin(OpenFileLimit.Current)));

    /// <summary>Connections holding a handshake slot right now.</summary>
    internal int HandshakesInProgress => Volatile.Read(ref _handshakes);

    private SingularityReceiver(ReceiverOptions options, ILaneListener listener, DestinationLock? destinationLock)
    {
        _options = options;
        _listener = listener;
        _destinationLock = destinationLock;
        LocalEndPoint = (IPEndPoint)listener.LocalEndPoint;
        Url = new ConnectionUrl(AdvertisedHost(options.Listen.Address, LocalEndPoint.Address), LocalEndPoint.Port, options.Token);
    }

    /// <summary>The bound address, with the real port when port 0 was asked for.</summary>
    public IPEndPoint LocalEndPoint { get; }

    /// <summary>The URL a sender passes to <c>sglty send --to</c>.</summary>
    public ConnectionUrl Url { get; }

    /// <summary>Raised when a session starts, with its id and the sender's address.</summary>
    public event Action<string, string>? SessionStarted;

    /// <summary>Raised when a session ends, successfully or not.</summary>
    /// <remarks>An error's message may quote the sender (its reason, a path it sent) with any characters, control characters too: replace those before writing it to a terminal, as `sglty` does.</remarks>
    public event Action<ReceiveResult>? SessionCompleted;

    /// <summary>Raised when a connection is refused before it joined a session (bad magic, wrong version, timeout).</summary>
    /// <remarks>The reason may quote the peer; see <see cref="SessionCompleted"/>.</remarks>
    public event Action<string>? ConnectionRejected;

    /// <summary>Checks the destination and binds the listening socket; throws a <see cref="SingularityException"/> with a one-line reason on failure.</summary>
    public static SingularityReceiver Start(ReceiverOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Transfer.Validate();
        string directory = Path.GetFullPath(options.Directory);
        if (File.Exists(directory))
            throw new SingularityException(ErrorCode.BadPath, $"destination '{directory}' is a file, not a directory; choose another destination");
        bool created = !Directory.Exists(directory);
        try
        {
            CreatePrivately(directory);
            string probe = Path.Combine(directory, $".sglty-probe-{Environment.ProcessId}-{Guid.NewGuid():N}");
            if (options.ProbeDirectory) using (File.Create(probe, 1, FileOptions.DeleteOnClose)) { }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // In words of the error, not .NET's (which name the probe file this side made up).
            string why = ex is FileNotFoundException or DirectoryNotFoundException ? "it cannot hold files" : StorageErrors.Why(ex);
            // Not there, and not made: the directory above is what refused.
            if (created && !Directory.Exists(directory))
                throw new SingularityException(ErrorCode.IoError, $"destination '{directory}' does not exist and cannot be created ({why}); create it first, or choose another destination", ex);
            throw new SingularityException(ErrorCode.IoError, $"destination '{directory}' is not writable ({why}); choose another destination or fix its permissions", ex);
        }
        var transport = new TcpTransport(options.Transfer.SocketBufferSize, options.Transfer.CongestionControl);
        DestinationLock? held = null;
        try
        {
            held = options.DryRunsOnly ? null : DestinationLock.Take(directory);
            var listener = transport.Listen(options.Listen);
            return new SingularityReceiver(options with { Directory = directory }, listener, held);
        }
        catch
        {
            held?.Dispose();
            // A receiver that could not listen leaves no destination of its own making behind (still empty).
            if (created)
            {
                try { Directory.Delete(directory); }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { }
            }
            throw;
        }
    }

    /// <summary>
    /// Creates a missing destination readable and writable by its owner alone (0700), as docs/SECURITY.md advises:
    /// other local users must not reach inside it, whatever modes senders give what they send. Missing parents get
    /// the usual mode; an existing destination keeps its own.
    /// </summary>
    private static void CreatePrivately(string directory)
    {
        if (Directory.Exists(directory) || OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(directory);
            return;
        }
        // Of "dst/", the parent is "dst" itself, which would then be made with the usual mode.
        if (Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(directory)) is { } parent) Directory.CreateDirectory(parent);
        Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    private static readonly TimeSpan AcceptPause = TimeSpan.FromMilliseconds(100);

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
                catch (SocketException ex) when (ex.SocketErrorCode is SocketError.TooManyOpenSockets or SocketError.NoBufferSpaceAvailable)
                {
                    // Out of descriptors or memory, accepting again at once would fail at once: wait for sessions to give some back.
                    try { await Task.Delay(AcceptPause, linked.Token).ConfigureAwait(false); }
                    catch (OperationCanceledException) { break; }
                    continue;
                }
                // A connection lost before it was accepted, or whose socket options could not be set, is dropped.
                catch (Exception ex) when (ex is SocketException or SingularityException) { continue; }
                var task = Task.Run(() => HandleConnectionAsync(connection));
                _connections[task] = true;
                _ = task.ContinueWith(t => _connections.TryRemove(t, out _), TaskScheduler.Default);
            }
        }
        finally
        {
            // Handshakes in progress watch this too; the source is left undisposed so a late disposal cannot race it.
            await _stopping.CancelAsync().ConfigureAwait(false);
            foreach (var session in _sessions.Values) session.Cancel();
            await Task.WhenAll(_connections.Keys).ConfigureAwait(false);
        }
    }

    private async Task HandleConnectionAsync(ILaneConnection connection)
    {
        string remote = connection.RemoteEndPoint?.ToString() ?? "unknown";
        bool handedOver = false;
        // Every connection holds a slot until it is refused, handed over or closed, a refused one included: a slot
        // taken and never given back would leave the receiver refusing everyone once enough had been refused.
        bool handshaking = true;
        bool overLimit = Interlocked.Increment(ref _handshakes) > _options.Transfer.Limits.MaxHandshakes;
        try
        {
            if (overLimit)
            {
                Reject(remote, "too many connections in their handshake");
                return;
            }
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
            timeout.CancelAfter(_options.Transfer.HandshakeTimeout);
            byte[] helloBytes = new byte[Hello.Size];
            if (!await ReadOrTimeOutAsync(connection, helloBytes, remote, timeout.Token).ConfigureAwait(false)) return;
            if (!Hello.TryRead(helloBytes, out var hello, out string? error))
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
            if (hello.AuthMethod != Handshake.Method)
            {
                await ReplyAsync(connection, ErrorCode.AuthFailed, default, "missing token: this receiver requires one; use the whole URL it printed (sglty://HOST:PORT/?token=...)").ConfigureAwait(false);
                Reject(remote, "no token");
                return;
            }
            int expected = hello.Role == ConnectionRole.Control ? Handshake.ClientAuthSize : Handshake.LaneAuthSize;
            if (hello.AuthLength != expected)
            {
                Reject(remote, $"authentication data of {hello.AuthLength} bytes, expected {expected}");
                return;
            }
            byte[] auth = new byte[expected];
            if (!await ReadOrTimeOutAsync(connection, auth, remote, timeout.Token).ConfigureAwait(false)) return;

            if (hello.Role == ConnectionRole.Control)
            {
                var accepted = await AcceptControlAsync(connection, helloBytes, auth, remote, timeout.Token).ConfigureAwait(false);
                if (accepted is null) return;
                Interlocked.Decrement(ref _handshakes);
                handshaking = false;
                handedOver = true;
                await RunSessionAsync(connection, remote, accepted.Value.Id, accepted.Value.Keys, hello.Capabilities).ConfigureAwait(false);
            }
            else
            {
                string? reason = "unknown session; the receiver may have restarted";
                // The pending handshakes first: a session joins the running ones before it leaves them, so a lane that
                // finds it in neither (looked up in this order) came for a session that is not there.
                ReceiverSession? session;
                if (_pending.TryGetValue(hello.Session, out var waiting))
                {
                    try { session = await waiting.Task.WaitAsync(timeout.Token).ConfigureAwait(false); }
                    catch (OperationCanceledException) { session = null; }
                }
                else
                {
                    _sessions.TryGetValue(hello.Session, out session);
                }
                bool known = session is not null;
                bool proven = known && CryptographicOperations.FixedTimeEquals(session!.Keys.LaneBinder(helloBytes), auth);
                if (known && !proven) reason = "lane not authenticated";
                if (!proven || !session!.TryJoin(connection, hello.Lane, out reason))
                {
                    reason ??= "lane refused";
                    // An unknown session, or one that takes no more lanes right now, is reported as lost: the sender
                    // reconnects and resumes rather than giving up. Only a lane that fails its proof is an auth failure.
                    await ReplyAsync(connection, known && !proven ? ErrorCode.AuthFailed : ErrorCode.ConnectionLost, hello.Session, reason).ConfigureAwait(false);
                    if (known || !_ended.ContainsKey(hello.Session)) Reject(remote, $"lane refused: {reason}");
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
            if (handshaking) Interlocked.Decrement(ref _handshakes);
            if (!handedOver) await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Checks the sender's proof of the token before anything else, picks the cipher, answers with this side's key
    /// share and Finished, and waits for the sender's Finished. Null when the connection was refused.
    /// </summary>
    private async Task<(SessionId Id, SessionKeys Keys)?> AcceptControlAsync(ILaneConnection connection, byte[] hello, byte[] auth, string remote, CancellationToken timeout)
    {
        if (!Handshake.VerifyBinder(hello, auth, _options.Token))
        {
            await ReplyAsync(connection, ErrorCode.AuthFailed, default, "wrong token: this receiver holds another one; use the URL it printed").ConfigureAwait(false);
            Reject(remote, "wrong token");
            return null;
        }
        var requested = Handshake.RequestedCipher(auth);
        string? refusal = requested switch
        {
            CipherSuite.None when _options.Transfer.Cipher != CipherSuite.None => "this receiver requires encryption; the sender asked for none: send with --encrypt aes-256-gcm (the default), or start the receiver with --encrypt none",
            CipherSuite.ChaCha20Poly1305 when !ChaCha20Poly1305.IsSupported => "this receiver's platform has no ChaCha20-Poly1305; use aes-256-gcm",
            CipherSuite.None or CipherSuite.Aes256Gcm or CipherSuite.ChaCha20Poly1305 => null,
            _ => $"unknown cipher {(byte)requested}",
        };
        if (refusal is not null)
        {
            await ReplyAsync(connection, ErrorCode.AuthFailed, default, refusal).ConfigureAwait(false);
            Reject(remote, refusal);
            return null;
        }
        // A first look only: the slot is taken after the sender's Finished, so a replayed first flight holds none.
        if (Volatile.Read(ref _sessionSlots) >= _options.Transfer.Limits.MaxSessions)
        {
            await ReplyAsync(connection, ErrorCode.Busy, default, $"the receiver already serves as many sessions as it may ({_options.Transfer.Limits.MaxSessions}); try again later").ConfigureAwait(false);
            Reject(remote, "too many sessions");
            return null;
        }
        if (_removals.Removing)
        {
            await ReplyAsync(connection, ErrorCode.Busy, default, "the receiver is removing directories for another send; try again shortly").ConfigureAwait(false);
            Reject(remote, "a session is removing directories in the destination");
            return null;
        }
        bool admitted = false;
        SessionId? pendingId = null;
        try
        {
            var id = SessionId.NewRandom();
            // Lanes may reach this receiver before the sender's Finished does: they wait for the session here.
            _pending[id] = new TaskCompletionSource<ReceiverSession?>(TaskCreationOptions.RunContinuationsAsynchronously);
            pendingId = id;
            byte[] reply = new byte[HelloReply.Size];
            new HelloReply(ErrorCode.None, id, capabilities: _options.Capabilities, authLength: Handshake.ServerAuthSize).WriteTo(reply);
            var (serverAuth, pending) = Handshake.ServerRespond(hello, auth, reply, _options.Token, requested);
            await connection.WriteAsync(reply, timeout).ConfigureAwait(false);
            await connection.WriteAsync(serverAuth, timeout).ConfigureAwait(false);
            byte[] finished = new byte[Handshake.MacSize];
            if (!await ReadOrTimeOutAsync(connection, finished, remote, timeout).ConfigureAwait(false)) return null;
            if (!pending.VerifyClientFinished(finished))
            {
                // Only a peer without the sender's ephemeral key gets here, for example one replaying a recorded session.
                Reject(remote, "handshake failed: the sender's Finished does not match");
                return null;
            }
            if (Interlocked.Increment(ref _sessionSlots) > _options.Transfer.Limits.MaxSessions)
            {
                Interlocked.Decrement(ref _sessionSlots);
                Reject(remote, "too many sessions");
                return null;
            }
            // Closed without a word: the sender takes it for a lost connection, and retries once the removal is over.
            if (!_removals.TryEnter())
            {
                Interlocked.Decrement(ref _sessionSlots);
                Reject(remote, "a session is removing directories in the destination; the sender will retry");
                return null;
            }
            admitted = true;
            return (id, pending.Keys);
        }
        finally
        {
            if (!admitted)
            {
                if (pendingId is { } id && _pending.TryRemove(id, out var waiting)) waiting.TrySetResult(null);
            }
        }
    }

    private async Task<bool> ReadOrTimeOutAsync(ILaneConnection connection, byte[] buffer, string remote, CancellationToken timeout)
    {
        try
        {
            if (await connection.ReadExactlyOrEndAsync(buffer, timeout).ConfigureAwait(false)) return true;
            Reject(remote, "closed during the handshake");
        }
        catch (OperationCanceledException)
        {
            Reject(remote, "no complete handshake within the timeout");
        }
        return false;
    }

    private async Task RunSessionAsync(ILaneConnection connection, string remote, SessionId id, SessionKeys keys, uint senderCapabilities)
    {
        bool patches = (senderCapabilities & WireFormat.CapabilityPatches) != 0;
        var session = new ReceiverSession(id, _options, remote, keys, Holds.Value, Writing.Value, _removals)
        {
            SenderTakesPatches = patches,
            SenderTakesSumsAlone = patches && (senderCapabilities & WireFormat.CapabilitySumsAlone) != 0,
        };
        bool added = _sessions.TryAdd(session.Id, session);
        if (_pending.TryRemove(id, out var waiting)) waiting.TrySetResult(added ? session : null);
        if (!added)
        {
            _removals.Leave();
            Interlocked.Decrement(ref _sessionSlots);
            return;
        }
        try
        {
            if (_stopping.IsCancellationRequested) session.Cancel();
            SessionStarted?.Invoke(session.Id.ToString(), remote);
            var result = await session.RunAsync(connection).ConfigureAwait(false);
            SessionCompleted?.Invoke(result);
        }
        finally
        {
            // Known as ended before it is gone from the running ones, so no lane finds it in neither.
            if (_ended.TryAdd(session.Id, true)) _endedOrder.Enqueue(session.Id);
            while (_endedOrder.Count > EndedSessionsKept && _endedOrder.TryDequeue(out var oldest)) _ended.TryRemove(oldest, out _);
            _sessions.TryRemove(session.Id, out _);
            if (!session.LeftRemovalGate) _removals.Leave();
            int ended = Interlocked.Increment(ref _sessionsEnded);
            if (Interlocked.Decrement(ref _sessionSlots) == 0 && _options.ReturnMemoryWhenIdle) _ = ReturnMemoryWhenIdleAsync(ended);
        }
    }

    /// <summary>
    /// <see cref="ReceiverOptions.ReturnMemoryWhenIdle"/> (measured: RSS 235-253 MB after a session of 200,000 files,
    /// 19 MB after this). Not at once: the ended session's connections and tasks let go of it only shortly after it
    /// reports (a collection at once found 107 MiB still reachable, one 2 s later 1 MiB).
    /// </summary>
    private async Task ReturnMemoryWhenIdleAsync(int ended)
    {
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(1), _stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        // Another session that ran meanwhile restarted the wait with its own end.
        if (Volatile.Read(ref _sessionsEnded) == ended && Volatile.Read(ref _sessionSlots) == 0 && GC.GetTotalMemory(forceFullCollection: false) > LargeHeapBytes)
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
    }

    private const long LargeHeapBytes = 64L << 20;

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
        if (!_stopping.IsCancellationRequested) await _stopping.CancelAsync().ConfigureAwait(false);
        await _listener.DisposeAsync().ConfigureAwait(false);
        foreach (var session in _sessions.Values) session.Cancel();
        await Task.WhenAll(_connections.Keys).ConfigureAwait(false);
        _destinationLock?.Dispose();
    }
}
