using System.Runtime.Versioning;
using Singularity.Engine;
using Singularity.Engine.Storage;
using Singularity.Tests.Support;

namespace Singularity.Tests.Storage;

/// <summary>
/// <see cref="SourceRemoval.Remove"/> removes a scanned source only while it is still what was scanned, reached through
/// the directories that were scanned: never a file elsewhere that a link put in the tree since leads to.
/// </summary>
[UnsupportedOSPlatform("windows")]
public sealed class SourceRemovalTests
{
    private static readonly DateTime Then = new(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc);

    /// <summary>
    /// A directory of the tree swapped for a link to another place after the scan leads nowhere: the file there, of the
    /// same name, size and mtime as the one sent, stays, and the source is named as kept.
    /// </summary>
    [Fact]
    public void A_directory_swapped_for_a_link_after_the_scan_leads_nowhere()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        string sent = Dated(TestFiles.Create(Path.Combine(tree, "sub", "precious"), 1000, seed: 1));
        string elsewhere = Dated(TestFiles.Create(Path.Combine(temp.Path, "outside", "precious"), 1000, seed: 2));
        string other = Dated(TestFiles.Create(Path.Combine(tree, "other"), 500, seed: 3));
        var scanned = SourceScanner.Scan([tree], null, []);
        Directory.Move(Path.Combine(tree, "sub"), Path.Combine(tree, "sub.old"));
        File.CreateSymbolicLink(Path.Combine(tree, "sub"), Path.GetDirectoryName(elsewhere)!);

        var (removed, kept) = SourceRemoval.Remove(scanned, [tree], relative: false);

