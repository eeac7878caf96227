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
        // A directory in the way of a file is named by what it holds, as rsync names it; it counts all the same.
        Assert.Equal(["tree/in-the-way/inside", "tree/junk", "tree/stale/deep/f", "tree/stale/deep/", "tree/stale/"], dry.WouldDelete);
        Assert.Equal((3, 2, 6, 0L), (dry.FilesTransferred, dry.FilesUnchanged, dry.EntriesDeleted, dry.BytesSent));

        var real = await SingularitySender.SendAsync([tree], receiver.Url, options);

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((dry.FilesTransferred, dry.FilesUnchanged, dry.EntriesDeleted), (real.FilesTransferred, real.FilesUnchanged, real.EntriesDeleted));
        File.Delete(Path.Combine(received, "kept.tmp"));
        TestFiles.AssertSameTree(tree, received);
        Assert.Equal((UnixFileMode)0b110_000_000, File.GetUnixFileMode(Path.Combine(received, "sub", "moded")));
    }

    /// <summary>
    /// What another program made at the receiver deeper than a path the system takes (PATH_MAX) is told as not deleted,
    /// with the directories above it, by a dry run and the send alike; the session ends as it should, where .NET's
    /// calls on such a path ended it as an internal error.
    /// </summary>
    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task What_lies_deeper_than_a_path_the_system_takes_is_told_as_not_deleted()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        TestFiles.Create(Path.Combine(tree, "kept"), 1_000, seed: 1);
        string destination = temp.Sub("dst");
        string received = Path.Combine(destination, "tree");
        await using var receiver = new LoopbackReceiver(destination);
        await SingularitySender.SendAsync([tree], receiver.Url, Quick);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.Create(Path.Combine(received, "stale"), 10, seed: 2);
        string deep = await TestFiles.CreateDeepAsync(received, levels: 17);
        try
        {
            var options = Quick with { DeleteExtraneous = true };

            foreach (bool dryRun in (bool[])[true, false])
            {
                var sent = await SingularitySender.SendAsync([tree], receiver.Url, options with { DryRun = dryRun });
                var result = await receiver.NextResultAsync();

                Assert.True(result.Succeeded, result.Error?.Message);
                Assert.Equal((1, 1), (sent.EntriesDeleted, sent.EntriesNotDeleted));
                Assert.Contains("its path is longer than the system takes", Assert.Single(result.DeletionFailures));
            }
            Assert.False(File.Exists(Path.Combine(received, "stale")));
            Assert.True(Directory.Exists(Path.Combine(received, "deep")));
        }
        finally
        {
            await TestFiles.RemoveDeepAsync(deep);
        }
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

    /// <summary>
    /// What a real send replaces or refuses, a dry run foresees: a file and a link where the source has directories
    /// (replaced, and what goes below them is new), a directory in the way of a file without a deletion (refused and
    /// named), and a directory in the way holding what the patterns keep (refused and named, and so no deletion).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task A_dry_run_foresees_what_the_send_replaces_and_refuses(bool deleting)
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        TestFiles.Create(Path.Combine(tree, "d", "f"), 1000, seed: 1);
        TestFiles.Create(Path.Combine(tree, "e", "g"), 1000, seed: 2);
        TestFiles.Create(Path.Combine(tree, "x"), 1000, seed: 3);
        string outside = temp.Sub("outside");
        // Where the link points, a file just like e/g stands: it must not count as in place.
        File.Copy(Path.Combine(tree, "e", "g"), Path.Combine(outside, "g"));
        File.SetLastWriteTimeUtc(Path.Combine(outside, "g"), File.GetLastWriteTimeUtc(Path.Combine(tree, "e", "g")));
        string destination = temp.Sub("dst");
        string received = Path.Combine(destination, "tree");
        TestFiles.Create(Path.Combine(received, "d"), 10);
        Directory.CreateSymbolicLink(Path.Combine(received, "e"), outside);
        TestFiles.Create(Path.Combine(received, "x", "keep.tmp"), 10);
        TestFiles.Create(Path.Combine(received, "x", "other"), 10);
        TestFiles.Create(Path.Combine(received, "stale"), 10);
        var options = Quick with { DeleteExtraneous = deleting, Exclude = ["*.tmp"] };
        await using var receiver = new LoopbackReceiver(destination);
        var before = Snapshot(temp.Path);

        var dry = await SingularitySender.SendAsync([tree], receiver.Url, options with { DryRun = true });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(before, Snapshot(temp.Path));
        Assert.Equal(["tree/d/f", "tree/e/g"], dry.WouldSend.Order(StringComparer.Ordinal));
        var refused = Assert.Single(dry.NotSent);
        Assert.Equal("tree/x", refused.Path);
        Assert.Contains(deleting ? "it holds entries the exclude patterns keep" : "send with --force (or --delete) to replace it", refused.Reason);
        // With a deletion, the directory in the way is emptied of what the patterns do not keep; the failure then skips the rest.
        Assert.Equal(deleting ? ["tree/x/other"] : [], dry.WouldDelete);
        Assert.Equal(deleting, dry.DeletionSkipped);

        var real = await SingularitySender.SendAsync([tree], receiver.Url, options);

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((dry.FilesTransferred, dry.EntriesDeleted, dry.DeletionSkipped), (real.FilesTransferred, real.EntriesDeleted, real.DeletionSkipped));
        Assert.Equal(refused.Reason, Assert.Single(real.NotSent).Reason);
        TestFiles.AssertSameBytes(Path.Combine(tree, "d", "f"), Path.Combine(received, "d", "f"));
        TestFiles.AssertSameBytes(Path.Combine(tree, "e", "g"), Path.Combine(received, "e", "g"));
        Assert.Null(new DirectoryInfo(Path.Combine(received, "e")).LinkTarget);
    }

    /// <summary>
    /// A link where the source has a directory is replaced by a fresh one, so a dry run looks at nothing below it:
    /// not at the link's target, outside the destination, whose names it would otherwise list for deletion.
    /// </summary>
    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task A_dry_run_never_looks_through_a_link_it_would_replace()
    {
        using var temp = new TempDirectory();
        string outside = temp.Sub("outside");
        TestFiles.Create(Path.Combine(outside, "sub", "a.txt"), 10);
        TestFiles.Create(Path.Combine(outside, "sub", "deeper", "b.txt"), 10);
        string destination = temp.Sub("dst");
        Directory.CreateSymbolicLink(Path.Combine(temp.Sub("dst/t"), "x"), outside);
        string tree = temp.Sub("src/t");
        Directory.CreateDirectory(Path.Combine(tree, "x", "sub"));
        TestFiles.Create(Path.Combine(tree, "x", "sub", "deeper", "b.txt"), 10, seed: 2);
        await using var receiver = new LoopbackReceiver(destination);
        var before = Snapshot(temp.Path);

        var dry = await SingularitySender.SendAsync([tree], receiver.Url, Quick with { DryRun = true, DeleteExtraneous = true });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(before, Snapshot(temp.Path));
        Assert.Empty(dry.WouldDelete);
        Assert.Equal(["t/x/sub/deeper/b.txt"], dry.WouldSend);

        var real = await SingularitySender.SendAsync([tree], receiver.Url, Quick with { DeleteExtraneous = true });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((0, 1), (real.EntriesDeleted, real.FilesTransferred));
        TestFiles.AssertSameTree(tree, Path.Combine(destination, "t"));
        Assert.True(File.Exists(Path.Combine(outside, "sub", "a.txt")));
    }

    /// <summary>
    /// A receiver refuses an OpenSession flag it does not know, in either flags field: ignoring one could do what it
    /// asks not to, as a dry run taken for a send would. So is a body whose length does not go with flag bit 15, and a
    /// modify window out of place.
    /// </summary>
    [Theory]
    [InlineData(0u, 0, false, "wrong length")]
    [InlineData(0x8000_0000u, 0, true, "more flags 0x80000000")]
    [InlineData(0x4_0000u, 0, true, "more flags 0x40000")]
    [InlineData(MoreSessionFlags.DeleteBefore, 0, true, "to delete before the files arrive, without a deletion")]
    [InlineData(MoreSessionFlags.DelayUpdates | MoreSessionFlags.InPlace, 0, true, "to write files in place and to put them into place at the end")]
    [InlineData(MoreSessionFlags.IgnoreErrors, 0, true, "delete despite errors, without a deletion")]
    [InlineData(0u, 5, true, "a modify window without asking for one")]
    [InlineData(MoreSessionFlags.ModifyWindow, -1, true, "a modify window of -1 seconds")]
    [InlineData(MoreSessionFlags.CompareDest | MoreSessionFlags.CopyDest, 0, true, "both compare with and copy from")]
    public async Task An_unknown_session_flag_is_refused_before_anything_is_prepared(uint more, int window, bool withMoreBit, string why)
    {
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { Cipher = CipherSuite.None });
        await using var peer = await RawPeer.ConnectAsync(receiver.Url);
        Assert.Equal(ErrorCode.None, (await peer.HelloAsync(ConnectionRole.Control, receiver.Token)).Status);

        // Flag bit 15 with a 24-byte body, or the 32-byte body with the fields given.
        byte[] open = withMoreBit ? RawPeer.OpenSession(4096, 1, 1, 0, more: more, window: window) : RawPeer.OpenSession(4096, 1, 1, 0, flags: OpenSessionFlags.More);
        await peer.SendControlAsync(ControlMessageType.OpenSession, open);
        await peer.SendControlAsync(ControlMessageType.ManifestChunk, RawPeer.Manifest(new ManifestEntry(EntryKind.Directory, "made", 0, (UnixFileMode)0b111_101_101, 0, null)));

        byte[]? error = await peer.ReadUntilAsync(ControlMessageType.Error);
        Assert.NotNull(error);
        Assert.Equal(ErrorCode.ProtocolViolation, ErrorMessage.Decode(error).Code);
        Assert.Contains(why, ErrorMessage.Decode(error).Reason);
        Assert.False((await receiver.NextResultAsync()).Succeeded);
        Assert.Empty(Directory.EnumerateFileSystemEntries(destination));
    }

    /// <summary>A sender that asks for a dry run and sends shards anyway gets them acknowledged and dropped; seals end the session. Nothing is written.</summary>
    [Fact]
    public async Task A_dry_run_writes_nothing_whatever_the_sender_sends()
    {
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { Cipher = CipherSuite.None });
        await using var peer = await RawPeer.ConnectAsync(receiver.Url);
        var (_, answer, _) = await peer.OpenWithManifestAsync(receiver.Token, 4096, OpenSessionFlags.DryRun,
            new ManifestEntry(EntryKind.File, "f", 10, (UnixFileMode)0b110_100_100, 0, null));
        Assert.Equal(ControlMessageType.ManifestAccepted, answer);

        byte[] seal = new byte[16];
        seal[0] = 1;
        await peer.SendControlAsync(ControlMessageType.FilesSealed, seal);
        byte[]? error = await peer.ReadUntilAsync(ControlMessageType.Error);

        Assert.NotNull(error);
        Assert.Contains("already committed", ErrorMessage.Decode(error).Reason);
        Assert.False((await receiver.NextResultAsync()).Succeeded);
        Assert.Empty(Directory.EnumerateFileSystemEntries(destination));
    }

    [Fact]
    public void Would_delete_paths_survive_the_wire_in_as_many_messages_as_they_need() =>
        Gen.String[Gen.Char["abz09/._é日"], 1, 300].List[1, 3000].Sample(paths =>
        {
            var decoded = new List<string>();
            foreach (byte[] body in WouldDeleteMessage.Encode(paths))
            {
                Assert.True(body.Length <= 1 << 20);
                Decode(body, 4096, decoded);
            }
            Assert.Equal(paths, decoded);
        }, iter: 20);

    [Fact]
    public void A_malformed_would_delete_body_is_a_protocol_violation()
    {
        byte[] good = WouldDeleteMessage.Encode(["a/b", "c/"]).Single();
        Decode(good, 4096, []);
        Assert.Throws<ProtocolViolationException>(() => Decode(good.AsSpan(..^1), 4096, []));
        Assert.Throws<ProtocolViolationException>(() => Decode([.. good, 0], 4096, []));
        Assert.Throws<ProtocolViolationException>(() => Decode([0, 0, 0, 0], 4096, []));
        Assert.Throws<ProtocolViolationException>(() => Decode([1, 0, 0, 0, 0, 0], 4096, []));
        Assert.Throws<ProtocolViolationException>(() => Decode([1, 0, 0, 0, 2, 0, 0xC3, 0x28], 4096, []));
        Assert.Throws<ProtocolViolationException>(() => Decode(good, 1, []));
        // No more than MostNamed in all, across messages: a receiver cannot grow the sender's list without bound.
        var many = Enumerable.Repeat("x", WouldDeleteMessage.MostNamed).ToList();
        Assert.Throws<ProtocolViolationException>(() => Decode(good, 4096, many));
        // Nor more than MostBytes of paths in all.
        Decode(good, 4096, [], WouldDeleteMessage.MostBytes - 5);
        Assert.Throws<ProtocolViolationException>(() => Decode(good, 4096, [], WouldDeleteMessage.MostBytes - 4));
    }

    private static void Decode(ReadOnlySpan<byte> body, int maxPathBytes, List<string> paths, long bytes = 0) =>
        WouldDeleteMessage.Decode(body, maxPathBytes, paths, ref bytes);

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
