using Singularity.Engine;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>With <see cref="TransferOptions.IgnoreMissingArgs"/> (rsync --ignore-missing-args), a path given or listed that does not exist is no error, and a deletion still runs.</summary>
public sealed class IgnoreMissingArgsTests
{
    private static readonly TransferOptions Deleting = new() { ShardSize = 4096, SkipUnchanged = true, DeleteExtraneous = true };

    [Fact]
    public async Task A_missing_path_given_is_passed_over_and_the_rest_is_sent_and_cleaned()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        TestFiles.Create(Path.Combine(tree, "a"), 10_000, seed: 1);
        string missing = Path.Combine(temp.Path, "src", "gone.log");
        string destination = temp.Sub("dst");
        string stale = TestFiles.Create(Path.Combine(destination, "tree", "stale"), 10);
        await using var receiver = new LoopbackReceiver(destination);

        // Without it, the rest is sent, as rsync sends it, but nothing deleted: what is missing may be a mistake.
        var result = await SingularitySender.SendAsync([tree, missing], receiver.Url, Deleting);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal([(missing, "no such file or directory", true)], result.NotSent.Select(entry => (entry.Path, entry.Reason, entry.NotFound)));
        Assert.Equal((0, true), (result.EntriesDeleted, result.DeletionSkipped));
        Assert.True(File.Exists(stale));
        TestFiles.AssertSameBytes(Path.Combine(tree, "a"), Path.Combine(destination, "tree", "a"));

        result = await SingularitySender.SendAsync([tree, missing], receiver.Url, Deleting with { IgnoreMissingArgs = true });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((0, 1, false), (result.NotSent.Count, result.EntriesDeleted, result.DeletionSkipped));
        Assert.False(File.Exists(stale));
        TestFiles.AssertSameTree(tree, Path.Combine(destination, "tree"));
    }

    [Fact]
    public async Task A_missing_listed_path_is_passed_over_without_a_word()
    {
        using var temp = new TempDirectory();
        string source = temp.Sub("src");
        TestFiles.Create(Path.Combine(source, "logs", "a.log"), 1000, seed: 1);
        string list = Path.Combine(temp.Path, "list");
        File.WriteAllLines(list, ["logs/a.log", "logs/rotated.log"]);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);
        string url = receiver.Url.ToString();

        var (exit, _, error) = await SgltyProcess.RunAsync("send", source, "--to", url, "--files-from", list);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(23, exit);
        Assert.Contains("not sending 'logs/rotated.log': no such file or directory", error);

        (exit, _, error) = await SgltyProcess.RunAsync("send", source, "--to", url, "--files-from", list, "--ignore-missing-args", "--delete");
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.True(exit == 0, error);
        Assert.DoesNotContain("rotated", error);
        TestFiles.AssertSameBytes(Path.Combine(source, "logs", "a.log"), Path.Combine(destination, "logs", "a.log"));
    }

    /// <summary>Only a path that is not there is passed over, as rsync passes it: a link to nothing given as a path too, but not a path through a file.</summary>
    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Only_what_is_not_there_is_passed_over()
    {
        using var temp = new TempDirectory();
        string file = TestFiles.Create(Path.Combine(temp.Sub("src"), "f"), 1000);
        string dangling = Path.Combine(temp.Path, "src", "dangling");
        File.CreateSymbolicLink(dangling, "nowhere");
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);
        var ignoring = new TransferOptions { SkipUnchanged = true, IgnoreMissingArgs = true };

        await SingularitySender.SendAsync([file, dangling], receiver.Url, ignoring);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(["f"], Directory.GetFileSystemEntries(destination).Select(Path.GetFileName));

        var throughAFile = await SingularitySender.SendAsync([file, file + "/x"], receiver.Url, ignoring);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal([($"{file}/x", "something on its path is not a directory")], throughAFile.NotSent.Select(entry => (entry.Path, entry.Reason)));
        var alone = await Assert.ThrowsAsync<SingularityException>(() => SingularitySender.SendAsync([file + "/x"], receiver.Url, ignoring));
        Assert.Equal($"cannot send '{file}/x': something on its path is not a directory", alone.Message);
    }
}
