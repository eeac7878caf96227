namespace Singularity.Engine.Storage;

/// <summary>How <see cref="SourceScanner"/> walks the paths a send is given, as the rsync options of the same names ask.</summary>
internal sealed record ScanRules
{
    /// <summary>A file met again under another name becomes a hard link entry (rsync -H; Linux).</summary>
    public bool HardLinks { get; init; }

    /// <summary>Each path keeps the path it was given by (rsync -R).</summary>
    public bool Relative { get; init; }

    /// <summary>With <see cref="Relative"/>, a listed directory is sent with what it holds (rsync -r with --files-from).</summary>
    public bool Recursive { get; init; } = true;

    /// <summary>What a walk does at a directory on another file system (rsync -x, -xx; Linux).</summary>
    public MountPoints OneFileSystem { get; init; }

    /// <summary>A link below the paths is sent as what it points to (rsync -L).</summary>
    public bool CopyLinks { get; init; }

    /// <summary>A link below the paths that points outside the tree (<see cref="LinkSafety"/>) is sent as what it points to (rsync --copy-unsafe-links).</summary>
    public bool CopyUnsafeLinks { get; init; }

    /// <summary>A link below the paths to a directory is sent as that directory (rsync -k, --copy-dirlinks).</summary>
    public bool CopyDirLinks { get; init; }

    /// <summary>Character and block devices are sent as devices (rsync --devices; Linux), not left out.</summary>
    public bool Devices { get; init; }

    /// <summary>FIFOs and sockets are sent as what they are (rsync --specials; Linux), not left out.</summary>
    public bool Specials { get; init; }

    /// <summary>Whether any link below the paths may be followed.</summary>
    public bool FollowsLinks => CopyLinks || CopyUnsafeLinks || CopyDirLinks;

    /// <summary>A path given that does not exist is passed over without a word (rsync --ignore-missing-args).</summary>
    public bool IgnoreMissing { get; init; }

    /// <summary>The rules a send's options ask for.</summary>
    public static ScanRules Of(TransferOptions options) => new()
    {
        HardLinks = options.HardLinks,
        Relative = options.Relative,
        Recursive = options.Recursive,
        OneFileSystem = options.OneFileSystem,
        CopyLinks = options.CopyLinks,
        CopyUnsafeLinks = options.CopyUnsafeLinks,
        CopyDirLinks = options.CopyDirLinks,
        IgnoreMissing = options.IgnoreMissingArgs || options.DeleteMissingArgs,
        Devices = options.Devices,
        Specials = options.Specials,
    };

    /// <summary>Whether a special file of <paramref name="type"/> (<see cref="Protocol.SpecialTypes"/>) is sent rather than left out.</summary>
    public bool Sends(ushort type) => Protocol.SpecialTypes.IsDevice(type) ? Devices : Specials;
}
