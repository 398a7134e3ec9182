"""The database side of a run: the scratch cluster, a fresh database, server description.

Scratch clusters come from scripts/lib/common.sh (the same helpers as scripts/test.sh).
"""
from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRATCH_CLUSTER = "bench"


def log(msg: str) -> None:
    """Progress line on stderr (stdout carries the report)."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _common_sh(command: str) -> None:
    """Run a function of scripts/lib/common.sh (cluster_start/cluster_stop) from the repo root."""
    script = f"source scripts/lib/common.sh; choose_scratch; {command}"
    subprocess.run(["bash", "-c", script], cwd=REPO_ROOT, check=True, stdout=sys.stderr)


def _accepts_connections(dsn: str) -> bool:
    try:
        psycopg.connect(dsn, connect_timeout=3).close()
        return True
    except psycopg.OperationalError:
        return False


@contextlib.contextmanager
def database(dsn: str | None, port: int, keep: bool, shared_buffers: str | None = None):
    """Yield a DSN: `dsn` as given, or the scratch cluster (started here, stopped at the end
    unless --keep or it was already running) with a freshly created database ruvec_bench.
    `shared_buffers` (scratch cluster only) is set with ALTER SYSTEM and the cluster restarted
    when it differs, so an index larger than the default 256MB can be measured in memory."""
    if dsn:
        yield dsn
        return
    server = make_conninfo(host="127.0.0.1", port=port, user="postgres", dbname="postgres")
    was_running = _accepts_connections(server)
    if not was_running:
        log(f"starting scratch cluster '{SCRATCH_CLUSTER}' on port {port}")
        _common_sh(f"cluster_start {SCRATCH_CLUSTER} {port}")
    if shared_buffers:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(sql.SQL("ALTER SYSTEM SET shared_buffers = {}").format(sql.Literal(shared_buffers)))
            pending = conn.execute(
                "SELECT pending_restart FROM pg_settings WHERE name = 'shared_buffers'").fetchone()[0]
        if pending:
            log(f"restarting scratch cluster '{SCRATCH_CLUSTER}' for shared_buffers = {shared_buffers}")
            _common_sh(f"cluster_stop {SCRATCH_CLUSTER}; cluster_start {SCRATCH_CLUSTER} {port}")
    try:
        yield fresh_database(server, "ruvec_bench")
    finally:
        if not (keep or was_running):
            log("stopping scratch cluster")
            _common_sh(f"cluster_stop {SCRATCH_CLUSTER}")


def fresh_database(server_dsn: str, name: str) -> str:
    """(Re)create database `name` on the scratch server and return a DSN for it.

    Starting empty means the extensions are created from the SQL scripts installed now: an
    extension created by an earlier run would keep its old objects (no `ruhnsw` access method,
    say) even after a newer build of the same version is installed.
    """
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_conninfo(server_dsn, dbname=name)


def library_stamp(conn: psycopg.Connection, name: str) -> str | None:
    """Size and modification time of $libdir/<name>.so on the server (superuser only), so a
    report names the build it measured; None when it cannot be read."""
    try:
        with conn.transaction():
            row = conn.execute("SELECT s.size, s.modification FROM pg_config c, "
                               "pg_stat_file(c.setting || '/' || %s || '.so') s WHERE c.name = 'PKGLIBDIR'",
                               (name,)).fetchone()
    except psycopg.Error:
        return None
    return f"{row[0]:,} bytes, modified {row[1]:%Y-%m-%d %H:%M:%S}" if row else None


def ruvec_build_warning(conn: psycopg.Connection) -> str | None:
    """A warning when the installed ruvec is a pgrx test build: `cargo pgrx test` installs a
    debug build with the pg_test schema `tests` into the system PostgreSQL, replacing a release
    install, and its numbers say nothing about ruvec's real speed."""
    row = conn.execute(
        "SELECT count(*) FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid "
        "JOIN pg_extension e ON e.oid = d.refobjid "
        "WHERE d.classid = 'pg_proc'::regclass AND e.extname = 'ruvec' "
        "AND p.pronamespace = to_regnamespace('tests')").fetchone()
    if row and row[0]:
        return ("the installed ruvec is a pgrx test build (its schema `tests` exists; `cargo pgrx test` "
                "installs a debug build): run `cargo pgrx install --release` before trusting ruvec numbers")
    return None


def environment(conn: psycopg.Connection) -> dict:
    """Server, extensions and machine description for the report."""
    exts = conn.execute("SELECT string_agg(format('%s %s (schema %s)', extname, extversion, "
                        "extnamespace::regnamespace), ', ' ORDER BY extname) FROM pg_extension "
                        "WHERE extname IN ('ruvec', 'vector')").fetchone()[0]
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return {
        "postgres": conn.execute("SELECT version()").fetchone()[0].split(" on ")[0],
        "ruvec_library": library_stamp(conn, "ruvec"),
        "ruvec_warning": ruvec_build_warning(conn),
        "vector_library": library_stamp(conn, "vector"),
        "load_average_start": os.getloadavg(),
        "extensions": exts or "none",
        "shared_buffers": conn.execute("SHOW shared_buffers").fetchone()[0],
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "psycopg": psycopg.__version__,
    }


def wait_for_server(dsn: str, timeout: float = 120.0) -> psycopg.Connection:
    """Connect, retrying while the server restarts (after a backend crash, say)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return psycopg.connect(dsn, autocommit=True, connect_timeout=5)
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
