#!/usr/bin/env bash
# Side by side on one machine, in one run, on the same data: iperf3 (the wire bound, memory to memory), one TCP
# stream writing the file (netcat), rsync to an rsync daemon and over ssh, scp to an OpenSSH server, and sglty
# plaintext and AES-256-GCM to a running receiver, and through ssh as scp is typed (HOST:DIR, and pulled: HOST:PATH DIR, and
# with the lanes inside ssh's connection: --tunnel), beside the destination's own bound (two writers filling a fresh file). Every copy is verified, and
# each tool's row gives the CPU seconds the whole machine was busy while it ran, and how many cores that kept busy. A
# second table does the same for a tree of many small files (rsync vs sglty), beside `cp -r` of that tree on this
# machine just before and after them, and a third sends that tree again over each copy, unchanged (the quick check
# alone). Each tool runs ROUNDS times (3 unless set), in alternating order, and its
# medians count; every round's figures are printed too. The dd and cp -r bounds run once before and once after.
# Usage: [ROUNDS=N] bench/compare.sh [SIZE_MIB] [SMALL_FILES] [DIR]   (as root: installs iperf3, netcat, rsync,
# OpenSSH, iproute2 and the native build's clang and zlib1g-dev with apt when missing; stops if something listens on
# one of the ports 5296-5299)
set -euo pipefail
size_mib=${1:-4096}
small_files=${2:-20000}
dir=${3:-/dev/shm}
here="$(cd "$(dirname "$0")/.." && pwd)"
. "$here/bench/lib.sh"
rounds=$(rounds_wanted) || exit 1
check_size "$size_mib"
install_missing iperf3=iperf3 nc=netcat-openbsd rsync=rsync /usr/sbin/sshd=openssh-server scp=openssh-client ss=iproute2
ports_free 5296 5297 5298 5299
work="$(mktemp -d "$dir/sglty-compare.XXXXXX")"
pids=(); listener=
cleanup() { for p in "${pids[@]}" $listener; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
bytes=$((size_mib * 1024 * 1024))
sglty=$(publish_sglty "$work/sglty")
row() { printf '%-40s %10s %10s %10s %10s %10s\n' "$@"; }

head -c "$bytes" /dev/urandom > "$work/src.bin"
mkdir -p "$work/dst"

# The servers, started once for every round.
iperf_server 5299; pids+=("$IPERF_PID")
rsyncd_conf "$work/rsyncd.conf" 5297 "$work/dst"
rsync --daemon --no-detach --config="$work/rsyncd.conf" & pids+=($!); rsyncd=$!
sshd_setup "$work/ssh" 5296
/usr/sbin/sshd -D -f "$work/ssh/sshd_config" -o ListenAddress=127.0.0.1 & pids+=($!); sshd=$!
"$sglty" recv --dir "$work/dst" --listen 127.0.0.1:0 --url-file "$work/url" --encrypt none 2> "$work/recv.err" >/dev/null & pids+=($!)
await_server "sglty recv" "$!" "$work/recv.err" "did not start" test -s "$work/url"
url=$(cat "$work/url")
await_listening "rsync --daemon" "$rsyncd" 5297
await_listening sshd "$sshd" 5296

# One transfer of each tool; TAKEN, CPU_TAKEN and CORES_BUSY come from measure (bench/lib.sh).
iperf_json() { iperf3 -c 127.0.0.1 -p 5299 -n "$bytes" -J > "$work/iperf.json"; }
# The listener starts, and is listening, before the clock does; a sender that cannot connect stops it and fails.
nc_listen() {
    nc -l -N 127.0.0.1 5298 > "$work/dst/nc.bin" & listener=$!
    await_listening netcat "$listener" 5298
}
nc_send() {
    nc -N 127.0.0.1 5298 < "$work/src.bin" || { kill "$listener"; wait "$listener" || true; listener=; return 1; }
    wait "$listener" || true; listener=
}
sglty_send() { "$sglty" send "$work/src.bin" --to "$url" --encrypt "$1" --json 2> "$work/send.err" > "$work/send.json"; }
# As users type scp and rsync: the login, and starting the other end, count in the time. DIR ends in '/', so the file
# goes into it (one file sent to a DIR not there would take its name, as scp names it).
ssh_command="ssh -i $work/ssh/client_key -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -p 5296"
sglty_ssh() { "$sglty" send "$work/src.bin" "root@127.0.0.1:$work/dst-ssh/" -e "$ssh_command" --sglty-path "$sglty" --remote-listen 127.0.0.1:0 2> "$work/send.err"; }
# The other way, as scp and rsync pull: the send runs there, started through ssh, into a receiver here.
sglty_pull() { "$sglty" send "root@127.0.0.1:$work/src.bin" "$work/dst-pull/" -e "$ssh_command" --sglty-path "$sglty" 2> "$work/send.err"; }
# As a host reached only through ssh (a jump host, a firewall that lets ssh alone through): the lanes go through ssh's connection.
sglty_tunnel() { "$sglty" send "$work/src.bin" "root@127.0.0.1:$work/dst-tunnel/" --tunnel -e "$ssh_command" --sglty-path "$sglty" 2> "$work/send.err"; }
# Ends the script with a one-line reason when TOOL failed in this round; any further words say why.
failed() { local tool=$1; shift; echo "compare.sh: $tool failed in round $round${*:+: $*}" >&2; exit 1; }
# Runs TOOL once and appends its MB/s, CPU seconds and cores busy to its entries in rates, cpus and busy; a copy
# that differs from the source marks the tool DIFFERENT in verdicts.
declare -A rates cpus busy verdicts
once() {
    local tool=$1 rate copy
    case $tool in
        iperf3)
            measure iperf_json || failed iperf3 "$(iperf_error "$work/iperf.json")"
            rate=$(iperf_received_mbps "$work/iperf.json")
            copy="" ;;
        netcat) copy="$work/dst/nc.bin"; nc_listen; measure nc_send || failed netcat; rate=$(mbps "$bytes" "$TAKEN") ;;
        rsync)
            copy="$work/dst/rsync.bin"
            measure rsync -a --whole-file "$work/src.bin" rsync://127.0.0.1:5297/dst/rsync.bin || failed rsync
            rate=$(mbps "$bytes" "$TAKEN") ;;
        rsync-ssh)
            copy="$work/dst/rsync-ssh.bin"
            measure rsync -a --whole-file -e "$ssh_command" "$work/src.bin" "root@127.0.0.1:$copy" || failed rsync-ssh
            rate=$(mbps "$bytes" "$TAKEN") ;;
        sglty-ssh)
            copy="$work/dst-ssh/src.bin"
            measure sglty_ssh || failed "$tool" "$(tail -1 "$work/send.err")"
            rate=$(mbps "$bytes" "$TAKEN") ;;
        sglty-pull)
            copy="$work/dst-pull/src.bin"
            measure sglty_pull || failed "$tool" "$(tail -1 "$work/send.err")"
            rate=$(mbps "$bytes" "$TAKEN") ;;
        sglty-tunnel)
            copy="$work/dst-tunnel/src.bin"
            measure sglty_tunnel || failed "$tool" "$(tail -1 "$work/send.err")"
            rate=$(mbps "$bytes" "$TAKEN") ;;
        scp) copy="$work/dst/scp.bin"; measure scp_to "$work/ssh" 127.0.0.1 5296 "$work/src.bin" "$copy" || failed scp; rate=$(mbps "$bytes" "$TAKEN") ;;
        sglty-none|sglty-aes-256-gcm)
            copy="$work/dst/src.bin"
            measure sglty_send "${tool#sglty-}" || failed "$tool" "$(tail -1 "$work/send.err")"
            # The sender's own figure, from its first byte to the receiver's confirmation.
            rate=$(printf %.0f "$(json_field "$(cat "$work/send.json")" mbytes_per_s)") ;;
    esac
    check_rate "$rate" "$tool" "$round"
    rates[$tool]+="$rate "; cpus[$tool]+="$CPU_TAKEN "; busy[$tool]+="$CORES_BUSY "
    if [ -n "$copy" ]; then
        cmp -s "$work/src.bin" "$copy" || verdicts[$tool]=DIFFERENT
        rm -f "$copy"
    fi
}

