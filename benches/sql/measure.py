"""Query-side measurements: plan checks, the recall pass, and timed runs with N clients.

Every timed client is a separate process (spawned, so no connection is shared across a fork)
with its own connection. Clients prepare the query, warm up, wait on a barrier, then each runs
the query list from its own starting offset. QPS = all queries / (last finish - first start).
"""
from __future__ import annotations

import multiprocessing as mp
import os
import queue as queue_mod
import time
import traceback
from dataclasses import dataclass

import numpy as np
import psycopg
from psycopg import sql

from engines import (METRIC_OPS, TABLE_SCHEMA, EncodedVector, EngineSpec, EngineUnavailable,
                     encode_vectors, index_name, register_vector_dumper, table_name)

CLIENT_TIMEOUT_S = 1800


class MeasurementError(Exception):
    """The engine ran but cannot be measured as intended (reported as FAILED)."""


class PlanError(MeasurementError):
    """The planner did not pick the access path the engine is meant to measure."""


class ClientError(MeasurementError):
    """A benchmark client process failed; `detail` holds its traceback."""

    def __init__(self, message: str, detail: str | None = None):
        super().__init__(message)
        self.detail = detail


@dataclass(frozen=True)
class QuerySetup:
    """Everything a client needs to open a session and run the k-NN query (picklable)."""

    dsn: str
    vector_oid: int
    settings: tuple[tuple[str, str], ...]  # (GUC, value) applied with SET at session start
    query: str  # SQL with one %s placeholder for the query vector


def knn_query(engine: EngineSpec, schema: str, metric: str, k: int, dim: int = 0,
              ef: int | None = None) -> str:
    """`SELECT id FROM <table> ORDER BY v OPERATOR(<schema>.<op>) %s LIMIT k` as a string, or the
    engine's recipe: the halfvec expression, or pgvector's binary-quantize-and-rerank query
    (ef candidates by Hamming distance on the index, re-ordered by the exact distance)."""
    op = METRIC_OPS[metric][0]
    table = sql.Identifier(TABLE_SCHEMA, table_name(engine))
    s = sql.Identifier(schema)
    if engine.recipe == "halfvec":
        stmt = sql.SQL("SELECT id FROM {} ORDER BY v::{}.halfvec({}) OPERATOR({}.{}) %s::{}.halfvec({}) LIMIT {}").format(
            table, s, sql.Literal(dim), s, sql.SQL(op), s, sql.Literal(dim), sql.Literal(k))
    elif engine.recipe == "bq":
        stmt = sql.SQL(
            "SELECT c.id FROM (SELECT %s AS q) p, LATERAL (SELECT id, v FROM {} "
            "ORDER BY {}.binary_quantize(v)::bit({}) OPERATOR({}.<~>) {}.binary_quantize(p.q)::bit({}) LIMIT {}) c "
            "ORDER BY c.v OPERATOR({}.{}) p.q LIMIT {}").format(
            table, s, sql.Literal(dim), s, s, sql.Literal(dim), sql.Literal(max(ef or k, k)),
            s, sql.SQL(op), sql.Literal(k))
    else:
        stmt = sql.SQL("SELECT id FROM {} ORDER BY v OPERATOR({}.{}) %s LIMIT {}").format(
            table, s, sql.SQL(op), sql.Literal(k))
    return stmt.as_string(None)


def session_settings(engine: EngineSpec, ef_search: int | None,
                     force_index: bool = False, rerank: int | None = None,
                     code_cache_mem: str | None = None) -> tuple[tuple[str, str], ...]:
    """GUCs for a query session: JIT and parallel query off (one backend per client), the
    engine's ef_search when it has one, ruvec's code cache size when given, and
    enable_seqscan = off for indexed engines when `force_index` (tiny tables)."""
    settings = [("jit", "off"), ("max_parallel_workers_per_gather", "0")]
    if code_cache_mem is not None and (engine.ef_guc or "").startswith("ruvec."):
        settings.append(("ruvec.code_cache_mem", code_cache_mem))
    if engine.ef_guc and ef_search is not None:
        settings.append((engine.ef_guc, str(ef_search)))
        if engine.storage:
            # quantized tiers: by default re-score every candidate of the first batch exactly
            # (one knob to sweep, like the binary-quantize recipe's LIMIT)
            settings.append(("ruvec.rerank", str(rerank if rerank is not None else ef_search)))
    if engine.indexed and force_index:
        settings.append(("enable_seqscan", "off"))
    return tuple(settings)


