using System.Runtime.Versioning;
using Singularity.Engine;
using Singularity.Engine.Protocol;
using Singularity.Engine.Storage;
using Singularity.Tests.Support;
using static Singularity.Tests.Support.ItemizedLines;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// With <see cref="TransferOptions.Xattrs"/> (rsync -X), every entry's extended attributes travel with it: the
/// receiver gives them to what it makes or finds in place and removes the others there, as rsync -X does.
/// </summary>
[UnsupportedOSPlatform("windows")]
public sealed class XattrTests
{
    private static readonly DateTime Day = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
    /// <summary>A file capability of cap_net_raw, permitted: revision 2, then permitted and inheritable of two 32-bit words.</summary>
    private static readonly byte[] CapNetRaw = [0, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    private static readonly TransferOptions Kept = new() { ShardSize = 4096, SkipUnchanged = true, Xattrs = true, Specials = true, ItemizeChanges = 1 };

    /// <summary>
    /// Files, a directory, a link and a FIFO arrive with their attributes (root's trusted.* too), and what stood there
    /// loses the others; then, with attributes changed on both sides, files in place are brought up to date without
    /// travelling. Each time, rsync -X itemizes the same lines for the same trees, and both copies end alike.
    /// </summary>
    [SkippableFact]
    public async Task Attributes_arrive_and_are_brought_up_to_date_as_rsyncs_are()
    {
        Skip.IfNot(OperatingSystem.IsLinux() && Environment.IsPrivilegedProcess, "trusted.* attributes need root on Linux");
        Skip.IfNot(Commands.RsyncAtLeast(3, 1), "rsync 3.1 or later is not installed");
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), destination = temp.Sub("dst"), copy = Path.Combine(temp.Path, "copy");
        string file = TestFiles.Create(Path.Combine(source, "a.txt"), 10_000, seed: 1);
        string large = TestFiles.Create(Path.Combine(source, "sub", "large.bin"), 300_000, seed: 2);
        string pipe = TestFiles.CreateFifo(Path.Combine(source, "pipe"));
        string link = Path.Combine(source, "link");
        File.CreateSymbolicLink(link, "a.txt");
        string plain = TestFiles.Create(Path.Combine(source, "plain"), 100, seed: 3);
        Set(file, "user.one", "1");
        Set(file, "user.two", "two");
        Set(large, "trusted.big", new string('x', 3000));
        Set(Path.Combine(source, "sub"), "user.dir", "d");
        Set(pipe, "trusted.pipe", "p");
        Set(link, "trusted.link", "l");
        // What stands there already: a file with others, which go, and its data unchanged.
        string stale = TestFiles.Create(Path.Combine(destination, "plain"), 100, seed: 3);
        Set(stale, "user.stale", "s");
        foreach (string path in new[] { file, large, plain, stale, pipe }) File.SetLastWriteTimeUtc(path, Day);
        File.SetLastWriteTimeUtc(link, Day);
        foreach (string root in new[] { source, destination }) foreach (string directory in Directory.GetDirectories(root, "*", SearchOption.AllDirectories).Append(root)) Directory.SetLastWriteTimeUtc(directory, Day);
        Assert.True(Commands.Run("cp", "-a", "--preserve=all", destination, copy));
        Assert.Equal("s", Get(Path.Combine(copy, "plain"), "user.stale"));
        await using var receiver = new LoopbackReceiver(destination);

        var rsync = Rsync("-rlptDX", "-i", source + "/", copy + "/");
        var sent = await SingularitySender.SendAsync([source + "/"], receiver.Url, Kept);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        AssertSameLines(rsync, sent.Changes);
        Assert.Contains(".f........x plain", sent.Changes.Select(change => change.ToString()));
        AssertSameAttributes(source, destination);
        AssertSameAttributes(copy, destination);

        // Changed on both sides: a value, one removed, one added here and one there; the data stays.
        Set(file, "user.one", "changed");
        Remove(file, "user.two");
        Set(Path.Combine(source, "sub"), "user.more", "m");
        foreach (string root in new[] { destination, copy }) Set(Path.Combine(root, "sub", "large.bin"), "user.extra", "e");
        Directory.SetLastWriteTimeUtc(Path.Combine(source, "sub"), Day);
        rsync = Rsync("-rlptDX", "-i", source + "/", copy + "/");
        var again = await SingularitySender.SendAsync([source + "/"], receiver.Url, Kept);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        AssertSameLines(rsync, again.Changes);
        Assert.Equal((0, 0L), (again.FilesTransferred, again.BytesSent));
        AssertSameAttributes(source, destination);
        AssertSameAttributes(copy, destination);
        TestFiles.AssertSameTree(source, destination);
    }

