using Singularity.Engine.Storage;
using Singularity.Tests.Support;

namespace Singularity.Tests.Storage;

/// <summary>What the sender opened must be its name's own file: the statx fields read for that (inode, device, type) are read right.</summary>
public sealed class SpecialFilesTests
{
    [Fact]
    public void An_open_file_is_told_from_another_file_or_a_link_now_under_its_name()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var temp = new TempDirectory();
        string path = TestFiles.Create(Path.Combine(temp.Path, "f"), 10);
        string other = TestFiles.Create(Path.Combine(temp.Path, "other"), 10, seed: 2);

        using (var handle = File.OpenHandle(path))
            Assert.False(SpecialFiles.OpenedElsewhere(handle, path));

        using (var handle = File.OpenHandle(path))
        {
            File.Move(other, path, overwrite: true);
            Assert.True(SpecialFiles.OpenedElsewhere(handle, path));
        }

        string link = Path.Combine(temp.Path, "link");
        File.CreateSymbolicLink(link, path);
        using (var handle = File.OpenHandle(link))
            Assert.True(SpecialFiles.OpenedElsewhere(handle, link));

        using (var handle = File.OpenHandle(path))
        {
            File.Delete(path);
            Assert.True(SpecialFiles.OpenedElsewhere(handle, path));
        }
    }
}
