using System.Buffers.Binary;
using CsCheck;
using Singularity.Engine;
using Singularity.Engine.Protocol;
using Singularity.Engine.Storage;

namespace Singularity.Tests.Protocol;

public sealed class ManifestCodecTests
{
    private static readonly ProtocolLimits Limits = new();

    private static readonly Gen<string> Names = Gen.String[Gen.Char["abcdefghijklmnopqrstuvwxyzé日本-_. 0123456789"], 1, 40]
        .Where(n => n is not ("." or ".."));

    private static readonly ushort[] SpecialKinds = [SpecialTypes.Fifo, SpecialTypes.Socket, SpecialTypes.CharacterDevice, SpecialTypes.BlockDevice];

    private static readonly Gen<ManifestEntry> Entries =
        Gen.Select(Gen.Int[1, 5], Names.Array[1, 5], Gen.Long[0, 1L << 50], Gen.Int[0, 0xFFF], Gen.Long, Names)
            .Select(t =>
            {
                var kind = (EntryKind)t.Item1;
                bool hardLink = kind == EntryKind.HardLink;
                // A special's type, by the mtime's bits 4 and 5, and a device's number.
                ushort special = kind == EntryKind.Special ? SpecialKinds[(t.Item5 >> 4) & 3] : (ushort)0;
                // Only a file may be marked as sent before or linked, or carry a digest; the mtime's low bits pick
                // which, and which carry an owner. A hard link carries no mode, time or owner.
                return new ManifestEntry(kind, string.Join('/', t.Item2), kind == EntryKind.File ? t.Item3 : 0, hardLink ? 0 : (UnixFileMode)t.Item4, hardLink ? 0 : t.Item5,
                    kind is EntryKind.Symlink or EntryKind.HardLink ? t.Item6 : null)
                {
                    SentBefore = kind == EntryKind.File && (t.Item5 & 1) != 0,
                    Owner = !hardLink && (t.Item5 & 2) != 0 ? ((uint)t.Item3, (uint)(t.Item5 >> 32)) : null,
                    Linked = kind == EntryKind.File && (t.Item5 & 4) != 0,
                    Digest = kind == EntryKind.File && (t.Item5 & 8) != 0 ? new UInt128((ulong)t.Item5, (ulong)t.Item3) : null,
                    SpecialType = special,
                    DeviceNumber = SpecialTypes.IsDevice(special) ? ((uint)t.Item3, (uint)(t.Item5 >> 32)) : null,
                    // Attributes by bit 6, any but a hard link's: the names in order, one value empty.
                    Xattrs = !hardLink && (t.Item5 & 64) != 0 ? new ExtendedAttributes([("trusted.b", []), ("user." + t.Item6, System.Text.Encoding.UTF8.GetBytes(t.Item2[0]))]) : null,
                };
            });

    [Fact]
    public void Entries_round_trip()
    {
        Entries.Sample(entry =>
        {
            byte[] buffer = new byte[ManifestCodec.EncodedSize(entry)];
            int written = ManifestCodec.Write(buffer, entry);
            Assert.Equal(buffer.Length, written);
            Assert.True(ManifestCodec.TryRead(buffer, Limits, out var read, out int consumed, out string? error), error);
            Assert.Equal(written, consumed);
            Assert.Equal(entry, read);
        });
    }

    [Fact]
    public void Truncated_entries_are_rejected_at_every_length()
    {
        Entries.Sample(entry =>
        {
            byte[] buffer = new byte[ManifestCodec.EncodedSize(entry)];
            ManifestCodec.Write(buffer, entry);
            for (int length = 0; length < buffer.Length; length++)
                Assert.False(ManifestCodec.TryRead(buffer.AsSpan(0, length), Limits, out _, out _, out _));
        }, iter: 20);
    }

