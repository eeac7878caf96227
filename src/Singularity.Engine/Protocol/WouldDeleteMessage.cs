namespace Singularity.Engine.Protocol;

/// <summary>
/// Body of a WouldDelete message (a dry run's deletion, R→S): a path list (<see cref="PathListMessage"/>) of paths
/// relative to the destination, a directory's ending in '/' (PROTOCOL §3).
/// </summary>
internal static class WouldDeleteMessage
{
    /// <summary>Paths a dry run names, at most; more are only counted (SessionDone), so neither side holds a huge list.</summary>
    public const int MostNamed = 100_000;

    /// <summary>UTF-8 bytes of all the paths a dry run names, at most.</summary>
    public const int MostBytes = 16 << 20;

    /// <summary>The bodies that carry <paramref name="paths"/>, in order.</summary>
    public static IEnumerable<byte[]> Encode(IReadOnlyList<string> paths) => PathListMessage.Encode(paths);

    /// <summary>
    /// Adds the paths of a received body to <paramref name="paths"/>, and their bytes to <paramref name="bytes"/>;
    /// throws <see cref="ProtocolViolationException"/> for a malformed body, or one beyond <see cref="MostNamed"/> paths
    /// or <see cref="MostBytes"/> bytes in all.
    /// </summary>
    // A directory's path carries one more byte, its '/'.
    public static void Decode(ReadOnlySpan<byte> body, int maxPathBytes, List<string> paths, ref long bytes) =>
        PathListMessage.Decode(body, ControlMessageType.WouldDelete, maxPathBytes + 1, MostNamed, MostBytes, paths, ref bytes);
}
