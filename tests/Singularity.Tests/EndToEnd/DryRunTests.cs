using CsCheck;
using Singularity.Engine;
using Singularity.Engine.Protocol;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// A dry run (<see cref="TransferOptions.DryRun"/>) changes nothing at the receiver, and names exactly what the same
/// send then sends and deletes, as rsync --dry-run does.
/// </summary>
public sealed class DryRunTests
{
    private static readonly TransferOptions Quick = new() { ShardSize = 4096, SkipUnchanged = true };

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task A_dry_run_changes_nothing_and_names_what_the_send_then_does()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        TestFiles.Create(Path.Combine(tree, "same"), 10_000, seed: 1);
        string changed = TestFiles.Create(Path.Combine(tree, "sub", "changed"), 20_000, seed: 2);
        TestFiles.Create(Path.Combine(tree, "sub", "moded"), 300, seed: 3);
        string destination = temp.Sub("dst");
        string received = Path.Combine(destination, "tree");
        await using var receiver = new LoopbackReceiver(destination);
        await SingularitySender.SendAsync([tree], receiver.Url, Quick);
        Assert.True((await receiver.NextResultAsync()).Succeeded);

        TestFiles.Create(changed, 20_001, seed: 4);
        TestFiles.Create(Path.Combine(tree, "new", "file"), 5_000, seed: 5);
        TestFiles.Create(Path.Combine(tree, "in-the-way"), 100, seed: 6);
        File.SetUnixFileMode(Path.Combine(tree, "sub", "moded"), (UnixFileMode)0b110_000_000);
        TestFiles.Create(Path.Combine(received, "stale", "deep", "f"), 10);
        TestFiles.Create(Path.Combine(received, "junk"), 10);
        TestFiles.Create(Path.Combine(received, "in-the-way", "inside"), 10);
        TestFiles.Create(Path.Combine(received, "kept.tmp"), 10);
        var options = Quick with { DeleteExtraneous = true, Exclude = ["*.tmp"] };
        var before = Snapshot(destination);

        var dry = await SingularitySender.SendAsync([tree], receiver.Url, options with { DryRun = true });
        var dryAtReceiver = await receiver.NextResultAsync();

        Assert.Equal(before, Snapshot(destination));
        Assert.True(dry.DryRun && dryAtReceiver.DryRun && dryAtReceiver.Succeeded);
        Assert.Equal(["tree/in-the-way", "tree/new/file", "tree/sub/changed"], dry.WouldSend.Order(StringComparer.Ordinal));
        Assert.Equal(["tree/in-the-way/inside", "tree/in-the-way/", "tree/junk", "tree/stale/deep/f", "tree/stale/deep/", "tree/stale/"], dry.WouldDelete);
        Assert.Equal((3, 2, 6, 0L), (dry.FilesTransferred, dry.FilesUnchanged, dry.EntriesDeleted, dry.BytesSent));

        var real = await SingularitySender.SendAsync([tree], receiver.Url, options);

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((dry.FilesTransferred, dry.FilesUnchanged, dry.EntriesDeleted), (real.FilesTransferred, real.FilesUnchanged, real.EntriesDeleted));
        File.Delete(Path.Combine(received, "kept.tmp"));
        TestFiles.AssertSameTree(tree, received);
        Assert.Equal((UnixFileMode)0b110_000_000, File.GetUnixFileMode(Path.Combine(received, "sub", "moded")));
    }

    [Fact]
    public async Task A_dry_run_into_nothing_creates_nothing_and_names_every_file()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        TestFiles.Create(Path.Combine(tree, "a"), 1000, seed: 1);
        TestFiles.Create(Path.Combine(tree, "deep", "er", "b"), 0, seed: 2);
        Directory.CreateDirectory(Path.Combine(tree, "empty"));
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);

        var dry = await SingularitySender.SendAsync([tree], receiver.Url, Quick with { DryRun = true, DeleteExtraneous = true });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Empty(Directory.EnumerateFileSystemEntries(destination));
        Assert.Equal(["tree/a", "tree/deep/er/b"], dry.WouldSend.Order(StringComparer.Ordinal));
        Assert.Equal((2, 1000L, 0, 0L), (dry.FilesTransferred, dry.BytesTransferred, dry.EntriesDeleted, dry.BytesSent));
    }

    [Fact]
    public void Would_delete_paths_survive_the_wire_in_as_many_messages_as_they_need() =>
        Gen.String[Gen.Char["abz09/._é日"], 1, 300].List[1, 3000].Sample(paths =>
        {
            var decoded = new List<string>();
            foreach (byte[] body in WouldDeleteMessage.Encode(paths))
            {
                Assert.True(body.Length <= 1 << 20);
                WouldDeleteMessage.Decode(body, 4096, decoded);
            }
            Assert.Equal(paths, decoded);
        }, iter: 20);

    [Fact]
    public void A_malformed_would_delete_body_is_a_protocol_violation()
    {
        byte[] good = WouldDeleteMessage.Encode(["a/b", "c/"]).Single();
        WouldDeleteMessage.Decode(good, 4096, []);
        Assert.Throws<ProtocolViolationException>(() => WouldDeleteMessage.Decode(good.AsSpan(..^1), 4096, []));
        Assert.Throws<ProtocolViolationException>(() => WouldDeleteMessage.Decode([.. good, 0], 4096, []));
        Assert.Throws<ProtocolViolationException>(() => WouldDeleteMessage.Decode([0, 0, 0, 0], 4096, []));
        Assert.Throws<ProtocolViolationException>(() => WouldDeleteMessage.Decode([1, 0, 0, 0, 0, 0], 4096, []));
        Assert.Throws<ProtocolViolationException>(() => WouldDeleteMessage.Decode([1, 0, 0, 0, 2, 0, 0xC3, 0x28], 4096, []));
        Assert.Throws<ProtocolViolationException>(() => WouldDeleteMessage.Decode(good, 1, []));
        // No more than MostNamed in all, across messages: a receiver cannot grow the sender's list without bound.
        var many = Enumerable.Repeat("x", WouldDeleteMessage.MostNamed).ToList();
        Assert.Throws<ProtocolViolationException>(() => WouldDeleteMessage.Decode(good, 4096, many));
    }

    /// <summary>Every entry below <paramref name="root"/>: kind, size, mtime, mode, link target and a hash of the bytes.</summary>
    private static List<string> Snapshot(string root) =>
        [.. Directory.EnumerateFileSystemEntries(root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })
            .Order(StringComparer.Ordinal)
            .Select(path =>
            {
                var info = new FileInfo(path);
                bool file = File.Exists(path) && info.LinkTarget is null;
                string mode = OperatingSystem.IsWindows() ? "" : File.GetUnixFileMode(path).ToString();
                return $"{Path.GetRelativePath(root, path)} {info.Attributes} {(file ? info.Length : 0)} {info.LastWriteTimeUtc.Ticks} {mode} {info.LinkTarget} {(file ? TestFiles.Sha256(path) : "")}";
            })];
}
