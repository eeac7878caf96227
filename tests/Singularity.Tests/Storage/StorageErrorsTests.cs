using Singularity.Engine.Storage;

namespace Singularity.Tests.Storage;

public sealed class StorageErrorsTests
{
    /// <summary>
    /// A name the file system refuses (a FAT disk answers ':' with EINVAL; some file systems refuse bytes their encoding
    /// lacks with EILSEQ), or a kind of entry it cannot make (exFAT answers a link with ENOSYS), fails that entry alone, in words that say what such a disk refuses; a full disk or an I/O
    /// error ends the session.
    /// </summary>
    [Theory]
    [InlineData(Errno.InvalidArgument, true)]
    [InlineData(Errno.IllegalByteSequence, true)]
    [InlineData(Errno.NameTooLong, true)]
    [InlineData(Errno.NoSystemCall, true)]
    [InlineData(Errno.NotSupported, true)]
    [InlineData(Errno.NoSpace, false)]
    [InlineData(5, false)]
    public void A_name_the_file_system_refuses_concerns_its_entry_alone(int error, bool alone)
    {
        var ex = Errno.ToException(error);
        Assert.Equal(alone, StorageErrors.ConcernsOneEntry(ex));
        if (error is Errno.InvalidArgument or Errno.IllegalByteSequence)
            Assert.Contains("while writing 'a:b', as a FAT or exFAT disk answers a name that holds any of", StorageErrors.Describe(ex, "writing 'a:b'").Message);
        if (error is Errno.NoSystemCall or Errno.NotSupported)
            Assert.Contains("while preparing 'l': the file system cannot make that, as a FAT or exFAT disk makes no links", StorageErrors.Describe(ex, "preparing 'l'").Message);
    }

    /// <summary>A mode refused as a file system that keeps none refuses it: denied, or a FUSE file system without chmod.</summary>
    [Theory]
    [InlineData(Errno.NotPermitted, true)]
    [InlineData(Errno.AccessDenied, true)]
    [InlineData(Errno.NoSystemCall, true)]
    [InlineData(Errno.NotSupported, true)]
    [InlineData(5, false)]
    [InlineData(Errno.NoSpace, false)]
    public void A_mode_refused_is_told_from_other_failures(int error, bool refused) =>
        Assert.Equal(refused, StorageErrors.RefusesModes(Errno.ToException(error)));
}