def open_session(setup: QuerySetup) -> psycopg.Connection:
    """Connect, register the vector dumper and apply the session settings."""
    conn = psycopg.connect(setup.dsn, autocommit=True)
    register_vector_dumper(conn, setup.vector_oid)
    for guc, value in setup.settings:
        conn.execute(sql.SQL("SET {} = {}").format(sql.Identifier(*guc.split(".")), sql.Literal(value)))
    return conn


def verify_settings(conn: psycopg.Connection, setup: QuerySetup) -> None:
    """Fail unless every GUC reads back as set (catches a GUC the extension does not define)."""
    for guc, value in setup.settings:
        try:
            actual = conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(*guc.split(".")))).fetchone()[0]
        except psycopg.errors.UndefinedObject as exc:
            raise EngineUnavailable(f"GUC {guc} does not exist") from exc
        if actual != value:
            raise MeasurementError(f"{guc} reads back as {actual!r}, expected {value!r}")


# ---------------------------------------------------------------------------------------------
# Plan checks


def _plan_nodes(plan: dict):
    """Yield every node of an EXPLAIN (FORMAT JSON) plan tree."""
    yield plan
    for child in plan.get("Plans", []):
        yield from _plan_nodes(child)


def _describe(plan: dict) -> str:
    return " -> ".join(f"{n['Node Type']}({n.get('Index Name') or n.get('Relation Name') or ''})"
                       for n in _plan_nodes(plan))


def _check_one_plan(plan: dict, engine: EngineSpec, label: str) -> None:
    nodes = list(_plan_nodes(plan))
    if engine.indexed:
        ok = any(n.get("Index Name") == index_name(engine) and "Index" in n["Node Type"] for n in nodes)
        want = f"an index scan on {index_name(engine)}"
    else:
        ok = any(n["Node Type"] == "Seq Scan" for n in nodes) and not any("Index" in n["Node Type"] for n in nodes)
        want = "a sequential scan"
    if not ok:
        hint = " (small table? rerun with --force-index)" if engine.indexed else ""
        raise PlanError(f"{engine.name}: {label} plan is not {want}: {_describe(plan)}{hint}")


def check_plan(conn: psycopg.Connection, setup: QuerySetup, engine: EngineSpec, schema: str,
               sample: np.ndarray) -> str:
    """EXPLAIN the query (custom and generic plan) and fail loudly if the index is not used.

    `sample` is one query vector. Returns a one-line description of the plan for the report.
    """
    encoded = encode_vectors(sample[None, :])[0]
    custom = conn.execute("EXPLAIN (FORMAT JSON) " + setup.query, (encoded,)).fetchone()[0][0]["Plan"]
    _check_one_plan(custom, engine, "custom")
    vec_type = sql.SQL("{}.vector").format(sql.Identifier(schema)).as_string(None)
    literal = sql.Literal("[" + ",".join(repr(float(x)) for x in sample) + "]").as_string(None)
    conn.execute(f"PREPARE bench_plan_check ({vec_type}) AS " + setup.query.replace("%s", "$1"))
    try:
        conn.execute("SET plan_cache_mode = force_generic_plan")
        generic = conn.execute(f"EXPLAIN (FORMAT JSON) EXECUTE bench_plan_check ({literal})").fetchone()[0][0]
        _check_one_plan(generic["Plan"], engine, "generic")
    finally:
        conn.execute("RESET plan_cache_mode")
        conn.execute("DEALLOCATE bench_plan_check")
    return _describe(custom)


# ---------------------------------------------------------------------------------------------
# Running queries


def run_queries(conn: psycopg.Connection, setup: QuerySetup, params: list[EncodedVector]) -> list[list[int]]:
    """Run the prepared query once per parameter; the returned ids, in order (recall pass)."""
    out = []
    with conn.cursor() as cur:
        for p in params:
            cur.execute(setup.query, (p,), prepare=True)
            out.append([r[0] for r in cur.fetchall()])
    return out


def pin_to_cpu(conn: psycopg.Connection, cpu: int) -> None:
    """Pin this client process and its server backend to one CPU.

    On a VM a query's two wake-ups (client -> backend -> client) across idle vCPUs can cost as
    much as the query itself; on one CPU they are plain context switches. Needs the server on
    this machine and the right to change its processes' affinity (root or the postgres user).
    """
    try:
        os.sched_setaffinity(0, {cpu})
        os.sched_setaffinity(conn.info.backend_pid, {cpu})
    except (PermissionError, ProcessLookupError) as exc:
        raise ClientError(f"--pin: cannot pin backend {conn.info.backend_pid} to CPU {cpu} "
                          f"(server not local, or no permission): {exc}") from exc


