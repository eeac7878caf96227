#!/usr/bin/env bash
# Moving a tree of FILES files of 1-64 KiB over loopback (as compare.sh makes its tree): sglty copying it, sglty
# moving it (--remove-source-files), and rsync -a --remove-source-files to a daemon; each ROUNDS times (3 unless set)
# from a fresh copy of the tree into an empty destination, in alternating order. Every copy is compared with the
# tree, and the files left at the source counted: none after a move.
# Usage: [ROUNDS=N] bench/move.sh [FILES] [DIR]   (as root: installs rsync)
set -euo pipefail
files=${1:-20000}
base=${2:-/dev/shm}
here="$(cd "$(dirname "$0")/.." && pwd)"
. "$here/bench/lib.sh"
rounds=$(rounds_wanted) || exit 1
if ! [[ $files =~ ^[1-9][0-9]*$ ]]; then
    echo "move.sh: FILES must be a whole number of at least 1, not '$files'" >&2; exit 1
fi
install_missing rsync=rsync ss=iproute2
ports_free 5296 || exit 1
make_work "$base" move
sglty=$(publish_sglty "$work/sglty")
small_files "$work/tree" "$files"
serve_dst "$work" "$sglty" 5296

row() { printf '%-44s %9s %9s %8s %12s  %s\n' "$@"; }
run() { # label command...: from a fresh copy of the tree into an empty destination, timed, then compared
    local label=$1; shift
    rm -rf "$work/dst/src" "$work/src"
    cp -a "$work/tree" "$work/src"
    measure "$@" >"$work/out" 2>&1 || { echo "move.sh: $label failed: $(tail -1 "$work/out")" >&2; exit 1; }
    local verdict=ok
    diff -r "$work/tree" "$work/dst/src" >/dev/null || verdict=DIFFERENT
    row "$label" "$(printf %.2f "$TAKEN")" "$(per_second "$files" "$TAKEN")" "$CPU_TAKEN" "$(find "$work/src" -type f | wc -l)" "$verdict"
}
echo "$files files of 1-64 KiB, $(du -sm "$work/tree" | cut -f1) MiB, over loopback"
row "what" "seconds" "files/s" "CPU s" "left at src" "verified"
for round in $(seq "$rounds"); do
    for tool in $(alternating "$round" copy move rsync); do
        case $tool in
            copy) run "sglty, copy" "$sglty" send "$work/src" --to "$url" --encrypt none ;;
            move) run "sglty --remove-source-files" "$sglty" send "$work/src" --to "$url" --encrypt none --remove-source-files ;;
            rsync) run "rsync -a --remove-source-files to a daemon" rsync -a --remove-source-files "$work/src" rsync://127.0.0.1:5296/dst/ ;;
        esac
    done
done
