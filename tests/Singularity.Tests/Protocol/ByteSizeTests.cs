using Singularity.Engine;

namespace Singularity.Tests.Protocol;

public sealed class ByteSizeTests
{
    [Theory]
    [InlineData("4096", 4096)]
    [InlineData("4KiB", 4096)]
    [InlineData("4k", 4096)]
    [InlineData("1MiB", 1 << 20)]
    [InlineData("1.5 MiB", 3 << 19)]
    [InlineData("2GiB", 2L << 30)]
    [InlineData("1T", 1L << 40)]
    public void Sizes_parse(string text, long expected)
    {
        Assert.True(ByteSize.TryParse(text, out long bytes));
        Assert.Equal(expected, bytes);
    }

    [Theory]
    [InlineData("")]
    [InlineData("MiB")]
    [InlineData("4 parsecs")]
    [InlineData("-4k")]
    public void Nonsense_does_not_parse(string text) => Assert.False(ByteSize.TryParse(text, out _));

    [Fact]
    public void Url_parses_and_prints()
    {
        var url = ConnectionUrl.Parse("sglty://10.1.2.3:9000/");
        Assert.Equal(("10.1.2.3", 9000), (url.Host, url.Port));
        Assert.Equal("sglty://10.1.2.3:9000/", url.ToString());
        Assert.Equal(ConnectionUrl.DefaultPort, ConnectionUrl.Parse("sglty://host/").Port);
        Assert.Equal("::1", ConnectionUrl.Parse("sglty://[::1]:7/").Host);
        Assert.Throws<FormatException>(() => ConnectionUrl.Parse("http://host:1/"));
    }
}