def _client_loop(setup: QuerySetup, params: list[bytes], start: int, count: int, min_time: float,
                 warmup: int, cpu: int | None, barrier):
    """Body of one client: pin (if `cpu` is set), warm up, wait for the others, then run at
    least `count` timed queries and keep going (cycling through `params`) until `min_time`
    seconds have passed."""
    conn = open_session(setup)
    try:
        if cpu is not None:
            pin_to_cpu(conn, cpu)
        vectors = [EncodedVector(p) for p in params]
        with conn.cursor() as cur:
            for i in range(warmup):
                cur.execute(setup.query, (vectors[(start + i) % len(vectors)],), prepare=True)
                cur.fetchall()
            barrier.wait(timeout=CLIENT_TIMEOUT_S)
            latencies = []
            t0 = time.perf_counter()
            i = 0
            while i < count or time.perf_counter() - t0 < min_time:
                q0 = time.perf_counter_ns()
                cur.execute(setup.query, (vectors[(start + i) % len(vectors)],), prepare=True)
                cur.fetchall()
                latencies.append(time.perf_counter_ns() - q0)
                i += 1
            t1 = time.perf_counter()
        return t0, t1, np.array(latencies, dtype=np.int64)
    finally:
        conn.close()


def client_process(setup, params, start, count, min_time, warmup, cpu, barrier, results) -> None:
    """Process entry point: run _client_loop and report ("ok", t0, t1, latencies) or ("error", tb)."""
    try:
        results.put(("ok", *_client_loop(setup, params, start, count, min_time, warmup, cpu, barrier)))
    except BaseException:  # noqa: BLE001 - everything must reach the parent
        barrier.abort()
        results.put(("error", traceback.format_exc()))


def _collect(results, procs) -> list[tuple]:
    """One report per client process; fails if a process dies without reporting or the run
    exceeds CLIENT_TIMEOUT_S."""
    reports, deadline = [], time.monotonic() + CLIENT_TIMEOUT_S
    while len(reports) < len(procs):
        try:
            reports.append(results.get(timeout=1.0))
        except queue_mod.Empty:
            if time.monotonic() > deadline:
                raise ClientError("a benchmark client timed out") from None
            if not any(p.is_alive() for p in procs) and results.empty():
                raise ClientError("a benchmark client exited without reporting") from None
    return reports


def run_clients(setup: QuerySetup, params: list[EncodedVector], clients: int, *, repeat: int,
                min_time: float, warmup: int, pin: bool = False) -> dict:
    """Timed run with `clients` concurrent processes, each running the query list at least
    `repeat` times and for at least `min_time` seconds. With `pin`, client i and its backend
    share CPU i (modulo the CPUs available).

    Returns QPS over the whole run and latency percentiles (ms) over all queries of all clients.
    """
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(clients), ctx.Queue()
    raw = [bytes(p) for p in params]
    count = len(raw) * repeat
    cpus = sorted(os.sched_getaffinity(0))
    procs = [ctx.Process(target=client_process,
                         args=(setup, raw, i * len(raw) // clients, count, min_time, warmup,
                               cpus[i % len(cpus)] if pin else None, barrier, results))
             for i in range(clients)]
    for p in procs:
        p.start()
    try:
        reports = _collect(results, procs)
    finally:
        for p in procs:
            p.join(timeout=60)
    errors = [r[1] for r in reports if r[0] == "error"]
    if errors:
        last = [line for line in errors[0].splitlines() if line.strip() and not line[0].isspace()]
        raise ClientError("client: " + (last[-1] if last else "failed"), detail=errors[0])
    t0, t1 = min(r[1] for r in reports), max(r[2] for r in reports)
    lat_ms = np.concatenate([r[3] for r in reports]) / 1e6
    return {
        "clients": clients,
        "queries": int(lat_ms.size),
        "seconds": t1 - t0,
        "qps": lat_ms.size / (t1 - t0),
        "p50_ms": float(np.percentile(lat_ms, 50)),
        "p99_ms": float(np.percentile(lat_ms, 99)),
        "mean_ms": float(lat_ms.mean()),
    }
