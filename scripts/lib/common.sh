# Shared helpers for scripts/demo.sh and scripts/test.sh. Source, don't run.
#
# Everything here is idempotent: each ensure_* step checks first and installs only what is
# missing, so the second run of either command does no installs at all.

set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# Scratch clusters live in the repo's ignored .scratch/ when the postgres OS user can reach it,
# else under /tmp (a clone inside a private home directory, say). Decided after the packages
# (and so the postgres user) exist: see ensure_prereqs.
SCRATCH="${RUVEC_SCRATCH:-$REPO_ROOT/.scratch}"
choose_scratch() {
    if [ -z "${RUVEC_SCRATCH:-}" ] && ! runuser -u postgres -- test -x "$REPO_ROOT" 2>/dev/null; then
        SCRATCH="/tmp/ruvec-scratch-$(printf '%s' "$REPO_ROOT" | cksum | cut -d' ' -f1)"
    fi
}
SHARED_DATA="${RUVEC_SHARED_DATA:-$REPO_ROOT/../shared/data}"
PG_MAJOR=15
PG_BIN="/usr/lib/postgresql/$PG_MAJOR/bin"
PG_CONFIG="/usr/bin/pg_config"
PGRX_VERSION="0.18.0"
export PATH="$HOME/.cargo/bin:$PATH"

log() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

# Run as root: directly when we are root, else through sudo.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Run as the postgres OS user (Postgres refuses to run as root).
as_postgres() {
    if [ "$(id -un)" = postgres ]; then "$@"; else as_root runuser -u postgres -- "$@"; fi
}

ensure_apt_packages() {
    local missing=()
    for p in postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR libclang-dev clang sudo pkg-config; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        log "installing Debian packages: ${missing[*]}"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    fi
    # Debian starts a default cluster on 5432 with the package; ours never use it, leave it be.
}

ensure_cargo_pgrx() {
    if ! cargo pgrx --version 2>/dev/null | grep -q "$PGRX_VERSION"; then
        log "installing cargo-pgrx $PGRX_VERSION (one-time, several minutes)"
        cargo install cargo-pgrx --version "$PGRX_VERSION" --locked
    fi
    local cfg="${PGRX_HOME:-$HOME/.pgrx}/config.toml"
    if ! grep -qs "pg$PG_MAJOR = \"$PG_CONFIG\"" "$cfg"; then
        log "registering PostgreSQL $PG_MAJOR with pgrx"
        cargo pgrx init --pg$PG_MAJOR "$PG_CONFIG"
    fi
}

ensure_prereqs() {
    ensure_apt_packages
    ensure_cargo_pgrx
    choose_scratch
}

# Build and install the extension into the system PostgreSQL ($1: "release" or "dev").
install_extension() {
    local profile_flag=()
    [ "${1:-dev}" = release ] && profile_flag=(--release)
    log "building and installing ruvec (${1:-dev})"
    (cd "$REPO_ROOT" && cargo pgrx install --pg-config "$PG_CONFIG" "${profile_flag[@]}")
}

# A scratch cluster: data under $SCRATCH/<name>, socket in the same dir, TCP on 127.0.0.1:<port>.
cluster_dir() { echo "$SCRATCH/$1"; }

cluster_start() {
    local name=$1 port=$2 dir
    dir=$(cluster_dir "$name")
    as_root mkdir -p "$dir"
    as_root chown postgres "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        log "initdb scratch cluster '$name'"
        as_postgres "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync -E UTF8 >"$dir/initdb.log"
        cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
fsync = off
shared_buffers = 256MB
maintenance_work_mem = 512MB
max_wal_senders = 4
wal_level = replica
CONF
    fi
    if ! as_postgres "$PG_BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        as_postgres "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null
    fi
}

cluster_stop() {
    local dir
    dir=$(cluster_dir "$1")
    if [ -f "$dir/data/PG_VERSION" ]; then
        as_postgres "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
}

cluster_destroy() {
    cluster_stop "$1"
    as_root rm -rf "$(cluster_dir "$1")"
}

# psql against a scratch cluster: psql_at <port> <db> [psql args...]
psql_at() {
    local port=$1 db=$2
    shift 2
    psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d "$db" "$@"
}

# The Python environment for client tests (pytest, psycopg 3, the pgvector client library).
PYENV_DIR="$REPO_ROOT/target/pyenv"
ensure_python_env() {
    if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
    fi
    local req="$REPO_ROOT/pgrx-tests/requirements.txt" stamp="$PYENV_DIR/.requirements"
    if [ ! -x "$PYENV_DIR/bin/python" ] || ! cmp -s "$req" "$stamp"; then
        log "preparing Python test environment"
        python3 -m venv "$PYENV_DIR"
        "$PYENV_DIR/bin/pip" install -q --disable-pip-version-check -r "$req"
        cp "$req" "$stamp"
    fi
}
