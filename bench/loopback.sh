#!/usr/bin/env bash
# Side-by-side loopback figures in one run: iperf3 (memory to memory, the wire bound), iperf3 writing the
# received stream to a file, dd filling a fresh file with one and with two writers (the destination's own bound),
# and `sglty bench` plaintext and encrypted. iperf3 memory to memory and each `sglty bench` run ROUNDS times (3
# unless set), in alternating order, and their medians count; the bounds run once.
# Usage: [ROUNDS=N] bench/loopback.sh [SIZE_MIB] [DIR]
set -euo pipefail
size_mib=${1:-2048}
dir=${2:-/dev/shm}
here="$(cd "$(dirname "$0")/.." && pwd)"
. "$here/bench/lib.sh"
rounds=$(rounds_wanted) || exit 1
install_missing iperf3=iperf3 ss=iproute2
ports_free 5299
work="$(mktemp -d "$dir/sglty-compare.XXXXXX")"
trap 'rm -rf "$work"; pkill -f "iperf3 -s -p 5299" || true' EXIT
bytes=$((size_mib * 1024 * 1024))
sglty=$(publish_sglty "$work/sglty")

head -c "$bytes" /dev/urandom > "$work/src.bin"
iperf3 -s -p 5299 -D -1 -F "$work/iperf-out.bin" >/dev/null; sleep 0.3
iperf_file=$(iperf3 -c 127.0.0.1 -p 5299 -F "$work/src.bin" -J | awk -F: '/"sum_received"/ { f = 1 } f && /"bits_per_second"/ { gsub(/[ ,]/, "", $2); print $2 / 8 / 1e6; exit }')
rm -f "$work/iperf-out.bin" "$work/src.bin"

# One writer, then two at once, into a fresh file: the destination's own bound. On virtual machines whose freed
# memory goes back to the host, touching never-used pages costs several times a copy, and a receiver pays it too.
start=$(date +%s.%N); dd if=/dev/zero of="$work/dd1.bin" bs=4M count=$((size_mib / 4)) status=none; end=$(date +%s.%N)
dd_fresh=$(mbps "$bytes" "$(echo "$end - $start" | bc -l)"); rm -f "$work/dd1.bin"
dd_two=$(write_bound "$work" "$size_mib")

field() { echo "$1" | sed -E "s/.*\"$2\":([0-9.eE+-]+).*/\1/"; }
# One measurement of TOOL (iperf3, or a cipher for `sglty bench`), appended to its entries: MB/s in rates, and for
# sglty the CPU seconds of each side and the peak memory of each side in MiB.
declare -A rates send_cpu recv_cpu send_peak recv_peak
once() {
    local tool=$1 json rate
    if [ "$tool" = iperf3 ]; then
        iperf3 -s -p 5299 -D -1 >/dev/null; sleep 0.3
        rate=$(iperf3 -c 127.0.0.1 -p 5299 -n "$bytes" -J | awk -F: '/"sum_received"/ { f = 1 } f && /"bits_per_second"/ { gsub(/[ ,]/, "", $2); printf "%.0f", $2 / 8 / 1e6; exit }')
    else
        json=$("$sglty" bench --size "${size_mib}MiB" --dir "$work" --json --encrypt "$tool" 2>/dev/null)
        rate=$(printf %.0f "$(field "$json" mbytes_per_s)")
    fi
    if ! [[ $rate =~ ^[0-9]+$ ]]; then echo "loopback.sh: no rate from $tool in round $round" >&2; exit 1; fi
    rates[$tool]+="$rate "
    [ "$tool" = iperf3 ] && return
    send_cpu[$tool]+="$(printf %.2f "$(field "$json" sender_cpu_seconds)") "
    recv_cpu[$tool]+="$(printf %.2f "$(field "$json" receiver_cpu_seconds)") "
    send_peak[$tool]+="$(( $(field "$json" sender_peak_rss_bytes) >> 20 )) "
    recv_peak[$tool]+="$(( $(field "$json" receiver_peak_rss_bytes) >> 20 )) "
}
tools=(iperf3 none aes-256-gcm chacha20-poly1305)
for ((round = 1; round <= rounds; round++)); do
    if ((round % 2)); then order=("${tools[@]}"); else order=(); for ((i = ${#tools[@]} - 1; i >= 0; i--)); do order+=("${tools[i]}"); done; fi
    for tool in "${order[@]}"; do once "$tool"; done
done
iperf_mem=$(median ${rates[iperf3]})
largest() { printf '%s\n' "$@" | sort -n | tail -1; }

printf '%-42s %10s %9s\n' "what ($size_mib MiB, loopback)" "MB/s" "vs iperf3"
printf '%-42s %10.0f %9s\n' "iperf3, memory to memory (median)" "$iperf_mem" "100%"
printf '%-42s %10.0f %8.0f%%\n' "iperf3 -F, received into a file" "$iperf_file" "$(echo "100 * $iperf_file / $iperf_mem" | bc -l)"
printf '%-42s %10.0f %8.0f%%\n' "dd, fresh file in $dir" "$dd_fresh" "$(echo "100 * $dd_fresh / $iperf_mem" | bc -l)"
printf '%-42s %10.0f %8.0f%%\n' "dd, two writers, fresh file" "$dd_two" "$(echo "100 * $dd_two / $iperf_mem" | bc -l)"
for tool in none aes-256-gcm chacha20-poly1305; do
    m=$(median ${rates[$tool]})
    printf '%-42s %10.0f %8.0f%%   cpu s %s/%s  peak MiB %d/%d\n' "sglty bench, $tool (medians)" "$m" "$(echo "100 * $m / $iperf_mem" | bc -l)" \
        "$(median ${send_cpu[$tool]})" "$(median ${recv_cpu[$tool]})" "$(largest ${send_peak[$tool]})" "$(largest ${recv_peak[$tool]})"
done
echo "each round, MB/s:"
for tool in "${tools[@]}"; do echo "  $tool: ${rates[$tool]}"; done
echo "cpu s: sender/receiver; peak MiB: the largest of the rounds, sender/receiver"
