namespace Singularity.Engine;

/// <summary>Why a session ended; sent on the wire as a 16-bit code in Error messages.</summary>
public enum ErrorCode : ushort
{
    /// <summary>No error.</summary>
    None = 0,
    /// <summary>The peer sent something the protocol does not allow.</summary>
    ProtocolViolation = 1,
    /// <summary>The peer speaks another protocol version.</summary>
    VersionUnsupported = 2,
    /// <summary>A path was rejected (absolute, escaping the destination, invalid).</summary>
    BadPath = 3,
    /// <summary>A configured limit was exceeded.</summary>
    LimitExceeded = 4,
    /// <summary>Data failed verification beyond repair.</summary>
    IntegrityFailure = 5,
    /// <summary>The destination ran out of space.</summary>
    DiskFull = 6,
    /// <summary>A file could not be read or written.</summary>
    IoError = 7,
    /// <summary>The receiver serves as many sessions as it allows.</summary>
    Busy = 8,
    /// <summary>The session was cancelled.</summary>
    Cancelled = 9,
    /// <summary>An unexpected failure inside the peer.</summary>
    Internal = 10,
    /// <summary>Authentication failed: missing or wrong token, or a cipher the receiver does not accept.</summary>
    AuthFailed = 11,
    /// <summary>The source changed while it was being sent.</summary>
    SourceChanged = 12,
    /// <summary>The connection was lost.</summary>
    ConnectionLost = 13,
    /// <summary>The receiver does not make what was sent: a device, unless it was started to (EntryFailed only).</summary>
    NotAllowed = 14,
}
