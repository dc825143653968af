#!/usr/bin/env bash
# Requests/s and latency of HTTPS GETs directly against an upstream and
# through ward with the quickstart policy's hook, in one run.
#
#   bench/http.sh [DURATION] [CONCURRENCY...]      e.g. bench/http.sh 10s 1 8
#
# UPSTREAM_DELAY=1ms makes the upstream take that long per request, like a
# real API; the default (0) answers at once, which shows ward's whole cost.
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-10s}
shift || true
concs=("$@")
[ $# -eq 0 ] && concs=(1 8)

tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

go build -o "$tmp/ward" ./cmd/ward
go build -o "$tmp/httpbench" ./bench/httpbench

"$tmp/httpbench" upstream -ca-out "$tmp/upstream-ca.pem" -delay "${UPSTREAM_DELAY:-0}" >"$tmp/upstream.addr" &
pids+=($!)
for _ in $(seq 50); do [ -s "$tmp/upstream.addr" ] && break; sleep 0.1; done
up=$(cat "$tmp/upstream.addr")

# The quickstart's own hook, on an endpoint for the local upstream.
cat >"$tmp/ward.star" <<STAR
load("$PWD/examples/quickstart/ward.star", "check_github")
http(name = "bench", hosts = ["$up"], inject = bearer(secrets.env("BENCH_TOKEN")),
     ca = secrets.file("upstream-ca.pem"), on_request = check_github)
STAR
GITHUB_TOKEN=unused BENCH_TOKEN=bench-token "$tmp/ward" gateway --config "$tmp/ward.star" \
  --state-dir "$tmp/state" --proxy-port 0 --log-level warn >"$tmp/gateway.out" 2>"$tmp/gateway.err" &
pids+=($!)
for _ in $(seq 100); do grep -q listening "$tmp/gateway.out" 2>/dev/null && break; sleep 0.1; done
gw=$(awk '/listening/ {print $5; exit}' "$tmp/gateway.out")
"$tmp/ward" ca --state-dir "$tmp/state" >"$tmp/gateway-ca.pem"

url="https://$up/repos/acme/app"
printf '%-6s %-8s %10s %10s %10s\n' conc path req/s p50_us p99_us
for c in "${concs[@]}"; do
  # Warm both paths (TLS sessions, leaf certificate, caches).
  "$tmp/httpbench" load -url "$url" -ca "$tmp/upstream-ca.pem" -c "$c" -d 1s >/dev/null
  "$tmp/httpbench" load -url "$url" -ca "$tmp/gateway-ca.pem" -proxy "http://$gw" -c "$c" -d 1s >/dev/null
  direct=$("$tmp/httpbench" load -url "$url" -ca "$tmp/upstream-ca.pem" -c "$c" -d "$dur")
  ward=$("$tmp/httpbench" load -url "$url" -ca "$tmp/gateway-ca.pem" -proxy "http://$gw" -c "$c" -d "$dur")
  python3 - "$c" "$direct" "$ward" <<'PY'
import json, sys
c, d, w = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
for name, r in (("direct", d), ("ward", w)):
    print(f"{c:<6} {name:<8} {r['rps']:10.0f} {r['p50_us']:10.0f} {r['p99_us']:10.0f}" + (f"   errors={r['errors']}" if r['errors'] else ""))
print(f"{c:<6} ratio    {w['rps']/d['rps']:10.2f}   added p50 {w['p50_us']-d['p50_us']:.0f} us, p99 {w['p99_us']-d['p99_us']:.0f} us")
PY
done
