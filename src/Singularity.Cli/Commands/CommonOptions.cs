using System.CommandLine;
using System.CommandLine.Parsing;
using Singularity.Engine;

namespace Singularity.Cli.Commands;

/// <summary>Options shared by several commands, and the parsers behind them.</summary>
internal static class CommonOptions
{
    public static Option<int> Lanes() => new("--lanes")
    {
        Description = $"data lanes (TCP connections), default {TransferOptions.DefaultLanes}",
        DefaultValueFactory = _ => TransferOptions.DefaultLanes,
    };

    public static Option<long> Size(string name, string description, long defaultValue) => new(name)
    {
        Description = description,
        DefaultValueFactory = _ => defaultValue,
        CustomParser = ParseSize,
    };

    public static Option<bool> Json(string description) => new("--json") { Description = description };

    private static long ParseSize(ArgumentResult result)
    {
        string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
        if (ByteSize.TryParse(text, out long bytes)) return bytes;
        result.AddError($"'{text}' is not a size; use a number with an optional suffix such as 512KiB, 4MiB or 2GiB");
        return 0;
    }

    public static TransferOptions Transfer(int lanes, long shardSize) => new()
    {
        Lanes = lanes,
        ShardSize = (int)Math.Clamp(shardSize, 0, int.MaxValue),
    };
}
