namespace Singularity.Engine;

/// <summary>Which parts of an entry's owner a send keeps (<see cref="TransferOptions.OwnerParts"/>), as rsync's -o and -g choose them.</summary>
[Flags]
public enum OwnerParts
{
    /// <summary>The user (rsync -o).</summary>
    User = 1,

    /// <summary>The group (rsync -g).</summary>
    Group = 2,

    /// <summary>Both, as rsync -a keeps them.</summary>
    Both = User | Group,
}
