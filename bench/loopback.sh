#!/usr/bin/env bash
# Side-by-side loopback figures in one run: iperf3 (memory to memory, the wire bound), iperf3 writing the
# received stream to a file, dd filling a fresh file with one and with two writers (the destination's own bound),
# and `sglty bench` plaintext and encrypted. iperf3 memory to memory and each `sglty bench` run ROUNDS times (3
# unless set), in alternating order, and their medians count; the other rows run once.
# Usage: [ROUNDS=N] bench/loopback.sh [SIZE_MIB] [DIR]   (as root: installs iperf3, iproute2, and the native build's
# clang and zlib1g-dev with apt when missing; stops if something listens on port 5299)
set -euo pipefail
size_mib=${1:-2048}
dir=${2:-/dev/shm}
here="$(cd "$(dirname "$0")/.." && pwd)"
. "$here/bench/lib.sh"
rounds=$(rounds_wanted) || exit 1
check_size "$size_mib"
install_missing iperf3=iperf3 ss=iproute2
ports_free 5299
work="$(mktemp -d "$dir/sglty-loopback.XXXXXX")"
IPERF_PID=
cleanup() { [ -z "$IPERF_PID" ] || kill "$IPERF_PID" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "loopback.sh: $*" >&2; exit 1; }
bytes=$((size_mib * 1024 * 1024))
sglty=$(publish_sglty "$work/sglty")

head -c "$bytes" /dev/urandom > "$work/src.bin"
# iperf3 writing what it receives into a file, once, with a server that ends after this one client.
iperf_server 5299 -1 -F "$work/iperf-out.bin"
iperf3 -c 127.0.0.1 -p 5299 -F "$work/src.bin" -J > "$work/iperf.json" || fail "iperf3 -F failed: $(iperf_error "$work/iperf.json")"
wait "$IPERF_PID" || true; IPERF_PID=
iperf_file=$(iperf_received_mbps "$work/iperf.json")
check_rate "$iperf_file" "iperf3 -F"
# iperf3 does not report a write that failed (a full destination); the file's size does. Its server ends the test
# with what is still in flight unread (up to a few MiB), so the file must hold what it received, not all that was sent.
written=$(stat -c %s "$work/iperf-out.bin"); received=$(iperf_received bytes "$work/iperf.json")
[ "$written" = "$received" ] || fail "iperf3 -F wrote $written of the $received bytes it received into $dir"
rm -f "$work/iperf-out.bin" "$work/src.bin"

# One writer, then two at once, into a fresh file: the destination's own bound. On virtual machines whose freed
# memory goes back to the host, touching never-used pages costs several times a copy, and a receiver pays it too.
measure dd if=/dev/zero of="$work/dd1.bin" bs=4M count=$((size_mib / 4)) status=none || fail "dd could not write into $dir"
dd_fresh=$(mbps "$(stat -c %s "$work/dd1.bin")" "$TAKEN"); rm -f "$work/dd1.bin"
dd_two=$(write_bound "$work" "$size_mib")
check_rate "$dd_fresh" "dd"; check_rate "$dd_two" "dd x2"

# One server for every round of iperf3 memory to memory.
iperf_server 5299
# One measurement of TOOL (iperf3, or a cipher for `sglty bench`), appended to its entries: MB/s in rates, and for
# sglty the CPU seconds of each side and the peak memory of each side in MiB.
declare -A rates send_cpu recv_cpu send_peak recv_peak
once() {
    local tool=$1 json rate what err
    if [ "$tool" = iperf3 ]; then
        iperf3 -c 127.0.0.1 -p 5299 -n "$bytes" -J > "$work/iperf.json" || fail "iperf3 failed in round $round: $(iperf_error "$work/iperf.json")"
        rate=$(iperf_received_mbps "$work/iperf.json")
    else
        json=$("$sglty" bench --size "${size_mib}MiB" --dir "$work" --json --encrypt "$tool" 2> "$work/bench.err") ||
            { err=$(tail -1 "$work/bench.err"); fail "sglty bench --encrypt $tool failed in round $round${err:+: $err}"; }
        what="sglty bench --encrypt $tool, round $round"
        rate=$(need_field "$json" mbytes_per_s "$what"); rate=$(printf %.0f "$rate")
    fi
    check_rate "$rate" "$tool" "$round"
    rates[$tool]+="$rate "
    [ "$tool" = iperf3 ] && return
    local send_cpu_s recv_cpu_s send_rss recv_rss
    send_cpu_s=$(need_field "$json" sender_cpu_seconds "$what"); recv_cpu_s=$(need_field "$json" receiver_cpu_seconds "$what")
    send_rss=$(need_field "$json" sender_peak_rss_bytes "$what"); recv_rss=$(need_field "$json" receiver_peak_rss_bytes "$what")
    send_cpu[$tool]+="$(printf %.2f "$send_cpu_s") "; recv_cpu[$tool]+="$(printf %.2f "$recv_cpu_s") "
    send_peak[$tool]+="$((send_rss >> 20)) "; recv_peak[$tool]+="$((recv_rss >> 20)) "
}
tools=(iperf3 none aes-256-gcm chacha20-poly1305)
for ((round = 1; round <= rounds; round++)); do
    for tool in $(alternating "$round" "${tools[@]}"); do once "$tool"; done
done
iperf_mem=$(median ${rates[iperf3]})
percent() { awk -v a="$1" -v b="$iperf_mem" 'BEGIN { printf "%.0f%%", 100 * a / b }'; }

printf '%-42s %10s %9s\n' "what ($size_mib MiB, loopback)" "MB/s" "vs iperf3"
printf '%-42s %10.0f %9s\n' "iperf3, memory to memory (median)" "$iperf_mem" "100%"
printf '%-42s %10.0f %9s\n' "iperf3 -F, received into a file" "$iperf_file" "$(percent "$iperf_file")"
printf '%-42s %10.0f %9s\n' "dd, fresh file in $dir" "$dd_fresh" "$(percent "$dd_fresh")"
printf '%-42s %10.0f %9s\n' "dd, two writers, fresh file" "$dd_two" "$(percent "$dd_two")"
for tool in none aes-256-gcm chacha20-poly1305; do
    m=$(median ${rates[$tool]})
    printf '%-42s %10.0f %9s   cpu s %.2f/%.2f  peak MiB %d/%d\n' "sglty bench, $tool (medians)" "$m" "$(percent "$m")" \
        "$(median ${send_cpu[$tool]})" "$(median ${recv_cpu[$tool]})" "$(largest ${send_peak[$tool]})" "$(largest ${recv_peak[$tool]})"
done
echo "each round, MB/s:"
for tool in "${tools[@]}"; do echo "  $tool: ${rates[$tool]}"; done
echo "cpu s: sender/receiver; peak MiB: the largest of the rounds, sender/receiver"