    /// <summary>
    /// Without -X, what stands at the receiver keeps its attributes; a file's capabilities never travel nor are given,
    /// as no setuid bit is; and a file written in place (--inplace) or linked from an earlier copy (--link-dest) gets
    /// the source's, an earlier copy with others being sent instead.
    /// </summary>
    [SkippableFact]
    public async Task Attributes_are_kept_only_when_asked_and_capabilities_never()
    {
        Skip.IfNot(OperatingSystem.IsLinux() && Environment.IsPrivilegedProcess, "capabilities need root on Linux");
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), root = temp.Sub("dst"), destination = Path.Combine(root, "1");
        string tool = TestFiles.Create(Path.Combine(source, "tool"), 5_000, seed: 1);
        Assert.True(setxattr(tool, "security.capability", CapNetRaw, CapNetRaw.Length, 0) == 0, $"setxattr: {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}");
        Set(tool, "user.kind", "tool");
        string there = TestFiles.Create(Path.Combine(destination, "tool"), 5_000, seed: 1);
        File.SetLastWriteTimeUtc(there, File.GetLastWriteTimeUtc(tool));
        Set(there, "user.local", "stays");
        await using var receiver = new LoopbackReceiver(root);
        var first = receiver.Url with { Directory = "1" };

        await SingularitySender.SendAsync([source + "/"], first, new TransferOptions { SkipUnchanged = true });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal("stays", Get(there, "user.local"));

        await SingularitySender.SendAsync([source + "/"], first, new TransferOptions { SkipUnchanged = true, Xattrs = true });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(["user.kind"], Names(there));
        Assert.Equal(5_000, new FileInfo(there).Length);

        // Written in place: its new data and attributes.
        TestFiles.Create(tool, 5_000, seed: 2);
        Set(tool, "user.kind", "new");
        await SingularitySender.SendAsync([source + "/"], first, new TransferOptions { SkipUnchanged = true, Xattrs = true, InPlace = true });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameBytes(tool, there);
        Assert.Equal("new", Get(there, "user.kind"));

