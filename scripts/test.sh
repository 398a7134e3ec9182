#!/usr/bin/env bash
# The whole ruvec test suite, every tier of DESIGN.md §5 that exists so far:
#   1. cargo test of the pure crates (unit + property tests)
#   2. #[pg_test] tests inside a backend (cargo pgrx test)
#   3. pg_regress golden files for the SQL surface and its errors
#   4. pgrx-tests/: client-side tests against scratch clusters (pytest): pgvector client library,
#      hot standby, kill -9 recovery, concurrency, UNLOGGED — and 5. recall on ../shared/data
# Installs whatever is missing first (apt packages, cargo-pgrx, a Python venv); safe to re-run.
source "$(dirname "$0")/lib/common.sh"
cd "$REPO_ROOT"

ensure_prereqs
ensure_python_env

log "tier 1: pure crates (cargo test)"
cargo test --workspace --exclude ruvec

log "tier 2: in-backend tests (cargo pgrx test)"
as_root mkdir -p "$SCRATCH/pgrx-test"
as_root chown postgres "$SCRATCH/pgrx-test"
cargo pgrx test pg$PG_MAJOR --runas postgres --pgdata "$SCRATCH/pgrx-test/data"

# The suite runs against an optimised build: debug pgrx code is ~50x slower on index inserts.
install_extension release

PORT="${RUVEC_TEST_PORT:-55433}"
trap 'cluster_stop test' EXIT
cluster_destroy test
cluster_start test "$PORT"

log "tier 3: pg_regress golden tests"
tests=$(cd tests/pg_regress/sql && ls *.sql | sed 's/\.sql$//' | sort | tr '\n' ' ')
rm -rf target/pg_regress && mkdir -p target/pg_regress
psql_at "$PORT" postgres -c "CREATE DATABASE ruvec_regress"
if ! "$(dirname "$("$PG_CONFIG" --pgxs)")/../test/regress/pg_regress" \
    --use-existing --host=127.0.0.1 --port="$PORT" --user=postgres \
    --inputdir=tests/pg_regress --outputdir=target/pg_regress \
    --dbname=ruvec_regress $tests; then
    cat target/pg_regress/regression.diffs 2>/dev/null | head -200
    exit 1
fi

log "tier 4: client-side tests (pytest pgrx-tests/)"
RUVEC_TEST_PORT="$PORT" RUVEC_SHARED_DATA="$SHARED_DATA" \
    "$PYENV_DIR/bin/python" -m pytest -q pgrx-tests
