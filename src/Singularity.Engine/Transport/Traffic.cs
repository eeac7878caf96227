namespace Singularity.Engine.Transport;

/// <summary>
/// Every byte a side's connections wrote and read, headers, control messages and encryption included: what rsync's
/// --stats calls the total bytes sent and received. Shared by the connections of one session, which count as they go.
/// </summary>
internal sealed class Traffic
{
    private long _written;
    private long _read;

    public long Written => Interlocked.Read(ref _written);

    public long Read => Interlocked.Read(ref _read);

    public void Wrote(int bytes) => Interlocked.Add(ref _written, bytes);

    public void Took(int bytes) => Interlocked.Add(ref _read, bytes);
}
