using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Singularity.Engine.Storage;

/// <summary>
/// Keeps a second receiver out of a destination while one runs: an exclusive flock on the destination directory
/// itself, so nothing is written there for it, and the kernel lets go when the process ends however it ends. Two
/// receivers in one destination would not share their removal gate (see RemovalGate), so a directory one removes
/// could be turned into a link under the other's sessions. Linux only; elsewhere, and where the lock cannot be taken
/// at all (a file system without flock), nothing is locked.
/// </summary>
internal sealed class DestinationLock : IDisposable
{
    private readonly SafeFileHandle _handle;

    private DestinationLock(SafeFileHandle handle) => _handle = handle;

    /// <summary>Locks <paramref name="directory"/>; throws a <see cref="SingularityException"/> (Busy) if another receiver holds it; null where nothing could be locked.</summary>
    public static DestinationLock? Take(string directory)
    {
        if (SpecialFiles.OpenReadOnly(directory) is not { } handle) return null;
        if (SpecialFiles.Flock(handle, SpecialFiles.LockExclusive | SpecialFiles.LockNonBlocking) == 0) return new DestinationLock(handle);
        int error = Marshal.GetLastPInvokeError();
        handle.Dispose();
        if (error == Errno.WouldBlock)
            throw new SingularityException(ErrorCode.Busy, $"another process holds a lock on '{Path.TrimEndingDirectorySeparator(directory)}': another sglty receiver receiving into it (a recv, one a send to HOST:DIR started, a pull, or a copy on this machine), or a sglty send moving files out of it (--remove-source-files); one receiver at a time per directory: wait for it, or give another directory");
        return null;
    }

    // Sessions of one receiver probe one at a time, so that one's probe is not taken for a sender's lock by another.
    private static readonly Lock Probing = new();

    /// <summary>
    /// Whether another process holds a lock on <paramref name="directory"/>: a send moving files out of it
    /// (<see cref="SourceRemoval"/>'s shared lock), or another receiver in it. Probed with an exclusive lock let go at
    /// once; a lock found is looked for again a few times over 50 ms, so that another receiver's probe, as brief, is
    /// not taken for one. False where no lock can be taken (not Linux, a file system without flock).
    /// </summary>
    public static bool HeldElsewhere(string directory)
    {
        for (int attempt = 0; attempt < 6; attempt++)
        {
            if (attempt > 0) Thread.Sleep(10);
            lock (Probing)
            {
                using var handle = SpecialFiles.OpenReadOnly(directory);
                if (handle is null) return false;
                if (SpecialFiles.Flock(handle, SpecialFiles.LockExclusive | SpecialFiles.LockNonBlocking) == 0)
                {
                    SpecialFiles.Unlock(handle);
                    return false;
                }
                if (Marshal.GetLastPInvokeError() != Errno.WouldBlock) return false;
            }
        }
        return true;
    }

    /// <summary>
    /// Takes a shared lock on <paramref name="directory"/>, which a receiver's exclusive one excludes both ways: for a
    /// send that removes its sources (<see cref="SourceRemoval"/>). Null if it could not be taken, with the error
    /// number: <see cref="Errno.WouldBlock"/> when another process holds it exclusively (a receiver).
    /// </summary>
    public static DestinationLock? TryShare(string directory, out int error)
    {
        if (SpecialFiles.OpenReadOnly(directory) is not { } handle)
        {
            error = Marshal.GetLastPInvokeError();
            return null;
        }
        if (SpecialFiles.Flock(handle, SpecialFiles.LockShared | SpecialFiles.LockNonBlocking) == 0)
        {
            error = 0;
            return new DestinationLock(handle);
        }
        error = Marshal.GetLastPInvokeError();
        handle.Dispose();
        return null;
    }

    public void Dispose()
    {
        SpecialFiles.Unlock(_handle);
        _handle.Dispose();
    }
}
