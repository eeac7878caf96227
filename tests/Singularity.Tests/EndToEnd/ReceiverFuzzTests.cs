using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using CsCheck;
using Singularity.Engine;
using Singularity.Engine.Integrity;
using Singularity.Engine.Protocol;
using Singularity.Engine.Security;
using Singularity.Tests.Support;
using Xunit.Abstractions;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// A hostile or broken sender, at random: a real receiver on loopback is sent a valid session's opening, then control
/// messages of every type (random, cut short, lengthened, or valid with one field changed) and shard frames with
/// changed headers. Whatever it is sent, the receiver ends (or goes on with) that session with a clear error, never an
/// internal one, never hangs, writes nothing outside its directory, and still receives a real send afterwards.
/// </summary>
public sealed class ReceiverFuzzTests(ITestOutputHelper output)
{
    private static readonly TransferOptions Plain = new() { Cipher = CipherSuite.None, IdleTimeout = TimeSpan.FromSeconds(30) };
    private const int ShardSize = 4096;

    /// <summary>How long one case may take to end once the peer has closed its side: longer is a hang.</summary>
    private static readonly TimeSpan CaseDeadline = TimeSpan.FromSeconds(15);

    // ───────────────────────────── the fuzz test ─────────────────────────────

    [Fact]
    public async Task Random_hostile_control_messages_and_frames_end_only_their_session_with_a_clear_error()
    {
        int cases = int.TryParse(Environment.GetEnvironmentVariable("SGLTY_FUZZ_CASES"), out int n) ? n : 100;
        int baseSeed = int.TryParse(Environment.GetEnvironmentVariable("SGLTY_FUZZ_SEED"), out int s) ? s : 20240601;
        await using var bench = await Bench.StartAsync();
        var failures = new List<string>();
        var codes = new Dictionary<string, int>();
        var reasons = new Dictionary<string, int>();
        // SGLTY_FUZZ_PARALLEL: cases run that many at a time against the one receiver (and the one tree).
        int parallel = int.TryParse(Environment.GetEnvironmentVariable("SGLTY_FUZZ_PARALLEL"), out int p) ? Math.Max(1, p) : 1;
        for (int i = 0; i < cases && failures.Count < 10; i += parallel)
        {
            var batch = Enumerable.Range(baseSeed + i, Math.Min(parallel, cases - i)).Select(seed => new Case(seed)).ToList();
            var runs = batch.Select(async c =>
            {
                try { return await RunCaseAsync(bench, c).WaitAsync(TimeSpan.FromSeconds(60)); }
                catch (TimeoutException) { return "the case hung for 60 s"; }
                catch (Exception ex) { return $"the test peer failed: {ex}"; }
            }).ToList();
            string?[] verdicts = await Task.WhenAll(runs);
            string? escaped = bench.EscapeCheck();
            for (int k = 0; k < batch.Count; k++)
            {
                var c = batch[k];
                string? failure = verdicts[k] ?? escaped;
                string outcome = c.Outcome ?? "none";
                codes[outcome] = codes.GetValueOrDefault(outcome) + 1;
                string reason = c.Reason is null ? "-" : System.Text.RegularExpressions.Regex.Replace(c.Reason, "[0-9]+", "N");
                reason = reason.Length > 100 ? reason[..100] : reason;
                reasons[reason] = reasons.GetValueOrDefault(reason) + 1;
                if (Environment.GetEnvironmentVariable("SGLTY_FUZZ_SHOW") is { Length: > 0 } show && c.Reason?.Contains(show, StringComparison.Ordinal) == true)
                    output.WriteLine($"seed {c.Seed}: {c.Reason}\n  " + string.Join("\n  ", c.Log));
                if (failure is not null) failures.Add($"seed {c.Seed}: {failure}\n  " + string.Join("\n  ", c.Log));
            }
        }
        // The receiver still serves a real sender, byte for byte.
        if (failures.Count == 0) failures.AddRange(await bench.RealSendAsync());
        output.WriteLine("outcomes: " + string.Join(", ", codes.Select(kv => $"{kv.Key}={kv.Value}")));
        foreach (var (reason, count) in reasons.OrderByDescending(kv => kv.Value)) output.WriteLine($"{count,5} {reason}");
        Assert.True(failures.Count == 0, string.Join("\n\n", failures) + "\n\noutcomes: " + string.Join(", ", codes.Select(kv => $"{kv.Key}={kv.Value}")));
        // Memory is back to what a few idle sessions hold.
        long held = GC.GetTotalMemory(forceFullCollection: true);
        Assert.True(held < 512L << 20, $"{held >> 20} MiB still held after the cases");
    }

    /// <summary>The fuzz test's own check: an internal error at the receiver fails it (a test that cannot fail finds nothing).</summary>
    [Fact]
    public void The_fuzz_checks_take_an_internal_error_for_a_failure()
    {
        var internalError = new SingularityException(ErrorCode.Internal, "unexpected error while receiving: boom");
        Assert.NotNull(Judge(internalError));
        Assert.NotNull(Judge(new SingularityException(ErrorCode.IoError, "an unexpected thing")));
        Assert.Null(Judge(new ProtocolViolationException("manifest chunk outside the manifest phase")));
        Assert.Null(Judge(null));
    }

    /// <summary>
    /// The decoders of what S sends, on their own (many more bodies than a receiver on loopback can take in the time):
    /// each takes a body or refuses it with a SingularityException, never another exception, which the receiver would
    /// report as an internal error.
    /// </summary>
    [Fact]
    public void Control_body_decoders_refuse_any_body_only_with_a_protocol_error()
    {
        var limits = new ProtocolLimits();
        string[] texts = ["*.tmp", "[a-z]", "[[:alpha:]]", "[!x]", "a\\*", "**/x", "d/***", "[]]", "[\\]]", "[a-\\]", "[[:", "[:]", "+ x", "- /x/", "!", "x/", "[^-]", "*?*", "\\", "a/../b", "x.sglty-part", "é"];
        var textBodies = Gen.Select(Gen.Int[0, texts.Length - 1], Gen.String[Gen.Char["[]\\-!^:*?/ a.\0"], 0, 6], Gen.Byte[0, 3],
            (i, noise, count) => { byte[] t = Encoding.UTF8.GetBytes(texts[i] + noise); return (byte[])[count, 0, (byte)t.Length, (byte)(t.Length >> 8), .. t]; });
        Gen.OneOf(Gen.Byte.Array[0, 64], textBodies).Sample(body =>
        {
            foreach (var decode in (Action[])
            [
                () => { var patterns = ExcludeMessage.Decode(body); patterns.Excludes("a/b/[x]", true); patterns.Excludes(Encoding.UTF8.GetString(body), false); },
                () => BackupMessage.Decode(body, limits),
                () => LinkDestMessage.Decode(body, limits),
                () => DestinationMessage.Decode(body, limits),
                () => OwnerNamesMessage.Decode(body),
                () => { long bytes = 0; PathListMessage.Decode(body, ControlMessageType.DeleteNamed, limits.MaxPathBytes, 100, 1 << 20, [], ref bytes); },
                () => ErrorMessage.Decode(body),
                () => ManifestCodec.TryRead(body, limits, out _, out _, out _),
                () => ShardPatch.TryCheck(body, 4096, 2048, 8192, out _, out _, out _),
                () => ShardHeader.TryRead(body, out _, out _),
                () => Singularity.Engine.Storage.PathGuard.SyntaxError(Encoding.UTF8.GetString(body), limits),
            ])
            {
                try { decode(); }
                catch (SingularityException) { }
            }
        }, iter: 20_000);
    }

    /// <summary>What is wrong with how a session ended, or null.</summary>
    private static string? Judge(SingularityException? error) =>
        // An Error the sender sent is its own word (its code and reason), passed on as it came.
        error is null || error.Message.StartsWith("the sender ended the session: ", StringComparison.Ordinal) ? null
        : error.Code == ErrorCode.Internal || error.Message.Contains("unexpected", StringComparison.OrdinalIgnoreCase) || error.Message.Contains("Exception", StringComparison.Ordinal)
            ? $"the session ended with {error.Code}: {error.Message}\n  at {error.InnerException?.GetType().Name}: {TopOf(error.InnerException ?? error)}"
            : null;

    private static string TopOf(Exception ex) => string.Join(" | ", (ex.StackTrace ?? "").Split('\n').Take(4).Select(l => l.Trim()));

    // ───────────────────────────── one case ─────────────────────────────

    private sealed class Case(int seed)
    {
        public int Seed { get; } = seed;
        public Random R { get; } = new(seed);
        public List<string> Log { get; } = [];
        public string? Outcome { get; set; }
        public string? Reason { get; set; }
        public ConcurrentQueue<(ControlMessageType Type, byte[] Body)> Received { get; } = new();
        public volatile bool Ended;
        public bool Broken;
        public RawPeer Control = null!;
        public RawPeer? Lane;
        public SessionId Session;
        public ushort Flags;
        public int Hostility = 10;
        public List<RawEntry> Entries = [];
        public byte[]?[] Contents = [];

