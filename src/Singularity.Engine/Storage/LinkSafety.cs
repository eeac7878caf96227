namespace Singularity.Engine.Storage;

/// <summary>
/// Whether a link points outside the tree it is sent in, judged as rsync judges it for --safe-links and
/// --copy-unsafe-links: from the text of its target alone, never by following it. The top of the tree is the
/// destination: a link whose path is `a/b/link` may climb two levels.
/// </summary>
internal static class LinkSafety
{
    /// <summary>
    /// True when <paramref name="target"/>, read from where the link stands at <paramref name="path"/> (a manifest
    /// path: relative to the destination, '/' between names), is absolute or empty, or climbs with '..' above the top
    /// at any point on its way (`sub/../../x` from the top does, although it ends nowhere near it). As rsync 3.5 also
    /// judges unsafe a target with '..' after any other name (`a/../x`), or one that ends in '/..': the names before
    /// the '..' may later be replaced by links that lead elsewhere.
    /// </summary>
    public static bool IsUnsafe(string target, string path)
    {
        if (target.Length == 0 || target[0] == '/') return true;
        var rest = target.AsSpan();
        while (rest.StartsWith("../")) rest = rest[3..].TrimStart('/');
        if (rest.Contains("/../", StringComparison.Ordinal) || (target.Length > 3 && target.EndsWith("/..", StringComparison.Ordinal))) return true;
        // The directories above the link, down from the top: how far its target may climb.
        int depth = path.AsSpan().Count('/');
        foreach (var range in target.AsSpan().Split('/'))
        {
            var name = target.AsSpan()[range];
            if (name.Length == 0 || name is ".") continue;
            if (name is "..")
            {
                if (--depth < 0) return true;
            }
            else depth++;
        }
        return false;
    }
}
