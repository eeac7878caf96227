#!/usr/bin/env bash
# Daily snapshots over loopback, as rsync --link-dest makes them: a tree of FILES files of 1-64 KiB (as compare.sh
# makes its tree) goes into snap/1, then the same tree with CHANGED of its files rewritten and as many new ones goes
# into snap/2 with --link-dest ../1, so that snap/2 links what did not change. Times the second snapshot of sglty
# (snap/2 named by the URL's path) and of rsync -a to a daemon, each ROUNDS times (3 unless set) into an empty
# destination, in alternating order. Every snapshot is compared with its tree, and the files of snap/2 that share
# their inode with snap/1 counted, with the MiB the second snapshot added.
# Usage: [ROUNDS=N] bench/snapshot.sh [FILES] [CHANGED] [DIR]   (as root: installs rsync)
set -euo pipefail
files=${1:-20000}
changed=${2:-200}
base=${3:-/dev/shm}
here="$(cd "$(dirname "$0")/.." && pwd)"
. "$here/bench/lib.sh"
rounds=$(rounds_wanted) || exit 1
if ! [[ $files =~ ^[1-9][0-9]*$ && $changed =~ ^[0-9]+$ ]] || ((changed > files)); then
    echo "snapshot.sh: FILES must be a whole number of at least 1 and CHANGED one of at most FILES, not '$files' and '$changed'" >&2; exit 1
fi
install_missing rsync=rsync ss=iproute2
ports_free 5297 || exit 1
make_work "$base" snapshot
sglty=$(publish_sglty "$work/sglty")
small_files "$work/day1" "$files"
cp -a "$work/day1" "$work/day2"
# CHANGED files rewritten (new bytes, a later time) and CHANGED new ones, spread over the tree.
python3 - "$work/day2" "$files" "$changed" <<'PY'
import os, sys
root, count, changed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for k in range(changed):
    i = k * count // changed
    for name in (f"f{i}.bin", f"new{i}.bin"):
        with open(os.path.join(root, f"d{i % 40}", f"e{i % 13}", name), "wb") as f:
            f.write(os.urandom(32768))
PY
serve_dst "$work" "$sglty" 5297
base_url=${url%%\?*}; base_url=${base_url%/}
token=${url#*\?}

row() { printf '%-34s %9s %9s %8s %8s %9s  %s\n' "$@"; }
run() { # label first-command second-command: snap/1 from day1 (not timed), then snap/2 from day2 (timed), compared
    local label=$1 first=$2 second=$3
    rm -rf "$work/dst/snap"
    mkdir -p "$work/dst/snap"
    eval "$first" >"$work/out" 2>&1 || { echo "snapshot.sh: $label, first snapshot failed: $(tail -1 "$work/out")" >&2; exit 1; }
    measure eval "$second" >"$work/out" 2>&1 || { echo "snapshot.sh: $label failed: $(tail -1 "$work/out")" >&2; exit 1; }
    local linked added verdict=ok
    diff -r "$work/day1" "$work/dst/snap/1" >/dev/null && diff -r "$work/day2" "$work/dst/snap/2" >/dev/null || verdict=DIFFERENT
    linked=$(find "$work/dst/snap/2" -type f -links 2 | wc -l)
    added=$(($(du -sm "$work/dst/snap" | cut -f1) - $(du -sm "$work/dst/snap/1" | cut -f1)))
    row "$label" "$(printf %.2f "$TAKEN")" "$(per_second "$((files + changed))" "$TAKEN")" "$CPU_TAKEN" "$linked" "$added" "$verdict"
}
echo "$files files of 1-64 KiB, $(du -sm "$work/day1" | cut -f1) MiB; the next day $changed of them rewritten and $changed new"
row "second snapshot, --link-dest ../1" "seconds" "files/s" "CPU s" "linked" "MiB added" "verified"
for round in $(seq "$rounds"); do
    for tool in $(alternating "$round" sglty rsync); do
        case $tool in
            sglty) run "sglty --link-dest" \
                '"$sglty" send "$work/day1/" --to "$base_url/snap/1/?$token" --encrypt none' \
                '"$sglty" send "$work/day2/" --to "$base_url/snap/2/?$token" --encrypt none --link-dest ../1' ;;
            rsync) run "rsync -a --link-dest to a daemon" \
                'rsync -a "$work/day1/" rsync://127.0.0.1:5297/dst/snap/1/' \
                'rsync -a --link-dest=../1 "$work/day2/" rsync://127.0.0.1:5297/dst/snap/2/' ;;
        esac
    done
done
