# Helpers shared by the benchmark scripts; sourced, not run.

# Seconds since the epoch, with nanoseconds.
now() { date +%s.%N; }

# MB/s (10^6 bytes a second) of BYTES moved in SECONDS, with DECIMALS digits (default 0).
mbps() { awk -v b="$1" -v s="$2" -v d="${3:-0}" 'BEGIN { printf "%.*f", d, b / s / 1e6 }'; }

# Writes an rsync daemon configuration to FILE: PORT, one writable module [dst] at DIR, running as root so it can
# write wherever the benchmark put its files.
rsyncd_conf() {
    cat > "$1" <<CONF
port = $2
use chroot = no
uid = root
gid = root
[dst]
path = $3
read only = no
CONF
}
