namespace Singularity.Engine.Storage;

/// <summary>
/// The Linux error numbers the storage code tells apart (the same on the architectures it knows), as the C library
/// reports them and as .NET leaves them in an <see cref="IOException"/>'s HResult on Unix.
/// </summary>
internal static class Errno
{
    public const int NotPermitted = 1;
    public const int NoEntry = 2;
    public const int TooBig = 7;
    public const int WouldBlock = 11;
    public const int AccessDenied = 13;
    public const int Exists = 17;
    public const int CrossDevice = 18;
    public const int NotADirectory = 20;
    public const int IsADirectory = 21;
    public const int InvalidArgument = 22;
    public const int NoSpace = 28;
    public const int OutOfRange = 34;
    public const int NameTooLong = 36;
    public const int NoSystemCall = 38;
    public const int TooManyLinks = 40;
    public const int NoData = 61;
    public const int Overflow = 75;
    public const int IllegalByteSequence = 84;
    public const int NotSupported = 95;

    /// <summary>
    /// The exception .NET would throw for <paramref name="error"/>, without the path: permission denied, no such file,
    /// or an <see cref="IOException"/> that keeps the number in its HResult, so that callers can tell what failed. Its
    /// words are the C library's, begun in lower case as the others are ("not a directory"; an acronym stays).
    /// </summary>
    public static Exception ToException(int error) => error switch
    {
        NoEntry => new FileNotFoundException("no such file"),
        NotPermitted or AccessDenied => new UnauthorizedAccessException("permission denied"),
        _ => new IOException(InLowerCase(System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(error)), error),
    };

    private static string InLowerCase(string words) =>
        words.Length > 1 && char.IsUpper(words[0]) && char.IsLower(words[1]) ? char.ToLowerInvariant(words[0]) + words[1..] : words;
}