        public bool Saw(ControlMessageType type) => Received.Any(m => m.Type == type);
        public int Accepted => Received.Where(m => m.Type == ControlMessageType.ManifestAccepted).Select(m => BinaryPrimitives.ReadInt32LittleEndian(m.Body)).DefaultIfEmpty(-1).Max();
        public IEnumerable<uint> Batch(ControlMessageType type) =>
            Received.Where(m => m.Type == type).SelectMany(m => Enumerable.Range(0, BinaryPrimitives.ReadInt32LittleEndian(m.Body)).Select(i => BinaryPrimitives.ReadUInt32LittleEndian(m.Body.AsSpan(4 + 4 * i))));
    }

    private static async Task<string?> RunCaseAsync(Bench bench, Case c)
    {
        var r = c.R;
        c.Contents = [null, Bytes(r, 100), null, Bytes(r, 5000), [], null, Bytes(r, 4096)];
        c.Entries = BaseManifest();
        await using var control = await RawPeer.ConnectAsync(bench.Receiver.Url);
        c.Control = control;
        uint capabilities = r.Next(2) == 0 ? WireFormat.CapabilityPatches | WireFormat.CapabilitySumsAlone : 0;
        var reply = await control.HelloAsync(ConnectionRole.Control, bench.Receiver.Token, capabilities: capabilities);
        if (reply.Status != ErrorCode.None) return $"the handshake was refused: {reply.Status}";
        c.Session = reply.Session;
        using var stop = new CancellationTokenSource();
        var drain = DrainAsync(c, stop.Token);
        try
        {
            if (c.R.Next(2) == 0) await ScriptAsync(c, bench);
            else await DeepScriptAsync(c, bench);
        }
        finally
        {
            // The peer closes its side; the receiver must then end the session, whatever state it is in.
            Shut(c.Lane);
            Shut(control);
            stop.CancelAfter(CaseDeadline);
            try { await drain; } catch (OperationCanceledException) { }
            if (c.Lane is not null) await c.Lane.DisposeAsync();
        }
        if (!c.Ended) return $"the receiver kept the control connection open {CaseDeadline.TotalSeconds} s after the peer closed its side (a hang)";
        ReceiveResult result;
        try { result = await bench.ResultOfAsync(c.Session).WaitAsync(CaseDeadline); }
        catch (TimeoutException) { return "no session result within the deadline (a hang)"; }
        c.Log.Add("< " + string.Join(" ", c.Received.Select(m => $"{m.Type}[{Hex(m.Body)}]")));
        c.Outcome = result.Error is null ? "ok" : result.Error.Code.ToString();
        c.Reason = result.Error?.Message;
        c.Log.Add($"=> {c.Outcome}: {result.Error?.Message}");
        if (Judge(result.Error) is { } wrong) return wrong;
        foreach (var (type, body) in c.Received)
        {
            if (type != ControlMessageType.Error) continue;
            var (code, reason) = ErrorMessage.Decode(body);
            // The receiver may answer an Error with the sender's own code and reason, which are the sender's word.
            if (reason.StartsWith("the sender ended the session: ", StringComparison.Ordinal)) continue;
            if (code == ErrorCode.Internal || reason.Contains("unexpected", StringComparison.OrdinalIgnoreCase)) return $"the peer was sent Error {code}: {reason}";
        }
        return null;
    }

    /// <summary>Reads what the receiver sends until it closes; sets <see cref="Case.Ended"/> then.</summary>
    private static async Task DrainAsync(Case c, CancellationToken cancellationToken)
    {
        var stream = c.Control.Stream;
        byte[] header = new byte[ControlHeader.Size];
        try
        {
            while (true)
            {
                await stream.ReadExactlyAsync(header, cancellationToken);
                if (!ControlHeader.TryRead(header, 1 << 21, out var type, out int length, out _)) break;
                byte[] body = new byte[length];
                await stream.ReadExactlyAsync(body, cancellationToken);
                c.Received.Enqueue((type, body));
            }
        }
        catch (Exception ex) when (ex is EndOfStreamException or IOException or SocketException or ObjectDisposedException) { }
        c.Ended = true;
    }

