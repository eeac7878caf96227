#!/usr/bin/env bash
# Changed files over the emulated WAN of wan.sh (1 Gbit/s, 50 ms RTT, 0.5% loss each way, under cubic): the receiver
# already holds an older version, and only part of each file is new. Three cases, each timed ROUNDS times (3 unless
# set) from a fresh copy of the old version, and verified:
# - a log that grew: SIZE_MIB of log at the receiver, SIZE_MIB + GROWN_MIB at the sender;
# - a disk image written in place: SIZE_MIB of random bytes, 64 writes of 4 KiB scattered over it;
# - an archive whose members changed size: SIZE_MIB of random bytes, 1 KiB inserted after its first MiB and 4 KiB
#   removed from its middle, so that everything after the first MiB moved (blocks found only where they moved).
# Compares sglty (its defaults: delta, as the path is long), sglty --whole-file, sglty --inplace (the old version's
# shards read where they stand, only those that differ written), rsync to a daemon (delta by default between hosts),
# rsync --inplace, and, for the log, rsync --append, which sends only what follows the old length.
# Needs root (namespaces, TUN).
# Usage: [ROUNDS=N] bench/delta.sh [SIZE_MIB] [GROWN_MIB]
set -euo pipefail
size_mib=${1:-1024}
grown_mib=${2:-64}
here="$(cd "$(dirname "$0")/.." && pwd)"
wan="$here/bench/wanem"
. "$here/bench/lib.sh"
rounds=$(rounds_wanted) || exit 1
check_size "$size_mib"
install_missing rsync=rsync
allowed=$(sysctl -n net.ipv4.tcp_allowed_congestion_control)
sysctl -qw net.ipv4.tcp_allowed_congestion_control="reno bbr cubic"
work="$(mktemp -d /dev/shm/sglty-delta.XXXXXX)"
token=delta-bench-token-$$
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    "$wan/wan-down.sh" --quiet >/dev/null 2>&1 || true
    sysctl -qw net.ipv4.tcp_allowed_congestion_control="$allowed"
    rm -rf "$work"
}
trap cleanup EXIT
sglty=$(publish_sglty "$work/sglty")
mkdir -p "$work/src" "$work/old" "$work/dst"
# The log: the old version, and the new one that grew by GROWN_MIB of lines not seen before (another seed: the old
# version repeats a 64 MiB stretch, which a tool that finds moved blocks would find again in a tail of the same).
log_file "$work/old/app.log" "$size_mib"
log_file "$work/tail.log" "$grown_mib" 2
cat "$work/old/app.log" "$work/tail.log" > "$work/src/app.log"
rm "$work/tail.log"
# The image: random bytes, then 64 blocks of 4 KiB rewritten at random offsets.
head -c $((size_mib << 20)) /dev/urandom > "$work/old/disk.img"
cp "$work/old/disk.img" "$work/src/disk.img"
python3 - "$work/src/disk.img" <<'PY'
import os, random, sys
random.seed(9)
size = os.path.getsize(sys.argv[1])
with open(sys.argv[1], "r+b") as image:
    for _ in range(64):
        image.seek(random.randrange(0, size // 4096) * 4096)
        image.write(os.urandom(4096))
PY
# The archive: the image's old version, with bytes inserted and removed.
python3 - "$work/old/disk.img" "$work/src/backup.tar" <<'PY'
import os, sys
old = open(sys.argv[1], "rb").read()
middle = len(old) // 2
with open(sys.argv[2], "wb") as archive:
    archive.write(old[:1 << 20] + os.urandom(1024) + old[1 << 20:middle] + old[middle + 4096:])
PY
cp "$work/old/disk.img" "$work/old/backup.tar"
# Every old version is older than its source, so no tool takes it for unchanged.
touch -d '1 day ago' "$work/old/app.log" "$work/old/disk.img" "$work/old/backup.tar"

"$wan/wan-up.sh" --delay-ms 25 --loss 0.5 --rate-mbit 1000 --cc cubic >/dev/null
ip netns exec sgB "$sglty" recv --dir "$work/dst" --listen 10.99.0.2:7700 --token "$token" --encrypt none >/dev/null 2>&1 & pids+=($!)
rsyncd_conf "$work/rsyncd.conf" 8873 "$work/dst"
ip netns exec sgB rsync --daemon --no-detach --config="$work/rsyncd.conf" & pids+=($!)
sleep 1
url="sglty://10.99.0.2:7700/?token=$token"
row() { printf '%-40s %9s %11s %12s  %s\n' "$@"; }
run() { # name label command...: the old version of name in place, then command timed and its copy compared
    local name=$1 label=$2; shift 2
    rm -f "$work/dst/$name" "$work/dst/.$name".*
    cp -p "$work/old/$name" "$work/dst/$name"
    measure ip netns exec sgA "$@" >"$work/out" 2>&1 || { echo "delta.sh: $label failed: $(tail -1 "$work/out")" >&2; exit 1; }
    local bytes; bytes=$(stat -c %s "$work/src/$name")
    row "$label" "$(printf %.2f "$TAKEN")" "$(mbps "$bytes" "$TAKEN")" "$(printf %.2f "$CPU_TAKEN")" "$(cmp -s "$work/src/$name" "$work/dst/$name" && echo ok || echo DIFFERENT)"
}
echo "old versions: $size_mib MiB; the log grew by $grown_mib MiB, the image had 64 blocks of 4 KiB rewritten, the archive 1 KiB inserted and 4 KiB removed"
row "what" "seconds" "MB/s of file" "CPU s" "verified"
for round in $(seq "$rounds"); do
    run app.log "log: sglty (delta)" "$sglty" send "$work/src/app.log" --to "$url" --encrypt none
    run app.log "log: sglty --whole-file" "$sglty" send "$work/src/app.log" --to "$url" --encrypt none --whole-file
    run app.log "log: sglty --inplace" "$sglty" send "$work/src/app.log" --to "$url" --encrypt none --inplace
    run app.log "log: rsync to a daemon" rsync "$work/src/app.log" rsync://10.99.0.2:8873/dst/app.log
    run app.log "log: rsync --inplace to a daemon" rsync --inplace "$work/src/app.log" rsync://10.99.0.2:8873/dst/app.log
    run app.log "log: rsync --append to a daemon" rsync --append "$work/src/app.log" rsync://10.99.0.2:8873/dst/app.log
    run disk.img "image: sglty (delta)" "$sglty" send "$work/src/disk.img" --to "$url" --encrypt none
    run disk.img "image: sglty --whole-file" "$sglty" send "$work/src/disk.img" --to "$url" --encrypt none --whole-file
    run disk.img "image: sglty --inplace" "$sglty" send "$work/src/disk.img" --to "$url" --encrypt none --inplace
    run disk.img "image: rsync to a daemon" rsync "$work/src/disk.img" rsync://10.99.0.2:8873/dst/disk.img
    run disk.img "image: rsync --inplace to a daemon" rsync --inplace "$work/src/disk.img" rsync://10.99.0.2:8873/dst/disk.img
    run backup.tar "archive: sglty (delta)" "$sglty" send "$work/src/backup.tar" --to "$url" --encrypt none
    run backup.tar "archive: sglty --whole-file" "$sglty" send "$work/src/backup.tar" --to "$url" --encrypt none --whole-file
    run backup.tar "archive: rsync to a daemon" rsync "$work/src/backup.tar" rsync://10.99.0.2:8873/dst/backup.tar
done
