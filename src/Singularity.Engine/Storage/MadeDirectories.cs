namespace Singularity.Engine.Storage;

/// <summary>
/// The directories made for a transfer here (a pull's target, a copy's), so that one that does not go through leaves
/// none of them behind empty, as rsync makes nothing before it is connected.
/// </summary>
internal static class MadeDirectories
{
    /// <summary>The directories that making <paramref name="directory"/> would make, outermost first.</summary>
    public static List<string> Missing(string directory)
    {
        var missing = new List<string>();
        for (string? at = directory; at is not null && !Directory.Exists(at); at = Path.GetDirectoryName(at)) missing.Insert(0, at);
        return missing;
    }

    /// <summary>Removes each of <paramref name="made"/> (outermost first) that holds nothing, the deepest first: one that holds anything stays, and so do those above it.</summary>
    public static void RemoveEmpty(IReadOnlyList<string> made)
    {
        for (int i = made.Count - 1; i >= 0; i--)
        {
            try
            {
                Directory.Delete(made[i]);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Something is in it after all, or it went: it stays as it is.
            }
        }
    }
}
