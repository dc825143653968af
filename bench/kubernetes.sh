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

. bench/lib.sh

build cmd/ward bench/k8sbench
serve "$tmp/api.addr" "$tmp/k8sbench" apiserver -ca-out "$tmp/cluster-ca.pem"
api=$(cat "$tmp/api.addr")

# The example policy's own hook (its text up to its declaration, which
# would listen on 6443), on an endpoint for the fake API server.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed '/^kubernetes(/,$d' examples/kubernetes/ward.star >"$tmp/ward.star"
cat >>"$tmp/ward.star" <<STAR
kubernetes(name = "bench", server = "https://$api", ca = secrets.file("cluster-ca.pem"),
           credential = bearer(secrets.env("BENCH_TOKEN")), port = $port, on_request = check_k8s)
STAR
BENCH_TOKEN=bench-token start_ward listening
gw=127.0.0.1:$port

printf '%-6s %-8s %10s %10s %10s\n' conc path req/s p50_us p99_us
for c in "${concs[@]}"; do
  "$tmp/k8sbench" load -server "https://$api" -ca "$tmp/cluster-ca.pem" -token bench-token -c "$c" -d 1s >/dev/null
  "$tmp/k8sbench" load -server "https://$gw" -ca "$tmp/gateway-ca.pem" -c "$c" -d 1s >/dev/null
  direct=$("$tmp/k8sbench" load -server "https://$api" -ca "$tmp/cluster-ca.pem" -token bench-token -c "$c" -d "$dur")
  ward=$("$tmp/k8sbench" load -server "https://$gw" -ca "$tmp/gateway-ca.pem" -c "$c" -d "$dur")
  compare "$c" "$direct" "$ward"
done
