using System.CommandLine;
using System.CommandLine.Parsing;
using System.Net;
using System.Net.Sockets;
using Singularity.Cli.Display;
using Singularity.Engine;

namespace Singularity.Cli.Commands;

/// <summary><c>sglty send</c>: send files and directories to a receiver's URL.</summary>
internal static partial class SendCommand
{
    public static Command Create()
    {
        var paths = new Argument<string[]>("PATH") { Description = "files or directories to send; a directory ending in '/' sends its contents; without --to, the last is where to: [USER@]HOST:DIR or a URL; or, when all the others are [USER@]HOST:PATH on one machine, where they go here: a directory, or a name for one path (a pull, as scp and rsync take one); or, when all are here, where a copy on this machine goes, taken as rsync takes it", Arity = ArgumentArity.OneOrMore };
        var to = new Option<string>("--to") { HelpName = "URL", Description = "the receiver's URL, as printed by `sglty recv` (sglty://HOST:PORT/); a path added to it names a directory below the receiver's to send into, created if missing (sglty://HOST:PORT/backups/web1/); or [USER@]HOST:DIR, as scp and rsync write it: sglty starts a receiver in DIR on HOST through ssh (-e), which sglty must be installed on, and the files travel over a TCP port of its own there (--remote-listen)" };
        var rsh = new Option<string>("--rsh", "-e") { HelpName = "COMMAND", Description = $"with a [USER@]HOST:DIR destination, the remote shell that starts the receiver there (with [USER@]HOST:PATH sources, the send there), as rsync -e: 'ssh -p 2222 -i ~/.ssh/backup' (split at spaces; quotes keep a word whole); default ${RshVariable}, else ssh" };
        var sgltyPath = new Option<string>("--sglty-path") { HelpName = "PROGRAM", Description = "with a [USER@]HOST:DIR destination (or [USER@]HOST:PATH sources), what runs sglty there, as rsync --rsync-path ('/opt/sglty/sglty', 'sudo sglty'); default sglty on the PATH of a login there, else ~/sglty/sglty" };
        var makePath = new Option<bool>("--mkpath") { Description = "with a [USER@]HOST:DIR destination (or DIR here, for a pull or a copy on this machine), make every missing directory of DIR, as rsync --mkpath (without it, as rsync, only the last, and none above a file named)" };
        var remoteListen = new Option<string>("--remote-listen") { HelpName = "HOST:PORT", Description = "with a [USER@]HOST:DIR destination, what the receiver started there listens on, for a firewall that lets one port through (0.0.0.0:7701); default 0.0.0.0:0, a free port; the lanes connect to it from here, not through the shell, but through a tunnel (--tunnel), where its port alone is used, on the loopback there" };
        var ipv4 = new Option<bool>("--ipv4", "-4") { Description = "connect to the receiver's host by IPv4 alone, as rsync -4 and ssh -4 (which a [USER@]HOST:DIR destination, or a pull, is given too); a pull's receiver listens on an IPv4 address" };
        var ipv6 = new Option<bool>("--ipv6", "-6") { Description = "connect to the receiver's host by IPv6 alone, as rsync -6 and ssh -6 (which a [USER@]HOST:DIR destination, or a pull, is given too); a pull's receiver listens on an IPv6 address" };
        var tunnel = new Option<bool>("--tunnel") { Description = "with a [USER@]HOST:DIR destination (or [USER@]HOST:PATH sources), carry the lanes through ssh's own connection (ssh -L, or -R for a pull), for a host reached only through ssh: one stream, as scp's, so slower than straight to its port; the default where ssh's configuration reaches the host through a ProxyJump, and taken by itself, said in a line, where the lanes cannot reach the port straight" };
        var noTunnel = new Option<bool>("--no-tunnel") { Description = "connect the lanes straight to the port, even where ssh's configuration reaches the host through a ProxyJump, and fail where they cannot" };
        var listenHere = new Option<string>("--listen") { HelpName = "HOST:PORT", Description = "with [USER@]HOST:PATH sources (a pull), what the receiver here listens on, as recv --listen, for a firewall that lets one port through (0.0.0.0:7701: every interface, and the send there is given the address this machine reaches it from); default a free port of that address; through a tunnel (--tunnel), its port alone, on the loopback here" };
        var untilStdinCloses = new Option<bool>("--until-stdin-closes") { Description = "stop, as interrupted, when standard input ends (after the token's line, with --token-file -, and with --files-from - --from0 the names, each ended by a NUL, up to an empty one): how `sglty send [USER@]HOST:PATH... DIR` ties the send it starts there through ssh to itself, and gives it its list" };
        var fileName = new Option<string>("--file-name") { HelpName = "NAME", Description = "give the one PATH sent this name in the receiver's directory, as scp and rsync name what they copy to a path that is not a directory (how a pull to DIR/NAME, or a send to [USER@]HOST:DIR/NAME, names it): a file takes the name, a directory goes into a directory of that name" };
        var lanes = CommonOptions.Lanes();
        var shardSize = CommonOptions.Size("--shard-size", "bytes per shard, e.g. 1MiB; default 4MiB");
        var inFlight = CommonOptions.Size("--in-flight", "most bytes sent but not yet acknowledged; default 128MiB");
        var socketBuffer = CommonOptions.Size("--socket-buffer", "socket buffer size per lane; default 0 keeps the system's auto-tuning");
        var json = CommonOptions.Json("print one JSON object with the result on stdout at the end");
        var encrypt = CommonOptions.Encrypt("aes-256-gcm (default; none for a copy on this machine), chacha20-poly1305, or none (only if the receiver allows it)");
        var token = CommonOptions.Token($"the receiver's token when the URL has none (or ${SessionToken.EnvironmentVariable})");
        var tokenFile = CommonOptions.TokenFile();
        var retries = new Option<int?>("--retries") { HelpName = "N", Description = "reconnect and resume when the receiver goes away, restarts, is busy or its disk fills part way through (not when the first connection is refused, gets no answer within 10 s, or the host does not exist); give up after N retries in a row that move no data; default 5" };
        var timeout = CommonOptions.Duration("--timeout", "give up retrying once no attempt moved data for this long, e.g. 30m; default 10m");
        var stall = CommonOptions.Duration("--stall-timeout", "when nothing moves for this long while shards are in flight, replace the lanes that hold them (on Linux, also a lane whose path went silent, or that the receiver stopped reading, for 4 times this long); default 30s");
        var congestion = CommonOptions.Congestion();
        var ignoreTimes = new Option<bool>("--ignore-times", "-I") { Description = "send every file, also those the receiver already holds with the same size and modification time (which are otherwise left as they are, as rsync leaves them)" };
        var checksum = new Option<bool>("--checksum", "-c") { Description = "judge a file the receiver holds with the same size by its contents, not its modification time, as rsync --checksum does: both sides read every such file whole first; one with the same contents is left in place (its time and mode set to these), any other is sent" };
        var sizeOnly = new Option<bool>("--size-only") { Description = "leave a file the receiver holds with the same size as it is, whatever its modification time, as rsync --size-only does (for destinations whose times cannot be trusted)" };
        var update = new Option<bool>("--update", "-u") { Description = "leave a file the receiver holds that was modified later than this one as it is, as rsync --update does" };
        var existing = new Option<bool>("--existing", "--ignore-non-existing") { Description = "make nothing the receiver does not have: update only the files (and links) it holds, and make no new directory, as rsync --existing does" };
        var ignoreExisting = new Option<bool>("--ignore-existing") { Description = "send only files the receiver does not have; leave every file it holds as it is, as rsync --ignore-existing does" };
        var maxSize = RsyncSize("--max-size", "leave out files larger than SIZE, as rsync --max-size does (SIZE as rsync reads it: 1.5m, 2G, 500kb; K alone and KiB are 1024, KB is 1000; a trailing +1 or -1 adds or takes a byte); with --delete, the receiver keeps what stands at their names");
        var minSize = RsyncSize("--min-size", "leave out files smaller than SIZE, as rsync --min-size does (SIZE as --max-size reads it); with --delete, the receiver keeps what stands at their names");
        var maxDelete = new Option<int?>("--max-delete") { HelpName = "N", Description = "with --delete, --delete-missing-args or --force, delete at most N entries at the receiver (each entry below a directory counts), as rsync --max-delete: past it, the rest stays, and send exits 25 saying how many were left; 0 deletes nothing and counts what would go; a safety net for scripts, where a source gone empty (an unmounted disk) would empty the copy" };
        var delete = new Option<bool>("--delete", "--delete-during", "--delete-after", "--delete-delay") { Description = "once every file is in place, delete what the sent directories hold at the receiver that the source does not (also in the receiver's directory itself, for a source ending in '/', or with -R a path that keeps no name, such as /srv/./), as rsync --delete does; not if anything was left out (not readable here, or not writable there); also replaces a directory in the way of a file or a link; rsync's --delete-during (its --delete), --delete-after and --delete-delay all leave the same copy, and are taken as this" };
        var deleteBefore = new Option<bool>("--delete-before") { Description = "as --delete, but once the receiver has the whole list, before the files arrive (of a list of more than a few thousand entries, before those of its last part), as rsync --delete-before does: what goes frees its space for what comes (the receiver's check of free space counts it), and it goes even if the send then fails" };
        var ignoreErrors = new Option<bool>("--ignore-errors") { Description = "with --delete, delete even when entries were left out, as rsync --ignore-errors does: a file that could not be read here or written there keeps its copy, but a link -L could not follow is deleted there, and so is what was below a directory that could not be listed here; the send still exits 23" };
        var deleteExcluded = new Option<bool>("--delete-excluded") { Description = "delete at the receiver also what --exclude leaves out, as rsync --delete-excluded does; implies --delete" };
        var exclude = new Option<string[]>("--exclude") { HelpName = "PATTERN", Description = "leave out what matches, as rsync --exclude: '*.tmp' or '.git' is a name at any depth, 'logs/*.gz' the end of a path, '/tree/build' a path from the receiver's directory, a trailing '/' directories only; '*' stops at '/', '**' does not, '?' and '[a-z]' are one character; with --delete, the receiver keeps what matches; may be given many times", Arity = ArgumentArity.OneOrMore, AllowMultipleArgumentsPerToken = false };
        var excludeFrom = new Option<string[]>("--exclude-from") { HelpName = "FILE", Description = "read --exclude patterns from FILE (- for standard input), one per line (a line starting with '+ ' is an include); empty lines and lines starting with '#' or ';' are skipped; may be given many times", Arity = ArgumentArity.OneOrMore, AllowMultipleArgumentsPerToken = false };
        var include = new Option<string[]>("--include") { HelpName = "PATTERN", Description = "send what matches even where a later --exclude would leave it out, as rsync --include: patterns are tried in the order given, --include and --exclude together, and the first that matches decides; e.g. --include '*/' --include '*.log' --exclude '*' sends only logs; may be given many times", Arity = ArgumentArity.OneOrMore, AllowMultipleArgumentsPerToken = false };
        var includeFrom = new Option<string[]>("--include-from") { HelpName = "FILE", Description = "read --include patterns from FILE, one per line (a line starting with '- ' is an exclude), as --exclude-from reads them; may be given many times", Arity = ArgumentArity.OneOrMore, AllowMultipleArgumentsPerToken = false };
        var filter = new Option<string[]>("--filter", "-f") { HelpName = "RULE", Description = "add a filter rule, as rsync --filter: '- PATTERN' (or exclude PATTERN) and '+ PATTERN' (include) as --exclude and --include, in the same order with them; 'H PATTERN' (hide) and 'S PATTERN' (show) leave out or keep at this side only, so --delete deletes a hidden entry's copy; 'P PATTERN' (protect) and 'R PATTERN' (risk) keep from --delete or give back to it at the receiver only (protect holds with --delete-excluded too); '!' (clear) forgets the rules before it; '. FILE' (merge FILE) reads rules from FILE, one a line; ': NAME' (dir-merge NAME) reads rules from the file NAME in each directory sent, for what it holds, ahead of those of the directories above (modifiers e: leave the files out too, n: not below, - or +: each line an exclude or an include; /NAME: the directories above those sent too; at the receiver, its own files NAME keep from --delete); other rule modifiers are not offered; may be given many times", Arity = ArgumentArity.OneOrMore, AllowMultipleArgumentsPerToken = false };
        // Read by Prepare, which gives the parser the filter rules it stands for: here for the help alone.
        var perDirectoryFilter = new Option<bool>("-F") { Description = "read rules from the .rsync-filter files of the directories sent and those above them, as rsync -F: --filter 'dir-merge /.rsync-filter'; given twice (-FF), leave those files out of the send too (--filter '- .rsync-filter')" };
        var relative = new Option<bool>("--relative", "-R") { Description = "send each path under the path it was given by, as rsync -R does: logs/app/x.log arrives as logs/app/x.log, /var/log/x.log as var/log/x.log, and /var/./log/x.log as log/x.log ('/./' marks where the kept path starts); the directories above are sent too" };
        var filesFrom = new Option<string>("--files-from") { HelpName = "FILE", Description = "send the paths FILE lists (- for standard input), one per line, each relative to the one PATH given and kept as named below it, as rsync --files-from does (implies --relative; a pull reads FILE here); a listed directory is sent alone, without what it holds, unless --recursive is given (one listed with a trailing '/', or '.', with what it holds at one level, as rsync's implied --dirs sends it); blank lines and lines starting with '#' or ';' are skipped" };
        var recursive = new Option<bool>("--recursive", "-r") { Description = "with --files-from, send what each listed directory holds too, as rsync -r does (without it, a listed directory is sent alone, as rsync --files-from sends it); otherwise directories are always sent whole, and it changes nothing" };
        var from0 = new Option<bool>("--from0", "-0") { Description = "with --files-from, names are separated by NUL characters, as find -print0 writes them, not by lines" };
        var dryRun = new Option<bool>("--dry-run", "-n") { Description = "change nothing at the receiver: list on stdout the files a send would send and, with --delete, what it would delete ('deleting PATH'), as rsync --dry-run does; no file's contents are read or sent" };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "list on stdout each file that travelled as it arrives, as rsync -v does (in --json, as 'sent', at the end)" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "print nothing but errors and warnings, as rsync -q and scp -q do (for cron): no progress, no summary, no notices of lanes or retries; what was left out is named at the end, a send that fails prints its notices before the error, and the exit code says how it went; unlike rsync -q, lists asked for (-v, -i, --out-format, --dry-run) still print" };
        var info = new Option<string[]>("--info") { HelpName = "FLAGS", Description = "rsync's --info, for the flags sglty gives, comma-separated: progress2 (also progress, progress1) the progress sglty shows anyway (a bar of the whole send), progress0 none; stats2 (also stats3) as --stats, stats1 (also stats) only its last two lines, stats0 none; name1 (also name) as -v, name0 no list of files; any other flag is refused by name; may be given many times, a later flag winning", Arity = ArgumentArity.OneOrMore, AllowMultipleArgumentsPerToken = false };
        var stats = new Option<bool>("--stats") { Description = "print on stdout, at the end, what the send counted, in the lines of rsync --stats: the entries by kind, those made and deleted at the receiver, the files and bytes sent, the data the receiver held already (matched), the manifest's size and scan time, and every byte on the wire both ways (headers, control messages and encryption included); the receiver's directory itself is not counted; deletions are counted, not split by kind; under -q nothing, as rsync -q; not with --json, which holds the same counts (but for the entries made, which -i lists)" };
        var logFile = new Option<string>("--log-file") { HelpName = "FILE", Description = "append to FILE what the send does, as rsync --log-file does: a line when it starts, one per change (as -i lists them), the notices, and how it ended, each with the time and the process id; a pull writes FILE here; - writes the lines to standard error, each behind 'sglty-log: ' and without the time (how a pull has the send it starts log to it)" };
        var logFileFormat = new Option<string>("--log-file-format") { HelpName = "FORMAT", Description = "with --log-file, log each change in FORMAT (the escapes of --out-format), as rsync --log-file-format; default '%i %n%L'" };
        var outFormat = new Option<string>("--out-format") { HelpName = "FORMAT", Description = "print FORMAT on stdout for each entry the send changes, as rsync --out-format does (-i is '%i %n%L'): %n the path (a directory's ending in '/'), %f the path without it, %i the itemized letters (see -i), %L ' -> TARGET' for a link (' => PATH' for a hard link), %l the size in bytes (%'l with commas), %M the modification time, %B the permissions, %o the operation ('send', 'del.' for a deletion), %t the time now, %p the process id, %% a '%'; a width pads ('%-40n' on the right); without %i, only what travelled or was made, and directories whose attributes were set, are printed; a deletion in the format with %i or %o, else as 'deleting PATH'" };
        var itemize = new Option<bool>("--itemize-changes", "-i") { Description = "list on stdout what the send changes at the receiver, one line each, as rsync -i does: '>f.st...... PATH' for a file sent (the letters: c contents or link target, s size, t time, p permissions, o owner, g group; '+++++++++' new), 'cd+++++++++ DIR/' for a directory made, 'cL' a link, 'hf' a hard link, '.' only attributes set, '*deleting' a deletion; given twice (-ii), also what stays as it was; with --dry-run, what a send would change (in --json, as 'changes')", Arity = ArgumentArity.Zero };
        var hardLinks = new Option<bool>("--hard-links", "-H") { Description = "keep hard links, as rsync -H does: a file with several names among those sent travels once, and the receiver gives it the other names (Linux senders)" };
        // Given twice (-xx), as rsync reads it, mount points are left out rather than sent empty.
        var oneFileSystem = new Option<bool>("--one-file-system", "-x") { Description = "stay on each directory's file system, as rsync -x does (a backup of / leaves /proc and mounted shares): a directory on another file system below it (a mount point) is sent without what it holds, which --delete leaves at the receiver; given twice (-xx), it is left out; paths given are sent wherever they are; with --delete (or --force), the receiver deletes on the destination's file system only (Linux senders)", Arity = ArgumentArity.Zero };
        var chmod = new Option<string[]>("--chmod") { HelpName = "CHMOD", Description = "change the modes the receiver gives what is sent, as rsync --chmod does: chmod's symbolic modes (one operator each), comma-separated, each with an optional D (directories only) or F (files only) before it, e.g. 'Du=rwx,Dgo=rx,Fu=rw,Fgo=r' or 'D775,F664' (octal); a mode without u, g, o or a ('+w') changes all three, less what your umask withholds, as rsync's does; may be given many times", Arity = ArgumentArity.OneOrMore, AllowMultipleArgumentsPerToken = false };
        var pruneEmpty = new Option<bool>("--prune-empty-dirs", "-m") { Description = "leave out each directory that holds nothing but directories, as rsync -m does: with --include '*/' --include '*.log' --exclude '*', the directories that held no log do not arrive" };
        var deleteMissing = new Option<bool>("--delete-missing-args") { Description = "as --ignore-missing-args, and the receiver deletes what stands at the name a missing PATH (or --files-from line) would have, as rsync --delete-missing-args does: a file, a link, an empty directory, or with --force or --delete a directory with what it holds" };
        var force = new Option<bool>("--force") { Description = "replace a directory at the receiver that holds anything, where the source now has a file, a link or a special, deleting it with what it holds (but what the patterns keep), as rsync --force does; --delete does it too; needs a receiver of this version" };
        var ignoreMissing = new Option<bool>("--ignore-missing-args") { Description = "pass over a PATH (or a --files-from line) that does not exist, without an error, as rsync --ignore-missing-args does; with --delete, the deletion still runs" };
        var modifyWindow = new Option<int?>("--modify-window", "-@") { HelpName = "SECONDS", Description = "compare modification times in whole seconds, as the same when they differ by at most SECONDS, as rsync --modify-window does: for a destination that keeps coarser times (FAT: 2; many network shares: 1), where every file would otherwise be sent each time; 0 compares whole seconds, as rsync does by default; a negative number compares times exactly, the default here" };
        var omitDirTimes = new Option<bool>("--omit-dir-times", "-O") { Description = "do not set directories' modification times at the receiver, as rsync -O" };
        var omitLinkTimes = new Option<bool>("--omit-link-times", "-J") { Description = "do not set links' modification times at the receiver, as rsync -J" };
        var copyUnsafeLinks = new Option<bool>("--copy-unsafe-links") { Description = "send each link inside a tree that points outside it (an absolute target, or one whose '..' climb above the top of the tree) as what it points to, as rsync --copy-unsafe-links does; the other links stay links; one that leads nowhere is named and left out (send exits 23); not with --remove-source-files" };
        var copyDirLinks = new Option<bool>("--copy-dirlinks", "-k") { Description = "send each link inside a tree that leads to a directory as that directory, with what it holds, as rsync -k does; links to anything else stay links; one back to a directory it is in is named and left out (send exits 23); not with --remove-source-files" };
        var safeLinks = new Option<bool>("--safe-links") { Description = "leave out each link that points outside the tree (an absolute target, or one whose '..' climb above the top of the tree), as rsync --safe-links does; with --delete the receiver keeps what stands at their names; -v names each" };
        var copyLinks = new Option<bool>("--copy-links", "-L") { Description = "send each link inside a tree as what it points to, as rsync -L does: a file, or a directory with what it holds; a link to nothing, or back to a directory it is in, is named and left out (send exits 23); not with --remove-source-files" };
        var removeSources = new Option<bool>("--remove-source-files") { Description = "move rather than copy, as rsync --remove-source-files does: once the send succeeded, remove here each file and link the receiver holds, unless it changed after it was read (a log written to is kept); directories stay; refused while a receiver runs where the files would land (Linux senders)" };
        var owner = new Option<bool>("--owner", "-o") { Description = "keep each entry's user, as rsync -o: as --owners, without the group unless -g is given too (what is not kept, the receiver leaves as it finds it, and gives what it makes its own)" };
        var group = new Option<bool>("--group", "-g") { Description = "keep each entry's group, as rsync -g: as --owners, without the user unless -o is given too" };
        var noPerms = new Option<bool>("--no-perms", "--no-p") { Description = "leave modes to the receiver, as rsync --no-perms: a new entry takes the source's permission bits within the receiver's umask, a file that replaces another the mode that one had, an entry in place keeps its own; for a destination that keeps none (a FAT or exFAT disk, some shares), which refuses the modes sent (exit 23); a later -p or -a takes it back" };
        var noOwner = new Option<bool>("--no-owner", "--no-o") { Description = "keep no user, as rsync --no-o: with -a or --owners, the groups alone" };
        var noGroup = new Option<bool>("--no-group", "--no-g") { Description = "keep no group, as rsync --no-g: with -a or --owners, the users alone" };
        var chown = new Option<string>("--chown") { HelpName = "USER:GROUP", Description = "give every entry USER and GROUP (names or numbers), as rsync --chown does, which keeps them as -o and -g would: 'backup:backup', 'backup' (the user alone), ':backup' (the group alone); a name travels as the owners' names do (the receiver gives the id it knows it by), a number as it is; a receiver running as root applies them" };
        var usermap = new Option<string>("--usermap") { HelpName = "STRING", Description = "give users other users, as rsync --usermap does: FROM:TO pairs, comma-separated, the first FROM that matches deciding, e.g. '0-99:nobody,wayne:admin,*:normal'; FROM is a name here (wildcards match names alone), a number, a range LOW-HIGH, '*' (every user) or nothing (users with no name here); TO is a name or a number, travelling as --chown's does; keeps the users as -o does; not with --chown USER" };
        var groupmap = new Option<string>("--groupmap") { HelpName = "STRING", Description = "give groups other groups, as rsync --groupmap does, read as --usermap; keeps the groups as -g does; not with --chown :GROUP" };
        var owners = new Option<bool>("--owners") { Description = "keep each entry's owner and group, as rsync -a keeps them: by name where the receiver knows the name, else by number; a receiver running as root applies them, any other leaves them (Linux senders)" };
        var archive = new Option<bool>("--archive", "-a") { Description = "as rsync -a: keep owners and groups (--owners) and send devices, FIFOs and sockets (-D) where the sender is Linux; sglty keeps the rest of what rsync -a keeps anyway (directories whole, links as links, permissions, times)" };
        var xattrs = new Option<bool>("--xattrs", "-X") { Description = "keep extended attributes, as rsync -X (Linux): each entry's travel with it, and the receiver gives them and removes the others; as root all but system.* (ACLs) and security.capability (never given, as a setuid bit is not), else user.* alone; at most 64 KiB an entry" };
        var acls = new Option<bool>("--acls", "-A") { Description = "keep POSIX ACLs, as rsync -A (Linux): each file's and directory's (a directory's default ACL too) travel with it, users and groups by number as with rsync --numeric-ids, and the receiver gives them and removes ACLs the source does not have" };
        var devices = new Option<bool>("--devices") { Description = "send character and block devices as devices, as rsync --devices (Linux); the receiver makes them only if started with `sglty recv --devices`, as root; without it, each is left out with a line" };
        var specials = new Option<bool>("--specials") { Description = "send FIFOs and sockets as what they are, as rsync --specials (Linux); without it, each is left out with a line" };
        var devicesAndSpecials = new Option<bool>("-D") { Description = "as rsync -D: --devices and --specials" };
        var noDevices = new Option<bool>("--no-devices") { Description = "leave devices out, as rsync --no-devices: with -a or -D, FIFOs and sockets alone" };
        var noSpecials = new Option<bool>("--no-specials") { Description = "leave FIFOs and sockets out, as rsync --no-specials" };
        var noDevicesOrSpecials = new Option<bool>("--no-D") { Description = "as rsync --no-D: --no-devices and --no-specials, so `-a --no-D` leaves them all out" };
        // rsync's options for what sglty always does: taken as rsync takes them, and changing nothing.
        static Option<bool> AsAlways(string does, string name, params string[] aliases) => new(name, aliases) { Description = $"taken as rsync takes it, and changes nothing: sglty always {does}" };
        var perms = new Option<bool>("--perms", "-p") { Description = "taken as rsync takes it: sglty keeps permissions unless --no-perms comes after it" };
        Option<bool>[] asAlways =
        [
            AsAlways("keeps times", "--times", "-t"),
            perms,
            AsAlways("sends links as links", "--links", "-l"),
            AsAlways("keeps what an interrupted send wrote, to resume it", "--partial"),
            AsAlways("shows progress (a bar on a terminal, else a line a second on stderr), of the whole send", "--progress"),
            AsAlways("keeps what an interrupted send wrote, and shows progress (rsync's --partial --progress)", "-P"),
            AsAlways("reads the whole tree before it sends, which is what this asks rsync for", "--no-inc-recursive", "--no-i-r"),
            AsAlways("keeps permissions, the execute bits among them", "--executability", "-E"),
            AsAlways("reserves a file's space at the receiver before it writes it (but with --sparse)", "--preallocate"),
            AsAlways("quotes the paths it gives a remote shell, a pull's wildcards alone left for that shell to match, as rsync does by default", "--protect-args", "--secluded-args", "-s"),
        ];
        var human = new Option<bool>("--human-readable") { Description = "as rsync -h beside other options (-h alone prints this help): the sizes --stats prints in units of 1000 (2.10M); given twice (-hh), of 1024 (2.00M)", Arity = ArgumentArity.Zero };
        var noHuman = new Option<bool>("--no-human-readable", "--no-h") { Description = "numbers in --stats without rsync's thousands commas, as rsync --no-h" };
        var numericIds = new Option<bool>("--numeric-ids") { Description = "with --owners, keep owners by number only, as rsync --numeric-ids: names are not sent, so the receiver gives each entry the ids it has here" };
        var compressLevel = new Option<int?>("--compress-level") { HelpName = "N", Description = "compress shards at Zstandard level N, 1 to 9 (default 1), as rsync --compress-level does; higher packs tighter at far less speed, which pays only on a path of tens of MB/s or less; any N but 0 implies --compress, and 0 sends uncompressed" };
        var compress = new Option<bool>("--compress", "-z") { Description = "compress shards on the wire (Zstandard), as rsync -z and scp -C do: worth it on a path slower than a few hundred MB/s (a WAN) for data that packs (text, logs); on a fast LAN it costs throughput; data that does not pack travels as it is" };
        var bwlimit = new Option<long?>("--bwlimit")
        {
            HelpName = "RATE",
            Description = "send at most RATE bytes a second, on all lanes together, e.g. 20MiB or 500KiB; a bare number is KiB and 0 no limit, as with rsync --bwlimit; at least 1KiB",
            CustomParser = result =>
            {
                string text = result.Tokens.Count > 0 ? result.Tokens[0].Value.Trim() : "";
                // As rsync reads it: a bare number counts KiB.
                bool bare = text.Length > 0 && text.All(c => char.IsAsciiDigit(c) || c == '.');
                if (ByteSize.TryParse(bare ? text + "KiB" : text, out long rate) && (rate == 0 || rate >= 1024)) return rate;
                result.AddError($"--bwlimit: '{text}' is not a rate of at least 1KiB a second; use a number with an optional suffix such as 500KiB or 20MiB (a bare number is KiB, 0 no limit)");
                return null;
            },
        };
        var sparse = new Option<bool>("--sparse", "-S") { Description = "handle sparse files (disk images, say) as rsync --sparse does: a Linux receiver leaves runs of zeros as holes rather than writing them, and no receiver reserves space ahead; shards that lie in a hole of the source (Linux) are not read or sent, only named" };
        var delta = new Option<bool>("--delta") { Description = "send only the shards of a changed file that differ from the version already at the receiver, as rsync does (a log that grew sends its new tail, an archive whose bytes moved little more than what changed): the receiver sends the sums of that version's blocks, and each shard travels as a patch of it; the default on a path of 1 ms round trip or more, not on loopback or a LAN" };
        var backup = new Option<bool>("--backup", "-b") { Description = "keep what the send replaces or deletes at the receiver, as rsync --backup does: each file or link is renamed to its name with '~' (--suffix) beside it, replacing an older backup; with --delete, the backups stay" };
        var backupDir = new Option<string>("--backup-dir") { HelpName = "DIR", Description = "with --backup (which it implies), move what is replaced or deleted into DIR, each at its own path, as rsync --backup-dir does (no suffix unless --suffix gives one); DIR is relative to the destination (the receiver's directory, or the one the URL names) and inside it, and --delete leaves it alone: a dated DIR per send keeps every version" };
        var compareDest = new Option<string[]>("--compare-dest") { HelpName = "DIR", Description = "neither send nor make at the destination each file it does not hold yet that DIR holds unchanged, as rsync --compare-dest does: the destination then holds only what changed since DIR's copy; DIR as with --link-dest; not with --link-dest, --copy-dest, --remove-source-files or --hard-links", Arity = ArgumentArity.OneOrMore, AllowMultipleArgumentsPerToken = false };
        var copyDest = new Option<string[]>("--copy-dest") { HelpName = "DIR", Description = "copy at the receiver, rather than send, each file the destination does not hold yet that DIR holds unchanged, as rsync --copy-dest does; DIR as with --link-dest; not with --link-dest or --compare-dest", Arity = ArgumentArity.OneOrMore, AllowMultipleArgumentsPerToken = false };
        var linkDest = new Option<string[]>("--link-dest") { HelpName = "DIR", Description = "link, rather than send, each file the destination does not hold yet that DIR holds unchanged (same size, time and mode, no setuid bit, the owner a received file would have), as rsync --link-dest does for snapshots: the receiver gives its copy there a further name; DIR is relative to the destination and inside the receiver's directory (../2026-12-04 beside a URL's backups/2026-12-05), or, for a copy on this machine, anywhere, or absolute; may be given up to 20 times, tried in order (Linux receivers)", Arity = ArgumentArity.OneOrMore, AllowMultipleArgumentsPerToken = false };
        var suffix = new Option<string>("--suffix") { HelpName = "SUFFIX", Description = "with --backup or --backup-dir, append SUFFIX to each backup's name, as rsync --suffix does; default '~' beside the files, none in --backup-dir" };
        var inPlace = new Option<bool>("--inplace") { Description = "write a changed file into the one standing at its name, where it stands, as rsync --inplace does: no second copy takes the space (for large images and databases on a full disk), and with delta only the shards that differ are written (a file with other names is still written beside its name); as with rsync, a send that fails part way leaves it part old, part new, and readers see it change; not with --sparse or --backup (Linux receivers)" };
        var delayUpdates = new Option<bool>("--delay-updates") { Description = "put the files that arrive into place together at the end of the send, as rsync --delay-updates does: until then readers see the old version of the tree, and each file waits verified as its partial beside its name (its space taken until the end); a send that fails first leaves them to the same send again, which sends only the digests of those of more than one shard; hard links to them are made after them; not with --inplace or --append" };
        var append = new Option<bool>("--append", "--append-verify") { Description = "for logs that grow, as rsync --append-verify: --inplace with delta on whatever the path, so only what follows what the receiver holds travels (with the shard it ends in), every kept shard compared first; unlike rsync --append, a copy as long as the source or longer is not left as it is but brought to the source's contents (cut, where the log was rotated); a receiver started with --no-delta takes the whole log; not with --whole-file, --sparse or --backup" };
        var wholeFile = new Option<bool>("--whole-file", "-W") { Description = "send changed files whole, never as a delta, as rsync --whole-file does" };
        var command = new Command("send", "send files and directories to a receiver: one started through ssh (sglty send PATH... [USER@]HOST:DIR), or one running already (--to URL); or pull them from another machine, where ssh starts the send (sglty send [USER@]HOST:PATH... DIR); or copy them on this machine (sglty send PATH... DIR)") { paths, to, rsh, sgltyPath, remoteListen, makePath, tunnel, noTunnel, ipv4, ipv6, listenHere, untilStdinCloses, fileName, lanes, shardSize, inFlight, socketBuffer, json, encrypt, token, tokenFile, retries, timeout, stall, congestion, ignoreTimes, checksum, sizeOnly, modifyWindow, omitDirTimes, omitLinkTimes, update, ignoreExisting, existing, maxSize, minSize, delete, deleteBefore, deleteExcluded, ignoreErrors, maxDelete, exclude, excludeFrom, include, includeFrom, filter, perDirectoryFilter, relative, filesFrom, recursive, from0, dryRun, verbose, quiet, itemize, outFormat, stats, info, logFile, logFileFormat, owners, owner, group, noOwner, noGroup, chown, usermap, groupmap, archive, xattrs, acls, devices, specials, devicesAndSpecials, noDevices, noSpecials, noDevicesOrSpecials, human, noHuman, numericIds, hardLinks, oneFileSystem, copyLinks, copyUnsafeLinks, copyDirLinks, safeLinks, chmod, pruneEmpty, ignoreMissing, deleteMissing, force, removeSources, backup, backupDir, suffix, linkDest, compareDest, copyDest, sparse, compress, compressLevel, bwlimit, delta, wholeFile, inPlace, append, delayUpdates };
        foreach (var option in asAlways) command.Options.Add(option);
        command.Options.Add(noPerms);
        command.Validators.Add(result =>
        {
            if (result.GetValue(outFormat) is { } format && OutFormat.Parse(format, out string? formatError) is null) result.AddError($"--out-format: {formatError}");
            if (result.GetValue(logFileFormat) is { } logFormat && OutFormat.Parse(logFormat, out string? logFormatError) is null) result.AddError($"--log-file-format: {logFormatError}");
            if (result.GetValue(logFileFormat) is not null && result.GetValue(logFile) is null) result.AddError("--log-file-format says how --log-file logs each change; give --log-file too");
            if (result.GetValue(chown) is { } chosen && ChownParts(chosen) is (null, null)) result.AddError($"--chown takes USER:GROUP, USER or :GROUP, not '{chosen}'");
            if (InfoFlags.Parse(result.GetValue(info) ?? [], out string? infoError) is not { } flags) result.AddError($"--info: {infoError}");
            else if (StatsLevel(result.GetValue(stats), flags) > 0 && result.GetValue(json)) result.AddError("--stats (or --info=stats) and --json both print the send's counts on stdout; give one of them");
            if (result.GetValue(delta) && result.GetValue(wholeFile)) result.AddError("--delta and --whole-file contradict each other; give one of them");
            if (result.GetValue(deleteBefore) && result.GetResult(delete)?.IdentifierToken?.Value is "--delete-during" or "--delete-after" or "--delete-delay")
                result.AddError($"--delete-before and {result.GetResult(delete)!.IdentifierToken!.Value} choose different times to delete; give one of them");
            if (result.GetValue(delayUpdates) && (result.GetValue(inPlace) || result.GetValue(append)))
                result.AddError($"--delay-updates puts each file into place at the end, which a file written where it stands ({(result.GetValue(append) ? "--append" : "--inplace")}) never waits for; give one or the other");
            if (result.GetValue(append) && (new[] { wholeFile, sparse, backup }.FirstOrDefault(result.GetValue)?.Name ?? (result.GetValue(backupDir) is null ? null : backupDir.Name)) is { } against)
                result.AddError($"--append writes in place with delta, which {against} does not go with; give one of them");
            string[] sources = result.GetValue(paths) ?? [];
            // How many sources: a pull's last PATH is where they go here.
            int sourcesGiven = sources.Length;
            try
            {
                (string? destination, sources) = Destination(sources, result.GetValue(to));
                // With --to, every PATH is a source, and one that is not here is told as missing by the scan.
                var there = result.GetValue(to) is null ? RemoteSource(sources) : null;
                bool pulls = destination is null && Pull(sources) is not null;
                // Two paths or more here, the last where they go: a copy on this machine, as rsync makes one.
                bool copies = destination is null && there is null && !pulls && sources is [_, _, ..] && !IsHostAndPort(sources[^1]);
                sourcesGiven = pulls || copies ? sources.Length - 1 : sources.Length;
                if (there is { } elsewhere && !pulls)
                    result.AddError(destination is null
                        ? $"'{elsewhere.Text}' is a path on {elsewhere.Host}: give the directory here it goes into as the last argument ('sglty send {elsewhere.Text} DIR')"
                        : $"'{elsewhere.Text}' is a path on {elsewhere.Host}, and sglty sends between this machine and another: run the send there (as '{elsewhere.There}'), or run 'sglty recv' here and send to its URL from there");
                if (pulls)
                {
                    var local = new Option[] { remoteListen, token, tokenFile, untilStdinCloses, fileName }.FirstOrDefault(option => result.GetResult(option) is not null);
                    if (local == fileName) result.AddError("--file-name: a pull names the file by where it goes (web1:db.dump ./db-1206.dump)");
                    else if (local == remoteListen) result.AddError("--remote-listen names what a receiver started there listens on, and a pull (HOST:PATH... DIR) receives here, on a free port");
                    else if (local == untilStdinCloses) result.AddError("--until-stdin-closes is how a pull ties the send it starts there to itself, not for the pull (HOST:PATH... DIR), which ends when it is stopped");
                    else if (local is not null) result.AddError($"{local.Name} names a receiver's token, and the receiver of a pull (HOST:PATH... DIR) is here, with a token of its own that ssh carries there");
                }
                if (destination is null && sources is [_, _, ..] && IsHostAndPort(sources[^1]))
                    result.AddError($"'{sources[^1]}' reads as a receiver's HOST:PORT; for a directory named by digits write {sources[^1].Insert(sources[^1].LastIndexOf(':') + 1, "./")}, for a receiver sglty://{sources[^1][(sources[^1].IndexOf('@') + 1)..]}/");
                else if (destination is null && there is null && !pulls && !copies)
                    result.AddError("give where to send: [USER@]HOST:DIR as the last argument, to start a receiver there through ssh, --to URL, as `sglty recv` prints it, or a directory here, for a copy on this machine");
                bool remote = pulls || (destination is not null && RemoteTarget.TryParse(destination, out _));
                if (remote && RemoteShell.Words(ShellCommand(result.GetValue(rsh))).Count == 0)
                    result.AddError(result.GetValue(rsh) is null ? $"{RshVariable} names no command; give the remote shell, as 'ssh -p 2222'" : "-e names no command; give the remote shell, as 'ssh -p 2222'");
                if (!pulls && result.GetResult(listenHere) is not null)
                    result.AddError("--listen goes with a pull ([USER@]HOST:PATH... DIR), whose receiver is here; a receiver of your own is `sglty recv --listen`");
                if (pulls && result.GetValue(listenHere) is { } listenAt)
                {
                    try
                    {
                        // Where -4 or -6 and the address disagree, the pull's receiver would listen where the send there is told not to connect.
                        var listening = RecvCommand.ParseListen(listenAt);
                        bool ipv6Only = listening.AddressFamily == AddressFamily.InterNetworkV6 && !listening.Address.IsIPv4MappedToIPv6 && !listening.Address.Equals(IPAddress.IPv6Any);
                        if (result.GetValue(ipv4) && ipv6Only)
                            result.AddError($"-4 asks for IPv4, and --listen '{listenAt}' is an IPv6 address; give an IPv4 one (or 0.0.0.0:PORT), or leave out -4");
                        else if (result.GetValue(ipv6) && listening.AddressFamily == AddressFamily.InterNetwork)
                            result.AddError($"-6 asks for IPv6, and --listen '{listenAt}' is an IPv4 address; give an IPv6 one (or [::]:PORT), or leave out -6");
                    }
                    catch (FormatException ex)
                    {
                        result.AddError(ex.Message);
                    }
                }
                if (!remote && new Option[] { rsh, sgltyPath, remoteListen, makePath, tunnel, noTunnel }.FirstOrDefault(option => result.GetResult(option) is not null && !(copies && option == makePath)) is { } shellOnly)
                    result.AddError($"{shellOnly.Name} goes with a [USER@]HOST:DIR destination, whose receiver is started through ssh; {(copies ? $"'{sources[^1]}' is a path on this machine, which a copy here writes into" : "a URL names one already running")}");
                if (result.GetValue(ipv4) && result.GetValue(ipv6))
                    result.AddError("-4 and -6 ask for opposite things; give one");
                if (result.GetValue(tunnel) && result.GetValue(noTunnel))
                    result.AddError("--tunnel and --no-tunnel ask for opposite things; give one");
                if (remote && !pulls && result.GetValue(remoteListen) is { } listenThere && !IsListenAddress(listenThere))
                    result.AddError($"--remote-listen takes HOST:PORT, as 0.0.0.0:7701 (port 0 for a free one), not '{listenThere}'");
                if ((remote && !pulls || copies) && result.GetResult(fileName) is not null)
                    result.AddError(copies ? "--file-name: a copy on this machine names the file by where it goes (db.dump ./db-1206.dump)" : "--file-name: a [USER@]HOST:DIR destination names the file itself (db.dump web1:db-1206.dump)");
                if ((remote && !pulls || copies) && new Option[] { token, tokenFile }.FirstOrDefault(option => result.GetResult(option) is not null) is { } secret)
                    result.AddError(copies ? $"{secret.Name} opens a receiver already running; a copy on this machine makes its own token" : $"{secret.Name} opens a receiver already running; the one started through ssh makes its own token, which ssh carries back");
            }
            catch (FormatException ex)
            {
                result.AddError(ex.Message);
            }
            // Standard input holds one list.
            if (new[] { result.GetValue(filesFrom) }.Concat(result.GetValue(excludeFrom) ?? []).Concat(result.GetValue(includeFrom) ?? []).Count(list => list == "-") > 1)
                result.AddError("--files-from, --exclude-from and --include-from read standard input ('-') for one list alone; give the others as files");
            if (result.GetValue(untilStdinCloses) && (result.GetValue(excludeFrom) ?? []).Concat(result.GetValue(includeFrom) ?? []).Contains("-"))
                result.AddError("--until-stdin-closes waits for standard input to end, which a list read from - (standard input) also reads; give the list as a file");
            // A pull's list: names ended by NULs up to an empty one, after the token's line.
            if (result.GetValue(untilStdinCloses) && result.GetValue(filesFrom) == "-" && !result.GetValue(from0))
                result.AddError("--until-stdin-closes reads --files-from - as a pull gives it: names ended by NULs up to an empty one; give --from0");
            if (result.GetValue(filesFrom) is not null && sourcesGiven != 1)
                result.AddError("--files-from takes one PATH: the directory the listed paths are relative to");
            if (result.GetValue(from0) && result.GetValue(filesFrom) is null) result.AddError("--from0 goes with --files-from");
            if (result.GetValue(token) is not null && result.GetValue(tokenFile) is not null) result.AddError("--token and --token-file each give the token; give one of them");
            bool keepRules = result.GetValue(sizeOnly) || result.GetValue(update) || result.GetValue(ignoreExisting) || result.GetValue(existing);
            if (result.GetValue(hardLinks) && keepRules)
                result.AddError("--hard-links does not go with --size-only, --update, --ignore-existing or --existing yet: links are made over what stands at their names, which those keep");
            if (result.GetValue(checksum) && (result.GetValue(ignoreTimes) || result.GetValue(sizeOnly)))
                result.AddError("--checksum compares the contents of files in place, which --ignore-times sends anyway and --size-only does not look at; give one of them");
            if (result.GetValue(suffix) is not null && !result.GetValue(backup) && result.GetValue(backupDir) is null)
                result.AddError("--suffix names backups, which --backup or --backup-dir asks for; give one of them too");
            if (result.GetValue(removeSources) && new[] { copyLinks, copyUnsafeLinks, copyDirLinks }.FirstOrDefault(result.GetValue) is { } following)
                result.AddError($"{following.Name} sends what links point to, which --remove-source-files would then remove; give one of them");
            if (result.GetValue(maxDelete) is { } most && (most < 0 || !(result.GetValue(delete) || result.GetValue(deleteBefore) || result.GetValue(deleteExcluded) || result.GetValue(deleteMissing) || result.GetValue(force))))
                result.AddError(most < 0 ? $"--max-delete takes a number of entries, 0 or more, not {most}" : "--max-delete limits what --delete (or --delete-missing-args, or --force) deletes; give one of them too");
            var earlier = new[] { linkDest, compareDest, copyDest }.Where(option => result.GetValue(option) is { Length: > 0 }).ToArray();
            if (earlier.Length > 1) result.AddError($"{earlier[0].Name} and {earlier[1].Name} do not go together, as with rsync; give one of them");
            foreach (var option in earlier)
            {
                if (result.GetValue(option)!.Length > Singularity.Engine.TransferOptions.MostLinkDestinations) result.AddError($"{option.Name} may be given at most {Singularity.Engine.TransferOptions.MostLinkDestinations} times, as with rsync");
                if (result.GetValue(ignoreTimes) || result.GetValue(checksum))
                    result.AddError($"{option.Name} uses the files the quick check finds unchanged, which --ignore-times sends anyway and --checksum judges by their contents; give one or the other");
            }
            if (result.GetValue(compareDest) is { Length: > 0 } && (result.GetValue(removeSources) || result.GetValue(hardLinks)))
                result.AddError("--compare-dest leaves out of the destination what DIR holds unchanged, which --remove-source-files would then remove here and --hard-links would name there; give one of them");
            if (result.GetValue(ignoreTimes) && keepRules)
                result.AddError("--ignore-times sends every file, so it contradicts --size-only, --update, --ignore-existing and --existing; give one or the other");
        });
        command.SetAction((result, cancellationToken) =>
        {
            var flags = InfoFlags.Parse(result.GetValue(info) ?? [], out _)!;
            int statsLevel = StatsLevel(result.GetValue(stats), flags);
            var chosen = result.GetValue(chown) is { } given ? ChownParts(given) : (null, null);
            var keptOwner = OwnersKept(result, owners, archive, owner, group, noOwner, noGroup, [(chown, chosen.User is null ? 0 : OwnerParts.User), (chown, chosen.Group is null ? 0 : OwnerParts.Group), (usermap, OwnerParts.User), (groupmap, OwnerParts.Group)]);
            var (sendsDevices, sendsSpecials) = SpecialsSent(result, archive, devicesAndSpecials, devices, specials, noDevicesOrSpecials, noDevices, noSpecials);
            long shard = result.GetValue(shardSize) ?? TransferOptions.DefaultShardSize;
            // As rsync: a level of 0 turns compression off, any other turns it on.
            bool compressed = result.GetValue(compressLevel) is { } level ? level != 0 : result.GetValue(compress);
            var options = CommonOptions.Transfer(result.GetValue(lanes) ?? TransferOptions.DefaultLanes, shard) with
            {
                MaxInFlightBytes = result.GetValue(inFlight) ?? new TransferOptions().MaxInFlightBytes,
                SocketBufferSize = (int)Math.Min(result.GetValue(socketBuffer) ?? 0, int.MaxValue),
                Cipher = result.GetValue(encrypt) ?? CipherSuite.Aes256Gcm,
                CongestionControl = result.GetValue(congestion),
                AddressFamily = result.GetValue(ipv4) ? System.Net.Sockets.AddressFamily.InterNetwork : result.GetValue(ipv6) ? System.Net.Sockets.AddressFamily.InterNetworkV6 : System.Net.Sockets.AddressFamily.Unspecified,
                // Without --lanes the sender starts with 4 and doubles the lanes while that still raises throughput;
                // with neither --lanes nor --shard-size it also fits both to the path's round trip.
                MaxLanes = result.GetResult(lanes) is { Implicit: false } ? 0 : Math.Max(TransferOptions.DefaultLanes, Math.Min(16, new ProtocolLimits().LanesThatFit((int)Math.Min(shard, int.MaxValue), compressed))),
                FitToPath = result.GetResult(lanes) is not { Implicit: false } && result.GetResult(shardSize) is not { Implicit: false },
                Retries = result.GetValue(retries) ?? 5,
                RetryTimeout = result.GetValue(timeout) ?? TimeSpan.FromMinutes(10),
                StallTimeout = result.GetValue(stall) ?? TimeSpan.FromSeconds(30),
                SkipUnchanged = !result.GetValue(ignoreTimes),
                SizeOnly = result.GetValue(sizeOnly),
                // As rsync: a negative window compares times to the nanosecond, what this side does by default.
                ModifyWindow = result.GetValue(modifyWindow) is >= 0 and var window ? window : null,
                OmitDirectoryTimes = result.GetValue(omitDirTimes),
                OmitLinkTimes = result.GetValue(omitLinkTimes),
                Checksum = result.GetValue(checksum),
                Update = result.GetValue(update),
                IgnoreExisting = result.GetValue(ignoreExisting),
                ExistingOnly = result.GetValue(existing),
                MaxFileSize = result.GetValue(maxSize),
                MinFileSize = result.GetValue(minSize),
                DeleteExtraneous = result.GetValue(delete) || result.GetValue(deleteBefore) || result.GetValue(deleteExcluded),
                DeleteBefore = result.GetValue(deleteBefore),
                MaxDelete = result.GetValue(maxDelete),
                DeleteExcluded = result.GetValue(deleteExcluded),
                IgnoreErrors = result.GetValue(ignoreErrors),
                DryRun = result.GetValue(dryRun),
                ListSent = flags.Name is { } names ? names > 0 : result.GetValue(verbose),
                // --out-format lists what -i lists; -ii also what stays as it was. --stats counts what was made.
                ItemizeChanges = Math.Max(Math.Min(result.GetResult(itemize)?.IdentifierTokenCount ?? 0, 2), result.GetValue(outFormat) is null && result.GetValue(logFile) is null && statsLevel < 2 ? 0 : 1),
                Relative = result.GetValue(relative) || result.GetValue(filesFrom) is not null,
                Recursive = result.GetValue(filesFrom) is null || result.GetValue(recursive),
                PreserveOwners = keptOwner != 0,
                OwnerParts = keptOwner != 0 ? keptOwner : OwnerParts.Both,
                // What --chown chose, unless a later --no-o or --no-g took that part back, as rsync reads them.
                ChownUser = (keptOwner & OwnerParts.User) != 0 ? chosen.User : null,
                ChownGroup = (keptOwner & OwnerParts.Group) != 0 ? chosen.Group : null,
                UserMap = (keptOwner & OwnerParts.User) != 0 ? result.GetValue(usermap) : null,
                GroupMap = (keptOwner & OwnerParts.Group) != 0 ? result.GetValue(groupmap) : null,
                NumericIds = result.GetValue(numericIds),
                HardLinks = result.GetValue(hardLinks),
                Xattrs = result.GetValue(xattrs),
                Acls = result.GetValue(acls),
                Devices = sendsDevices,
                Specials = sendsSpecials,
                OneFileSystem = (result.GetResult(oneFileSystem)?.IdentifierTokenCount ?? 0) switch { 0 => MountPoints.Crossed, 1 => MountPoints.SentEmpty, _ => MountPoints.LeftOut },
                RemoveSourceFiles = result.GetValue(removeSources),
                CopyLinks = result.GetValue(copyLinks),
                CopyUnsafeLinks = result.GetValue(copyUnsafeLinks),
                CopyDirLinks = result.GetValue(copyDirLinks),
                SafeLinks = result.GetValue(safeLinks),
                PruneEmptyDirectories = result.GetValue(pruneEmpty),
                IgnoreMissingArgs = result.GetValue(ignoreMissing),
                DeleteMissingArgs = result.GetValue(deleteMissing),
                Force = result.GetValue(force),
                KeepPermissions = ModesKept(result, archive, perms, noPerms),
                ModeChanges = result.GetValue(chmod) ?? [],
                Backup = result.GetValue(backup),
                BackupDirectory = BackupDirectory(result.GetValue(backupDir)),
                BackupSuffix = result.GetValue(suffix),
                LinkDestinations = [.. (result.GetValue(linkDest) ?? []).Select(LinkDirectory)],
                CompareDestinations = [.. (result.GetValue(compareDest) ?? []).Select(LinkDirectory)],
                CopyDestinations = [.. (result.GetValue(copyDest) ?? []).Select(LinkDirectory)],
                Sparse = result.GetValue(sparse),
                Compress = compressed,
                CompressLevel = result.GetValue(compressLevel) is { } asked and not 0 ? asked : TransferOptions.DefaultCompressLevel,
                BandwidthLimit = result.GetValue(bwlimit) ?? 0,
                // --append: delta whatever the path, into the file in place.
                Delta = result.GetValue(wholeFile) ? false : result.GetValue(delta) || result.GetValue(append) ? true : null,
                InPlace = result.GetValue(inPlace) || result.GetValue(append),
                DelayUpdates = result.GetValue(delayUpdates),
                FileName = result.GetValue(fileName),
            };
            // -i is rsync's --out-format '%i %n%L'.
            var lines = result.GetValue(outFormat) is { } format ? OutFormat.Parse(format, out _) : (result.GetResult(itemize)?.IdentifierTokenCount ?? 0) > 0 ? OutFormat.Itemized : null;
            var logged = result.GetValue(logFile) is { } logPath ? (logPath, result.GetValue(logFileFormat) is { } logFormat ? OutFormat.Parse(logFormat, out _)! : OutFormat.Itemized) : ((string, OutFormat)?)null;
            // As rsync's levels: no commas, commas (its default), units of 1000 (-h), of 1024 (-hh).
            int humanLevel = result.GetValue(noHuman) ? 0 : 1 + Math.Min(result.GetResult(human)?.IdentifierTokenCount ?? 0, 2);
            var output = new SendOutput(result.GetValue(json), lines, result.GetValue(quiet), statsLevel, Progress: flags.Progress is not 0, Names: flags.Name is not 0, logged, humanLevel);
            if (result.GetValue(to) is null && Pull(result.GetValue(paths)!) is { } pull)
            {
                var from = new RemoteShell { Command = RemoteShell.Words(ShellCommand(result.GetValue(rsh))), Program = result.GetValue(sgltyPath), MakePath = result.GetValue(makePath), Tunnel = Tunnel(result, tunnel, noTunnel) };
                var words = WordsThere(result, paths, [rsh, sgltyPath, makePath, tunnel, noTunnel, ipv4, ipv6, listenHere, exclude, excludeFrom, include, includeFrom, filter, filesFrom, from0, logFile]);
                // The log is written here, of the lines the send there writes to its standard error.
                if (result.GetValue(logFile) is not null) words = words.Append("--log-file=-");
                var here = result.GetValue(listenHere) is { } listenAt ? RecvCommand.ParseListen(listenAt) : null;
                var listing = result.GetValue(filesFrom) is { } listFile ? (listFile, result.GetValue(from0)) : ((string, bool)?)null;
                return PullAsync(pull, from, options, here, [.. words], PatternsInOrder(result, exclude, excludeFrom, include, includeFrom, filter), listing, result.GetValue(logFile), result.GetValue(json), result.GetValue(quiet), cancellationToken);
            }
            var (destination, sources) = Destination(result.GetValue(paths)!, result.GetValue(to));
            // No receiver named: the last PATH is where a copy on this machine goes (the validator saw two or more). It
            // travels in plaintext unless asked: the loopback of one machine has no wire to protect.
            (string Target, bool MakePath)? copy = destination is null ? (sources[^1], result.GetValue(makePath)) : null;
            if (copy is not null)
            {
                sources = sources[..^1];
                if (result.GetValue(encrypt) is null) options = options with { Cipher = CipherSuite.None };
            }
            // Only a send through a shell reads -e and its variable.
            (RemoteTarget, RemoteShell)? throughShell = destination is not null && RemoteTarget.TryParse(destination, out var target)
                ? (target, new RemoteShell
                {
                    Command = RemoteShell.Words(ShellCommand(result.GetValue(rsh))),
                    Program = result.GetValue(sgltyPath),
                    Listen = result.GetValue(remoteListen) ?? new RemoteShell().Listen,
                    MakePath = result.GetValue(makePath),
                    Tunnel = Tunnel(result, tunnel, noTunnel),
                })
                : null;
            return RunAsync(sources, result.GetValue(filesFrom) is { } list ? (list, result.GetValue(from0)) : null, destination, throughShell, copy, options, PatternsInOrder(result, exclude, excludeFrom, include, includeFrom, filter), result.GetValue(token), result.GetValue(tokenFile), result.GetValue(untilStdinCloses), output, cancellationToken);
        });
        return command;
    }

    /// <summary>--tunnel, --no-tunnel, or neither (null: as ssh's configuration reaches the host).</summary>
    private static bool? Tunnel(ParseResult result, Option<bool> tunnel, Option<bool> noTunnel) =>
        result.GetValue(tunnel) ? true : result.GetValue(noTunnel) ? false : null;

    /// <summary>
    /// The words of the command line for the send a pull starts there, in the order given: every option but those
    /// read here (<paramref name="readHere"/>, with their values), without the PATHs, which the pull names there.
    /// </summary>
    private static IEnumerable<string> WordsThere(ParseResult result, Argument paths, Option[] readHere)
    {
        // The PATHs, and the values of the options read here (a bool's written value too: --mkpath=false), by what they are.
        var left = new HashSet<Token>(ReferenceEqualityComparer.Instance);
        left.UnionWith(result.GetResult(paths)?.Tokens ?? []);
        foreach (var option in readHere) left.UnionWith(result.GetResult(option)?.Tokens ?? []);
        foreach (var token in result.Tokens)
        {
            if (token.Type is TokenType.Command or TokenType.DoubleDash || left.Contains(token)) continue;
            if (token.Type == TokenType.Option && readHere.Any(option => Names(option, token))) continue;
            yield return token.Value;
        }
    }

    /// <summary>One of the engine's patterns as the --filter rule that reads back to it: a pattern without a kind is an exclude.</summary>
    private static string AsFilterRule(string pattern) =>
        pattern == "!" || pattern.StartsWith(':') || (pattern.Length > 1 && pattern[1] == ' ' && "+-HSPR".Contains(pattern[0])) ? pattern : "- " + pattern;

    /// <summary>
    /// A pull: <c>sglty send</c> started through the shell on the machine the sources are on, into a receiver here
    /// (<see cref="RemoteSender"/>). What the send there prints is printed here, and its exit code is this one's.
    /// </summary>
    private static async Task<int> PullAsync((RemoteTarget Login, string[] Paths, string Target) pull, RemoteShell shell, TransferOptions options, System.Net.IPEndPoint? listen, string[] words, List<(Option Option, string Value)> patterns, (string File, bool NulSeparated)? filesFrom, string? logFile, bool json, bool quiet, CancellationToken cancellationToken)
    {
        var shown = new RelayedLines(terminal: !Console.IsErrorRedirected);
        TransferLog? log = null;
        try
        {
            // Opened before the login, so that a log that cannot be written is told before anything runs.
            log = logFile is null ? null : TransferLog.Open(logFile);
            // The patterns travel as rules, and a --files-from list as names, read here, as rsync's client reads its
            // --exclude-from and --files-from files and sends what they hold.
            words = [.. words, .. patterns.SelectMany(Patterns).Select(pattern => "--filter=" + AsFilterRule(pattern))];
            var listed = filesFrom is var (file, nulSeparated) ? ListedNames(file, nulSeparated) : null;
            // Told here, as a push tells it, without a login there.
            if (listed is { Count: 0 }) return NothingListed(filesFrom!.Value.File, options, quiet, json, itemized: false, log);
            log?.Write($"pulling {Count.Of(pull.Paths.Length, "path")} from {Errors.Printable(pull.Login.Host)} into {Errors.Printable(pull.Target)}");
            int code = await RemoteSender.RunAsync(pull.Login, pull.Paths, pull.Target, words, shell, options, listen, shown.Output, shown.Error, line =>
            {
                shown.Error("sglty: " + line);
                log?.Write(Errors.Printable(line));
            }, listed, line => log?.Write(Errors.Printable(line)), cancellationToken).ConfigureAwait(false);
            shown.End();
            return code;
        }
        catch (Exception) when (Errors.Interrupted)
        {
            shown.End();
            Console.Error.WriteLine("sglty: interrupted; the same pull again resumes what arrived");
            log?.Write("interrupted");
            // One object on stdout, as any send ends with: the send there may have printed its own.
            if (json && !shown.PrintedJson) Errors.WriteJson("interrupted", null, Errors.InterruptedExit);
            return Errors.InterruptedExit;
        }
        catch (Exception ex)
        {
            shown.End();
            log?.Write($"error: {Errors.Printable(Errors.Describe(ex))}");
            return Errors.Report(ex, json && !shown.PrintedJson);
        }
        finally
        {
            log?.Close("pull");
        }
    }

    /// <summary>As rsync: an empty --files-from list (a find that found nothing) is nothing to do, not an error.</summary>
    private static int NothingListed(string file, TransferOptions options, bool quiet, bool json, bool itemized, TransferLog? log)
    {
        if (!quiet) Console.Error.WriteLine($"sglty: --files-from '{Errors.Printable(file)}' names nothing to send");
        log?.Write($"--files-from '{Errors.Printable(file)}' names nothing to send");
        // A script reading --json gets its object all the same: nothing sent, nothing left out.
        if (json) WriteJson(new SendResult { Files = 0, Entries = 0, Bytes = 0, BytesSent = 0, Retransmits = 0, Elapsed = TimeSpan.Zero, Lanes = 0, ShardSize = options.ShardSize, Cipher = options.Cipher, DryRun = options.DryRun }, 0, options.ListSent, itemized);
        return 0;
    }

    /// <summary>
    /// The words of `sglty send` as rsync users type them, before the parser reads them: an option this command does
    /// not know, alone or among bundled letters (-avzHAX), would otherwise be taken for a PATH and fail as one not
    /// found, or be sent if a file of that name stands here; rsync's -h (human-readable sizes) would print the help
    /// and send nothing. The first is an error; the second, with --no-h, is read in order as rsync reads them, and
    /// given to the parser as so many --human-readable, or --no-human-readable. Words after "--" are PATHs
    /// whatever they start with; -h alone still asks for the help.
    /// </summary>
    internal static (string[] Arguments, string? Error) Prepare(IReadOnlyList<string> arguments, Command send)
    {
        // rsync's -h is the help alone, and human-readable sizes beside anything else.
        if (arguments is ["-h"]) return (["-h"], null);
        var takesValue = new Dictionary<string, bool>(StringComparer.Ordinal) { ["--help"] = false, ["-?"] = false };
        foreach (var option in send.Options)
            foreach (string name in option.Aliases.Append(option.Name))
                takesValue[name] = option.ValueType != typeof(bool) && option.Arity.MaximumNumberOfValues > 0;
        var prepared = new List<string>(arguments.Count);
        bool value = false, ended = false;
        // rsync's human-readable level, read in order: 1 by default, each -h one more, --no-h back to 0.
        int human = 1;
        // rsync's -F, read in order among the filter rules: each the rule it stands for, before the word it is in.
        int perDirectory = 0;
        var filters = new List<string>();
        foreach (string word in arguments)
        {
            if (ended || value || word == "-" || !word.StartsWith('-'))
            {
                value = false;
                prepared.Add(word);
                continue;
            }
            if (word == "--")
            {
                ended = true;
                prepared.Add(word);
                continue;
            }
            if (word == "-F")
            {
                if (PerDirectoryFilter(ref perDirectory) is { } rule) prepared.Add(rule);
                continue;
            }
            if (word is "-h" or "--human-readable" or "--no-h" or "--no-human-readable")
            {
                human = word.StartsWith("--no-", StringComparison.Ordinal) ? 0 : human + 1;
                continue;
            }
            string name = word.StartsWith("--", StringComparison.Ordinal) ? word.Split('=')[0] : word;
            if (takesValue.TryGetValue(name, out bool takes))
            {
                value = takes && !word.Contains('=');
                prepared.Add(word);
                continue;
            }
            if (word.StartsWith("--", StringComparison.Ordinal)) return ([], $"unknown option '{name}' (a path that starts with '-' is written ./{word})");
            // Bundled letters, as -avzP: each a known option; one that takes a value takes the rest, or the next word.
            var kept = new System.Text.StringBuilder("-");
            for (int i = 1; i < word.Length; i++)
            {
                if (word[i] == 'h')
                {
                    human++;
                    continue;
                }
                if (word[i] == 'F')
                {
                    if (PerDirectoryFilter(ref perDirectory) is { } rule) filters.Add(rule);
                    continue;
                }
                if (!takesValue.TryGetValue($"-{word[i]}", out bool letterTakes))
                    return ([], word.Length == 2 ? $"unknown option '{word}' (a path that starts with '-' is written ./{word})" : $"unknown option '-{word[i]}' in '{word}'");
                kept.Append(word[i]);
                if (!letterTakes) continue;
                kept.Append(word, i + 1, word.Length - i - 1);
                value = i + 1 == word.Length;
                break;
            }
            // Before the letters: one of them may take the next word as its value.
            prepared.AddRange(filters);
            filters.Clear();
            if (kept.Length > 1) prepared.Add(kept.ToString());
        }
        // First, where no "--" has turned them into PATHs: the level the parser counts back.
        prepared.InsertRange(0, human == 0 ? ["--no-human-readable"] : Enumerable.Repeat("--human-readable", human - 1));
        return ([.. prepared], null);
    }

    /// <summary>The filter rule of rsync's -F, given <paramref name="count"/> times before: the first reads .rsync-filter files in the directories sent and above them, the second leaves them out of the send; more add nothing, as with rsync.</summary>
    private static string? PerDirectoryFilter(ref int count) => ++count switch
    {
        1 => "--filter=dir-merge /.rsync-filter",
        2 => "--filter=- .rsync-filter",
        _ => null,
    };

    /// <summary>rsync's --chown USER:GROUP, USER (and USER:) or :GROUP, each part null where not given; both null when it gives neither.</summary>
    private static (string? User, string? Group) ChownParts(string value)
    {
        if (value.Count(c => c == ':') > 1) return (null, null);
        int colon = value.IndexOf(':', StringComparison.Ordinal);
        string user = colon < 0 ? value : value[..colon], group = colon < 0 ? "" : value[(colon + 1)..];
        return (user.Length > 0 ? user : null, group.Length > 0 ? group : null);
    }

    /// <summary>
    /// The parts of owners a send keeps, read in the order given, as rsync reads them: --owners, and -a where owners
    /// can be read (elsewhere it asks for nothing more than sglty does anyway), keep both; -o and -g keep one each, and
    /// so does each of the options that <paramref name="choose"/> a part (--chown each part it names, --usermap and
    /// --groupmap theirs); --no-o and --no-g take one back, so `-a --no-o` keeps the groups and `--no-o -o` the users.
    /// </summary>
    private static OwnerParts OwnersKept(ParseResult result, Option both, Option archive, Option user, Option group, Option noUser, Option noGroup, (Option Option, OwnerParts Part)[] choose)
    {
        OwnerParts kept = 0;
        foreach (var token in result.Tokens)
        {
            if (token.Type != TokenType.Option) continue;
            if (Names(both, token) || (Names(archive, token) && OperatingSystem.IsLinux())) kept = OwnerParts.Both;
            else if (Names(user, token)) kept |= OwnerParts.User;
            else if (Names(group, token)) kept |= OwnerParts.Group;
            else if (Names(noUser, token)) kept &= ~OwnerParts.User;
            else if (Names(noGroup, token)) kept &= ~OwnerParts.Group;
            else kept |= choose.Where(chooser => Names(chooser.Option, token)).Aggregate((OwnerParts)0, (parts, chooser) => parts | chooser.Part);
        }
        return kept;
    }

    /// <summary>
    /// Whether devices and FIFOs and sockets are sent, read in the order given, as rsync reads them: -D, and -a where
    /// they can be told apart (Linux), send both; --devices and --specials one each; --no-D, --no-devices and
    /// --no-specials take them back, so `-a --no-D` sends neither and `--no-D --specials` FIFOs and sockets.
    /// </summary>
    private static (bool Devices, bool Specials) SpecialsSent(ParseResult result, Option archive, Option both, Option devices, Option specials, Option noBoth, Option noDevices, Option noSpecials)
    {
        bool sendsDevices = false, sendsSpecials = false;
        foreach (var token in result.Tokens)
        {
            if (token.Type != TokenType.Option) continue;
            if (Names(both, token) || (Names(archive, token) && OperatingSystem.IsLinux())) sendsDevices = sendsSpecials = true;
            else if (Names(noBoth, token)) sendsDevices = sendsSpecials = false;
            else if (Names(devices, token) || Names(noDevices, token)) sendsDevices = Names(devices, token);
            else if (Names(specials, token) || Names(noSpecials, token)) sendsSpecials = Names(specials, token);
        }
        return (sendsDevices, sendsSpecials);
    }

    /// <summary>Whether modes are kept, read in the order given, as rsync reads -p: --no-perms takes them back, a later -p or -a gives them again.</summary>
    private static bool ModesKept(ParseResult result, Option archive, Option perms, Option noPerms)
    {
        bool kept = true;
        foreach (var token in result.Tokens)
            if (token.Type == TokenType.Option && (Names(archive, token) || Names(perms, token) || Names(noPerms, token))) kept = !Names(noPerms, token);
        return kept;
    }

    private static bool Names(Option option, Token token) => option.Name == token.Value || option.Aliases.Contains(token.Value);

    /// <summary>How much of rsync's --stats to print: 2 (all of it) for --stats, unless --info names a level.</summary>
    private static int StatsLevel(bool stats, InfoFlags flags) => flags.Stats ?? (stats ? 2 : 0);

    /// <summary>
    /// What a send prints besides its errors: a JSON object (--json), a line per change (-i, --out-format), nothing
    /// but errors (-q), rsync's statistics (--stats: 2 all, 1 the last two lines), progress, and a log file.
    /// </summary>
    private sealed record SendOutput(bool Json, OutFormat? Lines, bool Quiet, int Stats, bool Progress, bool Names, (string File, OutFormat Format)? Logged, int Human);

    /// <summary>A line of a send's end: on stderr (unless <paramref name="unshown"/>: quiet, for what is no error), and in the log file.</summary>
    private static void Say(TransferLog? log, string line, bool unshown = false)
    {
        if (!unshown) Console.Error.WriteLine(line);
        log?.Write(line.StartsWith("sglty: ", StringComparison.Ordinal) ? line[7..] : line);
    }

    /// <summary>What a receiver could not delete, named at most (ReceiveResult.DeletionFailures): a copy here prints them.</summary>
    private const int MostDeletionFailuresNamed = 100;

    /// <summary>Where what the receiver could not delete is named: its log, or, where this process printed them (a copy here), above.</summary>
    private static string WhereNamed(SendResult result, bool printedHere) =>
        !printedHere ? "the receiver's log names them"
        : result.EntriesNotDeleted > MostDeletionFailuresNamed ? $"the first {MostDeletionFailuresNamed} named above" : "named above";

    /// <summary>Notices a quiet send keeps to print if it fails, at most.</summary>
    private const int MostHeldNotices = 1000;

    /// <summary>The environment variable that names the remote shell when -e does not, as RSYNC_RSH does for rsync.</summary>
    internal const string RshVariable = "SGLTY_RSH";

    /// <summary>The remote shell's command: -e, else the variable, else ssh.</summary>
    private static string ShellCommand(string? given) =>
        given ?? (Environment.GetEnvironmentVariable(RshVariable) is { } fromEnvironment && fromEnvironment.Length > 0 ? fromEnvironment : "ssh");

    /// <summary>Whether a word is HOST:PORT as recv --listen takes it there (the host is not looked up here: it is the other machine's).</summary>
    private static bool IsListenAddress(string word) =>
        word.LastIndexOf(':') is > 0 and var colon && int.TryParse(word.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int port)
        && port <= 65535 && !word[..colon].Any(c => char.IsWhiteSpace(c) || c == '/');

    /// <summary>
    /// The first source that is not here and reads as rsync's [USER@]HOST:PATH, a path on another machine (a pull, which
    /// sglty does not do), with the send to run there instead; null when there is none. A name here that holds a ':'
    /// is a local path, as it stands, and so is one that is not a HOST:PATH at all ('notes 10:30.txt'): the scan says
    /// it is missing.
    /// </summary>
    private static (string Text, string Host, string There)? RemoteSource(string[] sources)
    {
        foreach (string source in sources)
        {
            if (Elsewhere(source) is not { } target) continue;
            string login = (target.User is { } user ? user + "@" : "") + target.Host;
            return (source, target.Host, $"ssh {RemoteShell.Quoted(login)} sglty send {RemoteShell.Quoted(target.Directory.Length == 0 ? "." : target.Directory)} HOST:DIR");
        }
        return null;
    }

    /// <summary>A source that is not here and reads as rsync's [USER@]HOST:PATH; null for any other.</summary>
    private static RemoteTarget? Elsewhere(string source)
    {
        if (Path.Exists(source) || new FileInfo(source).LinkTarget is not null) return null;
        try
        {
            return RemoteTarget.TryParse(source, out var target) ? target : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>
    /// A pull, as scp and rsync take one: every PATH but the last a [USER@]HOST:PATH of one login there, the last where
    /// they go here; null when the words are not one. Sources of two machines, or of this one and
    /// another, are a <see cref="FormatException"/>.
    /// </summary>
    private static (RemoteTarget Login, string[] Paths, string Target)? Pull(string[] words)
    {
        if (words.Length < 2) return null;
        var sources = words[..^1].Select(word => (Word: word, There: Elsewhere(word))).ToArray();
        if (sources.FirstOrDefault(source => source.There is not null) is not (var first, { } login)) return null;
        if (sources.FirstOrDefault(source => source.There is null).Word is { } here)
            throw new FormatException($"'{here}' is no [USER@]HOST:PATH, and '{first}' is on {login.Host}: a send takes its sources from one machine; send them one after the other");
        if (sources.FirstOrDefault(source => source.There!.Host != login.Host || source.There.User != login.User) is (var other, { } another))
            throw new FormatException($"'{first}' and '{other}' are on {(another.Host == login.Host ? "two logins of " + login.Host : "two machines")}: a pull takes its sources from one; pull them one after the other");
        return (login, [.. sources.Select(source => source.There!.Directory)], words[^1]);
    }

    /// <summary>Whether a word is HOST:PORT, a receiver's address as a bare URL (a [USER@]HOST:DIR with digits alone for DIR).</summary>
    private static bool IsHostAndPort(string word) =>
        word.LastIndexOf(':') is > 0 and var colon && colon + 1 < word.Length && word[(colon + 1)..].All(char.IsAsciiDigit) && !word[..colon].Contains('/');

    /// <summary>
    /// Where to send, and what: --to, else the last PATH when it names where to send (a [USER@]HOST:DIR, or a URL) and
    /// others come before it, taken off the sources; null when neither names it.
    /// </summary>
    private static (string? Destination, string[] Sources) Destination(string[] paths, string? to) =>
        to is not null ? (to, paths)
        : paths.Length >= 2 && (paths[^1].StartsWith(ConnectionUrl.Scheme + "://", StringComparison.OrdinalIgnoreCase) || RemoteTarget.TryParse(paths[^1], out _)) ? (paths[^1], paths[..^1])
        : (null, paths);

    /// <summary>Sends to <paramref name="to"/>: a URL, or the [USER@]HOST:DIR <paramref name="throughShell"/> holds, read, with the shell that starts its receiver; or, with <paramref name="copy"/>, to a receiver of its own here.</summary>
    private static async Task<int> RunAsync(string[] paths, (string File, bool NulSeparated)? filesFrom, string? to, (RemoteTarget Target, RemoteShell Shell)? throughShell, (string Target, bool MakePath)? copy, TransferOptions options, List<(Option Option, string Value)> patterns, string? token, string? tokenFile, bool untilStdinCloses, SendOutput output, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cancellationToken = stop.Token;
        var (json, lines, quiet, stats, progress, _, logged, human) = output;
        TransferLog? log = null;
        RemoteReceiver? remote = null;
        LocalReceiver? local = null;
        var held = new List<string>();
        try
        {
            log = logged is { } file ? TransferLog.Open(file.File) : null;
            options = options with { Exclude = [.. patterns.SelectMany(Patterns)] };
            // The token before the list: a pull gives the send it starts both on standard input, the token's line first.
            var given = to is not null && throughShell is null ? ConnectionUrl.Parse(to) : null;
            // --token-file - reads its line whatever the URL holds: what follows it on the input is read next.
            if (given is not null && (given.Token is null || tokenFile == "-") && CommonOptions.ResolveToken(token, tokenFile) is { } resolved)
                given = given with { Token = given.Token ?? resolved };
            if (filesFrom is { } list)
            {
                paths = [.. FilesFrom(list.File, paths[0], list.NulSeparated, untilStdinCloses)];
                if (paths.Length == 0) return NothingListed(list.File, options, quiet, json, lines is not null, log);
            }
            ConnectionUrl url;
            if (throughShell is var (target, shell))
            {
                remote = await StartRemoteAsync(target, paths, shell, options, log, cancellationToken).ConfigureAwait(false);
                url = remote.Url;
                options = Through(options with { FileName = remote.FileName }, remote);
                if (remote.Tunnelled && shell.Tunnel is null)
                    Say(log, $"sglty: {Errors.Printable(target.Host)} is reached through a jump host: the lanes go through ssh's connection, as one stream (--no-tunnel keeps them out)", unshown: quiet);
            }
            else if (copy is var (copyTarget, makePath))
            {
                local = LocalReceiver.Start(copyTarget, paths, options, makePath, line => Say(log, $"sglty: {Errors.Printable(line)}", unshown: quiet));
                url = local.Url;
                options = local.Options;
            }
            else url = given!;
            // A send started through a remote shell ends with the pull that started it, which closes its input (or ends).
            if (untilStdinCloses) StandardInput.CancelWhenEnded(stop, () => Errors.Interrupted = true);
            log?.Write(local is not null ? $"{(options.DryRun ? "dry run: " : "")}copying {Count.Of(paths.Length, "path")} into {Errors.Printable(local.Directory)}{(options.FileName is { } named ? $" as {Errors.Printable(named)}" : "")}"
                : $"{(options.DryRun ? "dry run: " : "")}sending {Count.Of(paths.Length, "path")} to sglty://{ConnectionUrl.Endpoint(url.Host, url.Port)}/{Errors.Printable(url.Directory ?? "")}");
            // As rsync -v: each file as it arrives, so that a long send shows what is done, and a failed one what got
            // there. To a terminal, the list takes the bar's place (it would write between the bar's redraws), and
            // progress comes as lines on stderr.
            // With -i or --out-format, its lines take -v's place, as rsync -vi prints them.
            bool itemizing = lines is not null && !json && !options.DryRun;
            bool listing = (options.ListSent || itemizing) && !json && !options.DryRun;
            var display = new ProgressDisplay(CipherSuites.Name(options.Cipher), bar: !(listing && !Console.IsOutputRedirected), quiet: quiet || !progress);
            if (itemizing || log is not null)
                options = options with
                {
                    OnItemized = change =>
                    {
                        if (itemizing && lines!.Shows(change)) display.List(lines.Line(change));
                        if (logged is { Format: var format } && format.Shows(change)) log!.Write(format.Line(change));
                    },
                };
            if (listing && !itemizing) options = options with { OnFileSent = path => display.List(Errors.Printable(path)) };
            // Quiet, the notices are kept (the first thousand), to be printed should the send fail: they say what it left out.
            // After a send begun again through ssh, those the first told are not told again.
            HashSet<string>? toldOnce = null;
            var told = new HashSet<string>(StringComparer.Ordinal);
            Action<string> events = line =>
            {
                if (toldOnce?.Contains(line) == true) return;
                lock (told) if (told.Count < MostHeldNotices) told.Add(line);
                // How the send tuned itself is shown with -v alone (and logged), as rsync and scp say nothing of it.
                if (!quiet && (options.ListSent || !SingularitySender.IsTuning(line))) Console.Error.WriteLine($"sglty: {Errors.Printable(line)}");
                else if (quiet && !SingularitySender.IsTuning(line)) lock (held) if (held.Count < MostHeldNotices) held.Add(line);
                log?.Write(Errors.Printable(line));
            };
            SendResult result;
            while (true)
            {
                // A receiver started through ssh that ends during the send (killed, its connection dropped) stops it:
                // retries would find its port closed.
                using var sending = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, remote?.Ended ?? CancellationToken.None);
                try
                {
                    result = await display.ShowAsync(() => SingularitySender.SendAsync(paths, url, options, display, events, sending.Token)).ConfigureAwait(false);
                    // It went through (what it left out is named below): what was made for it stays.
                    local?.Keep();
                    break;
                }
                catch (Exception) when (remote is { Ended.IsCancellationRequested: true } && !Errors.Interrupted)
                {
                    throw remote.EndedEarly();
                }
                catch (Exception ex) when (!Errors.Interrupted && remote?.TunnelInstead(ex) is { } instead)
                {
                    // Its port is not reached from here, where ssh got through: its connection carries the lanes.
                    Say(log, $"sglty: {Errors.Printable(instead)}", unshown: quiet);
                    await remote.DisposeAsync().ConfigureAwait(false);
                    remote = null;
                    var (there, through) = throughShell!.Value;
                    remote = await StartRemoteAsync(there, paths, through with { Tunnel = true }, options, log, cancellationToken).ConfigureAwait(false);
                    url = remote.Url;
                    options = Through(options, remote);
                    // The scan's notices were told once.
                    lock (told) toldOnce = [.. told];
                }
                catch (Exception ex) when (!Errors.Interrupted && remote?.Unreached(ex) is { } unreached)
                {
                    throw unreached;
                }
            }
            // Quiet, what was left out is named here, as the notices would have named it as it went.
            if (quiet)
                foreach (var entry in result.NotSent) Console.Error.WriteLine($"sglty: {(result.DryRun ? "would not send" : "not sent")} '{Errors.Printable(entry.Path)}': {Errors.Printable(entry.Reason)}");
            if (result.DryRun) return DryRunReport(result, options, output, log, failuresNamed: local is not null);
            double seconds = Math.Max(result.Elapsed.TotalSeconds, 1e-9);
            // What travelled, then what did not: files left as they were, files left out, bytes an earlier attempt left.
            var others = NotTravelled(result, "were", notSent: true, earlier: options.CompareDestinations.Count > 0 ? "--compare-dest" : options.CopyDestinations.Count > 0 ? "--copy-dest" : options.LinkDestinations.Count > 0 ? "--link-dest" : null, existingOnly: options.ExistingOnly);
            if (result.HardLinks > 0) others.Add($"{Count.Of(result.HardLinks, "hard link")} to them");
            string besides = others.Count > 0 ? $" ({string.Join("; ", others)})" : "";
            var within = new List<string>();
            if (result.BytesSkipped > 0) within.Add($"{ByteSize.Format(result.BytesSkipped)} of it already there from an interrupted send");
            if (result.BytesMatched > 0) within.Add($"{ByteSize.Format(result.BytesMatched)} of it matched the receiver's copies and stayed");
            if (result.BytesInHoles > 0) within.Add($"{ByteSize.Format(result.BytesInHoles)} of it holes, named but not sent");
            if (options.Compress && result.BytesSent > 0) within.Add($"compressed to {ByteSize.Format(result.WireBytes)} on the wire, {(double)result.BytesSent / Math.Max(result.WireBytes, 1):0.0}x");
            string resumed = within.Count > 0 ? $" ({string.Join("; ", within)})" : "";
            string summary = $"sent {Count.Of(result.FilesTransferred, "file")}{besides}, {ByteSize.Format(result.BytesTransferred)}{resumed} in {seconds:0.00} s{Rate(Delivered(result), seconds)}, {Count.Of(result.Lanes, "lane")}, {ByteSize.Format(result.ShardSize)} shards, {CipherSuites.Name(result.Cipher)}";
            Say(log, summary, unshown: quiet);
            if (result.EntriesDeleted > 0) Say(log, unshown: quiet, line: $"deleted {Count.Of(result.EntriesDeleted, "entry", "entries")} at the receiver {DeletedAs(options)}");
            // As rsync skips deletion after an error: what was left out would read as gone from the source.
            if (result.DeletionSkipped) Say(log, $"sglty: the receiver did not delete what the source no longer has: {WhyNotDeleted(result)}");
            if (result.SourcesRemoved > 0) Say(log, unshown: quiet, line: $"removed {Count.Of(result.SourcesRemoved, "source")} here, which the receiver holds");
            foreach (var kept in result.SourcesKept) Say(log, $"sglty: kept '{Errors.Printable(kept.Path)}': {Errors.Printable(kept.Reason)}", unshown: quiet && kept.AsAsked);
            // Sources kept as the options say (a link named as a source, a file the receiver kept) are no fault.
            int keptAmiss = result.SourcesKept.Count(kept => !kept.AsAsked);
            bool partial = result.EntriesNotDeleted > 0 || keptAmiss > 0 || result.XattrsNotSet || result.ModesNotSet;
            int limited = result.EntriesLeftByLimit > 0 ? Errors.DeletionLimit : 0;
            int leftOut = LeftOutCode(result, partial);
            if (json) WriteJson(result, partial || result.NotSent.Count > 0 ? leftOut : limited, options.ListSent, lines is not null);
            WriteStats(result, stats, human, quiet);
            if (result.EntriesNotDeleted > 0)
                Say(log, $"sglty: error: {Count.Of(result.EntriesNotDeleted, "entry", "entries")} at the receiver could not be deleted; {WhereNamed(result, printedHere: local is not null)}");
            if (result.EntriesLeftByLimit > 0)
                Say(log, $"sglty: error: deletions stopped at the --max-delete limit of {options.MaxDelete}: {Count.Of(result.EntriesLeftByLimit, "entry", "entries")} at the receiver {(result.EntriesLeftByLimit == 1 ? "was" : "were")} left (a directory counted once); check the source, then send with a higher limit to delete {(result.EntriesLeftByLimit == 1 ? "it" : "them")}");
            if (result.XattrsNotSet)
                Say(log, "sglty: error: the receiver could not give some entries all their extended attributes or ACLs: its file system or system refused them (its log counts them and names the first); everything arrived");
            if (result.ModesNotSet)
                Say(log, "sglty: error: the receiver's file system refused some entries their modes (a FAT or exFAT disk, a share that keeps none; its log counts them and names the first): they arrived with the modes it gives; send with --no-perms to leave modes to it");
            if (keptAmiss > 0)
                Say(log, $"sglty: error: {Count.Of(keptAmiss, "source was", "sources were")} kept here, changed after {(keptAmiss == 1 ? "it was" : "they were")} read or not removable (named above); the receiver holds what was read: send again to move {(keptAmiss == 1 ? "it" : "them")} as {(keptAmiss == 1 ? "it is" : "they are")} now");
            if (result.NotSent.Count == 0) return partial ? Errors.PartialTransfer : limited;
            // As rsync ends a transfer that skipped what it could not read or write: the rest arrived, and the exit says not all did.
            Say(log, $"sglty: error: {WhyLeftOut(result.NotSent)} (named above); {(NothingArrived(result) ? "nothing was sent" : "everything else arrived")}{SendAgain(result.NotSent)}");
            return leftOut;
        }
        catch (Exception) when (Errors.Interrupted)
        {
            log?.Write("interrupted");
            Console.Error.WriteLine("sglty: interrupted; the same send again resumes what arrived");
            if (json) Errors.WriteJson("interrupted", null, Errors.InterruptedExit);
            return Errors.InterruptedExit;
        }
        catch (Exception ex)
        {
            foreach (string line in held) Console.Error.WriteLine($"sglty: {Errors.Printable(line)}");
            log?.Write($"error: {Errors.Printable(Errors.Describe(ex))}");
            return Errors.Report(ex, json);
        }
        finally
        {
            // The receiver started through ssh ends with the send: its input closes.
            if (remote is not null) await remote.DisposeAsync().ConfigureAwait(false);
            if (local is not null) await local.DisposeAsync().ConfigureAwait(false);
            log?.Close("send");
        }
    }

    /// <summary>Starts the receiver of a send to [USER@]HOST:DIR through the shell, and logs where it listens.</summary>
    private static async Task<RemoteReceiver> StartRemoteAsync(RemoteTarget target, string[] paths, RemoteShell shell, TransferOptions options, TransferLog? log, CancellationToken cancellationToken)
    {
        // Its warnings (devices it may not make) are shown even under -q, as any warning.
        var remote = await RemoteReceiver.StartAsync(target, paths, shell, options, line =>
        {
            Console.Error.WriteLine($"sglty: {Errors.Printable(line)}");
            log?.Write(Errors.Printable(line));
        }, cancellationToken).ConfigureAwait(false);
        log?.Write($"started a receiver in {Errors.Printable(target.ToString())} through {Errors.Printable(shell.Command[0])}, reached at {remote.Url.Host}:{remote.Url.Port}{(remote.Tunnelled ? ", through ssh's connection" : "")}");
        return remote;
    }

    /// <summary>
    /// The options of a send through <paramref name="remote"/>: by the family of addresses ssh reaches it by; through
    /// ssh's connection, the lanes see the hop to ssh here, which reads as a local path, where the path is one ssh takes:
    /// they are not fitted to it, and a changed file goes as a delta unless the user chose.
    /// </summary>
    private static TransferOptions Through(TransferOptions options, RemoteReceiver remote) =>
        remote.Tunnelled ? options with { AddressFamily = remote.Family, Delta = options.Delta ?? true, FitToPath = false } : options with { AddressFamily = remote.Family };

    /// <summary>What the receiver deleted, for the summary: with --force alone, only what stood in the way of the source's entries.</summary>
    private static string DeletedAs(TransferOptions options) =>
        options.Force && !options.DeleteExtraneous && !options.DeleteMissingArgs ? "that stood in the way of the source's entries" : "that the source no longer has";

    /// <summary>
    /// The code of a send that left entries out, or fell short otherwise (<paramref name="partial"/>): 24 where every
    /// entry left out vanished since the scan, as rsync's, else 23.
    /// </summary>
    private static int LeftOutCode(SendResult result, bool partial) =>
        !partial && result.NotSent.Count > 0 && result.NotSent.All(entry => entry.Vanished) ? Errors.VanishedSources : Errors.PartialTransfer;

    /// <summary>
    /// A dry run's answer: on stdout the files a send would send and what it would delete, as rsync -n lists them (with
    /// -i or --out-format, what it would change, as rsync -ni lists it); then the counts, and with --stats rsync's.
    /// <paramref name="failuresNamed"/>: what could not be deleted was named already (a copy here prints what its
    /// receiver logs).
    /// </summary>
    private static int DryRunReport(SendResult result, TransferOptions options, SendOutput output, TransferLog? log, bool failuresNamed)
    {
        var (json, lines, quiet, stats, _, names, _, human) = output;
        int exitCode = result.NotSent.Count > 0 || result.EntriesNotDeleted > 0 ? LeftOutCode(result, result.EntriesNotDeleted > 0) : result.EntriesLeftByLimit > 0 ? Errors.DeletionLimit : 0;
        if (json)
        {
            WriteJson(result, exitCode, itemized: lines is not null);
        }
        else if (lines is not null)
        {
            WriteList([.. result.Changes.Where(lines.Shows).Select(lines.Line)], prefix: "", printable: true);
        }
        else
        {
            // rsync --info=name0 lists the deletions alone.
            if (names) WriteList(result.WouldSend, prefix: "");
            WriteList(result.WouldDelete, prefix: "deleting ");
        }
        var others = NotTravelled(result, "are", existingOnly: options.ExistingOnly);
        if (result.NotSent.Count > 0) others.Add($"{Count.Of(result.NotSent.Count, "entry", "entries")} would not be sent, named above");
        string besides = others.Count > 0 ? $" ({string.Join("; ", others)})" : "";
        Say(log, $"dry run, nothing changed: would send {Count.Of(result.FilesTransferred, "file")}{besides}, {ByteSize.Format(result.BytesTransferred)}", unshown: quiet);
        if (result.EntriesDeleted > 0)
        {
            // Fewer are named past the receiver's cap, and where a directory in the way of a file is named by what it holds.
            string named = result.EntriesDeleted > result.WouldDelete.Count ? $" ({result.WouldDelete.Count} named)" : "";
            Say(log, $"would delete {Count.Of(result.EntriesDeleted, "entry", "entries")} at the receiver {DeletedAs(options)}{named}", unshown: quiet);
        }
        if (result.EntriesNotDeleted > 0) Say(log, $"sglty: {Count.Of(result.EntriesNotDeleted, "entry", "entries")} at the receiver could not be deleted; {WhereNamed(result, printedHere: failuresNamed)}");
        if (result.EntriesLeftByLimit > 0) Say(log, $"sglty: deletions would stop at the --max-delete limit: {Count.Of(result.EntriesLeftByLimit, "entry", "entries")} at the receiver would be left (a directory counted once)");
        if (result.DeletionSkipped) Say(log, $"sglty: the receiver would not delete what the source no longer has: {WhyNotDeleted(result)}");
        WriteStats(result, stats, human, quiet);
        return exitCode;
    }

    /// <summary>
    /// The files that did not travel, for a summary in its tense (<paramref name="were"/>: "were" once sent, "are" in a
    /// dry run): those the receiver holds unchanged, those it kept by a rule, with <paramref name="notSent"/> those
    /// left out for a fault, and those the size rules left out.
    /// </summary>
    private static List<string> NotTravelled(SendResult result, string were, bool notSent = false, string? earlier = null, bool existingOnly = false)
    {
        var parts = new List<string>();
        // With --link-dest and the like, the receiver names the files it settles from an earlier copy as it names those it holds.
        string how = earlier switch
        {
            "--compare-dest" => "held by the receiver or found unchanged in --compare-dest",
            "--copy-dest" => "held by the receiver or copied from --copy-dest",
            "--link-dest" => "held by the receiver or linked from --link-dest",
            _ => $"left as they {were}",
        };
        if (result.FilesUnchanged > result.FilesKept) parts.Add($"{result.FilesUnchanged - result.FilesKept} unchanged, {how}");
        if (result.FilesKept > 0) parts.Add($"{result.FilesKept} kept as the receiver has them{(existingOnly ? " (or has not, with --existing)" : "")}");
        if (notSent && result.FilesNotSent > 0) parts.Add($"{result.FilesNotSent} not sent");
        if (result.FilesSkippedBySize > 0) parts.Add($"{result.FilesSkippedBySize} left out by size");
        if (result.UnsafeLinksLeftOut > 0) parts.Add($"{Count.Of(result.UnsafeLinksLeftOut, "unsafe link")} left out");
        return parts;
    }

    /// <summary>
    /// The --exclude, --include and their -from options, each with its value, in the order given on the command line:
    /// the first pattern that matches decides, so their order counts across the options, as in rsync.
    /// </summary>
    private static List<(Option Option, string Value)> PatternsInOrder(ParseResult result, params Option<string[]>[] options)
    {
        var given = new List<(Option, string)>();
        var tokens = result.Tokens;
        // Each of these takes one value per occurrence (--exclude=X is split into the option and X as well).
        for (int i = 0; i + 1 < tokens.Count; i++)
        {
            if (tokens[i].Type != System.CommandLine.Parsing.TokenType.Option) continue;
            var option = options.FirstOrDefault(o => o.Name == tokens[i].Value || o.Aliases.Contains(tokens[i].Value));
            if (option is not null) given.Add((option, tokens[++i].Value));
        }
        return given;
    }

    /// <summary>
    /// The patterns an option gives, as rsync reads them: a pattern that starts with "+ " or "- " keeps its kind, and
    /// any other is an include for --include and --include-from, an exclude otherwise.
    /// </summary>
    private static IEnumerable<string> Patterns((Option Option, string Value) given)
    {
        if (given.Option.Name == "--filter") return FilterRules.Parse(given.Value, file => PatternFile("--filter", file));
        bool includes = given.Option.Name.StartsWith("--include", StringComparison.Ordinal);
        var patterns = given.Option.Name.EndsWith("-from", StringComparison.Ordinal) ? PatternFile(given.Option.Name, given.Value) : [given.Value];
        // A pattern without a kind is an exclude, written so where it could be read as a rule of one side (--filter's 'P x').
        return patterns.Select(pattern => pattern.StartsWith("+ ", StringComparison.Ordinal) || pattern.StartsWith("- ", StringComparison.Ordinal) || pattern == "!" ? pattern
            : includes ? "+ " + pattern
            : pattern.StartsWith(':') || (pattern.Length > 1 && pattern[1] == ' ' && "HSPR".Contains(pattern[0])) ? "- " + pattern : pattern);
    }

    /// <summary>The patterns of an --exclude-from or --include-from file ("-" for standard input), as rsync reads one: a pattern a line, without blank lines and comments ('#', ';').</summary>
    private static List<string> PatternFile(string option, string path) =>
        [.. ListFile(option, path, nulSeparated: false).Where(Listed)];

    /// <summary>
    /// The paths --files-from names, as rsync reads them: each relative to <paramref name="directory"/> (a leading '/'
    /// too), kept as named below it (a "/./" in a name marks where the kept part starts); blank lines skipped, and
    /// comments ('#', ';') unless separated by NULs.
    /// </summary>
    private static List<string> FilesFrom(string path, string directory, bool nulSeparated, bool untilStdinCloses)
    {
        // A pull's list comes on standard input after the token, and ends where the input goes on, to its end.
        var names = path == "-" && untilStdinCloses ? StandardInput.NamesUntilEmpty() : ListedNames(path, nulSeparated);
        return [.. names.Select(name => ListedPaths.Join(directory, name))];
    }

    /// <summary>The names of a --files-from FILE ("-" for standard input), as rsync reads them: blank lines skipped, and comments ('#', ';') unless separated by NULs.</summary>
    private static List<string> ListedNames(string path, bool nulSeparated)
    {
        var names = ListFile("--files-from", path, nulSeparated).Where(name => nulSeparated ? name.Length > 0 : Listed(name)).ToList();
        if (!nulSeparated && names.Any(name => name.Contains('\0')))
            throw new SingularityException(ErrorCode.BadPath, $"--files-from '{path}' holds NUL characters; give --from0 for names separated by them (as find -print0 writes them)");
        return names;
    }

    /// <summary>The backup directory as rsync reads it (<see cref="AsRsyncReadsIt"/>).</summary>
    private static string? BackupDirectory(string? given) => given is null ? null : AsRsyncReadsIt(given);

    /// <summary>A --link-dest directory as rsync reads it (<see cref="AsRsyncReadsIt"/>); "." for the destination itself.</summary>
    private static string LinkDirectory(string given) => AsRsyncReadsIt(given) is { Length: > 0 } clean ? clean : ".";

    /// <summary>A directory relative to the destination as rsync reads it: "./old/" and "old//x" name old and old/x, and one that climbs keeps its ".."; an absolute one stays as given, to be refused.</summary>
    private static string AsRsyncReadsIt(string given) =>
        given.StartsWith('/') ? given : string.Join('/', given.Split('/').Where(part => part is not ("" or ".")));

    /// <summary>An option that takes a size as rsync's --max-size reads it (see <see cref="TryParseRsyncSize"/>).</summary>
    private static Option<long?> RsyncSize(string name, string description) =>
        CommonOptions.Parsed<long>(name, "SIZE", description, TryParseRsyncSize, text => $"'{text}' is not a size; use a number of bytes with an optional unit, such as 100m, 1.5G or 500kb");

    /// <summary>
    /// A size as rsync reads --max-size: a number (fractions too) and an optional unit B, K, M, G, T or P, of 1024s
    /// alone or with "iB", of 1000s with "B" (so "1.5mb" is 1,500,000 bytes and "1.5m" 1,572,864), any letter case,
    /// then an optional "+1" or "-1" byte. A fraction of a byte is dropped, as rsync drops it ("1.9" is 1).
    /// </summary>
    internal static bool TryParseRsyncSize(string text, out long bytes)
    {
        bytes = 0;
        var match = RsyncSizeSyntax().Match(text);
        if (!match.Success) return false;
        double number = double.Parse(match.Groups["number"].Value, System.Globalization.CultureInfo.InvariantCulture);
        string unit = match.Groups["unit"].Value.ToLowerInvariant();
        int power = unit.Length == 0 ? 0 : "bkmgtp".IndexOf(unit[0], StringComparison.Ordinal);
        double value = Math.Floor(number * Math.Pow(unit.Length == 2 ? 1000 : 1024, power)) + (match.Groups["offset"].Value switch { "+1" => 1, "-1" => -1, _ => 0 });
        if (value < 0 || value >= long.MaxValue) return false;
        bytes = (long)value;
        return true;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^(?<number>[0-9]+(\.[0-9]*)?|\.[0-9]+)(?<unit>[bkmgtp](ib|b)?)?(?<offset>[+-]1)?$", System.Text.RegularExpressions.RegexOptions.IgnoreCase)]
    private static partial System.Text.RegularExpressions.Regex RsyncSizeSyntax();

    /// <summary>A line of a list file that names something: not blank, and not a comment ('#' or ';'), as rsync reads them.</summary>
    private static bool Listed(string line) => line.Length > 0 && line[0] is not ('#' or ';');

    /// <summary>The lines (or NUL-separated names) of FILE, "-" for standard input: as UTF-8 whatever the locale, a byte-order mark dropped.</summary>
    private static List<string> ListFile(string option, string path, bool nulSeparated)
    {
        try
        {
            using var reader = new StreamReader(path == "-" ? Console.OpenStandardInput() : File.OpenRead(path), System.Text.Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
            string text = reader.ReadToEnd();
            // A line ends at \n, \r\n or \r alone, as rsync reads such files.
            return nulSeparated ? [.. text.Split('\0')] : [.. text.Split(["\r\n", "\n", "\r"], StringSplitOptions.None)];
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            string why = Directory.Exists(path) ? "it is a directory" : ex switch
            {
                FileNotFoundException or DirectoryNotFoundException => "no such file",
                UnauthorizedAccessException => "permission denied",
                _ => ex.Message,
            };
            throw new SingularityException(ErrorCode.BadPath, $"cannot read {option} '{path}': {why}");
        }
    }

    /// <summary>Why a deletion asked for did not run: entries left out, or files that vanished, which only a receiver of an earlier release stops at.</summary>
    private static string WhyNotDeleted(SendResult result) => result.DeletionSkippedByOlderReceiver
        ? "files vanished since the scan (named above), which stop the deletion of a receiver of an earlier sglty release alone; update sglty there"
        : "entries were left out (named above), which it would take for gone";

    /// <summary>What the last line of a send that left entries out says of them, by kind.</summary>
    internal static string WhyLeftOut(IReadOnlyList<NotSentEntry> notSent)
    {
        int missing = notSent.Count(entry => entry.NotFound), attributes = notSent.Count(entry => entry.ForAttributes), refused = notSent.Count(entry => entry.NameRefused);
        // A directory vanishes between its listing and the walk into it: it was sent, without what it held.
        int vanishedDirectories = notSent.Count(entry => entry is { Vanished: true, IsDirectory: true });
        int vanished = notSent.Count(entry => entry.Vanished) - vanishedDirectories, unwritten = notSent.Count(entry => entry.AtReceiver), changed = notSent.Count(entry => entry.Changed);
        int unread = notSent.Count - unwritten - missing - attributes - refused - vanished - vanishedDirectories - changed;
        var why = new List<string>();
        if (missing > 0) why.Add($"{Count.Of(missing, "path given", "paths given")} could not be found or taken");
        if (vanished > 0) why.Add($"{Count.Of(vanished, "file")} vanished since the scan and {(vanished == 1 ? "was" : "were")} not sent");
        if (vanishedDirectories > 0) why.Add($"{Count.Of(vanishedDirectories, "directory", "directories")} vanished while the scan read {(vanishedDirectories == 1 ? "it, and was" : "them, and were")} sent empty");
        if (changed > 0) why.Add($"{Count.Of(changed, "file")} changed while {(changed == 1 ? "it was" : "they were")} sent and {(changed == 1 ? "was" : "were")} not sent");
        if (unread > 0) why.Add($"{Count.Of(unread, "entry", "entries")} could not be read and {(unread == 1 ? "was" : "were")} not sent");
        if (attributes > 0) why.Add($"{Count.Of(attributes, "entry", "entries")} {(attributes == 1 ? "was" : "were")} not sent, as {(attributes == 1 ? "its" : "their")} extended attributes or ACLs could not be read or could not travel");
        if (refused > 0) why.Add($"{Count.Of(refused, "entry", "entries")} {(refused == 1 ? "was" : "were")} not sent, as {(refused == 1 ? "its name ends" : "their names end")} as a receiver's partial files do");
        if (unwritten > 0) why.Add($"{Count.Of(unwritten, "entry", "entries")} could not be written at the receiver");
        return string.Join("; ", why);
    }

    /// <summary>What the last line of a send that left files out as changed while they were sent says to do, after the rest.</summary>
    internal static string SendAgain(IReadOnlyList<NotSentEntry> notSent) => notSent.Count(entry => entry.Changed) switch
    {
        0 => "",
        1 => "; send it again once it is stable",
        _ => "; send them again once they are stable",
    };

    /// <summary>
    /// Whether no entry of the send's list arrived: each was left out at the receiver, or is a file that could not be
    /// read, or a device the receiver skipped (or no path given was found). A directory the sender could not list still
    /// arrived, empty; entries left out before the list was made (a link that leads nowhere, attributes that could not
    /// be read, a path not found, a name no receiver takes) were never in it.
    /// </summary>
    internal static bool NothingArrived(SendResult result) =>
        result.Entries - result.DevicesSkipped - result.NotSent.Where(entry => entry.AtReceiver || (entry.IsFile && !entry.ForAttributes)).Select(entry => entry.Path).Distinct(StringComparer.Ordinal).Count() <= 0;

    /// <summary>The summary's rate, left out where nothing travelled (everything was there already), which would read as a stalled link.</summary>
    // Below a MB a second (a few small files), in kB or bytes a second, which a rate of 0.0 MB/s would hide.
    private static string Rate(long delivered, double seconds) =>
        delivered == 0 ? "" : $": {Speed.Of(delivered / seconds)}{(delivered / seconds >= Speed.OneMegabyte ? $" ({delivered * 8 / seconds / 1e9:0.00} Gbit/s)" : "")}";

    /// <summary>
    /// What the rates are taken over: the bytes of the files that travelled, or the payload put on the wire when that
    /// is less, because the receiver already held part of the files (from an interrupted send) and counting that
    /// would inflate the rate. Resends are not counted beyond the files' bytes: a benchmark's rate stays the files'
    /// bytes over the time. Files left as they were, or left out, are not counted.
    /// Holes count as delivered: the receiver has their bytes, as zeros, without their travelling.
    /// </summary>
    private static long Delivered(SendResult result) => Math.Min(result.BytesTransferred, result.BytesSent + result.BytesInHoles);

    /// <summary>rsync's --stats lines at <paramref name="level"/> on stdout (none at 0), unless quiet, as rsync -q prints none.</summary>
    private static void WriteStats(SendResult result, int level, int human, bool quiet)
    {
        if (level > 0 && !quiet) WriteList([.. TransferStats.Lines(result, level, human)], prefix: "", printable: true);
    }

    /// <summary>Lines on stdout, each path made printable unless it is so already (<paramref name="printable"/>: an --out-format line, whose own text stays as given).</summary>
    private static void WriteList(IReadOnlyList<string> paths, string prefix, bool printable = false)
    {
        using var listing = new StreamWriter(Console.OpenStandardOutput(), bufferSize: 1 << 16) { NewLine = "\n" };
        foreach (string path in paths) listing.WriteLine(prefix + (printable ? path : Errors.Printable(path)));
    }

    /// <summary>An array of entries, each with its path, its reason and one flag named <paramref name="flag"/>.</summary>
    private static void WriteReasons(System.Text.Json.Utf8JsonWriter writer, string name, IEnumerable<(string Path, string Reason, bool Flag)> entries, string flag)
    {
        writer.WriteStartArray(name);
        foreach (var (path, reason, set) in entries)
        {
            writer.WriteStartObject();
            writer.WriteString("path", path);
            writer.WriteString("reason", reason);
            writer.WriteBoolean(flag, set);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
    }

    /// <summary>Each entry left out, with why in words and as a kind a script can test.</summary>
    private static void WriteNotSent(System.Text.Json.Utf8JsonWriter writer, IReadOnlyList<NotSentEntry> entries)
    {
        writer.WriteStartArray("not_sent");
        foreach (var entry in entries)
        {
            writer.WriteStartObject();
            writer.WriteString("path", entry.Path);
            writer.WriteString("reason", entry.Reason);
            writer.WriteString("kind", KindOf(entry));
            writer.WriteBoolean("at_receiver", entry.AtReceiver);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
    }

    internal static string KindOf(NotSentEntry entry) =>
        entry.Vanished ? "vanished"
        : entry.Changed ? "changed"
        : entry.NotFound ? "not_found"
        : entry.NameRefused ? "name_refused"
        : entry.ForAttributes ? "attributes"
        : entry.AtReceiver ? "not_written"
        : "not_read";

    private static void WriteStrings(System.Text.Json.Utf8JsonWriter writer, string name, IReadOnlyList<string> values)
    {
        writer.WriteStartArray(name);
        foreach (string value in values) writer.WriteStringValue(value);
        writer.WriteEndArray();
    }

    private static void WriteJson(SendResult result, int exitCode, bool listSent = false, bool itemized = false)
    {
        double seconds = Math.Max(result.Elapsed.TotalSeconds, 1e-9);
        JsonOutput.Write(writer =>
        {
            writer.WriteBoolean("ok", true);
            writer.WriteNumber("exit_code", exitCode);
            writer.WriteNumber("files", result.Files);
            writer.WriteNumber("files_sent", result.FilesTransferred);
            writer.WriteNumber("entries", result.Entries);
            writer.WriteNumber("directories", result.Directories);
            writer.WriteNumber("links", result.Links);
            writer.WriteNumber("devices", result.Devices);
            writer.WriteNumber("specials", result.Specials);
            writer.WriteNumber("devices_skipped", result.DevicesSkipped);
            writer.WriteNumber("bytes", result.Bytes);
            writer.WriteNumber("bytes_sent", result.BytesSent);
            writer.WriteNumber("bytes_skipped", result.BytesSkipped);
            writer.WriteNumber("bytes_matched", result.BytesMatched);
            writer.WriteNumber("bytes_in_holes", result.BytesInHoles);
            writer.WriteNumber("wire_bytes", result.WireBytes);
            writer.WriteNumber("manifest_bytes", result.ManifestBytes);
            writer.WriteNumber("traffic_sent", result.TrafficSent);
            writer.WriteNumber("traffic_received", result.TrafficReceived);
            writer.WriteNumber("files_unchanged", result.FilesUnchanged);
            writer.WriteNumber("files_kept", result.FilesKept);
            writer.WriteNumber("files_skipped_by_size", result.FilesSkippedBySize);
            writer.WriteNumber("unsafe_links_left_out", result.UnsafeLinksLeftOut);
            writer.WriteNumber("hard_links", result.HardLinks);
            writer.WriteNumber("bytes_unchanged", result.BytesUnchanged);
            writer.WriteNumber("files_not_sent", result.FilesNotSent);
            writer.WriteNumber("bytes_not_sent", result.BytesNotSent);
            WriteNotSent(writer, result.NotSent);
            if (listSent) WriteStrings(writer, "sent", result.Sent);
            if (itemized) WriteStrings(writer, "changes", [.. result.Changes.Select(change => change.ToString())]);
            if (result.DryRun)
            {
                writer.WriteBoolean("dry_run", true);
                WriteStrings(writer, "would_send", result.WouldSend);
                WriteStrings(writer, "would_delete", result.WouldDelete);
            }
            writer.WriteNumber("sources_removed", result.SourcesRemoved);
            WriteReasons(writer, "sources_kept", result.SourcesKept.Select(kept => (kept.Path, kept.Reason, kept.AsAsked)), "as_asked");
            writer.WriteNumber("deleted", result.EntriesDeleted);
            writer.WriteNumber("not_deleted", result.EntriesNotDeleted);
            writer.WriteBoolean("deletion_skipped", result.DeletionSkipped);
            writer.WriteNumber("left_by_max_delete", result.EntriesLeftByLimit);
            writer.WriteBoolean("xattrs_not_set", result.XattrsNotSet);
            writer.WriteBoolean("modes_not_set", result.ModesNotSet);
            writer.WriteNumber("retries", result.Retries);
            writer.WriteNumber("retransmits", result.Retransmits);
            writer.WriteNumber("seconds", seconds);
            writer.WriteNumber("scan_seconds", result.ScanTime.TotalSeconds);
            writer.WriteNumber("mbytes_per_s", Delivered(result) / seconds / 1e6);
            writer.WriteNumber("gbit_per_s", Delivered(result) * 8 / seconds / 1e9);
            writer.WriteNumber("lanes", result.Lanes);
            writer.WriteNumber("shard_size", result.ShardSize);
            writer.WriteString("cipher", CipherSuites.Name(result.Cipher));
        });
    }
}
