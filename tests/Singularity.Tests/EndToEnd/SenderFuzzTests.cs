using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Singularity.Engine;
using Singularity.Engine.Integrity;
using Singularity.Engine.Protocol;
using Singularity.Tests.Support;
using Xunit.Abstractions;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// A real sender against a receiver that answers with whatever it likes: random bodies, valid bodies cut short or
/// lengthened, valid bodies with one field changed, messages only a sender sends, and headers no peer writes. Every
/// case must end within the sender's own timeouts, either in success (only where everything sent was valid) or in a
/// <see cref="SingularityException"/> that says what the receiver did (never <see cref="ErrorCode.Internal"/> nor an
/// "unexpected" error), and must leave the source files as they were.
/// </summary>
public sealed class SenderFuzzTests(ITestOutputHelper output)
{
    private const int ShardSize = 4096;

    /// <summary>Cases run at once: most of a case's time is the sender waiting on its timeouts.</summary>
    private const int AtOnce = 4;

    /// <summary>Longer than the longest any case may legitimately take with the timeouts below (stalls, acceptance, SessionDone, the Error's 2 s).</summary>
    private static readonly TimeSpan CaseLimit = TimeSpan.FromSeconds(20);

    private static readonly TransferOptions Plain = new()
    {
        Cipher = CipherSuite.None,
        Lanes = 1,
        ShardSize = ShardSize,
        Retries = 0,
        Delta = false,
        StallTimeout = TimeSpan.FromSeconds(1),
        IdleTimeout = TimeSpan.FromSeconds(1.5),
        HandshakeTimeout = TimeSpan.FromSeconds(5),
    };

