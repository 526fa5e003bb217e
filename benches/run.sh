#!/usr/bin/env bash
# The Chorus load benchmark: installs wrk if missing, then runs
# benches/bench.py (release build, demo data in SQLite and PostgreSQL,
# wrk over loopback, digests to an SMTP sink) and rewrites BENCHMARKS.md.
#
#   bash benches/run.sh                         # the full size (100,000 employees)
#   bash benches/run.sh --employees 2000 --posts 200 --shares 20000 --duration 5
#
# Needs PostgreSQL at CHORUS_BENCH_POSTGRES (default
# postgres://postgres@127.0.0.1:5432/test; it creates and drops a database
# chorus_bench there, or CHORUS_BENCH_PG_DATABASE) unless run with --backends sqlite. Chorus reaches it
# with ?sslmode=disable, the advice in docs/postgresql.md for PostgreSQL on the same
# machine (CHORUS_BENCH_PG_PARAMS="" measures libpq's default, TLS).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v wrk >/dev/null 2>&1; then
    echo "installing wrk (Debian package)"
    if [ "$(id -u)" -eq 0 ]; then sudo=(); else sudo=(sudo -n); fi
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk </dev/null ||
        { "${sudo[@]}" apt-get update -q </dev/null && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk </dev/null; }
fi
command -v psql >/dev/null 2>&1 || echo "note: psql not found; run with --backends sqlite"
exec python3 benches/bench.py "$@"
