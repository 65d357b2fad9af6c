#!/bin/bash
# The live page in a real browser: Debian's chromium, headless, driven over its DevTools
# protocol (tests/integration/cdp.py), loads GET / from n3 of a three-agent cluster that
# runs an HA service on n1. The page shows the three nodes and the service up on n1 (a
# screenshot is kept); n1 is killed and, without a reload, the page shows n1 down and the
# service up on n2, and n1's node_down in its events (n3's events: the takeover event is
# n2's). Screenshots: <build>/test-artifacts/.
set -u
ADDR_BASE=200
command -v chromium >/dev/null || { echo "skip: chromium is not installed (apt-get install chromium)"; exit 77; }
. "$(dirname "$0")/test-agent.lib"
NNODES=3
. "$(dirname "$0")/test-orch.lib"
. "$(dirname "$0")/test-http.lib"
ART=${OM_BUILD:-$T}/test-artifacts
mkdir -p "$ART"
CDP="python3 $OM_SRC/tests/integration/cdp.py $T/chrome/DevToolsActivePort"
CHROME=""
stop_chrome() { [ -n "$CHROME" ] && kill -9 -- "-$CHROME" 2>/dev/null; wait "$CHROME" 2>/dev/null; CHROME=""; }
trap 'stop_chrome; cleanup' EXIT

write_conf 3 200ms 1s
http_conf 3 off
svc_conf web "n1 n2 n3" "orchestrate = ha"
for k in 1 2 3; do start_agent $k; done
for k in 1 2 3; do wait_api $k; done
wait_running web n1 20 >/dev/null
VIEW=$(on 3 token create --role viewer 2>/dev/null)
until_ok 10 "n1's token not on n3 yet" \
        bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $VIEW' http://$(addr 3):$HTTP_PORT/api/whoami)\" = 200 ]"

setsid chromium --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage \
        --no-first-run --user-data-dir="$T/chrome" --remote-debugging-port=0 \
        --window-size=1280,900 "http://$(addr 3):$HTTP_PORT/#token=$VIEW" >"$T/chrome.log" 2>&1 &
CHROME=$!
until_ok 30 "chromium did not start: $(tail -3 "$T/chrome.log")" test -s "$T/chrome/DevToolsActivePort"

inst() { echo "document.querySelector('#objects tr[data-path=\"root/svc/web\"] td[data-node=\"$1\"]')?.dataset.avail"; }
live() { echo "document.querySelector('#nodes tr[data-node=\"$1\"]')?.dataset.liveness"; }
$CDP wait "document.querySelectorAll('#nodes tbody tr').length === 3 && $(inst n1) === 'up' && document.getElementById('conn').textContent === 'live'" 30 ||
        fail "the page does not show 3 nodes, web up on n1, live: $($CDP eval "document.body.innerText" | head -c 600)"
$CDP eval "window.omNoReload = 1" >/dev/null
$CDP shot "$ART/http-page-before.png" || fail "no screenshot"
[ -s "$ART/http-page-before.png" ] || fail "empty screenshot"
[ "$($CDP eval "location.hash")" = '""' ] || fail "the token stays in the address"
echo "ok: the page shows n1 n2 n3 and web up on n1 (screenshot $ART/http-page-before.png)"

t0=$(date +%s%3N)
crash 1
$CDP wait "$(live n1) === 'down' && $(inst n2) === 'up'" 30 ||
        fail "the page does not show the takeover: $($CDP eval "document.querySelector('main').innerText" | head -c 800)"
t1=$(date +%s%3N)
[ "$($CDP eval "window.omNoReload")" = 1 ] || fail "the page was reloaded"
$CDP wait "[...document.querySelectorAll('#events li')].some(l => l.dataset.kind === 'node_down')" 10 ||
        fail "no node_down in the page's events"
$CDP shot "$ART/http-page-after.png" || fail "no screenshot after"
echo "ok: without a reload the page shows n1 down and web up on n2, $((t1 - t0)) ms after the kill (screenshot $ART/http-page-after.png)"
