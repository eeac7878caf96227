namespace Singularity.Engine;

/// <summary>How a session's frames are protected after the handshake.</summary>
public enum CipherSuite : byte
{
    /// <summary>No encryption: the token still authenticates the session, but data and headers travel in clear. Both sides must allow it.</summary>
    None = 0,
    /// <summary>AES-256-GCM, the default; fast wherever the CPU has AES instructions.</summary>
    Aes256Gcm = 1,
    /// <summary>ChaCha20-Poly1305, for CPUs without AES instructions.</summary>
    ChaCha20Poly1305 = 2,
}

/// <summary>Names of cipher suites as users type them.</summary>
public static class CipherSuites
{
    /// <summary>The name used on the command line and in JSON: aes-256-gcm, chacha20-poly1305 or none.</summary>
    public static string Name(CipherSuite suite) => suite switch
    {
        CipherSuite.Aes256Gcm => "aes-256-gcm",
        CipherSuite.ChaCha20Poly1305 => "chacha20-poly1305",
        _ => "none",
    };

    /// <summary>Parses a name given by <see cref="Name"/>.</summary>
    public static bool TryParse(string text, out CipherSuite suite)
    {
        switch (text.Trim().ToLowerInvariant())
        {
            case "aes-256-gcm" or "aes256gcm" or "aes": suite = CipherSuite.Aes256Gcm; return true;
            case "chacha20-poly1305" or "chacha20" or "chacha": suite = CipherSuite.ChaCha20Poly1305; return true;
            case "none" or "off": suite = CipherSuite.None; return true;
            default: suite = default; return false;
        }
    }
}
