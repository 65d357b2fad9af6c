#!/bin/bash
# start_timeout and stop_timeout bound an action: past the limit the action is killed
# with every process it ran (an app command lives in a process group of its own, so a
# group kill would miss it), the object log says it timed out, the action fails (exit
# 1) and the status shows what it left: a start that hung leaves the instance down, a
# stop that hung leaves it up ("stop failed" when the agent ran it). A restart gets
# both limits. Without a limit hit, actions are as before.
set -u
OM=${OM_BIN:?}
T=$(mktemp -d /tmp/om-res-timeout.XXXXXX)
export OM_ROOT=$T/root OM_NODENAME=n1 COLUMNS=200
marker=omtimeout$$
trap 'pkill -KILL -f "$marker" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
objlog=$OM_ROOT/log/namespaces/demo/svc/to.log

# an app whose start and stop hang when told to (the flag files), up while $T/up exists
cat >"$T/app.sh" <<SH
#!/bin/bash
case \$1 in
start) [ -e $T/hang-start ] && exec -a $marker-start sleep 3600
       touch $T/up ;;
stop)  [ -e $T/hang-stop ] && exec -a $marker-stop sleep 3600
       rm -f $T/up ;;
check) [ -e $T/up ] ;;
esac
SH
chmod +x "$T/app.sh"
cat >"$T/to.conf" <<CONF
[DEFAULT]
start_timeout = 2s
stop_timeout = 3s

[app#0]
start = $T/app.sh start
stop = $T/app.sh stop
check = $T/app.sh check
CONF
$OM demo/svc/to create --config="$T/to.conf" >/dev/null || fail create

# within the limits: as before
$OM demo/svc/to start --local >/dev/null || fail "start within the limit"
$OM demo/svc/to stop --local >/dev/null || fail "stop within the limit"

# a start that hangs
touch "$T/hang-start"
out=$($OM demo/svc/to start --local 2>&1); rc=$?
[ $rc = 1 ] || fail "hung start: exit $rc"
grep -q "start timed out after 2s: killed with every process it ran" "$objlog" ||
        fail "the object log does not say the start timed out"
pgrep -f "$marker-start" >/dev/null && fail "the hung start command still runs"
$OM demo/svc/to print status | grep -q '^demo/svc/to  *down' || fail "not down after the hung start"
rm "$T/hang-start"

# a stop that hangs: the app stays up, the stop fails
$OM demo/svc/to start --local >/dev/null || fail "start"
touch "$T/hang-stop"
out=$($OM demo/svc/to stop --local 2>&1); rc=$?
[ $rc = 1 ] || fail "hung stop: exit $rc"
grep -q "stop timed out after 3s: killed with every process it ran" "$objlog" ||
        fail "the object log does not say the stop timed out"
pgrep -f "$marker-stop" >/dev/null && fail "the hung stop command still runs"
[ -e "$T/up" ] || fail "the hung stop stopped the app"
$OM demo/svc/to print status | grep -q '^demo/svc/to  *up' || fail "not up after the hung stop"

# restart: stop_timeout + start_timeout
out=$($OM demo/svc/to restart --local 2>&1); rc=$?
[ $rc = 1 ] || fail "hung restart: exit $rc"
grep -q "restart timed out after 5s" "$objlog" || fail "the restart's limit is not the sum"
rm "$T/hang-stop"
$OM demo/svc/to stop --local >/dev/null || fail "final stop"

[ $fails = 0 ] && echo "ok" || exit 1
