#!/usr/bin/env bash
# The WAN case: an emulated 1 Gbit/s link with 50 ms RTT and 0.5% loss each way (bench/wanem between two network
# namespaces), under cubic and under BBR. Compares sglty with its defaults, sglty with one lane, sglty encrypted and
# rsync to a daemon, each copy verified. Needs root (namespaces, TUN). Usage: bench/wan.sh [SIZE_MIB] [SINGLE_STREAM_MIB]
set -euo pipefail
size_mib=${1:-256}
single_mib=${2:-64}
here="$(cd "$(dirname "$0")/.." && pwd)"
wan="$here/bench/wanem"
command -v rsync >/dev/null || { apt-get update -qq && apt-get install -y -qq rsync >/dev/null; }
dotnet build -c Release "$here/src/Singularity.Cli" -v q -nologo >/dev/null
sglty="$here/src/Singularity.Cli/bin/Release/net10.0/sglty"
allowed=$(sysctl -n net.ipv4.tcp_allowed_congestion_control)
sysctl -qw net.ipv4.tcp_allowed_congestion_control="reno bbr cubic"
work="$(mktemp -d /dev/shm/sglty-wan.XXXXXX)"
token=wan-bench-token-$$
cleanup() { "$wan/wan-down.sh" --quiet >/dev/null 2>&1 || true; sysctl -qw net.ipv4.tcp_allowed_congestion_control="$allowed"; rm -rf "$work"; }
trap cleanup EXIT
head -c $((size_mib << 20)) /dev/urandom > "$work/big.bin"
head -c $((single_mib << 20)) /dev/urandom > "$work/one.bin"
link=125  # MB/s of a 1 Gbit/s link

. "$here/bench/lib.sh"
pct() { awk -v m="$1" -v l="$link" 'BEGIN { printf "%.0f%%", 100 * m / l }'; }
row() { printf '%-8s %-40s %9s %8s  %s\n' "$@"; }
row "cc" "what" "MB/s" "of link" "verified"
for cc in cubic bbr; do
    "$wan/wan-up.sh" --delay-ms 25 --loss 0.5 --rate-mbit 1000 --cc "$cc" >/dev/null
    rm -rf "$work/dst"; mkdir -p "$work/dst"
    ip netns exec sgB "$sglty" recv --dir "$work/dst" --listen 10.99.0.2:7700 --token "$token" --encrypt none --no-fsync >/dev/null 2>&1 &
    rsyncd_conf "$work/rsyncd.conf" 8873 "$work/dst"
    ip netns exec sgB rsync --daemon --no-detach --config="$work/rsyncd.conf" &
    sleep 1
    url="sglty://10.99.0.2:7700/?token=$token"
    run_sglty() { # label file args...
        local label=$1 file=$2; shift 2
        rm -f "$work/dst/$(basename "$file")"
        local out; out=$(ip netns exec sgA "$sglty" send "$file" --to "$url" --json --retries 0 "$@" 2>/dev/null)
        local m; m=$(echo "$out" | sed -E 's/.*"mbytes_per_s":([0-9.]+).*/\1/' | awk '{ printf "%.1f", $1 }')
        row "$cc" "$label" "$m" "$(pct "$m")" "$(cmp -s "$file" "$work/dst/$(basename "$file")" && echo ok || echo DIFFERENT)"
    }
    run_sglty "sglty, defaults (4 lanes, adaptive to 16)" "$work/big.bin" --encrypt none --congestion "$cc"
    run_sglty "sglty, 16 lanes, plaintext" "$work/big.bin" --encrypt none --lanes 16 --congestion "$cc"
    run_sglty "sglty, 16 lanes, aes-256-gcm" "$work/big.bin" --lanes 16 --congestion "$cc"
    run_sglty "sglty, 1 lane, plaintext" "$work/one.bin" --encrypt none --lanes 1 --congestion "$cc"
    rm -f "$work/dst/one.bin"
    t0=$(now); ip netns exec sgA rsync --whole-file "$work/one.bin" rsync://10.99.0.2:8873/dst/one.bin; t1=$(now)
    m=$(mbps $((single_mib << 20)) "$(echo "$t1 - $t0" | bc -l)" 1)
    row "$cc" "rsync to a daemon (one stream)" "$m" "$(pct "$m")" "$(cmp -s "$work/one.bin" "$work/dst/one.bin" && echo ok || echo DIFFERENT)"
    "$wan/wan-down.sh" --quiet >/dev/null 2>&1 || true
done
