#!/usr/bin/env bash
# Side by side on one machine, in one run, on the same data: iperf3 (the wire bound, memory to memory), one TCP
# stream writing the file (netcat), rsync to an rsync daemon, scp to an OpenSSH server, and sglty plaintext and
# AES-256-GCM, beside the destination's own bound (two writers filling a fresh file). Every copy is verified, and
# each tool's row gives the CPU seconds the whole machine was busy while it ran, and how many cores that kept busy. A
# second table does the same for a tree of many small files (rsync vs sglty, three rounds each), beside `cp -r` of
# that tree on this machine just before and after them.
# Usage: bench/compare.sh [SIZE_MIB] [SMALL_FILES] [DIR]   (installs iperf3, netcat, rsync and OpenSSH with apt when missing)
set -euo pipefail
size_mib=${1:-4096}
small_files=${2:-20000}
dir=${3:-/dev/shm}
here="$(cd "$(dirname "$0")/.." && pwd)"
. "$here/bench/lib.sh"
install_missing iperf3=iperf3 nc=netcat-openbsd rsync=rsync /usr/sbin/sshd=openssh-server scp=openssh-client ss=iproute2
ports_free 5296 5297 5298 5299
work="$(mktemp -d "$dir/sglty-compare.XXXXXX")"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
bytes=$((size_mib * 1024 * 1024))
sglty=$(publish_sglty "$work/sglty")
verify() { cmp -s "$1" "$2" && echo ok || echo DIFFERENT; }
row() { printf '%-36s %10s %10s %10s %10s %10s\n' "$@"; }
# What the last measure cost, kept under a tool's name for its row.
declare -A cpu cores
cost() { cpu[$1]=$CPU_TAKEN; cores[$1]=$CORES_BUSY; }

head -c "$bytes" /dev/urandom > "$work/src.bin"
mkdir -p "$work/dst"

# iperf3, memory to memory: the bound.
iperf3 -s -p 5299 -1 -D >/dev/null; sleep 0.3
iperf_json() { iperf3 -c 127.0.0.1 -p 5299 -n "$bytes" -J > "$work/iperf.json"; }
measure iperf_json; cost iperf3
iperf=$(awk -F: '/"sum_received"/ { f = 1 } f && /"bits_per_second"/ { gsub(/[ ,]/, "", $2); print $2 / 8 / 1e6; exit }' "$work/iperf.json")

# One TCP stream writing the file.
rm -f "$work/dst/nc.bin"
nc -l -N 127.0.0.1 5298 > "$work/dst/nc.bin" & pids+=($!); sleep 0.3
nc_send() { nc -N 127.0.0.1 5298 < "$work/src.bin"; wait "${pids[-1]}" || true; }
measure nc_send; cost nc
nc_rate=$(mbps "$bytes" "$TAKEN"); nc_ok=$(verify "$work/src.bin" "$work/dst/nc.bin"); rm -f "$work/dst/nc.bin"

# rsync to a daemon (its own protocol over TCP, whole file, no ssh).
rsyncd_conf "$work/rsyncd.conf" 5297 "$work/dst"
rsync --daemon --no-detach --config="$work/rsyncd.conf" & pids+=($!); sleep 0.5
measure rsync -a --whole-file "$work/src.bin" rsync://127.0.0.1:5297/dst/rsync.bin; cost rsync
rsync_rate=$(mbps "$bytes" "$TAKEN"); rsync_ok=$(verify "$work/src.bin" "$work/dst/rsync.bin"); rm -f "$work/dst/rsync.bin"

# scp to an OpenSSH server (encrypted, one stream).
sshd_setup "$work/ssh" 5296
/usr/sbin/sshd -D -f "$work/ssh/sshd_config" -o ListenAddress=127.0.0.1 & pids+=($!); sleep 0.5
measure scp_to "$work/ssh" 127.0.0.1 5296 "$work/src.bin" "$work/dst/scp.bin"; cost scp
scp_rate=$(mbps "$bytes" "$TAKEN"); scp_ok=$(verify "$work/src.bin" "$work/dst/scp.bin"); rm -f "$work/dst/scp.bin"

# What the destination takes from two writers with nothing else running, just before and just after sglty: no
# receiver can write faster. On a virtual machine that hands freed memory back to its host, it changes by the minute.
bound_before=$(write_bound "$work/dst" "$size_mib")

# sglty, plaintext and AES-256-GCM, default lanes and shard size.
"$sglty" recv --dir "$work/dst" --listen 127.0.0.1:0 --url-file "$work/url" --encrypt none 2>/dev/null >/dev/null & pids+=($!)
while [ ! -s "$work/url" ]; do sleep 0.05; done
url=$(cat "$work/url")
declare -A sg_rate sg_ok
sglty_send() { "$sglty" send "$work/src.bin" --to "$url" --encrypt "$1" --json 2>/dev/null > "$work/send.json"; }
for cipher in none aes-256-gcm; do
    rm -f "$work/dst/src.bin"
    measure sglty_send "$cipher"; cost "sglty $cipher"
    out=$(cat "$work/send.json")
    sg_rate[$cipher]=$(echo "$out" | sed -E 's/.*"mbytes_per_s":([0-9.]+).*/\1/' | awk '{ printf "%.0f", $1 }')
    sg_ok[$cipher]=$(verify "$work/src.bin" "$work/dst/src.bin")
done
rm -f "$work/dst/src.bin"
bound_after=$(write_bound "$work/dst" "$size_mib")
rm -f "$work/src.bin"

