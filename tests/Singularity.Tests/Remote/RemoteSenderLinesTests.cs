using Singularity.Engine;

namespace Singularity.Tests.Remote;

public sealed class RemoteSenderLinesTests
{
    /// <summary>
    /// A pull shows the send there's lines as this machine's user reads them: the receiver they name is the receive
    /// here, in the last line and in each retry alike; a path not found is named on the machine it is missing on; its
    /// summary says the files were pulled, and other lines stay as they are.
    /// </summary>
    [Fact]
    public void A_pull_names_its_own_receive_as_here()
    {
        Assert.Equal("sglty: error: the receive here ended the pull: busy", RemoteSender.OnHost("sglty: error: the receiver ended the session: busy", "srv"));
        Assert.Equal("sglty: retry 1 in 1 s (1 of 3 without progress): the receive here ended the pull: busy",
            RemoteSender.OnHost("sglty: retry 1 in 1 s (1 of 3 without progress): the receiver ended the session: busy", "srv"));
        Assert.Equal("sglty: not sending '/x' on srv: no such file or directory", RemoteSender.OnHost("sglty: not sending '/x': no such file or directory", "srv"));
        Assert.Equal("pulled 3 files, 1.00 MiB in 0.10 s", RemoteSender.OnHost("sent 3 files, 1.00 MiB in 0.10 s", "srv"));
        Assert.Equal("dry run, nothing changed: would pull 1 file", RemoteSender.OnHost("dry run, nothing changed: would send 1 file", "srv"));
        Assert.Equal("sent to the receiver", RemoteSender.OnHost("sent to the receiver", "srv"));
    }
}
