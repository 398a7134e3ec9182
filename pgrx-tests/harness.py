"""Scratch PostgreSQL clusters owned by a test (DESIGN.md §5 tier 4).

scripts/test.sh gives every test module one shared cluster (conftest.py's `database` fixture).
Crash recovery, streaming replicas and restarts need clusters a test can break on purpose, so
`Cluster` makes its own: initdb into a fresh directory, a free port on 127.0.0.1, the socket in
its own directory, and nothing that outlives `destroy()`.

    with Cluster("primary", fsync=True) as pg:     # initdb + start
        pg.create_db_with_extension("t")
        with pg.connect("t") as c: ...
        pg.crash()                                 # kill -9 the postmaster, wait for backends
        pg.start()                                 # crash recovery
        standby = pg.make_standby()                # pg_basebackup -R -X stream, hot standby
        pg.wait_for_replay(standby)
    # destroy(): stops everything it started (standbys first) and removes its directories

Everything runs as root here and PostgreSQL refuses root, so initdb, pg_ctl and pg_basebackup
run as the `postgres` OS user (`runuser -u postgres --`); the cluster directory is chowned to
it. Every wait is bounded and fails with the tail of the server log.
"""
from __future__ import annotations

import atexit
import ctypes
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import threading
import time

import numpy as np
import psycopg

PG_BIN = os.environ.get("RUVEC_PG_BIN", "/usr/lib/postgresql/15/bin")
PG_USER = "postgres"
HOST = "127.0.0.1"
DEFAULT_TIMEOUT = 60.0

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.environ.get(
    "RUVEC_SHARED_DATA", os.path.join(REPO_ROOT, "..", "shared", "data")
)

_seq = itertools.count(1)
_live: list["Cluster"] = []  # every cluster not yet destroyed, for the atexit safety net
_live_lock = threading.Lock()
_fallback_base = f"/tmp/ruvec-pytest-{os.getpid()}"


class ClusterError(RuntimeError):
    pass


# --------------------------------------------------------------------------------------------
# data helpers (shared fixtures in ../shared/data)


def read_fvecs(path: str) -> np.ndarray:
    """A TEXMEX .fvecs file as an (n, d) float32 array."""
    a = np.fromfile(path, "<i4")
    d = int(a[0])
    return a.reshape(-1, d + 1)[:, 1:].view("<f4")


def shared_data_path(*parts: str) -> str:
    return os.path.join(SHARED_DATA, *parts)


def vector_literal(x) -> str:
    """pgvector text form of a float vector: [1,2.5,...] (shortest round-trip for float32)."""
    return "[" + ",".join(_fmt(v) for v in np.asarray(x, dtype=np.float32).tolist()) + "]"


def sparse_literal(x) -> str:
    """pgvector sparsevec text form, 1-based indices of the non-zeros: {1:3,7:2}/128."""
    x = np.asarray(x, dtype=np.float32)
    nz = np.flatnonzero(x)
    return "{" + ",".join(f"{i + 1}:{_fmt(float(x[i]))}" for i in nz) + "}/" + str(len(x))


def _fmt(v: float) -> str:
    if float(v).is_integer():
        return str(int(v))
    return repr(float(np.float32(v)))


# --------------------------------------------------------------------------------------------
# process helpers


def _as_postgres(argv):
    if os.geteuid() == 0:
        return ["runuser", "-u", PG_USER, "--", *argv]
    if pwd.getpwuid(os.geteuid()).pw_name == PG_USER:
        return list(argv)
    raise ClusterError("the harness must run as root or as the postgres OS user")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is dead for our purposes
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _pid_exists(pid: int) -> bool:
    """Whether the PID exists at all, zombies included (PostgreSQL's stale-lock-file check is
    kill(pid, 0), so a zombie postmaster blocks the next start)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _enable_subreaper() -> bool:
    """Make this process the child subreaper for its descendants (Linux prctl).

    pg_ctl starts the postmaster and exits, so the postmaster is orphaned. Without a subreaper
    it is re-parented to PID 1, which in a container may reap late or never: a postmaster killed
    by crash() then lingers as a zombie, kill(pid, 0) still succeeds, and the restart refuses
    with 'lock file "postmaster.pid" already exists'. As subreaper we inherit the orphans and
    reap them ourselves (_reap_postgres_zombies), deterministically."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except Exception:
        return False


SUBREAPER = _enable_subreaper()


