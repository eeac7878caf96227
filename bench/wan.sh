#!/usr/bin/env bash
# The WAN case: an emulated 1 Gbit/s link with 50 ms RTT and 0.5% loss each way (bench/wanem between two network
# namespaces), under cubic and under BBR. Compares sglty with its defaults (plaintext and encrypted), sglty with one
# lane, rsync to a daemon and scp to an OpenSSH server, each copy verified. The one-stream tools get a smaller file
# (they are slow under cubic); a file too small to outlast TCP's first loss would flatter them, so keep it at 64 MiB
# or more. sglty's file is 4 GiB, as in the loopback comparison: each transfer pays about 0.5 s of fixed start
# (process start, handshake, lanes, TCP slow start) and end (the last shards' loss recovery, commit), a tenth of a
# 1 GiB transfer at this rate. Before each congestion control's runs, two dd writers fill a fresh file beside the
# source: a host slow to supply fresh memory holds every tool below the link, and that line shows it. Needs root
# (namespaces, TUN). Then the same for text that packs (a web server's log): sglty --compress (SIZE_MIB) against
# rsync -z and scp -C (SINGLE_STREAM_MIB), where MB/s counts the file's bytes, so it may pass the link's rate.
# Usage: bench/wan.sh [SIZE_MIB] [SINGLE_STREAM_MIB]
set -euo pipefail
size_mib=${1:-4096}
single_mib=${2:-64}
here="$(cd "$(dirname "$0")/.." && pwd)"
wan="$here/bench/wanem"
. "$here/bench/lib.sh"
install_missing rsync=rsync /usr/sbin/sshd=openssh-server scp=openssh-client
allowed=$(sysctl -n net.ipv4.tcp_allowed_congestion_control)
sysctl -qw net.ipv4.tcp_allowed_congestion_control="reno bbr cubic"
work="$(mktemp -d /dev/shm/sglty-wan.XXXXXX)"
token=wan-bench-token-$$
cleanup() { "$wan/wan-down.sh" --quiet >/dev/null 2>&1 || true; sysctl -qw net.ipv4.tcp_allowed_congestion_control="$allowed"; rm -rf "$work"; }
trap cleanup EXIT
head -c $((size_mib << 20)) /dev/urandom > "$work/big.bin"
head -c $((single_mib << 20)) /dev/urandom > "$work/one.bin"
log_file "$work/big.log" "$size_mib"
log_file "$work/one.log" "$single_mib"
link=125  # MB/s of a 1 Gbit/s link

sglty=$(publish_sglty "$work/sglty")
pct() { awk -v m="$1" -v l="$link" 'BEGIN { printf "%.0f%%", 100 * m / l }'; }
row() { printf '%-8s %-40s %9s %8s  %s\n' "$@"; }
sshd_setup "$work/ssh" 2222
row "cc" "what" "MB/s" "of link" "verified"
for cc in cubic bbr; do
    "$wan/wan-up.sh" --delay-ms 25 --loss 0.5 --rate-mbit 1000 --cc "$cc" >/dev/null
    rm -rf "$work/dst"; mkdir -p "$work/dst"
    ip netns exec sgB "$sglty" recv --dir "$work/dst" --listen 10.99.0.2:7700 --token "$token" --encrypt none --no-fsync >/dev/null 2>&1 &
    rsyncd_conf "$work/rsyncd.conf" 8873 "$work/dst"
    ip netns exec sgB rsync --daemon --no-detach --config="$work/rsyncd.conf" &
    ip netns exec sgB /usr/sbin/sshd -D -f "$work/ssh/sshd_config" &
    sleep 1
    url="sglty://10.99.0.2:7700/?token=$token"
    m=$(write_bound "$work" "$size_mib")
    row "$cc" "dd x2 into a fresh file where files land" "$m" "$(pct "$m")" "-"
    run_sglty() { # label file args...
        local label=$1 file=$2; shift 2
        rm -f "$work/dst/$(basename "$file")"
        local out; out=$(ip netns exec sgA "$sglty" send "$file" --to "$url" --json --retries 0 "$@" 2>/dev/null)
        local m; m=$(echo "$out" | sed -E 's/.*"mbytes_per_s":([0-9.]+).*/\1/' | awk '{ printf "%.1f", $1 }')
        row "$cc" "$label" "$m" "$(pct "$m")" "$(cmp -s "$file" "$work/dst/$(basename "$file")" && echo ok || echo DIFFERENT)"
    }
    # The system default (set by wan-up.sh) is what the defaults see, as a user's would.
    run_sglty "sglty, defaults, plaintext" "$work/big.bin" --encrypt none
    run_sglty "sglty, defaults, aes-256-gcm" "$work/big.bin"
    run_sglty "sglty, 1 lane, plaintext" "$work/one.bin" --encrypt none --lanes 1
    run_one() { # label file command...: a one-stream tool, timed, then its copy of file compared
        local label=$1 file=$2; shift 2
        rm -f "$work/dst/$(basename "$file")"
        measure "$@"
        local m; m=$(mbps $((single_mib << 20)) "$TAKEN" 1)
        row "$cc" "$label" "$m" "$(pct "$m")" "$(cmp -s "$file" "$work/dst/$(basename "$file")" && echo ok || echo DIFFERENT)"
    }
    scp_command() { echo "$(declare -f scp_to); scp_to '$work/ssh' 10.99.0.2 2222 '$1' '$work/dst/$(basename "$1")' ${2:-}"; }
    run_one "rsync to a daemon (one stream)" "$work/one.bin" ip netns exec sgA rsync --whole-file "$work/one.bin" rsync://10.99.0.2:8873/dst/one.bin
    run_one "scp (OpenSSH, encrypted, one stream)" "$work/one.bin" ip netns exec sgA bash -c "$(scp_command "$work/one.bin")"
    run_sglty "log: sglty --compress, aes-256-gcm" "$work/big.log" --compress
    run_one "log: rsync -z to a daemon (one stream)" "$work/one.log" ip netns exec sgA rsync -z --whole-file "$work/one.log" rsync://10.99.0.2:8873/dst/one.log
    run_one "log: scp -C (one stream)" "$work/one.log" ip netns exec sgA bash -c "$(scp_command "$work/one.log" -C)"
    "$wan/wan-down.sh" --quiet >/dev/null 2>&1 || true
done
