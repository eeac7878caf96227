namespace Singularity.Engine;

/// <summary>What a send does at a directory on another file system than the path it walks from, as rsync -x decides it.</summary>
public enum MountPoints
{
    /// <summary>Walk into it as into any directory (rsync's default).</summary>
    Crossed,

    /// <summary>Send the directory, without what it holds, which a deletion at the receiver leaves alone (rsync -x).</summary>
    SentEmpty,

    /// <summary>Leave the directory out (rsync -xx).</summary>
    LeftOut,
}
