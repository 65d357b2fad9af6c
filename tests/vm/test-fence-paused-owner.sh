#!/bin/bash
# test-fence-paused-owner.sh: the paused owner, with and without storage fencing.
#
# Two guests n1 and n2 (cluster of two with an arbitrator, `om arbitrator run` on the
# host side of the lab network) share two LUNs of the lab's iSCSI SAN. Two services of the
# reference's sancrypt shape (disk.crypt + ext4, orchestrate = ha, topology =
# failover) plus an app resource that appends a 4 KiB record and fsyncs it every
# 100 ms (a log line per record in the node's RAM: ok or failed, and the node's uptime
# when the fsync returned):
#   fenced    on LUN fenced,   scsireserv = true
#   unfenced  on LUN unfenced, scsireserv not set
# Both run on n1. n1 is frozen (SIGSTOP of its QEMU: a hung host, a long VM pause)
# until n2 has taken both services over, then thawed; n1's agent then finds the
# services up elsewhere and stops them; the stop of the fenced one finds the
# reservation held by n2, so that instance ends in the monitor state "fenced" (out of
# the candidates until the service is placed back), the unfenced one does not. For each service the test prints the records
# n1 wrote with a successful fsync after the takeover (among the records logged after
# the thaw, from the first whose uptime jumps by more than 3 s over the previous one,
# the pause, until the app is started again: when both instances are found up, the
# orchestrator stops them and starts the service again on its leader, n1, which is a
# new owner, not the old one; those of them with a sequence number above the last of
# n1's records n2 read in the file at the takeover: a record acknowledged late, whose
# write reached the storage before the pause, is said but not counted), the records
# refused, and
# `e2fsck -fn` of the
# volume, opened again on n2 once both services are frozen and stopped everywhere.
#
# Asserted for the fenced service only: no record of n1's accepted after the
# takeover, the refusals seen by n1's kernel (reservation conflict), e2fsck clean,
# n1's instance stopped by its agent after the thaw and reported fenced. (A record refused is one whose
# write or fsync failed; a writer blocked in its fsync until the agent's stop kills
# it logs nothing: it is neither accepted nor counted as refused.) The unfenced figures are printed (never asserted: they
# depend on timing) so that the difference shows in every run.
#
# Exit 0 on success; 1 with the consoles, daemon and object logs on failure; 77 when
# the QEMU lab, its iSCSI SAN, jq or python3 are missing. Environment: OM_BIN.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
om_bin=${OM_BIN:-$src/build/om}
. "$here/lab.sh"
for t in jq python3; do
    command -v "$t" >/dev/null || { echo "SKIP: $t is needed"; exit 77; }
done

arb_port=1300
declare -A ADDR=([n1]=10.99.0.11 [n2]=10.99.0.12)
svcs=(fenced unfenced)

t_start=$EPOCHREALTIME
step() { echo "== [$(lab_elapsed "$t_start" | cut -d. -f1)s] $*"; }
ARB_PID=
dumped=
dump() {
    [ -z "$dumped" ] || return 0
    dumped=1
    [ -n "$LAB_DIR" ] || return 0
    local n s
    for n in n1 n2; do
        lab_console "$n" 2>&1 | tail -n 40 || true
        if lab_alive "$n"; then
            echo "----- $n: om daemon log -----"
            lab_run -t 20 "$n" "tail -n 60 /var/log/om/daemon.log" 2>&1 || true
            for s in "${svcs[@]}"; do
                echo "----- $n: object log of demo/svc/$s -----"
                lab_run -t 20 "$n" "tail -n 40 /var/log/om/namespaces/demo/svc/$s.log" 2>&1 || true
            done
        fi
    done
}
fail() {
    echo "FAIL: $*"
    dump
    exit 1
}
out=
run() {
    local node=$1 rc=0
    shift
    echo "# $node: $*"
    out=$(lab_run -t 90 "$node" "( $*
) 2>&1") || rc=$?
    [ -z "$out" ] || printf '%s\n' "$out"
    [ "$rc" = 0 ] || fail "$node: '$*' exited $rc"
}
q() { lab_run -t 20 "$@" 2>/dev/null; }
until_() {
    local secs=$1 desc=$2 t0=$EPOCHREALTIME
    shift 2
    while ! "$@"; do
        [ "$(lab_elapsed "$t0" | cut -d. -f1)" -lt "$secs" ] || fail "$desc: not after ${secs}s"
        read -r -t 0.2 -u "$LAB_SLEEP_FD" || true
    done
}

