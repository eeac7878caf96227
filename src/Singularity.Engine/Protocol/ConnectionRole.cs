namespace Singularity.Engine.Protocol;

/// <summary>What a new connection is for.</summary>
internal enum ConnectionRole : byte
{
    Control = 1,
    Data = 2,
}
