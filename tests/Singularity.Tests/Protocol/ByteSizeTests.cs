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
        // A bare HOST:PORT whose host happens to be the scheme's name is still a host and a port.
        Assert.Equal(("sglty", 7700), (ConnectionUrl.Parse("sglty:7700").Host, ConnectionUrl.Parse("sglty:7700").Port));
        Assert.Equal(("sglty", 7700, "t"), (ConnectionUrl.Parse("sglty:7700/?token=t").Host, ConnectionUrl.Parse("sglty:7700/?token=t").Port, ConnectionUrl.Parse("sglty:7700/?token=t").Token));
    }

    /// <summary>A slash missing made "sglty:/host:1/" a host named "sglty"; and the error, which users paste into logs, must not carry the token.</summary>
    [Theory]
    [InlineData("sglty:/127.0.0.1:40101/?token=s3cret", "'sglty:/127.0.0.1:40101/?token=…' is not a connection URL")]
    [InlineData("sglty:127.0.0.1:40101/?token=s3cret&x=1", "'sglty:127.0.0.1:40101/?token=…&x=1' is not a connection URL")]
    [InlineData("http://h:1/?token=s3cret", "'http://h:1/?token=…' is not a connection URL")]
    [InlineData("http://h:1/?token=a&TOKEN=s3cret", "'http://h:1/?token=…&TOKEN=…' is not a connection URL")]
    [InlineData("sglty://h:1/some/sub?token=s3cret", "'sglty://h:1/some/sub?token=…' names a directory ('/some/sub'), but files go where the receiver's --dir says")]
    public void A_malformed_url_is_refused_without_showing_its_token(string text, string start)
    {
        var error = Assert.Throws<FormatException>(() => ConnectionUrl.Parse(text));
        Assert.StartsWith(start, error.Message);
        Assert.DoesNotContain("s3cret", error.Message);
    }
}
