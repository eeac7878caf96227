using Singularity.Engine;

namespace Singularity.Tests.Remote;

public sealed class RemoteSenderLinesTests
{
    /// <summary>
    /// A pull shows the send there's lines as this machine's user reads them: the receiver they name is the receive
    /// here, in the last line and in each retry alike; a path not found is named on the machine it is missing on.
    /// </summary>
    [Fact]
    public void A_pull_names_its_own_receive_as_here()
    {
        Assert.Equal("sglty: error: the receive here ended the pull: busy", RemoteSender.OnHost("sglty: error: the receiver ended the session: busy", "srv"));
        Assert.Equal("sglty: retry 1 in 1 s (1 of 3 without progress): the receive here ended the pull: busy",
            RemoteSender.OnHost("sglty: retry 1 in 1 s (1 of 3 without progress): the receiver ended the session: busy", "srv"));
        Assert.Equal("sglty: not sending '/x' on srv: no such file or directory", RemoteSender.OnHost("sglty: not sending '/x': no such file or directory", "srv"));
        Assert.Equal("sent 3 files", RemoteSender.OnHost("sent 3 files", "srv"));
    }
}
