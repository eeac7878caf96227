# Helpers shared by the benchmark scripts; sourced, not run.

# Installs with apt the packages of the commands that are missing; each argument is COMMAND=PACKAGE, and a COMMAND
# may be the path of any file the package brings (/usr/sbin/sshd, /usr/include/zlib.h).
install_missing() {
    local need=() pair
    for pair in "$@"; do command -v "${pair%%=*}" >/dev/null || [ -e "${pair%%=*}" ] || need+=("${pair#*=}"); done
    if [ ${#need[@]} -gt 0 ]; then apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; fi
}

# Publishes sglty compiled to native code (as the README's install does) into DIR, installing with apt the clang and
# zlib headers that needs when they are missing; prints the path of the command.
publish_sglty() {
    install_missing clang=clang /usr/include/zlib.h=zlib1g-dev
    dotnet publish -c Release "$(dirname "${BASH_SOURCE[0]}")/../src/Singularity.Cli" -o "$1" -v q -nologo >&2 || return 1
    echo "$1/sglty"
}

# Whether anything listens on TCP PORT.
listening() { ss -Hltn "sport = :$1" | grep -q .; }

# Exits with a one-line reason if anything listens on one of the TCP PORTs the script is about to use: a leftover
# server there would take the benchmark's traffic and make its figures and checks meaningless.
ports_free() {
    local port
    for port in "$@"; do
        if listening "$port"; then
            echo "$(basename "$0"): port $port is in use; stop what listens there (ss -ltnp 'sport = :$port') and run again" >&2
            exit 1
        fi
    done
}

# Seconds since the epoch, with nanoseconds.
now() { date +%s.%N; }

# MB/s (10^6 bytes a second) of BYTES moved in SECONDS, with DECIMALS digits (default 0).
mbps() { awk -v b="$1" -v s="$2" -v d="${3:-0}" 'BEGIN { printf "%.*f", d, b / s / 1e6 }'; }

# COUNT things (files) in SECONDS, as a whole number a second.
per_second() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }

# MB/s at which DIR takes a fresh file of MIB MiB from two writers at once, each writing half of it in 4 MiB blocks,
# with nothing else running: the most any receiver on this machine can write there, whatever the network does.
write_bound() {
    local dir=$1 mib=$2 start end
    local half=$((mib / 8)) first ok=1
    start=$(now)
    dd if=/dev/zero of="$dir/bound.bin" bs=4M count=$half status=none & first=$!
    dd if=/dev/zero of="$dir/bound.bin" bs=4M count=$half seek=$half conv=notrunc status=none || ok=0
    # Only this dd: callers may have servers running in the background.
    wait "$first" || ok=0
    end=$(now)
    rm -f "$dir/bound.bin"
    if [ "$ok" = 0 ]; then echo "dd could not write $mib MiB into $dir" >&2; return 1; fi
    mbps "$((half * 2 * 4 * 1024 * 1024))" "$(echo "$end - $start" | bc -l)"
}

# CPU seconds the whole machine, every online core, has been busy (user, nice, system, irq, softirq) since boot.
busy_seconds() { awk -v hz="$(getconf CLK_TCK)" '/^cpu / { printf "%.2f", ($2 + $3 + $4 + $7 + $8) / hz; exit }' /proc/stat; }

# Runs COMMAND and sets TAKEN to its seconds, CPU_TAKEN to the CPU seconds the whole machine was busy meanwhile (both
# ends of a loopback transfer, the kernel's work for them, and anything else running), and CORES_BUSY to CPU_TAKEN
# over TAKEN: near the machine's number of cores, its CPUs were the limit. Returns COMMAND's status.
measure() {
    local t0 c0 status=0
    c0=$(busy_seconds); t0=$(now)
    "$@" || status=$?
    TAKEN=$(echo "$(now) - $t0" | bc -l)
    CPU_TAKEN=$(printf %.2f "$(echo "$(busy_seconds) - $c0" | bc -l)")
    CORES_BUSY=$(awk -v c="$CPU_TAKEN" -v t="$TAKEN" 'BEGIN { printf "%.1f", c / t }')
    return "$status"
}

# Files a second at which `cp -r` copies the tree SRC (of FILES files) to a new DST on the same machine, then the CPU
# seconds and cores busy (see measure), and removes the copy: the destination's bound for a tree of small files,
# with no network and one process doing the work.
copy_bound() {
    local src=$1 dst=$2 files=$3
    if ! measure cp -r "$src" "$dst"; then echo "cp -r of $src into $dst failed" >&2; rm -rf "$dst"; return 1; fi
    rm -rf "$dst"
    echo "$(per_second "$files" "$TAKEN") $CPU_TAKEN $CORES_BUSY"
}

# Writes an rsync daemon configuration to FILE: PORT, one writable module [dst] at DIR, running as root so it can
# write wherever the benchmark put its files. TCP_NODELAY as an operator would set it: without it, each small reply
# the daemon sends waits out the peer's delayed ACK (40 ms), which made rsync --remove-source-files of 2,000 small
# files take 1.29 s in place of 0.14 s.
rsyncd_conf() {
    cat > "$1" <<CONF
port = $2
socket options = TCP_NODELAY
use chroot = no
uid = root
gid = root
[dst]
path = $3
read only = no
CONF
}

# Prepares an OpenSSH server in DIR for scp as root: host and client keys, authorized_keys and a config listening on
# PORT. Start it with `[ip netns exec NS] /usr/sbin/sshd -D -f DIR/sshd_config &`; copy with scp_to.
sshd_setup() {
    local dir=$1 port=$2
    mkdir -p "$dir"
    ssh-keygen -q -t ed25519 -N '' -f "$dir/host_key" <<< y >/dev/null
    ssh-keygen -q -t ed25519 -N '' -f "$dir/client_key" <<< y >/dev/null
    cp "$dir/client_key.pub" "$dir/authorized_keys"
    mkdir -p /run/sshd
    cat > "$dir/sshd_config" <<CONF
Port $port
HostKey $dir/host_key
AuthorizedKeysFile $dir/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
StrictModes no
UsePAM no
Subsystem sftp /usr/lib/openssh/sftp-server
CONF
}

# scp_to DIR HOST PORT FILE DEST [OPTION]: copies FILE to DEST on HOST with the client key from sshd_setup DIR, with
# one more scp OPTION if given (-C compresses).
scp_to() {
    scp -q ${6:-} -i "$1/client_key" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -P "$3" "$4" "root@$2:$5"
}

# Writes MIB MiB of a web server's access log, text that packs about fourfold with Zstandard at level 1 (times,
# addresses, paths and figures vary line by line), for the compression cases: FILE MIB [SEED]. A 64 MiB stretch is
# generated and repeated; no compressor here looks that far back. Another SEED (1 unless given) gives other lines.
log_file() {
    python3 - "$1" "$2" "${3:-1}" <<'PY'
import random, sys
random.seed(int(sys.argv[3]))
levels = ["INFO", "WARN", "DEBUG", "ERROR"]
paths = ["/api/v1/users/", "/api/v1/orders/", "/static/app.js?v=", "/health?probe=", "/api/v2/search?q="]
lines, n = [], 0
while n < 64 << 20:
    line = (f"2026-12-05T01:{random.randrange(60):02}:{random.randrange(60):02}.{random.randrange(1000):03}Z "
            f"{random.choice(levels)} [worker-{random.randrange(32)}] 10.0.{random.randrange(256)}.{random.randrange(256)} "
            f"GET {random.choice(paths)}{random.randrange(100000)} status={500 if random.randrange(10) == 0 else 200} "
            f"bytes={random.randrange(100000)} ms={random.random() * 100:.3f}\n")
    lines.append(line)
    n += len(line)
chunk = "".join(lines).encode()[:64 << 20]
left = int(sys.argv[2]) << 20
with open(sys.argv[1], "wb") as out:
    while left > 0:
        out.write(chunk[:left])
        left -= min(left, len(chunk))
PY
}

# Writes COUNT files of 1-64 KiB of random bytes (sizes from a fixed seed) into DIR, in nested directories (40 x 13).
small_files() {
    python3 - "$1" "$2" <<'PY'
import os, random, sys
root, count = sys.argv[1], int(sys.argv[2])
rnd = random.Random(7)
for i in range(count):
    d = os.path.join(root, f"d{i % 40}", f"e{i % 13}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i}.bin"), "wb") as f:
        f.write(os.urandom(rnd.randint(1024, 65536)))
PY
}