def _reap_postgres_zombies():
    """waitpid() our zombie children named postgres (never anything subprocess is waiting for:
    those are runuser processes)."""
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        head, _, rest = stat.rpartition(")")
        fields = rest.split()
        if len(fields) < 2 or fields[0] != "Z" or int(fields[1]) != me:
            continue
        if head.split("(", 1)[-1] not in ("postgres", "postmaster"):
            continue
        try:
            os.waitpid(int(entry), os.WNOHANG)
        except ChildProcessError:
            pass


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _scratch_base() -> str:
    base = os.environ.get("RUVEC_SCRATCH") or _fallback_base
    os.makedirs(base, exist_ok=True)
    if base == _fallback_base:
        os.chmod(base, 0o755)  # the postgres user must traverse it whatever our umask
    return base


# --------------------------------------------------------------------------------------------


class Cluster:
    """One scratch PostgreSQL cluster on 127.0.0.1, owned by the test that made it.

    Cluster(name, fsync=False, settings=None, start=True): initdb into
    <RUVEC_SCRATCH or /tmp/ruvec-pytest-PID>/<pid>-<n>-<name>/data and (by default) start it.
    `settings` are extra postgresql.conf lines (dict name -> value, values written verbatim).
    """

    def __init__(self, name: str = "pg", *, fsync: bool = False, settings: dict | None = None,
                 start: bool = True, _basebackup_from: "Cluster | None" = None):
        self.name = name
        self.fsync = fsync
        self.settings = dict(settings or {})
        self.base = _scratch_base()
        self.dir = os.path.join(self.base, f"{os.getpid()}-{next(_seq)}-{name}")
        self.datadir = os.path.join(self.dir, "data")
        self.logfile = os.path.join(self.dir, "server.log")
        self.port = _free_port()
        self.standbys: list[Cluster] = []
        self.primary = _basebackup_from
        self.destroyed = False
        if os.path.exists(self.dir):
            raise ClusterError(f"{self.dir} already exists")
        os.makedirs(self.dir)
        with _live_lock:
            _live.append(self)
        try:
            if os.geteuid() == 0:
                pw = pwd.getpwnam(PG_USER)
                os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            if _basebackup_from is None:
                self._initdb()
            else:
                self._basebackup(_basebackup_from)
            self._write_conf()
            if start:
                self.start()
        except BaseException:
            self.destroy()
            raise

    # ---- setup ------------------------------------------------------------------------------

    def _run(self, argv, timeout=DEFAULT_TIMEOUT, what=None):
        """Run a PostgreSQL program as the postgres user; raise with its output on failure."""
        try:
            p = subprocess.run(_as_postgres(argv), cwd=self.dir, stdin=subprocess.DEVNULL,
                               capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise ClusterError(f"{what or argv[0]} timed out after {timeout}s\n"
                               f"{e.stdout or ''}{e.stderr or ''}\n{self.log_tail()}") from None
        if p.returncode != 0:
            raise ClusterError(f"{what or argv[0]} failed ({p.returncode}):\n{p.stdout}{p.stderr}"
                               f"\n{self.log_tail()}")
        return p

    def _initdb(self):
        self._run([f"{PG_BIN}/initdb", "-D", self.datadir, "-U", PG_USER, "--auth=trust",
                   "-E", "UTF8", "--locale=C", "--no-sync"], what="initdb")
        with open(os.path.join(self.datadir, "pg_hba.conf"), "w") as f:
            f.write(
                "# written by pgrx-tests/harness.py: trust, loopback only\n"
                "local all         all                trust\n"
                "local replication all                trust\n"
                "host  all         all  127.0.0.1/32  trust\n"
                "host  replication all  127.0.0.1/32  trust\n"
            )
        with open(os.path.join(self.datadir, "postgresql.conf"), "a") as f:
            f.write("\ninclude 'ruvec_test.conf'\n")

    def _basebackup(self, primary: "Cluster"):
        # -R writes primary_conninfo (host=127.0.0.1 port=<primary>) and standby.signal;
        # -X stream fetches the WAL needed for consistency over a second connection.
        self._run([f"{PG_BIN}/pg_basebackup", "-h", HOST, "-p", str(primary.port), "-U", PG_USER,
                   "-D", self.datadir, "-R", "-X", "stream", "-c", "fast", "--no-sync"],
                  timeout=120, what="pg_basebackup")

    def _write_conf(self):
        """ruvec_test.conf (included from postgresql.conf): rewritten for every cluster, so a
        standby copied by pg_basebackup gets its own port and socket directory."""
        conf = {
            "listen_addresses": f"'{HOST}'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self._socket_dir()}'",
            "fsync": "on" if self.fsync else "off",
            "synchronous_commit": "on",
            "full_page_writes": "on",
            "shared_buffers": "32MB",
            "wal_level": "replica",
            "max_wal_senders": "5",
            "wal_keep_size": "256MB",
            "hot_standby": "on",
            "wal_retrieve_retry_interval": "'200ms'",  # a standby reconnects fast after restarts
            "max_connections": "40",
            "logging_collector": "off",
            "log_line_prefix": "'%m [%p] %q%a '",
            "log_min_messages": "warning",
            "jit": "off",
        }
        conf.update({k: str(v) for k, v in self.settings.items()})
        path = os.path.join(self.datadir, "ruvec_test.conf")
        with open(path, "w") as f:
            f.write("# written by pgrx-tests/harness.py\n")
            for k, v in conf.items():
                f.write(f"{k} = {v}\n")
        if os.geteuid() == 0:
            pw = pwd.getpwnam(PG_USER)
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def _socket_dir(self) -> str:
        # A Unix socket path is limited to 107 bytes; with a deep RUVEC_SCRATCH go TCP-only
        # (all our traffic is TCP on 127.0.0.1 anyway).
        return self.dir if len(f"{self.dir}/.s.PGSQL.{self.port}.lock") < 100 else ""

    # ---- introspection ----------------------------------------------------------------------

    def log_tail(self, lines: int = 40) -> str:
        try:
            with open(self.logfile, errors="replace") as f:
                tail = f.readlines()[-lines:]
        except OSError:
            return f"(no server log at {self.logfile})"
        return f"--- last {len(tail)} lines of {self.logfile} ---\n" + "".join(tail)

    def postmaster_pid(self) -> int | None:
        try:
            with open(os.path.join(self.datadir, "postmaster.pid")) as f:
                return int(f.readline().strip())
        except (OSError, ValueError):
            return None

    def processes(self) -> list[int]:
        """PIDs of every live process of this cluster: the postmaster and whatever has its data
        directory as working directory (backends, auxiliary processes, walsenders/receivers,
        including orphans whose postmaster is gone)."""
        _reap_postgres_zombies()
        real = os.path.realpath(self.datadir)
        pm = self.postmaster_pid()
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            try:
                if os.readlink(f"/proc/{pid}/cwd") != real:
                    if pid != pm:
                        continue
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        if b"postgres" not in f.read():
                            continue
            except OSError:
                continue
            if _pid_alive(pid):
                pids.append(pid)
        return pids

    def is_running(self) -> bool:
        pm = self.postmaster_pid()
        return pm is not None and pm in self.processes()

    def dsn(self, dbname: str = "postgres") -> str:
        return f"host={HOST} port={self.port} user={PG_USER} dbname={dbname} connect_timeout=10"

    # ---- lifecycle --------------------------------------------------------------------------

    def start(self, timeout: float = DEFAULT_TIMEOUT):
        """pg_ctl start -w; returns once the server accepts connections (a hot standby: once
        consistent). Retries with a new port if the chosen one was taken meanwhile."""
        for attempt in range(3):
            try:
                self._run([f"{PG_BIN}/pg_ctl", "-D", self.datadir, "-l", self.logfile, "-w",
                           "-t", str(int(timeout)), "start"], timeout=timeout + 10,
                          what=f"pg_ctl start ({self.name})")
                break
            except ClusterError as e:
                if attempt < 2 and "could not bind" in str(e) and not self.is_running():
                    self.port = _free_port()
                    self._write_conf()
                    continue
                raise
        self._wait(lambda: self._can_connect(), timeout, "server to accept connections")

    def stop(self, mode: str = "fast", timeout: float = DEFAULT_TIMEOUT):
        """pg_ctl stop -m <smart|fast|immediate> -w; then waits for every process to exit."""
        if self.is_running():
            self._run([f"{PG_BIN}/pg_ctl", "-D", self.datadir, "-m", mode, "-w",
                       "-t", str(int(timeout)), "stop"], timeout=timeout + 10,
                      what=f"pg_ctl stop -m {mode} ({self.name})")
        self._wait(lambda: not self.processes(), timeout, "all server processes to exit")
        _reap_postgres_zombies()

    def crash(self, timeout: float = DEFAULT_TIMEOUT):
        """kill -9 the postmaster (PID from postmaster.pid), then wait until every backend and
        auxiliary process of this cluster has exited (they notice the postmaster's death), so
        the next start() does crash recovery on a quiet data directory."""
        pm = self.postmaster_pid()
        if pm is None or not _pid_alive(pm):
            raise ClusterError(f"{self.name}: no running postmaster to crash\n{self.log_tail()}")
        os.kill(pm, signal.SIGKILL)
        self._wait(lambda: not self.processes() and not _pid_exists(pm), timeout,
                   "backends to exit (and the postmaster to be reaped) after kill -9")

    def restart(self, mode: str = "fast", timeout: float = DEFAULT_TIMEOUT):
        self.stop(mode, timeout)
        self.start(timeout)

    def destroy(self):
        """Stop (or kill) this cluster and its standbys and remove their directories.
        Idempotent; safe on a half-built cluster."""
        if self.destroyed:
            return
        errors = []
        for s in list(self.standbys):
            try:
                s.destroy()
            except Exception as e:  # keep going: the directory must still go
                errors.append(e)
        try:
            if self.is_running():
                try:
                    self.stop("immediate", timeout=30)
                except ClusterError:
                    pass
            for pid in self.processes():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self._wait(lambda: not self.processes(), 30, "processes to exit before rm -rf")
        except Exception as e:
            errors.append(e)
        shutil.rmtree(self.dir, ignore_errors=True)
        self.destroyed = True
        with _live_lock:
            if self in _live:
                _live.remove(self)
        if self.primary is not None and self in self.primary.standbys:
            self.primary.standbys.remove(self)
        if self.base == _fallback_base:
            try:
                os.rmdir(self.base)  # only once empty
            except OSError:
                pass
        if errors:
            raise errors[0]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.destroy()

    def __repr__(self):
        return f"<Cluster {self.name} 127.0.0.1:{self.port} {self.dir}>"

    # ---- SQL --------------------------------------------------------------------------------

    def connect(self, dbname: str = "postgres", **kw) -> psycopg.Connection:
        """A psycopg 3 autocommit connection over TCP on 127.0.0.1."""
        return psycopg.connect(self.dsn(dbname), autocommit=True, **kw)

    def create_db_with_extension(self, name: str) -> str:
        with self.connect("postgres") as c:
            c.execute(f'CREATE DATABASE "{name}"')
        with self.connect(name) as c:
            c.execute("CREATE EXTENSION ruvec")
        return name

    def _can_connect(self) -> bool:
        try:
            with self.connect("postgres") as c:
                c.execute("SELECT 1")
            return True
        except psycopg.OperationalError:
            return False

    # ---- replication ------------------------------------------------------------------------

    def make_standby(self, name: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> "Cluster":
        """A hot standby of this (running) primary: pg_basebackup -R -X stream into a new
        directory, its own port, started; streaming is confirmed via pg_stat_wal_receiver."""
        s = Cluster(name or f"{self.name}-standby", fsync=self.fsync, settings=self.settings,
                    start=False, _basebackup_from=self)
        self.standbys.append(s)
        s.start(timeout)

        def streaming():
            with s.connect() as c:
                return c.execute("SELECT pg_is_in_recovery() AND EXISTS (SELECT 1 FROM "
                                 "pg_stat_wal_receiver WHERE status = 'streaming')").fetchone()[0]

        s._wait(streaming, timeout, "the standby to stream from the primary", also=self)
        return s

    def wait_for_replay(self, standby: "Cluster", timeout: float = DEFAULT_TIMEOUT) -> str:
        """Block until the standby has replayed everything this primary wrote up to now
        (pg_last_wal_replay_lsn() >= pg_current_wal_lsn() taken at call time). Returns the LSN."""
        with self.connect() as c:
            target = c.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]

        def replayed():
            with standby.connect() as c:
                return c.execute("SELECT coalesce(pg_last_wal_replay_lsn() >= %s::pg_lsn, false)",
                                 (target,)).fetchone()[0]

        standby._wait(replayed, timeout, f"the standby to replay up to {target}", also=self)
        return target

    # ---- waiting ----------------------------------------------------------------------------

    def _wait(self, cond, timeout: float, what: str, also: "Cluster | None" = None):
        deadline = time.monotonic() + timeout
        delay = 0.02
        last_exc = None
        while True:
            try:
                if cond():
                    return
                last_exc = None
            except (psycopg.Error, OSError) as e:
                last_exc = e
            if time.monotonic() >= deadline:
                msg = f"{self.name}: timed out after {timeout}s waiting for {what}"
                if last_exc is not None:
                    msg += f" (last error: {last_exc})"
                msg += "\n" + self.log_tail()
                if also is not None:
                    msg += "\n" + also.log_tail()
                raise ClusterError(msg)
            time.sleep(delay)
            delay = min(delay * 2, 0.25)


def destroy_all():
    """Destroy every cluster this process made and has not destroyed yet (atexit, fixtures)."""
    with _live_lock:
        clusters = list(_live)
    for c in reversed(clusters):
        try:
            c.destroy()
        except Exception:
            pass


atexit.register(destroy_all)
