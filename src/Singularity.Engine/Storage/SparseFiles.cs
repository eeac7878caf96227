using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Singularity.Engine.Storage;

/// <summary>
/// Holes: ranges of a file that read as zeros and take no space (a disk image's free blocks, a database's unused
/// pages). With <see cref="TransferOptions.Sparse"/>, the sender names a shard that lies wholly in a hole instead of
/// reading and sending it, and the receiver leaves holes where a shard holds a long enough run of zeros, as
/// <c>rsync --sparse</c> does. Linux only asks the file system; elsewhere nothing is a hole and zeros are written.
/// </summary>
internal static class SparseFiles
{
    /// <summary>Runs of zeros shorter than this are written: a hole of a few blocks saves little and costs a call.</summary>
    public const int MinHole = 64 << 10;

    /// <summary>Holes begin and end on blocks of this size, counted from the start of the file.</summary>
    private const int Block = 4 << 10;

    private static readonly byte[] Zeros = new byte[64 << 10];

    /// <summary>
    /// Whether the file holds no data from <paramref name="offset"/> for <paramref name="length"/> bytes, as
    /// <c>lseek(SEEK_DATA)</c> tells: the next data starts at or beyond the range's end, or nowhere. False where the
    /// system cannot tell, and then the range is read as usual.
    /// </summary>
    public static bool IsHole(SafeFileHandle handle, long offset, int length)
    {
        // The calls below are bound with 64-bit offsets, which only the 64-bit C libraries take.
        if (!OperatingSystem.IsLinux() || !Environment.Is64BitProcess) return false;
        long data;
        try
        {
            data = lseek(handle, offset, SeekData);
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            return false;
        }
        // ENXIO: no data at or after the offset. A file that shrank below it meanwhile answers the same; the sender's
        // check that the file is as the scan saw it, after its last read, refuses that one.
        return data >= 0 ? data >= offset + length : Marshal.GetLastPInvokeError() == NoSuchAddress;
    }

    /// <summary>
    /// Makes the range read as zeros: a hole where the file system can punch one, else zeros written. A partial
    /// resumed from an earlier session may hold old bytes there, so the range is never simply skipped.
    /// </summary>
    public static void Zero(SafeFileHandle handle, long offset, int length)
    {
        if (length <= 0) return;
        if (TryPunch(handle, offset, length)) return;
        for (int done = 0; done < length; done += Zeros.Length)
            RandomAccess.Write(handle, Zeros.AsSpan(0, Math.Min(Zeros.Length, length - done)), offset + done);
    }

    /// <summary>
    /// Writes <paramref name="data"/> at <paramref name="offset"/>, leaving every run of zeros of at least
    /// <see cref="MinHole"/> bytes on whole blocks as a hole (<see cref="Zero"/>). Without allocating: the runs are
    /// found block by block in the shard the lane already holds.
    /// </summary>
    public static void WriteLeavingHoles(SafeFileHandle handle, ReadOnlySpan<byte> data, long offset)
    {
        // data[..written] is on its way to the disk; a run of zeros is looked for from each block boundary on.
        int written = 0;
        int position = (int)Math.Min(data.Length, (Block - offset % Block) % Block);
        while (position < data.Length)
        {
            int run = position;
            while (run < data.Length)
            {
                int end = Math.Min(data.Length, run + Block);
                if (data[run..end].ContainsAnyExcept((byte)0)) break;
                run = end;
            }
            if (run - position >= MinHole)
            {
                if (position > written) RandomAccess.Write(handle, data[written..position], offset + written);
                Zero(handle, offset + position, run - position);
                written = run;
            }
            // The block at the run's end holds data: the next run can start after it.
            position = run + Block;
        }
        if (written < data.Length) RandomAccess.Write(handle, data[written..], offset + written);
    }

    private static bool TryPunch(SafeFileHandle handle, long offset, int length)
    {
        if (!OperatingSystem.IsLinux() || !Environment.Is64BitProcess) return false;
        try
        {
            // EOPNOTSUPP (a file system without holes) and any other refusal: the zeros are written instead, and a
            // real I/O error shows there.
            return fallocate(handle, PunchHole | KeepSize, offset, length) == 0;
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            return false;
        }
    }

    private const int SeekData = 3;
    private const int NoSuchAddress = 6;
    private const int KeepSize = 1;
    private const int PunchHole = 2;

    // A handle passed as such is kept from closing for the call's length. off_t is 64 bits on the 64-bit Linux ABIs.
#pragma warning disable SYSLIB1054
    [DllImport("libc", EntryPoint = "lseek", SetLastError = true)]
    private static extern long lseek(SafeFileHandle descriptor, long offset, int whence);

    [DllImport("libc", EntryPoint = "fallocate", SetLastError = true)]
    private static extern int fallocate(SafeFileHandle descriptor, int mode, long offset, long length);
#pragma warning restore SYSLIB1054
}
