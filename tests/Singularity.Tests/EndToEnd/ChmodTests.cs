using Singularity.Engine;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>With <see cref="TransferOptions.ModeChanges"/> (rsync --chmod), what arrives has the modes the changes give, files and directories each their own.</summary>
public sealed class ChmodTests
{
    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Files_and_directories_arrive_with_the_changed_modes()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        string script = TestFiles.Create(Path.Combine(tree, "bin", "run"), 1000, seed: 1);
        string data = TestFiles.Create(Path.Combine(tree, "data"), 5000, seed: 2);
        File.SetUnixFileMode(script, (UnixFileMode)0b111_000_000);
        File.SetUnixFileMode(data, (UnixFileMode)0b110_000_000);
        File.SetUnixFileMode(Path.Combine(tree, "bin"), (UnixFileMode)0b111_000_000);
        string destination = temp.Sub("dst"), received = Path.Combine(destination, "tree");
        await using var receiver = new LoopbackReceiver(destination);

        await SingularitySender.SendAsync([tree], receiver.Url, new TransferOptions { SkipUnchanged = true, ModeChanges = ["Du=rwx,Dgo=rx", "Fu=rwX,Fgo=rX"] });
        Assert.True((await receiver.NextResultAsync()).Succeeded);

        Assert.Equal((UnixFileMode)0b111_101_101, File.GetUnixFileMode(Path.Combine(received, "bin", "run")));
        Assert.Equal((UnixFileMode)0b110_100_100, File.GetUnixFileMode(Path.Combine(received, "data")));
        Assert.Equal((UnixFileMode)0b111_101_101, File.GetUnixFileMode(Path.Combine(received, "bin")));
        TestFiles.AssertSameTree(tree, received);
        // The source keeps its own.
        Assert.Equal((UnixFileMode)0b110_000_000, File.GetUnixFileMode(data));

        // Unchanged files in place take the new modes too, without travelling again.
        var again = await SingularitySender.SendAsync([tree], receiver.Url, new TransferOptions { SkipUnchanged = true, ModeChanges = ["F600"] });
        Assert.True((await receiver.NextResultAsync()).Succeeded);
        Assert.Equal(2, again.FilesUnchanged);
        Assert.Equal((UnixFileMode)0b110_000_000, File.GetUnixFileMode(Path.Combine(received, "data")));
    }

    [Fact]
    public async Task The_command_names_a_change_it_cannot_read()
    {
        using var temp = new TempDirectory();
        string file = TestFiles.Create(Path.Combine(temp.Path, "f"), 10);
        var (exit, _, error) = await SgltyProcess.RunAsync("send", file, "--to", "sglty://127.0.0.1:1/?token=x", "--chmod", "Fu+rw,g+k");
        Assert.Equal(1, exit);
        Assert.Contains("--chmod: 'g+k' is not a mode change rsync's --chmod takes ('k' is not one of r, w, x, X, s, t, or a class u, g or o to copy)", error);
    }
}