    [Fact]
    public async Task A_hostile_receiver_ends_the_send_with_a_clear_error_and_never_a_crash_a_hang_or_a_changed_source()
    {
        int seed = int.TryParse(Environment.GetEnvironmentVariable("SGLTY_FUZZ_SEED"), out int given) ? given : 7_340_001;
        int cases = int.TryParse(Environment.GetEnvironmentVariable("SGLTY_FUZZ_CASES"), out int count) ? count : 240;
        var failures = new ConcurrentQueue<string>();
        var outcomes = new ConcurrentDictionary<string, int>();
        using var gate = new SemaphoreSlim(AtOnce);
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, cases).Select(async i =>
        {
            await gate.WaitAsync();
            try
            {
                var (failure, outcome) = await RunCaseAsync(seed + i);
                outcomes.AddOrUpdate(outcome, 1, (_, n) => n + 1);
                if (failure is not null) failures.Enqueue(failure);
            }
            finally { gate.Release(); }
        }));
        output.WriteLine($"{cases} cases in {clock.Elapsed.TotalSeconds:0.0} s");
        foreach (var (outcome, n) in outcomes.OrderByDescending(o => o.Value)) output.WriteLine($"{n,5} {outcome}");
        foreach (string failure in failures) output.WriteLine(failure + "\n");
        if (Environment.GetEnvironmentVariable("SGLTY_FUZZ_VERBOSE") is not null) foreach (string line in Verbose) output.WriteLine(line + "\n");
        Assert.True(failures.IsEmpty, $"{failures.Count} of {cases} cases failed; the first:\n{failures.FirstOrDefault()}");
    }

    /// <summary>
    /// A receiver names an entry it could not write once (PROTOCOL §3, EntryFailed); one that names the same directory
    /// again and again must not have the sender hold, and report, each of them: the session ends, or the entry is
    /// named once. (Found by the fuzz test: every EntryFailed for a directory, link or special was added to the
    /// entries not sent, without end.)
    /// </summary>
    [Fact]
    public async Task An_entry_named_as_failed_again_and_again_is_held_once_or_ends_the_session()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("tree");
        TestFiles.Create(Path.Combine(tree, "f"), 1000);
        await using var receiver = new RawReceiver();
        var send = SingularitySender.SendAsync([tree], receiver.Url, Plain);
        try
        {
            await receiver.AcceptAsync();
            await receiver.ReadUntilAsync(ControlMessageType.ManifestChunk);
            // Entry 0 is the directory 'tree', entry 1 its file.
            byte[] failed = ControlMessages.Encode(ControlMessageType.EntryFailed, [.. RawReceiver.Fields(0), .. ErrorMessage.Encode(ErrorCode.IoError, "permission denied")]);
            await receiver.SendRawAsync([.. Enumerable.Repeat(failed, 10_000).SelectMany(message => message)]);
            await receiver.SendAsync(ControlMessageType.ManifestAccepted, RawReceiver.Fields(2));
            Assert.NotNull(await receiver.ReadUntilAsync(ControlMessageType.FilesSealed));
            await receiver.SendAsync(ControlMessageType.ShardAcks, RawReceiver.Batch([1, 0]));
            await receiver.SendAsync(ControlMessageType.FilesCommitted, RawReceiver.Batch([1]));
            await receiver.EndSessionAsync(1, 1000);
        }
        catch (Exception ex) when (ex is IOException or Xunit.Sdk.XunitException) { }

        try
        {
            var result = await send.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(1, result.NotSent.Count(entry => entry.Path == "tree"));
        }
        catch (SingularityException error)
        {
            Assert.Equal(ErrorCode.ProtocolViolation, error.Code);
        }
    }

    /// <summary>
    /// A receiver refuses a connection with one of the few statuses it has for that (PROTOCOL §2.7: VersionUnsupported,
    /// AuthFailed, Busy, ConnectionLost). A HelloReply, which nothing authenticates, with a status that says nothing
    /// (a code no error has) or that would be this sender's own failure (Internal) ends the send as a protocol
    /// violation, as an Error message with such a code does (§3, Error). (Found by the fuzz test: the status was
    /// taken as the send's error code as it came.)
    /// </summary>
    [Theory]
    [InlineData((ushort)ErrorCode.Internal)]
    [InlineData((ushort)15)]
    [InlineData((ushort)999)]
    public async Task A_refusal_with_a_status_no_receiver_refuses_with_is_a_protocol_violation(ushort status)
    {
        using var temp = new TempDirectory();
        byte[] reply = new byte[HelloReply.Size];
        new HelloReply((ErrorCode)status, default).WriteTo(reply);
        await using var receiver = new RawReceiver { Reply = () => (reply, [4, 0, .. "gone"u8]) };
        var send = SingularitySender.SendAsync([TestFiles.Create(Path.Combine(temp.Path, "f"), 1000)], receiver.Url, Plain);
        await receiver.AcceptAsync();

        var error = await Assert.ThrowsAnyAsync<SingularityException>(() => send.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.True(Enum.IsDefined(error.Code), $"the send failed with code {(int)error.Code}, which no error has: {error.Message}");
        Assert.Equal(ErrorCode.ProtocolViolation, error.Code);
    }

    /// <summary>
    /// SessionDone answers Finish (PROTOCOL §3, §7). One that comes before Finish ends the session as a protocol
    /// violation, at once; it must not leave the sender taking the receiver's close that follows for the end of a
    /// confirmed session, and waiting out its idle timeout (15 s here; 120 s by default) before it fails with
    /// "did not confirm the session". (Found by the fuzz test.)
    /// </summary>
    [Fact]
    public async Task A_SessionDone_before_Finish_ends_the_session_at_once()
    {
        using var temp = new TempDirectory();
        await using var receiver = new RawReceiver();
        var send = SingularitySender.SendAsync([TestFiles.Create(Path.Combine(temp.Path, "f"), 1000)], receiver.Url,
            Plain with { IdleTimeout = TimeSpan.FromSeconds(15), StallTimeout = TimeSpan.FromSeconds(15) });
        await receiver.AcceptAsync();
        await receiver.ReadUntilAsync(ControlMessageType.ManifestChunk);

        byte[] done = new byte[24];
        BinaryPrimitives.WriteInt32LittleEndian(done, 1);
        BinaryPrimitives.WriteInt64LittleEndian(done.AsSpan(8), 1000);
        await receiver.SendAsync(ControlMessageType.SessionDone, done);
        receiver.DropSession();

        // Not the close taken for the end, then the idle timeout's ConnectionLost: the early answer itself.
        var error = await Assert.ThrowsAnyAsync<SingularityException>(() => send.WaitAsync(TimeSpan.FromSeconds(90)));
        Assert.Equal(ErrorCode.ProtocolViolation, error.Code);
        Assert.Contains("SessionDone before Finish", error.Message);
    }

    /// <summary>Runs one case; returns why it failed (null if it did not), and a short name of how it ended.</summary>
    private static async Task<(string? Failure, string Outcome)> RunCaseAsync(int seed)
    {
        var random = new Random(seed);
        using var temp = new TempDirectory();
        string tree = temp.Sub("tree");
        TestFiles.Create(Path.Combine(tree, "a"), 1000, seed: 1);
        TestFiles.Create(Path.Combine(tree, "b"), 0);
        TestFiles.Create(Path.Combine(tree, "d", "c"), 2 * ShardSize + 808, seed: 2);
        var options = Plain;
        if (random.Next(3) == 0) File.CreateSymbolicLink(Path.Combine(tree, "l"), "a");
        bool linux = OperatingSystem.IsLinux();
        if (random.Next(6) == 0 && linux)
        {
            TestFiles.CreateFifo(Path.Combine(tree, "p"));
            options = options with { Specials = true };
        }
        if (random.Next(5) == 0 && linux)
        {
            Singularity.Engine.Storage.SpecialFiles.Link(Path.Combine(tree, "a"), Path.Combine(tree, "d", "h"));
            options = options with { HardLinks = true };
        }
        var before = Snapshot(tree);
        if (random.Next(3) == 0) options = options with { SkipUnchanged = true };
        if (options.SkipUnchanged && !options.HardLinks && random.Next(3) == 0) options = random.Next(4) switch { 0 => options with { SizeOnly = true }, 1 => options with { Update = true }, 2 => options with { IgnoreExisting = true }, _ => options with { ExistingOnly = true } };
        if (random.Next(3) == 0) options = options with { Delta = true };
        if (random.Next(4) == 0) options = options with { DeleteExtraneous = true };
        if (random.Next(5) == 0) options = options with { ItemizeChanges = 1 };
        if (random.Next(8) == 0) options = options with { DryRun = true };
        if (random.Next(6) == 0) options = options with { Lanes = 2 };
        if (!options.DryRun && random.Next(4) == 0 && linux) options = options with { RemoveSourceFiles = true };

        var fuzz = new Fuzz(random, options, temp.Path);
        // At times the HelloReply itself is of the receiver's making: a refusal of any status, another version, an
        // acceptance with other capabilities, a broken one, or one cut short.
        bool hello = random.Next(8) == 0;
        (byte[] Reply, byte[] After, bool Accepts)? made = hello ? MakeReply(random, fuzz.Log) : null;
        if (made is { Accepts: false }) options = options with { HandshakeTimeout = TimeSpan.FromSeconds(2) };
        await using var receiver = new RawReceiver { Reply = made is { } m ? () => (m.Reply, m.After) : null };
        var send = SingularitySender.SendAsync([tree], receiver.Url, options);
        try
        {
            await receiver.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(10));
            if (made is { Accepts: false })
            {
                if (random.Next(2) == 0)
                {
                    await Task.Delay(random.Next(50));
                    fuzz.Log.Add("(closes the connection)");
                    receiver.DropSession();
                }
            }
            else
            {
                _ = Task.Run(() => fuzz.PumpAsync(receiver));
                await fuzz.ScriptAsync(receiver);
            }
        }
        catch (Exception ex)
        {
            // The receiver's own writes may meet a sender that closed: the sender's outcome is what counts.
            fuzz.Log.Add($"(the receiver's part ended: {ex.GetType().Name}: {ex.Message})");
        }
        Exception? thrown = null;
        SendResult? result = null;
        bool hung = false;
        try { result = await send.WaitAsync(CaseLimit); }
        catch (TimeoutException) when (!send.IsCompleted) { hung = true; }
        catch (Exception ex) { thrown = ex; }

        string? failure = null;
        string outcome;
        if (hung)
        {
            failure = "the sender hung";
            outcome = "hang";
        }
        else if (thrown is null)
        {
            outcome = "success";
            if (fuzz.SurelyInvalid is { } invalid) failure = $"the send succeeded although the receiver sent {invalid}";
            // What the result names, it names once: a receiver repeating itself must not grow it.
            else if (result!.NotSent.Count > 7 || result.NotSent.DistinctBy(e => e.Path).Count() != result.NotSent.Count) failure = $"the result names {result.NotSent.Count} entries not sent: {string.Join(", ", result.NotSent.Select(e => e.Path))}";
            else if (result.HardLinks < 0) failure = $"the result counts {result.HardLinks} hard links";
        }
        else if (thrown is SingularityException known)
        {
            outcome = $"{known.Code}: {System.Text.RegularExpressions.Regex.Replace(known.Message, "[0-9]+|'[^']*'", "#")}";
            bool relayed = known.Message.StartsWith("the receiver ended the session: ", StringComparison.Ordinal);
            if ((known.Code == ErrorCode.Internal && !relayed) || known.Message.Contains("unexpected", StringComparison.OrdinalIgnoreCase))
                failure = $"an internal error: {known.Code}: {known.Message}\n{known.InnerException ?? known}";
            else if (known.Code == ErrorCode.None || !Enum.IsDefined(known.Code))
                failure = $"an error of code {(int)known.Code}, which no error has: {known.Message}";
        }
        else
        {
            outcome = $"crash {thrown.GetType().Name}";
            failure = $"not a SingularityException: {thrown}";
        }
        if (Environment.GetEnvironmentVariable("SGLTY_FUZZ_VERBOSE") is not null) Verbose.Enqueue($"seed {seed} ({Describe(options)}): {outcome}\n  {(thrown is null ? "success" : thrown.Message)}\n  {string.Join("\n  ", fuzz.Log)}");
        if (Changed(before, Snapshot(tree), thrown is null && options.RemoveSourceFiles, fuzz) is { } changed) failure = (failure is null ? "" : failure + "; ") + changed;
        return (failure is null ? null : $"seed {seed} ({Describe(options)}{(fuzz.Wary ? ", wary" : "")}): {failure}\nafter {(thrown is null ? "success" : thrown.Message)}\nreceiver wrote:\n  {string.Join("\n  ", fuzz.Log)}", outcome);
    }

    private static readonly ConcurrentQueue<string> Verbose = new();

    /// <summary>A HelloReply of a hostile receiver's making, what follows it, and whether it accepts (the handshake then goes on).</summary>
    private static (byte[] Reply, byte[] After, bool Accepts) MakeReply(Random random, List<string> log)
    {
        ushort[] statuses = [0, 0, 0, (ushort)ErrorCode.Busy, (ushort)ErrorCode.AuthFailed, (ushort)ErrorCode.VersionUnsupported, (ushort)ErrorCode.ConnectionLost, (ushort)ErrorCode.Internal, (ushort)ErrorCode.ProtocolViolation, 15, 999, 0xFFFF];
        var status = (ErrorCode)statuses[random.Next(statuses.Length)];
        ushort version = random.Next(6) == 0 ? (ushort)random.Next(0x10000) : WireFormat.Version;
        uint capabilities = random.Next(2) == 0 ? (uint)random.NextInt64(0x1_0000_0000) : (uint)random.Next(32);
        uint authLength = random.Next(6) == 0 ? (uint)random.NextInt64(0x1_0000_0000) : status == ErrorCode.None ? 130u : 0u;
        byte[] reply = new byte[HelloReply.Size];
        byte[] id = new byte[16];
        random.NextBytes(id);
        new HelloReply(status, SessionId.Read(id), capabilities, version, authLength).WriteTo(reply);
        string broken = "";
        switch (random.Next(10))
        {
            case 0: reply[random.Next(8)] ^= 0x20; broken = ", magic broken"; break;
            case 1: reply[40 + random.Next(8)] ^= 1; broken = ", check broken"; break;
            case 2: reply[36] = 1; reply.AsSpan(40).Clear(); BinaryPrimitives.WriteUInt64LittleEndian(reply.AsSpan(40), WireFormat.HeaderCheck(reply.AsSpan(0, 40))); broken = ", reserved set"; break;
        }
        byte[] after = [];
        if (status != ErrorCode.None)
        {
            byte[] text = random.Next(3) switch { 0 => Encoding.UTF8.GetBytes("busy, try later"), 1 => [0xC3, 0x28, 0, 0x1B, (byte)'['], _ => Encoding.UTF8.GetBytes(new string('r', 1100)) };
            int length = random.Next(4) == 0 ? random.Next(0x10000) : text.Length;
            after = [(byte)length, (byte)(length >> 8), .. text.AsSpan(0, Math.Min(text.Length, random.Next(2) == 0 ? text.Length : random.Next(text.Length + 1)))];
        }
        int cut = random.Next(8) == 0 ? random.Next(HelloReply.Size) : HelloReply.Size;
        bool accepts = cut == HelloReply.Size && HelloReply.TryRead(reply, out var read, out _) && read.Status == ErrorCode.None && read.Version == WireFormat.Version && read.AuthLength == 130;
        log.Add($"HelloReply status {(int)status} version {version} capabilities 0x{capabilities:x} auth length {authLength}{broken}{(cut < HelloReply.Size ? $", cut to {cut} bytes" : "")}, then {after.Length} bytes{(accepts ? " (accepts)" : "")}");
        return (reply[..cut], cut < HelloReply.Size ? [] : after, accepts);
    }

    private static string Describe(TransferOptions options) => string.Join(" ", new[]
    {
        options.SkipUnchanged ? "skip-unchanged" : null, options.SizeOnly ? "size-only" : null, options.Update ? "update" : null,
        options.IgnoreExisting ? "ignore-existing" : null, options.ExistingOnly ? "existing" : null, options.Delta == true ? "delta" : null,
        options.DeleteExtraneous ? "delete" : null, options.ItemizeChanges > 0 ? "itemize" : null, options.DryRun ? "dry-run" : null, options.HardLinks ? "hard-links" : null, options.RemoveSourceFiles ? "remove-source-files" : null, options.Specials ? "specials" : null, $"lanes={options.Lanes}",
    }.Where(s => s is not null));

    /// <summary>Each entry of the tree: a file's contents, a link's target, what the rest is; and its mtime.</summary>
    private static Dictionary<string, (string Hash, DateTime Modified)> Snapshot(string tree) =>
        new DirectoryInfo(tree).EnumerateFileSystemInfos("*", SearchOption.AllDirectories).ToDictionary(
            info => Path.GetRelativePath(tree, info.FullName),
            info => (info.LinkTarget is { } target ? $"link to {target}" : info is DirectoryInfo ? "directory" : info.Name == "p" ? "fifo"
                : Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(info.FullName))), info.LastWriteTimeUtc));

    /// <summary>
    /// What changed in the source that should not have: anything, but where a send that removes its sources succeeded;
    /// then only the removal of what the receiver took (a file it named committed or in place, a link or special it
    /// accepted), and the times of the directories they were in.
    /// </summary>
    private static string? Changed(Dictionary<string, (string Hash, DateTime Modified)> before, Dictionary<string, (string Hash, DateTime Modified)> after, bool removes, Fuzz fuzz)
    {
        foreach (var (path, was) in before)
        {
            if (!after.TryGetValue(path, out var now))
            {
                if (!removes) return $"the source lost '{path}'";
                if (was.Hash != "directory" && !was.Hash.StartsWith("link to ", StringComparison.Ordinal) && was.Hash != "fifo" && !fuzz.Confirmed($"tree/{path}"))
                    return $"the send removed the source '{path}', which the receiver never named committed or in place";
            }
            else if (now.Hash != was.Hash || (now.Modified != was.Modified && !(removes && was.Hash == "directory"))) return $"the source '{path}' changed";
        }
        return after.Keys.FirstOrDefault(path => !before.ContainsKey(path)) is { } added ? $"the source gained '{added}'" : null;
    }

    /// <summary>
    /// One hostile receiver: it reads what the sender writes (the manifest, seals, Finish), plays a receiver's part
    /// mostly honestly, and between its steps writes messages of its own making. It keeps the first message it wrote
    /// that no sender may take (<see cref="SurelyInvalid"/>), so a send that then succeeds is a failure too.
    /// </summary>
    private sealed class Fuzz(Random random, TransferOptions options, string root)
    {
        private readonly Lock _lock = new();
        private readonly List<ManifestEntry> _entries = [];
        private readonly HashSet<uint> _sealed = [];
        private int _declared = -1;
        private bool _finish;
        private bool _ended;
        // What this receiver accepted, committed and named as in place (or as failed), as the sender took it.
        private int _accepted;
        private readonly HashSet<uint> _committed = [];
        private readonly HashSet<uint> _present = [];
        // Once a SessionDone or an Error went, what follows may never be read.
        private bool _over;

        public List<string> Log { get; } = [];

        // The paths of the files this receiver named committed or in place, in any message it wrote.
        private readonly HashSet<string> _named = [];

        /// <summary>Whether this receiver named the file at <paramref name="path"/> committed or in place.</summary>
        public bool Confirmed(string path)
        {
            lock (_lock) return _named.Contains(path);
        }

        public string? SurelyInvalid { get; private set; }

        private bool Delta => options.Delta == true && !options.DryRun;

        private bool Deletes => options.DeleteExtraneous;

        private int FileCount { get { lock (_lock) return _entries.Count(e => e.Kind == EntryKind.File); } }

        /// <summary>Reads the sender's messages until its stream ends, keeping what this receiver needs to know.</summary>
        public async Task PumpAsync(RawReceiver receiver)
        {
            while (await receiver.ReadNextAsync() is var (type, body))
            {
                lock (_lock)
                {
                    switch (type)
                    {
                        case ControlMessageType.OpenSession:
                            _declared = BinaryPrimitives.ReadInt32LittleEndian(body.AsSpan(8));
                            break;
                        case ControlMessageType.ManifestChunk:
                            int count = BinaryPrimitives.ReadInt32LittleEndian(body.AsSpan(4)), at = ManifestCodec.ChunkHeaderSize;
                            for (int i = 0; i < count; i++)
                            {
                                Assert.True(ManifestCodec.TryRead(body.AsSpan(at), new ProtocolLimits(), out var entry, out int consumed, out string? error), error);
                                _entries.Add(entry!);
                                at += consumed;
                            }
                            break;
                        case ControlMessageType.FilesSealed:
                            for (int i = 0; i < BinaryPrimitives.ReadInt32LittleEndian(body); i++) _sealed.Add(BinaryPrimitives.ReadUInt32LittleEndian(body.AsSpan(4 + 12 * i)));
                            break;
                        case ControlMessageType.Finish:
                            _finish = true;
                            break;
                    }
                }
            }
            lock (_lock) _ended = true;
        }

        private async Task<bool> WaitForAsync(Func<bool> condition, double seconds = 3)
        {
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed.TotalSeconds < seconds)
            {
                lock (_lock)
                {
                    if (condition()) return true;
                    if (_ended) return false;
                }
                await Task.Delay(5);
            }
            return false;
        }

        /// <summary>
        /// A receiver's part, with hostile messages between its steps (at least one somewhere), and at each step a
        /// chance that it stops: closing the connection, or falling silent with it open.
        /// </summary>
        public async Task ScriptAsync(RawReceiver receiver)
        {
            if (!await WaitForAsync(() => _declared >= 0 && _entries.Count > 0, 5)) return;
            int forced = random.Next(6);
            for (int point = 0; point < 40; point++)
            {
                if (point == forced || random.Next(3) == 0) await InjectAsync(receiver, 1 + random.Next(3));
                if (_over) return;
                if (random.Next(14) == 0)
                {
                    if (random.Next(3) == 0) Log.Add("(falls silent)");
                    else
                    {
                        Log.Add("(closes the connection)");
                        receiver.DropSession();
                    }
                    return;
                }
                int entries;
                lock (_lock) entries = _entries.Count;
                if (entries > _accepted)
                {
                    // Files in place, named before their acceptance, where the sender asked for it.
                    var unaccepted = FileIds().Where(id => id >= _accepted).ToList();
                    if (options.SkipUnchanged && unaccepted.Count > 0 && random.Next(2) == 0)
                    {
                        uint id = unaccepted[random.Next(unaccepted.Count)];
                        await SendAsync(receiver, ControlMessageType.FilesPresent, RawReceiver.Batch([id]), null);
                        lock (_lock) _present.Add(id);
                    }
                    await SendAsync(receiver, ControlMessageType.ManifestAccepted, RawReceiver.Fields((uint)entries), null);
                    _accepted = entries;
                    continue;
                }
                if (_finish)
                {
                    if (Deletes && random.Next(2) == 0) await SendAsync(receiver, ControlMessageType.StillWorking, [], null);
                    await SendAsync(receiver, ControlMessageType.SessionDone, SessionDone(), null);
                    _over = true;
                    return;
                }
                // Acknowledges and commits what is sealed (some of it, at times), else waits for what comes next.
                List<uint> ready;
                lock (_lock) ready = [.. _sealed.Except(_committed).Except(_present)];
                if (ready.Count > 1 && random.Next(2) == 0) ready = ready[..random.Next(1, ready.Count)];
                foreach (uint id in ready)
                {
                    var entry = EntryAt(id);
                    int shards = Digests.ShardCount(entry.Size, ShardSize);
                    if (shards > 0) await SendAsync(receiver, ControlMessageType.ShardAcks, RawReceiver.Batch([.. Enumerable.Range(0, shards).Select(s => new[] { id, (uint)s })]), null);
                    await SendAsync(receiver, ControlMessageType.FilesCommitted, RawReceiver.Batch([id]), null);
                    lock (_lock) _committed.Add(id);
                }
                if (ready.Count == 0)
                {
                    int seals;
                    lock (_lock) seals = _sealed.Count;
                    if (!await WaitForAsync(() => _finish || _entries.Count > _accepted || _sealed.Count > seals, 3)) return;
                }
            }
        }

        private ManifestEntry EntryAt(uint id)
        {
            lock (_lock) return _entries[(int)id];
        }

        private List<uint> FileIds()
        {
            lock (_lock) return [.. Enumerable.Range(0, _entries.Count).Where(i => _entries[i].Kind == EntryKind.File).Select(i => (uint)i)];
        }

        private byte[] SessionDone()
        {
            byte[] done = new byte[24];
            BinaryPrimitives.WriteInt32LittleEndian(done, FileCount);
            long bytes;
            lock (_lock) bytes = options.DryRun ? 0 : _committed.Sum(id => _entries[(int)id].Size);
            BinaryPrimitives.WriteInt64LittleEndian(done.AsSpan(8), bytes);
            return done;
        }

        private async Task SendAsync(RawReceiver receiver, ControlMessageType type, byte[] body, string? invalid)
        {
            Log.Add($"{type} [{body.Length}] {Convert.ToHexString(body.AsSpan(0, Math.Min(body.Length, 48)))}{(body.Length > 48 ? "..." : "")}{(invalid is null ? "" : $"   <- invalid: {invalid}")}");
            if (invalid is not null && !_over) SurelyInvalid ??= $"{type}: {invalid}";
            if (type is ControlMessageType.FilesCommitted or ControlMessageType.FilesPresent && body.Length >= 4)
                lock (_lock)
                    for (int i = 0; i < BinaryPrimitives.ReadInt32LittleEndian(body) && 8 + 4 * i <= body.Length; i++)
                        if (BinaryPrimitives.ReadUInt32LittleEndian(body.AsSpan(4 + 4 * i)) is var id && id < _entries.Count) _named.Add(_entries[(int)id].Path);
            await receiver.SendAsync(type, body);
        }

        // Values a mutated field takes.
        private static readonly uint[] Interesting = [0, 1, 2, 3, 4, 5, 7, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x10001, 4096, 2048, 65_536, 65_537, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0xFFFF_FFFE, 0x4000_0000, 1_000_000];

        private static readonly ControlMessageType[] Answers =
        [
            ControlMessageType.ManifestAccepted, ControlMessageType.ShardAcks, ControlMessageType.ShardNack, ControlMessageType.FilesCommitted,
            ControlMessageType.SessionDone, ControlMessageType.Error, ControlMessageType.ResumeOffer, ControlMessageType.FilesPresent,
            ControlMessageType.EntryFailed, ControlMessageType.StillWorking, ControlMessageType.WouldDelete, ControlMessageType.BasisOffer,
            ControlMessageType.FilesKept, ControlMessageType.Itemized, ControlMessageType.BasisSums,
        ];

        private static readonly ControlMessageType[] SendersOnly =
        [
            ControlMessageType.OpenSession, ControlMessageType.ManifestChunk, ControlMessageType.FilesSealed, ControlMessageType.Finish,
            ControlMessageType.ShardsKept, ControlMessageType.FilesDropped, ControlMessageType.Exclude, ControlMessageType.OwnerNames,
            ControlMessageType.LeftOut, ControlMessageType.Backup, ControlMessageType.Destination, ControlMessageType.LinkDest,
            ControlMessageType.DeleteNamed, ControlMessageType.FilesVanished, ControlMessageType.FilesWithdrawn,
        ];

        /// <summary>
        /// Writes <paramref name="messages"/> messages of this receiver's making. A receiver that is <see cref="Wary"/>
        /// writes only messages a sender might take here (each drawn again until it is), but for one, maybe, at a
        /// point of its choosing: so cases reach the later states of a session too.
        /// </summary>
        private async Task InjectAsync(RawReceiver receiver, int messages)
        {
            for (int m = 0; m < messages && !_over; m++)
            {
                bool anything = !Wary || (_slipAt-- == 0);
                for (int attempt = 0; ; attempt++)
                {
                    var (type, body, raw, how, invalid) = Draw(anything);
                    if ((invalid is not null || raw is not null || !Plausible(type, body)) && !anything && attempt < 200) continue;
                    if (raw is not null)
                    {
                        Log.Add($"raw header with a bad {how}: {Convert.ToHexString(raw.AsSpan(0, 16))}   <- invalid");
                        if (!_over) SurelyInvalid ??= $"a header with a bad {how}";
                        await receiver.SendRawAsync(raw);
                        break;
                    }
                    Log.Add($"  ({how})");
                    if (type is ControlMessageType.Error) _over = true;
                    if (type is ControlMessageType.SessionDone && invalid is null) _over = true;
                    await SendAsync(receiver, type, body, invalid);
                    if (type == ControlMessageType.ManifestAccepted && invalid is null && body.Length == 4) _accepted = Math.Max(_accepted, BinaryPrimitives.ReadInt32LittleEndian(body));
                    if (type == ControlMessageType.Error) SurelyInvalid ??= "an Error";
                    if (invalid is null && type == ControlMessageType.EntryFailed && body.Length >= 8)
                        lock (_lock) _present.Add(BinaryPrimitives.ReadUInt32LittleEndian(body));
                    if (invalid is null && type is ControlMessageType.FilesCommitted or ControlMessageType.FilesPresent or ControlMessageType.FilesKept)
                        lock (_lock)
                            for (int i = 0; i < BinaryPrimitives.ReadInt32LittleEndian(body); i++)
                                (type == ControlMessageType.FilesCommitted ? _committed : _present).Add(BinaryPrimitives.ReadUInt32LittleEndian(body.AsSpan(4 + 4 * i)));
                    break;
                }
            }
        }

        /// <summary>Writes only what a sender might take (see <see cref="InjectAsync"/>), but maybe once.</summary>
        public bool Wary { get; } = random.Next(2) == 0;

        // In a wary receiver's messages, the one that may be anything (none, beyond the last).
        private int _slipAt = random.Next(2) == 0 ? random.Next(6) : int.MaxValue;

        private (ControlMessageType Type, byte[] Body, byte[]? Raw, string How, string? Invalid) Draw(bool anything)
        {
            int roll = random.Next(100);
            if (anything && roll < 2)
            {
                // A header no peer writes: an unknown type, flags or reserved bits, a failed check, a length out of range.
                byte[] raw = ControlMessages.Encode(ControlMessageType.ShardAcks, RawReceiver.Batch([0, 0]));
                string what;
                switch (random.Next(5))
                {
                    case 0: raw[4] = (byte)(random.Next(2) == 0 ? 0 : 31 + random.Next(225)); what = $"type {raw[4]}"; break;
                    case 1: raw[5] = (byte)(1 + random.Next(255)); what = "flags"; break;
                    case 2: raw[6] = 1; what = "reserved"; break;
                    case 3: raw[8] ^= 1; what = "check"; break;
                    default: BinaryPrimitives.WriteInt32LittleEndian(raw, random.Next(2) == 0 ? -1 : (1 << 20) + 1); what = "length"; raw = raw[..16]; break;
                }
                return (default, [], raw, what, "raw");
            }
            if (anything && roll < 5)
            {
                var type = SendersOnly[random.Next(SendersOnly.Length)];
                return (type, RandomBytes(random.Next(3) == 0 ? 0 : random.Next(1, 40)), null, "random", "a sender's message");
            }
            var answer = Answers[random.Next(Answers.Length)];
            byte[] body = Valid(answer);
            string how = "valid";
            switch (random.Next(100))
            {
                case < 40: break;
                case < 52:
                    if (body.Length > 0) body = body[..random.Next(body.Length)];
                    how = "cut";
                    break;
                case < 58:
                    body = [.. body, .. RandomBytes(1 + random.Next(8))];
                    how = "lengthened";
                    break;
                case < 92:
                    if (body.Length >= 4)
                    {
                        int at = random.Next(body.Length - 3);
                        if (random.Next(2) == 0) at &= ~3;
                        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(at), Interesting[random.Next(Interesting.Length)]);
                        how = $"field at {at}";
                    }
                    break;
                default:
                    body = RandomBytes(random.Next(5) == 0 ? random.Next(0, 70_000) : random.Next(0, 40));
                    how = "random";
                    break;
            }
            return (answer, body, null, how, Judge(answer, body));
        }

        private byte[] RandomBytes(int length)
        {
            byte[] bytes = new byte[length];
            random.NextBytes(bytes);
            return bytes;
        }

        /// <summary>A well-formed body of <paramref name="type"/> about this session's entries (not necessarily one the sender takes now).</summary>
        private byte[] Valid(ControlMessageType type)
        {
            var files = FileIds();
            int entries;
            lock (_lock) entries = _entries.Count;
            uint AnyFile() => files.Count == 0 ? 0 : files[random.Next(files.Count)];
            uint AnyEntry() => (uint)random.Next(Math.Max(1, entries));
            uint ShardOf(uint id) => (uint)random.Next(Math.Max(1, id < entries ? Digests.ShardCount(EntryAt(id).Size, ShardSize) : 1));
            int items = 1 + random.Next(3);
            switch (type)
            {
                case ControlMessageType.ManifestAccepted:
                    return RawReceiver.Fields((uint)(random.Next(2) == 0 ? entries : random.Next(entries + 1)));
                case ControlMessageType.ShardAcks:
                    return RawReceiver.Batch([.. Enumerable.Range(0, items).Select(_ => { uint id = AnyFile(); return new[] { id, ShardOf(id) }; })]);
                case ControlMessageType.ShardNack:
                {
                    uint id = AnyFile();
                    return [.. RawReceiver.Fields(id, ShardOf(id)), 5, 0, 0, 0];
                }
                case ControlMessageType.FilesCommitted:
                case ControlMessageType.FilesPresent:
                case ControlMessageType.FilesKept:
                    return RawReceiver.Batch([.. Enumerable.Range(0, items).Select(_ => new[] { random.Next(4) == 0 ? AnyEntry() : AnyFile() })]);
                case ControlMessageType.SessionDone:
                    return SessionDone();
                case ControlMessageType.Error:
                    return ErrorMessage.Encode((ErrorCode)(1 + random.Next(14)), "the receiver gave up");
                case ControlMessageType.ResumeOffer:
                case ControlMessageType.BasisOffer:
                {
                    byte[] body = new byte[4 + 16 * items];
                    BinaryPrimitives.WriteInt32LittleEndian(body, items);
                    for (int i = 0; i < items; i++)
                    {
                        uint id = AnyFile();
                        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(4 + 16 * i), id);
                        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(8 + 16 * i), ShardOf(id));
                        BinaryPrimitives.WriteUInt64LittleEndian(body.AsSpan(12 + 16 * i), (ulong)random.NextInt64());
                    }
                    return body;
                }
                case ControlMessageType.EntryFailed:
                    return [.. RawReceiver.Fields(AnyEntry()), .. ErrorMessage.Encode(random.Next(6) == 0 ? ErrorCode.NotAllowed : ErrorCode.IoError, "permission denied")];
                case ControlMessageType.StillWorking:
                    return [];
                case ControlMessageType.WouldDelete:
                {
                    string[] names = ["gone", "old/", "../outside", "/etc/passwd", "a/../../b", "x\u0000y", "\u001b[2J", new string('n', 5000), "tree/a"];
                    var paths = Enumerable.Range(0, items).Select(_ => names[random.Next(names.Length)]).ToList();
                    var body = new List<byte>();
                    body.AddRange(RawReceiver.Fields((uint)paths.Count));
                    foreach (string path in paths)
                    {
                        byte[] bytes = random.Next(8) == 0 ? [0xC3, 0x28] : Encoding.UTF8.GetBytes(path);
                        body.Add((byte)bytes.Length);
                        body.Add((byte)(bytes.Length >> 8));
                        body.AddRange(bytes);
                    }
                    return [.. body];
                }
                case ControlMessageType.Itemized:
                {
                    ushort[] changes = [1, 2, 4, 8, 0x10, 0x20, 0x40, 0x80, 0x100, 0x200, 0x0C, 0x8000];
                    byte[] body = new byte[4 + 6 * items];
                    BinaryPrimitives.WriteInt32LittleEndian(body, items);
                    for (int i = 0; i < items; i++)
                    {
                        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(4 + 6 * i), AnyEntry());
                        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(8 + 6 * i), changes[random.Next(changes.Length)]);
                    }
                    return body;
                }
                case ControlMessageType.BasisSums:
                {
                    uint id = AnyFile();
                    if (random.Next(2) == 0 && id < entries && EntryAt(id).Size >= 2048)
                    {
                        // The sums of the source's own blocks (shifted a little, at times): the sender then sends patches.
                        byte[] basis = File.ReadAllBytes(Path.Combine(root, EntryAt(id).Path));
                        if (random.Next(2) == 0) basis = [.. RandomBytes(1 + random.Next(100)), .. basis];
                        int size = random.Next(2) == 0 ? 2048 : 4096, blocks = basis.Length / size;
                        if (blocks > 0)
                        {
                            byte[] sums = new byte[12 + 12 * blocks];
                            BinaryPrimitives.WriteUInt32LittleEndian(sums, id);
                            BinaryPrimitives.WriteInt32LittleEndian(sums.AsSpan(4), size);
                            BinaryPrimitives.WriteInt32LittleEndian(sums.AsSpan(8), blocks);
                            for (int k = 0; k < blocks; k++)
                            {
                                var block = basis.AsSpan(k * size, size);
                                BinaryPrimitives.WriteUInt32LittleEndian(sums.AsSpan(12 + 12 * k), BlockSums.Weak(block));
                                BinaryPrimitives.WriteUInt64LittleEndian(sums.AsSpan(16 + 12 * k), System.IO.Hashing.XxHash3.HashToUInt64(block));
                            }
                            return sums;
                        }
                    }
                    int count = 1 + random.Next(4);
                    byte[] body = new byte[12 + 12 * count];
                    random.NextBytes(body);
                    BinaryPrimitives.WriteUInt32LittleEndian(body, id);
                    BinaryPrimitives.WriteInt32LittleEndian(body.AsSpan(4), 2048);
                    BinaryPrimitives.WriteInt32LittleEndian(body.AsSpan(8), count);
                    return body;
                }
                default:
                    throw new InvalidOperationException($"no valid body of {type}");
            }
        }

        /// <summary>Whether a sender would likely take this message now (a wary receiver's test, beside <see cref="Judge"/>).</summary>
        private bool Plausible(ControlMessageType type, byte[] body)
        {
            int entries;
            bool accepted, finish;
            HashSet<uint> sealedIds, settled;
            lock (_lock)
            {
                entries = _entries.Count;
                accepted = _accepted >= entries;
                finish = _finish;
                sealedIds = [.. _sealed];
                settled = [.. _committed, .. _present];
            }
            List<uint> Ids(int itemSize) => body.Length < 4 ? [] : [.. Enumerable.Range(0, BinaryPrimitives.ReadInt32LittleEndian(body)).Select(i => BinaryPrimitives.ReadUInt32LittleEndian(body.AsSpan(4 + itemSize * i)))];
            return type switch
            {
                ControlMessageType.ManifestAccepted => !accepted,
                ControlMessageType.ShardAcks or ControlMessageType.ShardNack => accepted && !finish,
                ControlMessageType.FilesCommitted => Ids(4) is var ids && ids.Distinct().Count() == ids.Count && ids.All(id => sealedIds.Contains(id) && !settled.Contains(id)),
                ControlMessageType.ResumeOffer or ControlMessageType.BasisOffer => !accepted && Ids(16).All(id => id >= _accepted && EntryAt(id).Size > ShardSize),
                ControlMessageType.FilesPresent or ControlMessageType.FilesKept => !accepted && Ids(4) is var ids && ids.Distinct().Count() == ids.Count && ids.All(id => id >= _accepted && !settled.Contains(id)),
                ControlMessageType.Itemized => !accepted && Ids(6) is var ids && ids.Distinct().Count() == ids.Count && ids.All(id => id >= _accepted),
                ControlMessageType.BasisSums => !accepted && BinaryPrimitives.ReadUInt32LittleEndian(body) >= _accepted,
                ControlMessageType.EntryFailed => BinaryPrimitives.ReadUInt16LittleEndian(body.AsSpan(4)) != (ushort)ErrorCode.NotAllowed,
                ControlMessageType.StillWorking => (finish && Deletes) || (!accepted && Delta),
                ControlMessageType.WouldDelete => finish,
                _ => false,
            };
        }

        /// <summary>Why no sender may take this message in this session, whenever it comes; null where it might.</summary>
        private string? Judge(ControlMessageType type, byte[] body)
        {
            int entries;
            lock (_lock) entries = _entries.Count;
            bool IsFile(uint id) => id < entries && EntryAt(id).Kind == EntryKind.File;
            int Shards(uint id) => Digests.ShardCount(EntryAt(id).Size, ShardSize);
            string? Batch(int itemSize)
            {
                if (body.Length < 4) return "a batch under 4 bytes";
                int count = BinaryPrimitives.ReadInt32LittleEndian(body);
                if (count <= 0 || body.Length != 4 + (long)count * itemSize) return "a batch whose count does not match its length";
                return null;
            }
            IEnumerable<ReadOnlyMemory<byte>> Items(int itemSize)
            {
                int count = BinaryPrimitives.ReadInt32LittleEndian(body);
                for (int i = 0; i < count; i++) yield return body.AsMemory(4 + itemSize * i, itemSize);
            }
            switch (type)
            {
                case ControlMessageType.ManifestAccepted:
                {
                    if (body.Length != 4) return "a ManifestAccepted of the wrong length";
                    int count = BinaryPrimitives.ReadInt32LittleEndian(body);
                    if (count > entries || count <= _accepted) return "a ManifestAccepted beyond the manifest or not growing";
                    return null;
                }
                case ControlMessageType.ShardAcks:
                {
                    if (Batch(8) is { } bad) return bad;
                    foreach (var item in Items(8))
                    {
                        uint id = BinaryPrimitives.ReadUInt32LittleEndian(item.Span), shard = BinaryPrimitives.ReadUInt32LittleEndian(item.Span[4..]);
                        if (!IsFile(id) || shard >= Shards(id)) return $"an ack of file {id} shard {shard}";
                    }
                    return null;
                }
                case ControlMessageType.ShardNack:
                {
                    if (body.Length != 12) return "a ShardNack of the wrong length";
                    uint id = BinaryPrimitives.ReadUInt32LittleEndian(body), shard = BinaryPrimitives.ReadUInt32LittleEndian(body.AsSpan(4));
                    return !IsFile(id) || shard >= Shards(id) ? $"a nack of file {id} shard {shard}" : null;
                }
                case ControlMessageType.FilesCommitted:
                {
                    if (Batch(4) is { } bad) return bad;
                    foreach (var item in Items(4))
                    {
                        uint id = BinaryPrimitives.ReadUInt32LittleEndian(item.Span);
                        if (!IsFile(id)) return $"a commit of entry {id}, no file";
                        lock (_lock) if (_committed.Contains(id) || _present.Contains(id)) return $"a second commit of file {id}";
                    }
                    return null;
                }
                case ControlMessageType.SessionDone:
                {
                    if (body.Length != 24) return "a SessionDone of the wrong length";
                    if (BinaryPrimitives.ReadInt32LittleEndian(body) != FileCount) return "a SessionDone of another file count";
                    int deleted = BinaryPrimitives.ReadInt32LittleEndian(body.AsSpan(4)), notDeleted = BinaryPrimitives.ReadInt32LittleEndian(body.AsSpan(16));
                    int flags = BinaryPrimitives.ReadInt32LittleEndian(body.AsSpan(20));
                    if (deleted < 0 || notDeleted < 0 || (!Deletes && (deleted | notDeleted | (flags & 1)) != 0) || (flags & 2) != 0) return "a SessionDone with deletions or attributes not asked for";
                    // The sender finishes only once every file is settled, which here only this receiver's answers do.
                    lock (_lock)
                        if (!_finish && (_accepted < _entries.Count || FileIds().Any(id => !_committed.Contains(id) && !_present.Contains(id))))
                            return "a SessionDone before Finish";
                    return null;
                }
                case ControlMessageType.Error:
                    return null;
                case ControlMessageType.ResumeOffer:
                case ControlMessageType.BasisOffer:
                {
                    if (type == ControlMessageType.BasisOffer && !Delta) return "a BasisOffer without delta";
                    if (Batch(16) is { } bad) return bad;
                    foreach (var item in Items(16))
                    {
                        uint id = BinaryPrimitives.ReadUInt32LittleEndian(item.Span), shard = BinaryPrimitives.ReadUInt32LittleEndian(item.Span[4..]);
                        if (!IsFile(id) || shard >= Math.Max(1, Shards(id))) return $"an offer of file {id} shard {shard}";
                    }
                    return null;
                }
                case ControlMessageType.FilesPresent:
                case ControlMessageType.FilesKept:
                {
                    if (!options.SkipUnchanged) return $"{type} without skip-unchanged";
                    if (type == ControlMessageType.FilesKept && !(options.SizeOnly || options.Update || options.IgnoreExisting || options.ExistingOnly)) return "FilesKept without a rule";
                    if (Batch(4) is { } bad) return bad;
                    foreach (var item in Items(4))
                        if (!IsFile(BinaryPrimitives.ReadUInt32LittleEndian(item.Span)) && type == ControlMessageType.FilesPresent) return "FilesPresent of an entry no file";
                    return null;
                }
                case ControlMessageType.EntryFailed:
                    if (body.Length < 8) return "an EntryFailed under 8 bytes";
                    if (BinaryPrimitives.ReadUInt32LittleEndian(body) >= entries) return "an EntryFailed of an entry not sent";
                    return null;
                case ControlMessageType.StillWorking:
                    if (body.Length != 0) return "a StillWorking with a body";
                    if (!Deletes && !Delta) return "a StillWorking in a session that reads nothing whole and deletes nothing";
                    return null;
                case ControlMessageType.WouldDelete:
                    if (!Deletes || !(options.DryRun || options.ItemizeChanges > 0)) return "a WouldDelete outside a dry run or itemized send with a deletion";
                    try
                    {
                        var paths = new List<string>();
                        long bytes = 0;
                        WouldDeleteMessage.Decode(body, new ProtocolLimits().MaxPathBytes, paths, ref bytes);
                    }
                    catch (ProtocolViolationException ex) { return $"a malformed WouldDelete ({ex.Message})"; }
                    return null;
                case ControlMessageType.Itemized:
                    if (options.ItemizeChanges == 0) return "Itemized in a send that did not ask for it";
                    return Batch(6);
                case ControlMessageType.BasisSums:
                {
                    if (!Delta) return "BasisSums without delta";
                    if (body.Length < 12) return "BasisSums under 12 bytes";
                    int size = BinaryPrimitives.ReadInt32LittleEndian(body.AsSpan(4)), count = BinaryPrimitives.ReadInt32LittleEndian(body.AsSpan(8));
                    if (!IsFile(BinaryPrimitives.ReadUInt32LittleEndian(body))) return "BasisSums of no file";
                    if (size < 2048 || size > ShardSize || count < 1 || count > 65_536 || body.Length != 12 + 12L * count) return "BasisSums out of bounds";
                    return null;
                }
                default:
                    return null;
            }
        }
    }
}
