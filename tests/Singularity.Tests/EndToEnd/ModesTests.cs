using Singularity.Engine;
using Singularity.Engine.Storage;
using Singularity.Tests.Support;

namespace Singularity.Tests.EndToEnd;

/// <summary>
/// Modes as rsync keeps them: the source's by default (-p), or left to the receiver (--no-perms), for destinations
/// that keep none (FAT, exFAT, some shares), where a mode refused leaves the file arrived and the send says so.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class ModesTests
{
    private const UnixFileMode ReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private static readonly TransferOptions Plain = new() { Cipher = CipherSuite.None, SkipUnchanged = true };

    /// <summary>
    /// Without modes kept, as rsync --no-perms: a new file takes the source's bits within the receiver's umask, a file
    /// that replaces another the mode that one had, and a file in place keeps its own and is not sent again for its mode;
    /// a later send that keeps them gives each the source's.
    /// </summary>
    [SkippableFact]
    public async Task Without_modes_kept_new_files_take_the_umask_and_others_keep_their_own()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "modes are Linux's here");
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), destination = temp.Sub("dst");
        string fresh = TestFiles.Create(Path.Combine(source, "fresh.txt"), 1000, seed: 1);
        string script = TestFiles.Create(Path.Combine(source, "run.sh"), 1000, seed: 2);
        string replaced = TestFiles.Create(Path.Combine(source, "replaced.txt"), 1000, seed: 3);
        string kept = TestFiles.Create(Path.Combine(source, "kept.txt"), 1000, seed: 4);
        File.SetUnixFileMode(fresh, (UnixFileMode)0x1B6); // 0666
        File.SetUnixFileMode(script, (UnixFileMode)0x1FF); // 0777
        File.SetUnixFileMode(replaced, (UnixFileMode)0x1A4); // 0644
        File.SetUnixFileMode(kept, (UnixFileMode)0x1A4);
        string old = TestFiles.Create(Path.Combine(destination, "replaced.txt"), 500, seed: 5);
        File.SetUnixFileMode(old, ReadWrite);
        File.Copy(kept, Path.Combine(destination, "kept.txt"));
        File.SetLastWriteTimeUtc(Path.Combine(destination, "kept.txt"), File.GetLastWriteTimeUtc(kept));
        File.SetUnixFileMode(Path.Combine(destination, "kept.txt"), ReadWrite);
        // Directories too: a new one takes the source's bits within the umask (a private one stays private), one that
        // stands keeps its own.
        File.SetUnixFileMode(Directory.CreateDirectory(Path.Combine(source, "private")).FullName, (UnixFileMode)0x1C0); // 0700
        File.SetUnixFileMode(Directory.CreateDirectory(Path.Combine(source, "shared")).FullName, (UnixFileMode)0x1F8); // 0770
        File.SetUnixFileMode(Directory.CreateDirectory(Path.Combine(source, "standing")).FullName, (UnixFileMode)0x1C0);
        File.SetUnixFileMode(Directory.CreateDirectory(Path.Combine(destination, "standing")).FullName, (UnixFileMode)0x1ED); // 0755
        await using var receiver = new LoopbackReceiver(destination, Plain);

        var result = await SingularitySender.SendAsync([source + "/"], receiver.Url, Plain with { KeepPermissions = false });

        Assert.Equal(3, result.FilesTransferred);
        Assert.False(result.ModesNotSet);
        TestFiles.AssertSameTree(source, destination);
        Assert.Equal((UnixFileMode)0x1B6 & ~SpecialFiles.Umask, File.GetUnixFileMode(Path.Combine(destination, "fresh.txt")));
        Assert.Equal((UnixFileMode)0x1FF & ~SpecialFiles.Umask, File.GetUnixFileMode(Path.Combine(destination, "run.sh")));
        Assert.Equal(ReadWrite, File.GetUnixFileMode(Path.Combine(destination, "replaced.txt")));
        Assert.Equal(ReadWrite, File.GetUnixFileMode(Path.Combine(destination, "kept.txt")));
        Assert.Equal((UnixFileMode)0x1C0, File.GetUnixFileMode(Path.Combine(destination, "private")));
        Assert.Equal((UnixFileMode)0x1F8 & ~SpecialFiles.Umask, File.GetUnixFileMode(Path.Combine(destination, "shared")));
        Assert.Equal((UnixFileMode)0x1ED, File.GetUnixFileMode(Path.Combine(destination, "standing")));

        result = await SingularitySender.SendAsync([source + "/"], receiver.Url, Plain);

        Assert.Equal(0, result.FilesTransferred);
        foreach (string file in (string[])[fresh, script, replaced, kept])
            Assert.Equal(File.GetUnixFileMode(file), File.GetUnixFileMode(Path.Combine(destination, Path.GetFileName(file))));
    }

    /// <summary>--no-perms and -p (and -a, which holds it) read in the order given, as rsync reads them: the last one counts.</summary>
    [SkippableTheory]
    [InlineData(false, "--no-perms")]
    [InlineData(false, "-a", "--no-p")]
    [InlineData(true, "--no-perms", "-p")]
    [InlineData(true, "--no-perms", "-a")]
    public async Task No_perms_and_p_count_in_the_order_given(bool kept, params string[] options)
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "modes are Linux's here");
        Skip.If(SpecialFiles.Umask == 0, "a umask of 0 keeps every mode either way");
        using var temp = new TempDirectory();
        string file = TestFiles.Create(Path.Combine(temp.Sub("src"), "f"), 1000, seed: 8);
        File.SetUnixFileMode(file, (UnixFileMode)0x1FF);
        string destination = temp.Sub("dst");
        await using var receiver = new LoopbackReceiver(destination, Plain);

        var (exit, _, error) = await SgltyProcess.RunAsync(["send", file, "--to", receiver.Url.ToString(), .. options]);

        Assert.True(exit == 0, error);
        Assert.Equal(kept ? (UnixFileMode)0x1FF : (UnixFileMode)0x1FF & ~SpecialFiles.Umask, File.GetUnixFileMode(Path.Combine(destination, "f")));
    }

    /// <summary>
    /// A destination that refuses modes (a FUSE mount that denies chmod, as FAT or exFAT refuse one) takes the files
    /// all the same, with their times, and the send exits 23 naming the cause and --no-perms; with --no-perms it asks
    /// for none and exits 0, sending nothing again.
    /// </summary>
    [SkippableFact]
    public async Task A_destination_that_refuses_modes_takes_the_files_and_the_send_says_so()
    {
        Skip.IfNot(OperatingSystem.IsLinux() && Environment.IsPrivilegedProcess, "needs root on Linux to mount with FUSE");
        Skip.IfNot(Commands.Run("bindfs", "--version"), "bindfs is not installed (apt-get install bindfs)");
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), real = temp.Sub("real"), mount = temp.Sub("mnt");
        TestFiles.Create(Path.Combine(source, "a.bin"), 100_000, seed: 6);
        TestFiles.Create(Path.Combine(source, "sub", "b.bin"), 5_000_000, seed: 7);
        File.SetUnixFileMode(Path.Combine(source, "a.bin"), (UnixFileMode)0x1A0); // 0640
        Skip.IfNot(Commands.Run("bindfs", "--chmod-deny", real, mount), "bindfs could not mount here");
        try
        {
            string destination = Path.Combine(mount, "dst");

            var (exit, _, error) = await SgltyProcess.RunAsync("send", source + "/", destination);

            Assert.True(exit == 23, error);
            Assert.Contains("the receiver's file system refused some entries their modes", error);
            Assert.Contains("send with --no-perms", error);
            TestFiles.AssertSameTree(source, destination);
            foreach (string name in (string[])["a.bin", "sub/b.bin"])
                Assert.Equal(File.GetLastWriteTimeUtc(Path.Combine(source, name)), File.GetLastWriteTimeUtc(Path.Combine(destination, name)));

            (exit, _, error) = await SgltyProcess.RunAsync("send", source + "/", destination, "--no-perms");

            Assert.True(exit == 0, error);
            Assert.Contains("sent 0 files (2 unchanged", error);

            // Into a fresh destination too: the directories it makes take what the file system gives, no fault.
            string fresh = Path.Combine(mount, "fresh");
            (exit, _, error) = await SgltyProcess.RunAsync("send", source + "/", fresh, "--no-perms");

            Assert.True(exit == 0, error);
            TestFiles.AssertSameTree(source, fresh);
        }
        finally
        {
            Commands.Run("umount", "-l", mount);
        }
    }

    /// <summary>
    /// A FAT disk (fusefat, which has no chmod at all: ENOSYS) takes every file whose name it takes, with the modes it
    /// gives; a name it refuses, and a link, which it cannot make, fail alone (exit 23), and --no-perms leaves nothing else to say.
    /// </summary>
    [SkippableFact]
    public async Task A_fat_disk_takes_what_it_can_name()
    {
        Skip.IfNot(OperatingSystem.IsLinux() && Environment.IsPrivilegedProcess, "needs root on Linux to mount with FUSE");
        Skip.IfNot(File.Exists("/usr/sbin/mkfs.vfat"), "mkfs.vfat is not installed (apt-get install dosfstools)");
        Skip.IfNot(Commands.Output("sh", "-c", "command -v fusefat") is not null, "fusefat is not installed (apt-get install fusefat)");
        using var temp = new TempDirectory();
        string source = temp.Sub("src"), mount = temp.Sub("fat"), image = Path.Combine(temp.Path, "fat.img");
        TestFiles.Create(Path.Combine(source, "a.bin"), 300_000, seed: 9);
        TestFiles.Create(Path.Combine(source, "sub", "b.bin"), 1000, seed: 10);
        TestFiles.Create(Path.Combine(source, "odd:name"), 10, seed: 11);
        File.CreateSymbolicLink(Path.Combine(source, "link"), "a.bin");
        using (var file = File.Create(image)) file.SetLength(32 << 20);
        Skip.IfNot(Commands.Run("/usr/sbin/mkfs.vfat", image) && Commands.Run("fusefat", "-o", "rw+", image, mount), "fusefat could not mount here");
        try
        {
            string destination = Path.Combine(mount, "dst");

            var (exit, _, error) = await SgltyProcess.RunAsync("send", source + "/", destination);

            Assert.True(exit == 23, error);
            Assert.Contains("'odd:name'", error);
            Assert.Contains("'link': the file system cannot make that, as a FAT or exFAT disk makes no links", error);
            Assert.Contains("the receiver's file system refused some entries their modes", error);
            TestFiles.AssertSameBytes(Path.Combine(source, "a.bin"), Path.Combine(destination, "a.bin"));
            TestFiles.AssertSameBytes(Path.Combine(source, "sub", "b.bin"), Path.Combine(destination, "sub", "b.bin"));

            (exit, _, error) = await SgltyProcess.RunAsync("send", source + "/", destination, "--no-perms");

            Assert.True(exit == 23, error);
            Assert.Contains("'odd:name'", error);
            Assert.DoesNotContain("modes", error);
        }
        finally
        {
            Commands.Run("umount", "-l", mount);
        }
    }
}
