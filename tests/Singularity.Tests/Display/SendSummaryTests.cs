using Singularity.Cli.Commands;
using Singularity.Engine;

namespace Singularity.Tests.Display;

/// <summary>A send that left entries out ends by saying whether anything else arrived, which it tells from the result's counts.</summary>
public sealed class SendSummaryTests
{
    private static SendResult Result(int entries, int files, params NotSentEntry[] notSent) => new()
    {
        Files = files, Entries = entries, Bytes = 0, BytesSent = 0, Retransmits = 0, Elapsed = TimeSpan.FromSeconds(1),
        Lanes = 4, ShardSize = 4 << 20, Cipher = CipherSuite.None, NotSent = notSent,
    };

    /// <summary>--json names why each entry was left out as a kind a script can test, the most telling first.</summary>
    [Fact]
    public void Each_entry_left_out_has_a_kind()
    {
        Assert.Equal("vanished", SendCommand.KindOf(new NotSentEntry("a", "gone") { Vanished = true, IsDirectory = true }));
        Assert.Equal("changed", SendCommand.KindOf(new NotSentEntry("a", "changed") { Changed = true, AtReceiver = true }));
        Assert.Equal("not_found", SendCommand.KindOf(new NotSentEntry("a", "no such file") { NotFound = true }));
        Assert.Equal("name_refused", SendCommand.KindOf(new NotSentEntry("a.sglty-part", "its name") { NameRefused = true }));
        Assert.Equal("attributes", SendCommand.KindOf(new NotSentEntry("a", "xattr") { ForAttributes = true }));
        Assert.Equal("not_written", SendCommand.KindOf(new NotSentEntry("a", "refused") { AtReceiver = true, IsLink = true }));
        Assert.Equal("not_read", SendCommand.KindOf(new NotSentEntry("a", "permission denied")));
        Assert.Equal("not_read", SendCommand.KindOf(new NotSentEntry("l", "a link to nothing") { IsLink = true }));
    }

    /// <summary>Files left out as changed while they were sent are named in the last line's count, and what to do closes it, once, without a parenthesis of its own.</summary>
    [Fact]
    public void Files_changed_while_they_were_sent_are_to_be_sent_again()
    {
        NotSentEntry[] two = [new("a", "changed") { Changed = true }, new("b", "changed") { Changed = true }, new("c", "cannot read")];
        Assert.Equal("2 files changed while they were sent and were not sent; 1 entry could not be read and was not sent", SendCommand.WhyLeftOut(two));
        Assert.Equal("; send them again once they are stable", SendCommand.SendAgain(two));
        Assert.Equal("; send it again once it is stable", SendCommand.SendAgain([two[0]]));
        Assert.Equal("", SendCommand.SendAgain([two[2]]));
    }

    [Fact]
    public void Nothing_arrived_when_every_entry_of_the_list_was_left_out()
    {
        // Every path given missing: nothing was in the list.
        Assert.True(SendCommand.NothingArrived(Result(0, 0, new NotSentEntry("gone", "no such file") { NotFound = true })));
        // Two files named that could not be read.
        Assert.True(SendCommand.NothingArrived(Result(2, 2, new NotSentEntry("a", "cannot read"), new NotSentEntry("b", "cannot read"))));
        // A file and its further name (-H) left out for attributes that could not travel, before the list was made.
        Assert.True(SendCommand.NothingArrived(Result(0, 0, new NotSentEntry("h/a", "xattr") { ForAttributes = true }, new NotSentEntry("h/c", "xattr") { IsLink = true, ForAttributes = true })));
        // A link (-R) and a directory the receiver could not write.
        Assert.True(SendCommand.NothingArrived(Result(2, 0, new NotSentEntry("l", "refused") { IsLink = true, AtReceiver = true }, new NotSentEntry("d", "refused") { IsDirectory = true, AtReceiver = true })));
        // A device the receiver skipped, counted in the list.
        Assert.True(SendCommand.NothingArrived(Result(1, 0) with { Devices = 1, DevicesSkipped = 1 }));
    }

    [Fact]
    public void Something_arrived_when_an_entry_of_the_list_was_not_left_out()
    {
        // One of two files left out for its attributes, before the list was made: the other arrived.
        Assert.False(SendCommand.NothingArrived(Result(1, 1, new NotSentEntry("s/a", "xattr") { ForAttributes = true })));
        // The directory the sender could not list arrived, empty.
        Assert.False(SendCommand.NothingArrived(Result(1, 0, new NotSentEntry("tree/", "cannot read directory") { IsDirectory = true })));
        // A directory and one file that could not be read: the directory arrived.
        Assert.False(SendCommand.NothingArrived(Result(2, 1, new NotSentEntry("tree/f", "cannot read"))));
        // A link that leads nowhere (-L) was never in the list; the file beside it arrived.
        Assert.False(SendCommand.NothingArrived(Result(1, 1, new NotSentEntry("l", "leads nowhere") { IsLink = true })));
        // A file named twice in the left-out list (two attempts) counts once.
        Assert.False(SendCommand.NothingArrived(Result(2, 2, new NotSentEntry("a", "cannot read"), new NotSentEntry("a", "cannot read"))));
    }

    [Fact]
    public void The_last_line_names_what_vanished_by_kind()
    {
        Assert.Equal("1 file vanished since the scan and was not sent", SendCommand.WhyLeftOut([new NotSentEntry("t/a", "no such file") { Vanished = true }]));
        Assert.Equal("2 files vanished since the scan and were not sent; 1 directory vanished while the scan read it, and was sent empty; 1 entry could not be read and was not sent",
            SendCommand.WhyLeftOut([new NotSentEntry("t/a", "gone") { Vanished = true }, new NotSentEntry("t/b", "gone") { Vanished = true },
                new NotSentEntry("t/d/", "cannot read directory") { IsDirectory = true, Vanished = true }, new NotSentEntry("t/c", "cannot read")]));
    }
}
