using Singularity.Engine;
using Singularity.Engine.Protocol;

namespace Singularity.Tests.Support;

/// <summary>Plaintext control messages written and read by hand on a test peer's own stream.</summary>
internal static class ControlMessages
{
    public static async Task WriteAsync(Stream stream, ControlMessageType type, byte[] body, CancellationToken cancellationToken = default) =>
        await stream.WriteAsync(Encode(type, body), cancellationToken);

    /// <summary>One message as it travels: its sealed header, then its body.</summary>
    public static byte[] Encode(ControlMessageType type, byte[] body)
    {
        byte[] message = new byte[ControlHeader.Size + body.Length];
        ControlHeader.Write(message, type, body.Length);
        body.CopyTo(message, ControlHeader.Size);
        ControlHeader.Seal(message);
        return message;
    }

    /// <summary>Reads messages until one of <paramref name="type"/> arrives and returns its body; null if the stream ends first. <paramref name="seen"/> hears the type of each message read.</summary>
    public static async Task<byte[]?> ReadUntilAsync(Stream stream, ControlMessageType type, CancellationToken cancellationToken, Action<ControlMessageType>? seen = null)
    {
        byte[] header = new byte[ControlHeader.Size];
        while (true)
        {
            try { await stream.ReadExactlyAsync(header, cancellationToken); }
            catch (Exception ex) when (ex is EndOfStreamException or IOException) { return null; }
            Assert.True(ControlHeader.TryRead(header, new ProtocolLimits().MaxControlMessageBytes, out var received, out int length, out string? error), error);
            byte[] body = new byte[length];
            try { await stream.ReadExactlyAsync(body, cancellationToken); }
            catch (Exception ex) when (ex is EndOfStreamException or IOException) { return null; }
            seen?.Invoke(received);
            if (received == type) return body;
        }
    }
}