# What the destination takes from two writers with nothing else running, just before and just after the rounds: no
# receiver can write faster. On a virtual machine that hands freed memory back to its host, it changes by the minute.
bound_before=$(write_bound "$work/dst" "$size_mib")
check_rate "$bound_before" "dd x2, before"
# Several rounds, in one order and then the reverse, and each tool's median counts: on a small or shared machine one
# transfer can run a sixth faster or slower than the next, and a ratio of two single runs says little.
tools=(iperf3 netcat rsync rsync-ssh scp sglty-none sglty-aes-256-gcm sglty-ssh sglty-pull sglty-tunnel)
for ((round = 1; round <= rounds; round++)); do
    for tool in $(alternating "$round" "${tools[@]}"); do once "$tool"; done
done
bound_after=$(write_bound "$work/dst" "$size_mib")
check_rate "$bound_after" "dd x2, after"
rm -f "$work/src.bin"

iperf=$(printf %.0f "$(median ${rates[iperf3]})")
ratio() { awk -v a="$1" -v b="$iperf" 'BEGIN { printf "%.0f%%", 100 * a / b }'; }
tool_row() {
    local rate; rate=$(printf %.0f "$(median ${rates[$2]})")
    row "$1" "$rate" "$(ratio "$rate")" "$(printf %.2f "$(median ${cpus[$2]})")" "$(printf %.1f "$(median ${busy[$2]})")" "$3"
}
verdict() { echo "${verdicts[$1]:-ok}"; }
echo
row "one ${size_mib} MiB file, loopback (medians)" "MB/s" "vs iperf3" "CPU s" "cores busy" "verified"
tool_row "iperf3, memory to memory" iperf3 "-"
tool_row "netcat, one TCP stream to a file" netcat "$(verdict netcat)"
tool_row "rsync to an rsync daemon" rsync "$(verdict rsync)"
tool_row "rsync over ssh (-e ssh)" rsync-ssh "$(verdict rsync-ssh)"
tool_row "scp (OpenSSH, encrypted)" scp "$(verdict scp)"
tool_row "sglty, plaintext" sglty-none "$(verdict sglty-none)"
tool_row "sglty, aes-256-gcm" sglty-aes-256-gcm "$(verdict sglty-aes-256-gcm)"
tool_row "sglty through ssh (HOST:DIR, aes)" sglty-ssh "$(verdict sglty-ssh)"
tool_row "sglty pulled, ssh (HOST:PATH DIR, aes)" sglty-pull "$(verdict sglty-pull)"
tool_row "sglty inside ssh (HOST:DIR --tunnel, aes)" sglty-tunnel "$(verdict sglty-tunnel)"
row "dd x2 into a fresh file, before" "$bound_before" "$(ratio "$bound_before")" "-" "-" "-"
row "dd x2 into a fresh file, after" "$bound_after" "$(ratio "$bound_after")" "-" "-" "-"
echo "each round, MB/s / CPU s / cores busy:"
for tool in "${tools[@]}"; do echo "  $tool: ${rates[$tool]}/ ${cpus[$tool]}/ ${busy[$tool]}"; done