    private static void Shut(RawPeer? peer)
    {
        try { peer?.Stream.Socket.Shutdown(SocketShutdown.Send); }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or IOException) { }
    }

    /// <summary>The case's messages: an opening (some of it hostile), then hostile messages and frames, or a whole session with a few among them.</summary>
    private static async Task ScriptAsync(Case c, Bench bench)
    {
        var r = c.R;
        c.Hostility = r.Next(4) switch { 0 => 1, 1 => 3, 2 => 6, _ => 10 };
        // Before OpenSession: a Destination (valid or not), and now and then something that may not come there.
        (ushort flags, uint? more, int most) = PickFlags(r);
        bool destination = r.Next(4) == 0 || more == MoreSessionFlags.NamesOneFile;
        if (more == MoreSessionFlags.NamesOneFile && r.Next(4) != 0) c.Entries = [FileEntry("one", 100)];
        if (destination) await SendAsync(c, ControlMessageType.Destination, Hostile(c) ? Mutate(r, Text(PickPath(c, "fz"))) : Text(Encoding.UTF8.GetBytes(Pick(r, "fz/0", "fz/1/2", "fz/one", "d", "e", "l", "d/a"))));
        if (r.Next(30) == 0) await SendHostileAsync(c);

        // OpenSession: valid flags (a few combinations) or a mutated body.
        c.Flags = flags;
        bool mutateManifest = r.Next(5) == 0;
        if (mutateManifest) MutateManifest(c);
        var entries = c.Entries;
        c.Contents = [.. entries.Select(e => e.Kind == 1 && e.Size is >= 0 and <= 1 << 20 ? Bytes(r, (int)e.Size) : null)];
        long total = entries.Where(e => e.Kind == 1 && e.Size > 0).Aggregate(0L, (sum, e) => sum > long.MaxValue - e.Size ? long.MaxValue : sum + e.Size);
        int declared = entries.Count;
        if (r.Next(12) == 0) total = Interesting64(r);
        if (r.Next(12) == 0) declared = Interesting32(r);
        byte[] open = RawPeer.OpenSession(ShardSize, r.Next(1, 4), declared, total, flags, most, more);
        await SendAsync(c, ControlMessageType.OpenSession, r.Next(10) == 0 ? Mutate(r, open) : open);

        // Between OpenSession and the manifest: the messages that belong there (mostly those the flags allow), valid or not.
        for (int i = r.Next(4); i > 0; i--) await SendAsync(c, PickBeforeManifest(c), null);

        byte[] chunk = Chunk(0, entries);
        if (r.Next(12) == 0) chunk = Mutate(r, chunk);
        int chunks = 1;
        if (r.Next(5) == 0 && entries.Count > 2)
        {
            // Two chunks, the second maybe starting at the wrong id, with other messages between them now and then.
            int split = r.Next(1, entries.Count);
            await SendAsync(c, ControlMessageType.ManifestChunk, Chunk(0, entries[..split]));
            if (r.Next(3) == 0) await SendHostileAsync(c);
            await SendAsync(c, ControlMessageType.ManifestChunk, Chunk(r.Next(10) == 0 ? Interesting32(r) : split, entries[split..]));
            chunks = 2;
        }
        else await SendAsync(c, ControlMessageType.ManifestChunk, chunk);
        c.Log.Add($"({chunks} chunk(s), hostility {c.Hostility})");

        // Wait for the acceptance of what was sent (or the end), so that frames find their files.
        await WaitAsync(() => c.Ended || c.Saw(ControlMessageType.Error) || c.Accepted >= entries.Count, TimeSpan.FromSeconds(mutateManifest ? 1 : 5));
        bool accepted = c.Accepted >= entries.Count && !c.Saw(ControlMessageType.Error);
        if (accepted && r.Next(10) < 8) await JoinLaneAsync(c, bench);

        switch (accepted ? r.Next(3) : 2)
        {
            case 0:
                await CompleteSessionAsync(c);
                break;
            case 1:
                // Every file left out (could not read, vanished, changed), a few hostile things among them, then Finish.
                foreach (uint id in Enumerable.Range(0, c.Contents.Length).Where(i => c.Contents[i] is not null).Select(i => (uint)i).OrderBy(_ => r.Next()))
                {
                    if (Hostile(c)) await SendHostileAsync(c);
                    var type = new[] { ControlMessageType.FilesDropped, ControlMessageType.FilesVanished, ControlMessageType.FilesWithdrawn }[r.Next(3)];
                    await SendAsync(c, type, Items(4, U32(id)));
                }
                await SendAsync(c, ControlMessageType.Finish, []);
                await WaitAsync(() => c.Ended || c.Saw(ControlMessageType.Error) || c.Saw(ControlMessageType.SessionDone), TimeSpan.FromSeconds(5));
                break;
            default:
                for (int i = r.Next(1, 12); i > 0 && !c.Broken; i--)
                {
                    if (c.Lane is not null && r.Next(3) == 0) await SendFrameAsync(c, hostile: Hostile(c));
                    else if (Hostile(c)) await SendHostileAsync(c);
                    else await SendAsync(c, Pick(r, ControlMessageType.FilesSealed, ControlMessageType.ShardsKept, ControlMessageType.FilesDropped, ControlMessageType.FilesVanished, ControlMessageType.FilesWithdrawn), ValidBody(c, Pick(r, ControlMessageType.FilesSealed, ControlMessageType.ShardsKept, ControlMessageType.FilesDropped)));
                }
                if (r.Next(2) == 0) await SendAsync(c, ControlMessageType.Finish, []);
                break;
        }
        // A moment for the lane's frames to be read before the close.
        if (c.Lane is not null) await Task.Delay(5);
    }

    /// <summary>Whether this step is hostile: one in ten, up to all of them, as the case's hostility says.</summary>
    private static bool Hostile(Case c) => c.R.Next(10) < c.Hostility;

    private static T Pick<T>(Random r, params T[] choices) => choices[r.Next(choices.Length)];

    // ───────────────────────────── deep: a valid session of many features ─────────────────────────────

    /// <summary>
    /// A session a sender could send, of features and values drawn at random (flags, a small tree with names that
    /// collide with earlier cases', odd modes and times, owners, attributes, specials, hard links, holes, packed and kept
    /// shards, files left out), run to Finish, with a hostile message or frame among it now and then.
    /// </summary>
    private static async Task DeepScriptAsync(Case c, Bench bench)
    {
        var r = c.R;
        c.Hostility = r.Next(3) == 0 ? 1 : 0;
        ushort flags = 0;
        uint more = 0;
        bool Chance(double p) => r.NextDouble() < p;
        if (Chance(0.35)) flags |= OpenSessionFlags.SkipUnchanged;
        if (Chance(0.35)) flags |= OpenSessionFlags.DeleteExtraneous;
        if ((flags & OpenSessionFlags.DeleteExtraneous) != 0 && Chance(0.5)) flags |= OpenSessionFlags.RootIsSent;
        if (Chance(0.1)) flags |= OpenSessionFlags.DryRun;
        if (Chance(0.2)) flags |= OpenSessionFlags.Sparse;
        if (Chance(0.2)) flags |= OpenSessionFlags.Compressed;
        if (Chance(0.25)) flags |= OpenSessionFlags.Delta;
        if (Chance(0.25)) flags |= OpenSessionFlags.HardLinks;
        if ((flags & OpenSessionFlags.SkipUnchanged) != 0 && (flags & OpenSessionFlags.HardLinks) == 0 && Chance(0.4))
            flags |= Pick(r, OpenSessionFlags.SizeOnly, OpenSessionFlags.Update, OpenSessionFlags.IgnoreExisting, OpenSessionFlags.ExistingOnly);
        if ((flags & OpenSessionFlags.SkipUnchanged) != 0 && (flags & OpenSessionFlags.SizeOnly) == 0 && Chance(0.25)) flags |= OpenSessionFlags.Checksum;
        if ((flags & OpenSessionFlags.DeleteExtraneous) != 0 && Chance(0.2)) flags |= OpenSessionFlags.MostDeletions;
        if ((flags & OpenSessionFlags.DeleteExtraneous) != 0 && Chance(0.2)) flags |= OpenSessionFlags.OneFileSystem;
        int window = 0;
        if (Chance(0.1)) { more |= MoreSessionFlags.ModifyWindow; window = r.Next(0, 3); }
        if (Chance(0.15)) more |= MoreSessionFlags.OmitDirectoryTimes;
        if (Chance(0.15)) more |= MoreSessionFlags.OmitLinkTimes;
        if ((flags & OpenSessionFlags.DeleteExtraneous) != 0 && Chance(0.3)) more |= MoreSessionFlags.IgnoreErrors;
        if (Chance(0.3)) more |= MoreSessionFlags.Itemize;
        if (Chance(0.1)) more |= MoreSessionFlags.OwnerParts;
        if ((flags & OpenSessionFlags.Sparse) == 0 && Chance(0.1)) more |= MoreSessionFlags.InPlace;
        if (Chance(0.35)) more |= MoreSessionFlags.Xattrs;
        if (Chance(0.3)) more |= MoreSessionFlags.Specials;
        if (Chance(0.15)) more |= MoreSessionFlags.Acls;
        if (Chance(0.2)) more |= MoreSessionFlags.Force;
        bool linkDest = (flags & OpenSessionFlags.SkipUnchanged) != 0 && (flags & OpenSessionFlags.Checksum) == 0 && Chance(0.5);
        if (linkDest && Chance(0.4)) more |= Pick(r, MoreSessionFlags.CompareDest, MoreSessionFlags.CopyDest);
        c.Flags = flags;

        // The tree: names that collide with what earlier cases left, at most three deep.
        string[] names = ["a", "b", "c", "x~", "d", "e"];
        var entries = new List<RawEntry>();
        var paths = new HashSet<string>();
        var linked = new List<string>();
        long time = 1_600_000_000_000_000_000;
        for (int count = r.Next(1, 12); entries.Count < count;)
        {
            string path = string.Join('/', Enumerable.Range(0, r.Next(1, 4)).Select(_ => names[r.Next(names.Length)]));
            if (!paths.Add(path)) continue;
            long mtime = Chance(0.8) ? time : Pick(r, long.MinValue, long.MaxValue, -1L, 0L, 1L << 62, time + 1_000_000_000, -62_135_596_800_000_000_00);
            uint mode = Chance(0.7) ? 0x1A4u : (uint)r.Next(0, 0x1000);
            int kind = r.Next(10) switch { < 4 => 1, < 7 => 2, < 8 => 3, _ => (more & MoreSessionFlags.Specials) != 0 ? 5 : 1 };
            byte entryFlags = 0;
            byte[] extra = [];
            if (Chance(0.15))
            {
                entryFlags |= ManifestCodec.FlagOwner;
                extra = [.. U32(Pick(r, 0u, 1000u, 65534u, uint.MaxValue)), .. U32(Pick(r, 0u, 1000u, uint.MaxValue))];
            }
            long size = 0;
            byte[] target = [];
            switch (kind)
            {
                case 1:
                    size = Pick(r, 0L, 1, 100, 4095, 4096, 4097, 9000, 12288);
                    if ((flags & OpenSessionFlags.Checksum) != 0 && Chance(0.7)) { entryFlags |= ManifestCodec.FlagDigest; extra = [.. extra, .. Bytes(r, 16)]; }
                    if ((flags & OpenSessionFlags.HardLinks) != 0 && Chance(0.4)) { entryFlags |= ManifestCodec.FlagLinked; linked.Add(path); }
                    if (Chance(0.05) && (flags & OpenSessionFlags.DeleteExtraneous) != 0) entryFlags |= ManifestCodec.FlagSentBefore;
                    break;
                case 2:
                    mode = Chance(0.7) ? 0x1EDu : (uint)r.Next(0, 0x1000);
                    if ((flags & OpenSessionFlags.DeleteExtraneous) != 0 && Chance(0.2)) entryFlags |= ManifestCodec.FlagImplied;
                    break;
                case 3:
                    mode = 0x1FF;
                    target = Encoding.UTF8.GetBytes(Pick(r, "a", "../a", "/tmp", "b/c", "x~", new string('t', 300), "\u00e9"));
                    break;
                case 5:
                    mode = Pick(r, 0x1000u, 0xC000u, 0x2000u, 0x6000u) | 0x1A4;
                    if ((mode & 0xF000) is 0x2000 or 0x6000) { entryFlags |= ManifestCodec.FlagDevice; extra = [.. extra, .. U32((uint)r.Next(0, 300)), .. U32((uint)r.Next(0, 300))]; }
                    break;
            }
            if ((more & (MoreSessionFlags.Xattrs | MoreSessionFlags.Acls)) != 0 && Chance(0.5))
            {
                var attributes = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
                for (int i = r.Next(0, 4); i > 0; i--)
                {
                    string name = (more & MoreSessionFlags.Acls) != 0 && Chance(0.3) ? Pick(r, "system.posix_acl_access", "system.posix_acl_default")
                        : (more & MoreSessionFlags.Xattrs) != 0 ? Pick(r, "user.a", "user.b", "user.zz", "trusted.t", "security.capability", "security.selinux", "user." + new string('n', 200)) : "system.posix_acl_access";
                    attributes[name] = name.StartsWith("system.", StringComparison.Ordinal) && Chance(0.5) ? AclValue(r) : Bytes(r, r.Next(0, Chance(0.1) ? 4000 : 40));
                }
                byte[] blob = [.. U16(attributes.Count), .. attributes.SelectMany(a => (byte[])[(byte)Encoding.UTF8.GetByteCount(a.Key), .. U32((uint)a.Value.Length), .. Encoding.UTF8.GetBytes(a.Key), .. a.Value])];
                entryFlags |= ManifestCodec.FlagXattrs;
                extra = [.. extra, .. blob];
            }
            entries.Add(new RawEntry((byte)kind, entryFlags, Encoding.UTF8.GetBytes(path), mode, mtime, size, target, extra));
        }
        // Hard links (to files marked linked), sent last, once their files are settled.
        var links = new List<RawEntry>();
        foreach (string file in linked)
            if (Chance(0.7))
            {
                string path = $"{file.Replace('/', '_')}.h{r.Next(3)}";
                if (paths.Add(path)) links.Add(new RawEntry(4, 0, Encoding.UTF8.GetBytes(path), 0, 0, 0, Encoding.UTF8.GetBytes(file), []));
            }
        c.Entries = [.. entries, .. links];
        // Contents: random, or zeros in runs (holes), so that sparse and packed shards have something to do.
        c.Contents = [.. c.Entries.Select(e => e.Kind != 1 ? null : Chance(0.3) ? new byte[e.Size] : Bytes(r, (int)e.Size))];
        for (int id = 0; id < entries.Count; id++)
            if (c.Contents[id] is { Length: > 0 } content && (entries[id].Flags & ManifestCodec.FlagDigest) != 0 && Chance(0.7))
                c.Entries[id] = entries[id] with { Extra = [.. entries[id].Extra[..^16], .. U128(ContentDigest(content))] };
        entries = c.Entries[..entries.Count];
        long total = c.Entries.Sum(e => e.Size);

        // The opening, and what goes before the manifest.
        if (Chance(0.2)) await SendAsync(c, ControlMessageType.Destination, Text(Encoding.UTF8.GetBytes(Pick(r, "deep", "deep/x", "a", "a/b"))));
        await SendAsync(c, ControlMessageType.OpenSession, RawPeer.OpenSession(ShardSize, r.Next(1, 4), c.Entries.Count, total, flags, (flags & OpenSessionFlags.MostDeletions) != 0 ? r.Next(0, 3) : 0, more == 0 && Chance(0.5) ? null : more, window));
        var before = new List<(ControlMessageType, byte[])>();
        if ((flags & OpenSessionFlags.DeleteExtraneous) != 0 && Chance(0.3))
            before.Add((ControlMessageType.Exclude, [.. U16(1), .. Text(Encoding.UTF8.GetBytes(Pick(r, "x~", "/a", "- b/", "+ c", "*.tmp")))]));
        if ((more & MoreSessionFlags.InPlace) == 0 && Chance(0.2))
            before.Add((ControlMessageType.Backup, Chance(0.5) ? [1, (byte)'~', .. U16(0)] : [0, .. Text("bak"u8.ToArray())]));
        if (linkDest)
        {
            // Earlier copies: a directory of the tree, or whatever stands at one of its names (a file, a link, a FIFO).
            var directories = Enumerable.Range(0, r.Next(1, 3)).Select(_ => Chance(0.3) ? Pick(r, "prev", "deep", "..", "../dst", "x~/..") : string.Join('/', Enumerable.Range(0, r.Next(1, 3)).Select(_ => names[r.Next(names.Length)]))).Distinct().ToList();
            before.Add((ControlMessageType.LinkDest, [(byte)directories.Count, .. directories.SelectMany(d => Text(Encoding.UTF8.GetBytes(d)))]));
        }
        if (Chance(0.2)) before.Add((ControlMessageType.DeleteNamed, [.. U32(1), .. Text(Encoding.UTF8.GetBytes(Pick(r, "gone", "a/x", "e", "c/c") + (paths.Contains("e") ? "" : "")))]));
        if ((flags & OpenSessionFlags.DeleteExtraneous) != 0 && Chance(0.2)) before.Add((ControlMessageType.LeftOut, [.. U32(1), .. Text("left"u8.ToArray())]));
        if (Chance(0.1)) before.Add((ControlMessageType.OwnerNames, [.. U16(1), 0, .. U32(1000), 4, .. "root"u8.ToArray()]));
        foreach (var (type, body) in before.OrderBy(_ => r.Next()))
        {
            await SendAsync(c, type, body);
            if (Hostile(c)) await SendHostileAsync(c);
        }
        c.Log.Add($"deep: flags {flags:x} more {more:x}; {string.Join("; ", c.Entries.Select(e => $"k{e.Kind} f{e.Flags:x} '{Show(e.Path)}' m{e.Mode:x} t{e.Mtime} s{e.Size} ->'{Show(e.Target)}' x[{e.Extra.Length}]"))}");

        // The manifest but its hard links, in one or two chunks.
        int split = entries.Count > 1 && Chance(0.3) ? r.Next(1, entries.Count) : entries.Count;
        await SendAsync(c, ControlMessageType.ManifestChunk, Chunk(0, entries[..split]));
        if (split < entries.Count) await SendAsync(c, ControlMessageType.ManifestChunk, Chunk(split, entries[split..]));
        await WaitAsync(() => c.Ended || c.Saw(ControlMessageType.Error) || c.Accepted >= entries.Count, TimeSpan.FromSeconds(10));
        if (c.Accepted < entries.Count || c.Saw(ControlMessageType.Error)) return;
        bool dryRun = (flags & OpenSessionFlags.DryRun) != 0;
        if (!dryRun) await JoinLaneAsync(c, bench);

        // Each file: left out, or its shards (whole, holes, packed, kept where offered) and its seal.
        var settled = new HashSet<uint>(c.Batch(ControlMessageType.FilesPresent).Concat(c.Batch(ControlMessageType.FilesKept)));
        foreach (var (type, body) in c.Received)
            if (type == ControlMessageType.EntryFailed) settled.Add(BinaryPrimitives.ReadUInt32LittleEndian(body));
        var offered = c.Received.Where(m => m.Type is ControlMessageType.ResumeOffer or ControlMessageType.BasisOffer)
            .SelectMany(m => Enumerable.Range(0, BinaryPrimitives.ReadInt32LittleEndian(m.Body)).Select(i => m.Body.AsSpan(4 + 16 * i, 16).ToArray()))
            .ToLookup(item => BinaryPrimitives.ReadUInt32LittleEndian(item), item => (Index: BinaryPrimitives.ReadInt32LittleEndian(item.AsSpan(4)), Digest: BinaryPrimitives.ReadUInt64LittleEndian(item.AsSpan(8))));
        using var packer = new Singularity.Engine.Compression.ShardPacker(ShardSize);
        byte[] packed = new byte[packer.Bound];
        for (uint id = 0; id < entries.Count && !c.Broken; id++)
        {
            if (c.Contents[id] is not { } content || settled.Contains(id)) continue;
            if (dryRun)
            {
                if (Chance(0.1)) await SendAsync(c, Pick(r, ControlMessageType.FilesDropped, ControlMessageType.FilesVanished), Items(4, U32(id)));
                continue;
            }
            if (Chance(0.1))
            {
                await SendAsync(c, Pick(r, ControlMessageType.FilesDropped, ControlMessageType.FilesVanished, ControlMessageType.FilesWithdrawn), Items(4, U32(id)));
                settled.Add(id);
                continue;
            }
            var digests = new List<ulong>();
            bool withdraw = Chance(0.05);
            for (int index = 0; index * ShardSize < content.Length; index++)
            {
                byte[] shard = content[(index * ShardSize)..Math.Min(content.Length, (index + 1) * ShardSize)];
                ulong digest = Digests.Shard(shard);
                digests.Add(digest);
                var offer = offered[id].FirstOrDefault(o => o.Index == index);
                if (offer.Digest == digest && offer != default && Chance(0.8))
                {
                    await SendAsync(c, ControlMessageType.ShardsKept, Items(8, [.. U32(id), .. U32((uint)index)]));
                    continue;
                }
                long offset = (long)index * ShardSize;
                if ((flags & OpenSessionFlags.Sparse) != 0 && shard.All(b => b == 0) && Chance(0.8))
                    await WriteFrameAsync(c, Frame(c.Session.Tag, id, (uint)index, offset, shard.Length, Digests.Zeros(shard.Length), ShardHeader.FlagHole), [], $"hole {id}/{index}");
                else if ((flags & OpenSessionFlags.Compressed) != 0 && await packer.TryPackAsync(shard, packed) is > 0 and var length && length < shard.Length)
                    await WriteFrameAsync(c, Frame(c.Session.Tag, id, (uint)index, offset, length, digest, ShardHeader.FlagCompressed), packed[..length], $"packed {id}/{index}");
                else
                    await WriteFrameAsync(c, Frame(c.Session.Tag, id, (uint)index, offset, shard.Length, digest, 0), shard, $"shard {id}/{index}");
                if (Hostile(c) && Chance(0.3)) await (c.Lane is not null && Chance(0.5) ? SendFrameAsync(c, hostile: true) : SendHostileAsync(c));
                if (withdraw && Chance(0.5)) break;
            }
            if (withdraw)
            {
                await SendAsync(c, ControlMessageType.FilesWithdrawn, Items(4, U32(id)));
                settled.Add(id);
            }
            else await SendAsync(c, ControlMessageType.FilesSealed, Items(12, Item(id, Digests.File(digests.ToArray()))));
        }
        // Finish once every file is settled; the hard links before it, once their files are.
        int files = c.Contents.Take(entries.Count).Count(content => content is not null);
        bool AllSettled() => c.Ended || c.Saw(ControlMessageType.Error) || dryRun
            || settled.Union(c.Batch(ControlMessageType.FilesCommitted)).Union(c.Received.Where(m => m.Type == ControlMessageType.EntryFailed).Select(m => BinaryPrimitives.ReadUInt32LittleEndian(m.Body))).Count(id => id < entries.Count && c.Contents[id] is not null) >= files;
        await WaitAsync(() => AllSettled() && (c.Lane is null || Quiet(c)), TimeSpan.FromSeconds(5));
        if (links.Count > 0)
        {
            await SendAsync(c, ControlMessageType.ManifestChunk, Chunk(entries.Count, links));
            await WaitAsync(() => c.Ended || c.Saw(ControlMessageType.Error) || c.Accepted >= c.Entries.Count, TimeSpan.FromSeconds(5));
        }
        Shut(c.Lane);
        if (Hostile(c)) await SendHostileAsync(c);
        await SendAsync(c, ControlMessageType.Finish, []);
        await WaitAsync(() => c.Ended || c.Saw(ControlMessageType.Error) || c.Saw(ControlMessageType.SessionDone), TimeSpan.FromSeconds(10));
        c.Log.Add(c.Saw(ControlMessageType.SessionDone) ? "(SessionDone)" : "(no SessionDone)");
    }

    /// <summary>Whether nothing was received for a few milliseconds (the acknowledgements of what the lane carried are in).</summary>
    private static bool Quiet(Case c)
    {
        int count = c.Received.Count;
        Thread.Sleep(20);
        return c.Received.Count == count;
    }

    /// <summary>A POSIX ACL as the kernel keeps it (version 2, then tag, permissions, id entries), or bytes that look like one.</summary>
    private static byte[] AclValue(Random r)
    {
        if (r.Next(3) == 0) return Bytes(r, r.Next(0, 30));
        // ACL_USER_OBJ rw-, ACL_GROUP_OBJ r--, ACL_OTHER r--, and now and then a named user with a mask.
        var items = new List<(ushort Tag, ushort Perm, uint Id)> { (0x01, 6, uint.MaxValue), (0x04, 4, uint.MaxValue) };
        if (r.Next(2) == 0) items.InsertRange(1, [(0x02, 7, 1000u)]);
        if (r.Next(2) == 0) items.Add((0x10, 7, uint.MaxValue));
        items.Add((0x20, 4, uint.MaxValue));
        return [.. U32(2), .. items.SelectMany(i => (byte[])[.. U16(i.Tag), .. U16(i.Perm), .. U32(i.Id)])];
    }

    /// <summary>The digest --checksum compares: XXH3-128 of each MiB block's XXH3-64 (one block here).</summary>
    private static UInt128 ContentDigest(byte[] content) =>
        System.IO.Hashing.XxHash128.HashToUInt128(content.Length == 0 ? [] : U64(System.IO.Hashing.XxHash3.HashToUInt64(content)));

    private static byte[] U128(UInt128 value)
    {
        byte[] bytes = new byte[16];
        BinaryPrimitives.WriteUInt128LittleEndian(bytes, value);
        return bytes;
    }

    /// <summary>Every file's shards and seal, valid, with a hostile message or frame among them now and then; then Finish.</summary>
    private static async Task CompleteSessionAsync(Case c)
    {
        var r = c.R;
        var settled = new HashSet<uint>(c.Batch(ControlMessageType.FilesPresent).Concat(c.Batch(ControlMessageType.FilesKept)));
        foreach (var (type, body) in c.Received)
            if (type == ControlMessageType.EntryFailed) settled.Add(BinaryPrimitives.ReadUInt32LittleEndian(body));
        bool dryRun = (c.Flags & OpenSessionFlags.DryRun) != 0;
        int hostile = r.Next(3);
        for (uint id = 0; id < c.Contents.Length && !c.Broken; id++)
        {
            if (c.Contents[id] is not { } content || settled.Contains(id) || dryRun) continue;
            if (content.Length > 0 && c.Lane is null) return;
            var digests = new List<ulong>();
            for (int index = 0; index * ShardSize < content.Length; index++)
            {
                byte[] payload = content[(index * ShardSize)..Math.Min(content.Length, (index + 1) * ShardSize)];
                digests.Add(Digests.Shard(payload));
                await WriteFrameAsync(c, Frame(c.Session.Tag, id, (uint)index, (long)index * ShardSize, payload.Length, Digests.Shard(payload), 0), payload, $"shard {id}/{index}");
            }
            await SendAsync(c, ControlMessageType.FilesSealed, Items(12, Item(id, Digests.File(digests.ToArray()))));
            if (hostile > 0 && r.Next(3) == 0)
            {
                hostile--;
                if (c.Lane is not null && r.Next(2) == 0) await SendFrameAsync(c, hostile: true);
                else await SendHostileAsync(c);
            }
        }
        int files = c.Contents.Count(content => content is not null);
        await WaitAsync(() => c.Ended || c.Saw(ControlMessageType.Error) || dryRun || settled.Count + c.Batch(ControlMessageType.FilesCommitted).Count() >= files, TimeSpan.FromSeconds(5));
        await SendAsync(c, ControlMessageType.Finish, []);
        await WaitAsync(() => c.Ended || c.Saw(ControlMessageType.Error) || c.Saw(ControlMessageType.SessionDone), TimeSpan.FromSeconds(5));
    }

    private static async Task JoinLaneAsync(Case c, Bench bench)
    {
        var lane = await RawPeer.ConnectAsync(bench.Receiver.Url);
        var answer = await lane.HelloAsync(ConnectionRole.Data, bench.Receiver.Token, c.Session, keys: c.Control.Keys, lane: (ushort)c.R.Next(3));
        c.Log.Add($"lane joined: {answer.Status}");
        if (answer.Status == ErrorCode.None) c.Lane = lane;
        else await lane.DisposeAsync();
    }

    // ───────────────────────────── what is sent ─────────────────────────────

    private static async Task SendAsync(Case c, ControlMessageType type, byte[]? body)
    {
        body ??= Hostile(c) && c.R.Next(2) == 0 ? Mutate(c.R, ValidBody(c, type)) : ValidBody(c, type);
        await WriteControlAsync(c, ControlMessages.Encode(type, body), $"{type} [{body.Length}] {Hex(body)}");
    }

    private static async Task WriteControlAsync(Case c, byte[] message, string what)
    {
        c.Log.Add("> " + what);
        if (c.Broken) return;
        try { await c.Control.Stream.WriteAsync(message); }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            c.Broken = true;
            c.Log.Add("  (the control connection is closed)");
        }
    }

    /// <summary>A message of any type S may send (valid, or with a change), one it may not, or a header out of rule.</summary>
    private static async Task SendHostileAsync(Case c)
    {
        var r = c.R;
        switch (r.Next(20))
        {
            case 0:
            {
                // A type R never takes from S, or no type at all.
                var type = (ControlMessageType)new byte[] { 3, 5, 6, 7, 9, 11, 13, 15, 16, 18, 19, 21, 27, 28 }[r.Next(14)];
                await SendAsync(c, type, Bytes(r, r.Next(0, 40)));
                break;
            }
            case 1:
            {
                // A header out of rule: unknown type, flags or reserved set, a length beyond the limit, a wrong check.
                byte[] body = Bytes(r, r.Next(0, 32));
                byte[] message = ControlMessages.Encode(ControlMessageType.FilesSealed, body);
                switch (r.Next(5))
                {
                    case 0: message[4] = (byte)new[] { 0, 31, 200, 255 }[r.Next(4)]; break;
                    case 1: message[5] = 1; break;
                    case 2: message[6] = 1; break;
                    case 3: BinaryPrimitives.WriteInt32LittleEndian(message, new[] { -1, int.MinValue, (1 << 20) + 1, int.MaxValue }[r.Next(4)]); message = message[..16]; break;
                    default: message[8] ^= 1; break;
                }
                await WriteControlAsync(c, message, $"raw header {Hex(message)}");
                break;
            }
            default:
            {
                ControlMessageType[] types =
                [
                    ControlMessageType.FilesSealed, ControlMessageType.FilesSealed, ControlMessageType.ShardsKept, ControlMessageType.ShardsKept,
                    ControlMessageType.FilesDropped, ControlMessageType.FilesVanished, ControlMessageType.FilesWithdrawn, ControlMessageType.Finish,
                    ControlMessageType.Error, ControlMessageType.OpenSession, ControlMessageType.ManifestChunk, ControlMessageType.Destination,
                    ControlMessageType.Exclude, ControlMessageType.Backup, ControlMessageType.LinkDest, ControlMessageType.DeleteNamed,
                    ControlMessageType.LeftOut, ControlMessageType.OwnerNames,
                ];
                await SendAsync(c, types[r.Next(types.Length)], null);
                break;
            }
        }
    }

    private static ControlMessageType PickBeforeManifest(Case c)
    {
        var r = c.R;
        var fitting = new List<ControlMessageType> { ControlMessageType.Backup, ControlMessageType.DeleteNamed, ControlMessageType.OwnerNames };
        if ((c.Flags & OpenSessionFlags.DeleteExtraneous) != 0) fitting.AddRange([ControlMessageType.Exclude, ControlMessageType.LeftOut, ControlMessageType.Exclude, ControlMessageType.LeftOut]);
        if ((c.Flags & OpenSessionFlags.SkipUnchanged) != 0 && (c.Flags & OpenSessionFlags.Checksum) == 0) fitting.AddRange([ControlMessageType.LinkDest, ControlMessageType.LinkDest]);
        if (Hostile(c) && r.Next(3) == 0) return Pick(r, ControlMessageType.Exclude, ControlMessageType.Backup, ControlMessageType.LinkDest, ControlMessageType.DeleteNamed, ControlMessageType.LeftOut, ControlMessageType.OwnerNames, ControlMessageType.Destination);
        return fitting[r.Next(fitting.Count)];
    }

    /// <summary>A valid (or nearly: paths are often hostile) body of a message S may send.</summary>
    private static byte[] ValidBody(Case c, ControlMessageType type)
    {
        var r = c.R;
        switch (type)
        {
            case ControlMessageType.Destination:
                return Text(PickPath(c, $"fz/{r.Next(4)}"));
            case ControlMessageType.Exclude:
            {
                string[] patterns = ["*.tmp", "- /d/x", "+ d/**", "d/sub/", "!", "[a-", "\\", "**/***", "a//b", "", "/", "+ ", "- ", "[[:alpha:]]", "***", "\\\\*", new string('*', 1000), new string('[', 300), "d/***", "é*", ": .rsync-filter", ":n- /.i", ":q x", ": a/b"];
                int count = r.Next(1, 4);
                return [.. U16(count), .. Enumerable.Range(0, count).SelectMany(_ => Text(Encoding.UTF8.GetBytes(patterns[r.Next(patterns.Length)])))];
            }
            case ControlMessageType.Backup:
            {
                string[] suffixes = ["~", "", ".bak", "/x", "a\0", ".sglty-part", "-part", new string('s', 256), "é"];
                byte[] suffix = Encoding.UTF8.GetBytes(suffixes[r.Next(suffixes.Length)]);
                byte[] directory = r.Next(2) == 0 ? [] : PickPath(c, "bak");
                return [(byte)suffix.Length, .. suffix, .. Text(directory)];
            }
            case ControlMessageType.LinkDest:
            {
                int count = r.Next(6) == 0 ? new[] { 0, 21, 255 }[r.Next(3)] : r.Next(1, 3);
                return [(byte)count, .. Enumerable.Range(0, Math.Min(count, 3)).SelectMany(_ => Text(r.Next(3) == 0 ? "../prev"u8.ToArray() : PickPath(c, "prev")))];
            }
            case ControlMessageType.DeleteNamed:
            case ControlMessageType.LeftOut:
            {
                int count = r.Next(1, 4);
                return [.. U32((uint)count), .. Enumerable.Range(0, count).SelectMany(i => Text(PickPath(c, (r.Next(2) == 0 ? "gone" : "d/gone") + (Hostile(c) && r.Next(2) == 0 ? "" : $"{r.Next(1000)}-{i}"))))];
            }
            case ControlMessageType.OwnerNames:
            {
                int count = r.Next(1, 3);
                string[] names = Hostile(c) ? ["root", "nobody", "user", "a\0b", "é", new string('u', 255)] : ["root", "nobody", "user", "é"];
                return [.. U16(count), .. Enumerable.Range(0, count).SelectMany(i =>
                {
                    byte[] name = Encoding.UTF8.GetBytes(names[r.Next(names.Length)]);
                    return (byte[])[(byte)(Hostile(c) ? r.Next(3) : r.Next(2)), .. U32(r.Next(3) == 0 ? (uint)r.Next() : (uint)(1000 + i)), (byte)name.Length, .. name];
                })];
            }
            case ControlMessageType.OpenSession:
                return RawPeer.OpenSession(ShardSize, 1, c.Entries.Count, 9196);
            case ControlMessageType.ManifestChunk:
                return Chunk(r.Next(2) == 0 ? 0 : c.Entries.Count, c.Entries);
            case ControlMessageType.FilesSealed:
            {
                uint id = PickId(r);
                ulong digest = r.Next(2) == 0 ? FileDigest(c, id) : (ulong)r.NextInt64();
                return Items(12, Item(id, digest));
            }
            case ControlMessageType.ShardsKept:
            {
                // An offered shard now and then, else any.
                var offers = c.Received.Where(m => m.Type is ControlMessageType.ResumeOffer or ControlMessageType.BasisOffer).ToList();
                if (offers.Count > 0 && r.Next(2) == 0)
                {
                    byte[] offer = offers[r.Next(offers.Count)].Body;
                    return Items(8, offer.AsSpan(4, 8).ToArray());
                }
                return Items(8, [.. U32(PickId(r)), .. U32(r.Next(4) == 0 ? (uint)Interesting32(r) : (uint)r.Next(3))]);
            }
            case ControlMessageType.FilesDropped:
            case ControlMessageType.FilesVanished:
            case ControlMessageType.FilesWithdrawn:
                return r.Next(4) == 0 ? Items(4, U32(PickId(r)), U32(PickId(r))) : Items(4, U32(PickId(r)));
            case ControlMessageType.Finish:
                return [];
            case ControlMessageType.Error:
            {
                byte[] reason = Encoding.UTF8.GetBytes(r.Next(2) == 0 ? "the sender gives up" : new string('x', 1024));
                return [.. U16(r.Next(0, 16)), .. U16(reason.Length), .. reason];
            }
            default:
                return Bytes(r, r.Next(0, 40));
        }
    }

    private static byte[] Mutate(Random r, byte[] body)
    {
        byte[] copy = [.. body];
        switch (r.Next(7))
        {
            case 0: return copy.Length == 0 ? [0] : copy[..r.Next(copy.Length)];
            case 1: return [.. copy, .. Bytes(r, r.Next(1, 17))];
            case 2:
                if (copy.Length > 0) copy[r.Next(copy.Length)] ^= (byte)(1 << r.Next(8));
                return copy;
            case 3:
                if (copy.Length >= 2) BinaryPrimitives.WriteUInt16LittleEndian(copy.AsSpan(r.Next(copy.Length - 1)), new ushort[] { 0, 1, 0xFFFF, 0x8000, 4096, 4097, 255, 256 }[r.Next(8)]);
                return copy;
            case 4:
                if (copy.Length >= 4) BinaryPrimitives.WriteInt32LittleEndian(copy.AsSpan(r.Next(copy.Length - 3)), Interesting32(r));
                return copy;
            case 5:
                if (copy.Length >= 8) BinaryPrimitives.WriteInt64LittleEndian(copy.AsSpan(r.Next(copy.Length - 7)), Interesting64(r));
                return copy;
            default: return Bytes(r, r.Next(0, 64));
        }
    }

    private static int Interesting32(Random r) => new[] { 0, 1, 2, -1, int.MaxValue, int.MinValue, 7, 8, 100, 65536, 1 << 28, 0x4000_0000, 4096, 5000 }[r.Next(14)];

    private static long Interesting64(Random r) => new[] { 0L, 1, -1, long.MaxValue, long.MinValue, 1L << 40, 9196, 9195, 9197, 1L << 62, int.MaxValue, 100 }[r.Next(12)];

    private static uint PickId(Random r) => r.Next(8) switch
    {
        0 => new[] { 0u, 2u, 5u }[r.Next(3)],
        1 => new[] { 7u, 100u, uint.MaxValue, uint.MaxValue - 1, 0x7FFF_FFFFu, 0x8000_0000u }[r.Next(6)],
        _ => new[] { 1u, 3u, 4u, 6u }[r.Next(4)],
    };

    private static ulong FileDigest(Case c, uint id)
    {
        if (id >= c.Contents.Length || c.Contents[id] is not { } content) return 0;
        var digests = new List<ulong>();
        for (int index = 0; index * ShardSize < content.Length; index++)
            digests.Add(Digests.Shard(content.AsSpan(index * ShardSize, Math.Min(ShardSize, content.Length - index * ShardSize))));
        return Digests.File(digests.ToArray());
    }

    /// <summary>Flags of OpenSession that go together, and a few that do not.</summary>
    private static (ushort Flags, uint? More, int Most) PickFlags(Random r)
    {
        ushort[] flags =
        [
            0, 0, 0, OpenSessionFlags.SkipUnchanged, OpenSessionFlags.DeleteExtraneous, OpenSessionFlags.DeleteExtraneous | OpenSessionFlags.RootIsSent,
            OpenSessionFlags.SkipUnchanged | OpenSessionFlags.DeleteExtraneous, OpenSessionFlags.DryRun, OpenSessionFlags.DryRun | OpenSessionFlags.DeleteExtraneous,
            OpenSessionFlags.Sparse, OpenSessionFlags.Compressed, OpenSessionFlags.Delta, OpenSessionFlags.SkipUnchanged | OpenSessionFlags.Update,
            OpenSessionFlags.SkipUnchanged | OpenSessionFlags.Checksum, OpenSessionFlags.HardLinks, OpenSessionFlags.DeleteExtraneous | OpenSessionFlags.MostDeletions,
            OpenSessionFlags.SkipUnchanged | OpenSessionFlags.ExistingOnly, OpenSessionFlags.SkipUnchanged | OpenSessionFlags.IgnoreExisting,
            (ushort)r.Next(0, 0x8000),
        ];
        ushort chosen = flags[r.Next(flags.Length)];
        int most = (chosen & OpenSessionFlags.MostDeletions) != 0 ? r.Next(0, 3) : 0;
        if (r.Next(5) != 0) return (chosen, null, most);
        uint[] more = [MoreSessionFlags.Itemize, MoreSessionFlags.Force, MoreSessionFlags.IgnoreErrors, MoreSessionFlags.Xattrs, MoreSessionFlags.Specials, MoreSessionFlags.NamesOneFile, MoreSessionFlags.OmitDirectoryTimes, MoreSessionFlags.InPlace, MoreSessionFlags.CopyDest, MoreSessionFlags.CompareDest];
        uint second = more[r.Next(more.Length)];
        if (second == MoreSessionFlags.IgnoreErrors) chosen |= OpenSessionFlags.DeleteExtraneous;
        return (chosen, second, most);
    }

    // ───────────────────────────── the manifest ─────────────────────────────

    private sealed record RawEntry(byte Kind, byte Flags, byte[] Path, uint Mode, long Mtime, long Size, byte[] Target, byte[] Extra)
    {
        public byte[] Encode() =>
            [Kind, Flags, .. U16(Path.Length), .. U32(Mode), .. U64((ulong)Mtime), .. U64((ulong)Size), .. U16(Target.Length), .. Extra, .. Path, .. Target];
    }

    private static RawEntry FileEntry(string path, long size) => new(1, 0, Encoding.UTF8.GetBytes(path), 0x1A4, 1_600_000_000_000_000_000, size, [], []);
    private static RawEntry DirEntry(string path) => new(2, 0, Encoding.UTF8.GetBytes(path), 0x1ED, 1_600_000_000_000_000_000, 0, [], []);

    /// <summary>Ids 0 to 6: d/, d/a (100 bytes), d/sub/, d/sub/b (5000: two shards), c (empty), l (a link to d/a), e (one whole shard).</summary>
    private static List<RawEntry> BaseManifest() =>
    [
        DirEntry("d"), FileEntry("d/a", 100), DirEntry("d/sub"), FileEntry("d/sub/b", 5000), FileEntry("c", 0),
        new(3, 0, "l"u8.ToArray(), 0x1FF, 1_600_000_000_000_000_000, 0, "d/a"u8.ToArray(), []), FileEntry("e", 4096),
    ];

    private static byte[] Chunk(int first, IReadOnlyList<RawEntry> entries) =>
        [.. U32((uint)first), .. U32((uint)entries.Count), .. entries.SelectMany(e => e.Encode())];

    /// <summary>One or two changes to the manifest: a field of an entry, or an entry added.</summary>
    private static void MutateManifest(Case c)
    {
        var r = c.R;
        var entries = c.Entries;
        for (int times = r.Next(1, 3); times > 0; times--)
        {
            int k = r.Next(entries.Count);
            var e = entries[k];
            switch (r.Next(16))
            {
                case 0: case 1: entries[k] = e with { Path = PickPath(c, "fz/x") }; break;
                case 2: entries[k] = e with { Target = PickPath(c, "../../outside") }; break;
                case 3: entries[k] = e with { Size = Interesting64(r) }; break;
                case 4: entries[k] = e with { Kind = (byte)r.Next(8) }; break;
                case 5: entries[k] = e with { Flags = (byte)r.Next(256), Extra = Bytes(r, r.Next(0, 40)) }; break;
                case 6: entries[k] = e with { Mode = new uint[] { 0xFFFFFFFFu, 0x11A4, 0x21A4, 0xC1A4, 0x81A4, 0x1000, 0xFFF, 0x6000 }[r.Next(8)] }; break;
                case 7: entries[k] = e with { Mtime = Interesting64(r) }; break;
                case 8:
                    // A hard link to d/a, marked linked or not.
                    if (r.Next(2) == 0 && entries.Count > 1) entries[1] = entries[1] with { Flags = ManifestCodec.FlagLinked };
                    entries.Add(new RawEntry(4, 0, PickPath(c, "h"), 0, 0, 0, r.Next(3) == 0 ? PickPath(c, "d/a") : "d/a"u8.ToArray(), []));
                    break;
                case 9: entries.Add(e); break;
                case 10:
                {
                    // Extended attributes: well formed, or not.
                    byte[] name = r.Next(3) == 0 ? Bytes(r, r.Next(0, 8)) : "user.x"u8.ToArray();
                    byte[] value = Bytes(r, r.Next(0, 20));
                    byte[] xattrs = [.. U16(r.Next(3) == 0 ? r.Next(0, 70000) : 1), (byte)name.Length, .. U32(r.Next(4) == 0 ? (uint)Interesting32(r) : (uint)value.Length), .. name, .. value];
                    entries[k] = e with { Flags = (byte)(e.Flags | ManifestCodec.FlagXattrs), Extra = [.. e.Extra, .. xattrs] };
                    break;
                }
                case 11:
                    // A FIFO, or a device with its number.
                    entries.Add(r.Next(2) == 0
                        ? new RawEntry(5, 0, PickPath(c, "fifo"), 0x11A4, 0, 0, [], [])
                        : new RawEntry(5, ManifestCodec.FlagDevice, PickPath(c, "dev"), 0x21A4, 0, 0, [], Bytes(r, 8)));
                    break;
                case 12:
                    // Below a file, or below the link.
                    entries.Add(FileEntry(r.Next(2) == 0 ? "d/a/x" : "l/x", 0));
                    break;
                case 13:
                    // A link that leads out, then a file through it.
                    entries.Add(new RawEntry(3, 0, "out"u8.ToArray(), 0x1FF, 0, 0, "../../.."u8.ToArray(), []));
                    entries.Add(FileEntry("out/escaped", 0));
                    break;
                case 14:
                    // A digest, in a session that may not have asked for one.
                    entries[k] = e with { Flags = (byte)(e.Flags | ManifestCodec.FlagDigest), Extra = [.. e.Extra, .. Bytes(r, 16)] };
                    break;
                default:
                    // Owner and group.
                    entries[k] = e with { Flags = (byte)(e.Flags | ManifestCodec.FlagOwner), Extra = [.. U32((uint)r.Next()), .. U32(uint.MaxValue), .. e.Extra] };
                    break;
            }
        }
        c.Log.Add($"manifest: {string.Join("; ", entries.Select(e => $"k{e.Kind} f{e.Flags:x} '{Show(e.Path)}' m{e.Mode:x} t{e.Mtime} s{e.Size} ->'{Show(e.Target)}' x[{e.Extra.Length}]"))}");
    }

    /// <summary>Paths a sender should never send, and now and then a good one.</summary>
    private static byte[] PickPath(Case c, string good)
    {
        var r = c.R;
        if (!Hostile(c) || r.Next(3) == 0) return Encoding.UTF8.GetBytes(good);
        byte[][] invalid = [[0xFF], [0xC3, 0x28], [0xED, 0xA0, 0x80], [0x61, 0x80], [0xF4, 0x90, 0x80, 0x80]];
        if (r.Next(10) == 0) return invalid[r.Next(invalid.Length)];
        string[] hostile =
        [
            "..", "../x", "../../x", "../../../escaped", "a/../../x", "d/sub/../../../x", "/abs", "/", "a//b", "a/", "./a", ".", "a\0b", "\0",
            "x.sglty-part", "d/X.SGLTY-STATE", "d/a/under", "l/through", "d", "d/a", "c", "", "\\..\\x", "C:x", "...", " ", "a\\b",
            new string('n', 256), string.Join("/", Enumerable.Repeat("deep", 900)), new string('é', 130), "e/x", "fz/ok", "x.sglty-state/y", "\u00e9/\u0000",
        ];
        return Encoding.UTF8.GetBytes(hostile[r.Next(hostile.Length)]);
    }

    // ───────────────────────────── frames on a lane ─────────────────────────────

    private static byte[] Frame(ulong tag, uint file, uint index, long offset, int length, ulong digest, byte flags)
    {
        byte[] header = new byte[ShardHeader.Size];
        new ShardHeader(tag, file, index, offset, length, digest, flags).WriteTo(header);
        return header;
    }

    /// <summary>A shard of a file of the manifest, valid or with its header changed.</summary>
    private static async Task SendFrameAsync(Case c, bool hostile)
    {
        var r = c.R;
        uint[] files = [.. Enumerable.Range(0, c.Contents.Length).Where(i => c.Contents[i] is { Length: > 0 }).Select(i => (uint)i)];
        uint id = files.Length == 0 ? 1 : files[r.Next(files.Length)];
        byte[] content = id < c.Contents.Length && c.Contents[id] is { } known ? known : new byte[100];
        int shards = Math.Max(1, (content.Length + ShardSize - 1) / ShardSize);
        uint index = (uint)r.Next(shards);
        int start = (int)Math.Min(content.Length, index * ShardSize);
        byte[] payload = content[start..Math.Min(content.Length, start + ShardSize)];
        ulong tag = c.Session.Tag, digest = Digests.Shard(payload);
        long offset = (long)index * ShardSize;
        int length = payload.Length;
        byte flags = 0;
        if (hostile)
        {
            switch (r.Next(10))
            {
                case 0: id = PickId(r); break;
                case 1: index = (uint)Interesting32(r); break;
                case 2: offset = Interesting64(r); break;
                case 3: length = Interesting32(r); break;
                case 4: digest ^= 1; break;
                case 5: flags = (byte)r.Next(16); break;
                case 6: tag ^= 1; break;
                case 7:
                    // A hole (its digest that of its zeros) or a packed shard of random bytes.
                    if (r.Next(2) == 0) { flags = ShardHeader.FlagHole; digest = Digests.Zeros(length); }
                    else { flags = ShardHeader.FlagCompressed; payload = Bytes(r, r.Next(1, Math.Max(2, length))); length = payload.Length; digest = Digests.Shard(payload); }
                    break;
                case 8:
                    // A patch of random bytes.
                    flags = ShardHeader.FlagPatched;
                    payload = Bytes(r, r.Next(1, Math.Max(2, length)));
                    length = payload.Length;
                    break;
                default:
                    // Not a shard header at all, or one whose reserved field is set.
                    byte[] raw = Frame(tag, id, index, offset, length, digest, flags);
                    if (r.Next(2) == 0) raw[0] = (byte)r.Next(256);
                    else
                    {
                        raw[2] = 1;
                        BinaryPrimitives.WriteUInt64LittleEndian(raw.AsSpan(40), WireFormat.HeaderCheck(raw.AsSpan(0, 40)));
                    }
                    await WriteFrameAsync(c, [.. raw, .. payload], [], "raw frame");
                    return;
            }
        }
        // The payload the header declares, as far as it is sensible to send one.
        byte[] carried = (flags & ShardHeader.FlagHole) != 0 ? [] : length > 0 && length <= 70_000 ? (length == payload.Length ? payload : Bytes(r, length)) : [];
        await WriteFrameAsync(c, Frame(tag, id, index, offset, length, digest, flags), carried, $"frame file {id} shard {index} offset {offset} length {length} flags {flags} tag {(tag == c.Session.Tag ? "ok" : "wrong")} digest {(digest == Digests.Shard(carried) ? "ok" : "other")}");
    }

    private static async Task WriteFrameAsync(Case c, byte[] header, byte[] payload, string what)
    {
        c.Log.Add("~ " + what);
        if (c.Lane is not { } lane) return;
        try { await lane.Stream.WriteAsync((byte[])[.. header, .. payload]); }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            c.Log.Add("  (the lane is closed)");
        }
    }

    // ───────────────────────────── helpers ─────────────────────────────

    private static async Task WaitAsync(Func<bool> done, TimeSpan patience)
    {
        var until = DateTime.UtcNow + patience;
        while (!done() && DateTime.UtcNow < until) await Task.Delay(2);
    }

    private static byte[] Bytes(Random r, int length)
    {
        byte[] bytes = new byte[length];
        r.NextBytes(bytes);
        return bytes;
    }

    private static byte[] U16(int value) => [(byte)value, (byte)(value >> 8)];
    private static byte[] U32(uint value) => [(byte)value, (byte)(value >> 8), (byte)(value >> 16), (byte)(value >> 24)];
    private static byte[] U64(ulong value) => [.. U32((uint)value), .. U32((uint)(value >> 32))];
    private static byte[] Text(byte[] text) => [.. U16(text.Length), .. text];
    private static byte[] Item(uint id, ulong value) => [.. U32(id), .. U64(value)];

    /// <summary>A batch body: the count, then the items.</summary>
    private static byte[] Items(int size, params byte[][] items)
    {
        Assert.All(items, item => Assert.Equal(size, item.Length));
        return [.. U32((uint)items.Length), .. items.SelectMany(item => item)];
    }

    private static string Hex(byte[] body) => Convert.ToHexString(body.AsSpan(0, Math.Min(body.Length, 48))) + (body.Length > 48 ? "…" : "");

    private static string Show(byte[] path)
    {
        string text = Encoding.UTF8.GetString(path).Replace("\0", "\\0");
        return text.Length > 40 ? text[..20] + "…" + text[^10..] : text;
    }

    /// <summary>The receiver, its directory three levels down, and a sibling that must stay empty.</summary>
    private sealed class Bench : IAsyncDisposable
    {
        private readonly TempDirectory _temp = new();
        public string Outside { get; private set; } = null!;
        public string Destination { get; private set; } = null!;
        public LoopbackReceiver Receiver { get; private set; } = null!;
        private string[] _above = [];

        public static Task<Bench> StartAsync()
        {
            var bench = new Bench();
            bench.Outside = bench._temp.Sub("outside");
            bench.Destination = bench._temp.Sub(Path.Combine("a", "b", "dst"));
            bench._above = [bench._temp.Path, Path.Combine(bench._temp.Path, "a"), Path.Combine(bench._temp.Path, "a", "b")];
            bench.Receiver = new LoopbackReceiver(bench.Destination, Plain);
            bench.Receiver.Receiver.SessionCompleted += result => bench._results.GetOrAdd(result.SessionId, _ => new()).TrySetResult(result);
            return Task.FromResult(bench);
        }

        // Each session's result by its id: cases may run side by side.
        private readonly ConcurrentDictionary<string, TaskCompletionSource<ReceiveResult>> _results = new();

        public Task<ReceiveResult> ResultOfAsync(SessionId session) => _results.GetOrAdd(session.ToString(), _ => new()).Task;

        /// <summary>Anything written outside the receiver's directory, or null.</summary>
        public string? EscapeCheck()
        {
            if (Directory.EnumerateFileSystemEntries(Outside).Any()) return $"something was written in the sibling directory: {string.Join(", ", Directory.EnumerateFileSystemEntries(Outside))}";
            string[] expected = [Path.Combine(_temp.Path, "a"), Outside, Path.Combine(_temp.Path, "a", "b"), Destination];
            foreach (string above in _above)
                foreach (string entry in Directory.EnumerateFileSystemEntries(above))
                    if (!expected.Contains(entry)) return $"something was written above the receiver's directory: {entry}";
            return null;
        }

        /// <summary>A real send of a small file to the receiver; the failures found, if any.</summary>
        public async Task<List<string>> RealSendAsync()
        {
            string source = TestFiles.Create(Path.Combine(_temp.Sub("src"), "final-check.bin"), 300_000, seed: 7);
            try
            {
                var known = _results.Keys.ToHashSet();
                await SingularitySender.SendAsync([source], Receiver.Url, new TransferOptions { Lanes = 2, ShardSize = 64 << 10 }).WaitAsync(TimeSpan.FromMinutes(1));
                var until = DateTime.UtcNow.AddSeconds(30);
                while (!_results.Keys.Except(known).Any() && DateTime.UtcNow < until) await Task.Delay(10);
                var result = await _results[_results.Keys.Except(known).First()].Task;
                if (!result.Succeeded) return [$"a real send after the cases failed at the receiver: {result.Error}"];
                TestFiles.AssertSameBytes(source, Path.Combine(Destination, "final-check.bin"));
                return [];
            }
            catch (Exception ex)
            {
                return [$"a real send after the cases failed: {ex}"];
            }
        }

        public async ValueTask DisposeAsync()
        {
            // A session that hangs (a defect the cases found) would keep the receiver from stopping: the test reports it
            // and does not wait on it for ever.
            try { await Receiver.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30)); }
            catch (TimeoutException) { }
            _temp.Dispose();
        }
    }
}
