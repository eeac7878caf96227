using Microsoft.Win32.SafeHandles;

namespace Singularity.Engine.Storage;

/// <summary>
/// The roots a send's files are opened below (<see cref="SourceEntry.Root"/>), each opened once (O_PATH, through
/// links, as the user named it) and held until the session ends, where every file opened one more and closed it. A
/// few dozen at most are held (a list of many roots opens each for each file, as before). Linux only: elsewhere
/// nothing is held.
/// </summary>
internal sealed class SourceRoots : IDisposable
{
    private const int MostHeld = 64;
    private readonly Dictionary<string, SafeFileHandle> _held = new(StringComparer.Ordinal);
    private bool _disposed;

    /// <summary>The root <paramref name="root"/>, opened; null where it is not held (it cannot be opened, too many are held, or the session ended): the caller then opens it for itself.</summary>
    public SafeFileHandle? Of(string root)
    {
        if (!OperatingSystem.IsLinux()) return null;
        lock (_held)
        {
            if (_disposed) return null;
            if (_held.TryGetValue(root, out var held)) return held;
            if (_held.Count >= MostHeld) return null;
            try
            {
                held = SpecialFiles.OpenPath(root);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or EntryPointNotFoundException or DllNotFoundException)
            {
                // Not kept: the file's own open says what is wrong, and a root that comes back is found.
                return null;
            }
            _held[root] = held;
            return held;
        }
    }

    /// <summary>
    /// Opens the regular file <paramref name="source"/> names below its root (<see cref="SpecialFiles.OpenRegularBelow(string, string)"/>),
    /// the root held by <paramref name="roots"/> where given; one let go of meanwhile (the session ends) is opened for
    /// this file alone, as is a root that is the file itself.
    /// </summary>
    public static SafeFileHandle? OpenRegular(SourceRoots? roots, SourceEntry source)
    {
        string below = source.Below;
        try
        {
            return SpecialFiles.OpenRegularBelow(source.Root, below, below.Length == 0 ? null : roots?.Of(source.Root));
        }
        catch (ObjectDisposedException)
        {
            return SpecialFiles.OpenRegularBelow(source.Root, below);
        }
    }

    public void Dispose()
    {
        lock (_held)
        {
            _disposed = true;
            foreach (var handle in _held.Values) handle.Dispose();
            _held.Clear();
        }
    }
}
