using Singularity.Engine;
using Singularity.Engine.Protocol;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// With <see cref="TransferOptions.MaxFileSize"/> and <see cref="TransferOptions.MinFileSize"/>, files outside the
/// limits are left out, as rsync's --max-size and --min-size leave them: a transfer rule, not an exclude, so a deletion
/// keeps what stands at their names at the receiver, even with --delete-excluded.
/// </summary>
public sealed class SizeRuleTests
{
    private static readonly TransferOptions Quick = new() { ShardSize = 4096, SkipUnchanged = true };

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Files_outside_the_limits_are_left_out_and_a_deletion_keeps_them(bool deleteExcluded)
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        TestFiles.Create(Path.Combine(tree, "small"), 100, seed: 1);
        TestFiles.Create(Path.Combine(tree, "sub", "mid"), 10_000, seed: 2);
        TestFiles.Create(Path.Combine(tree, "at-the-most"), 50_000, seed: 3);
        TestFiles.Create(Path.Combine(tree, "big"), 50_001, seed: 4);
        TestFiles.Create(Path.Combine(tree, "sub", "bigger"), 200_000, seed: 5);
        TestFiles.Create(Path.Combine(tree, "empty"), 0);
        string destination = temp.Sub("dst");
        // An older version of a file now too big, and a directory where the source has a file too big: both stay.
        string oldBig = TestFiles.Create(Path.Combine(destination, "tree", "big"), 5, seed: 6);
        string inTheWay = TestFiles.Create(Path.Combine(destination, "tree", "sub", "bigger", "inside"), 7, seed: 7);
        string junk = TestFiles.Create(Path.Combine(destination, "tree", "sub", "junk"), 9, seed: 8);
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([tree], receiver.Url, Quick with { MaxFileSize = 50_000, MinFileSize = 1, DeleteExtraneous = true, DeleteExcluded = deleteExcluded });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((3, 3, 1), (result.Files, result.FilesSkippedBySize, result.EntriesDeleted));
        foreach (string name in (string[])["small", "sub/mid", "at-the-most"])
            TestFiles.AssertSameBytes(Path.Combine(tree, name), Path.Combine(destination, "tree", name));
        Assert.Equal(5, new FileInfo(oldBig).Length);
        Assert.True(File.Exists(inTheWay));
        Assert.False(File.Exists(junk));
        Assert.False(File.Exists(Path.Combine(destination, "tree", "empty")));
    }

    /// <summary>A dry run lists neither the files left out nor their names at the receiver as to be deleted.</summary>
    [Fact]
    public async Task A_dry_run_lists_neither_what_is_left_out_nor_deletes_it()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        TestFiles.Create(Path.Combine(tree, "small"), 100, seed: 1);
        TestFiles.Create(Path.Combine(tree, "big"), 100_000, seed: 2);
        string destination = temp.Sub("dst");
        TestFiles.Create(Path.Combine(destination, "tree", "big"), 5, seed: 3);
        TestFiles.Create(Path.Combine(destination, "tree", "junk"), 5, seed: 4);
        await using var receiver = new LoopbackReceiver(destination);

        var dry = await SingularitySender.SendAsync([tree], receiver.Url, Quick with { MaxFileSize = 1000, DeleteExtraneous = true, DryRun = true });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(["tree/small"], dry.WouldSend);
        Assert.Equal(["tree/junk"], dry.WouldDelete);
        Assert.Equal(1, dry.FilesSkippedBySize);
    }

    [Fact]
    public async Task A_size_limit_below_zero_is_refused()
    {
        var negative = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => SingularitySender.SendAsync(["/x"], new ConnectionUrl("127.0.0.1", 9, "token"), Quick with { MinFileSize = -1 }));

        Assert.Equal(nameof(TransferOptions.MinFileSize), negative.ParamName);
    }

    /// <summary>
    /// With hard links, a file's other names share its size: left out with it (counted as one file left out), so
    /// none names what did not travel, and a deletion keeps what stands at each; a linked file within the limits
    /// arrives with its names.
    /// </summary>
    [SkippableFact]
    public async Task The_names_of_a_linked_file_left_out_are_left_out_with_it()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "hard links are found by Linux senders");
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        string big = TestFiles.Create(Path.Combine(tree, "a", "big"), 100_000, seed: 1);
        Singularity.Engine.Storage.SpecialFiles.Link(big, Path.Combine(temp.Sub("src/tree/b"), "big-too"));
        string small = TestFiles.Create(Path.Combine(tree, "a", "small"), 100, seed: 2);
        Singularity.Engine.Storage.SpecialFiles.Link(small, Path.Combine(tree, "b", "small-too"));
        string destination = temp.Sub("dst");
        string kept = TestFiles.Create(Path.Combine(destination, "tree", "b", "big-too"), 7, seed: 3);
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([tree], receiver.Url, Quick with { MaxFileSize = 1000, HardLinks = true, DeleteExtraneous = true });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((1, 1, 1, 0), (result.Files, result.FilesSkippedBySize, result.HardLinks, result.EntriesDeleted));
        Assert.False(File.Exists(Path.Combine(destination, "tree", "a", "big")));
        Assert.Equal(7, new FileInfo(kept).Length);
        TestFiles.AssertSameBytes(small, Path.Combine(destination, "tree", "b", "small-too"));
        Assert.Equal(Singularity.Engine.Storage.SpecialFiles.IdentityOf(Path.Combine(destination, "tree", "a", "small"))!.Value.Inode, Singularity.Engine.Storage.SpecialFiles.IdentityOf(Path.Combine(destination, "tree", "b", "small-too"))!.Value.Inode);
    }

    /// <summary>
    /// LeftOut comes after OpenSession and before the manifest, only with a deletion, with names a manifest could
    /// hold, each once, and no more of them than the entries limit leaves: anything else ends the session with a clear
    /// error, before any entry is prepared.
    /// </summary>
    [Theory]
    [InlineData("without a deletion", "LeftOut without a deletion asked for")]
    [InlineData("after the manifest", "LeftOut outside its place")]
    [InlineData("a path that climbs", "climbs out of the destination")]
    [InlineData("twice", "is left out twice")]
    [InlineData("a manifest name", "appears twice in the manifest")]
    [InlineData("too many", "names more than 3 entries in all")]
    [InlineData("an empty list", "names more than 3 entries in all, or none")]
    public async Task LeftOut_out_of_its_place_or_malformed_ends_the_session(string wrong, string expected)
    {
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { Cipher = CipherSuite.None, Limits = new ProtocolLimits { MaxEntries = 4 } });
        await using var peer = await RawPeer.ConnectAsync(receiver.Url);
        string[] names = wrong switch
        {
            "a path that climbs" => ["made/../../x"],
            "twice" => ["a", "a"],
            "a manifest name" => ["made"],
            "too many" => ["a", "b", "c", "d"],
            _ => ["a"],
        };
        byte[] body = wrong == "an empty list" ? new byte[4] : PathListMessage.Encode(names).Single();

        var (_, reason) = await peer.SendAroundManifestAsync(receiver.Token, ControlMessageType.LeftOut, body, afterTheManifest: wrong == "after the manifest", wrong == "without a deletion" ? (ushort)0 : OpenSessionFlags.DeleteExtraneous);

        Assert.Contains(expected, reason);
        Assert.False((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(wrong == "after the manifest", Directory.Exists(Path.Combine(destination, "made")));
    }
}
