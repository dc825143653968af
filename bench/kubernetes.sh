#!/usr/bin/env bash
# Requests/s and latency of kubectl-shaped API requests (a Table list of
# pods, then one pod, over HTTP/2 with a bearer token) directly against a
# fake API server and through ward's kubernetes endpoint, in one run.
#
#   bench/kubernetes.sh [DURATION] [CONCURRENCY...]     e.g. bench/kubernetes.sh 10s 1 8
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
go build -o "$tmp/k8sbench" ./bench/k8sbench

"$tmp/k8sbench" apiserver -ca-out "$tmp/cluster-ca.pem" >"$tmp/api.addr" &
pids+=($!)
for _ in $(seq 50); do [ -s "$tmp/api.addr" ] && break; sleep 0.1; done
api=$(cat "$tmp/api.addr")

# The example policy's own hook (its text up to its declaration, which
# would listen on 6443), on an endpoint for the fake API server.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed '/^kubernetes(/,$d' examples/kubernetes/ward.star >"$tmp/ward.star"
cat >>"$tmp/ward.star" <<STAR
kubernetes(name = "bench", server = "https://$api", ca = secrets.file("cluster-ca.pem"),
           credential = bearer(secrets.env("BENCH_TOKEN")), port = $port, on_request = check_k8s)
STAR
BENCH_TOKEN=bench-token "$tmp/ward" gateway --config "$tmp/ward.star" \
  --state-dir "$tmp/state" --proxy-port 0 --log-level warn >"$tmp/gateway.out" 2>"$tmp/gateway.err" &
pids+=($!)
for _ in $(seq 100); do grep -q listening "$tmp/gateway.out" 2>/dev/null && break; sleep 0.1; done
grep -q listening "$tmp/gateway.out" || { echo "gateway did not start:"; cat "$tmp/gateway.err"; exit 1; }
gw=127.0.0.1:$port
"$tmp/ward" ca --state-dir "$tmp/state" >"$tmp/gateway-ca.pem"

printf '%-6s %-8s %10s %10s %10s\n' conc path req/s p50_us p99_us
for c in "${concs[@]}"; do
  "$tmp/k8sbench" load -server "https://$api" -ca "$tmp/cluster-ca.pem" -token bench-token -c "$c" -d 1s >/dev/null
  "$tmp/k8sbench" load -server "https://$gw" -ca "$tmp/gateway-ca.pem" -c "$c" -d 1s >/dev/null
  direct=$("$tmp/k8sbench" load -server "https://$api" -ca "$tmp/cluster-ca.pem" -token bench-token -c "$c" -d "$dur")
  ward=$("$tmp/k8sbench" load -server "https://$gw" -ca "$tmp/gateway-ca.pem" -c "$c" -d "$dur")
  python3 - "$c" "$direct" "$ward" <<'PY'
import json, sys
c, d, w = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
for name, r in (("direct", d), ("ward", w)):
    print(f"{c:<6} {name:<8} {r['rps']:10.0f} {r['p50_us']:10.0f} {r['p99_us']:10.0f}" + (f"   errors={r['errors']}" if r['errors'] else ""))
print(f"{c:<6} ratio    {w['rps']/d['rps']:10.2f}   added p50 {w['p50_us']-d['p50_us']:.0f} us, p99 {w['p99_us']-d['p99_us']:.0f} us")
PY
done
