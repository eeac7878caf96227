using Singularity.Engine;

namespace Singularity.Tests.Transfer;

public sealed class LaneSilenceTimeoutTests
{
    /// <summary>
    /// A lane's TCP user timeout is four times the stall timeout, never below the handshake timeout (the kernel applies
    /// it to the connect as well, and a lane that cannot connect fails the session), and never above what the kernel
    /// takes (a signed 32-bit count of milliseconds).
    /// </summary>
    [Theory]
    [InlineData(30.0, 10.0, 120.0)]
    [InlineData(1.0, 10.0, 10.0)]
    [InlineData(0.1, 0.1, 1.0)]
    [InlineData(2_000_000.0, 10.0, int.MaxValue / 1000.0)]
    public void Is_four_stall_timeouts_within_the_handshake_timeout_and_the_kernels_range(double stallSeconds, double handshakeSeconds, double expectedSeconds)
    {
        var options = new TransferOptions { StallTimeout = TimeSpan.FromSeconds(stallSeconds), HandshakeTimeout = TimeSpan.FromSeconds(handshakeSeconds) };
        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), options.LaneSilenceTimeout);
    }
}
