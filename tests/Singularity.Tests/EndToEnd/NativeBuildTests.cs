using System.Text.Json;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// The native build, as users run it after the README's `dotnet publish`: both ends native, the paths where a defect
/// of that build alone once hid (a missing source told as "error 22", which broke --ignore-missing-args), JSON, and a
/// receiver started through a remote shell.
/// </summary>
public sealed class NativeBuildTests
{
    [SkippableFact]
    public async Task The_native_build_moves_a_tree_tells_a_missing_source_and_writes_json()
    {
        string? sglty = await NativeSglty.PathAsync();
        Skip.If(sglty is null, "the native build needs Linux and clang");
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/site");
        TestFiles.Create(Path.Combine(tree, "big.bin"), (2 << 20) + 3);
        TestFiles.Create(Path.Combine(tree, "sub", "small.txt"), 17, seed: 2);
        Directory.CreateDirectory(Path.Combine(tree, "empty"));
        File.CreateSymbolicLink(Path.Combine(tree, "link"), "sub/small.txt");
        string missing = Path.Combine(temp.Path, "src", "gone");
        string destination = Path.Combine(temp.Path, "dst");
        string urlFile = Path.Combine(temp.Path, "url");

        using var receiver = NativeSglty.Start(sglty!, "recv", "--dir", destination, "--listen", "127.0.0.1:0", "--url-file", urlFile);
        try
        {
            string url = await SgltyProcess.WaitForFileAsync(urlFile, receiver);

            var (exit, _, error) = await NativeSglty.RunAsync(sglty!, "send", "-a", missing, "--to", url);
            Assert.Equal((3, $"sglty: error: cannot send '{missing}': no such file or directory"), (exit, error.Trim()));

            (exit, var output, error) = await NativeSglty.RunAsync(sglty!, "send", "-a", "--ignore-missing-args", tree, missing, "--to", url, "--json");
            Assert.True(exit == 0, error);
            using var json = JsonDocument.Parse(output);
            Assert.Equal((true, 2), (json.RootElement.GetProperty("ok").GetBoolean(), json.RootElement.GetProperty("files").GetInt32()));
            TestFiles.AssertSameTree(tree, Path.Combine(destination, "site"));
        }
        finally
        {
            receiver.Kill();
        }
    }

    [SkippableFact]
    public async Task The_native_build_starts_its_receiver_through_a_remote_shell()
    {
        string? sglty = await NativeSglty.PathAsync();
        Skip.If(sglty is null, "the native build needs Linux and clang");
        using var temp = new TempDirectory();
        string file = TestFiles.Create(Path.Combine(temp.Sub("src"), "db.dump"), 300_000, seed: 5);
        string home = temp.Sub("home");
        Directory.CreateDirectory(Path.Combine(home, "backups"));
        // A stand-in for ssh: runs the command here, in $HOME.
        string shell = Path.Combine(temp.Path, "fake-ssh");
        File.WriteAllText(shell, "#!/bin/sh\nwhile [ \"$1\" = -l ]; do shift 2; done\nshift\ncd \"$HOME\" && exec sh -c \"$1\"\n");
        if (OperatingSystem.IsLinux()) File.SetUnixFileMode(shell, (UnixFileMode)0b111_101_101);

        var info = new System.Diagnostics.ProcessStartInfo(sglty!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in (string[])["send", file, "localhost:backups/db-1206.dump", "-e", shell, "--sglty-path", sglty!, "--remote-listen", "127.0.0.1:0"])
            info.ArgumentList.Add(argument);
        info.Environment["HOME"] = home;
        using var send = System.Diagnostics.Process.Start(info)!;
        var (exit, _, error) = await SgltyProcess.FinishAsync(send);

        Assert.True(exit == 0, error);
        TestFiles.AssertSameBytes(file, Path.Combine(home, "backups", "db-1206.dump"));
    }
}
