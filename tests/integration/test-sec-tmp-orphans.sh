#!/bin/bash
# Temporary files of killed writers (`<name>.conf.tmp.<pid>` of core/fileio.c) do not
# stay: `om <sec> add` of a 900 KB value is killed (-9) at random points until a kill
# left one behind (up to 20 tries; else one is planted as such a kill leaves it); the
# next write of that sec removes it. Files planted with
# the pid of a process that no longer runs, under etc and var, are removed when the
# agent starts, each logged; one whose process runs is kept.
set -u
. "$(dirname "$0")/test-agent.lib"

write_conf 1 200ms 2s
S=demo/sec/big
DIR="$T/n1/etc/namespaces/demo/sec"
on 1 $S create >/dev/null || fail "create"
head -c 900000 /dev/urandom >"$T/v"
orphans() { ls "$DIR" | grep -c '\.tmp\.' ; }
seen=0
for i in $(seq 1 20); do
        on 1 $S add --key "k$i" --from "$T/v" >/dev/null 2>&1 &
        p=$!
        sleep "0.0$((RANDOM % 10))$((RANDOM % 10))"
        kill -9 $p 2>/dev/null
        wait $p 2>/dev/null
        n=$(orphans)
        [ "$n" -gt "$seen" ] && seen=$n
        [ "$seen" -ge 1 ] && break
done
echo "kills: $i, most temporary files seen at once: $seen"
if [ "$(orphans)" = 0 ]; then # plant one as a killed writer leaves it
        sh -c 'exit 0' &
        dead=$!
        wait $dead
        cp "$T/v" "$DIR/big.conf.tmp.$dead"
fi
on 1 $S add --key final --value x >/dev/null 2>&1 || fail "add after the kills"
[ "$(orphans)" = 0 ] || { ls -la "$DIR"; fail "the next write of $S left temporary files"; }
echo "ok: the next write of $S removed the temporary files of killed writers"

# at agent start
sh -c 'exit 0' &
dead=$!
wait $dead
mkdir -p "$T/n1/var/x"
echo x >"$T/n1/etc/cluster.conf.tmp.$dead"
echo x >"$DIR/other.conf.tmp.$dead"
echo x >"$T/n1/var/x/status.tmp.$dead"
echo x >"$DIR/big.conf.tmp.$$" # this shell runs: kept
start_agent 1
wait_api 1
for f in "$T/n1/etc/cluster.conf.tmp.$dead" "$DIR/other.conf.tmp.$dead" "$T/n1/var/x/status.tmp.$dead"; do
        [ ! -e "$f" ] || fail "$f is still there after the agent started"
        # logged in the daemon log, or on the console when a write of that file before the
        # log opened removed it
        cat "$T/n1/log/daemon.log" "$T/n1.out" | grep -q "removed $f, left by process $dead that no longer runs" ||
                fail "the removal of $f is not logged"
done
[ -e "$DIR/big.conf.tmp.$$" ] || fail "the temporary file of a running process was removed"
echo "ok: the agent removed and logged 3 temporary files of a dead process at start, kept a live one's"