    [Fact]
    public void Entries_beyond_limits_or_with_bad_fields_are_rejected()
    {
        var entry = new ManifestEntry(EntryKind.File, "a/b.txt", 10, (UnixFileMode)0b110_100_100, 0, null);
        byte[] good = new byte[ManifestCodec.EncodedSize(entry)];
        ManifestCodec.Write(good, entry);

        AssertRejected(good, b => b[0] = 9, "unknown entry kind");
        AssertRejected(good, b => b[1] = 128, "unknown manifest entry flags");
        AssertRejected(good, b => b[1] = ManifestCodec.FlagImplied, "only a directory can be marked implied");
        Assert.True(ManifestCodec.TryRead([good[0], 1, .. good.AsSpan(2)], Limits, out var sentBefore, out _, out _));
        Assert.True(sentBefore!.SentBefore);
        var directory = new ManifestEntry(EntryKind.Directory, "a", 0, (UnixFileMode)0b111_101_101, 0, null);
        byte[] marked = new byte[ManifestCodec.EncodedSize(directory)];
        ManifestCodec.Write(marked, directory);
        AssertRejected(marked, b => b[1] = 1, "only a file can be marked as sent before");
        AssertRejected(marked, b => b[1] = ManifestCodec.FlagLinked, "only a file can be marked as linked");
        Assert.True(ManifestCodec.TryRead([marked[0], ManifestCodec.FlagImplied, .. marked.AsSpan(2)], Limits, out var implied, out _, out _));
        Assert.True(implied!.Implied);
        AssertRejected([.. marked[..ManifestCodec.FixedSize], .. new byte[16], .. marked[ManifestCodec.FixedSize..]], b => b[1] = ManifestCodec.FlagDigest, "only a file can carry a digest");
        // A hard link names its file, and carries nothing of its own but its path.
        var hardLink = new ManifestEntry(EntryKind.HardLink, "b/x", 0, 0, 0, "a/x");
        byte[] linked = new byte[ManifestCodec.EncodedSize(hardLink)];
        ManifestCodec.Write(linked, hardLink);
        Assert.True(ManifestCodec.TryRead(linked, Limits, out var readLink, out _, out _));
        Assert.Equal(hardLink, readLink);
        AssertRejected(linked, b => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), 0x1A4), "no mode, time or owner");
        AssertRejected(linked, b => BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(8), 1), "no mode, time or owner");
        AssertRejected(linked, b => BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(16), 1), "only files have a size");
        AssertRejected(linked, b => BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(24), 0), "link target");
        AssertRejected(good, b => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), 0x1000), "mode");
        AssertRejected(good, b => BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(16), -1), "size");
        AssertRejected(good, b => BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(2), 0), "path length");
        AssertRejected(good, b => BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(24), 3), "link target");
        AssertRejected(good, b => b[ManifestCodec.FixedSize] = 0xFF, "UTF-8");
        Assert.False(ManifestCodec.TryRead(good, Limits with { MaxPathBytes = 3 }, out _, out _, out _));

        // A link target with NUL cannot be created; refused as malformed rather than failing at the file system.
        var link = new ManifestEntry(EntryKind.Symlink, "a/l", 0, (UnixFileMode)0b111_101_101, 0, "t\0x");
        byte[] withNul = new byte[ManifestCodec.EncodedSize(link)];
        ManifestCodec.Write(withNul, link);
        Assert.False(ManifestCodec.TryRead(withNul, Limits, out _, out _, out string? nulError));
        Assert.Contains("NUL", nulError);
        Assert.False(ManifestCodec.TryRead(good, Limits with { MaxTotalBytes = 9 }, out _, out _, out _));
    }

    /// <summary>A special entry's mode holds one of the four types, and only a device's carries a number; no other entry has either.</summary>
    [Fact]
    public void Special_entries_carry_a_type_and_only_devices_a_number()
    {
        var fifo = new ManifestEntry(EntryKind.Special, "p", 0, (UnixFileMode)0x1A4, 0, null) { SpecialType = SpecialTypes.Fifo };
        byte[] good = new byte[ManifestCodec.EncodedSize(fifo)];
        ManifestCodec.Write(good, fifo);
        Assert.Equal(0x11A4u, BinaryPrimitives.ReadUInt32LittleEndian(good.AsSpan(4)));
        Assert.True(ManifestCodec.TryRead(good, Limits, out var read, out _, out _));
        Assert.Equal(fifo, read);
        AssertRejected(good, b => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), 0x1A4), "not a FIFO's, a socket's or a device's");
        AssertRejected(good, b => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), 0x81A4), "not a FIFO's, a socket's or a device's");
        AssertRejected(good, b => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), 0x211A4), "beyond permissions");
        AssertRejected(good, b => BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(16), 1), "only files have a size");
        // A FIFO with a number, and a device without one.
        AssertRejected([.. good[..ManifestCodec.FixedSize], .. new byte[8], .. good[ManifestCodec.FixedSize..]], b => b[1] = ManifestCodec.FlagDevice, "only for devices");
        AssertRejected(good, b => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), 0x21A4), "required for devices");

        var device = new ManifestEntry(EntryKind.Special, "d", 0, (UnixFileMode)0x1B6, 0, null) { SpecialType = SpecialTypes.BlockDevice, DeviceNumber = (259, 0x12345) };
        byte[] numbered = new byte[ManifestCodec.EncodedSize(device)];
        ManifestCodec.Write(numbered, device);
        Assert.Equal(ManifestCodec.FlagDevice, numbered[1]);
        Assert.Equal(259u, BinaryPrimitives.ReadUInt32LittleEndian(numbered.AsSpan(ManifestCodec.FixedSize)));
        Assert.True(ManifestCodec.TryRead(numbered, Limits, out var readDevice, out _, out _));
        Assert.Equal(device, readDevice);
        // A file with a type, or a number.
        var file = new ManifestEntry(EntryKind.File, "f", 0, (UnixFileMode)0x1A4, 0, null);
        byte[] plain = new byte[ManifestCodec.EncodedSize(file)];
        ManifestCodec.Write(plain, file);
        AssertRejected(plain, b => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), 0x11A4), "beyond permissions");
        AssertRejected([.. plain[..ManifestCodec.FixedSize], .. new byte[8], .. plain[ManifestCodec.FixedSize..]], b => b[1] = ManifestCodec.FlagDevice, "only for devices");
    }

    /// <summary>Extended attributes: names of 1 to 255 bytes of UTF-8 in order, at most 64 KiB with the values, and none on a hard link.</summary>
    [Fact]
    public void Extended_attributes_are_checked_before_use()
    {
        var entry = new ManifestEntry(EntryKind.File, "f", 3, (UnixFileMode)0x1A4, 0, null) { Xattrs = new ExtendedAttributes([("user.a", [1, 2]), ("user.b", [3])]) };
        byte[] good = new byte[ManifestCodec.EncodedSize(entry)];
        ManifestCodec.Write(good, entry);
        Assert.Equal(ManifestCodec.FlagXattrs, good[1]);
        Assert.True(ManifestCodec.TryRead(good, Limits, out var read, out int consumed, out _));
        Assert.Equal(entry, read);
        Assert.Equal(good.Length, consumed);
        int at = ManifestCodec.FixedSize;
        Assert.Equal(2, BinaryPrimitives.ReadUInt16LittleEndian(good.AsSpan(at)));
        // The second name before the first; an empty name; a value longer than what follows; too many bytes in all.
        AssertRejected(good, b => b[at + 2 + 5 + 5] = (byte)'c', "not in order");
        AssertRejected(good, b => b[at + 2 + 5 + 6 + 2 + 5 + 5] = (byte)'a', "not in order");
        AssertRejected(good, b => b[at + 2] = 0, "empty-named");
        AssertRejected(good, b => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(at + 3), 1000), "truncated");
        AssertRejected(good, b => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(at + 3), ExtendedAttributes.MostBytes), "hold more than");
        AssertRejected(good, b => b[at + 2 + 5] = 0xFF, "UTF-8");
        AssertRejected(good, b => BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(at), 3), "truncated");
        // A name that is a namespace alone, which no file system takes.
        var prefix = entry with { Xattrs = new ExtendedAttributes([("user.", [1])]) };
        byte[] bare = new byte[ManifestCodec.EncodedSize(prefix)];
        ManifestCodec.Write(bare, prefix);
        AssertRejected(bare, _ => { }, "is not a namespace, a dot and a name");
        var hardLink = new ManifestEntry(EntryKind.HardLink, "h", 0, 0, 0, "f");
        byte[] linked = new byte[ManifestCodec.EncodedSize(hardLink)];
        ManifestCodec.Write(linked, hardLink);
        AssertRejected([.. linked[..ManifestCodec.FixedSize], 0, 0, .. linked[ManifestCodec.FixedSize..]], b => b[1] = ManifestCodec.FlagXattrs, "hard link carries no extended attributes");
        Assert.True(ManifestCodec.MostSize(Limits) >= ManifestCodec.EncodedSize(entry with { Xattrs = new ExtendedAttributes([("user." + new string('n', 250), new byte[ExtendedAttributes.MostBytes - 255])]) }));
    }

    private static void AssertRejected(byte[] good, Action<byte[]> damage, string reason)
    {
        byte[] bad = (byte[])good.Clone();
        damage(bad);
        Assert.False(ManifestCodec.TryRead(bad, Limits, out _, out _, out string? error));
        Assert.Contains(reason, error, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("../x")]
    [InlineData("a/../../x")]
    [InlineData("/etc/passwd")]
    [InlineData("a//b")]
    [InlineData("./a")]
    [InlineData("a/")]
    [InlineData("")]
    [InlineData("a\0b")]
    [InlineData("dir/.x.sglty-part")]
    [InlineData(".x.sglty-state")]
    [InlineData("dir/.x.0123456789abcdef.SGLTY-Part")]
    [InlineData(".x.Sglty-State")]
    public void Unsafe_paths_are_refused(string path)
    {
        Assert.NotNull(PathGuard.SyntaxError(path, Limits));
    }

    [Theory]
    [InlineData("a")]
    [InlineData("dir/sub/file.txt")]
    [InlineData("..hidden")]
    [InlineData("a..b/c")]
    [InlineData("日本/é")]
    public void Ordinary_paths_are_accepted(string path)
    {
        Assert.Null(PathGuard.SyntaxError(path, Limits));
    }

    [Fact]
    public void Over_long_names_are_refused()
    {
        Assert.NotNull(PathGuard.SyntaxError(new string('a', 256), Limits));
        Assert.Null(PathGuard.SyntaxError(new string('a', 255), Limits));
    }
}
