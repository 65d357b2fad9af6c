#!/usr/bin/env bash
# Security regressions of sec objects, one check per attack or failure:
# no value in clear in any file, a flipped byte, a value moved to another key or object,
# another cluster secret, file modes, the secret in log lines, concurrent writers, a
# writer killed mid-write, the cluster secret added to an existing cluster.conf. Runs in
# temporary OM_ROOTs; never touches /etc/om.
set -u
OM_BIN=${OM_BIN:?OM_BIN is not set (run through ctest)}
base=$(mktemp -d)
trap 'rm -rf "$base"' EXIT
export OM_ROOT=$base/n1 OM_NODENAME=n1 OM_DEBUG=1
mkdir -p "$OM_ROOT"
fails=0
ok() { echo "ok   $*"; }
ko() { echo "FAIL $*"; fails=$((fails + 1)); }
om() { "$OM_BIN" "$@"; }
S=demo/sec/x
conf() { echo "$OM_ROOT/etc/namespaces/demo/sec/$1.conf"; }
all_out=$base/all-output   # everything om printed except decode's values
run() { "$OM_BIN" "$@" >>"$all_out" 2>&1; }

VALUE='Zq8#clear-text-value-that-must-never-be-stored'
run $S create
run $S add --key pass --value "$VALUE"
printf '%s' "$VALUE-2" | run $S add --key pass2 --from -
printf '%s' "$VALUE-3" >"$base/v3"; run $S add --key pass3 --from "$base/v3"; rm -f "$base/v3"
run $S change --key pass2 --value "$VALUE-2b"
run $S keys --format json
secret=$(sed -n 's/^secret = //p' "$OM_ROOT/etc/cluster.conf")
[ ${#secret} = 64 ] && ok "cluster secret generated (64 hex digits)" || ko "no cluster secret"

# sec_clear_text_at_rest: neither the value nor its base64 anywhere under OM_ROOT
if grep -rqaF -e "$VALUE" -e "$(printf '%s' "$VALUE" | base64)" "$OM_ROOT"; then
  ko "a value in clear under OM_ROOT: $(grep -rlaF "$VALUE" "$OM_ROOT")"
else ok "no value in clear in any file"; fi
grep -q '^pass = sealed:' "$(conf x)" && ok "values are sealed:<base64>" || ko "no sealed value"

# sec_file_modes
for f in "$(conf x)" "$OM_ROOT/etc/cluster.conf"; do
  m=$(stat -c %a "$f"); [ "$m" = 600 ] && ok "mode 600: ${f#$OM_ROOT/}" || ko "mode $m: $f"
done

# sec_version_stamped: every write moves [om] version forward, writer is the node
v1=$(sed -n 's/^version = //p' "$(conf x)")
run $S add --key later --value x
v2=$(sed -n 's/^version = //p' "$(conf x)")
w=$(sed -n 's/^writer = //p' "$(conf x)")
if [ -n "$v1" ] && [ "$(printf '%s\n%s\n' "$v1" "$v2" | sort -V | tail -1)" = "$v2" ] && [ "$v1" != "$v2" ] && [ "$w" = n1 ]; then
  ok "version $v1 -> $v2 by $w"; else ko "version not stamped: '$v1' -> '$v2' writer '$w'"; fi

# sec_flipped_byte: one base64 character in the middle of the sealed value changed
cp "$(conf x)" "$base/x.orig"
python3 - "$(conf x)" <<'PY' || sed -i -E 's/^(pass = sealed:.{20})(.)/\1\2/' "$(conf x)"
import sys
p = sys.argv[1]; lines = open(p).read().split('\n')
for i, l in enumerate(lines):
    if l.startswith('pass = sealed:'):
        j = len('pass = sealed:') + 20
        c = l[j]; lines[i] = l[:j] + ('B' if c != 'B' else 'C') + l[j + 1:]
open(p, 'w').write('\n'.join(lines))
PY
cmp -s "$base/x.orig" "$(conf x)" && ko "the flip did not change the file"
om $S decode --key pass >"$base/out" 2>"$base/err"; rc=$?
[ $rc = 1 ] && ok "flipped byte: decode exits 1" || ko "flipped byte: exit $rc"
[ ! -s "$base/out" ] && ok "flipped byte: nothing on stdout" || ko "flipped byte: stdout not empty"
grep -q "key pass does not decode" "$base/err" && ok "flipped byte: the message names the key" ||
  ko "flipped byte: message '$(cat "$base/err")'"
grep -qF "$VALUE" "$base/err" && ko "flipped byte: value in the message"
om $S decode --key pass2 >"$base/out" && [ "$(cat "$base/out")" = "$VALUE-2b" ] &&
  ok "the other keys still decode" || ko "other keys broken by one flipped value"
cp "$base/x.orig" "$(conf x)"

# sec_value_moved_to_another_key
sealed=$(sed -n 's/^pass = //p' "$(conf x)")
sed -i "s|^pass3 = .*|pass3 = $sealed|" "$(conf x)"
om $S decode --key pass3 >"$base/out" 2>/dev/null; rc=$?
[ $rc = 1 ] && [ ! -s "$base/out" ] && ok "a value moved under another key does not decode" ||
  ko "moved value: exit $rc, stdout '$(cat "$base/out")'"
cp "$base/x.orig" "$(conf x)"

# sec_value_moved_to_another_object (the whole file copied, and one line into another object)
cp "$(conf x)" "$(conf y)"
om demo/sec/y decode --key pass >"$base/out" 2>/dev/null; rc=$?
[ $rc = 1 ] && [ ! -s "$base/out" ] && ok "a copied object file does not decode" || ko "copied object decodes (exit $rc)"
mkdir -p "$OM_ROOT/etc/namespaces/other/sec"
cp "$(conf x)" "$OM_ROOT/etc/namespaces/other/sec/x.conf"
om other/sec/x decode --key pass >"$base/out" 2>/dev/null; rc=$?
[ $rc = 1 ] && [ ! -s "$base/out" ] && ok "same name in another namespace does not decode" || ko "other namespace decodes"

# sec_other_cluster_secret: a node of another cluster cannot decode the file
OTHER=$base/n2
mkdir -p "$OTHER/etc/namespaces/demo/sec"
OM_ROOT=$OTHER OM_NODENAME=n2 "$OM_BIN" demo/sec/z create >/dev/null 2>&1   # generates its own secret
cp "$(conf x)" "$OTHER/etc/namespaces/demo/sec/x.conf"
OM_ROOT=$OTHER OM_NODENAME=n2 "$OM_BIN" $S decode --key pass >"$base/out" 2>/dev/null; rc=$?
[ $rc = 1 ] && [ ! -s "$base/out" ] && ok "another cluster secret cannot decode" || ko "other secret decodes (exit $rc)"
# ... and with this cluster's cluster.conf it can (the check above is not vacuous)
cp "$OM_ROOT/etc/cluster.conf" "$OTHER/etc/cluster.conf"
OM_ROOT=$OTHER OM_NODENAME=n2 "$OM_BIN" $S decode --key pass >"$base/out" 2>/dev/null
[ "$(cat "$base/out")" = "$VALUE" ] && ok "the same file decodes with the same cluster secret" ||
  ko "same secret does not decode a copied file"

# sec_secret_not_logged: neither the cluster secret nor a value in logs or om's messages
if grep -rqaF -e "$secret" -e "$VALUE" "$OM_ROOT/log" "$all_out" "$base/err"; then
  ko "secret or value in a log line or message"; else ok "no secret nor value in logs and messages"; fi
[ -s "$OM_ROOT/log/namespaces/demo/sec/x.log" ] && grep -q "add key pass" "$OM_ROOT/log/namespaces/demo/sec/x.log" &&
  ok "the object log records key names" || ko "no object log lines"

# sec_concurrent_writers: pairs of om processes adding different keys at the same moment
run demo/sec/c create
for round in $(seq 10); do
  om demo/sec/c add --key "a$round" --value "va$round" &
  om demo/sec/c add --key "b$round" --value "vb$round" &
done
wait
n=$(om demo/sec/c keys | wc -l)
[ "$n" = 20 ] && ok "20 concurrent adds, 20 keys" || ko "concurrent adds: $n keys of 20"
bad=0
for round in $(seq 10); do
  [ "$(om demo/sec/c decode --key "b$round")" = "vb$round" ] || bad=$((bad + 1))
done
[ $bad = 0 ] && ok "concurrent values decode" || ko "$bad concurrent values wrong"

# sec_killed_writer: SIGKILL at random moments of 1 MiB writes, the file is whole
run demo/sec/k create
head -c $((1024 * 1024)) /dev/urandom >"$base/mib"
run demo/sec/k add --key keep --value kept
printf kept >"$base/kept"
torn=0 old=0 new=0
for round in $(seq 20); do
  om demo/sec/k change --key keep --from "$base/mib" >/dev/null 2>&1 &
  pid=$!
  sleep "$(printf "0.%03d" $((RANDOM % 25)))"
  kill -9 $pid 2>/dev/null
  wait $pid 2>/dev/null
  om demo/sec/k decode --key keep >"$base/out" 2>"$base/err" || { torn=$((torn + 1)); cat "$base/err"; continue; }
  if cmp -s "$base/out" "$base/kept"; then old=$((old + 1))
  elif cmp -s "$base/out" "$base/mib"; then new=$((new + 1)); printf kept | om demo/sec/k change --key keep --from -
  else torn=$((torn + 1)); fi
done
[ $torn = 0 ] && ok "20 writers killed mid-write: old value $old times, new value $new times, never torn" ||
  ko "$torn torn writes"

# sec_cluster_conf_preserved: a cluster.conf without a secret gets one, the rest kept
P=$base/n3
mkdir -p "$P/etc"
printf '# lab\n[cluster]\nname = lab\nnodes = n1 n2\n\n[hb#1]\ntype = unicast\n' >"$P/etc/cluster.conf"
cp "$P/etc/cluster.conf" "$base/cc.orig"
OM_ROOT=$P "$OM_BIN" demo/sec/q create >/dev/null && OM_ROOT=$P "$OM_BIN" demo/sec/q add --key k --value v
grep -v '^secret = ' "$P/etc/cluster.conf" | cmp -s - "$base/cc.orig" &&
  ok "cluster.conf kept line for line, secret added" || ko "cluster.conf changed: $(cat "$P/etc/cluster.conf")"
grep -qE '^secret = [0-9a-f]{64}$' "$P/etc/cluster.conf" && ok "secret inserted" || ko "secret not inserted"
[ "$(stat -c %a "$P/etc/cluster.conf")" = 600 ] && ok "cluster.conf now 0600" || ko "cluster.conf mode"

[ "$fails" = 0 ] || { echo "$fails failure(s)"; exit 1; }
