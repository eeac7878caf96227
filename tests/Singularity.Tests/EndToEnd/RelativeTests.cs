using Singularity.Engine;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// With <see cref="TransferOptions.Relative"/>, as with rsync -R, each path arrives under the path it was given by
/// (after a "/./" marker, or whole), with the directories above it and nothing else of them.
/// </summary>
public sealed class RelativeTests
{
    private static readonly TransferOptions Quick = new() { ShardSize = 64 << 10, SkipUnchanged = true, Relative = true };
    private static readonly DateTime Then = new(2025, 3, 4, 5, 6, 7, DateTimeKind.Utc);

    [Fact]
    public async Task Each_path_arrives_under_its_kept_name_with_only_the_directories_above_it()
    {
        using var temp = new TempDirectory();
        string source = temp.Sub("src");
        foreach (var (name, seed) in new[] { ("logs/app/x.log", 1), ("logs/app/y.log", 2), ("logs/other/z.log", 3), ("data/d1/f", 4), ("data/d1/g", 5) })
            TestFiles.Create(Path.Combine(source, name), 40_000 + seed, seed);
        Directory.SetLastWriteTimeUtc(Path.Combine(source, "logs", "app"), Then);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);

        // A directory and a file in it, both given (as find lists them), and the same file twice: each is sent once.
        var result = await SingularitySender.SendAsync([$"{source}/./logs/app/x.log", $"{source}/./data/d1", $"{source}/./data/d1/f", $"{source}/./logs/app/x.log"], receiver.Url, Quick);

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((3, 7), (result.Files, result.Entries));
        Assert.Equal(["data", "data/d1", "data/d1/f", "data/d1/g", "logs", "logs/app", "logs/app/x.log"],
            Directory.EnumerateFileSystemEntries(destination, "*", SearchOption.AllDirectories).Select(path => Path.GetRelativePath(destination, path)).Order(StringComparer.Ordinal));
        foreach (string name in (string[])["logs/app/x.log", "data/d1/f", "data/d1/g"])
            TestFiles.AssertSameBytes(Path.Combine(source, name), Path.Combine(destination, name));
        Assert.Equal(Then, Directory.GetLastWriteTimeUtc(Path.Combine(destination, "logs", "app")));
    }

    /// <summary>Without a "/./", a path is kept whole: an absolute one below the receiver's directory without its leading '/'.</summary>
    [Fact]
    public async Task A_path_without_a_marker_is_kept_whole()
    {
        using var temp = new TempDirectory();
        string file = TestFiles.Create(Path.Combine(temp.Path, "src", "a", "f.bin"), 70_000, seed: 1);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);

        await SingularitySender.SendAsync([file], receiver.Url, Quick);

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameBytes(file, Path.Combine(destination, file.TrimStart('/')));
    }

    /// <summary>
    /// A list as `find` makes it: the directory itself ("."), a directory before what is in it, a link to a directory
    /// and a name below that link, a dangling link, and a name gone since. Links arrive as links (as rsync -R sends
    /// them), nothing is sent twice or through a link, the missing name is named, and the rest arrives.
    /// </summary>
    [Fact]
    public async Task A_list_as_find_makes_it_arrives_as_rsync_sends_it()
    {
        using var temp = new TempDirectory();
        string source = temp.Sub("src");
        TestFiles.Create(Path.Combine(source, "a", "x"), 30_000, seed: 1);
        TestFiles.Create(Path.Combine(source, "c", "g"), 20_000, seed: 2);
        TestFiles.Create(Path.Combine(source, "deep", "er", "y"), 10_000, seed: 3);
        File.CreateSymbolicLink(Path.Combine(source, "a", "lnk"), "../c");
        File.CreateSymbolicLink(Path.Combine(source, "dangling"), "nowhere");
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);
        string[] listed = [".", "a", "a/lnk", "a/lnk/g", "a/x", "dangling", "gone", "deep/er/y"];

        var result = await SingularitySender.SendAsync([.. listed.Select(name => $"{source}/./{name}")], receiver.Url, Quick);

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        // (a/lnk/g is c/g, seen through the link.)
        Assert.Equal(["a", "a/lnk", "a/lnk/g", "a/x", "c", "c/g", "dangling", "deep", "deep/er", "deep/er/y"],
            Directory.EnumerateFileSystemEntries(destination, "*", SearchOption.AllDirectories).Select(path => Path.GetRelativePath(destination, path)).Order(StringComparer.Ordinal));
        Assert.Equal("../c", new FileInfo(Path.Combine(destination, "a", "lnk")).LinkTarget);
        Assert.Equal("nowhere", new FileInfo(Path.Combine(destination, "dangling")).LinkTarget);
        TestFiles.AssertSameBytes(Path.Combine(source, "deep", "er", "y"), Path.Combine(destination, "deep", "er", "y"));
        var missing = Assert.Single(result.NotSent);
        Assert.Equal(("gone", "no such file or directory"), (missing.Path, missing.Reason));
        Assert.Equal((3, 3, 0), (result.Files, result.FilesTransferred, result.FilesNotSent));
    }

    /// <summary>
    /// As rsync -R reads them: the first "/./" marks where the kept path starts, a trailing "/." names the directory
    /// itself, and a path ending in "/./" with no marker before it sends the directory's contents.
    /// </summary>
    [Theory]
    [InlineData("t/./a/./b", "a/b/c/f")]
    [InlineData("./t/a/.", "t/a/b/c/f")]
    [InlineData("t/a/./", "b/c/f")]
    public async Task Markers_are_read_as_rsync_reads_them(string given, string arrives)
    {
        using var temp = new TempDirectory();
        string source = temp.Sub("src");
        string file = TestFiles.Create(Path.Combine(source, "t", "a", "b", "c", "f"), 5_000, seed: 1);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);

        await SingularitySender.SendAsync([$"{source}/{given}"], receiver.Url, Quick);

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameBytes(file, Path.Combine(destination, arrives));
    }

    /// <summary>One file given by two spellings that keep different paths arrives under both, as rsync -R sends it.</summary>
    [Fact]
    public async Task Two_spellings_that_keep_different_paths_arrive_under_both()
    {
        using var temp = new TempDirectory();
        string file = TestFiles.Create(Path.Combine(temp.Path, "srv", "a", "f"), 5_000, seed: 1);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);

        await SingularitySender.SendAsync([$"{temp.Path}/srv/./a/f", $"{temp.Path}/srv/a/./f"], receiver.Url, Quick);

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameBytes(file, Path.Combine(destination, "a", "f"));
        TestFiles.AssertSameBytes(file, Path.Combine(destination, "f"));
    }

    /// <summary>
    /// A kept path with ".." would name a place outside the destination: it is named and left out, and the rest is
    /// sent, as a missing name is (one odd line of a list does not stop the others). Deletion would empty directories
    /// sent in part, and is refused before anything is sent, as is a send without recursion that is not one of
    /// relative paths.
    /// </summary>
    [Fact]
    public async Task Dot_dot_in_a_kept_path_is_named_and_left_out_and_deletion_is_refused()
    {
        using var temp = new TempDirectory();
        string file = TestFiles.Create(Path.Combine(temp.Path, "src", "a", "f.bin"), 100);
        TestFiles.Create(Path.Combine(temp.Path, "src", "b", "g.bin"), 200);
        string destination = temp.Sub(Path.Combine("dst", "inner"));
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([$"{temp.Path}/src/./a/../b/g.bin", $"{temp.Path}/src/./../src/b", $"{temp.Path}/src/./a/f.bin"], receiver.Url, Quick);

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(["a", "a/f.bin"], Directory.EnumerateFileSystemEntries(destination, "*", SearchOption.AllDirectories).Select(path => Path.GetRelativePath(destination, path)).Order(StringComparer.Ordinal));
        TestFiles.AssertSameBytes(file, Path.Combine(destination, "a", "f.bin"));
        Assert.Equal(["inner"], Directory.EnumerateFileSystemEntries(temp.Sub("dst")).Select(Path.GetFileName));
        // Named as given after the "/./", as a list names them; not counted among the files, which are all sent.
        Assert.Equal(["a/../b/g.bin", "../src/b"], result.NotSent.Select(entry => entry.Path));
        Assert.All(result.NotSent, entry => Assert.StartsWith("it keeps '..' in its path", entry.Reason));
        Assert.Equal((1, 1, 0), (result.Files, result.FilesTransferred, result.FilesNotSent));

        var url = new ConnectionUrl("127.0.0.1", 9, "token");
        var flat = await Assert.ThrowsAsync<ArgumentException>(() => SingularitySender.SendAsync([file], url, Quick with { Relative = false, Recursive = false }));
        Assert.Equal(nameof(TransferOptions.Recursive), flat.ParamName);
    }

    /// <summary>
    /// With a deletion, only what a relative send sends whole is cleaned, as rsync -R --delete cleans it: a directory
    /// given, and those below it; not the directories above it, nor the receiver's own directory, nor (in a list
    /// without -r) a directory sent without what it holds. A dry run names just that.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_deletion_cleans_only_the_directories_sent_whole(bool recursive)
    {
        using var temp = new TempDirectory();
        string source = temp.Sub("src");
        TestFiles.Create(Path.Combine(source, "top", "app", "logs", "x.log"), 1000, seed: 1);
        TestFiles.Create(Path.Combine(source, "top", "app", "logs", "old", "y.log"), 1000, seed: 2);
        TestFiles.Create(Path.Combine(source, "top", "other", "z"), 1000, seed: 3);
        string destination = temp.Sub("dst");
        string[] stay = [TestFiles.Create(Path.Combine(destination, "root-junk"), 10, seed: 4), TestFiles.Create(Path.Combine(destination, "top", "app", "junk"), 10, seed: 5)];
        string[] go = [TestFiles.Create(Path.Combine(destination, "top", "app", "logs", "junk"), 10, seed: 6), TestFiles.Create(Path.Combine(destination, "top", "app", "logs", "old", "junk"), 10, seed: 7)];
        await using var receiver = new LoopbackReceiver(destination);
        var options = Quick with { DeleteExtraneous = true, Recursive = recursive };
        // The trailing '/' keeps the name, as with rsync -R: the receiver's own directory is not sent whole. (In a
        // list without -r it would send the directory at one level: see the next test.)
        string[] paths = [recursive ? $"{source}/./top/app/logs/" : $"{source}/./top/app/logs"];

        var dry = await SingularitySender.SendAsync(paths, receiver.Url, options with { DryRun = true });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        var result = await SingularitySender.SendAsync(paths, receiver.Url, options);

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        string[] deleted = recursive ? ["top/app/logs/junk", "top/app/logs/old/junk"] : [];
        Assert.Equal(deleted, dry.WouldDelete.Order(StringComparer.Ordinal));
        Assert.Equal(deleted.Length, result.EntriesDeleted);
        Assert.All(stay, path => Assert.True(File.Exists(path), path));
        Assert.All(go, path => Assert.Equal(!recursive, File.Exists(path)));
        if (recursive) TestFiles.AssertSameTree(Path.Combine(source, "top", "app", "logs"), Path.Combine(destination, "top", "app", "logs"));
        Assert.False(Directory.Exists(Path.Combine(destination, "top", "other")));
    }

    /// <summary>
    /// In a list without -r, a directory named with a trailing '/' (or '.' for the list's own directory) is sent with
    /// what it holds at one level, each directory there without its contents, as rsync's implied --dirs sends it; a
    /// deletion cleans that one level, and a later name below it still arrives.
    /// </summary>
    [Fact]
    public async Task A_listed_directory_with_a_trailing_slash_is_sent_and_cleaned_at_one_level()
    {
        using var temp = new TempDirectory();
        string source = temp.Sub("src");
        TestFiles.Create(Path.Combine(source, "top.txt"), 100, seed: 1);
        TestFiles.Create(Path.Combine(source, "logs", "x.log"), 1000, seed: 2);
        TestFiles.Create(Path.Combine(source, "logs", "old", "y.log"), 1000, seed: 3);
        TestFiles.Create(Path.Combine(source, "logs", "old", "deeper", "z.log"), 1000, seed: 4);
        string destination = temp.Sub("dst");
        string[] stay = [TestFiles.Create(Path.Combine(destination, "logs", "old", "junk"), 10, seed: 5)];
        string[] go = [TestFiles.Create(Path.Combine(destination, "junk"), 10, seed: 6), TestFiles.Create(Path.Combine(destination, "logs", "junk"), 10, seed: 7)];
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([$"{source}/./.", $"{source}/./logs/", $"{source}/./logs/old/deeper/z.log"], receiver.Url, Quick with { Recursive = false, DeleteExtraneous = true });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(["logs", "logs/old", "logs/old/deeper", "logs/old/deeper/z.log", "logs/old/junk", "logs/x.log", "top.txt"],
            Directory.EnumerateFileSystemEntries(destination, "*", SearchOption.AllDirectories).Select(path => Path.GetRelativePath(destination, path)).Order(StringComparer.Ordinal));
        Assert.Equal(2, result.EntriesDeleted);
        Assert.All(stay, path => Assert.True(File.Exists(path), path));
        Assert.All(go, path => Assert.False(File.Exists(path), path));
        TestFiles.AssertSameBytes(Path.Combine(source, "logs", "x.log"), Path.Combine(destination, "logs", "x.log"));
    }

    /// <summary>
    /// A directory first sent as the way to a path below it, then named whole by a later path (a list as `find`
    /// sorts it, or not at all), is cleaned as one sent whole, with those below it. Without a deletion, no directory
    /// is marked implied, so that a receiver from before the mark still takes a relative send.
    /// </summary>
    [Fact]
    public async Task A_directory_named_whole_after_a_path_below_it_is_cleaned()
    {
        using var temp = new TempDirectory();
        string source = temp.Sub("src");
        TestFiles.Create(Path.Combine(source, "a", "b", "y"), 1000, seed: 1);
        TestFiles.Create(Path.Combine(source, "a", "b", "c", "z"), 1000, seed: 2);
        string destination = temp.Sub("dst");
        string[] go = [TestFiles.Create(Path.Combine(destination, "a", "junk"), 10, seed: 3), TestFiles.Create(Path.Combine(destination, "a", "b", "junk"), 10, seed: 4), TestFiles.Create(Path.Combine(destination, "a", "b", "c", "junk"), 10, seed: 5)];
        string[] paths = [$"{source}/./a/b/c/z", $"{source}/./a"];
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync(paths, receiver.Url, Quick with { DeleteExtraneous = true });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(3, result.EntriesDeleted);
        Assert.All(go, path => Assert.False(File.Exists(path), path));
        TestFiles.AssertSameTree(Path.Combine(source, "a"), Path.Combine(destination, "a"));
        Assert.Equal(["a", "a/b", "a/b/c"], Singularity.Engine.Storage.SourceScanner.Scan([$"{source}/./a/b/c/z"], null, [], rules: new() { Relative = true }).Where(entry => entry.Entry.Implied).Select(entry => entry.Entry.Path));
    }

    /// <summary>
    /// A send that deletes nothing, as asked or because it left a path out (missing), marks no directory implied: a
    /// receiver from before the mark still takes it.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_send_that_deletes_nothing_marks_nothing_implied(bool askedToDelete)
    {
        using var temp = new TempDirectory();
        string source = temp.Sub("src");
        TestFiles.Create(Path.Combine(source, "a", "b", "f"), 100, seed: 1);
        await using var receiver = new RawReceiver();
        var send = SingularitySender.SendAsync([$"{source}/./a/b/f", $"{source}/./a/gone"], receiver.Url, Quick with { Cipher = CipherSuite.None, DeleteExtraneous = askedToDelete, Retries = 0, Lanes = 1 });
        await receiver.AcceptAsync();

        byte[]? open = await receiver.ReadUntilAsync(Singularity.Engine.Protocol.ControlMessageType.OpenSession);
        byte[]? chunk = await receiver.ReadUntilAsync(Singularity.Engine.Protocol.ControlMessageType.ManifestChunk);
        receiver.DropSession();
        await Assert.ThrowsAnyAsync<SingularityException>(() => send);

        Assert.NotNull(open);
        Assert.Equal(0, System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(open.AsSpan(6)) & Singularity.Engine.Protocol.OpenSessionFlags.DeleteExtraneous);
        var entries = new List<Singularity.Engine.Protocol.ManifestEntry>();
        var body = chunk.AsSpan(Singularity.Engine.Protocol.ManifestCodec.ChunkHeaderSize);
        while (!body.IsEmpty)
        {
            Assert.True(Singularity.Engine.Protocol.ManifestCodec.TryRead(body, new ProtocolLimits(), out var entry, out int consumed, out string? error), error);
            entries.Add(entry!);
            body = body[consumed..];
        }
        Assert.Equal(["a", "a/b", "a/b/f"], entries.Select(entry => entry.Path));
        Assert.DoesNotContain(entries, entry => entry.Implied);
    }

    /// <summary>A path that sends the directory's contents whole ("/./" at its end) cleans the receiver's own directory too, as rsync -R does.</summary>
    [Fact]
    public async Task Contents_sent_whole_clean_the_receivers_directory()
    {
        using var temp = new TempDirectory();
        string source = temp.Sub("src");
        TestFiles.Create(Path.Combine(source, "a", "f"), 1000, seed: 1);
        string destination = temp.Sub("dst");
        string junk = TestFiles.Create(Path.Combine(destination, "junk"), 10, seed: 2);
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([$"{source}/./"], receiver.Url, Quick with { DeleteExtraneous = true });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(1, result.EntriesDeleted);
        Assert.False(File.Exists(junk));
        TestFiles.AssertSameTree(source, destination);
    }
}
