namespace Singularity.Engine;

/// <summary>Base of every error the engine raises on purpose; <see cref="Code"/> says what kind it is and the message says what to do.</summary>
public class SingularityException : Exception
{
    /// <summary>Creates an error of the given kind.</summary>
    public SingularityException(ErrorCode code, string message, Exception? inner = null) : base(message, inner) => Code = code;

    /// <summary>The kind of failure, as sent on the wire.</summary>
    public ErrorCode Code { get; }
}

/// <summary>The peer broke the protocol (bad magic, bad length, bad field); the session ends.</summary>
public sealed class ProtocolViolationException : SingularityException
{
    /// <summary>Creates a protocol violation error.</summary>
    public ProtocolViolationException(string message, ErrorCode code = ErrorCode.ProtocolViolation) : base(code, message) { }
}

/// <summary>Data failed verification and could not be repaired.</summary>
public sealed class IntegrityException : SingularityException
{
    /// <summary>Creates an integrity error.</summary>
    public IntegrityException(string message) : base(ErrorCode.IntegrityFailure, message) { }
}

/// <summary>The transfer was ended by the peer, by the connection, or by cancellation.</summary>
public sealed class TransferAbortedException : SingularityException
{
    /// <summary>Creates an aborted-transfer error.</summary>
    public TransferAbortedException(ErrorCode code, string message, Exception? inner = null) : base(code, message, inner) { }
}