ratio() { awk -v a="$1" -v b="$iperf" 'BEGIN { printf "%.0f%%", 100 * a / b }'; }
echo
row "one ${size_mib} MiB file, loopback" "MB/s" "vs iperf3" "CPU s" "cores busy" "verified"
row "iperf3, memory to memory" "$(printf %.0f "$iperf")" "100%" "${cpu[iperf3]}" "${cores[iperf3]}" "-"
row "netcat, one TCP stream to a file" "$nc_rate" "$(ratio "$nc_rate")" "${cpu[nc]}" "${cores[nc]}" "$nc_ok"
row "rsync to an rsync daemon" "$rsync_rate" "$(ratio "$rsync_rate")" "${cpu[rsync]}" "${cores[rsync]}" "$rsync_ok"
row "scp (OpenSSH, encrypted)" "$scp_rate" "$(ratio "$scp_rate")" "${cpu[scp]}" "${cores[scp]}" "$scp_ok"
row "sglty, plaintext" "${sg_rate[none]}" "$(ratio "${sg_rate[none]}")" "${cpu[sglty none]}" "${cores[sglty none]}" "${sg_ok[none]}"
row "sglty, aes-256-gcm" "${sg_rate[aes-256-gcm]}" "$(ratio "${sg_rate[aes-256-gcm]}")" "${cpu[sglty aes-256-gcm]}" "${cores[sglty aes-256-gcm]}" "${sg_ok[aes-256-gcm]}"
row "dd x2 into a fresh file, before" "$bound_before" "$(ratio "$bound_before")" "-" "-" "-"
row "dd x2 into a fresh file, after" "$bound_after" "$(ratio "$bound_after")" "-" "-" "-"

# Many small files: 1-64 KiB each, in nested directories.
python3 - "$work/tree" "$small_files" <<'PY'
import os, random, sys
root, count = sys.argv[1], int(sys.argv[2])
rnd = random.Random(7)
for i in range(count):
    d = os.path.join(root, f"d{i % 40}", f"e{i % 13}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i}.bin"), "wb") as f:
        f.write(os.urandom(rnd.randint(1024, 65536)))
PY
tree_bytes=$(du -sb "$work/tree" | cut -f1)
read -r copy_before copy_before_cpu copy_before_cores < <(copy_bound "$work/tree" "$work/copy" "$small_files")
# Three rounds each into an empty destination, in alternating order, and each tool's median counts: on a virtual
# machine that hands freed memory back to its host, a writer can run several times slower in one minute than in the
# next, and a tool that always ran second would always meet what the first left behind.
rs_runs=(); sg_runs=(); rs_tree_cpu=(); sg_tree_cpu=(); rs_tree_cores=(); sg_tree_cores=(); rs_tree_ok=ok; sg_tree_ok=ok
# One round of one tool: ROUND RUNS CPUS CORES VERDICT COPY COMMAND... removes COPY, runs COMMAND, appends its files/s,
# CPU seconds and cores busy to the arrays RUNS, CPUS and CORES, and sets VERDICT to DIFFERENT if COPY does not match
# the tree.
round() {
    local -n runs=$1 cpu_list=$2 core_list=$3 verdict=$4
    local copy=$5; shift 5
    rm -rf "$copy"
    measure "$@"
    runs+=("$(per_second "$small_files" "$TAKEN")")
    cpu_list+=("$CPU_TAKEN")
    core_list+=("$CORES_BUSY")
    diff -r "$work/tree" "$copy" >/dev/null || verdict=DIFFERENT
}
sglty_tree() { "$sglty" send "$work/tree" --to "$url" --encrypt none >/dev/null 2>&1; }
run_rsync() { round rs_runs rs_tree_cpu rs_tree_cores rs_tree_ok "$work/dst/rsync/tree" rsync -a "$work/tree" rsync://127.0.0.1:5297/dst/rsync/; }
run_sglty() { round sg_runs sg_tree_cpu sg_tree_cores sg_tree_ok "$work/dst/tree" sglty_tree; }
for round in 1 2 3; do
    if ((round % 2)); then run_rsync; run_sglty; else run_sglty; run_rsync; fi
done
median() { printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"; }
rs_files=$(median "${rs_runs[@]}")
sg_files=$(median "${sg_runs[@]}")
read -r copy_after copy_after_cpu copy_after_cores < <(copy_bound "$work/tree" "$work/copy" "$small_files")
echo
row "$small_files files of 1-64 KiB ($((tree_bytes >> 20)) MiB)" "files/s" "vs rsync" "CPU s" "cores busy" "verified"
row "rsync to an rsync daemon (medians)" "$rs_files" "1.0x" "$(median "${rs_tree_cpu[@]}")" "$(median "${rs_tree_cores[@]}")" "$rs_tree_ok"
vs_rsync() { awk -v a="$1" -v b="$rs_files" 'BEGIN { printf "%.1fx", a / b }'; }
row "sglty, plaintext (medians)" "$sg_files" "$(vs_rsync "$sg_files")" "$(median "${sg_tree_cpu[@]}")" "$(median "${sg_tree_cores[@]}")" "$sg_tree_ok"
row "cp -r on this machine, before" "$copy_before" "$(vs_rsync "$copy_before")" "$copy_before_cpu" "$copy_before_cores" "-"
row "cp -r on this machine, after" "$copy_after" "$(vs_rsync "$copy_after")" "$copy_after_cpu" "$copy_after_cores" "-"
echo "each round, files/s: rsync ${rs_runs[*]}; sglty ${sg_runs[*]}"
echo "each round, CPU s: rsync ${rs_tree_cpu[*]}; sglty ${sg_tree_cpu[*]}"
echo "CPU s: seconds the whole machine's $(getconf _NPROCESSORS_ONLN) cores were busy while the tool ran (both ends, the kernel and anything else running); cores busy: CPU s over the time taken"