        Assert.Equal(1, removed);
        Assert.False(File.Exists(other));
        Assert.True(File.Exists(elsewhere));
        Assert.True(File.Exists(Path.Combine(tree, "sub.old", "precious")));
        var only = Assert.Single(kept);
        Assert.Equal((sent, "a directory on its path is a link, or is gone", false), (only.Path, only.Reason, only.AsAsked));
    }

    /// <summary>
    /// With relative paths, the whole kept path is walked from the directory it is relative to: a file reached through
    /// a link on it stays (there, a receiver's directory may be where it is read), and a directory swapped for a link
    /// after the scan leads nowhere; a link named in the list goes, as a link, and what it points to stays.
    /// </summary>
    [Fact]
    public void With_relative_paths_a_link_on_the_kept_path_leads_nowhere()
    {
        using var temp = new TempDirectory();
        string source = temp.Sub("src");
        string throughLink = Dated(TestFiles.Create(Path.Combine(temp.Path, "recv", "x", "f"), 100, seed: 1));
        File.CreateSymbolicLink(Path.Combine(source, "x"), Path.Combine(temp.Path, "recv", "x"));
        string swapped = Dated(TestFiles.Create(Path.Combine(source, "a", "b", "g"), 100, seed: 2));
        string elsewhere = Dated(TestFiles.Create(Path.Combine(temp.Path, "victim", "g"), 100, seed: 3));
        string plain = Dated(TestFiles.Create(Path.Combine(source, "p", "q"), 100, seed: 4));
        string link = Path.Combine(source, "config");
        File.CreateSymbolicLink(link, Path.Combine(temp.Path, "victim"));
        string[] paths = [$"{source}/./x/f", $"{source}/./a/b/g", $"{source}/./p", $"{source}/./config"];
        var scanned = SourceScanner.Scan(paths, null, [], rules: new() { Relative = true });
        Directory.Move(Path.Combine(source, "a", "b"), Path.Combine(source, "a", "b.old"));
        File.CreateSymbolicLink(Path.Combine(source, "a", "b"), Path.Combine(temp.Path, "victim"));

        var (removed, kept) = SourceRemoval.Remove(scanned, paths, relative: true);

        Assert.Equal(2, removed);
        Assert.False(File.Exists(plain));
        Assert.False(Path.Exists(link));
        Assert.True(File.Exists(throughLink));
        Assert.True(File.Exists(elsewhere));
        Assert.True(File.Exists(Path.Combine(source, "a", "b.old", "g")));
        Assert.Equal([Path.Combine(source, "a", "b", "g"), Path.Combine(source, "x", "f")], kept.Select(k => k.Path).Order());
        Assert.All(kept, k => Assert.Equal("a directory on its path is a link, or is gone", k.Reason));
    }

    /// <summary>The guard takes one lock for each directory where sources land, however many sources land there.</summary>
    [Fact]
    public void The_guard_locks_each_landing_directory_once()
    {
        using var temp = new TempDirectory();
        string source = temp.Sub("src");
        string[] paths = [.. Enumerable.Range(0, 3000).Select(i => TestFiles.Create(Path.Combine(source, $"f{i}"), 1))];

        using (var held = SourceRemoval.Guard(paths, relative: false))
            Assert.Equal(1, held.Count);
        using (var held = SourceRemoval.Guard([.. paths.Select(path => path.Replace("/src/", "/src/./"))], relative: true))
            Assert.Equal(1, held.Count);
    }

    /// <summary>A file changed in size or time, or swapped for a link, and a link pointed elsewhere, are kept and named; one removed meanwhile is passed over.</summary>
    [Fact]
    public void What_changed_after_the_scan_is_kept_and_named()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        string grown = Dated(TestFiles.Create(Path.Combine(tree, "grown"), 100, seed: 1));
        string touched = Dated(TestFiles.Create(Path.Combine(tree, "touched"), 100, seed: 2));
        string swapped = Dated(TestFiles.Create(Path.Combine(tree, "swapped"), 100, seed: 3));
        string gone = Dated(TestFiles.Create(Path.Combine(tree, "gone"), 100, seed: 4));
        string link = Path.Combine(tree, "link");
        File.CreateSymbolicLink(link, "grown");
        var scanned = SourceScanner.Scan([tree], null, []);
        File.AppendAllText(grown, "more");
        File.SetLastWriteTimeUtc(touched, Then.AddSeconds(1));
        File.Delete(swapped);
        File.CreateSymbolicLink(swapped, "touched");
        File.Delete(gone);
        File.Delete(link);
        File.CreateSymbolicLink(link, "touched");

        var (removed, kept) = SourceRemoval.Remove(scanned, [tree], relative: false);

        Assert.Equal(0, removed);
        Assert.Equal(
            [(grown, "it changed after it was read (104 bytes now, 100 sent)"), (link, "it is no longer the link that was sent"), (swapped, "it is a link now"), (touched, "it was modified after it was read")],
            kept.Select(k => (k.Path, k.Reason)).Order());
    }

    /// <summary>A further name (hard link) goes only while it still names the file sent under its first name; then both go.</summary>
    [Fact]
    public void A_further_name_goes_only_while_it_names_the_file_sent()
    {
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        string first = Dated(TestFiles.Create(Path.Combine(tree, "a"), 100, seed: 1));
        SpecialFiles.Link(first, Path.Combine(tree, "b"));
        string pair = Dated(TestFiles.Create(Path.Combine(tree, "c"), 100, seed: 2));
        string relinked = Path.Combine(tree, "d");
        SpecialFiles.Link(pair, relinked);
        var scanned = SourceScanner.Scan([tree], null, [], rules: new() { HardLinks = true });
        // d becomes a file of its own, as c was.
        File.Delete(relinked);
        File.Copy(pair, relinked);
        File.SetLastWriteTimeUtc(relinked, Then);

        var (removed, kept) = SourceRemoval.Remove(scanned, [tree], relative: false);

        Assert.Equal(3, removed);
        Assert.Equal([relinked], Directory.EnumerateFiles(tree));
        Assert.Equal((relinked, $"it is no longer a name of '{pair}'"), (Assert.Single(kept).Path, kept[0].Reason));
    }

    /// <summary>
    /// A FIFO, socket or device goes only while it is what was sent: one of another type or number since, or a FIFO
    /// written through since (a later mtime), stays and is named; one unchanged goes.
    /// </summary>
    [SkippableFact]
    public void A_special_changed_since_the_scan_stays()
    {
        Skip.IfNot(OperatingSystem.IsLinux() && Environment.IsPrivilegedProcess, "making devices needs root on Linux");
        using var temp = new TempDirectory();
        string tree = temp.Sub("src/tree");
        string same = Dated(TestFiles.CreateFifo(Path.Combine(tree, "same")));
        string written = Dated(TestFiles.CreateFifo(Path.Combine(tree, "written")));
        string retyped = Path.Combine(tree, "retyped");
        SpecialFiles.Make(retyped, Engine.Protocol.SpecialTypes.CharacterDevice, 0, (1, 3));
        Dated(retyped);
        string renumbered = Path.Combine(tree, "renumbered");
        SpecialFiles.Make(renumbered, Engine.Protocol.SpecialTypes.CharacterDevice, 0, (1, 3));
        Dated(renumbered);
        var scanned = SourceScanner.Scan([tree], null, [], rules: new ScanRules { Devices = true, Specials = true });
        File.SetLastWriteTimeUtc(written, Then.AddSeconds(1));
        File.Delete(retyped);
        Dated(TestFiles.CreateFifo(retyped));
        File.Delete(renumbered);
        SpecialFiles.Make(renumbered, Engine.Protocol.SpecialTypes.CharacterDevice, 0, (1, 5));
        Dated(renumbered);

        var (removed, kept) = SourceRemoval.Remove(scanned.Where(entry => entry.Entry.Kind != Engine.Protocol.EntryKind.Directory).ToList(), [tree], relative: false);

        Assert.Equal(1, removed);
        Assert.False(Path.Exists(same));
        Assert.Equal(
            [(renumbered, "it is no longer the character device that was sent"), (retyped, "it is no longer the character device that was sent"), (written, "it was modified after it was read")],
            kept.Select(source => (source.Path, source.Reason)).Order());
    }

    private static string Dated(string path)
    {
        File.SetLastWriteTimeUtc(path, Then);
        return path;
    }
}
