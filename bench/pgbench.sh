#!/usr/bin/env bash
# pgbench -S (select-only) at -c 1 and -c 8, for the same duration each,
# directly against Postgres, through ward (a policy that parses and checks
# every statement) and through pgbouncer in session mode — all in one run,
# so the ratios compare like with like on a shared, noisy machine.
#
#   bench/pgbench.sh [seconds per run, default 20]
#
# Needs: Postgres on 127.0.0.1:5432 reachable as "postgres" without a
# password (trust), pgbench, Go; installs pgbouncer with apt-get if missing.
# Prints TPS, the ratio to direct, and p50/p99 latency per transaction
# (from pgbench's per-transaction log) with ward's and pgbouncer's added
# p50 over direct.
set -euo pipefail
secs=${1:-20}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

command -v pgbouncer >/dev/null || { apt-get update -qq && apt-get install -y -qq pgbouncer >/dev/null; }
pgbouncer_bin=$(command -v pgbouncer)
export PGHOST=127.0.0.1 PGUSER=postgres PGPASSWORD=

psql -qX -d postgres -c "DROP DATABASE IF EXISTS ward_bench" -c "CREATE DATABASE ward_bench" >/dev/null
pgbench -q -i -s 10 ward_bench >/dev/null 2>&1

# ward
(cd "$root" && go build -o "$work/ward" ./cmd/ward)
"$work/ward" gateway --config "$root/bench/pgbench.star" --state-dir "$work/state" --proxy-port 0 \
	--log-level warn >"$work/ward.out" 2>"$work/ward.err" &
# pgbouncer (refuses to run as root: run it as postgres)
cat >"$work/pgbouncer.ini" <<INI
[databases]
ward_bench = host=127.0.0.1 port=5432 dbname=ward_bench
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = 6433
auth_type = trust
auth_file = $work/userlist.txt
pool_mode = session
max_client_conn = 100
default_pool_size = 20
unix_socket_dir =
logfile = $work/pgbouncer.log
pidfile = $work/pgbouncer.pid
INI
echo '"postgres" ""' >"$work/userlist.txt"
chmod 755 "$work"
chown -R postgres "$work" 2>/dev/null || true
if [ "$(id -u)" = 0 ]; then
	runuser -u postgres -- "$pgbouncer_bin" -q "$work/pgbouncer.ini" >/dev/null 2>&1 &
else
	"$pgbouncer_bin" -q "$work/pgbouncer.ini" >/dev/null 2>&1 &
fi
for port in 6432 6433; do
	for _ in $(seq 100); do psql -qXAt -p $port -d ward_bench -c 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.1; done
done

# run NAME PORT CLIENTS: prints "tps p50_us p99_us"
run() {
	local dir="$work/log-$1-$3"
	mkdir -p "$dir"
	chmod 777 "$dir"
	local out
	out=$(cd "$dir" && pgbench -n -S -M simple -p "$2" -c "$3" -j "$(( $3 < 2 ? 1 : 2 ))" -T "$secs" -l ward_bench 2>&1)
	local tps
	tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p')
	# Per-transaction log: client tx latency_us script_no time_s time_us
	cat "$dir"/pgbench_log.* | awk '{print $3}' | sort -n >"$dir/lat"
	local n p50 p99
	n=$(wc -l <"$dir/lat")
	p50=$(sed -n "$(( (n + 1) / 2 ))p" "$dir/lat")
	p99=$(sed -n "$(( (n * 99 + 99) / 100 ))p" "$dir/lat")
	echo "$tps $p50 $p99"
}

printf '%-10s %-8s %12s %8s %9s %9s %12s\n' clients path tps ratio p50_us p99_us added_p50_us
for c in 1 8; do
	read -r dt dp50 dp99 < <(run direct 5432 $c)
	read -r wt wp50 wp99 < <(run ward 6432 $c)
	read -r bt bp50 bp99 < <(run pgbouncer 6433 $c)
	for row in "direct $dt $dp50 $dp99" "ward $wt $wp50 $wp99" "pgbouncer $bt $bp50 $bp99"; do
		set -- $row
		ratio=$(awk -v a="$2" -v b="$dt" 'BEGIN{printf "%.3f", a/b}')
		added=$(( $3 - dp50 ))
		printf '%-10s %-8s %12s %8s %9s %9s %12s\n' "-c $c" "$1" "$2" "$ratio" "$3" "$4" "$added"
	done
done
