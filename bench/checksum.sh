#!/usr/bin/env bash
# Checking and repairing a copy by its contents over loopback: a tree of FILES files of 1-64 KiB (as compare.sh makes
# its tree) and one file of BIG_MIB MiB, against a copy of it in which DAMAGED of the small files hold other bytes
# under the same size and time (as a disk that rotted leaves them). Each ROUNDS times (3 unless set), from a fresh
# damaged copy, in alternating order: sglty --checksum and rsync -ac to a daemon, which must repair every damaged
# file, and sglty without it, which by its quick check must not. Every copy is compared with the tree afterwards.
# Usage: [ROUNDS=N] bench/checksum.sh [FILES] [DAMAGED] [BIG_MIB] [DIR]   (as root: installs rsync)
set -euo pipefail
files=${1:-20000}
damaged=${2:-200}
big=${3:-1024}
base=${4:-/dev/shm}
here="$(cd "$(dirname "$0")/.." && pwd)"
. "$here/bench/lib.sh"
rounds=$(rounds_wanted) || exit 1
if ! [[ $files =~ ^[1-9][0-9]*$ && $damaged =~ ^[0-9]+$ && $big =~ ^[0-9]+$ ]] || ((damaged > files)); then
    echo "checksum.sh: FILES must be a whole number of at least 1, DAMAGED and BIG_MIB whole numbers, DAMAGED at most FILES; not '$files', '$damaged', '$big'" >&2; exit 1
fi
install_missing rsync=rsync ss=iproute2
ports_free 5294 || exit 1
make_work "$base" checksum
sglty=$(publish_sglty "$work/sglty")
small_files "$work/tree/src" "$files"
if ((big > 0)); then head -c "$((big << 20))" /dev/urandom > "$work/tree/src/big.bin"; fi
serve_dst "$work" "$sglty" 5294

# A fresh copy at the destination, DAMAGED of its small files rewritten in place with other bytes, size and time kept.
damage() {
    rm -rf "$work/dst/src"
    cp -a "$work/tree/src" "$work/dst/src"
    # Listed first: head would cut the pipe of a longer listing short, which pipefail takes for a failure.
    find "$work/dst/src" -name 'f*.bin' | sort > "$work/files"
    head -n "$damaged" "$work/files" | while read -r file; do
        head -c "$(stat -c %s "$file")" /dev/urandom > "$work/rot" && touch -r "$file" "$work/rot" && cp -p "$work/rot" "$file"
    done
}
row() { printf '%-32s %9s %8s %10s  %s\n' "$@"; }
run() { # label expect command...: times the command against a fresh damaged copy, then counts what still differs
    local label=$1 expect=$2; shift 2
    damage
    measure "$@" >"$work/out" 2>&1 || { echo "checksum.sh: $label failed: $(tail -1 "$work/out")" >&2; exit 1; }
    local left verdict
    left=$(diff -rq "$work/tree/src" "$work/dst/src" | wc -l || true)
    if [ "$expect" = repaired ]; then verdict=$([ "$left" = 0 ] && echo ok || echo "NOT REPAIRED"); else verdict=$([ "$left" = "$damaged" ] && echo "as expected" || echo UNEXPECTED); fi
    row "$label" "$(printf %.2f "$TAKEN")" "$CPU_TAKEN" "$left" "$verdict"
}
echo "$files files of 1-64 KiB and $big MiB in one file ($(du -sm "$work/tree/src" | cut -f1) MiB), $damaged of them damaged at the copy, over loopback"
row "what" "seconds" "CPU s" "left wrong" "verified"
for round in $(seq "$rounds"); do
    for tool in $(alternating "$round" sglty-c rsync-c sglty); do
        case $tool in
            sglty-c) run "sglty --checksum" repaired "$sglty" send "$work/tree/src" --to "$url" --encrypt none --checksum ;;
            rsync-c) run "rsync -ac to a daemon" repaired rsync -ac "$work/tree/src" rsync://127.0.0.1:5294/dst/ ;;
            sglty) run "sglty, quick check (no -c)" left "$sglty" send "$work/tree/src" --to "$url" --encrypt none ;;
        esac
    done
done
