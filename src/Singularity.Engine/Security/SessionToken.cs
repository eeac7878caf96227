using System.Security.Cryptography;
using System.Text;

namespace Singularity.Engine;

/// <summary>The shared secret that opens sessions: 256 random bits by default, written in URL-safe base64 (43 characters).</summary>
public static class SessionToken
{
    /// <summary>Environment variable read by `sglty` when no --token is given.</summary>
    public const string EnvironmentVariable = "SGLTY_TOKEN";

    /// <summary>A fresh random 256-bit token.</summary>
    public static string Generate() => Base64UrlEncode(RandomNumberGenerator.GetBytes(32));

    /// <summary>The bytes the key schedule uses: the UTF-8 text of the token as given, so any string a user picks works too.</summary>
    internal static byte[] KeyMaterial(string token)
    {
        if (string.IsNullOrEmpty(token)) throw new ArgumentException("the token is empty", nameof(token));
        return Encoding.UTF8.GetBytes(token);
    }

    private static string Base64UrlEncode(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
