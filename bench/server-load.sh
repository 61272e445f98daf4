#!/usr/bin/env bash
# The server load benchmark (benches/server_load.rs) against a throwaway
# PostgreSQL cluster on loopback, in release. Sizes come from the
# environment: VICOR_BENCH_ENUMERATORS (300), VICOR_BENCH_CASES (100000),
# VICOR_BENCH_CONCURRENCY (32). Results go into docs/performance.md by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
pg_dir=$(mktemp -d /tmp/vicor-bench-pg.XXXXXX)
pg_port=$((20000 + RANDOM % 20000))
trap '.ci/postgres stop "$pg_dir"; rm -rf "$pg_dir"' EXIT
# fsync on, as on a real server.
VICOR_PG_FSYNC=on .ci/postgres start "$pg_dir" "$pg_port"
export VICOR_BENCH_POSTGRES="postgres://postgres@127.0.0.1:$pg_port/postgres"
cargo bench --locked --bench server_load
