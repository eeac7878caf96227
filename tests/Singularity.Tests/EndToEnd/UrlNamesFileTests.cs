using Singularity.Engine;
using Singularity.Engine.Protocol;
using Singularity.Engine.Security;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// One file sent to a URL whose path ends without '/' (<c>sglty://HOST/db-1206.dump</c>) takes the path's last name
/// where no directory stands there at the receiver, as rsync and scp name what they copy to a path that is not a
/// directory; a directory standing there, or a path that ends with '/', takes the file under its own name.
/// </summary>
public sealed class UrlNamesFileTests
{
    private static readonly TransferOptions Quick = new() { ShardSize = 4096, SkipUnchanged = true, Cipher = CipherSuite.None };

    private static ConnectionUrl To(LoopbackReceiver receiver, string path, bool namesDirectory = false) =>
        receiver.Url with { Directory = path, NamesDirectory = namesDirectory };

    [Theory]
    [InlineData("nothing", "db-1206.dump", false, "db-1206.dump")]
    [InlineData("nothing, below directories not there", "backups/web1/db-1206.dump", false, "backups/web1/db-1206.dump")]
    [InlineData("a file", "db-1206.dump", false, "db-1206.dump")]
    [InlineData("a directory", "db-1206.dump", false, "db-1206.dump/db.dump")]
    [InlineData("nothing, the path ending with '/'", "db-1206.dump", true, "db-1206.dump/db.dump")]
    public async Task One_file_takes_the_urls_last_name_where_no_directory_stands(string what, string path, bool namesDirectory, string landsAt)
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "db.dump"), 40_000, seed: 1);
        string destination = temp.Sub("dst");
        if (what == "a file") TestFiles.Create(Path.Combine(destination, path), 9_000, seed: 2);
        if (what == "a directory") Directory.CreateDirectory(Path.Combine(destination, path));
        await using var receiver = new LoopbackReceiver(destination, Quick);

        var sent = await SingularitySender.SendAsync([source], To(receiver, path, namesDirectory), Quick);
        var received = await receiver.NextResultAsync();

        Assert.True(received.Succeeded, received.Error?.Message);
        TestFiles.AssertSameBytes(source, Path.Combine(destination, landsAt));
        Assert.Equal((1, 0), (sent.Files, sent.FilesUnchanged));
        // Sent again, the file found where it went is unchanged: each attempt decides alike.
        var again = await SingularitySender.SendAsync([source], To(receiver, path, namesDirectory), Quick);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((1, 1), (again.Files, again.FilesUnchanged));
        Assert.Single(Directory.GetFiles(destination, "*", SearchOption.AllDirectories));
    }

    /// <summary>
    /// A send that has nothing left to send there (its file settled by an attempt the connection dropped after, or
    /// left out by a rule) makes nothing at the name, as rsync makes nothing: the file named by the first attempt is
    /// found in place, not refused as a directory that is not one.
    /// </summary>
    [Fact]
    public async Task A_retry_after_the_file_arrived_or_a_send_that_leaves_it_out_makes_nothing_at_the_name()
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "db.dump"), 40_000, seed: 1);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination, Quick);
        await using var relay = new TcpRelay(receiver.Url);
        string landed = Path.Combine(destination, "web1", "db-1206.dump");
        // Cut once the file stands committed: the sender's retry finds it settled, and sends no entry.
        relay.CutAllOnce((_, _) => File.Exists(landed));

        var sent = await SingularitySender.SendAsync([source], relay.Url with { Directory = "web1/db-1206.dump", NamesDirectory = false }, Quick with { Retries = 3 });

        TestFiles.AssertSameBytes(source, landed);
        Assert.Equal(1, sent.Retries);
        // Left out by a size rule: nothing at a name not there, and a file there stays as it is.
        var left = await SingularitySender.SendAsync([source], To(receiver, "web1/other.dump"), Quick with { MaxFileSize = 10 });
        Assert.Equal(0, left.FilesTransferred);
        Assert.False(Path.Exists(Path.Combine(destination, "web1", "other.dump")));
        await SingularitySender.SendAsync([source], To(receiver, "web1/db-1206.dump"), Quick with { MaxFileSize = 10 });
        TestFiles.AssertSameBytes(source, landed);
    }

    /// <summary>
    /// A link at the last name is replaced, as an entry replaces a link at its name (its target untouched); one to a
    /// directory is refused, as a link on the way is: never followed.
    /// </summary>
    [Fact]
    public async Task A_link_at_the_name_is_replaced_and_one_to_a_directory_is_refused()
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "db.dump"), 40_000, seed: 1);
        string destination = temp.Sub("dst");
        string target = TestFiles.Create(Path.Combine(destination, "web1", "db-1205.dump"), 9_000, seed: 2);
        string reference = TestFiles.Create(Path.Combine(temp.Sub("reference"), "db-1205.dump"), 9_000, seed: 2);
        File.CreateSymbolicLink(Path.Combine(destination, "web1", "current.dump"), "db-1205.dump");
        Directory.CreateDirectory(Path.Combine(temp.Path, "elsewhere"));
        File.CreateSymbolicLink(Path.Combine(destination, "web1", "away"), Path.Combine(temp.Path, "elsewhere"));
        await using var receiver = new LoopbackReceiver(destination, Quick);

        await SingularitySender.SendAsync([source], To(receiver, "web1/current.dump"), Quick);
        var error = await Assert.ThrowsAnyAsync<SingularityException>(() => SingularitySender.SendAsync([source], To(receiver, "web1/away"), Quick));

        Assert.Null(new FileInfo(Path.Combine(destination, "web1", "current.dump")).LinkTarget);
        TestFiles.AssertSameBytes(source, Path.Combine(destination, "web1", "current.dump"));
        TestFiles.AssertSameBytes(reference, target);
        Assert.Equal(ErrorCode.BadPath, error.Code);
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(temp.Path, "elsewhere")));
    }

    /// <summary>
    /// The directory above a named file held by a send moving its sources (its shared lock) refuses the file only at its
    /// own name there, where it would be the file being moved; at another name it arrives.
    /// </summary>
    [SkippableTheory]
    [InlineData("db.dump", true)]
    [InlineData("db-1206.dump", false)]
    public async Task A_named_file_in_a_directory_a_moving_send_holds_is_refused_only_at_its_own_name(string name, bool refused)
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "the lock is Linux's");
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "db.dump"), 40_000, seed: 1);
        string destination = temp.Sub("dst");
        using var held = Singularity.Engine.Storage.DestinationLock.TryShare(temp.Sub("dst/web1"), out _);
        Assert.NotNull(held);
        await using var receiver = new LoopbackReceiver(destination, Quick);

        var send = SingularitySender.SendAsync([source], To(receiver, "web1/" + name), Quick);

        if (refused)
        {
            Assert.Equal(ErrorCode.BadPath, (await Assert.ThrowsAnyAsync<SingularityException>(() => send)).Code);
            Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(destination, "web1")));
            return;
        }
        await send;
        TestFiles.AssertSameBytes(source, Path.Combine(destination, "web1", name));
    }

    /// <summary>A receiver of an earlier release takes the path for a directory: the send says so, once, and what to do.</summary>
    [Fact]
    public async Task A_receiver_from_before_the_naming_is_told()
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "db.dump"), 40_000, seed: 1);
        await using var receiver = new LoopbackReceiver(temp.Sub("dst"), Quick, adjust: options => options with { Capabilities = options.Capabilities & ~WireFormat.CapabilityNamesFile });
        var events = new System.Collections.Concurrent.ConcurrentQueue<string>();

        await SingularitySender.SendAsync([source], To(receiver, "web1/db-1206.dump"), Quick, null, events.Enqueue);

        Assert.Equal([$"the receiver at 127.0.0.1:{receiver.Url.Port} is of an earlier release, which takes a URL's path for a directory: 'db.dump' goes into 'web1/db-1206.dump/' there; to name it, end the URL's path at the directory above and give --file-name"],
            events.Where(line => line.Contains("earlier release", StringComparison.Ordinal)));
    }

    /// <summary>A directory sent to such a path goes into a directory of that name, as ever; so does a file sent to a receiver from before the naming.</summary>
    [Theory]
    [InlineData("a directory")]
    [InlineData("a receiver from before")]
    public async Task A_directory_or_a_receiver_from_before_takes_the_path_as_a_directory(string what)
    {
        using var temp = new TempDirectory();
        string source = what == "a directory" ? temp.Sub("src/db") : Path.Combine(temp.Sub("src"), "db");
        TestFiles.Create(what == "a directory" ? Path.Combine(source, "a") : source, 40_000, seed: 1);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination, Quick,
            adjust: options => what == "a receiver from before" ? options with { Capabilities = options.Capabilities & ~WireFormat.CapabilityNamesFile } : options);

        await SingularitySender.SendAsync([source], To(receiver, "new"), Quick);

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        if (what == "a directory") TestFiles.AssertSameTree(source, Path.Combine(destination, "new", "db"));
        else TestFiles.AssertSameBytes(source, Path.Combine(destination, "new", "db"));
    }

    /// <summary>A dry run decides as the real send would, and makes nothing.</summary>
    [Fact]
    public async Task A_dry_run_names_the_file_and_makes_nothing()
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "db.dump"), 40_000, seed: 1);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination, Quick);

        var dry = await SingularitySender.SendAsync([source], To(receiver, "backups/db-1206.dump"), Quick with { DryRun = true });
        var received = await receiver.NextResultAsync();

        Assert.True(received.Succeeded, received.Error?.Message);
        Assert.Equal(["db.dump"], dry.WouldSend);
        Assert.Equal("backups", received.Destination);
        Assert.Empty(Directory.GetFileSystemEntries(destination));
    }

    /// <summary>
    /// The receiver names the file only for a session of one entry, not a directory, sent into a Destination, and
    /// never for a pull (whose receiver admits only what it asked for): anything else ends the session, nothing made.
    /// </summary>
    [Theory]
    [InlineData("two entries", "with more than one entry")]
    [InlineData("no Destination", "without a Destination")]
    [InlineData("a directory", "is a directory in a session that names its one file")]
    [InlineData("a pull", "a request to name the file it sends; the pull refuses it")]
    public async Task Naming_a_file_out_of_its_place_ends_the_session(string wrong, string expected)
    {
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination, Quick,
            adjust: options => wrong == "a pull" ? options with { Admission = PullAdmission.For(["/srv/named"], new TransferOptions(), null, null) } : options);
        await using var peer = await RawPeer.ConnectAsync(receiver.Url);
        var file = new ManifestEntry(EntryKind.File, "a", 0, (UnixFileMode)0b110_100_100, 0, null);
        ManifestEntry[] entries = wrong switch
        {
            "two entries" => [file, file with { Path = "b" }],
            "a directory" => [RawPeer.MadeDirectory],
            _ => [file],
        };

        Assert.Equal(ErrorCode.None, (await peer.HelloAsync(ConnectionRole.Control, receiver.Token)).Status);
        if (wrong != "no Destination") await peer.SendControlAsync(ControlMessageType.Destination, DestinationMessage.Encode("named"));
        await peer.SendControlAsync(ControlMessageType.OpenSession, RawPeer.OpenSession(4096, 1, entries.Length, 0, more: MoreSessionFlags.NamesOneFile));
        await peer.SendControlAsync(ControlMessageType.ManifestChunk, RawPeer.Manifest(entries));
        byte[]? error = await peer.ReadUntilAsync(ControlMessageType.Error);

        Assert.NotNull(error);
        Assert.Contains(expected, ErrorMessage.Decode(error).Reason);
        Assert.False((await receiver.NextResultAsync()).Succeeded);
        Assert.Empty(Directory.GetFileSystemEntries(destination));
    }

    [Theory]
    [InlineData("sglty://h:1/db-1206.dump?token=t", "db-1206.dump", false)]
    [InlineData("sglty://h:1/backups/db-1206.dump", "backups/db-1206.dump", false)]
    [InlineData("sglty://h:1/backups/?token=t", "backups", true)]
    [InlineData("sglty://h:1/backups//", "backups", true)]
    [InlineData("sglty://h:1/?token=t", null, true)]
    public void A_urls_path_says_whether_it_names_a_directory_and_keeps_saying_it(string text, string? directory, bool namesDirectory)
    {
        var url = ConnectionUrl.Parse(text);

        Assert.Equal((directory, namesDirectory), (url.Directory, url.NamesDirectory));
        Assert.Equal(url, ConnectionUrl.Parse(url.ToString()));
    }
}
