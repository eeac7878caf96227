using Singularity.Engine;

namespace Singularity.Tests.Transfer;

public sealed class SendResultTests
{
    /// <summary>Only files left out count against the files sent: a directory or a link left out is not one of them.</summary>
    [Fact]
    public void Only_files_left_out_count_against_the_files_sent()
    {
        var result = new SendResult
        {
            Files = 3, Entries = 6, Bytes = 300, BytesSent = 100, Retransmits = 0, Elapsed = TimeSpan.FromSeconds(1), Lanes = 1, ShardSize = 4096,
            Cipher = CipherSuite.None, FilesUnchanged = 1, BytesUnchanged = 100,
            NotSent =
            [
                new NotSentEntry("a", "cannot read") { Bytes = 100 },
                new NotSentEntry("d/", "cannot read directory") { IsDirectory = true },
                new NotSentEntry("l", "the receiver could not write it") { IsLink = true, AtReceiver = true },
            ],
        };

        Assert.Equal((1, 100L), (result.FilesNotSent, result.BytesNotSent));
        Assert.Equal((1, 100L), (result.FilesTransferred, result.BytesTransferred));
    }
}
