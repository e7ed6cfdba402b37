#!/usr/bin/env bash
# Runs two `p2p node` processes with mDNS on, DHT off and no bootstrap peers inside the
# current network namespace (the test starts this script under `unshare -n`), puts a key on
# the first and waits (bounded) until the second's API shows it. Prints the result lines.
# Env: DENO (deno binary), MAIN (main.ts), P2P_TOKEN, WORK (a scratch directory).
set -u
ip link set lo up || { echo "SETUP-FAILED ip link set lo up"; exit 3; }

start_node() {
  NO_COLOR=1 "$DENO" run -A "$MAIN" node --listen-maddrs /ip4/127.0.0.1/tcp/0 \
    --bootstrap-peers none --no-dht --api-listen "127.0.0.1:$1" \
    >"$WORK/$1.out" 2>"$WORK/$1.err" &
}

A=""
B=""
cleanup() {
  # Only the two nodes this script started, by their process IDs.
  [ -n "$A" ] && kill -TERM "$A" 2>/dev/null
  [ -n "$B" ] && kill -TERM "$B" 2>/dev/null
  wait
}
trap cleanup EXIT
trap 'exit 4' INT TERM

start_node 18001
A=$!
start_node 18002
B=$!

api() { curl -sf --max-time 2 "http://127.0.0.1:$1$2"; }

ready=""
for _ in $(seq 1 300); do
  if api 18001 /healthz >/dev/null && api 18002 /healthz >/dev/null; then ready=1; break; fi
  sleep 0.1
done
[ -n "$ready" ] || { echo "NOT-READY"; exit 5; }

curl -sf --max-time 2 -X PUT -H 'content-type: application/json' -d '"found over mdns"' \
  http://127.0.0.1:18001/api/ledger/demo/mdns >/dev/null || { echo "PUT-FAILED"; exit 6; }

for _ in $(seq 1 200); do
  value=$(api 18002 /api/ledger/demo/mdns) && { echo "VALUE $value"; break; }
  sleep 0.1
done
echo "PEERS-OF-B $(api 18002 /api/peers | tr -d '\n ')"
echo "START-A $(head -n 1 "$WORK/18001.out")"
kill -TERM "$A" "$B"
wait "$A"
echo "EXIT-A $?"
wait "$B"
echo "EXIT-B $?"
A=""
B=""
exit 0
