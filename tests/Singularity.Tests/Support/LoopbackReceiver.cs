using System.Collections.Concurrent;
using System.Net;
using Singularity.Engine;

namespace Singularity.Tests.Support;

/// <summary>A real receiver on 127.0.0.1 with a free port, collecting the results of its sessions.</summary>
public sealed class LoopbackReceiver : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _run;
    private readonly ConcurrentQueue<ReceiveResult> _results = new();
    private readonly SemaphoreSlim _completed = new(0);

    // slowFlush: how long a flush must take on average before it goes to the flush threads; zero sends every one there.
    // listen and token: those of a receiver started again in its place.
    public LoopbackReceiver(string directory, TransferOptions? transfer = null, TimeSpan? slowFlush = null, IPEndPoint? listen = null, string? token = null, Func<ReceiverOptions, ReceiverOptions>? adjust = null)
    {
        var options = new ReceiverOptions
        {
            Directory = directory,
            Listen = listen ?? new IPEndPoint(IPAddress.Loopback, 0),
            Transfer = transfer ?? new TransferOptions(),
        };
        if (token is not null) options = options with { Token = token };
        if (adjust is not null) options = adjust(options);
        Receiver = SingularityReceiver.Start(slowFlush is { } slow ? options with { SlowFlush = slow } : options);
        Receiver.SessionCompleted += result =>
        {
            _results.Enqueue(result);
            _completed.Release();
        };
        Receiver.ConnectionRejected += reason => Rejected.Enqueue(reason);
        _run = Receiver.RunAsync(_stop.Token);
    }

    public SingularityReceiver Receiver { get; }
    public ConnectionUrl Url => new("127.0.0.1", Receiver.LocalEndPoint.Port, Receiver.Url.Token);
    public ConcurrentQueue<string> Rejected { get; } = new();
    public string Token => Receiver.Url.Token!;

    /// <summary>Waits for the next finished session; the long timeout only guards against a hung test, it measures nothing.</summary>
    public async Task<ReceiveResult> NextResultAsync()
    {
        Assert.True(await _completed.WaitAsync(TimeSpan.FromMinutes(2)), "no session completed");
        Assert.True(_results.TryDequeue(out var result));
        return result;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Receiver.DisposeAsync();
        await _run;
    }
}
