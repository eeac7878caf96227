#!/usr/bin/env bash
# A copy on this machine (`sglty send SRC DIR`, no receiver of one's own): a tree of FILES files of 1-64 KiB (as
# compare.sh makes its tree) and one file of BIG_MIB MiB, copied by sglty, by rsync -a (its local copy, no daemon)
# and by cp -r (one process, no network, nothing checked: the destination's bound), each ROUNDS times (3 unless set)
# into an empty destination, in alternating order. Every copy is compared with its source. DIR holds the file and
# one copy at a time (8 GiB by default).
# Usage: [ROUNDS=N] bench/local.sh [FILES] [BIG_MIB] [DIR]   (as root: installs rsync)
set -euo pipefail
files=${1:-20000}
big_mib=${2:-4096}
base=${3:-/dev/shm}
here="$(cd "$(dirname "$0")/.." && pwd)"
. "$here/bench/lib.sh"
rounds=$(rounds_wanted) || exit 1
for value in "$files" "$big_mib"; do
    if ! [[ $value =~ ^[1-9][0-9]*$ ]]; then
        echo "local.sh: FILES and BIG_MIB must be whole numbers of at least 1, not '$value'" >&2; exit 1
    fi
done
install_missing rsync=rsync
make_work "$base" local
sglty=$(publish_sglty "$work/sglty")
small_files "$work/tree" "$files"
head -c "$((big_mib << 20))" /dev/urandom > "$work/big.bin"

row() { printf '%-26s %9s %14s %8s  %s\n' "$@"; }
run() { # what label copy command...: into the directory COPY, made empty first, timed, then compared with WHAT
    local what=$1 label=$2 copy=$3; shift 3
    rm -rf "$copy"
    mkdir -p "$copy"
    measure "$@" >"$work/out" 2>&1 || { echo "local.sh: $label failed: $(tail -1 "$work/out")" >&2; exit 1; }
    local verdict=ok rate
    if [ "$what" = tree ]; then
        diff -r "$work/tree" "$copy/tree" >/dev/null || verdict=DIFFERENT
        rate="$(per_second "$files" "$TAKEN") files/s"
    else
        cmp -s "$work/big.bin" "$copy/big.bin" || verdict=DIFFERENT
        rate="$(mbps "$((big_mib << 20))" "$TAKEN") MB/s"
    fi
    row "$label" "$(printf %.2f "$TAKEN")" "$rate" "$CPU_TAKEN" "$verdict"
}
for what in tree big; do
    if [ "$what" = tree ]; then
        echo "$files files of 1-64 KiB, $(du -sm "$work/tree" | cut -f1) MiB, copied on this machine"
        source_path=$work/tree
    else
        echo "one file of $big_mib MiB, copied on this machine"
        source_path=$work/big.bin
    fi
    row "what" "seconds" "rate" "CPU s" "verified"
    copy=$work/copy
    for round in $(seq "$rounds"); do
        for tool in $(alternating "$round" sglty rsync cp); do
            case $tool in
                sglty) run "$what" "sglty send -a SRC DIR" "$copy" "$sglty" send -a "$source_path" "$copy/" -q ;;
                rsync) run "$what" "rsync -a SRC DIR" "$copy" rsync -a "$source_path" "$copy/" ;;
                cp) run "$what" "cp -r SRC DIR" "$copy" cp -r "$source_path" "$copy/" ;;
            esac
        done
    done
done
echo "CPU s: seconds the whole machine's cores were busy while the tool ran; rate: files or MB (10^6 bytes) a second"
