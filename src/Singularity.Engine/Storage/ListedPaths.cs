namespace Singularity.Engine;

/// <summary>
/// The paths a --files-from list names, as rsync reads them: each relative to one directory (a leading '/' too), and
/// kept as named below it, so that a send with <see cref="TransferOptions.Relative"/> recreates it; a "/./" in a name
/// marks where its kept part starts, and "." is all of the directory.
/// </summary>
public static class ListedPaths
{
    /// <summary>The path a send takes for <paramref name="name"/> of a list below <paramref name="directory"/>.</summary>
    public static string Join(string directory, string name)
    {
        ArgumentNullException.ThrowIfNull(directory);
        ArgumentNullException.ThrowIfNull(name);
        string root = directory.TrimEnd('/');
        name = name.TrimStart('/');
        return name is "." or "./" ? root + "/./" : name.Contains("/./", StringComparison.Ordinal) ? $"{root}/{name}" : $"{root}/./{name}";
    }
}
