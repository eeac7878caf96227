#!/usr/bin/env bash
# A sparse disk image over loopback: a SIZE_MIB file holding DATA_MIB in 64 extents, sent by sglty with and without
# --sparse and by rsync to a daemon with and without --sparse, ROUNDS times each (3 unless set), one after the other.
# Prints seconds, MB/s of the file's size, and what the copy takes at the receiver, each copy verified.
# DIR (default /dev/shm) must hold SIZE_MIB for the copies without --sparse.
# Usage: [ROUNDS=N] bench/sparse.sh [SIZE_MIB] [DATA_MIB] [DIR]   (as root: installs rsync, and the native build's
# clang and zlib1g-dev with apt when missing; stops if something listens on port 8874 or 7703)
set -euo pipefail
size_mib=${1:-8192}
data_mib=${2:-512}
dir=${3:-/dev/shm}
here="$(cd "$(dirname "$0")/.." && pwd)"
. "$here/bench/lib.sh"
rounds=$(rounds_wanted) || exit 1
check_size "$size_mib"
[ $((data_mib * 64)) -le $((size_mib * 63)) ] || { echo "sparse.sh: DATA_MIB must be well under SIZE_MIB" >&2; exit 1; }
install_missing rsync=rsync ss=iproute2
# The copies without --sparse take the whole size, and a receiver checks for it free ahead.
free_mib=$(( $(df -Pk "$dir" | awk 'NR == 2 { print $4 }') >> 10 ))
if ((free_mib < size_mib + data_mib + 64)); then
    echo "sparse.sh: $dir has $free_mib MiB free; the copies without --sparse need $size_mib MiB there: give a DIR with that much free, or a smaller SIZE_MIB" >&2
    exit 1
fi
ports_free 8874 7703
make_work "$dir" sparse
sglty=$(publish_sglty "$work/sglty")
mkdir -p "$work/src" "$work/dst"
python3 - "$work/src/vm.img" "$size_mib" "$data_mib" <<'PY'
import os, random, sys
random.seed(5)
path, size, data = sys.argv[1], int(sys.argv[2]) << 20, int(sys.argv[3]) << 20
extent, stride = data // 64, size // 64
with open(path, "wb") as image:
    image.truncate(size)
    for i in range(64):
        image.seek(i * stride + random.randrange(0, stride - extent))
        image.write(os.urandom(extent))
PY
echo "image: $size_mib MiB holding $(( $(du -B1 "$work/src/vm.img" | cut -f1) >> 20 )) MiB"
rsyncd_conf "$work/rsyncd.conf" 8874 "$work/dst"
rsync --daemon --no-detach --config="$work/rsyncd.conf" & pids+=($!)
token=sparse-bench-token-$$
"$sglty" recv --dir "$work/dst" --listen 127.0.0.1:7703 --token "$token" --encrypt none --no-fsync >/dev/null 2>&1 & pids+=($!)
await_listening "sglty recv" "${pids[1]}" 7703
await_listening "rsync --daemon" "${pids[0]}" 8874
url="sglty://127.0.0.1:7703/?token=$token"
run() { # label command...
    local label=$1; shift
    rm -f "$work/dst/vm.img"
    measure "$@" >/dev/null 2>&1 || { echo "sparse.sh: $label failed" >&2; exit 1; }
    local ok; ok=$(cmp -s "$work/src/vm.img" "$work/dst/vm.img" && echo ok || echo DIFFERENT)
    printf '%-22s %8.2f %10s %12s  %s\n' "$label" "$TAKEN" "$(mbps $((size_mib << 20)) "$TAKEN")" "$(( $(du -B1 "$work/dst/vm.img" | cut -f1) >> 20 ))" "$ok"
}
printf '%-22s %8s %10s %12s  %s\n' "what" "seconds" "MB/s" "MiB there" "verified"
for round in $(seq "$rounds"); do
    run "sglty --sparse" "$sglty" send "$work/src/vm.img" --to "$url" --encrypt none --sparse
    run "sglty" "$sglty" send "$work/src/vm.img" --to "$url" --encrypt none
    run "rsync --sparse" rsync --whole-file --sparse "$work/src/vm.img" rsync://127.0.0.1:8874/dst/vm.img
    run "rsync" rsync --whole-file "$work/src/vm.img" rsync://127.0.0.1:8874/dst/vm.img
done
