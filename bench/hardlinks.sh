#!/usr/bin/env bash
# A backup tree of hard-linked snapshots over loopback: FILES files of 1-64 KiB (as compare.sh makes its tree), and
# SNAPSHOTS snapshots of them that share every file (as `cp -al` or rsync --link-dest make them). Sends the tree with
# sglty --hard-links and with rsync -aH to a daemon, and, to show what keeping the links saves, with each of them
# without it; each ROUNDS times (3 unless set) into an empty destination, in alternating order. Every copy is
# compared with the source, and its files (distinct inodes) counted: with the links kept there are FILES, without
# them FILES x SNAPSHOTS.
# Usage: [ROUNDS=N] bench/hardlinks.sh [FILES] [SNAPSHOTS] [DIR]   (as root: installs rsync)
set -euo pipefail
files=${1:-10000}
snapshots=${2:-4}
base=${3:-/dev/shm}
here="$(cd "$(dirname "$0")/.." && pwd)"
. "$here/bench/lib.sh"
rounds=$(rounds_wanted) || exit 1
if ! [[ $files =~ ^[1-9][0-9]*$ && $snapshots =~ ^[1-9][0-9]*$ ]]; then
    echo "hardlinks.sh: FILES and SNAPSHOTS must be whole numbers of at least 1, not '$files' and '$snapshots'" >&2; exit 1
fi
install_missing rsync=rsync ss=iproute2
ports_free 5295 || exit 1
make_work "$base" hardlinks
sglty=$(publish_sglty "$work/sglty")
small_files "$work/src/snap1" "$files"
for s in $(seq 2 "$snapshots"); do cp -al "$work/src/snap1" "$work/src/snap$s"; done
names=$(find "$work/src" -type f | wc -l)
serve_dst "$work" "$sglty" 5295

row() { printf '%-26s %9s %9s %8s %9s %12s  %s\n' "$@"; }
run() { # label command...: into an empty destination, timed, then compared and its files counted
    local label=$1; shift
    rm -rf "$work/dst/src"
    measure "$@" >"$work/out" 2>&1 || { echo "hardlinks.sh: $label failed: $(tail -1 "$work/out")" >&2; exit 1; }
    local inodes verdict=ok
    inodes=$(find "$work/dst/src" -type f -printf '%i\n' | sort -u | wc -l)
    diff -r "$work/src" "$work/dst/src" >/dev/null || verdict=DIFFERENT
    row "$label" "$(printf %.2f "$TAKEN")" "$(per_second "$names" "$TAKEN")" "$CPU_TAKEN" "$inodes" "$(du -sm "$work/dst/src" | cut -f1)" "$verdict"
}
echo "$files files of 1-64 KiB in $snapshots hard-linked snapshots: $names names, $(du -sm "$work/src" | cut -f1) MiB"
row "what" "seconds" "names/s" "CPU s" "files" "MiB at dst" "verified"
for round in $(seq "$rounds"); do
    for tool in $(alternating "$round" sglty-H rsync-H sglty rsync); do
        case $tool in
            sglty-H) run "sglty --hard-links" "$sglty" send "$work/src" --to "$url" --encrypt none --hard-links ;;
            rsync-H) run "rsync -aH to a daemon" rsync -aH "$work/src" rsync://127.0.0.1:5295/dst/ ;;
            sglty) run "sglty, links not kept" "$sglty" send "$work/src" --to "$url" --encrypt none ;;
            rsync) run "rsync -a, links not kept" rsync -a "$work/src" rsync://127.0.0.1:5295/dst/ ;;
        esac
    done
done
