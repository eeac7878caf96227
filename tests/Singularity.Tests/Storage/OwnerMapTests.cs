using Singularity.Engine.Storage;

namespace Singularity.Tests.Storage;

/// <summary>rsync's --usermap and --groupmap pairs, read and matched as rsync 3.x reads and matches them (uidlist.c's parse_name_map).</summary>
public sealed class OwnerMapTests
{
    [SkippableTheory]
    // The first pair that matches decides: a name, a range, then '*'.
    [InlineData("daemon:6000,0-99:5000,*:7000", 1u, 6000u)]
    [InlineData("daemon:6000,0-99:5000,*:7000", 2u, 5000u)]
    [InlineData("daemon:6000,0-99:5000,*:7000", 4242u, 7000u)]
    [InlineData("0-99:5000,daemon:6000", 1u, 5000u)]
    // Wildcards match names, never numbers.
    [InlineData("d?emon:6000,b*:6001", 1u, 6000u)]
    [InlineData("d?emon:6000,b*:6001", 2u, 6001u)]
    [InlineData("d?emon:6000,b*:6001", 3u, 3u)]
    [InlineData("[0-9]*:6000", 4242u, 4242u)]
    // An empty FROM matches the ids with no name here alone; '*' matches those too.
    [InlineData(":8000", 4242u, 8000u)]
    [InlineData(":8000", 1u, 1u)]
    [InlineData("*:8000", 4242u, 8000u)]
    // A number, and a range of one.
    [InlineData("2:9,4242-4242:10", 2u, 9u)]
    [InlineData("2:9,4242-4242:10", 4242u, 10u)]
    // TO by name, as this system knows it.
    [InlineData("daemon:bin", 1u, 2u)]
    public void The_first_pair_that_matches_gives_the_id(string pairs, uint id, uint given)
    {
        Skip.IfNot(OperatingSystem.IsLinux() && AccountNames.UserName(1) == "daemon" && AccountNames.UserName(2) == "bin" && AccountNames.UserName(3) == "sys" && AccountNames.UserName(4242) is null,
            "needs the users daemon (1), bin (2) and sys (3), and none at 4242, as Debian has them");
        var map = OwnerMap.Parse(pairs, groups: false, numericIds: false, "UserMap");
        Assert.Equal(given, map.Map(id));
    }

    [SkippableFact]
    public void Groups_are_matched_by_their_own_names()
    {
        Skip.IfNot(OperatingSystem.IsLinux() && AccountNames.GroupName(4) == "adm" && AccountNames.UserName(4) != "adm", "needs the group adm (4), as Debian has it, and no user of that name at 4");
        Assert.Equal(7u, OwnerMap.Parse("adm:7", groups: true, numericIds: false, "GroupMap").Map(4));
        Assert.Equal(4u, OwnerMap.Parse("adm:7", groups: false, numericIds: false, "UserMap").Map(4));
    }

    [SkippableFact]
    public void With_numeric_ids_every_id_is_matched_as_one_without_a_name()
    {
        Skip.IfNot(OperatingSystem.IsLinux() && AccountNames.UserName(1) == "daemon", "needs the user daemon (1)");
        var map = OwnerMap.Parse("daemon:6000,:8000", groups: false, numericIds: true, "UserMap");
        Assert.Equal(8000u, map.Map(1));
        Assert.Equal(8000u, map.Map(0));
        Assert.Equal(6000u, OwnerMap.Parse("daemon:6000,:8000", groups: false, numericIds: false, "UserMap").Map(1));
    }

    [Fact]
    public void A_first_pair_of_star_needs_no_id_and_others_do()
    {
        Assert.True(OwnerMap.Parse("*:10", groups: false, numericIds: false, "UserMap").MapsAll);
        Assert.Equal(10u, OwnerMap.Parse("*:10", groups: false, numericIds: false, "UserMap").Map(null));
        Assert.True(OwnerMap.All("10", groups: true, "ChownGroup").MapsAll);
        var some = OwnerMap.Parse("5:10,*:11", groups: false, numericIds: false, "UserMap");
        Assert.False(some.MapsAll);
        Assert.Null(some.Map(null));
        Assert.Equal([10u, 11u], some.ByNumber);
    }

    [SkippableFact]
    public void A_name_given_travels_as_a_name()
    {
        Skip.IfNot(OperatingSystem.IsLinux() && AccountNames.UserId("bin") == 2, "needs the user bin (2)");
        var map = OwnerMap.Parse("1:bin,3:9", groups: false, numericIds: false, "UserMap");
        Assert.Equal([9u], map.ByNumber);
    }

    [Theory]
    [InlineData("", "takes FROM:TO pairs separated by commas, and '' is not one")]
    [InlineData("daemon", "takes FROM:TO pairs separated by commas, and 'daemon' is not one")]
    [InlineData("a:b:c", "and 'a:b:c' is not one")]
    [InlineData("1:2,", "and '' is not one")]
    [InlineData("9-5:1", "the range '9-5' ends before it starts")]
    [InlineData("5-:1", "'5-' starts with a digit but is neither a number nor a range LOW-HIGH")]
    [InlineData("1-2-3:1", "'1-2-3' starts with a digit")]
    [InlineData("1abc:1", "'1abc' starts with a digit")]
    [InlineData("1:", "an empty user name to give")]
    [InlineData("1:4294967295", "user id 4294967295 is out of range")]
    [InlineData("99999999999:1", "user id 99999999999 is out of range")]
    [InlineData("1:no-such-user-here", "no user 'no-such-user-here' here; give its number")]
    public void What_is_not_a_map_is_refused_naming_the_option(string pairs, string why)
    {
        var refused = Assert.Throws<ArgumentException>(() => OwnerMap.Parse(pairs, groups: false, numericIds: false, "UserMap"));
        Assert.Equal("UserMap", refused.ParamName);
        Assert.Contains(why, refused.Message);
    }
}
