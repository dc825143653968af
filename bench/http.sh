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

. bench/lib.sh

build cmd/ward bench/httpbench
serve "$tmp/upstream.addr" "$tmp/httpbench" upstream -ca-out "$tmp/upstream-ca.pem" -delay "${UPSTREAM_DELAY:-0}"
up=$(cat "$tmp/upstream.addr")

# The quickstart's own hook, on an endpoint for the local upstream.
cat >"$tmp/ward.star" <<STAR
load("$PWD/examples/quickstart/ward.star", "check_github")
http(name = "bench", hosts = ["$up"], inject = bearer(secrets.env("BENCH_TOKEN")),
     ca = secrets.file("upstream-ca.pem"), on_request = check_github)
STAR
GITHUB_TOKEN=unused BENCH_TOKEN=bench-token start_ward listening
gw=$(awk '/listening/ {print $5; exit}' "$tmp/gateway.out")

url="https://$up/repos/acme/app"
printf '%-6s %-8s %10s %10s %10s\n' conc path req/s p50_us p99_us
for c in "${concs[@]}"; do
  # Warm both paths (TLS sessions, leaf certificate, caches).
  "$tmp/httpbench" load -url "$url" -ca "$tmp/upstream-ca.pem" -c "$c" -d 1s >/dev/null
  "$tmp/httpbench" load -url "$url" -ca "$tmp/gateway-ca.pem" -proxy "http://$gw" -c "$c" -d 1s >/dev/null
  direct=$("$tmp/httpbench" load -url "$url" -ca "$tmp/upstream-ca.pem" -c "$c" -d "$dur")
  ward=$("$tmp/httpbench" load -url "$url" -ca "$tmp/gateway-ca.pem" -proxy "http://$gw" -c "$c" -d "$dur")
  compare "$c" "$direct" "$ward"
done