        // A snapshot linked from the last where the attributes are the same, sent where they are not.
        string other = TestFiles.Create(Path.Combine(source, "other"), 3_000, seed: 4);
        await SingularitySender.SendAsync([source + "/"], first, new TransferOptions { SkipUnchanged = true, Xattrs = true });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Set(other, "user.changed", "yes");
        var linked = await SingularitySender.SendAsync([source + "/"], receiver.Url with { Directory = "2" }, new TransferOptions { SkipUnchanged = true, Xattrs = true, LinkDestinations = ["../1"] });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(1, linked.FilesTransferred);
        Assert.Equal(SpecialFiles.IdentityOf(there)!.Value.Inode, SpecialFiles.IdentityOf(Path.Combine(root, "2", "tool"))!.Value.Inode);
        Assert.Equal("yes", Get(Path.Combine(root, "2", "other"), "user.changed"));
        Assert.Empty(Names(Path.Combine(destination, "other")));
    }

    /// <summary>
    /// POSIX ACLs (-A): a file's, and a directory's default, arrive, and an ACL the source does not have goes; then,
    /// changed, they are brought up to date in place. rsync -A itemizes the same lines ('a', and no 'p' for the group
    /// bits an ACL's mask holds), and both copies end alike, with -X's attributes beside them.
    /// </summary>
    [SkippableFact]
    public async Task Acls_arrive_and_are_brought_up_to_date_as_rsyncs_are()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "ACLs are read on Linux only");
        Skip.IfNot(Commands.RsyncAtLeast(3, 1), "rsync 3.1 or later is not installed");
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), destination = temp.Sub("dst"), copy = temp.Sub("copy");
        string file = TestFiles.Create(Path.Combine(source, "a.txt"), 10_000, seed: 1);
        string sub = Path.Combine(source, "sub");
        string inner = TestFiles.Create(Path.Combine(sub, "b.txt"), 1_000, seed: 2);
        SetAcl(file, ExtendedAttributes.AccessAcl, (2, 6, 1000), (8, 4, 2000));
        SetAcl(sub, ExtendedAttributes.DefaultAcl, (8, 5, 2000));
        Set(file, "user.note", "kept too");
        foreach (string root in new[] { destination, copy })
        {
            string there = TestFiles.Create(Path.Combine(root, "sub", "b.txt"), 1_000, seed: 2);
            SetAcl(there, ExtendedAttributes.AccessAcl, (2, 7, 3000));
        }
        foreach (string path in new[] { file, inner, Path.Combine(destination, "sub", "b.txt"), Path.Combine(copy, "sub", "b.txt") }) File.SetLastWriteTimeUtc(path, Day);
        foreach (string root in new[] { source, destination, copy }) foreach (string directory in Directory.GetDirectories(root, "*", SearchOption.AllDirectories).Append(root)) Directory.SetLastWriteTimeUtc(directory, Day);
        await using var receiver = new LoopbackReceiver(destination);
        var options = new TransferOptions { ShardSize = 4096, SkipUnchanged = true, Acls = true, Xattrs = true, ItemizeChanges = 1 };

        var rsync = Rsync("-rlptAX", "-i", source + "/", copy + "/");
        var sent = await SingularitySender.SendAsync([source + "/"], receiver.Url, options);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        AssertSameLines(rsync, sent.Changes);
        Assert.Contains(".f.......a. sub/b.txt", sent.Changes.Select(change => change.ToString()));
        AssertSameAttributes(source, destination);
        AssertSameAttributes(copy, destination);

        SetAcl(file, ExtendedAttributes.AccessAcl, (2, 4, 1000));
        Remove(sub, ExtendedAttributes.DefaultAcl);
        Directory.SetLastWriteTimeUtc(sub, Day);
        File.SetLastWriteTimeUtc(file, Day);
        rsync = Rsync("-rlptAX", "-ii", source + "/", copy + "/");
        var again = await SingularitySender.SendAsync([source + "/"], receiver.Url, options with { ItemizeChanges = 2 });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        AssertSameLines(rsync, again.Changes);
        Assert.Contains(".f.......a. a.txt", again.Changes.Select(change => change.ToString()));
        Assert.Equal(0, again.FilesTransferred);
        AssertSameAttributes(source, destination);
        AssertSameAttributes(copy, destination);
        TestFiles.AssertSameTree(source, destination);
    }

    /// <summary>
    /// Large attributes on many files and directories arrive though the receiver may hold only a few files' at once:
    /// the sender sends more only as files commit, the receiver lets go of each file's once it is set, and sets a
    /// directory's as it makes it.
    /// </summary>
    [SkippableFact]
    public async Task Large_attributes_on_many_files_arrive_within_what_the_receiver_holds()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "extended attributes are read on Linux only");
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), destination = temp.Sub("dst");
        for (int i = 0; i < 12; i++) Set(TestFiles.Create(Path.Combine(source, $"d{i}", "f"), 20_000, seed: i), "user.big", new string((char)('a' + i), 30_000));
        // Directories' too, which the receiver sets as it makes them, and holds none of.
        for (int i = 0; i < 12; i++) Set(Path.Combine(source, $"d{i}"), "user.big", new string((char)('A' + i), 30_000));
        var limits = new ProtocolLimits { MaxHeldXattrBytes = 100_000 };
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { Limits = limits });

        var result = await SingularitySender.SendAsync([source + "/"], receiver.Url, new TransferOptions { Xattrs = true, Limits = limits, ShardSize = 4096 });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(12, result.FilesTransferred);
        AssertSameAttributes(source, destination);
        TestFiles.AssertSameTree(source, destination);
    }

    /// <summary>
    /// What stands at the receiver, as the review of -X found it: attributes beyond what any entry carries (set there
    /// by someone else) are replaced, not taken for the sender's; a file's capability the source does not have goes,
    /// and keeps an earlier copy that has it from being linked; and the same link stays where it is, with what was given
    /// it there.
    /// </summary>
    [SkippableFact]
    public async Task What_stands_at_the_receiver_is_brought_to_the_source_s_attributes()
    {
        Skip.IfNot(OperatingSystem.IsLinux() && Environment.IsPrivilegedProcess, "trusted.* attributes and capabilities need root on Linux");
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), root = temp.Sub("dst"), destination = Path.Combine(root, "1");
        TestFiles.Create(Path.Combine(source, "f"), 1_000, seed: 1);
        TestFiles.Create(Path.Combine(source, "prog"), 1_000, seed: 2);
        File.CreateSymbolicLink(Path.Combine(source, "ln"), "f");
        foreach (string name in new[] { "f", "prog" }) File.Copy(Path.Combine(source, name), Path.Combine(Directory.CreateDirectory(destination).FullName, name));
        foreach (string name in new[] { "f", "prog" }) File.SetLastWriteTimeUtc(Path.Combine(destination, name), File.GetLastWriteTimeUtc(Path.Combine(source, name)));
        Set(Path.Combine(destination, "f"), "trusted.a", new string('a', 40_000));
        Set(Path.Combine(destination, "f"), "trusted.b", new string('b', 40_000));
        Assert.True(setxattr(Path.Combine(destination, "prog"), "security.capability", CapNetRaw, CapNetRaw.Length, 0) == 0);
        File.CreateSymbolicLink(Path.Combine(destination, "ln"), "f");
        Set(Path.Combine(destination, "ln"), "trusted.given", "here");
        File.SetLastWriteTimeUtc(Path.Combine(destination, "ln"), File.GetLastWriteTimeUtc(Path.Combine(source, "ln")));
        ulong link = SpecialFiles.IdentityOf(Path.Combine(destination, "ln"))!.Value.Inode;
        await using var receiver = new LoopbackReceiver(root);

        // An earlier copy with attributes the source does not have, a capability too, is not linked.
        var snapshot = await SingularitySender.SendAsync([source + "/"], receiver.Url with { Directory = "2" }, new TransferOptions { SkipUnchanged = true, Xattrs = true, LinkDestinations = ["../1"] });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(2, snapshot.FilesTransferred);
        Assert.Empty(Names(Path.Combine(root, "2", "prog")));

        var result = await SingularitySender.SendAsync([source + "/"], receiver.Url with { Directory = "1" }, new TransferOptions { SkipUnchanged = true, ItemizeChanges = 1 });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(link, SpecialFiles.IdentityOf(Path.Combine(destination, "ln"))!.Value.Inode);
        Assert.Equal("here", Get(Path.Combine(destination, "ln"), "trusted.given"));
        Assert.Empty(result.Changes);

        result = await SingularitySender.SendAsync([source + "/"], receiver.Url with { Directory = "1" }, new TransferOptions { SkipUnchanged = true, Xattrs = true, ItemizeChanges = 1 });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(0, result.FilesTransferred);
        Assert.Equal([".L........x ln -> f", ".f........x f", ".f........x prog"], result.Changes.Select(change => change.ToString()).Order(StringComparer.Ordinal));
        foreach (string name in new[] { "f", "prog", "ln" }) Assert.Empty(Names(Path.Combine(destination, name)));
        Assert.Equal(link, SpecialFiles.IdentityOf(Path.Combine(destination, "ln"))!.Value.Inode);
    }

    /// <summary>
    /// An entry whose attributes cannot travel (more than 64 KiB of them, a name that is not UTF-8) is left out and
    /// named, as rsync leaves out one whose attributes it cannot read: a directory with all it holds, a file with its
    /// other names. What stands at the receiver in their place keeps what it holds, no deletion runs, the rest
    /// arrives, and `sglty send` exits 23 with a line for each.
    /// </summary>
    [SkippableFact]
    public async Task An_entry_whose_attributes_cannot_travel_is_left_out_and_named()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "extended attributes are read on Linux only");
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), destination = temp.Sub("dst");
        string plain = TestFiles.Create(Path.Combine(source, "plain"), 5_000, seed: 1);
        Set(plain, "user.fine", "yes");
        string huge = TestFiles.Create(Path.Combine(source, "huge"), 5_000, seed: 2);
        Set(huge, "user.a", new string('a', 40_000));
        Set(huge, "user.b", new string('b', 40_000));
        SpecialFiles.Link(huge, Path.Combine(source, "z-huge"));
        string big = Path.Combine(source, "big");
        TestFiles.Create(Path.Combine(big, "inner"), 1_000, seed: 3);
        Set(big, "user.a", new string('a', 40_000));
        Set(big, "user.b", new string('b', 40_000));
        string odd = TestFiles.Create(Path.Combine(source, "odd"), 1_000, seed: 4);
        byte[] value = [1];
        Assert.True(setxattrBytes(odd, [.. "user."u8, 0xFF, 0], value, value.Length, 0) == 0);
        string standing = TestFiles.Create(Path.Combine(destination, "huge"), 5_000, seed: 9);
        string extra = TestFiles.Create(Path.Combine(destination, "extra"), 100, seed: 5);
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([source + "/"], receiver.Url, new TransferOptions { Xattrs = true, HardLinks = true, DeleteExtraneous = true });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal([
            ("big", "its extended attributes hold more than the 64 KiB an entry carries; send it without -X", true),
            ("huge", "its extended attributes hold more than the 64 KiB an entry carries; send it without -X", false),
            ("odd", "the name of one of its extended attributes is not valid UTF-8, which the receiver needs; send it without -X", false),
            ("z-huge", "its file 'huge' was not sent", false)],
            result.NotSent.Select(entry => (entry.Path, entry.Reason, entry.IsDirectory)).Order());
        Assert.Equal((1, true), (result.FilesTransferred, result.DeletionSkipped));
        TestFiles.AssertSameBytes(plain, Path.Combine(destination, "plain"));
        Assert.Equal("yes", Get(Path.Combine(destination, "plain"), "user.fine"));
        Assert.Equal(TestFiles.Sha256(TestFiles.Create(Path.Combine(temp.Path, "was"), 5_000, seed: 9)), TestFiles.Sha256(standing));
        Assert.True(File.Exists(extra));
        Assert.Equal(["extra", "huge", "plain"], Directory.EnumerateFileSystemEntries(destination).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        var (exit, _, error) = await SgltyProcess.RunAsync("send", source + "/", "--to", receiver.Url.ToString(), "-X");
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(23, exit);
        Assert.Contains("sglty: not sending 'odd': the name of one of its extended attributes is not valid UTF-8", error);
        Assert.Contains("sglty: not sending 'big/' or what it holds: its extended attributes hold more than", error);
        Assert.EndsWith("sglty: error: 4 entries were not sent, as their extended attributes or ACLs could not be read or could not travel (named above); everything else arrived", error.Trim());

        // With -A alone, a user.* name is none of the send's, UTF-8 or not.
        var acls = await SingularitySender.SendAsync([Path.Combine(source, "odd")], receiver.Url, new TransferOptions { Acls = true });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Empty(acls.NotSent);
        TestFiles.AssertSameBytes(odd, Path.Combine(destination, "odd"));
    }

    /// <summary>
    /// A receiver that is not root keeps user.* attributes alone: one a root sender's entries carry in another namespace
    /// is no difference there, sent after sent; and a file its owner may not write (0444) still takes a changed
    /// attribute, made writable for the change and back, as rsync makes it.
    /// </summary>
    [SkippableFact]
    public async Task A_receiver_that_is_not_root_brings_what_it_may_up_to_date()
    {
        Skip.IfNot(OperatingSystem.IsLinux() && Environment.IsPrivilegedProcess && Commands.Run("setpriv", "--version"), "needs root, to run the receiver as nobody");
        using var temp = new TempDirectory();
        var (source, destination, urls) = ForNobody(temp);
        string file = TestFiles.Create(Path.Combine(source, "ro"), 1_000, seed: 1);
        File.SetUnixFileMode(file, (UnixFileMode)0b100_100_100);
        Set(file, "user.k", "v1");
        Set(file, "trusted.t", "root's");
        string there = Path.Combine(destination, "ro");
        File.Copy(file, there);
        File.SetLastWriteTimeUtc(there, File.GetLastWriteTimeUtc(file));
        Set(there, "user.k", "v0");
        Assert.True(Commands.Run("chown", "65534:65534", there));
        File.SetUnixFileMode(there, (UnixFileMode)0b100_100_100);

        foreach (string expected in new[] { ".f........x ro\n", "" })
        {
            var (exit, output, error, receiverExit, receiverError) = await SendToNobodyAsync(destination, Path.Combine(urls, "url"), source + "/", "-X", "-i");
            Assert.True(exit == 0 && receiverExit == 0, error + receiverError);
            Assert.Equal(expected, output);
            Assert.Equal("v1", Get(there, "user.k"));
            Assert.Equal((UnixFileMode)0b100_100_100, File.GetUnixFileMode(there));
            Assert.DoesNotContain("lacked some", receiverError);
        }
    }

    /// <summary>
    /// The names of a linked file outside a directory left out for its attributes arrive, as rsync -H sends the names
    /// it keeps: where the first name lies inside, the next outside becomes the file and the others link to it; names
    /// inside go with the directory, which alone is named.
    /// </summary>
    [SkippableFact]
    public async Task Names_of_a_linked_file_outside_a_directory_left_out_arrive()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "extended attributes and hard links are read on Linux only");
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), destination = temp.Sub("dst");
        string big = Path.Combine(source, "big");
        string first = TestFiles.Create(Path.Combine(source, "a-link"), 3_000, seed: 1);
        SpecialFiles.Link(TestFiles.Create(Path.Combine(big, "solo"), 2_000, seed: 2), Path.Combine(source, "zz-solo"));
        SpecialFiles.Link(Path.Combine(big, "solo"), Path.Combine(source, "zz-solo2"));
        foreach (string name in new[] { Path.Combine(big, "inner"), Path.Combine(big, "inner2"), Path.Combine(source, "zz-link") }) SpecialFiles.Link(first, name);
        Set(big, "user.a", new string('a', 40_000));
        Set(big, "user.b", new string('b', 40_000));
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([source + "/"], receiver.Url, new TransferOptions { Xattrs = true, HardLinks = true });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(["big"], result.NotSent.Select(entry => entry.Path));
        Assert.Equal(["a-link", "zz-link", "zz-solo", "zz-solo2"], Directory.EnumerateFileSystemEntries(destination).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        foreach (string name in new[] { "a-link", "zz-link" }) TestFiles.AssertSameBytes(first, Path.Combine(destination, name));
        foreach (string name in new[] { "zz-solo", "zz-solo2" }) TestFiles.AssertSameBytes(Path.Combine(big, "solo"), Path.Combine(destination, name));
        Assert.Equal(SpecialFiles.IdentityOf(Path.Combine(destination, "a-link"))!.Value.Inode, SpecialFiles.IdentityOf(Path.Combine(destination, "zz-link"))!.Value.Inode);
        Assert.Equal(SpecialFiles.IdentityOf(Path.Combine(destination, "zz-solo"))!.Value.Inode, SpecialFiles.IdentityOf(Path.Combine(destination, "zz-solo2"))!.Value.Inode);
    }

    /// <summary>
    /// A receiver that is not root takes a directory and a file whose ACLs leave their owner no write: what the
    /// directory holds is still written into it, and the file's user.* attribute is set before the ACL that would
    /// refuse it, as rsync sets them.
    /// </summary>
    [SkippableFact]
    public async Task A_receiver_that_is_not_root_takes_acls_that_leave_the_owner_no_write()
    {
        Skip.IfNot(OperatingSystem.IsLinux() && Environment.IsPrivilegedProcess && Commands.Run("setpriv", "--version"), "needs root, to run the receiver as nobody");
        using var temp = new TempDirectory();
        var (source, destination, urls) = ForNobody(temp);
        string locked = Path.Combine(source, "locked");
        string file = TestFiles.Create(Path.Combine(locked, "f"), 1_000, seed: 1);
        TestFiles.Create(Path.Combine(locked, "g"), 2_000, seed: 2);
        Set(file, "user.k", "v");
        File.SetUnixFileMode(file, (UnixFileMode)0b100_100_100);
        SetAcl(file, ExtendedAttributes.AccessAcl, (2, 4, 1000));
        File.SetUnixFileMode(locked, (UnixFileMode)0b101_101_101);
        SetAcl(locked, ExtendedAttributes.AccessAcl, (2, 5, 1000));

        var (exit, _, error, receiverExit, receiverError) = await SendToNobodyAsync(destination, Path.Combine(urls, "url"), source + "/", "-A", "-X");
        Assert.True(exit == 0 && receiverExit == 0, error + receiverError);
        Assert.DoesNotContain("lacked some", receiverError);
        TestFiles.AssertSameTree(source, destination);
        string arrived = Path.Combine(destination, "locked", "f");
        Assert.True(ExtendedAttributes.Of(file, AttributeScope.Xattrs | AttributeScope.Acls).Equals(ExtendedAttributes.Of(arrived, AttributeScope.Xattrs | AttributeScope.Acls)));
        Assert.Equal(File.GetUnixFileMode(file), File.GetUnixFileMode(arrived));
        // The directory ends with its owner's write and search, as without -A, and the ACL's named entry.
        Assert.Equal(File.GetUnixFileMode(locked) | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(destination, "locked")));
        Assert.Contains(ExtendedAttributes.AccessAcl, Names(Path.Combine(destination, "locked")));
    }

    /// <summary>
    /// A receiver refused the attributes of a file in place (another user's, which a receiver that is not root may not
    /// change) keeps the file as it is: the send says so and exits 23, as rsync -X does, and the receiver's log counts
    /// it; a send of none there exits 0.
    /// </summary>
    [SkippableFact]
    public async Task Attributes_the_receiver_is_refused_make_the_send_say_so()
    {
        Skip.IfNot(OperatingSystem.IsLinux() && Environment.IsPrivilegedProcess && Commands.Run("setpriv", "--version"), "needs root, to run the receiver as nobody");
        using var temp = new TempDirectory();
        var (source, destination, urls) = ForNobody(temp);
        string file = TestFiles.Create(Path.Combine(source, "f"), 1_000, seed: 1);
        Set(file, "user.k", "v");
        TestFiles.Create(Path.Combine(source, "plain"), 1_000, seed: 2);
        // Root's, which nobody may read but not write.
        string there = Path.Combine(destination, "f");
        File.Copy(file, there);
        File.SetLastWriteTimeUtc(there, File.GetLastWriteTimeUtc(file));

        foreach (var (sent, expected) in new[] { (file, 23), (Path.Combine(source, "plain"), 0) })
        {
            var (exit, output, error, receiverExit, receiverError) = await SendToNobodyAsync(destination, Path.Combine(urls, "url"), sent, "-X", "--json");
            Assert.True(exit == expected && receiverExit == 0, error + receiverError);
            Assert.Contains($"\"xattrs_not_set\":{(expected == 23 ? "true" : "false")}", output);
            if (expected == 23) Assert.Contains("1 entry lacked some of the sender's extended attributes or ACLs (the file system or the system refused them; the first: 'f')", receiverError);
        }
        Assert.Empty(Names(there));
        TestFiles.AssertSameBytes(Path.Combine(source, "plain"), Path.Combine(destination, "plain"));

        // Told by the attempt after a lost connection too (one cut in the handshake, before the receiver looked).
        string lasting = Path.Combine(urls, "lasting");
        using var again = SgltyProcess.StartUnprivileged("recv", "--dir", destination, "--listen", "127.0.0.1:0", "--url-file", lasting, "--encrypt", "none");
        SendResult retried;
        try
        {
            await using var relay = new TcpRelay(ConnectionUrl.Parse(await SgltyProcess.WaitForFileAsync(lasting, again)));
            relay.CutAllOnce((connection, forwarded) => connection == 1 && forwarded > 0);
            retried = await SingularitySender.SendAsync([file], relay.Url, new TransferOptions { SkipUnchanged = true, Xattrs = true, Cipher = CipherSuite.None, Retries = 3 });
        }
        finally
        {
            // It serves until stopped: a failure here must not leave it behind.
            again.Kill();
        }
        Assert.Equal((1, true), (retried.Retries, retried.XattrsNotSet));
    }

    /// <summary>
    /// With --chmod beside -A, a file ends with the mode --chmod gives send after send, as with rsync: an ACL brought
    /// up to date in place carries the source's mode bits, and the mode is given after it.
    /// </summary>
    [SkippableFact]
    public async Task Chmod_beside_acls_gives_the_same_mode_send_after_send()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "ACLs are read on Linux only");
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), destination = temp.Sub("dst");
        string file = TestFiles.Create(Path.Combine(source, "f"), 1_000, seed: 1);
        SetAcl(file, ExtendedAttributes.AccessAcl, (2, 6, 1000));
        var expected = File.GetUnixFileMode(file) & ~UnixFileMode.OtherRead;
        await using var receiver = new LoopbackReceiver(destination);

        for (int send = 0; send < 3; send++)
        {
            var result = await SingularitySender.SendAsync([source + "/"], receiver.Url, new TransferOptions { SkipUnchanged = true, Acls = true, ModeChanges = ["o-r"] });
            Assert.True((await receiver.NextResultAsync()).Succeeded);
            Assert.Equal(send == 0 ? 1 : 0, result.FilesTransferred);
            Assert.Equal(expected, File.GetUnixFileMode(Path.Combine(destination, "f")));
        }
    }

    /// <summary>A scratch tree whose destination, and the directory a receiver writes its URL into, belong to nobody, for a receiver run as nobody.</summary>
    private static (string Source, string Destination, string Urls) ForNobody(TempDirectory temp)
    {
        string source = temp.Sub("src"), destination = temp.Sub("dst"), urls = temp.Sub("urls");
        foreach (string directory in new[] { temp.Path, destination, urls }) File.SetUnixFileMode(directory, (UnixFileMode)0b111_101_101);
        Assert.True(Commands.Run("chown", "65534:65534", destination, urls));
        return (source, destination, urls);
    }

    /// <summary>Runs `sglty send` with <paramref name="send"/> (its paths and options) to a receiver run as nobody into <paramref name="destination"/> for that one session, without encryption.</summary>
    private static async Task<(int Exit, string Output, string Error, int ReceiverExit, string ReceiverError)> SendToNobodyAsync(string destination, string urlFile, params string[] send)
    {
        File.Delete(urlFile);
        using var receiver = SgltyProcess.StartUnprivileged("recv", "--dir", destination, "--listen", "127.0.0.1:0", "--once", "--url-file", urlFile, "--encrypt", "none");
        string url = await SgltyProcess.WaitForFileAsync(urlFile, receiver);
        var (exit, output, error) = await SgltyProcess.RunAsync(["send", .. send, "--to", url, "--encrypt", "none"]);
        var (receiverExit, _, receiverError) = await SgltyProcess.FinishAsync(receiver);
        return (exit, output, error, receiverExit, receiverError);
    }

    private static void Set(string path, string name, string value)
    {
        byte[] bytes = System.Text.Encoding.UTF8.GetBytes(value);
        Assert.True(lsetxattr(path, name, bytes, bytes.Length, 0) == 0, $"lsetxattr {name} on {path}");
    }

    /// <summary>
    /// Gives <paramref name="path"/> a POSIX ACL of the owner's, group's and others' permissions from its mode, these
    /// named users (tag 2) and groups (tag 8) with their permissions, and a mask that lets them all through, as the
    /// kernel keeps it (version 2, then tag, permissions and id of each entry, in tag order).
    /// </summary>
    private static void SetAcl(string path, string name, params (ushort Tag, ushort Permissions, uint Id)[] named)
    {
        var mode = (int)File.GetUnixFileMode(path);
        var entries = new List<(ushort, ushort, uint)> { (1, (ushort)((mode >> 6) & 7), uint.MaxValue), (4, (ushort)((mode >> 3) & 7), uint.MaxValue) };
        entries.AddRange(named);
        entries.Add((0x10, 7, uint.MaxValue));
        entries.Add((0x20, (ushort)(mode & 7), uint.MaxValue));
        var bytes = new List<byte>(BitConverter.GetBytes(2u));
        foreach (var (tag, permissions, id) in entries.OrderBy(entry => entry.Item1))
            bytes.AddRange([.. BitConverter.GetBytes(tag), .. BitConverter.GetBytes(permissions), .. BitConverter.GetBytes(id)]);
        Assert.True(lsetxattr(path, name, [.. bytes], bytes.Count, 0) == 0, $"lsetxattr {name} on {path}: {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}");
    }

    private static void Remove(string path, string name) => Assert.True(lremovexattr(path, name) == 0);

    private static string? Get(string path, string name) =>
        ExtendedAttributes.Of(path, AttributeScope.Xattrs | AttributeScope.Acls).Items.Where(item => item.Name == name).Select(item => System.Text.Encoding.UTF8.GetString(item.Value)).FirstOrDefault();

    private static List<string> Names(string path) => [.. ExtendedAttributes.Of(path, AttributeScope.Xattrs | AttributeScope.Acls).Items.Select(item => item.Name)];

    /// <summary>Every entry below <paramref name="expected"/> has at its place below <paramref name="actual"/> the same attributes and ACLs.</summary>
    private static void AssertSameAttributes(string expected, string actual)
    {
        const AttributeScope both = AttributeScope.Xattrs | AttributeScope.Acls;
        foreach (string path in Directory.EnumerateFileSystemEntries(expected, "*", SearchOption.AllDirectories))
            Assert.True(ExtendedAttributes.Of(path, both).Equals(ExtendedAttributes.Of(Path.Combine(actual, Path.GetRelativePath(expected, path)), both)), path);
    }

#pragma warning disable SYSLIB1054, CA2101
    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int lsetxattr([System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.LPUTF8Str)] string path, [System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.LPUTF8Str)] string name, byte[] value, long size, int flags);

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int setxattr([System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.LPUTF8Str)] string path, [System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.LPUTF8Str)] string name, byte[] value, long size, int flags);

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "lsetxattr", SetLastError = true)]
    private static extern int setxattrBytes([System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.LPUTF8Str)] string path, byte[] name, byte[] value, long size, int flags);

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int lremovexattr([System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.LPUTF8Str)] string path, [System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.LPUTF8Str)] string name);
#pragma warning restore SYSLIB1054, CA2101
}
