using Singularity.Engine;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

public sealed class SingleFileTransferTests
{
    private const int Shard = 64 << 10;

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(Shard - 1)]
    [InlineData(Shard)]
    [InlineData(Shard + 1)]
    [InlineData(10 * Shard + 12345)]
    public async Task File_arrives_byte_identical(long size)
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "data.bin"), size, seed: (int)size);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([source], receiver.Url, new TransferOptions { ShardSize = Shard, Lanes = 3 });
        var received = await receiver.NextResultAsync();

        Assert.True(received.Succeeded, received.Error?.Message);
        TestFiles.AssertSameBytes(source, Path.Combine(destination, "data.bin"));
        Assert.Equal(size, result.Bytes);
        Assert.Equal(size, result.BytesSent);
        Assert.Equal(1, result.Files);
        Assert.Empty(Directory.GetFiles(destination, "*.sglty-part", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task A_file_sent_with_a_name_of_its_own_arrives_under_it_and_a_tree_goes_into_one()
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "data.bin"), 3 * Shard + 7, seed: 3);
        string destination = temp.Sub("dst");
        // What stands at the name is replaced, as scp and rsync replace it.
        File.WriteAllText(Path.Combine(destination, "db-1206.dump"), "older");
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([source], receiver.Url, new TransferOptions { ShardSize = Shard, FileName = "db-1206.dump" });
        var received = await receiver.NextResultAsync();

        Assert.True(received.Succeeded, received.Error?.Message);
        Assert.Equal(1, result.FilesTransferred);
        TestFiles.AssertSameBytes(source, Path.Combine(destination, "db-1206.dump"));
        Assert.Equal(["db-1206.dump"], Directory.GetFileSystemEntries(destination).Select(Path.GetFileName));

        // A tree goes into a directory of that name, as scp and rsync copy one to a name not there; its contents alone take none.
        await SingularitySender.SendAsync([Path.GetDirectoryName(source)!], receiver.Url, new TransferOptions { ShardSize = Shard, FileName = "x" });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameBytes(source, Path.Combine(destination, "x", "src", "data.bin"));
        string two = temp.Sub("two");
        TestFiles.Create(Path.Combine(two, "a"), 10);
        TestFiles.Create(Path.Combine(two, "b"), 10);
        var refused = await Assert.ThrowsAsync<ArgumentException>(() => SingularitySender.SendAsync([two + "/"], receiver.Url, new TransferOptions { FileName = "x" }));
        Assert.Equal(nameof(TransferOptions.FileName), refused.ParamName);
        Assert.StartsWith("names the one file or directory a send holds, and this one holds more", refused.Message, StringComparison.Ordinal);
        refused = await Assert.ThrowsAsync<ArgumentException>(() => SingularitySender.SendAsync([source], receiver.Url, new TransferOptions { FileName = "a/b" }));
        Assert.Equal(nameof(TransferOptions.FileName), refused.ParamName);
    }

    [Theory]
    [InlineData(1000)]
    [InlineData(3 * Shard + 5)]
    public async Task Leftovers_at_the_resumable_name_are_removed_and_a_planted_link_is_never_followed(long size)
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "data.bin"), size, seed: 5);
        string destination = temp.Sub("dst");
        string outside = TestFiles.Create(Path.Combine(temp.Sub("outside"), "victim"), 10, seed: 6);
        byte[] victim = File.ReadAllBytes(outside);
        string part = Path.Combine(destination, ".data.bin.sglty-part");
        string journal = Path.Combine(destination, ".data.bin.sglty-state");
        File.CreateSymbolicLink(part, outside);
        File.WriteAllText(journal, "stale");
        await using var receiver = new LoopbackReceiver(destination);

        await SingularitySender.SendAsync([source], receiver.Url, new TransferOptions { ShardSize = Shard });
        Assert.True((await receiver.NextResultAsync()).Succeeded);

        TestFiles.AssertSameBytes(source, Path.Combine(destination, "data.bin"));
        Assert.Equal(victim, File.ReadAllBytes(outside));
        // A resumable file uses that name: what was there is replaced, with the journal that described it. A one-shard
        // file is never resumed (its temporary name carries the session), so what stands at that name could never be
        // resumed either, and goes: a link as a link, never followed.
        Assert.False(File.Exists(part) || new FileInfo(part).LinkTarget is not null);
        Assert.False(File.Exists(journal));
        Assert.Empty(Directory.GetFiles(destination, ".data.bin.*"));
    }
}