lab_init --om "$om_bin" --iscsi || exit $?
arb_stop() { [ -z "$ARB_PID" ] || { pkill -P "$ARB_PID"; kill "$ARB_PID"; } 2>/dev/null || true; }
trap 'arb_stop; lab_cleanup' EXIT
trap 'trap - EXIT; arb_stop; lab_cleanup; trap - INT; kill -INT $$' INT
trap 'trap - EXIT; arb_stop; lab_cleanup; trap - TERM; kill -TERM $$' TERM

step "arbitrator (om arbitrator run) on 10.99.0.1:$arb_port, two LUNs, boot n1 and n2"
secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
mkdir -p "$LAB_DIR/arb/etc"
printf '[arbitrator]\naddr = 10.99.0.1\nport = %s\nname = arb\n[cluster#1]\nname = lab\nsecret = %s\n' \
    "$arb_port" "$secret" >"$LAB_DIR/arb/etc/arbitrator.conf"
chmod 600 "$LAB_DIR/arb/etc/arbitrator.conf"
lab_host env OM_ROOT="$LAB_DIR/arb" OM_NODENAME=arb "$om_bin" arbitrator run \
    </dev/null >"$LAB_DIR/arb.out" 2>&1 &
ARB_PID=$!
declare -A LUN
for s in "${svcs[@]}"; do
    LUN[$s]=$(lab_iscsi_disk "$s" 128M) || fail "lab_iscsi_disk $s"
done
lab_start n1 "${ADDR[n1]}/24" "${LUN[fenced]}" "${LUN[unfenced]}"
lab_start n2 "${ADDR[n2]}/24" "${LUN[fenced]}" "${LUN[unfenced]}"
lab_wait n1 || fail "n1 did not boot"
lab_wait n2 || fail "n2 did not boot"
kill -0 "$ARB_PID" 2>/dev/null || fail "the arbitrator did not start: $(cat "$LAB_DIR/arb.out")"

conf="[cluster]
name = lab
secret = $secret
nodes = n1 n2

