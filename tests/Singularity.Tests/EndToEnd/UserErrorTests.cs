using System.Net;
using System.Net.Sockets;
using Singularity.Engine;
using Singularity.Engine.Protocol;
using Singularity.Engine.Security;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>A user's mistake gets one clear line, not a stack trace.</summary>
public sealed class UserErrorTests
{
    [Fact]
    public async Task A_missing_source_is_named()
    {
        var error = await Assert.ThrowsAsync<SingularityException>(() => SingularitySender.SendAsync(["/no/such/file"], new ConnectionUrl("127.0.0.1", 1)));
        Assert.Equal(ErrorCode.BadPath, error.Code);
        Assert.Contains("/no/such/file", error.Message);
    }

    /// <summary>A FIFO named as a source, or through a link, is refused without -D before anything connects: reading it would wait for a writer.</summary>
    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_FIFO_given_as_a_source_is_refused(bool throughLink)
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "special files are told apart on Linux only");
        using var temp = new TempDirectory();
        string source = TestFiles.CreateFifo(Path.Combine(temp.Path, "pipe"));
        if (throughLink) File.CreateSymbolicLink(source = Path.Combine(temp.Path, "link"), "pipe");
        var error = await Assert.ThrowsAsync<SingularityException>(() => SingularitySender.SendAsync([source], new ConnectionUrl("127.0.0.1", 1, "token")));
        Assert.Equal(ErrorCode.BadPath, error.Code);
        Assert.Equal($"cannot send '{source}': it is a FIFO; send it with --specials (or -D)", error.Message);
    }

    /// <summary>The same source named twice (also as `d/` and `d/.`) is sent once, as rsync sends it.</summary>
    [Fact]
    public async Task The_same_source_named_twice_is_sent_once()
    {
        using var temp = new TempDirectory();
        string file = TestFiles.Create(Path.Combine(temp.Path, "src", "f"), 10);
        string tree = temp.Sub("src/d");
        TestFiles.Create(Path.Combine(tree, "g"), 20, seed: 2);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([file, file, tree + "/", tree + "/."], receiver.Url);

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal((2, 2), (result.Files, result.Entries));
        TestFiles.AssertSameBytes(file, Path.Combine(destination, "f"));
        TestFiles.AssertSameBytes(Path.Combine(tree, "g"), Path.Combine(destination, "g"));
    }

    /// <summary>Two sources with one name (here files, and directories sent by their contents) would overwrite each other: the send is refused before it connects.</summary>
    [Theory]
    [InlineData("a/same", "b/same")]
    [InlineData("a/", "b/")]
    public async Task Two_sources_that_map_to_one_name_are_refused(string first, string second)
    {
        using var temp = new TempDirectory();
        TestFiles.Create(Path.Combine(temp.Path, "a", "same"), 10);
        TestFiles.Create(Path.Combine(temp.Path, "b", "same"), 20, seed: 2);
        var error = await Assert.ThrowsAsync<SingularityException>(() => SingularitySender.SendAsync(
            [Path.Combine(temp.Path, first), Path.Combine(temp.Path, second)], new ConnectionUrl("127.0.0.1", 1, "token")));
        Assert.Equal(ErrorCode.BadPath, error.Code);
        Assert.Contains("two sources map to the same name 'same'", error.Message);
    }

    /// <summary>
    /// Names and link targets travel as UTF-8: one that is not cannot be opened by the name .NET reads (U+FFFD), and a
    /// link would arrive pointing elsewhere. The send is refused, naming the entry, before it connects.
    /// </summary>
    [Theory]
    [InlineData("touch \"$1/tree/bad$(printf '\\377')name\"", "cannot send 'tree/bad\uFFFDname': its name is not valid UTF-8")]
    [InlineData("ln -s \"t$(printf '\\377')\" \"$1/tree/link\"", "cannot send 'tree/link': its link target is not valid UTF-8")]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task A_name_or_link_target_that_is_not_UTF8_is_refused(string make, string expected)
    {
        using var temp = new TempDirectory();
        TestFiles.Create(Path.Combine(temp.Sub("tree"), "ok"), 10);
        Assert.True(Commands.Run("bash", "-c", make, "bash", temp.Path));
        try
        {
            var error = await Assert.ThrowsAsync<SingularityException>(() => SingularitySender.SendAsync([Path.Combine(temp.Path, "tree")], new ConnectionUrl("127.0.0.1", 1, "token")));
            Assert.Equal(ErrorCode.BadPath, error.Code);
            Assert.StartsWith(expected, error.Message);
        }
        finally
        {
            // .NET can neither spell nor delete a name that is not UTF-8.
            Assert.True(Commands.Run("bash", "-c", "rm -rf \"$1/tree\"", "bash", temp.Path));
        }
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task A_file_named_with_a_trailing_slash_and_a_dangling_link_are_named_as_such()
    {
        using var temp = new TempDirectory();
        string file = TestFiles.Create(Path.Combine(temp.Path, "f"), 10);
        string link = Path.Combine(temp.Path, "gone");
        File.CreateSymbolicLink(link, "nowhere");
        var url = new ConnectionUrl("127.0.0.1", 1, "token");

        var notDirectory = await Assert.ThrowsAsync<SingularityException>(() => SingularitySender.SendAsync([file + "/"], url));
        Assert.Equal($"cannot send '{file}/': it is a file, not a directory; leave out the trailing '/' to send the file", notDirectory.Message);
        var dangling = await Assert.ThrowsAsync<SingularityException>(() => SingularitySender.SendAsync([link], url));
        Assert.Equal($"cannot send '{link}': it is a link to 'nowhere', which does not exist", dangling.Message);
    }

    /// <summary>One directory can hold two names that read the same: a name that is not UTF-8 reads as U+FFFD.</summary>
    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Two_names_in_one_directory_that_read_the_same_are_refused()
    {
        using var temp = new TempDirectory();
        string directory = temp.Sub("d");
        TestFiles.Create(Path.Combine(directory, "\uFFFD"), 10);
        // A name of the single byte 0xFF, which .NET can neither spell nor delete: the shell makes and removes it.
        const string ByteFF = "\"$1/$(printf '\\377')\"";
        Assert.True(Commands.Run("bash", "-c", $"touch {ByteFF}", "bash", directory));
        try
        {
            Assert.Equal(2, Directory.GetFiles(directory).Length);

            var error = await Assert.ThrowsAsync<SingularityException>(() => SingularitySender.SendAsync([directory], new ConnectionUrl("127.0.0.1", 1, "token")));
            Assert.Equal(ErrorCode.BadPath, error.Code);
            Assert.Contains("the same name 'd/\uFFFD'", error.Message);
        }
        finally
        {
            Assert.True(Commands.Run("bash", "-c", $"rm -f {ByteFF}", "bash", directory));
        }
    }

    [Fact]
    public async Task An_unreachable_receiver_says_so()
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Path, "f"), 10);
        int port = Ports.Free();
        var events = new List<string>();
        var error = await Assert.ThrowsAsync<TransferAbortedException>(() => SingularitySender.SendAsync([source], new ConnectionUrl("127.0.0.1", port, "token"), new TransferOptions { Retries = 5 }, null, events.Add));
        Assert.Contains("connection refused", error.Message);
        Assert.Contains("sglty recv", error.Message);
        // Never reached, so not worth waiting for: no retry.
        Assert.DoesNotContain(events, e => e.StartsWith("retry", StringComparison.Ordinal));
    }

    /// <summary>
    /// A host no route leads to (from a network namespace of no routes) is said at once in one line, as a refused
    /// connection is: a wrong URL or a network not set up, which a retry does not mend.
    /// </summary>
    [SkippableFact]
    public async Task A_host_with_no_route_to_it_is_said_at_once()
    {
        Skip.IfNot(OperatingSystem.IsLinux() && Environment.IsPrivilegedProcess && Commands.Run("unshare", "-n", "true"), "needs root, for a network namespace of its own");
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Path, "f"), 10);
        using var send = SgltyProcess.StartWithoutNetwork("send", source, "--to", $"sglty://192.0.2.1:7700/?token={new string('A', 43)}", "--retries", "1");
        var (exit, _, error) = await SgltyProcess.FinishAsync(send);
        Assert.Equal(10, exit);
        Assert.Equal("sglty: error: cannot connect to 192.0.2.1:7700: host unreachable; check that `sglty recv` is running there and the port is reachable", error.Trim());
    }

    /// <summary>A wrong token exits 5, as rsync's refused daemon login does, and --json names the kind, so a script tells it from a lost connection (10).</summary>
    [Fact]
    public async Task A_wrong_token_exits_as_rsync_refused_a_login()
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Path, "f"), 10);
        string urlFile = Path.Combine(temp.Path, "url");
        using var receiver = SgltyProcess.Start("recv", "--dir", temp.Sub("dst"), "--listen", "127.0.0.1:0", "--url-file", urlFile);
        string url = await SgltyProcess.WaitForFileAsync(urlFile, receiver);
        string wrong = url[..(url.IndexOf("token=", StringComparison.Ordinal) + 6)] + new string('A', 43);

        var (exit, output, error) = await SgltyProcess.RunAsync("send", source, "--to", wrong, "--json");
        receiver.Kill();

        Assert.Equal(5, exit);
        Assert.Contains(": wrong token: this receiver holds another one; use the URL it printed", error);
        using var json = System.Text.Json.JsonDocument.Parse(output);
        Assert.Equal((5, "AuthFailed"), (json.RootElement.GetProperty("exit_code").GetInt32(), json.RootElement.GetProperty("code").GetString()));
    }

    /// <summary>A URL without a token, and no token given otherwise, is said in one line that names every way to give one.</summary>
    [Fact]
    public async Task A_url_without_a_token_names_the_ways_to_give_one()
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Path, "f"), 10);

        var (exit, output, error) = await SgltyProcess.RunAsync("send", source, "--to", "sglty://127.0.0.1:1/");

        Assert.Equal((5, ""), (exit, output));
        Assert.Equal("sglty: error: the URL has no token; use the whole URL `sglty recv` printed (sglty://HOST:PORT/?token=...), or give the token with --token-file or SGLTY_TOKEN", error.Trim());
    }

    /// <summary>
    /// A receiver serving as many sessions as it may refuses another as busy, and the refusal names the address
    /// reached, as a wrong token's does: a URL without its port reaches the default, which may be another's receiver.
    /// </summary>
    [Fact]
    public async Task A_receiver_at_its_limit_of_sessions_is_named_in_the_refusal()
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "f"), 1000);
        await using var receiver = new LoopbackReceiver(temp.Sub("dst"), new TransferOptions { Limits = new ProtocolLimits { MaxSessions = 1 } });
        var started = new TaskCompletionSource();
        receiver.Receiver.SessionStarted += (_, _) => started.TrySetResult();
        await using var holder = await RawPeer.ConnectAsync(receiver.Url);
        Assert.Equal(ErrorCode.None, (await holder.HelloAsync(ConnectionRole.Control, receiver.Token, cipher: CipherSuite.Aes256Gcm)).Status);
        await started.Task.WaitAsync(TimeSpan.FromMinutes(1));

        var error = await Assert.ThrowsAsync<TransferAbortedException>(() => SingularitySender.SendAsync([source], receiver.Url));

        Assert.Equal(ErrorCode.Busy, error.Code);
        Assert.Equal($"127.0.0.1:{receiver.Url.Port} refused the connection: the receiver already serves as many sessions as it may (1); try again later", error.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(temp.Sub("dst")));
    }

    /// <summary>
    /// An address that never answers (a wrong one, or a port dropped on the way) fails after the handshake timeout,
    /// not the kernel's two minutes, and, never reached, is not retried. A listener whose queue is full and which
    /// never accepts stands in for it: the kernel drops further connection requests unanswered.
    /// </summary>
    [Theory]
    [InlineData("127.0.0.1", "127.0.0.1")]
    [InlineData("::1", "[::1]")]
    public async Task A_receiver_that_never_answers_fails_after_the_handshake_timeout_without_retries(string address, string written)
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Path, "f"), 10);
        var loopback = IPAddress.Parse(address);
        using var silent = new Socket(loopback.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        silent.Bind(new IPEndPoint(loopback, 0));
        silent.Listen(1);
        var queued = new List<Socket>();
        try
        {
            // Fills the queue; once it is full, a connect waits for an answer that never comes.
            for (int i = 0; i < 4; i++)
            {
                var socket = new Socket(loopback.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                queued.Add(socket);
                using var patience = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
                try { await socket.ConnectAsync(silent.LocalEndPoint!, patience.Token); }
                catch (OperationCanceledException) { break; }
            }
            var events = new List<string>();
            var url = new ConnectionUrl(address, ((IPEndPoint)silent.LocalEndPoint!).Port, "token");

            var error = await Assert.ThrowsAsync<TransferAbortedException>(() => SingularitySender.SendAsync([source], url, new TransferOptions { Retries = 5, HandshakeTimeout = TimeSpan.FromSeconds(1) }, null, events.Add));

            Assert.Equal(ErrorCode.ConnectionLost, error.Code);
            // An IPv6 address in brackets, as the URL writes it, so the port does not read as part of it.
            Assert.Contains($"cannot connect to {written}:{url.Port}: no answer within 1 s", error.Message);
            Assert.DoesNotContain(events, e => e.StartsWith("retry", StringComparison.Ordinal));
        }
        finally
        {
            foreach (var socket in queued) socket.Dispose();
        }
    }

    [Fact]
    public async Task A_peer_speaking_another_protocol_is_recognised()
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Path, "f"), 10);
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var server = Task.Run(async () =>
        {
            using var client = await listener.AcceptTcpClientAsync();
            byte[] answer = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8.ToArray();
            await client.GetStream().WriteAsync(answer);
            await Task.Delay(200);
        });
        var error = await Assert.ThrowsAsync<TransferAbortedException>(() => SingularitySender.SendAsync([source], new ConnectionUrl("127.0.0.1", port, "token")));
        await server;
        listener.Stop();
        Assert.Equal($"127.0.0.1:{port}: another program answered there, not a sglty receiver (its reply does not start as SGLTY's); check the receiver's address and port", error.Message);
    }

    /// <summary>
    /// A second receiver started on a port one already listens on must fail, not share the port: the kernel would
    /// split the senders' connections between the two, and sends would fail with a wrong token or an unknown session.
    /// </summary>
    [Fact]
    public async Task A_port_another_receiver_listens_on_is_refused_in_one_line()
    {
        using var temp = new TempDirectory();
        await using var first = new LoopbackReceiver(temp.Sub("a"));
        var endpoint = new IPEndPoint(IPAddress.Loopback, first.Receiver.LocalEndPoint.Port);
        string second = Path.Combine(temp.Path, "b");
        var error = Assert.Throws<SingularityException>(() => SingularityReceiver.Start(new ReceiverOptions { Directory = second, Listen = endpoint }));
        Assert.Equal((ErrorCode.ConnectionLost, $"cannot listen on {endpoint}: address already in use; pick another port"), (error.Code, error.Message));
        // The destination it would have made is not left behind.
        Assert.False(Directory.Exists(second));
    }

    /// <summary>
    /// A second receiver in a destination another one serves is refused in one line: the two would not share their
    /// removal gate, so one could remove a directory the other's sessions trust. Once the first stops, it may start.
    /// </summary>
    [SkippableFact]
    public async Task A_destination_another_receiver_serves_is_refused_until_it_stops()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "the destination lock is taken on Linux");
        using var temp = new TempDirectory();
        string destination = temp.Sub("dst");
        var anywhere = new IPEndPoint(IPAddress.Loopback, 0);
        var first = SingularityReceiver.Start(new ReceiverOptions { Directory = destination, Listen = anywhere });

        var error = Assert.Throws<SingularityException>(() => SingularityReceiver.Start(new ReceiverOptions { Directory = destination + "/", Listen = anywhere }));
        await first.DisposeAsync();
        await using var later = SingularityReceiver.Start(new ReceiverOptions { Directory = destination, Listen = anywhere });

        Assert.Equal(ErrorCode.Busy, error.Code);
        Assert.Equal($"another process holds a lock on '{destination}': another sglty receiver receiving into it (a recv, one a send to HOST:DIR started, a pull, or a copy on this machine), or a sglty send moving files out of it (--remove-source-files); one receiver at a time per directory: wait for it, or give another directory", error.Message);
    }

    /// <summary>
    /// A receiver restarted on its port listens again at once, while connections it closed itself linger in TIME_WAIT
    /// on that port. The receiver closes first here: it refuses a wrong token and hangs up, and the peer waits for
    /// that before it closes its own end.
    /// </summary>
    [Fact]
    public async Task A_receiver_restarted_on_its_port_while_its_connections_linger_listens_again()
    {
        using var temp = new TempDirectory();
        IPEndPoint endpoint;
        string token;
        await using (var first = new LoopbackReceiver(temp.Sub("a")))
        {
            endpoint = new IPEndPoint(IPAddress.Loopback, first.Receiver.LocalEndPoint.Port);
            token = first.Token;
            await using var peer = await RawPeer.ConnectAsync(first.Url);
            var reply = await peer.HelloAsync(ConnectionRole.Control, "not-the-token");
            Assert.Equal(ErrorCode.AuthFailed, reply.Status);
            await peer.ReadRefusalAsync();
            // The receiver's close arrives as the end of the stream.
            Assert.Equal(0, await peer.Stream.ReadAsync(new byte[1]));
        }
        Assert.Contains(System.Net.NetworkInformation.IPGlobalProperties.GetIPGlobalProperties().GetActiveTcpConnections(),
            c => c.LocalEndPoint.Port == endpoint.Port && c.State == System.Net.NetworkInformation.TcpState.TimeWait);
        await using var again = SingularityReceiver.Start(new ReceiverOptions { Directory = temp.Sub("b"), Listen = endpoint, Token = token });
        Assert.Equal(endpoint.Port, again.LocalEndPoint.Port);
    }

    [Fact]
    public void An_unwritable_destination_is_reported_before_listening()
    {
        using var temp = new TempDirectory();
        string file = TestFiles.Create(Path.Combine(temp.Path, "not-a-dir"), 1);
        var error = Assert.Throws<SingularityException>(() => SingularityReceiver.Start(new ReceiverOptions { Directory = Path.Combine(file, "sub"), Listen = new IPEndPoint(IPAddress.Loopback, 0) }));
        Assert.Contains($"destination '{Path.Combine(file, "sub")}' does not exist and cannot be created", error.Message);
    }

    /// <summary>A destination the receiver creates is private (0700), as SECURITY.md advises; one that exists keeps its mode.</summary>
    [Fact]
    public async Task A_missing_destination_is_created_private_and_an_existing_one_keeps_its_mode()
    {
        if (OperatingSystem.IsWindows()) return;
        using var temp = new TempDirectory();
        string created = Path.Combine(temp.Path, "new", "dst");
        await using (SingularityReceiver.Start(new ReceiverOptions { Directory = created, Listen = new IPEndPoint(IPAddress.Loopback, 0) }))
        {
        }
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(created));
        // Written with a trailing '/', as a shell completes a directory's name.
        string slashed = Path.Combine(temp.Path, "new", "slashed") + "/";
        await using (SingularityReceiver.Start(new ReceiverOptions { Directory = slashed, Listen = new IPEndPoint(IPAddress.Loopback, 0) }))
        {
        }
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(slashed));
        string existing = temp.Sub("shared");
        File.SetUnixFileMode(existing, (UnixFileMode)0x1ED);
        await using (SingularityReceiver.Start(new ReceiverOptions { Directory = existing, Listen = new IPEndPoint(IPAddress.Loopback, 0) }))
        {
        }
        Assert.Equal((UnixFileMode)0x1ED, File.GetUnixFileMode(existing));
    }

    [Fact]
    public void A_destination_that_is_a_file_is_named_as_one()
    {
        using var temp = new TempDirectory();
        string file = TestFiles.Create(Path.Combine(temp.Path, "not-a-dir"), 1);
        var error = Assert.Throws<SingularityException>(() => SingularityReceiver.Start(new ReceiverOptions { Directory = file, Listen = new IPEndPoint(IPAddress.Loopback, 0) }));
        Assert.Equal($"destination '{file}' is a file, not a directory; choose another destination", error.Message);
    }

    [Fact]
    public async Task A_host_name_that_does_not_resolve_points_at_the_url()
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Path, "f"), 1);
        var error = await Assert.ThrowsAsync<TransferAbortedException>(() => SingularitySender.SendAsync([source], new ConnectionUrl("no-such-host.invalid", 7700, "token")));
        Assert.EndsWith("check the host name in the URL", error.Message);
    }

    /// <summary>A directory with contents where the source has a file is named and left as it is, as rsync leaves it without --delete; the rest arrives.</summary>
    [Fact]
    public async Task A_directory_where_a_file_should_go_is_named_and_left_as_it_is()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        TestFiles.Create(Path.Combine(tree, "a"), 100);
        TestFiles.Create(Path.Combine(tree, "in-the-way"), 5000, seed: 2);
        string destination = temp.Sub("dst");
        string kept = TestFiles.Create(Path.Combine(destination, "tree", "in-the-way", "kept"), 10, seed: 3);
        byte[] before = File.ReadAllBytes(kept);
        await using var receiver = new LoopbackReceiver(destination);

        var result = await SingularitySender.SendAsync([tree], receiver.Url);

        var left = Assert.Single(result.NotSent);
        Assert.Equal(("tree/in-the-way", true), (left.Path, left.AtReceiver));
        Assert.Contains("'tree/in-the-way' is a directory in the destination", left.Reason);
        var received = await receiver.NextResultAsync();
        Assert.Equal((1, 1, true), (received.Files, received.EntriesFailed, received.Succeeded));
        TestFiles.AssertSameBytes(Path.Combine(tree, "a"), Path.Combine(destination, "tree", "a"));
        Assert.Equal(before, File.ReadAllBytes(kept));
        Assert.Equal(["kept"], Directory.EnumerateFileSystemEntries(Path.Combine(destination, "tree", "in-the-way")).Select(Path.GetFileName));
        Assert.Empty(PartialFiles.Find(destination));
    }

    /// <summary>
    /// A tree whose entries changed kind since it was last sent arrives as it is now, as with rsync: a file or a link
    /// where the source has a directory is replaced (a link itself, never what it points to), and so is an empty
    /// directory where the source has a file or a link; a directory with something in it is replaced only with
    /// --delete (or --force, the test below), and named otherwise.
    /// </summary>
    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Entries_that_changed_kind_arrive_as_they_are_now()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        TestFiles.Create(Path.Combine(tree, "was-a-file", "inside"), 100);
        TestFiles.Create(Path.Combine(tree, "was-a-link", "inside"), 200, seed: 2);
        TestFiles.Create(Path.Combine(tree, "was-an-empty-directory"), 300, seed: 3);
        File.CreateSymbolicLink(Path.Combine(tree, "link-was-a-directory"), "was-a-file");
        TestFiles.Create(Path.Combine(tree, "was-a-full-directory"), 400, seed: 4);
        string destination = temp.Sub("dst"), outside = temp.Sub("outside");
        string precious = TestFiles.Create(Path.Combine(outside, "precious"), 10);
        string received = Path.Combine(destination, "tree");
        TestFiles.Create(Path.Combine(received, "was-a-file"), 10);
        Directory.CreateSymbolicLink(Path.Combine(received, "was-a-link"), outside);
        Directory.CreateDirectory(Path.Combine(received, "was-an-empty-directory"));
        Directory.CreateDirectory(Path.Combine(received, "link-was-a-directory"));
        TestFiles.Create(Path.Combine(received, "was-a-full-directory", "deep", "x"), 10);
        Directory.CreateSymbolicLink(Path.Combine(received, "was-a-full-directory", "out"), outside);
        await using var receiver = new LoopbackReceiver(destination);

        var refused = await SingularitySender.SendAsync([tree], receiver.Url);
        Assert.Contains("'tree/was-a-full-directory' is a directory in the destination, where the source has a file; move it away, or send with --force (or --delete) to replace it", Assert.Single(refused.NotSent).Reason);
        Assert.True((await receiver.NextResultAsync()).Succeeded);

        await SingularitySender.SendAsync([tree], receiver.Url, new TransferOptions { DeleteExtraneous = true });

        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameTree(tree, received);
        Assert.Equal([precious], Directory.GetFileSystemEntries(outside));
    }

    /// <summary>
    /// --force replaces a directory with something in it where the source now has a file, as rsync --force does,
    /// without --delete's deletion of what the source does not have; what the patterns keep stops it, as it stops
    /// --delete, and a dry run lists what it would delete and changes nothing.
    /// </summary>
    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Force_replaces_a_full_directory_in_the_way_and_deletes_nothing_else()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        string file = TestFiles.Create(Path.Combine(tree, "full"), 4000, seed: 5);
        string destination = temp.Sub("dst"), outside = temp.Sub("outside");
        string precious = TestFiles.Create(Path.Combine(outside, "precious"), 10);
        string received = Path.Combine(destination, "tree");
        TestFiles.Create(Path.Combine(received, "full", "deep", "x"), 10);
        TestFiles.Create(Path.Combine(received, "full", "kept.log"), 10, seed: 6);
        Directory.CreateSymbolicLink(Path.Combine(received, "full", "out"), outside);
        string stale = TestFiles.Create(Path.Combine(received, "stale"), 10, seed: 7);
        await using var receiver = new LoopbackReceiver(destination);
        string url = receiver.Url.ToString();

        // --max-delete caps it, as a deletion's.
        var (capped, _, cappedError) = await SgltyProcess.RunAsync("send", tree, "--to", url, "--force", "--max-delete", "0");
        Assert.NotEqual(0, capped);
        Assert.Contains("the sender's --max-delete limit of 0 deletions is reached", cappedError);
        (capped, _, cappedError) = await SgltyProcess.RunAsync("send", tree, "--to", url, "--force", "--max-delete", "1");
        Assert.NotEqual(0, capped);
        Assert.Contains("the sender's --max-delete limit of 1 deletion is reached", cappedError);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.True(File.Exists(Path.Combine(received, "full", "deep", "x")));

        var (dry, listed, dryError) = await SgltyProcess.RunAsync("send", "-n", tree, "--to", url, "--force");
        Assert.True(dry == 0, dryError);
        Assert.Contains("deleting tree/full/deep/x", listed);
        Assert.DoesNotContain("stale", listed);
        Assert.Matches("would delete [0-9]+ entries at the receiver that stood in the way of the source's entries", listed + dryError);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.True(File.Exists(Path.Combine(received, "full", "deep", "x")));

        // What the patterns keep stays, and so does the directory, named.
        var (exit, _, error) = await SgltyProcess.RunAsync("send", tree, "--to", url, "--force", "--exclude", "*.log");
        Assert.Equal(23, exit);
        Assert.Contains("it holds entries the exclude patterns keep", error);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.True(File.Exists(Path.Combine(received, "full", "kept.log")));

        (exit, var itemized, error) = await SgltyProcess.RunAsync("send", "-i", tree, "--to", url, "--force");
        Assert.True(exit == 0, error);
        Assert.Contains("*deleting   tree/full/kept.log", itemized);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        TestFiles.AssertSameBytes(file, Path.Combine(received, "full"));
        Assert.True(File.Exists(stale));
        Assert.Equal([precious], Directory.GetFileSystemEntries(outside));

        // A missing path names a full directory: --force deletes it too, as rsync --delete-missing-args --force does.
        string gone = Path.Combine(temp.Path, "src", "gone");
        TestFiles.Create(Path.Combine(destination, "gone", "in", "y"), 10, seed: 8);
        (exit, _, error) = await SgltyProcess.RunAsync("send", gone, "--to", url, "--delete-missing-args", "--force");
        Assert.True(exit == 0, error);
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.False(Path.Exists(Path.Combine(destination, "gone")));
    }

    [Fact]
    public async Task A_transfer_beyond_the_free_space_is_refused_before_any_byte_moves()
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "f"), 10);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { Limits = new ProtocolLimits { MaxTotalBytes = 5 } });
        var error = await Assert.ThrowsAsync<TransferAbortedException>(() => SingularitySender.SendAsync([source], receiver.Url));
        Assert.Equal(ErrorCode.LimitExceeded, error.Code);
        Assert.Contains("quota", error.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(destination));
    }

    [Fact]
    public async Task More_lane_buffers_than_the_receiver_allows_are_refused_on_both_sides()
    {
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "f"), 10);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { Limits = new ProtocolLimits { MaxLaneBufferBytes = 8 << 20 } });
        // 4 lanes of 4 MiB may need twice 16 MiB: this receiver refuses, naming the way out.
        var error = await Assert.ThrowsAsync<TransferAbortedException>(() => SingularitySender.SendAsync([source], receiver.Url));
        Assert.Equal(ErrorCode.LimitExceeded, error.Code);
        Assert.Contains("fewer lanes or smaller shards", error.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(destination));
        await SingularitySender.SendAsync([source], receiver.Url, new TransferOptions { ShardSize = 512 << 10 });
        TestFiles.AssertSameBytes(source, Path.Combine(destination, "f"));

        // A sender does not even ask a default receiver for more than it allows.
        var local = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => SingularitySender.SendAsync([source], receiver.Url, new TransferOptions { Lanes = 32, ShardSize = 16 << 20 }));
        Assert.Contains("fewer lanes or smaller shards", local.Message);
    }

    [SkippableFact]
    public async Task Congestion_control_can_be_chosen_per_connection_and_an_unknown_one_is_named()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "TCP_CONGESTION is Linux-only");
        using var temp = new TempDirectory();
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "f"), 100_000);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination, new TransferOptions { CongestionControl = "reno" });

        await SingularitySender.SendAsync([source], receiver.Url, new TransferOptions { CongestionControl = "reno" });
        TestFiles.AssertSameBytes(source, Path.Combine(destination, "f"));

        var error = await Assert.ThrowsAsync<SingularityException>(() => SingularitySender.SendAsync([source], receiver.Url, new TransferOptions { CongestionControl = "no-such-cc" }));
        Assert.Contains("congestion control 'no-such-cc' is not available", error.Message);
    }
}
