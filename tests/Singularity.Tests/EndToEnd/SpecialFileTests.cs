using System.Runtime.Versioning;
using Singularity.Engine;
using Singularity.Engine.Protocol;
using Singularity.Engine.Storage;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// With <see cref="TransferOptions.Devices"/> and <see cref="TransferOptions.Specials"/> (rsync -D, part of -a),
/// devices, FIFOs and sockets arrive as what they are, with their numbers, modes, times and owners; a receiver makes
/// devices only when it was asked to (<see cref="ReceiverOptions.MakeDevices"/>).
/// </summary>
[UnsupportedOSPlatform("windows")]
public sealed class SpecialFileTests
{
    private static readonly DateTime Day = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
    private static readonly TransferOptions Both = new() { ShardSize = 4096, SkipUnchanged = true, Devices = true, Specials = true };

    /// <summary>
    /// Every kind arrives (the regular files byte for byte), with its mode (no setuid or setgid bit, as a file's), time
    /// and owner, beside a link to a FIFO, which stays a link; a send moving its sources removes them here.
    /// </summary>
    [SkippableFact]
    public async Task Devices_FIFOs_and_sockets_arrive_as_what_they_are_and_are_moved()
    {
        Skip.IfNot(OperatingSystem.IsLinux() && SpecialFiles.MayChangeOwners, "making devices and giving owners needs root on Linux");
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        TestFiles.Create(Path.Combine(tree, "a.bin"), 100_000, seed: 1);
        string pipe = TestFiles.CreateFifo(Path.Combine(tree, "sub", "pipe"));
        using var socket = TestFiles.CreateSocketFile(Path.Combine(tree, "sock"));
        string device = Path.Combine(tree, "sub", "disk");
        SpecialFiles.Make(device, SpecialTypes.BlockDevice, 0, (259, 0x1_0001));
        File.SetUnixFileMode(device, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.SetUser | UnixFileMode.SetGroup);
        Assert.True(SpecialFiles.TrySetOwnerNotFollowing(device, (4242, 6)));
        File.SetUnixFileMode(pipe, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherWrite);
        File.CreateSymbolicLink(Path.Combine(tree, "pipe-link"), "sub/pipe");
        foreach (string special in new[] { pipe, device, Path.Combine(tree, "sock") }) File.SetLastWriteTimeUtc(special, Day);
        string destination = temp.Sub("dst");
        string received = Path.Combine(destination, "tree");
        await using var receiver = new LoopbackReceiver(destination, adjust: options => options with { MakeDevices = true });

        var result = await SingularitySender.SendAsync([tree], receiver.Url, Both with { PreserveOwners = true });
        Assert.True((await receiver.NextResultAsync()).Succeeded);

        Assert.Empty(result.NotSent);
        Assert.Equal((1, 1, 2, 1), (result.Files, result.Devices, result.Specials, result.Links));
        TestFiles.AssertSameTree(tree, received);
        Assert.Equal(((ushort)SpecialTypes.BlockDevice, 259u, 0x1_0001u), SpecialFiles.SpecialAt(Path.Combine(received, "sub", "disk")));
        Assert.Equal(((ushort)SpecialTypes.Fifo, 0u, 0u), SpecialFiles.SpecialAt(Path.Combine(received, "sub", "pipe")));
        Assert.Equal(((ushort)SpecialTypes.Socket, 0u, 0u), SpecialFiles.SpecialAt(Path.Combine(received, "sock")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(received, "sub", "disk")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherWrite, File.GetUnixFileMode(Path.Combine(received, "sub", "pipe")));
        Assert.Equal((4242u, 6u), SpecialFiles.OwnerOf(Path.Combine(received, "sub", "disk")));
        foreach (string name in new[] { "sub/pipe", "sub/disk", "sock" }) Assert.Equal(Day, File.GetLastWriteTimeUtc(Path.Combine(received, name)));
        Assert.Equal("sub/pipe", new FileInfo(Path.Combine(received, "pipe-link")).LinkTarget);

        // Moved: what the receiver holds, made anew there, is removed here; directories stay.
        var moved = await SingularitySender.SendAsync([tree], receiver.Url, Both with { PreserveOwners = true, RemoveSourceFiles = true });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(5, moved.SourcesRemoved);
        Assert.Empty(moved.SourcesKept);
        Assert.Equal(["sub"], Directory.GetFileSystemEntries(tree).Select(Path.GetFileName));
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(tree, "sub")));
    }

    /// <summary>
    /// A receiver not asked to make devices skips each, as rsync's skips them where it is not root: the sender names
    /// each in a line, and the rest arrives, a deletion too, with nothing counted as failed; a dry run says the same.
    /// A special where a file stood replaces it, a file where one stood replaces that, and --delete removes one the
    /// source no longer has.
    /// </summary>
    [SkippableFact]
    public async Task A_receiver_that_makes_no_devices_skips_each_and_makes_the_rest()
    {
        Skip.IfNot(OperatingSystem.IsLinux() && Environment.IsPrivilegedProcess, "making devices needs root on Linux");
        using var temp = new TempDirectory();
        string source = temp.Sub("src");
        SpecialFiles.Make(Path.Combine(source, "null"), SpecialTypes.CharacterDevice, (UnixFileMode)0x1B6, (1, 3));
        TestFiles.CreateFifo(Path.Combine(source, "pipe"));
        TestFiles.Create(Path.Combine(source, "was-pipe"), 5_000, seed: 2);
        string destination = temp.Sub("dst");
        TestFiles.Create(Path.Combine(destination, "pipe"), 10, seed: 3);
        TestFiles.CreateFifo(Path.Combine(destination, "was-pipe"));
        TestFiles.CreateFifo(Path.Combine(destination, "stale"));
        await using var receiver = new LoopbackReceiver(destination);
        var events = new List<string>();

        var dry = await SingularitySender.SendAsync([source + "/"], receiver.Url, Both with { DryRun = true, DeleteExtraneous = true });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((0, 1), (dry.NotSent.Count, dry.DevicesSkipped));
        Assert.Equal(["stale"], dry.WouldDelete);

        var result = await SingularitySender.SendAsync([source + "/"], receiver.Url, Both with { DeleteExtraneous = true }, null, line => { lock (events) events.Add(line); });
        var received = await receiver.NextResultAsync();
        Assert.True(received.Succeeded);
        Assert.Equal((0, 1, 0), (received.EntriesFailed, received.DevicesSkipped, result.NotSent.Count));
        Assert.Equal((1, 1, 1), (result.DevicesSkipped, result.Files, result.FilesTransferred));
        Assert.Contains("skipping at the receiver: 'null' is a device, and this receiver makes none; start it with `sglty recv --devices` (as root) to make devices", events);
        Assert.False(Path.Exists(Path.Combine(destination, "null")));
        Assert.Equal(((ushort)SpecialTypes.Fifo, 0u, 0u), SpecialFiles.SpecialAt(Path.Combine(destination, "pipe")));
        Assert.Null(SpecialFiles.SpecialAt(Path.Combine(destination, "was-pipe")));
        TestFiles.AssertSameBytes(Path.Combine(source, "was-pipe"), Path.Combine(destination, "was-pipe"));
        Assert.False(Path.Exists(Path.Combine(destination, "stale")));
        // A skipped device stays at the source of a move.
        var moved = await SingularitySender.SendAsync([source + "/"], receiver.Url, Both with { RemoveSourceFiles = true, SkipUnchanged = true });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(["null"], Directory.GetFileSystemEntries(source).Select(Path.GetFileName));
        Assert.Equal(2, moved.SourcesRemoved);
    }

    /// <summary>
    /// One of the same type and number standing there is left there, its attributes brought up to date: a server
    /// listening on a socket keeps it, and a FIFO keeps its inode. One that cannot be made leaves what stood at its
    /// name as it was.
    /// </summary>
    [SkippableFact]
    public async Task The_same_special_stays_and_one_that_cannot_be_made_leaves_what_stood()
    {
        Skip.IfNot(OperatingSystem.IsLinux() && Environment.IsPrivilegedProcess, "making devices needs root on Linux");
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), destination = temp.Sub("dst");
        using var sourceSocket = TestFiles.CreateSocketFile(Path.Combine(source, "app.sock"));
        TestFiles.CreateFifo(Path.Combine(source, "pipe"));
        File.SetUnixFileMode(Path.Combine(source, "pipe"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.SetLastWriteTimeUtc(Path.Combine(source, "pipe"), Day);
        using var server = TestFiles.CreateSocketFile(Path.Combine(destination, "app.sock"));
        server.Listen();
        string pipe = TestFiles.CreateFifo(Path.Combine(destination, "pipe"));
        ulong inode = SpecialFiles.IdentityOf(pipe)!.Value.Inode;
        // Plaintext, for the raw peer below.
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { Cipher = CipherSuite.None }, adjust: options => options with { MakeDevices = true });

        var result = await SingularitySender.SendAsync([source + "/"], receiver.Url, Both with { ItemizeChanges = 1, Cipher = CipherSuite.None });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(inode, SpecialFiles.IdentityOf(pipe)!.Value.Inode);
        Assert.Equal((UnixFileMode.UserRead | UnixFileMode.UserWrite, Day), (File.GetUnixFileMode(pipe), File.GetLastWriteTimeUtc(pipe)));
        Assert.Contains(".S..tp..... pipe", result.Changes.Select(change => change.ToString()));
        using (var client = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified))
            client.Connect(new System.Net.Sockets.UnixDomainSocketEndPoint(Path.Combine(destination, "app.sock")));

        // A device of a number this system cannot make, over a file: the file stays, and the rest goes on.
        await using var peer = await RawPeer.ConnectAsync(receiver.Url);
        string standing = TestFiles.Create(Path.Combine(destination, "disk"), 100, seed: 5);
        var (_, answer, _) = await peer.OpenWithMoreFlagsAsync(receiver.Token, 4096, 0, MoreSessionFlags.Specials, 0,
            new ManifestEntry(EntryKind.Special, "disk", 0, (UnixFileMode)0x180, 0, null) { SpecialType = SpecialTypes.BlockDevice, DeviceNumber = (5000, 1) });
        Assert.Equal(ControlMessageType.ManifestAccepted, answer);
        TestFiles.AssertSameBytes(TestFiles.Create(Path.Combine(temp.Path, "expected"), 100, seed: 5), standing);
        Assert.Empty(Directory.GetFiles(destination, "*.sglty-part"));
    }

    /// <summary>Without -D each is left out with a line that names the option that sends it; one named as a source is refused, or with it sent.</summary>
    [SkippableFact]
    public async Task Without_the_options_each_is_left_out_with_a_line_that_names_them()
    {
        Skip.IfNot(OperatingSystem.IsLinux() && Environment.IsPrivilegedProcess, "making devices needs root on Linux");
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        TestFiles.Create(Path.Combine(tree, "a.txt"), 1000);
        string pipe = TestFiles.CreateFifo(Path.Combine(tree, "pipe"));
        SpecialFiles.Make(Path.Combine(tree, "null"), SpecialTypes.CharacterDevice, (UnixFileMode)0x1B6, (1, 3));
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination, adjust: options => options with { MakeDevices = true });
        var events = new List<string>();

        var result = await SingularitySender.SendAsync([tree], receiver.Url, new TransferOptions { Specials = true }, null, line => { lock (events) events.Add(line); });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((0, 1), (result.Devices, result.Specials));
        Assert.Contains("skipping 'tree/null': it is a device; send it with --devices (or -D)", events);
        Assert.Equal(["a.txt", "pipe"], Directory.GetFileSystemEntries(Path.Combine(destination, "tree")).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        var error = await Assert.ThrowsAsync<SingularityException>(() => SingularitySender.SendAsync([pipe], receiver.Url, new TransferOptions { Devices = true }));
        Assert.Equal($"cannot send '{pipe}': it is a FIFO; send it with --specials (or -D)", error.Message);
        await SingularitySender.SendAsync([pipe], receiver.Url, Both);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(((ushort)SpecialTypes.Fifo, 0u, 0u), SpecialFiles.SpecialAt(Path.Combine(destination, "pipe")));
    }

    /// <summary>
    /// `sglty send` reads -D, -a, --devices, --specials and their --no- forms in order, as rsync reads them, and its
    /// --stats counts devices and specials as rsync's, run beside it with the same options (but what is left out,
    /// which rsync counts in its list).
    /// </summary>
    [SkippableTheory]
    [InlineData("-a", true, true)]
    [InlineData("-a --no-D", false, false)]
    [InlineData("-a --no-devices", false, true)]
    [InlineData("-r --no-D --specials", false, true)]
    [InlineData("-rlptD --no-specials", true, false)]
    public async Task D_and_a_are_read_in_order_as_rsync_reads_them(string given, bool devices, bool specials)
    {
        Skip.IfNot(OperatingSystem.IsLinux() && Environment.IsPrivilegedProcess, "making devices needs root on Linux");
        Skip.IfNot(Commands.RsyncAtLeast(3, 1), "rsync 3.1 or later is not installed");
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), destination = temp.Sub("dst"), copy = temp.Sub("copy");
        TestFiles.Create(Path.Combine(source, "a.txt"), 1000);
        TestFiles.CreateFifo(Path.Combine(source, "pipe"));
        SpecialFiles.Make(Path.Combine(source, "null"), SpecialTypes.CharacterDevice, (UnixFileMode)0x1B6, (1, 3));
        await using var receiver = new LoopbackReceiver(destination, adjust: options => options with { MakeDevices = true });
        string[] options = given.Split(' ');

        var (exit, output, error) = await SgltyProcess.RunAsync(["send", source, "--to", receiver.Url.ToString(), "--stats", .. options]);
        Assert.True(exit == 0, error);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(devices, SpecialFiles.SpecialAt(Path.Combine(destination, "src", "null")) is not null);
        Assert.Equal(specials, SpecialFiles.SpecialAt(Path.Combine(destination, "src", "pipe")) is not null);
        Assert.Equal(!devices, error.Contains("skipping 'src/null': it is a device; send it with --devices (or -D)"));
        Assert.Equal(!specials, error.Contains("skipping 'src/pipe': it is a FIFO; send it with --specials (or -D)"));

        // Both count the directory sent, as rsync counts it when sent by its name.
        // rsync lists (and so counts) what it then skips; sglty leaves it out as it scans.
        string rsync = Commands.Output("rsync", [.. options, "--stats", source, copy + "/"]) ?? "";
        Assert.Equal(Line(rsync, "Number of created files: "), Line(output, "Number of created files: "));
        if (devices && specials) Assert.Equal(Line(rsync, "Number of files: "), Line(output, "Number of files: "));
        Assert.Equal($"Number of files: {2 + (devices ? 1 : 0) + (specials ? 1 : 0)} (reg: 1, dir: 1{(devices ? ", dev: 1" : "")}{(specials ? ", special: 1" : "")})", Line(output, "Number of files: "));
        TestFiles.AssertSameTree(copy, destination);
        Assert.True(File.Exists(Path.Combine(destination, "src", "a.txt")));

        // --json counts them too.
        (exit, output, error) = await SgltyProcess.RunAsync(["send", source, "--to", receiver.Url.ToString(), "--json", "-n", .. options]);
        Assert.True(exit == 0, error);
        await receiver.NextResultAsync();
        using var json = System.Text.Json.JsonDocument.Parse(output);
        Assert.Equal((devices ? 1 : 0, specials ? 1 : 0), (json.RootElement.GetProperty("devices").GetInt32(), json.RootElement.GetProperty("specials").GetInt32()));

        static string? Line(string text, string start) => text.Split('\n').FirstOrDefault(line => line.StartsWith(start, StringComparison.Ordinal));
    }
}
