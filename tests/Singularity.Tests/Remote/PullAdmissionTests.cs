using Singularity.Engine;

namespace Singularity.Tests.Remote;

/// <summary>What the receiver of a pull admits from the machine pulled from: only the first names its paths ask for.</summary>
public sealed class PullAdmissionTests
{
    [Theory]
    [InlineData("/srv/data", "data/x/y", true)]
    [InlineData("/srv/data", "data", true)]
    [InlineData("/srv/data", ".bashrc", false)]
    [InlineData("/srv/data", "datum", false)]
    [InlineData("notes.txt", "notes.txt", true)]
    [InlineData("/srv/data/", ".bashrc", true)]
    [InlineData("/srv/data/.", ".bashrc", true)]
    [InlineData("", ".bashrc", true)]
    [InlineData("~", ".bashrc", true)]
    [InlineData("~backup", "anything", true)]
    [InlineData("~/logs", "logs", true)]
    [InlineData("~/logs", "other", false)]
    [InlineData("logs/*.gz", "a.gz", true)]
    [InlineData("logs/*.gz", "a.gz/inside", true)]
    [InlineData("logs/*.gz", ".a.gz", false)]
    [InlineData("logs/*.gz", "a.gzip", false)]
    [InlineData("logs/.*.gz", ".a.gz", true)]
    [InlineData("logs/[ab]?.log", "b1.log", true)]
    [InlineData("logs/[ab]?.log", "c1.log", false)]
    [InlineData("logs/[!ab]*", "c", true)]
    [InlineData("logs/[^ab]*", "a", false)]
    [InlineData("logs/a\\*b", "a*b", true)]
    [InlineData("logs/a\\*b", "aXb", false)]
    [InlineData("*/x.log", "x.log", true)]
    [InlineData("*/x.log", "y.log", false)]
    [InlineData("logs/a.b*", "a.b.c", true)]
    [InlineData("logs/a.b*", "aXb", false)]
    [InlineData("logs/n[1].txt", "n1.txt", true)]
    [InlineData("logs/n[1].txt", "n[1].txt", true)]
    [InlineData("logs/n[1].txt", "n2.txt", false)]
    public void A_path_admits_the_names_it_sends(string path, string entry, bool admitted) =>
        Assert.Equal(admitted, PullAdmission.For([path], new TransferOptions(), null, null).Admits(entry));

    [Fact]
    public void Relative_paths_lists_and_names_admit_their_first_names()
    {
        var relative = new TransferOptions { Relative = true };
        Assert.True(PullAdmission.For(["/srv/./app/logs"], relative, null, null).Admits("app/logs/x"));
        Assert.False(PullAdmission.For(["/srv/./app/logs"], relative, null, null).Admits("srv"));
        Assert.True(PullAdmission.For(["/srv/app"], relative, null, null).Admits("srv/app"));
        Assert.False(PullAdmission.For(["/srv/app"], relative, null, null).Admits(".bashrc"));
        Assert.True(PullAdmission.For(["/srv/./"], relative, null, null).Admits(".bashrc"));
        Assert.True(PullAdmission.For(["~/x"], relative, null, null).Admits("home"));
        // A first name that reads as '~user' is a name like any other below a "/./".
        Assert.True(PullAdmission.For(["/srv/./~backup/x"], relative, null, null).Admits("~backup/x"));

        var listed = PullAdmission.For(["/srv"], relative, null, ["app/a", "lib/./b/c", "./d"]);
        Assert.True(listed.Admits("app/a"));
        Assert.True(listed.Admits("b/c"));
        Assert.True(listed.Admits("d"));
        Assert.False(listed.Admits("lib"));
        Assert.False(listed.Admits(".bashrc"));
        Assert.False(listed.RootCleaned);
        Assert.True(PullAdmission.For(["/srv"], relative, null, ["app/a", "."]).RootCleaned);

        var named = PullAdmission.For(["db.dump"], new TransferOptions(), "db-1206.dump", null);
        Assert.True(named.Admits("db-1206.dump"));
        Assert.False(named.Admits("db.dump"));
        Assert.False(named.Deletion || named.Force || named.NamesDeleted);
        Assert.True(PullAdmission.For(["x"], new TransferOptions { DeleteExtraneous = true, Force = true, DeleteMissingArgs = true }, null, null) is { Deletion: true, Force: true, NamesDeleted: true });
    }
}