small_files "$work/tree" "$small_files"
tree_bytes=$(du -sb "$work/tree" | cut -f1)
read -r copy_before copy_before_cpu copy_before_cores < <(copy_bound "$work/tree" "$work/copy" "$small_files")
# ROUNDS rounds each into an empty destination, in alternating order, and each tool's median counts: on a virtual
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
    measure "$@" 2> "$work/tree.err" || { echo "compare.sh: $1 failed on the tree in round $round: $(tail -1 "$work/tree.err")" >&2; exit 1; }
    runs+=("$(per_second "$small_files" "$TAKEN")")
    cpu_list+=("$CPU_TAKEN")
    core_list+=("$CORES_BUSY")
    diff -r "$work/tree" "$copy" >/dev/null || verdict=DIFFERENT
}
sglty_tree() { "$sglty" send "$work/tree" --to "$url" --encrypt none >/dev/null; }
run_rsync() { round rs_runs rs_tree_cpu rs_tree_cores rs_tree_ok "$work/dst/rsync/tree" rsync -a "$work/tree" rsync://127.0.0.1:5297/dst/rsync/; }
run_sglty() { round sg_runs sg_tree_cpu sg_tree_cores sg_tree_ok "$work/dst/tree" sglty_tree; }
for ((round = 1; round <= rounds; round++)); do
    for tool in $(alternating "$round" rsync sglty); do "run_$tool"; done
done
rs_files=$(printf %.0f "$(median "${rs_runs[@]}")")
sg_files=$(printf %.0f "$(median "${sg_runs[@]}")")
read -r copy_after copy_after_cpu copy_after_cores < <(copy_bound "$work/tree" "$work/copy" "$small_files")
echo
row "$small_files files of 1-64 KiB ($((tree_bytes >> 20)) MiB)" "files/s" "vs rsync" "CPU s" "cores busy" "verified"
row "rsync to an rsync daemon (medians)" "$rs_files" "1.0x" "$(printf %.2f "$(median "${rs_tree_cpu[@]}")")" "$(printf %.1f "$(median "${rs_tree_cores[@]}")")" "$rs_tree_ok"
vs_rsync() { awk -v a="$1" -v b="$rs_files" 'BEGIN { printf "%.1fx", a / b }'; }
row "sglty, plaintext (medians)" "$sg_files" "$(vs_rsync "$sg_files")" "$(printf %.2f "$(median "${sg_tree_cpu[@]}")")" "$(printf %.1f "$(median "${sg_tree_cores[@]}")")" "$sg_tree_ok"
row "cp -r on this machine, before" "$copy_before" "$(vs_rsync "$copy_before")" "$copy_before_cpu" "$copy_before_cores" "-"
row "cp -r on this machine, after" "$copy_after" "$(vs_rsync "$copy_after")" "$copy_after_cpu" "$copy_after_cores" "-"
echo "each round, files/s: rsync ${rs_runs[*]}; sglty ${sg_runs[*]}"
echo "each round, CPU s: rsync ${rs_tree_cpu[*]}; sglty ${sg_tree_cpu[*]}"

# The same tree sent again over the copy each tool made, nothing changed, ROUNDS times each in alternating order: the
# quick check alone, which is most of what a nightly sync does.
again_rs=(); again_sg=(); again_rs_cpu=(); again_sg_cpu=()
again() {
    local -n times=$1 cpus=$2; shift 2
    measure "$@" 2> "$work/tree.err" || { echo "compare.sh: $1 failed on the tree sent again: $(tail -1 "$work/tree.err")" >&2; exit 1; }
    times+=("$(printf %.2f "$TAKEN")")
    cpus+=("$CPU_TAKEN")
}
for ((round = 1; round <= rounds; round++)); do
    for tool in $(alternating "$round" rsync sglty); do
        case $tool in
            rsync) again again_rs again_rs_cpu rsync -a "$work/tree" rsync://127.0.0.1:5297/dst/rsync/ ;;
            sglty) again again_sg again_sg_cpu sglty_tree ;;
        esac
    done
done
same() { diff -r "$work/tree" "$1" >/dev/null && echo ok || echo DIFFERENT; }
rs_again=$(median "${again_rs[@]}")
sg_again=$(median "${again_sg[@]}")
echo
row "the same tree sent again, unchanged" "seconds" "vs rsync" "CPU s" "" "verified"
row "rsync to an rsync daemon (medians)" "$rs_again" "1.0x" "$(printf %.2f "$(median "${again_rs_cpu[@]}")")" "" "$(same "$work/dst/rsync/tree")"
row "sglty, plaintext (medians)" "$sg_again" "$(awk -v a="$rs_again" -v b="$sg_again" 'BEGIN { printf "%.1fx", a / b }')" "$(printf %.2f "$(median "${again_sg_cpu[@]}")")" "" "$(same "$work/dst/tree")"
echo "each round, seconds: rsync ${again_rs[*]}; sglty ${again_sg[*]}"
echo "CPU s: seconds the whole machine's $(getconf _NPROCESSORS_ONLN) cores were busy while the tool ran (both ends, the kernel and anything else running); cores busy: CPU s over the time taken"
