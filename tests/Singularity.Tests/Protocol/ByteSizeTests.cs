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
        Assert.Null(ConnectionUrl.Parse("sglty://h:1/?token=t").Directory);
    }

    /// <summary>A path in the URL names a directory below the receiver's, however its slashes run, and prints back as given: with its last '/' or without.</summary>
    [Theory]
    [InlineData("sglty://h:1/backups/web1?token=t", "backups/web1", "sglty://h:1/backups/web1?token=t")]
    [InlineData("sglty://h:1//backups//web1//?token=t", "backups/web1", "sglty://h:1/backups/web1/?token=t")]
    [InlineData("h:1/day%201/", "day 1", "sglty://h:1/day%201/")]
    [InlineData("sglty://[::1]:1/d?token=t", "d", "sglty://[::1]:1/d?token=t")]
    [InlineData("sglty://h:1/caf%C3%A9/#x", "café", "sglty://h:1/caf%C3%A9/")]
    [InlineData("sglty://h:1/café/50%25 ", "café/50%", "sglty://h:1/caf%C3%A9/50%25")]
    [InlineData("sglty://h:1/e%3Ff%23/?token=a/b", "e?f#", "sglty://h:1/e%3Ff%23/?token=a%2Fb")]
    public void A_path_names_a_directory_below_the_receivers(string text, string directory, string printed)
    {
        var url = ConnectionUrl.Parse(text);
        Assert.Equal(directory, url.Directory);
        Assert.Equal(printed, url.ToString());
        Assert.Equal(url, ConnectionUrl.Parse(printed));
    }

    /// <summary>A slash missing made "sglty:/host:1/" a host named "sglty"; and the error, which users paste into logs, must not carry the token.</summary>
    [Theory]
    [InlineData("sglty:/127.0.0.1:40101/?token=s3cret", "'sglty:/127.0.0.1:40101/?token=…' is not a connection URL")]
    [InlineData("sglty:127.0.0.1:40101/?token=s3cret&x=1", "'sglty:127.0.0.1:40101/?token=…&x=1' is not a connection URL")]
    [InlineData("http://h:1/?token=s3cret", "'http://h:1/?token=…' is not a connection URL")]
    [InlineData("http://h:1/?token=a&TOKEN=s3cret", "'http://h:1/?token=…&TOKEN=…' is not a connection URL")]
    [InlineData("sglty://h:1/some/../sub?token=s3cret", "'sglty://h:1/some/../sub?token=…' names a directory with '..' in its path")]
    [InlineData("sglty://h:1/./sub?token=s3cret", "'sglty://h:1/./sub?token=…' names a directory with '.' in its path")]
    [InlineData("sglty://h:1/a%2F..%2Fb/?token=s3cret", "'sglty://h:1/a%2F..%2Fb/?token=…' names a directory with 'a/../b' in its path")]
    [InlineData("sglty://h:1/%2E%2E/?token=s3cret", "'sglty://h:1/%2E%2E/?token=…' names a directory with '..' in its path")]
    [InlineData("sglty://h:1/a%zz/?token=s3cret", "'sglty://h:1/a%zz/?token=…' names a directory with 'a%zz' in its path, which is not UTF-8 written as a URL writes it")]
    [InlineData("sglty://h:1/%C0%AE%C0%AE/?token=s3cret", "'sglty://h:1/%C0%AE%C0%AE/?token=…' names a directory with '%C0%AE%C0%AE' in its path, which is not UTF-8")]
    [InlineData("sglty://h:1/e?f/?token=s3cret", "'sglty://h:1/e?f/?token=…' has a '?' or '#' inside its directory's path, which cuts the URL there; write them in a name as %3F and %23")]
    [InlineData("sglty://h:1/x#y/?token=s3cret", "'sglty://h:1/x#y/?token=…' has a '?' or '#' inside its directory's path")]
    [InlineData("sglty://h:1/a%2/?token=s3cret", "'sglty://h:1/a%2/?token=…' names a directory with 'a%2' in its path, which is not UTF-8")]
    public void A_malformed_url_is_refused_without_showing_its_token(string text, string start)
    {
        var error = Assert.Throws<FormatException>(() => ConnectionUrl.Parse(text));
        Assert.StartsWith(start, error.Message);
        Assert.DoesNotContain("s3cret", error.Message);
    }
}
