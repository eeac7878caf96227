namespace Singularity.Tests.Support;

/// <summary>
/// A stand-in for ssh, named ssh: answers ssh -G with 127.0.0.1 for any host (as an alias of ~/.ssh/config would be
/// answered); otherwise writes the words it was given beside itself, skips its options (with their values) and the host, and runs the rest
/// as one line in $HOME, as ssh does, writing the pid of what it runs, and its exit code after it; with FAKE_SSH_LEARNS
/// set, it first notes a host key learned, as ssh does at a first login. The files still
/// travel over TCP on loopback; a tunnel asked for (-L, -R) is not made.
/// </summary>
public static class FakeSsh
{
    /// <summary>What runs sglty "there": the build beside the tests, for --sglty-path.</summary>
    public static string Sglty => $"dotnet {Path.Combine(AppContext.BaseDirectory, "sglty.dll")}";

    /// <summary>Writes a shell script that runs <paramref name="body"/> at <paramref name="path"/>, as a program (a sglty of the test's own there), and returns its path.</summary>
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public static string Script(string path, string body)
    {
        File.WriteAllText(path, "#!/bin/sh\n" + body);
        File.SetUnixFileMode(path, (UnixFileMode)0b111_101_101);
        return path;
    }

    /// <summary>Writes the stand-in into <paramref name="temp"/>'s bin and returns its path.</summary>
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public static string Create(TempDirectory temp)
    {
        string path = Path.Combine(temp.Sub("bin"), "ssh");
        File.WriteAllText(path, """
            #!/bin/sh
            case " $* " in *" -G "*) echo "hostname 127.0.0.1"; exit 0;; esac
            # As ssh notes, at its default log level, a host key it learned at a first login.
            [ -n "$FAKE_SSH_LEARNS" ] && echo "Warning: Permanently added '[127.0.0.1]:2222' (ED25519) to the list of known hosts." >&2
            printf '%s\n' "$@" > "$0.words"
            umask 022
            while :; do case $1 in -[lopiFJLRWDEbcm]) shift 2;; -*) shift;; *) break;; esac; done
            shift
            cd "$HOME" || exit 1
            # As a terminal's codes would come first, with no line end.
            [ -n "$FAKE_TTY_CODES" ] && printf '\033[?1h\033='
            sh -c "echo \$\$ > '$0.pid'; exec $*"
            code=$?
            echo $code > "$0.exit"
            exit $code
            """);
        File.SetUnixFileMode(path, (UnixFileMode)0b111_101_101);
        return path;
    }
}
