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

    /// <summary>
    /// Only the last attempt of a retried send decides whether the deletion ran, and why not: an earlier attempt that
    /// failed before its receiver answered (and so read as one of an earlier release) says nothing of it.
    /// </summary>
    [Theory]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void The_last_attempt_says_why_the_deletion_was_skipped(bool first, bool last)
    {
        SendResult Attempt(bool olderReceiver) => new()
        {
            Files = 1, Entries = 1, Bytes = 100, BytesSent = 0, Retransmits = 0, Elapsed = TimeSpan.FromSeconds(1), Lanes = 1, ShardSize = 4096,
            Cipher = CipherSuite.None, DeletionSkipped = true, DeletionSkippedByOlderReceiver = olderReceiver,
        };

        var total = SingularitySender.Add(SingularitySender.Add(null, Attempt(first)), Attempt(last));

        Assert.Equal(last, total.DeletionSkippedByOlderReceiver);
    }
}
