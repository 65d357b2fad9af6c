#!/usr/bin/env bash
# sec object commands as the reference uses them: create, keys (text and json), decode
# (exact bytes, binary safe, no newline added), add/change with --value, --from FILE and
# --from -, remove, and every refused input with its exit status (2 usage/input, 1 failed
# action). Runs in a temporary OM_ROOT; never touches /etc/om.
set -u
OM_BIN=${OM_BIN:?OM_BIN is not set (run through ctest)}
export OM_ROOT=$(mktemp -d) OM_NODENAME=n1
trap 'rm -rf "$OM_ROOT"' EXIT
fails=0
ok() { echo "ok   $*"; }
ko() { echo "FAIL $*"; fails=$((fails + 1)); }
# expect <status> <description> -- command...: runs it, checks the exit status
expect() {
  local want=$1 what=$2; shift 3
  "$@" >"$OM_ROOT/out" 2>"$OM_ROOT/err"
  local got=$?
  if [ "$got" = "$want" ]; then ok "$what (exit $got)"; else
    ko "$what: exit $got, expected $want; stderr: $(head -c 300 "$OM_ROOT/err")"; fi
}
om() { "$OM_BIN" "$@"; }
S=demo/sec/x

expect 1 "keys of a missing object" -- om $S keys
grep -q "does not exist" "$OM_ROOT/err" && ok "message says so" || ko "no message for a missing object"
expect 0 "create" -- om $S create
expect 0 "keys of an empty object" -- om $S keys
[ ! -s "$OM_ROOT/out" ] && ok "no keys printed" || ko "keys printed for an empty object"
expect 1 "add to a missing object" -- om demo/sec/nope add --key k --value v

# add: --value, --from -, --from FILE
expect 0 "add --value" -- om $S add --key disk_1_crypt_passphrase --value 'p@ss w0rd"<>'
printf 'one\0two\nthree' >"$OM_ROOT/bin"
expect 0 "add --from - (binary)" -- sh -c "'$OM_BIN' $S add --key bin.v-1 --from - <'$OM_ROOT/bin'"
head -c 4096 /dev/urandom >"$OM_ROOT/rand"
expect 0 "add --from FILE (random bytes)" -- om $S add --key Rand --from "$OM_ROOT/rand"
: >"$OM_ROOT/empty"
expect 0 "add an empty value" -- om $S add --key empty --from "$OM_ROOT/empty"

# keys: sorted (C order), one a line; json
expect 0 "keys" -- om $S keys
printf 'Rand\nbin.v-1\ndisk_1_crypt_passphrase\nempty\n' | cmp -s - "$OM_ROOT/out" &&
  ok "keys sorted one a line" || ko "keys: $(cat "$OM_ROOT/out")"
expect 0 "keys --format json" -- om $S keys --format json
[ "$(cat "$OM_ROOT/out")" = '["Rand","bin.v-1","disk_1_crypt_passphrase","empty"]' ] &&
  ok "keys json" || ko "keys json: $(cat "$OM_ROOT/out")"
expect 0 "keys --format yaml" -- om $S keys --format yaml
grep -q '^- disk_1_crypt_passphrase$' "$OM_ROOT/out" && ok "keys yaml" || ko "keys yaml: $(cat "$OM_ROOT/out")"
expect 2 "keys --format bad" -- om $S keys --format xml

# decode: exact bytes
expect 0 "decode --value key" -- om $S decode --key disk_1_crypt_passphrase
[ "$(cat "$OM_ROOT/out"; echo .)" = 'p@ss w0rd"<>.' ] && ok "decode is exact, no newline" ||
  ko "decode gave '$(cat "$OM_ROOT/out")'"
expect 0 "decode binary" -- om $S decode --key bin.v-1
cmp -s "$OM_ROOT/bin" "$OM_ROOT/out" && ok "binary value byte for byte" || ko "binary value differs"
expect 0 "decode random" -- om $S decode --key Rand
cmp -s "$OM_ROOT/rand" "$OM_ROOT/out" && ok "random value byte for byte" || ko "random value differs"
expect 0 "decode empty" -- om $S decode --key empty
[ ! -s "$OM_ROOT/out" ] && ok "empty value is empty" || ko "empty value printed bytes"

# change and remove
expect 1 "add an existing key" -- om $S add --key Rand --value x
grep -q "already has" "$OM_ROOT/err" && ok "says the key exists" || ko "no message for add on an existing key"
expect 1 "change a missing key" -- om $S change --key nokey --value x
expect 0 "change" -- om $S change --key Rand --value changed
expect 0 "decode changed" -- om $S decode --key Rand
[ "$(cat "$OM_ROOT/out")" = changed ] && ok "changed value" || ko "change not applied"
expect 0 "remove" -- om $S remove --key Rand
expect 1 "remove again" -- om $S remove --key Rand
grep -q "has no Rand key" "$OM_ROOT/err" && ok "names the missing key" || ko "remove message"
expect 1 "decode a removed key" -- om $S decode --key Rand
[ ! -s "$OM_ROOT/out" ] && ok "nothing on stdout" || ko "stdout not empty"

# refused input
expect 2 "decode without --key" -- om $S decode
expect 2 "bad key name (slash)" -- om $S add --key a/b --value x
expect 2 "bad key name (space)" -- om $S add --key 'a b' --value x
expect 2 "bad key name (scope)" -- om $S add --key a@n1 --value x
expect 2 "empty key name" -- om $S add --key '' --value x
expect 2 "key name of 256 characters" -- om $S add --key "$(printf 'k%.0s' $(seq 256))" --value x
expect 0 "key name of 255 characters" -- om $S add --key "$(printf 'k%.0s' $(seq 255))" --value x
expect 2 "add without a value" -- om $S add --key k
expect 2 "--value and --from together" -- om $S add --key k --value x --from -
expect 2 "--from a missing file" -- om $S add --key k --from "$OM_ROOT/nofile"
expect 2 "--from a directory" -- om $S add --key k --from "$OM_ROOT"
expect 2 "unexpected argument" -- om $S keys extra
expect 2 "bad object name" -- om demo/sec/Bad_Name keys
head -c $((1024 * 1024)) /dev/urandom >"$OM_ROOT/mib"
expect 0 "a value of exactly 1 MiB" -- om $S add --key mib --from "$OM_ROOT/mib"
expect 0 "decode 1 MiB" -- om $S decode --key mib
cmp -s "$OM_ROOT/mib" "$OM_ROOT/out" && ok "1 MiB value byte for byte" || ko "1 MiB value differs"
head -c $((1024 * 1024 + 1)) /dev/urandom >"$OM_ROOT/big"
expect 2 "a value over 1 MiB (file)" -- om $S add --key big --from "$OM_ROOT/big"
expect 2 "a value over 1 MiB (stdin)" -- sh -c "'$OM_BIN' $S add --key big --from - <'$OM_ROOT/big'"
expect 2 "keys on a svc is not a command" -- om demo/svc/x keys
[ "$(om $S keys | grep -c big)" = 0 ] && ok "refused values not stored" || ko "refused value stored"

# timing figure (not asserted)
t0=$(date +%s%N); for i in $(seq 20); do om $S decode --key disk_1_crypt_passphrase >/dev/null; done
t1=$(date +%s%N); for i in $(seq 20); do om $S decode --key mib >/dev/null; done; t2=$(date +%s%N)
echo "figure: om decode (whole process, mean of 20): short value $(((t1 - t0) / 20000)) us," \
  "1 MiB value $(((t2 - t1) / 20000)) us"

[ "$fails" = 0 ] || { echo "$fails failure(s)"; exit 1; }