[hb#1]
type = unicast
addr@n1 = ${ADDR[n1]}
addr@n2 = ${ADDR[n2]}
interval = 1s
timeout = 3s

[arbitrator#1]
uri = om://10.99.0.1:$arb_port
weight = 1"

# The app: writer.sh start|stop|check FILE LOG. A record is 4 KiB: the node, the
# sequence number, padding; each is appended and fsynced (dd conv=fsync), then
# "SEQ ok" or "SEQ failed" goes to LOG (RAM: the node's own account of it).
cat >"$LAB_DIR/writer.sh" <<'EOF'
#!/bin/sh
f=$2
log=$3
pidf=/run/writer.$(echo "$f" | tr / _).pid
case $1 in
start)
    [ -s "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null && exit 0
    echo "0 start $(cut -d" " -f1 /proc/uptime)" >>"$log"
    setsid sh -c '
        i=$(wc -l <"$2" 2>/dev/null || echo 0)
        while :; do
            i=$((i + 1))
            if printf "%-4095s\n" "$(hostname) $i" |
                dd of="$1" bs=4096 count=1 oflag=append conv=notrunc,fsync 2>/dev/null; then
                echo "$i ok $(cut -d" " -f1 /proc/uptime)" >>"$2"
            else
                echo "$i failed $(cut -d" " -f1 /proc/uptime)" >>"$2"
            fi
            usleep 100000
        done' writer "$f" "$log" </dev/null >/dev/null 2>&1 &
    echo $! >"$pidf"
    ;;
stop)
    # the loop and its dd (a process group of their own, setsid): a dd left in its
    # fsync would keep the fs busy and fail the umount that follows
    if [ -s "$pidf" ]; then
        pg=$(cat "$pidf")
        kill -TERM -"$pg" 2>/dev/null
        i=0
        while kill -0 -"$pg" 2>/dev/null && [ $i -lt 100 ]; do
            usleep 100000
            i=$((i + 1))
        done
    fi
    rm -f "$pidf"
    exit 0
    ;;
check)
    [ -s "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null
    ;;
esac
EOF

peer_up() {
    local j
    j=$(q "$1" "om node ls --format json") || return 1
    [ "$(jq -r ".\"$2\".liveness // empty" <<<"$j" 2>/dev/null)" = up ]
}
step "cluster.conf, writer.sh, om daemon start on both"
for n in n1 n2; do
    printf '%s\n' "$conf" | lab_run -i "$n" 'mkdir -p /etc/om && umask 077 && cat >/etc/om/cluster.conf' ||
        fail "$n: cannot write cluster.conf"
    lab_put "$n" "$LAB_DIR/writer.sh" /root/writer.sh 0755 || fail "$n: writer.sh"
    run "$n" "om daemon start"
done
until_ 60 "n1 sees n2 up" peer_up n1 n2
until_ 60 "n2 sees n1 up" peer_up n2 n1

inst_field() { # NODE VIEWER SVC FIELD
    local j
    j=$(q "$2" "om mon --format json") || return 1
    jq -r ".objects[\"demo/svc/$3\"].instances[\"$1\"].$4 | if . == null then \"none\" else tostring end" <<<"$j" 2>/dev/null
}
n2_provisioned() { [ "$(inst_field n2 n2 "$1" provisioned)" = true ] && [ "$(inst_field n2 n1 "$1" provisioned)" = true ]; }

for s in "${svcs[@]}"; do
    step "create and provision demo/svc/$s ($([ $s = fenced ] && echo 'scsireserv = true' || echo 'no scsireserv'))"
    run n1 "cat >/tmp/$s.conf <<'EOF'
[DEFAULT]
nodes = n1 n2
orchestrate = ha
topology = failover

[disk#1]
type = crypt
dev = ${LUN[$s]}
$([ $s = fenced ] && echo 'scsireserv = true')

[fs#0]
type = ext4
dev = {disk#1.exposed_devs[0]}
mnt = /srv/{svcname}

[app#0]
start = /root/writer.sh start /srv/{svcname}/records /root/{svcname}.log
stop = /root/writer.sh stop /srv/{svcname}/records /root/{svcname}.log
check = /root/writer.sh check /srv/{svcname}/records /root/{svcname}.log
EOF
om demo/svc/$s create --config=/tmp/$s.conf"
    run n1 "om demo/svc/$s provision --wait"
done
for s in "${svcs[@]}"; do
    until_ 60 "n2's instance of $s provisioned in both views" n2_provisioned "$s"
done
run n1 "om mon"
run n1 "om demo/svc/fenced print status"

lines() { q "$1" "wc -l </root/$2.log 2>/dev/null || echo 0"; }
writing() { [ "$(lines n1 fenced)" -ge 10 ] && [ "$(lines n1 unfenced)" -ge 10 ]; }
until_ 60 "n1 writing records in both services" writing

step "freeze n1 (SIGSTOP of its QEMU) until n2 runs both services"
declare -A N0
for s in "${svcs[@]}"; do N0[$s]=$(lines n1 "$s"); done
lab_pause n1
t_pause=$EPOCHREALTIME
echo "n1 paused after records fenced ${N0[fenced]}, unfenced ${N0[unfenced]}"
n2_runs() {
    local s j
    for s in "${svcs[@]}"; do
        j=$(q n2 "om demo/svc/$s print status --format json") || return 1
        [ "$(jq -r .avail <<<"$j" 2>/dev/null)" = up ] || return 1
    done
}
until_ 120 "both services up on n2 while n1 is frozen" n2_runs
echo "both services up on n2 $(lab_elapsed "$t_pause") s after the pause"
sleep 2
# what the storage held of n1's records when n2 took over (n1 frozen since): the last
# of n1's sequence numbers in the file as n2 reads it. A record of n1's acknowledged
# after the thaw with a higher number reached the storage after the takeover; one with
# a lower or equal number was written before the pause (its acknowledgement came late)
declare -A SEEN
for s in "${svcs[@]}"; do
    SEEN[$s]=$(q n2 "grep -ao '^n1 [0-9]*' /srv/$s/records | tail -n 1 | cut -d' ' -f2")
    echo "$s: n1's last record on the storage at the takeover (read by n2): ${SEEN[$s]:-none}"
done
lab_resume n1
t_thaw=$EPOCHREALTIME
echo "n1 thawed after $(lab_elapsed "$t_pause") s"

step "n1 thawed: its agent stops what runs elsewhere"
n1_stopped() {
    local s
    for s in "${svcs[@]}"; do
        [ "$(inst_field n1 n1 "$s" avail)" != up ] || return 1
    done
}
until_ 90 "n1 stops both services" n1_stopped
echo "n1 stopped both $(lab_elapsed "$t_thaw") s after the thaw"
# the fenced one ends in the monitor state "fenced" (out of the candidates), in n1's
# view and in n2's; the unfenced one does not
n1_fenced() { [ "$(inst_field n1 n1 fenced monitor)" = fenced ] && [ "$(inst_field n1 n2 fenced monitor)" = fenced ]; }
until_ 30 "n1's instance of fenced in the monitor state fenced (n1's and n2's views)" n1_fenced
echo "n1's instance of fenced: $(inst_field n1 n1 fenced monitor), of unfenced: $(inst_field n1 n1 unfenced monitor)"
[ "$(inst_field n1 n1 unfenced monitor)" != fenced ] || fail "n1's instance of unfenced says fenced"
run n1 "om mon"
run n1 "grep -E 'fenced' /var/log/om/daemon.log | tail -n 4"
run n1 "om demo/svc/fenced print status"
grep -qE "down +fenced$" <<<"$out" || fail "n1's print status of fenced does not say fenced"
run n1 "dmesg | grep -c 'reservation conflict' || true"
conflicts=$out
run n1 "dmesg | grep -E 'EXT4-fs|I/O error|nexus' | tail -n 12 || true"

run n2 "om mon"
step "e2fsck -fn of each volume (frozen, stopped on both nodes, opened again on n2)"
declare -A FSCK
for s in "${svcs[@]}"; do
    run n2 "om demo/svc/$s freeze"
    run n1 "om demo/svc/$s stop --local"
    run n2 "om demo/svc/$s stop --local"
    # forced: n1 stopped it a moment ago, and n2's agent may not have heard it yet
    run n2 "om demo/svc/$s start --local --force --rid disk#1"
    rc=0
    q n2 "e2fsck -fn /dev/mapper/$s.demo.svc.lab-crypt" >"$LAB_DIR/fsck.$s" 2>&1 || rc=$?
    cat "$LAB_DIR/fsck.$s"
    FSCK[$s]=$rc
    run n2 "om demo/svc/$s stop --local --rid disk#1"
done

step "figures"
declare -A OK FAILED
for s in "${svcs[@]}"; do
    q n1 "cat /root/$s.log" >"$LAB_DIR/log.$s" || true
    echo "n1's log of $s from the pause on (sequence, ok|failed, uptime): $(sed -n "${N0[$s]},\$p" "$LAB_DIR/log.$s" | head -n 8 | tr '\n' ',')"
    awk '$3 - prev > 3 && prev > 0 { after = 1 } after && $2 == "start" { exit } { prev = $3 } after' "$LAB_DIR/log.$s" >"$LAB_DIR/after.$s" || true
    echo "n1's records of $s after the pause: $(head -c 300 "$LAB_DIR/after.$s" | tr '\n' ' ')"
    OK[$s]=$(awk -v seen="${SEEN[$s]:-0}" '$2 == "ok" && $1 + 0 > seen + 0' "$LAB_DIR/after.$s" | wc -l)
    late=$(awk -v seen="${SEEN[$s]:-0}" '$2 == "ok" && $1 + 0 <= seen + 0' "$LAB_DIR/after.$s" | wc -l)
    [ "$late" = 0 ] || echo "$s: $late record(s) acknowledged to n1 after the thaw were on the storage before the takeover (written before the pause)"
    FAILED[$s]=$(grep -c ' failed ' "$LAB_DIR/after.$s" || true)
done
for s in "${svcs[@]}"; do
    if [ "${FSCK[$s]}" = 0 ]; then r=clean; else r="errors (exit ${FSCK[$s]})"; fi
    printf 'paused owner, %-8s (%s): records fsynced by n1 after the takeover: %s, refused: %s; e2fsck -fn: %s\n' \
        "$s" "$([ $s = fenced ] && echo 'scsireserv = true' || echo 'no scsireserv')" \
        "${OK[$s]}" "${FAILED[$s]}" "$r"
done
echo "n1's kernel logged $conflicts reservation conflicts"
grep -h "scsireserv: preempted" <(q n2 "cat /var/log/om/namespaces/demo/svc/fenced.log") || true

[ "${OK[fenced]}" = 0 ] || fail "n1 wrote ${OK[fenced]} records to the fenced volume after n2 took it over"
[ "$conflicts" -ge 1 ] || fail "n1's kernel saw no reservation conflict"
[ "${FSCK[fenced]}" = 0 ] || fail "e2fsck -fn of the fenced volume: exit ${FSCK[fenced]}"
q n2 "grep -q 'scsireserv: preempted and aborted n1' /var/log/om/namespaces/demo/svc/fenced.log" ||
    fail "n2 did not preempt n1 on the fenced volume"

step "PASS ($(lab_elapsed "$t_start")s)"
