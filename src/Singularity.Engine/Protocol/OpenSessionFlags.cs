namespace Singularity.Engine.Protocol;

/// <summary>Bits of OpenSession's flags field (PROTOCOL §3); a receiver ignores bits it does not know.</summary>
internal static class OpenSessionFlags
{
    /// <summary>Files already in place with the entry's size and mtime are named in FilesPresent and not sent.</summary>
    public const ushort SkipUnchanged = 1;
}
