using Singularity.Engine;
using Singularity.Engine.Protocol;
using Singularity.Engine.Storage;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// With <see cref="TransferOptions.PreserveOwners"/>, a receiver running as root gives files, directories and links
/// the source's owner and group, by name where it knows the name and by number otherwise, as rsync -a does, also to
/// files already in place.
/// </summary>
public sealed class OwnerTests
{
    private static readonly TransferOptions Quick = new() { ShardSize = 4096, SkipUnchanged = true };

    [SkippableFact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Owners_arrive_by_number_and_are_brought_up_to_date_in_place()
    {
        Skip.IfNot(SpecialFiles.MayChangeOwners, "giving files owners needs root on Linux");
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        string small = TestFiles.Create(Path.Combine(tree, "small"), 100, seed: 1);
        string large = TestFiles.Create(Path.Combine(tree, "sub", "large"), 50_000, seed: 2);
        string sub = Path.Combine(tree, "sub");
        string link = Path.Combine(tree, "link");
        File.CreateSymbolicLink(link, "small");
        // nobody, and ids no user or group has here.
        Assert.True(SpecialFiles.TrySetOwnerNotFollowing(small, (65534, 65534)));
        Assert.True(SpecialFiles.TrySetOwnerNotFollowing(large, (4242, 4343)));
        Assert.True(SpecialFiles.TrySetOwnerNotFollowing(sub, (4242, 65534)));
        Assert.True(SpecialFiles.TrySetOwnerNotFollowing(link, (65534, 4343)));
        string destination = temp.Sub("dst");
        string received = Path.Combine(destination, "tree");
        await using var receiver = new LoopbackReceiver(destination);

        await SingularitySender.SendAsync([tree], receiver.Url, Quick);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((0u, 0u), SpecialFiles.OwnerOf(Path.Combine(received, "small")));

        var kept = await SingularitySender.SendAsync([tree], receiver.Url, Quick with { PreserveOwners = true });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(2, kept.FilesUnchanged);
        foreach (string source in (string[])[small, large, sub, link])
            Assert.Equal(SpecialFiles.OwnerOf(source), SpecialFiles.OwnerOf(Path.Combine(received, Path.GetRelativePath(tree, source))));

        Assert.True(SpecialFiles.TrySetOwnerNotFollowing(small, (1, 2)));
        File.Delete(Path.Combine(received, "sub", "large"));
        await SingularitySender.SendAsync([tree], receiver.Url, Quick with { PreserveOwners = true });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((1u, 2u), SpecialFiles.OwnerOf(Path.Combine(received, "small")));
        Assert.Equal((4242u, 4343u), SpecialFiles.OwnerOf(Path.Combine(received, "sub", "large")));
        TestFiles.AssertSameTree(tree, received);
    }

    /// <summary>
    /// -o keeps the user alone and -g (here -a --no-o) the group alone, as rsync's do: the part not kept stays as the
    /// receiver finds it on a file in place, and is the receiver's own on what it makes; -i names only the part set.
    /// </summary>
    [SkippableFact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task The_user_or_the_group_alone_is_kept_as_rsync_o_and_g_keep_it()
    {
        Skip.IfNot(SpecialFiles.MayChangeOwners, "giving files owners needs root on Linux");
        using var temp = new TempDirectory();
        string tree = temp.Sub("src");
        string inPlace = TestFiles.Create(Path.Combine(tree, "in-place"), 1000, seed: 1);
        string made = TestFiles.Create(Path.Combine(tree, "sub", "made"), 2000, seed: 2);
        string link = Path.Combine(tree, "link");
        File.CreateSymbolicLink(link, "in-place");
        foreach (string path in (string[])[inPlace, made, Path.Combine(tree, "sub"), link]) Assert.True(SpecialFiles.TrySetOwnerNotFollowing(path, (4242, 4343)));
        string destination = temp.Sub("dst"), there = Path.Combine(destination, "in-place");
        File.Copy(inPlace, there);
        File.SetLastWriteTimeUtc(there, File.GetLastWriteTimeUtc(inPlace));
        Assert.True(SpecialFiles.TrySetOwnerNotFollowing(there, (1, 2)));
        await using var receiver = new LoopbackReceiver(destination);

        var (exit, output, error) = await SgltyProcess.RunAsync("send", tree + "/", "--to", receiver.Url.ToString(), "-o", "-i");
        Assert.True(exit == 0, error);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((4242u, 2u), SpecialFiles.OwnerOf(there));
        foreach (string name in (string[])["sub", "sub/made", "link"]) Assert.Equal((4242u, 0u), SpecialFiles.OwnerOf(Path.Combine(destination, name)));
        Assert.Contains(".f....o.... in-place\n", output);

        Assert.True(SpecialFiles.TrySetOwnerNotFollowing(there, (1, 2)));
        (exit, output, error) = await SgltyProcess.RunAsync("send", tree + "/", "--to", receiver.Url.ToString(), "-a", "--no-o", "-i");
        Assert.True(exit == 0, error);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((1u, 4343u), SpecialFiles.OwnerOf(there));
        Assert.Equal((4242u, 4343u), SpecialFiles.OwnerOf(Path.Combine(destination, "sub", "made")));
        Assert.Contains(".f.....g... in-place\n", output);
        Assert.Contains(".f.....g... sub/made\n", output);

        // Read in order, as rsync reads them: -o after --no-o keeps the user, --no-g after -a takes the group back.
        Assert.True(SpecialFiles.TrySetOwnerNotFollowing(there, (1, 2)));
        (exit, output, error) = await SgltyProcess.RunAsync("send", tree + "/", "--to", receiver.Url.ToString(), "-a", "--no-o", "-o", "--no-g");
        Assert.True(exit == 0, error);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((4242u, 2u), SpecialFiles.OwnerOf(there));
        TestFiles.AssertSameTree(tree, destination);
    }

    /// <summary>
    /// --chown gives every entry the user and group it names, by name or number, as rsync --chown does, which is
    /// run beside it on the same tree; with the group alone, the user stays as the receiver finds or makes it. An
    /// unknown name is refused before anything moves.
    /// </summary>
    [SkippableFact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Chown_gives_every_entry_the_owner_it_names_as_rsyncs_does()
    {
        Skip.IfNot(SpecialFiles.MayChangeOwners && Commands.RsyncAtLeast(3, 1), "needs root on Linux, and rsync 3.1 or later");
        using var temp = new TempDirectory();
        string tree = temp.Sub("src"), destination = temp.Sub("dst"), copy = temp.Sub("copy");
        string[] names = ["f", "sub", "sub/g", "link"];
        TestFiles.Create(Path.Combine(tree, "f"), 3000, seed: 1);
        TestFiles.Create(Path.Combine(tree, "sub", "g"), 4000, seed: 2);
        File.CreateSymbolicLink(Path.Combine(tree, "link"), "f");
        foreach (string name in names) Assert.True(SpecialFiles.TrySetOwnerNotFollowing(Path.Combine(tree, name), (4242, 4343)));
        await using var receiver = new LoopbackReceiver(destination);

        Assert.True(Commands.Run("rsync", "-rlpt", "--chown=nobody:5678", tree + "/", copy + "/"));
        var (exit, _, error) = await SgltyProcess.RunAsync("send", tree + "/", "--to", receiver.Url.ToString(), "--chown", "nobody:5678");
        Assert.True(exit == 0, error);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        foreach (string name in names)
        {
            Assert.Equal((65534u, 5678u), SpecialFiles.OwnerOf(Path.Combine(destination, name)));
            Assert.Equal(SpecialFiles.OwnerOf(Path.Combine(copy, name)), SpecialFiles.OwnerOf(Path.Combine(destination, name)));
        }

        // The group alone: the user of an entry in place stays; a new entry's is the receiver's own.
        TestFiles.Create(Path.Combine(tree, "new"), 10, seed: 3);
        Assert.True(SpecialFiles.TrySetOwnerNotFollowing(Path.Combine(tree, "new"), (4242, 4343)));
        Assert.True(Commands.Run("rsync", "-rlpt", "--chown=:7", tree + "/", copy + "/"));
        (exit, var changes, error) = await SgltyProcess.RunAsync("send", tree + "/", "--to", receiver.Url.ToString(), "--chown", ":7", "-i");
        Assert.True(exit == 0, error + changes);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.True((65534u, 7u) == SpecialFiles.OwnerOf(Path.Combine(destination, "f")), changes);
        Assert.True((65534u, 7u) == SpecialFiles.OwnerOf(Path.Combine(destination, "link")), changes);
        Assert.Equal((0u, 7u), SpecialFiles.OwnerOf(Path.Combine(destination, "new")));
        foreach (string name in (string[])[.. names, "new"])
            Assert.Equal(SpecialFiles.OwnerOf(Path.Combine(copy, name)), SpecialFiles.OwnerOf(Path.Combine(destination, name)));
        TestFiles.AssertSameTree(tree, destination);

        // Read in order, as rsync reads them: --no-o after --chown takes its user back; a link standing as sent keeps
        // the owner the send does not give it.
        TestFiles.Create(Path.Combine(tree, "newer"), 10, seed: 4);
        Assert.True(SpecialFiles.TrySetOwnerNotFollowing(Path.Combine(destination, "link"), (1, 2)));
        (exit, _, error) = await SgltyProcess.RunAsync("send", tree + "/", "--to", receiver.Url.ToString(), "--chown", "nobody:5678", "--no-o");
        Assert.True(exit == 0, error);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((0u, 5678u), SpecialFiles.OwnerOf(Path.Combine(destination, "newer")));
        Assert.Equal((1u, 5678u), SpecialFiles.OwnerOf(Path.Combine(destination, "link")));
        (exit, _, error) = await SgltyProcess.RunAsync("send", tree + "/", "--to", receiver.Url.ToString());
        Assert.True(exit == 0, error);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((1u, 5678u), SpecialFiles.OwnerOf(Path.Combine(destination, "link")));

        var (unknown, _, why) = await SgltyProcess.RunAsync("send", tree + "/", "--to", receiver.Url.ToString(), "--chown", "no-such-user-here");
        Assert.NotEqual(0, unknown);
        Assert.Contains("--chown: no user 'no-such-user-here' here", why);
        var (malformed, _, said) = await SgltyProcess.RunAsync("send", tree + "/", "--to", receiver.Url.ToString(), "--chown", "a:b:c");
        Assert.NotEqual(0, malformed);
        Assert.Contains("--chown takes USER:GROUP, USER or :GROUP, not 'a:b:c'", said);
    }

    /// <summary>
    /// --usermap and --groupmap give users and groups others by rsync's pairs, the first that matches deciding: by
    /// name, wildcard, range, number, '*' and an empty FROM for ids without a name, as rsync --usermap, run beside it
    /// on the same tree, gives them; with --numeric-ids every id is one without a name. They keep the part they map,
    /// as -o and -g do, and --chown does not go with them.
    /// </summary>
    [SkippableFact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Usermap_and_groupmap_give_the_owners_rsyncs_give()
    {
        Skip.IfNot(SpecialFiles.MayChangeOwners && Commands.RsyncAtLeast(3, 1), "needs root on Linux, and rsync 3.1 or later");
        Skip.IfNot(AccountNames.UserName(1) == "daemon" && AccountNames.UserName(2) == "bin" && AccountNames.GroupName(2) == "bin" && AccountNames.UserId("nobody") == 65534 && AccountNames.UserName(4242) is null && AccountNames.GroupName(4343) is null,
            "needs the users daemon (1), bin (2) and nobody (65534), the group bin (2), and no user 4242 nor group 4343, as Debian has them");
        using var temp = new TempDirectory();
        string tree = temp.Sub("src"), destination = temp.Sub("dst");
        (string Name, (uint, uint) Owner)[] owned = [("daemon's", (1, 1)), ("bin's", (2, 2)), ("root's", (0, 0)), ("sub", (4242, 4343)), ("sub/unnamed", (4242, 4343)), ("link", (1, 2))];
        TestFiles.Create(Path.Combine(tree, "daemon's"), 3000, seed: 1);
        TestFiles.Create(Path.Combine(tree, "bin's"), 100, seed: 2);
        TestFiles.Create(Path.Combine(tree, "root's"), 100, seed: 3);
        TestFiles.Create(Path.Combine(tree, "sub", "unnamed"), 100, seed: 4);
        File.CreateSymbolicLink(Path.Combine(tree, "link"), "bin's");
        foreach (var (name, owner) in owned) Assert.True(SpecialFiles.TrySetOwnerNotFollowing(Path.Combine(tree, name), owner));
        await using var receiver = new LoopbackReceiver(destination);

        string[][] sends = [
            ["--usermap", "daemon:bin,:nobody,0-9:5000", "--groupmap", "b*:7,*:8"],
            ["--usermap", "d*n:6000,2:bin,*:0"],
            ["--groupmap", "bin:daemon,4000-4999:9", "--numeric-ids"],
            ["--usermap", "daemon:6000,:nobody", "--numeric-ids"]];
        for (int i = 0; i < sends.Length; i++)
        {
            string[] maps = sends[i];
            string copy = temp.Sub($"copy{i}");
            // Into an empty destination each time, as rsync's copy: a part not kept stays as the entry in place has it.
            foreach (var entry in new DirectoryInfo(destination).EnumerateFileSystemInfos())
                if (entry is DirectoryInfo directory) directory.Delete(recursive: true); else entry.Delete();
            Assert.True(Commands.Run("rsync", ["-rlpt", .. maps, tree + "/", copy + "/"]));
            var (exit, _, error) = await SgltyProcess.RunAsync(["send", tree + "/", "--to", receiver.Url.ToString(), .. maps]);
            Assert.True(exit == 0, error);
            Assert.True((await receiver.NextResultAsync()).Succeeded);
            foreach (var (name, _) in owned)
                Assert.True(SpecialFiles.OwnerOf(Path.Combine(copy, name)) == SpecialFiles.OwnerOf(Path.Combine(destination, name)), $"{name} with {string.Join(' ', maps)}");
            TestFiles.AssertSameTree(tree, destination);
            if (i > 0) continue;
            // What the first gives, spelt out: daemon became bin, the nameless user nobody, root 5000; bin's group 7, the rest 8.
            Assert.Equal((2u, 8u), SpecialFiles.OwnerOf(Path.Combine(destination, "daemon's")));
            Assert.Equal((5000u, 7u), SpecialFiles.OwnerOf(Path.Combine(destination, "bin's")));
            Assert.Equal((5000u, 8u), SpecialFiles.OwnerOf(Path.Combine(destination, "root's")));
            Assert.Equal((65534u, 8u), SpecialFiles.OwnerOf(Path.Combine(destination, "sub/unnamed")));
        }

        var (both, _, why) = await SgltyProcess.RunAsync("send", tree + "/", "--to", receiver.Url.ToString(), "--chown", "bin", "--usermap", "*:daemon");
        Assert.NotEqual(0, both);
        Assert.Contains("--usermap: does not go with --chown's user", why);
        var (malformed, _, said) = await SgltyProcess.RunAsync("send", tree + "/", "--to", receiver.Url.ToString(), "--groupmap", "bin");
        Assert.NotEqual(0, malformed);
        Assert.Contains("--groupmap: takes FROM:TO pairs separated by commas, and 'bin' is not one", said);
    }

    /// <summary>
    /// With the user alone kept, an earlier copy (--copy-dest) of that user is used whatever its group, and the copy
    /// made from it gets the kept user and the receiver's own group, as a received file would.
    /// </summary>
    [SkippableFact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task An_earlier_copy_made_with_the_user_alone_kept_gets_that_user()
    {
        Skip.IfNot(SpecialFiles.MayChangeOwners, "giving files owners needs root on Linux");
        using var temp = new TempDirectory();
        string tree = temp.Sub("src"), destination = temp.Sub("dst");
        string file = TestFiles.Create(Path.Combine(tree, "f"), 5000, seed: 1);
        Assert.True(SpecialFiles.TrySetOwnerNotFollowing(file, (4242, 4343)));
        string earlier = Path.Combine(destination, "old", "f");
        Directory.CreateDirectory(Path.GetDirectoryName(earlier)!);
        File.Copy(file, earlier);
        File.SetLastWriteTimeUtc(earlier, File.GetLastWriteTimeUtc(file));
        Assert.True(SpecialFiles.TrySetOwnerNotFollowing(earlier, (4242, 7)));
        await using var receiver = new LoopbackReceiver(destination);

        await SingularitySender.SendAsync([tree + "/"], receiver.Url with { Directory = "new" }, Quick with { PreserveOwners = true, OwnerParts = OwnerParts.User, CopyDestinations = ["../old"] });
        var received = await receiver.NextResultAsync();
        Assert.True(received.Succeeded, received.Error?.Message);
        Assert.Equal(1, received.FilesCopied);
        Assert.Equal((4242u, 0u), SpecialFiles.OwnerOf(Path.Combine(destination, "new", "f")));
        TestFiles.AssertSameBytes(file, Path.Combine(destination, "new", "f"));

        // With the group alone kept, a copy of another user is linked all the same, as rsync does: the user is not looked at.
        Assert.True(SpecialFiles.TrySetOwnerNotFollowing(earlier, (77, 4343)));
        await SingularitySender.SendAsync([tree + "/"], receiver.Url with { Directory = "linked" }, Quick with { PreserveOwners = true, OwnerParts = OwnerParts.Group, LinkDestinations = ["../old"] });
        received = await receiver.NextResultAsync();
        Assert.True(received.Succeeded, received.Error?.Message);
        Assert.Equal(1, received.FilesLinked);
        Assert.Equal(SpecialFiles.IdentityOf(earlier)!.Value.Inode, SpecialFiles.IdentityOf(Path.Combine(destination, "linked", "f"))!.Value.Inode);
    }

    /// <summary>
    /// A receiver that is root but may not give the sender's ids (root of a user namespace, which maps none of them)
    /// still commits every entry, as its own, and its log counts them; before, the first link ended the session.
    /// </summary>
    [SkippableFact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task A_receiver_refused_the_owners_still_receives_everything()
    {
        Skip.IfNot(SpecialFiles.MayChangeOwners && Commands.Run("unshare", "-U", "-r", "true"), "needs root and user namespaces");
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        string file = TestFiles.Create(Path.Combine(tree, "sub", "f"), 20_000);
        File.CreateSymbolicLink(Path.Combine(tree, "l"), "sub/f");
        foreach (string path in (string[])[file, Path.Combine(tree, "sub"), Path.Combine(tree, "l")]) Assert.True(SpecialFiles.TrySetOwnerNotFollowing(path, (4242, 4343)));
        string destination = temp.Sub("dst"), urlFile = Path.Combine(temp.Path, "url");
        File.SetUnixFileMode(temp.Path, (UnixFileMode)0b111_111_111);
        File.SetUnixFileMode(destination, (UnixFileMode)0b111_111_111);
        using var receiver = SgltyProcess.StartInUserNamespace("recv", "--dir", destination, "--listen", "127.0.0.1:0", "--once", "--url-file", urlFile);
        string url = await SgltyProcess.WaitForFileAsync(urlFile, receiver);

        var (exit, _, error) = await SgltyProcess.RunAsync("send", tree, "--to", url, "--owners");
        var (receiverExit, _, receiverError) = await SgltyProcess.FinishAsync(receiver);

        Assert.True(exit == 0, error);
        Assert.True(receiverExit == 0, receiverError);
        Assert.Contains("3 entries kept this receiver's owner (the system refused the sender's)", receiverError);
        TestFiles.AssertSameTree(tree, Path.Combine(destination, "tree"));
    }

    /// <summary>
    /// Owners travel by name: a receiver whose system gives a user and a group of the same name other ids gives the
    /// entries those ids; an id without a name here, or one the receiver does not know, stays as it is, and so does
    /// root's. With --numeric-ids, the ids stay as they are here.
    /// </summary>
    [SkippableFact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Owners_travel_by_name_and_take_the_receivers_ids()
    {
        Skip.IfNot(SpecialFiles.MayChangeOwners && Commands.Run("unshare", "-m", "true"), "needs root and mount namespaces");
        Skip.IfNot(AccountNames.UserName(1) == "daemon" && AccountNames.GroupName(1) == "daemon" && AccountNames.UserName(2) == "bin", "needs the users daemon (1) and bin (2), and the group daemon (1), as Debian has them");
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        string byName = TestFiles.Create(Path.Combine(tree, "daemon's"), 5_000, seed: 1);
        string root = TestFiles.Create(Path.Combine(tree, "root's"), 100, seed: 2);
        string unnamed = TestFiles.Create(Path.Combine(tree, "unnamed"), 100, seed: 3);
        string unknownThere = TestFiles.Create(Path.Combine(tree, "bin's"), 100, seed: 4);
        Assert.True(SpecialFiles.TrySetOwnerNotFollowing(byName, (1, 1)));
        Assert.True(SpecialFiles.TrySetOwnerNotFollowing(unnamed, (4242, 4343)));
        Assert.True(SpecialFiles.TrySetOwnerNotFollowing(unknownThere, (2, 1)));
        // The receiver's system: daemon is 4100 there, and there is no bin; root keeps its name, at another id.
        string passwd = Path.Combine(temp.Path, "passwd"), group = Path.Combine(temp.Path, "group");
        File.WriteAllText(passwd, "root:x:0:0:root:/root:/bin/sh\ndaemon:x:4100:4100::/:/bin/false\nnobody:x:4200:4200::/:/bin/false\n");
        File.WriteAllText(group, "root:x:0:\ndaemon:x:4101:\n");
        string destination = temp.Sub("dst"), urlFile = Path.Combine(temp.Path, "url");
        using var receiver = SgltyProcess.StartWithAccounts(passwd, group, "recv", "--dir", destination, "--listen", "127.0.0.1:0", "--url-file", urlFile);
        try
        {
            var url = ConnectionUrl.Parse(await SgltyProcess.WaitForFileAsync(urlFile, receiver));
            string received = Path.Combine(destination, "tree");

            await SingularitySender.SendAsync([tree], url, Quick with { PreserveOwners = true });

            Assert.Equal((4100u, 4101u), SpecialFiles.OwnerOf(Path.Combine(received, "daemon's")));
            Assert.Equal((0u, 0u), SpecialFiles.OwnerOf(Path.Combine(received, "root's")));
            Assert.Equal((4242u, 4343u), SpecialFiles.OwnerOf(Path.Combine(received, "unnamed")));
            Assert.Equal((2u, 4101u), SpecialFiles.OwnerOf(Path.Combine(received, "bin's")));
            TestFiles.AssertSameTree(tree, received);

            // By number: the files in place take the ids they have here.
            await SingularitySender.SendAsync([tree], url, Quick with { PreserveOwners = true, NumericIds = true });

            Assert.Equal((1u, 1u), SpecialFiles.OwnerOf(Path.Combine(received, "daemon's")));
            Assert.Equal((2u, 1u), SpecialFiles.OwnerOf(Path.Combine(received, "bin's")));
        }
        finally
        {
            receiver.Kill();
        }
    }

    /// <summary>OwnerNames comes once, before the manifest: a second one, or one after the first chunk, ends the session.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Owner_names_out_of_their_place_are_refused(bool afterTheManifest)
    {
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { Cipher = CipherSuite.None });
        await using var peer = await RawPeer.ConnectAsync(receiver.Url);
        var entry = new ManifestEntry(EntryKind.Directory, "made", 0, (UnixFileMode)0b111_101_101, 0, null);
        byte[] names = OwnerNamesMessage.Encode([new(false, 1, "daemon")]);
        Assert.Equal(ErrorCode.None, (await peer.HelloAsync(ConnectionRole.Control, receiver.Token)).Status);
        await peer.SendControlAsync(ControlMessageType.OpenSession, RawPeer.OpenSession(4096, 1, 2, 0));
        await peer.SendControlAsync(ControlMessageType.OwnerNames, names);
        if (afterTheManifest) await peer.SendControlAsync(ControlMessageType.ManifestChunk, RawPeer.Manifest(entry));
        await peer.SendControlAsync(ControlMessageType.OwnerNames, names);

        byte[]? error = await peer.ReadUntilAsync(ControlMessageType.Error);

        Assert.NotNull(error);
        Assert.Equal(ErrorCode.ProtocolViolation, ErrorMessage.Decode(error).Code);
        Assert.Contains("OwnerNames outside its place", ErrorMessage.Decode(error).Reason);
        Assert.False((await receiver.NextResultAsync()).Succeeded);
    }

    /// <summary>A directory named through a link is sent as what it points to, its owner too, as its mode and contents are.</summary>
    [SkippableFact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task A_directory_named_through_a_link_arrives_with_its_own_owner()
    {
        Skip.IfNot(SpecialFiles.MayChangeOwners, "giving files owners needs root on Linux");
        using var temp = new TempDirectory();
        string real = temp.Sub("src/real");
        TestFiles.Create(Path.Combine(real, "f"), 10);
        Assert.True(SpecialFiles.TrySetOwnerNotFollowing(real, (777, 778)));
        string named = Path.Combine(temp.Path, "src", "named");
        Directory.CreateSymbolicLink(named, real);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);

        await SingularitySender.SendAsync([named], receiver.Url, Quick with { PreserveOwners = true });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((777u, 778u), SpecialFiles.OwnerOf(Path.Combine(destination, "named")));
    }
}
