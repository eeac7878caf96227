using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Singularity.Engine;
using Singularity.Engine.Storage;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>kill -9 of the receiver, a full disk: the final name only ever holds the complete, verified file, and a restart resumes.</summary>
public sealed class CrashTests
{
    [Fact]
    public async Task Killing_the_receiver_repeatedly_never_leaves_a_wrong_file_and_resume_does_not_resend_verified_shards()
    {
        using var temp = new TempDirectory();
        long size = 320L << 20;
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "big.bin"), size, seed: 41);
        string destination = temp.Sub("dst");
        string final = Path.Combine(destination, "big.bin");
        string journal = Path.Combine(destination, ".big.bin.sglty-state");
        int port = Ports.Free();
        string token = SessionToken.Generate();
        string[] receiverArgs = ["recv", "--dir", destination, "--listen", $"127.0.0.1:{port}", "--token", token];
        const int shard = 1 << 20, inFlight = 16 << 20, kills = 3;

        var receiver = SgltyProcess.Start(receiverArgs);
        await WaitForPortAsync(port);
        // The sender goes through a relay that holds every connection's data once the journal has reached the
        // round's mark, until the receiver was killed: on loopback the whole file could otherwise arrive before this
        // test saw the mark, and then there would be nothing to resume.
        await using var relay = new TcpRelay(new ConnectionUrl("127.0.0.1", port, token));
        long mark = ResumeRecordBytes(30);
        var killed = new TaskCompletionSource();
        relay.Hold = (_, _) => JournalLength(journal) >= Volatile.Read(ref mark) ? Volatile.Read(ref killed).Task : Task.CompletedTask;
        using var sender = SgltyProcess.Start("send", source, "--to", $"sglty://127.0.0.1:{relay.Url.Port}/?token={token}", "--retries", "20", "--json",
            "--shard-size", "1MiB", "--in-flight", "16MiB", "--lanes", "3");
        var output = sender.StandardOutput.ReadToEndAsync();
        var errors = sender.StandardError.ReadToEndAsync();

        for (int round = 1; round <= kills; round++)
        {
            // Kill once the journal shows progress beyond the previous round: a different point of the file each time.
            var deadline = DateTime.UtcNow.AddMinutes(2);
            while (JournalLength(journal) < Volatile.Read(ref mark) && DateTime.UtcNow < deadline && !sender.HasExited)
                await Task.Delay(5);
            receiver.Kill();
            await receiver.WaitForExitAsync();
            receiver.Dispose();
            Assert.False(File.Exists(final), "the file was committed although its data was held back");
            receiver = SgltyProcess.Start(receiverArgs);
            await WaitForPortAsync(port);
            // The next mark, then the held data goes on (to the killed receiver's dead connections).
            var release = Volatile.Read(ref killed);
            Volatile.Write(ref killed, new TaskCompletionSource());
            Volatile.Write(ref mark, round < kills ? ResumeRecordBytes((round + 1) * 60 - 30) : long.MaxValue);
            release.SetResult();
        }

        using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await sender.WaitForExitAsync(guard.Token);
        receiver.Kill();
        receiver.Dispose();
        Assert.True(sender.ExitCode == 0, await errors);
        using var json = JsonDocument.Parse(await output);
        long sent = json.RootElement.GetProperty("bytes_sent").GetInt64();
        long skipped = json.RootElement.GetProperty("bytes_skipped").GetInt64();
        int retries = json.RootElement.GetProperty("retries").GetInt32();
        TestFiles.AssertSameBytes(source, final);
        Assert.True(retries >= 1, "the sender never had to resume");
        Assert.True(skipped > 0, "nothing was resumed");
        // Each kill may cost what was in flight and what was verified but not yet journaled (16 shards), never more.
        long bound = size + kills * (inFlight + 16L * shard + shard);
        Assert.True(sent <= bound, $"sent {sent} bytes for a {size}-byte file: verified shards were resent (bound {bound})");
    }

    [Fact]
    public async Task Killing_the_sender_leaves_a_resumable_partial_and_a_new_send_completes_it()
    {
        using var temp = new TempDirectory();
        long size = 96L << 20;
        string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "f.bin"), size, seed: 43);
        string destination = temp.Sub("dst");
        string journal = Path.Combine(destination, ".f.bin.sglty-state");
        await using var receiver = new LoopbackReceiver(destination);
        string url = receiver.Url.ToString();

        await KillSenderOnceJournaledAsync(receiver, source, journal, records: 32);
        var interrupted = await receiver.NextResultAsync();
        Assert.False(interrupted.Succeeded);
        Assert.False(File.Exists(Path.Combine(destination, "f.bin")));

        var (exit, output, error) = await SgltyProcess.RunAsync("send", source, "--to", url, "--shard-size", "1MiB", "--json");
        Assert.True(exit == 0, error);
        using var json = System.Text.Json.JsonDocument.Parse(output);
        long skipped = json.RootElement.GetProperty("bytes_skipped").GetInt64();
        Assert.True(skipped >= 32L << 20);
        // The rate counts what this send put on the wire, not what the receiver already held.
        long sent = json.RootElement.GetProperty("bytes_sent").GetInt64();
        Assert.InRange(sent, size - skipped, size - 1);
        double seconds = json.RootElement.GetProperty("seconds").GetDouble();
        Assert.Equal(sent / seconds / 1e6, json.RootElement.GetProperty("mbytes_per_s").GetDouble(), 6);
        Assert.Contains("of it already there from an interrupted send)", error);
        TestFiles.AssertSameBytes(source, Path.Combine(destination, "f.bin"));
    }

    /// <summary>
    /// On a disk, a partial is preallocated to its file's whole size. A transfer that fails early must not leave that
    /// reservation behind: the partial kept for resuming takes the space of what was written, not of the whole file.
    /// </summary>
    [SkippableFact]
    public async Task An_interrupted_partial_on_a_disk_keeps_only_the_space_it_holds()
    {
        string root = Path.Combine(Path.GetTempPath(), $"sglty-test-{Guid.NewGuid():N}"[..24]);
        Directory.CreateDirectory(root);
        try
        {
            Skip.IfNot(OperatingSystem.IsLinux() && PartialFile.PreallocationHelps(root), "needs a disk file system that preallocates (not tmpfs)");
            long size = 96L << 20;
            string source = TestFiles.Create(Path.Combine(root, "src", "f.bin"), size, seed: 44);
            string destination = Path.Combine(root, "dst");
            string journal = Path.Combine(destination, ".f.bin.sglty-state");
            string partial = Path.Combine(destination, ".f.bin.sglty-part");
            await using var receiver = new LoopbackReceiver(destination);
            await KillSenderOnceJournaledAsync(receiver, source, journal, records: 32);
            Assert.False((await receiver.NextResultAsync()).Succeeded);
            long length = new FileInfo(partial).Length;
            Assert.InRange(length, 32L << 20, size - 1);
            // Allocated bytes, as the file system counts them (stat's 512-byte blocks), independently of the code.
            var stat = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("stat", ["-c", "%b", partial]) { RedirectStandardOutput = true })!;
            long allocated = long.Parse((await stat.StandardOutput.ReadToEndAsync()).Trim()) * 512;
            await stat.WaitForExitAsync();
            Assert.True(allocated <= length + (1L << 20), $"the partial holds {length} bytes but keeps {allocated} allocated");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [SkippableFact]
    public async Task A_full_disk_is_reported_on_both_sides_without_retrying_and_the_transfer_succeeds_once_space_is_freed()
    {
        Skip.IfNot(OperatingSystem.IsLinux() && Environment.IsPrivilegedProcess, "needs root on Linux to mount a size-limited tmpfs");
        using var temp = new TempDirectory();
        string mount = temp.Sub("small");
        Skip.IfNot(Commands.Run("mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", mount), "mount -t tmpfs is not permitted here");
        try
        {
            string source = TestFiles.Create(Path.Combine(temp.Sub("src"), "f.bin"), 64 << 20, seed: 42);
            await using var receiver = new LoopbackReceiver(mount);

            // Found full before any data moved: reported at once, not retried, whatever the retry setting.
            var log = new List<string>();
            var error = await Assert.ThrowsAsync<TransferAbortedException>(() => SingularitySender.SendAsync([source], receiver.Url, new TransferOptions { Retries = 5 }, null, line => { lock (log) log.Add(line); }));
            Assert.Equal(ErrorCode.DiskFull, error.Code);
            Assert.Contains("disk full", error.Message);
            // Nothing stands at its name: --inplace would need the same room.
            Assert.DoesNotContain("--inplace", error.Message);
            Assert.DoesNotContain(log, line => line.StartsWith("retry", StringComparison.Ordinal));
            var failed = await receiver.NextResultAsync();
            Assert.Equal(ErrorCode.DiskFull, failed.Error!.Code);
            Assert.False(File.Exists(Path.Combine(mount, "f.bin")));

            Assert.True(Commands.Run("mount", "-o", "remount,size=160m", mount));
            await SingularitySender.SendAsync([source], receiver.Url);
            TestFiles.AssertSameBytes(source, Path.Combine(mount, "f.bin"));
        }
        finally
        {
            Commands.Run("umount", "-l", mount);
        }
    }

    /// <summary>
    /// Sends <paramref name="source"/> with `sglty send` (1 MiB shards, 2 lanes) through a relay, and kills the sender
    /// once the receiver's journal holds <paramref name="records"/> records. From then on the relay holds the data back
    /// until the sender is gone: on loopback the whole file could otherwise arrive before the test saw the mark.
    /// </summary>
    private static async Task KillSenderOnceJournaledAsync(LoopbackReceiver receiver, string source, string journal, int records)
    {
        await using var relay = new TcpRelay(receiver.Url);
        var killed = new TaskCompletionSource();
        relay.Hold = (_, _) => JournalLength(journal) >= ResumeRecordBytes(records) ? killed.Task : Task.CompletedTask;
        using (var sender = SgltyProcess.Start("send", source, "--to", relay.Url.ToString(), "--shard-size", "1MiB", "--in-flight", "8MiB", "--lanes", "2"))
        {
            var deadline = DateTime.UtcNow.AddMinutes(1);
            while (JournalLength(journal) < ResumeRecordBytes(records) && DateTime.UtcNow < deadline && !sender.HasExited)
                await Task.Delay(5);
            sender.Kill();
            await sender.WaitForExitAsync();
        }
        killed.SetResult();
    }

    private static long ResumeRecordBytes(int records) => 64 + 16L * records;

    /// <summary>A journal's length, or 0 once it is gone (deleted at the commit).</summary>
    private static long JournalLength(string path)
    {
        try { return new FileInfo(path).Length; }
        catch (FileNotFoundException) { return 0; }
    }

    private static async Task WaitForPortAsync(int port)
    {
        var deadline = DateTime.UtcNow.AddMinutes(1);
        while (true)
        {
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(20);
            }
        }
    }
}
