# Shared by the bench scripts (source it after cd-ing to the repository):
# a scratch directory and background processes cleaned up on exit, builds,
# waiting for a server's address, starting ward, and the comparison table.

tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

# build PKG...: go build each package into $tmp under its base name.
build() { for pkg in "$@"; do go build -o "$tmp/$(basename "$pkg")" "./$pkg"; done; }

# serve FILE CMD...: run CMD in the background with its stdout in FILE and
# wait until it has printed something (a server's address).
serve() {
  local out=$1
  shift
  "$@" >"$out" &
  pids+=($!)
  for _ in $(seq 50); do [ -s "$out" ] && break; sleep 0.1; done
  [ -s "$out" ] || { echo "$* did not start" >&2; exit 1; }
}

# start_ward PATTERN ARGS...: run `ward gateway --config $tmp/ward.star`
# with ARGS and wait until its output shows PATTERN; then write its CA to
# $tmp/gateway-ca.pem.
start_ward() {
  local pattern=$1
  shift
  "$tmp/ward" gateway --config "$tmp/ward.star" --state-dir "$tmp/state" --proxy-port 0 --log-level warn "$@" \
    >"$tmp/gateway.out" 2>"$tmp/gateway.err" &
  pids+=($!)
  for _ in $(seq 100); do grep -q "$pattern" "$tmp/gateway.out" 2>/dev/null && break; sleep 0.1; done
  grep -q "$pattern" "$tmp/gateway.out" || { echo "gateway did not start:" >&2; cat "$tmp/gateway.err" >&2; exit 1; }
  "$tmp/ward" ca --state-dir "$tmp/state" >"$tmp/gateway-ca.pem"
}

# compare CONC DIRECT_JSON WARD_JSON: print both load results and their ratio.
compare() {
  python3 - "$@" <<'PY'
import json, sys
c, d, w = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
for name, r in (("direct", d), ("ward", w)):
    print(f"{c:<6} {name:<8} {r['rps']:10.0f} {r['p50_us']:10.0f} {r['p99_us']:10.0f}" + (f"   errors={r['errors']}" if r['errors'] else ""))
print(f"{c:<6} ratio    {w['rps']/d['rps']:10.2f}   added p50 {w['p50_us']-d['p50_us']:.0f} us, p99 {w['p99_us']-d['p99_us']:.0f} us")
PY
}
