#!/usr/bin/env bash
# Side-by-side loopback figures in one run: iperf3 (memory to memory, the wire bound), iperf3 writing the
# received stream to a file, dd filling a fresh file with one and with two writers (the destination's own bound),
# and `sglty bench` plaintext and encrypted. Usage: bench/loopback.sh [SIZE_MIB] [DIR]
set -euo pipefail
size_mib=${1:-2048}
dir=${2:-/dev/shm}
here="$(cd "$(dirname "$0")/.." && pwd)"
. "$here/bench/lib.sh"
install_missing iperf3=iperf3 ss=iproute2
ports_free 5299
work="$(mktemp -d "$dir/sglty-compare.XXXXXX")"
trap 'rm -rf "$work"; pkill -f "iperf3 -s -p 5299" || true' EXIT
bytes=$((size_mib * 1024 * 1024))
sglty=$(publish_sglty "$work/sglty")

iperf3 -s -p 5299 -D -1 >/dev/null; sleep 0.3
iperf_mem=$(iperf3 -c 127.0.0.1 -p 5299 -n "$bytes" -J | awk -F: '/"sum_received"/ { f = 1 } f && /"bits_per_second"/ { gsub(/[ ,]/, "", $2); print $2 / 8 / 1e6; exit }')

head -c "$bytes" /dev/urandom > "$work/src.bin"
iperf3 -s -p 5299 -D -1 -F "$work/iperf-out.bin" >/dev/null; sleep 0.3
iperf_file=$(iperf3 -c 127.0.0.1 -p 5299 -F "$work/src.bin" -J | awk -F: '/"sum_received"/ { f = 1 } f && /"bits_per_second"/ { gsub(/[ ,]/, "", $2); print $2 / 8 / 1e6; exit }')
rm -f "$work/iperf-out.bin" "$work/src.bin"

# One writer, then two at once, into a fresh file: the destination's own bound. On virtual machines whose freed
# memory goes back to the host, touching never-used pages costs several times a copy, and a receiver pays it too.
start=$(date +%s.%N); dd if=/dev/zero of="$work/dd1.bin" bs=4M count=$((size_mib / 4)) status=none; end=$(date +%s.%N)
dd_fresh=$(mbps "$bytes" "$(echo "$end - $start" | bc -l)"); rm -f "$work/dd1.bin"
dd_two=$(write_bound "$work" "$size_mib")

run() { "$sglty" bench --size "${size_mib}MiB" --dir "$work" --json "$@" 2>/dev/null; }
plain=$(run --encrypt none)
aes=$(run --encrypt aes-256-gcm)
chacha=$(run --encrypt chacha20-poly1305)
field() { echo "$1" | sed -E "s/.*\"$2\":([0-9.eE+-]+).*/\1/"; }

printf '%-34s %10s %9s\n' "what ($size_mib MiB, loopback)" "MB/s" "vs iperf3"
printf '%-34s %10.0f %9s\n' "iperf3, memory to memory" "$iperf_mem" "100%"
printf '%-34s %10.0f %8.0f%%\n' "iperf3 -F, received into a file" "$iperf_file" "$(echo "100 * $iperf_file / $iperf_mem" | bc -l)"
printf '%-34s %10.0f %8.0f%%\n' "dd, fresh file in $dir" "$dd_fresh" "$(echo "100 * $dd_fresh / $iperf_mem" | bc -l)"
printf '%-34s %10.0f %8.0f%%\n' "dd, two writers, fresh file" "$dd_two" "$(echo "100 * $dd_two / $iperf_mem" | bc -l)"
for name in plain aes chacha; do
    json=${!name}
    m=$(field "$json" mbytes_per_s)
    printf '%-34s %10.0f %8.0f%%   cpu s %s/%s  peak MiB %d/%d\n' "sglty bench, $(echo "$json" | sed -E 's/.*"cipher":"([^"]+)".*/\1/')" "$m" "$(echo "100 * $m / $iperf_mem" | bc -l)" \
        "$(printf '%.2f' "$(field "$json" sender_cpu_seconds)")" "$(printf '%.2f' "$(field "$json" receiver_cpu_seconds)")" \
        $(( $(field "$json" sender_peak_rss_bytes) >> 20 )) $(( $(field "$json" receiver_peak_rss_bytes) >> 20 ))
done
