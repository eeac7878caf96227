using System.Runtime.Versioning;
using Singularity.Engine;
using Singularity.Engine.Protocol;
using Singularity.Engine.Storage;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// With <see cref="TransferOptions.HardLinks"/>, as with rsync -H, a file with several names among those sent travels
/// once and arrives with all of them; without it, each name arrives as a file of its own.
/// </summary>
[UnsupportedOSPlatform("windows")]
public sealed class HardLinkTests
{
    // Shards of 4 KiB: the linked files take many, and their links go once they are in place.
    private static readonly TransferOptions Quick = new() { ShardSize = 4096, SkipUnchanged = true };

    [Fact]
    public async Task A_file_with_several_names_travels_once_and_arrives_with_them_all()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        string x = TestFiles.Create(Path.Combine(tree, "a", "x"), 300_000, seed: 1);
        Link(x, Path.Combine(tree, "b", "y"));
        Link(x, Path.Combine(tree, "c", "z"));
        string pair = TestFiles.Create(Path.Combine(tree, "d", "pair1"), 20_000, seed: 2);
        Link(pair, Path.Combine(tree, "d", "pair2"));
        TestFiles.Create(Path.Combine(tree, "solo"), 10_000, seed: 3);
        // Its other name is outside what is sent: it arrives as a file.
        Link(TestFiles.Create(Path.Combine(tree, "e", "lonely"), 5_000, seed: 4), Path.Combine(temp.Path, "src", "outside"));
        string destination = temp.Sub("dst");
        string received = Path.Combine(destination, "tree");
        await using var receiver = new LoopbackReceiver(destination);

        // Sent first without -H, as separate files; then with it, which makes them links without sending anything.
        var separate = await SingularitySender.SendAsync([tree], receiver.Url, Quick);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(7, separate.FilesTransferred);
        Assert.All(new[] { "a/x", "b/y", "c/z", "d/pair1", "d/pair2" }, path => Assert.Equal(1u, Names(Path.Combine(received, path))));
        TestFiles.AssertSameTree(tree, received);

        var linked = await SingularitySender.SendAsync([tree], receiver.Url, Quick with { HardLinks = true });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((0, 4, 3), (linked.FilesTransferred, linked.FilesUnchanged, linked.HardLinks));
        AssertLinked(received);
        TestFiles.AssertSameTree(tree, received);

        // Into an empty destination: the four files travel, and the links follow once they are in place.
        string fresh = Path.Combine(temp.Sub("dst2"), "tree");
        await using var second = new LoopbackReceiver(Path.GetDirectoryName(fresh)!);
        var sent = await SingularitySender.SendAsync([tree], second.Url, Quick with { HardLinks = true });
        Assert.True((await second.NextResultAsync()).Succeeded);
        Assert.Equal((4, 335_000L, 3), (sent.FilesTransferred, sent.BytesTransferred, sent.HardLinks));
        AssertLinked(fresh);
        TestFiles.AssertSameTree(tree, fresh);

