#!/usr/bin/env bash
# Makes the local Postgres (127.0.0.1:5432) ask members of three groups for
# a password with the method the group names, so the postgres endpoint's
# tests log in upstream with SCRAM-SHA-256, MD5 and cleartext for real.
# Idempotent; run as root (CI does this before `go test`). Other roles keep
# the cluster's existing (trust) rules.
set -euo pipefail
hba=$(psql -h 127.0.0.1 -U postgres -Atc 'SHOW hba_file')
if ! grep -q '+ward_scram' "$hba"; then
	tmp=$(mktemp)
	{
		echo "# ward tests: members of these groups must authenticate"
		echo "host all +ward_scram    127.0.0.1/32 scram-sha-256"
		echo "host all +ward_md5      127.0.0.1/32 md5"
		echo "host all +ward_password 127.0.0.1/32 password"
		cat "$hba"
	} >"$tmp"
	cat "$tmp" >"$hba"
	rm -f "$tmp"
fi
for g in ward_scram ward_md5 ward_password; do
	psql -h 127.0.0.1 -U postgres -qAtc "SELECT 1 FROM pg_roles WHERE rolname = '$g'" | grep -q 1 ||
		psql -h 127.0.0.1 -U postgres -qc "CREATE ROLE $g NOLOGIN"
done
psql -h 127.0.0.1 -U postgres -qAtc 'SELECT pg_reload_conf()' >/dev/null
