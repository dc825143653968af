#!/usr/bin/env bash
# What watching costs: requests/s through ward with no dashboard open, then
# with a browser-like client streaming the live feed (every action as a
# server-sent event), in one run, alternating, same gateway.
#
#   bench/dashboard.sh [DURATION] [CONCURRENCY] [ROUNDS]   e.g. bench/dashboard.sh 5s 8 3
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-5s}
conc=${2:-8}
rounds=${3:-3}

. bench/lib.sh

build cmd/ward bench/httpbench
serve "$tmp/upstream.addr" "$tmp/httpbench" upstream -ca-out "$tmp/upstream-ca.pem"
up=$(cat "$tmp/upstream.addr")

cat >"$tmp/ward.star" <<STAR
load("$PWD/examples/quickstart/ward.star", "check_github")
http(name = "bench", hosts = ["$up"], inject = bearer(secrets.env("BENCH_TOKEN")),
     ca = secrets.file("upstream-ca.pem"), on_request = check_github)
STAR
GITHUB_TOKEN=unused BENCH_TOKEN=bench-token start_ward "dashboard at" --dashboard-port 0
gw=$(awk '/proxy listening/ {print $5; exit}' "$tmp/gateway.out")
dash=$(awk '/dashboard at/ {print $4; exit}' "$tmp/gateway.out")
base=${dash%%/\?*}
curl -s -c "$tmp/jar" -o /dev/null "$dash"   # the printed URL opens a session

url="https://$up/repos/acme/app"
load() { "$tmp/httpbench" load -url "$url" -ca "$tmp/gateway-ca.pem" -proxy "http://$gw" -c "$conc" -d "$1"; }
load 1s >/dev/null
printf '%-5s %-10s %10s %10s %10s %12s\n' round dashboard req/s p50_us p99_us events
for r in $(seq "$rounds"); do
  closed=$(load "$dur")
  # Stream from the newest action on, as a browser that just loaded does.
  newest=$(curl -s -b "$tmp/jar" "$base/api/actions?limit=1" | python3 -c 'import json,sys; a=json.load(sys.stdin)["actions"]; print(a[0]["seq"] if a else 0)')
  curl -s -N -b "$tmp/jar" "$base/events?after=$newest" >"$tmp/events" &
  sse=$!
  sleep 0.5
  open=$(load "$dur")
  sleep 1
  kill "$sse" 2>/dev/null || true
  wait "$sse" 2>/dev/null || true
  events=$(grep -c '^event: action' "$tmp/events" || true)
  python3 - "$r" "$closed" "$open" "$events" <<'PY'
import json, sys
r, c, o, n = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4]
print(f"{r:<5} {'closed':<10} {c['rps']:10.0f} {c['p50_us']:10.0f} {c['p99_us']:10.0f}")
print(f"{r:<5} {'streaming':<10} {o['rps']:10.0f} {o['p50_us']:10.0f} {o['p99_us']:10.0f} {n:>12}")
print(f"{r:<5} ratio      {o['rps']/c['rps']:10.2f}")
PY
done