        // Once more: nothing travels, and the names stay one file's.
        var again = await SingularitySender.SendAsync([tree], second.Url, Quick with { HardLinks = true });
        Assert.True((await second.NextResultAsync()).Succeeded);
        Assert.Equal((0, 4), (again.FilesTransferred, again.FilesUnchanged));
        AssertLinked(fresh);
    }

    /// <summary>
    /// As rsync: where a later name of a linked file stands in place already (with another name of its own at the
    /// destination) and the first does not, the file's first name joins the inode in place, which keeps its other name:
    /// nothing is replaced at the name in place, nor kept as a backup of it.
    /// </summary>
    [Fact]
    public async Task A_later_name_in_place_keeps_its_inode_and_the_first_joins_it()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        string z = TestFiles.Create(Path.Combine(tree, "z"), 100_000, seed: 1);
        Link(z, Path.Combine(tree, "a", "h"));
        string received = Path.Combine(temp.Sub("dst"), "tree");
        string inPlace = Path.Combine(received, "z");
        Directory.CreateDirectory(received);
        File.Copy(z, inPlace);
        File.SetLastWriteTimeUtc(inPlace, File.GetLastWriteTimeUtc(z));
        File.SetUnixFileMode(inPlace, File.GetUnixFileMode(z));
        Link(inPlace, Path.Combine(received, "other"));
        var before = SpecialFiles.IdentityOf(inPlace)!.Value;
        await using var receiver = new LoopbackReceiver(Path.GetDirectoryName(received)!);

        var result = await SingularitySender.SendAsync([tree], receiver.Url, Quick with { HardLinks = true, Backup = true });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Empty(result.NotSent);
        foreach (string name in (string[])["z", "a/h", "other"])
        {
            var identity = SpecialFiles.IdentityOf(Path.Combine(received, name))!.Value;
            Assert.Equal((before.Device, before.Inode, 3u), (identity.Device, identity.Inode, identity.Names));
        }
        Assert.False(File.Exists(inPlace + "~"));
        TestFiles.AssertSameBytes(z, Path.Combine(received, "a", "h"));
    }

    /// <summary>
    /// A name that cannot be given to the file (here ext4's most names for one file, 65,000) fails alone, and the copy
    /// already at that name stays as it was.
    /// </summary>
    [Fact]
    public async Task A_link_that_cannot_be_made_leaves_the_copy_at_its_name()
    {
        // On the disk's file system (ext4 here), not /dev/shm: tmpfs gives a file any number of names.
        string root = Path.Combine(Path.GetTempPath(), "sglty-test-" + Guid.NewGuid().ToString("N")[..12]);
        try
        {
            string tree = Path.Combine(root, "src", "tree");
            string a = TestFiles.Create(Path.Combine(tree, "a"), 10_000, seed: 1);
            Link(a, Path.Combine(tree, "b"));
            string destination = Directory.CreateDirectory(Path.Combine(root, "dst")).FullName;
            string received = Path.Combine(destination, "tree");
            await using var receiver = new LoopbackReceiver(destination);
            await SingularitySender.SendAsync([tree], receiver.Url, Quick);
            Assert.True((await receiver.NextResultAsync()).Succeeded);
            string names = Directory.CreateDirectory(Path.Combine(root, "names")).FullName;
            int made = 0;
            try
            {
                for (; made < 70_000; made++) SpecialFiles.Link(Path.Combine(received, "a"), Path.Combine(names, $"{made}"));
            }
            catch (IOException)
            {
            }
            Assert.True(made < 70_000, "the file system gave one file 70,000 names; this test needs one that gives fewer, as ext4 does");

            var result = await SingularitySender.SendAsync([tree], receiver.Url, Quick with { HardLinks = true });

            Assert.True((await receiver.NextResultAsync()).Succeeded);
            var failed = Assert.Single(result.NotSent);
            Assert.Equal(("tree/b", 0), (failed.Path, result.HardLinks));
            Assert.Contains("'tree/b' was not linked to 'tree/a'", failed.Reason);
            Assert.Equal(1u, Names(Path.Combine(received, "b")));
            TestFiles.AssertSameBytes(a, Path.Combine(received, "b"));
            // Nothing left beside them under a temporary name.
            Assert.Equal(["a", "b"], Directory.GetFileSystemEntries(received).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>A dry run with hard links lists the files a send would send, and makes nothing.</summary>
    [Fact]
    public async Task A_dry_run_with_hard_links_lists_the_files_and_makes_nothing()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        Link(TestFiles.Create(Path.Combine(tree, "a", "x"), 30_000, seed: 1), Path.Combine(tree, "b", "y"));
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([tree], receiver.Url, Quick with { HardLinks = true, DryRun = true });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(["tree/a/x"], result.WouldSend);
        Assert.Empty(Directory.GetFileSystemEntries(destination));
    }

    /// <summary>A file that cannot be written takes its links with it: each is named as not written, and the rest arrives.</summary>
    [Fact]
    public async Task The_links_of_a_file_that_could_not_be_written_are_named_with_it()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        string x = TestFiles.Create(Path.Combine(tree, "a", "x"), 30_000, seed: 1);
        Link(x, Path.Combine(tree, "b", "y"));
        TestFiles.Create(Path.Combine(tree, "c"), 1_000, seed: 2);
        string destination = temp.Sub("dst");
        // A directory that holds something, where the source has the file: without --delete it stays, and the file fails.
        TestFiles.Create(Path.Combine(destination, "tree", "a", "x", "keep"), 10);
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([tree], receiver.Url, Quick with { HardLinks = true });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(["tree/a/x", "tree/b/y"], result.NotSent.Select(e => e.Path).Order(StringComparer.Ordinal));
        Assert.Contains("'tree/b/y' was not linked to 'tree/a/x': that file could not be written", result.NotSent.Single(e => e.Path == "tree/b/y").Reason);
        Assert.False(File.Exists(Path.Combine(destination, "tree", "b", "y")));
        TestFiles.AssertSameBytes(Path.Combine(tree, "c"), Path.Combine(destination, "tree", "c"));
    }

    /// <summary>
    /// A retry names again, as sent before, the linked files an earlier attempt committed, rather than leaving them out
    /// of its manifest: the links to them need them there. They are not sent again.
    /// </summary>
    [Fact]
    public async Task A_retry_names_again_the_linked_files_an_earlier_attempt_committed()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        for (int i = 0; i < 40; i++) Link(TestFiles.Create(Path.Combine(tree, $"f{i:00}.bin"), 200_000, seed: i), Path.Combine(tree, "links", $"f{i:00}.bin"));
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);
        await using var relay = new TcpRelay(receiver.Url);
        relay.CutAllOnce((connection, forwarded) => connection == 1 && forwarded > (3 << 20));
        var options = new TransferOptions { ShardSize = 64 << 10, Lanes = 1, MaxInFlightBytes = 1 << 20, Retries = 2, HardLinks = true };

        var result = await SingularitySender.SendAsync([tree], relay.Url, options);

        Assert.Equal((1, 40), (result.Retries, result.HardLinks));
        Assert.True(result.BytesSent < 40 * 200_000 + (2 << 20), $"sent {result.BytesSent}");
        string received = Path.Combine(destination, "tree");
        TestFiles.AssertSameTree(tree, received);
        for (int i = 0; i < 40; i++)
            Assert.Equal(Identity(Path.Combine(received, $"f{i:00}.bin")) with { Names = 2 }, Identity(Path.Combine(received, "links", $"f{i:00}.bin")));
    }

    /// <summary>
    /// A receiver takes hard links only where the session asked to keep them, and only to a file marked linked before
    /// them: anything else ends the session before an entry is prepared.
    /// </summary>
    [Theory]
    [InlineData(false, "a")]
    [InlineData(true, "nowhere")]
    [InlineData(true, "b")]
    [InlineData(true, "d")]
    public async Task A_hard_link_to_no_linked_file_before_it_is_refused(bool askForLinks, string target)
    {
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { Cipher = CipherSuite.None });
        await using var peer = await RawPeer.ConnectAsync(receiver.Url);
        ManifestEntry[] entries =
        [
            new(EntryKind.File, "a", 0, (UnixFileMode)0b110_100_100, 0, null) { Linked = askForLinks },
            // Not marked linked.
            new(EntryKind.File, "b", 0, (UnixFileMode)0b110_100_100, 0, null),
            new(EntryKind.HardLink, "c", 0, 0, 0, target),
            // Marked linked, but after the link.
            new(EntryKind.File, "d", 0, (UnixFileMode)0b110_100_100, 0, null) { Linked = askForLinks },
        ];

        var (_, answer, body) = await peer.OpenWithManifestAsync(receiver.Token, 4096, askForLinks ? OpenSessionFlags.HardLinks : (ushort)0, entries);

        Assert.Equal(ControlMessageType.Error, answer);
        var error = ErrorMessage.Decode(body);
        Assert.Equal(ErrorCode.ProtocolViolation, error.Code);
        Assert.Contains(askForLinks ? "which is no file marked linked before it" : "did not ask to keep hard links", error.Reason);
        Assert.False((await receiver.NextResultAsync()).Succeeded);
        Assert.Empty(Directory.GetFileSystemEntries(destination));
    }

    /// <summary>A hard link to a file still arriving ends the session: a sender names hard links once every file is settled.</summary>
    [Fact]
    public async Task A_hard_link_to_a_file_still_arriving_is_refused()
    {
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { Cipher = CipherSuite.None });
        await using var peer = await RawPeer.ConnectAsync(receiver.Url);

        var (_, answer, body) = await peer.OpenWithManifestAsync(receiver.Token, 4096, OpenSessionFlags.HardLinks,
            new ManifestEntry(EntryKind.File, "a", 100_000, (UnixFileMode)0b110_100_100, 0, null) { Linked = true },
            new ManifestEntry(EntryKind.HardLink, "b", 0, 0, 0, "a"));

        Assert.Equal(ControlMessageType.Error, answer);
        var error = ErrorMessage.Decode(body);
        Assert.Equal(ErrorCode.ProtocolViolation, error.Code);
        Assert.Contains("a file still arriving", error.Reason);
        Assert.False((await receiver.NextResultAsync()).Succeeded);
        Assert.False(File.Exists(Path.Combine(destination, "b")));
    }

    /// <summary>
    /// With -H, a file whose first name vanished between the scan and its read arrives under the further names the
    /// source still has, linked together, as rsync sends the name left: the first of them travels as the file, the send
    /// exits 24, and the vanished name does not stop `--delete` (the receiver's copy of it stays, its name having been
    /// sent). A name sent in its place that vanished too is left out in turn, the next taking its place, and where every
    /// name vanished, still nothing stops the deletion. The links are itemized with the file's values. A receiver
    /// without capability bit 3 fails the further names, as before, saying the file vanished, which no longer stops
    /// its deletion.
    /// </summary>
    [Theory]
    [InlineData(1, false)]
    [InlineData(2, false)]
    [InlineData(4, false)]
    [InlineData(1, true)]
    public async Task Further_names_of_a_file_whose_first_name_vanished_arrive_linked(int removed, bool receiverFromBefore)
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("tree");
        string[] names = [.. new[] { "a.bin", "b.bin", "c.bin", "d.bin" }.Select(name => Path.Combine(tree, name))];
        TestFiles.Create(names[0], 100_000, seed: 1);
        foreach (string name in names[1..]) Link(names[0], name);
        byte[] contents = File.ReadAllBytes(names[0]);
        // Another file's names, whose links the manifest holds before the vanished one's (a0.bin) and after them (l.bin).
        string kept = TestFiles.Create(Path.Combine(tree, "0.bin"), 50_000, seed: 2);
        Link(kept, Path.Combine(tree, "a0.bin"));
        Link(kept, Path.Combine(tree, "l.bin"));
        string destination = temp.Sub("dst");
        string held = TestFiles.Create(Path.Combine(destination, "tree", "a.bin"), 5_000, seed: 3);
        byte[] holds = File.ReadAllBytes(held);
        string stale = TestFiles.Create(Path.Combine(destination, "tree", "stale.bin"), 5_000, seed: 4);
        uint before = WireFormat.CapabilityPatches | WireFormat.CapabilityVanished | WireFormat.CapabilityWithdrawn;
        await using var receiver = new LoopbackReceiver(destination, adjust: receiverFromBefore ? options => options with { Capabilities = before } : null);
        await using var relay = new TcpRelay(receiver.Url);
        // The scan is over before the control connection's first byte.
        relay.Hold = (_, _) =>
        {
            foreach (string name in names.Take(removed)) File.Delete(name);
            return Task.CompletedTask;
        };

        var (exit, output, error) = await SgltyProcess.RunAsync(["send", tree, "-H", "--delete", "--out-format=%l %n%L", "--to", relay.Url.ToString()]);

        string received = Path.Combine(destination, "tree");
        TestFiles.AssertSameBytes(kept, Path.Combine(received, "0.bin"));
        Assert.Equal(3u, Names(Path.Combine(received, "0.bin")));
        Assert.Equal(Identity(Path.Combine(received, "0.bin")), Identity(Path.Combine(received, "a0.bin")));
        Assert.Equal(Identity(Path.Combine(received, "0.bin")), Identity(Path.Combine(received, "l.bin")));
        Assert.Equal(holds, File.ReadAllBytes(held));
        if (receiverFromBefore)
        {
            Assert.True(exit == 24, error);
            Assert.Contains("not sending 'tree/b.bin': 'tree/b.bin' was not linked to 'tree/a.bin': that file vanished at the sender since the scan", error);
            Assert.DoesNotContain("written at the receiver", error);
            Assert.False(File.Exists(Path.Combine(received, "b.bin")));
            Assert.False(File.Exists(stale));
            return;
        }
        Assert.True(exit == 24, error);
        Assert.Contains($"{removed} {(removed == 1 ? "file" : "files")} vanished since the scan", error);
        Assert.False(File.Exists(stale));
        if (removed == names.Length)
        {
            Assert.All(names[1..], name => Assert.False(File.Exists(Path.Combine(received, Path.GetFileName(name)))));
            return;
        }
        string sent = Path.GetFileName(names[removed]);
        Assert.Equal(contents, File.ReadAllBytes(Path.Combine(received, sent)));
        var file = Identity(Path.Combine(received, sent));
        Assert.Equal((uint)(names.Length - removed), file.Names);
        Assert.Equal(file, Identity(Path.Combine(received, "d.bin")));
        Assert.Contains($"100000 tree/d.bin => tree/{sent}\n", output);
    }

    /// <summary>
    /// With -H, the further names of a file written to while it was sent (withdrawn, its old copy kept at the receiver)
    /// are not made, and say why; as the file, they are left out by the sender, not failed at the receiver, and do not
    /// stop the deletion.
    /// </summary>
    [Fact]
    public async Task The_further_names_of_a_file_changed_while_it_was_sent_say_why_they_were_not_made()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("tree");
        string changing = TestFiles.Create(Path.Combine(tree, "a.bin"), 100_000, seed: 1);
        Link(changing, Path.Combine(tree, "b.bin"));
        string kept = TestFiles.Create(Path.Combine(tree, "k.bin"), 50_000, seed: 2);
        string destination = temp.Sub("dst");
        string stale = TestFiles.Create(Path.Combine(destination, "tree", "stale.bin"), 5_000, seed: 4);
        await using var receiver = new LoopbackReceiver(destination);
        await using var relay = new TcpRelay(receiver.Url);
        relay.RewriteOnceAfterScan(changing);

        var (exit, _, error) = await SgltyProcess.RunAsync(["send", tree, "-H", "--delete", "--to", relay.Url.ToString()]);

        Assert.True(exit == 23, error);
        Assert.Contains("2 files changed while they were sent", error);
        Assert.Contains("not sending 'tree/b.bin': 'tree/b.bin' was not linked to 'tree/a.bin': the sender found that file changed while it was sent", error);
        Assert.DoesNotContain("written at the receiver", error);
        Assert.False(File.Exists(stale));
        TestFiles.AssertSameBytes(kept, Path.Combine(destination, "tree", "k.bin"));
        Assert.False(File.Exists(Path.Combine(destination, "tree", "b.bin")));
    }

    /// <summary>
    /// The manifest may go beyond its declared total by the size of a linked file the sender found vanished (a further
    /// name of it sent in its place), and by no more; nor by a file it could not read (FilesDropped), nor by one not
    /// marked linked, nor at a receiver without capability bit 3.
    /// </summary>
    [Theory]
    [InlineData(true, true, 10_000, true, true)]
    [InlineData(true, true, 10_001, true, false)]
    [InlineData(false, true, 10_000, true, false)]
    [InlineData(true, false, 10_000, true, false)]
    [InlineData(true, true, 10_000, false, false)]
    public async Task A_manifest_grows_past_its_total_only_by_a_linked_file_that_vanished(bool vanished, bool linked, int size, bool receiverTakes, bool accepted)
    {
        using var temp = new TempDirectory();
        uint before = WireFormat.CapabilityPatches | WireFormat.CapabilityVanished | WireFormat.CapabilityWithdrawn;
        await using var receiver = new LoopbackReceiver(temp.Sub("dst"), new TransferOptions { Cipher = CipherSuite.None }, adjust: receiverTakes ? null : options => options with { Capabilities = before });
        await using var peer = await RawPeer.ConnectAsync(receiver.Url);
        Assert.Equal(ErrorCode.None, (await peer.HelloAsync(ConnectionRole.Control, receiver.Token)).Status);
        await peer.SendControlAsync(ControlMessageType.OpenSession, RawPeer.OpenSession(4096, 1, 2, 10_000, OpenSessionFlags.HardLinks));
        await peer.SendControlAsync(ControlMessageType.ManifestChunk, RawPeer.Manifest(
            new ManifestEntry(EntryKind.File, "a", 10_000, (UnixFileMode)0b110_100_100, 0, null) { Linked = linked }));
        Assert.NotNull(await peer.ReadUntilAsync(ControlMessageType.ManifestAccepted));
        byte[] batch = new byte[8];
        batch[0] = 1;
        await peer.SendControlAsync(vanished ? ControlMessageType.FilesVanished : ControlMessageType.FilesDropped, batch);
        byte[] chunk = RawPeer.Manifest(new ManifestEntry(EntryKind.File, "b", size, (UnixFileMode)0b110_100_100, 0, null) { Linked = true });
        chunk[0] = 1;
        await peer.SendControlAsync(ControlMessageType.ManifestChunk, chunk);

        ControlMessageType answer = 0;
        await peer.ReadUntilAsync(ControlMessageType.ManifestAccepted, type => answer = type == ControlMessageType.Error ? type : answer);

        Assert.Equal(accepted ? 0 : ControlMessageType.Error, answer);
    }

    private static void AssertLinked(string root)
    {
        var x = Identity(Path.Combine(root, "a", "x"));
        Assert.Equal(3u, x.Names);
        Assert.Equal(x, Identity(Path.Combine(root, "b", "y")));
        Assert.Equal(x, Identity(Path.Combine(root, "c", "z")));
        var pair = Identity(Path.Combine(root, "d", "pair1"));
        Assert.Equal(2u, pair.Names);
        Assert.Equal(pair, Identity(Path.Combine(root, "d", "pair2")));
        Assert.Equal(1u, Names(Path.Combine(root, "solo")));
        Assert.Equal(1u, Names(Path.Combine(root, "e", "lonely")));
    }

    private static void Link(string existing, string created)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(created)!);
        SpecialFiles.Link(existing, created);
    }

    private static (ulong Device, ulong Inode, uint Names) Identity(string path) => SpecialFiles.IdentityOf(path) ?? throw new FileNotFoundException(path);

    private static uint Names(string path) => Identity(path).Names;
}