# The middle value, or the mean of the two middle ones, of numbers with up to two decimals.
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { m = (NR + 1) / 2; x = (v[int(m)] + v[int(m + 0.5)]) / 2; print (x == int(x)) ? x : sprintf("%.2f", x) }'; }

# How many times a script runs each measurement: ROUNDS from the environment, 3 unless set; a one-line error otherwise.
rounds_wanted() {
    local rounds=${ROUNDS:-3}
    if ! [[ $rounds =~ ^[1-9][0-9]*$ ]]; then
        echo "$(basename "$0"): ROUNDS must be a whole number of at least 1, not '$rounds'" >&2
        return 1
    fi
    echo "$rounds"
}

# The largest of whole numbers.
largest() { printf '%s\n' "$@" | sort -n | tail -1; }

# ITEMS in the order round ROUND runs them, one a line: as given in odd rounds, reversed in even ones, so that no tool
# always runs first or always meets what another left behind.
alternating() {
    local round=$1; shift
    if ((round % 2)); then printf '%s\n' "$@"; else printf '%s\n' "$@" | tac; fi
}

# The number field NAME of the one-line JSON object JSON (as `sglty ... --json` prints it); empty when it is missing.
json_field() { grep -oE "\"$2\":[0-9.eE+-]+" <<< "$1" | head -1 | cut -d: -f2; }

