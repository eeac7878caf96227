namespace Singularity.Engine.Transfer;

/// <summary>
/// The drain control: bounds payload bytes sent but not yet acknowledged by the receiver, so a sender never runs
/// further ahead of verified writes than the window. Waiting allocates only when the window is full.
/// </summary>
internal sealed class InFlightWindow(long capacity)
{
    private readonly long _capacity = capacity;
    private readonly Lock _lock = new();
    private long _available = capacity;
    private TaskCompletionSource? _waiter;

    public ValueTask AcquireAsync(int bytes, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_available >= bytes)
            {
                _available -= bytes;
                return ValueTask.CompletedTask;
            }
        }
        return WaitAsync(bytes, cancellationToken);
    }

    private async ValueTask WaitAsync(int bytes, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task wait;
            lock (_lock)
            {
                if (_available >= bytes)
                {
                    _available -= bytes;
                    return;
                }
                _waiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                wait = _waiter.Task;
            }
            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public void Release(int bytes)
    {
        TaskCompletionSource? waiter;
        lock (_lock)
        {
            // Credit for a copy that was already given back when its lane died must not grow the window.
            _available = Math.Min(_available + bytes, _capacity);
            waiter = _waiter;
            _waiter = null;
        }
        waiter?.TrySetResult();
    }
}
