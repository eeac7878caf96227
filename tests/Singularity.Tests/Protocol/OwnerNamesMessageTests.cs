using Singularity.Engine;
using Singularity.Engine.Protocol;
using Singularity.Engine.Storage;

namespace Singularity.Tests.Protocol;

/// <summary>OwnerNames travels unchanged, and a receiver refuses a malformed one; names and ids are looked up as the system gives them.</summary>
public sealed class OwnerNamesMessageTests
{
    [Fact]
    public void Names_survive_the_wire()
    {
        OwnerName[] names = [new(false, 0, "root"), new(true, 0, "root"), new(false, 4242, "dæmon-日本"), new(true, 4242, new string('g', 255))];
        Assert.Equal(names, OwnerNamesMessage.Decode(OwnerNamesMessage.Encode(names)));
    }

    [Fact]
    public void A_malformed_body_is_a_protocol_violation()
    {
        byte[] good = OwnerNamesMessage.Encode([new(false, 7, "ab")]);
        Assert.Single(OwnerNamesMessage.Decode(good));
        AssertRefused([], ErrorCode.ProtocolViolation);
        AssertRefused(good[..^1], ErrorCode.ProtocolViolation);
        AssertRefused([.. good, 0], ErrorCode.ProtocolViolation);
        AssertRefused([0, 0], ErrorCode.LimitExceeded);
        AssertRefused([1, 9, 0, 0, 0, 0, 0, 0], ErrorCode.LimitExceeded);
        AssertRefused([1, 0, 2, 7, 0, 0, 0, 1, (byte)'a'], ErrorCode.ProtocolViolation);
        AssertRefused([1, 0, 0, 7, 0, 0, 0, 0], ErrorCode.ProtocolViolation);
        AssertRefused([1, 0, 0, 7, 0, 0, 0, 2, 0xC3, 0x28], ErrorCode.ProtocolViolation);
        AssertRefused([1, 0, 0, 7, 0, 0, 0, 1, 0], ErrorCode.ProtocolViolation);
        // The same user twice; a user and a group of one id are two names.
        AssertRefused(OwnerNamesMessage.Encode([new(false, 7, "a"), new(false, 7, "b")]), ErrorCode.ProtocolViolation);
        Assert.Equal(2, OwnerNamesMessage.Decode(OwnerNamesMessage.Encode([new(false, 7, "a"), new(true, 7, "a")])).Count);
        Assert.Equal(ErrorCode.LimitExceeded, Assert.Throws<ProtocolViolationException>(() =>
            OwnerNamesMessage.Decode(OwnerNamesMessage.Encode([.. Enumerable.Range(0, OwnerNamesMessage.MostNames + 1).Select(i => new OwnerName(false, (uint)i, "u"))]))).Code);
    }

    [SkippableFact]
    public void Names_and_ids_are_the_systems()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "names are looked up on Linux");
        Assert.Equal("root", AccountNames.UserName(0));
        Assert.Equal("root", AccountNames.GroupName(0));
        Assert.Equal(0u, AccountNames.UserId("root"));
        Assert.Equal(0u, AccountNames.GroupId("root"));
        Assert.Null(AccountNames.UserId("no-such-user-of-sglty"));
        Assert.Null(AccountNames.GroupId("no-such-group-of-sglty"));
        Assert.Null(AccountNames.UserName(4_000_000_000));
        Assert.False(OwnerNamesMessage.Fits(""));
        Assert.False(OwnerNamesMessage.Fits(new string('x', 256)));
    }

    private static void AssertRefused(byte[] body, ErrorCode code) =>
        Assert.Equal(code, Assert.Throws<ProtocolViolationException>(() => OwnerNamesMessage.Decode(body)).Code);
}