# The figure NAME (bytes, bits_per_second...) of what the receiver counted in the iperf3 JSON report FILE (iperf3 -J).
iperf_received() {
    awk -F: -v name="\"$1\"" '/"sum_received"/ { f = 1 } f && $1 ~ name { gsub(/[ \t,]/, "", $2); print $2; exit }' "$2"
}

# MB/s the receiver counted in the iperf3 JSON report FILE, as a whole number.
iperf_received_mbps() { awk -v b="$(iperf_received bits_per_second "$1")" 'BEGIN { printf "%.0f", b / 8 / 1e6 }'; }

# Exits with a one-line reason unless RATE, TOOL's figure in round ROUND, is a whole number above 0: a tool that failed must
# not leave a hole, or a stray word, in the medians.
check_rate() {
    if ! [[ $1 =~ ^[1-9][0-9]*$ ]]; then echo "$(basename "$0"): no rate from $2 in round ${3:-1}" >&2; exit 1; fi
}

# The number field NAME of JSON, the report of WHAT; exits with a one-line reason when it is missing, so that no 0 or
# blank stands in for it.
need_field() {
    local value; value=$(json_field "$1" "$2")
    if [ -z "$value" ]; then echo "$(basename "$0"): no $2 in the report of $3" >&2; exit 1; fi
    echo "$value"
}

# Exits with a one-line reason unless SIZE_MIB is a whole number of at least 8 (two dd writers of 4 MiB blocks).
check_size() {
    if ! [[ $1 =~ ^[0-9]+$ ]] || (($1 < 8)); then echo "$(basename "$0"): SIZE_MIB must be a whole number of at least 8, not '$1'" >&2; exit 1; fi
}

# Polls CHECK (a command and its arguments) until it succeeds. If the server NAME, started in the background as PID,
# stops first or 30 s pass, stops it and returns 1 with the one-line error "NAME FAILURE", followed by the last line
# of ERR_FILE when the server writes its errors there ("" for none). Starting the clock before a server is ready
# would time its start-up as the tool's.
await_server() {
    local name=$1 pid=$2 err=$3 failure=$4 deadline=$((SECONDS + 30)) reason; shift 4
    until "$@"; do
        if ! kill -0 "$pid" 2>/dev/null || ((SECONDS >= deadline)); then
            kill "$pid" 2>/dev/null || true
            reason=$([ -z "$err" ] || tail -1 "$err" 2>/dev/null)
            echo "$(basename "$0"): $name $failure${reason:+: $reason}" >&2; return 1
        fi
        sleep 0.05
    done
}

# Returns once the server NAME, started in the background as PID, can be reached on TCP PORT: callers check with
# ports_free that nothing listened there before they started it. See await_server.
await_listening() { await_server "$1" "$2" "" "did not listen on port $3" listening "$3"; }

# Makes the script's work directory, BASE/sglty-NAME.XXXXXX (set as `work`), and, at exit, kills the processes the
# script adds to the array `pids` and removes the directory.
make_work() {
    work="$(mktemp -d "$1/sglty-$2.XXXXXX")"
    pids=()
    trap remove_work EXIT
}
remove_work() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}

# Starts, for WORK/dst, a plaintext sglty receiver (SGLTY is its binary; its URL lands in $url) and an rsync daemon on
# PORT, and waits until both listen; their pids join the caller's array `pids`, which its cleanup kills.
serve_dst() {
    local work=$1 sglty=$2 port=$3
    mkdir -p "$work/dst"
    "$sglty" recv --dir "$work/dst" --listen 127.0.0.1:0 --url-file "$work/url" --encrypt none 2> "$work/recv.err" >/dev/null & pids+=($!)
    await_server "sglty recv" "$!" "$work/recv.err" "did not start" test -s "$work/url"
    url=$(cat "$work/url")
    rsyncd_conf "$work/rsyncd.conf" "$port" "$work/dst"
    rsync --daemon --no-detach --config="$work/rsyncd.conf" & pids+=($!)
    await_listening "rsync --daemon" "$!" "$port"
}

# The error iperf3 put in its JSON report FILE (iperf3 -J writes it there, not to stderr).
iperf_error() { grep -oE '"error":[[:space:]]*"[^"]*"' "$1" 2>/dev/null | head -1 | cut -d'"' -f4; }

# Starts an iperf3 server on PORT with any further ARGS (such as -1, or -F FILE), sets IPERF_PID, and returns once
# it listens.
iperf_server() {
    local port=$1; shift
    iperf3 -s -p "$port" "$@" >/dev/null 2>&1 & IPERF_PID=$!
    await_listening iperf3 "$IPERF_PID" "$port"
}
