"""The run's phases, every engine in step: load all, build all, check all plans, every
(engine, ef_search) cell's recall pass, the timed trials, then inserts.

Engines take turns within each phase and the order flips every round (A B, B A, A B, ...), so
a machine that slows down or speeds up during the run (other jobs on a small VM) weighs on
both sides of a ruvec/pgvector ratio alike instead of on whichever engine ran later. With
`--build-trials N` the index is built N times in that alternating order and the fastest build
is kept; with `--trials N` every cell makes one timed run per round, N rounds, and keeps its
fastest.

A failure ends only the engine it happened in (status 'unavailable' or 'FAILED' with the
reason); the others go on.
"""
from __future__ import annotations

import contextlib
from typing import Callable

import psycopg
from psycopg import sql

import engines as eng
import measure
from datasets import Dataset, per_query_recall
from server import log, wait_for_server


class EngineRun:
    """One engine's connection, state and results across the phases."""

    def __init__(self, dsn: str, engine: eng.EngineSpec, schema: str | None):
        self.dsn, self.engine, self.schema = dsn, engine, schema
        self.result: dict = {"engine": engine.name, "method": engine.method or "seq scan", "status": "ok"}
        self.conn: psycopg.Connection | None = None
        self.oid = 0
        self.setups: dict[int | None, measure.QuerySetup] = {}
        if schema is None:
            self.result.update(status="unavailable", reason=f"extension {engine.extension} is not available")

    @property
    def ok(self) -> bool:
        return self.result["status"] == "ok"

    def step(self, fn: Callable[..., None], *args) -> None:
        """Run one phase for this engine unless it already failed; record a failure instead of
        raising it (the server is waited for, in case the failure was a crashed backend)."""
        if not self.ok:
            return
        try:
            fn(self, *args)
        except eng.EngineUnavailable as exc:
            self.result.update(status="unavailable", reason=str(exc))
        except (measure.MeasurementError, psycopg.Error) as exc:
            self.result.update(status="FAILED", reason=f"{type(exc).__name__}: {exc}".strip(),
                               detail=getattr(exc, "detail", None))
        if not self.ok:
            log(f"  {self.engine.name}: {self.result['status']}: {self.result['reason']}")
            self.close()
            with wait_for_server(self.dsn):
                pass

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(psycopg.Error):
                self.conn.close()
            self.conn = None


def in_turns(items: list, round_no: int) -> list:
    """`items` in the given order on even rounds and reversed on odd ones (engines that
    failed are skipped by EngineRun.step)."""
    return items if round_no % 2 == 0 else items[::-1]


# ---------------------------------------------------------------------------------------------
# Phases for one engine


def load(run: EngineRun, ds: Dataset) -> None:
    """Connect, create the table, COPY the base rows, VACUUM ANALYZE."""
    log(f"engine {run.engine.name} ({run.engine.extension} in schema {run.schema}, {run.result['method']})")
    run.conn = psycopg.connect(run.dsn, autocommit=True)
    run.oid = eng.vector_type_oid(run.conn, run.schema)
    eng.register_vector_dumper(run.conn, run.oid)
    eng.check_access_method(run.conn, run.engine)
    eng.create_table(run.conn, run.engine, run.schema, ds.dim)
    run.result["load_s"] = eng.copy_rows(run.conn, run.engine, run.oid, 0, ds.base)
    eng.vacuum_analyze(run.conn, run.engine)
    log(f"  {run.engine.name}: loaded {len(ds.base):,} rows in {run.result['load_s']:.2f} s")


def build(run: EngineRun, ds: Dataset, cfg, round_no: int) -> None:
    """One CREATE INDEX (dropping the previous round's index first); keeps the fastest."""
    conn, engine = run.conn, run.engine
    if round_no > 0:
        conn.execute(sql.SQL("DROP INDEX {}").format(eng.qualified(eng.index_name(engine))))
    with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
        conn.execute("CHECKPOINT")
    seconds, notices = eng.build_index(conn, engine, run.schema, ds.metric, ds.dim, m=cfg.m,
                                       ef_construction=cfg.ef_construction,
                                       maintenance_work_mem=cfg.maintenance_work_mem,
                                       parallel_workers=cfg.parallel_workers)
    trials = run.result.setdefault("build_trials_s", [])
    trials.append(seconds)
    run.result["build_s"] = min(trials)
    run.result["notices"] = sorted(set(run.result.get("notices", [])) | set(notices))
    log(f"  {engine.name}: built {engine.method} index in {seconds:.2f} s")


def sizes(run: EngineRun) -> None:
    run.result.update(eng.relation_sizes(run.conn, run.engine))


def plans(run: EngineRun, ds: Dataset, cfg) -> None:
    """Query settings per ef_search and an EXPLAIN of each before anything is timed
    (raises measure.PlanError early). The report shows the plan at the first ef_search."""
    efs = cfg.ef_search if run.engine.indexed else (None,)
    run.setups = {ef: measure.QuerySetup(
        run.dsn, run.oid, measure.session_settings(run.engine, ef, cfg.force_index, cfg.rerank, cfg.code_cache_mem),
        measure.knn_query(run.engine, run.schema, ds.metric, cfg.k, ds.dim, ef)) for ef in efs}
    shown = []
    for setup in run.setups.values():
        with measure.open_session(setup) as conn:
            shown.append(measure.check_plan(conn, setup, run.engine, run.schema, ds.queries[0]))
    run.result["plan"] = shown[0]
    run.result["points"] = []


def recall_pass(run: EngineRun, ds: Dataset, cfg, ef: int | None, params) -> None:
    """The untimed pass over all queries (also the warm-up): recall per query."""
    setup = run.setups[ef]
    with measure.open_session(setup) as conn:
        ids = measure.run_queries(conn, setup, params)
        measure.verify_settings(conn, setup)
    r = per_query_recall(ds, ids, cfg.k)
    run.result["points"].append({"ef_search": ef, "recall": float(r.mean()), "min_query_recall": float(r.min()),
                                 "queries_below_half_recall": int((r < 0.5).sum()), "timings": []})


def timed(run: EngineRun, cfg, ef: int | None, params, clients: int, trials: dict) -> None:
    """One timed run; trials[(engine, ef)] collects them for best_of."""
    t = measure.run_clients(run.setups[ef], params, clients, repeat=cfg.repeat, min_time=cfg.min_time,
                            warmup=cfg.warmup, pin=cfg.pin)
    trials.setdefault((run.engine.name, ef), []).append(t)


def best_of(trials: list[dict]) -> dict:
    """The highest-QPS trial (interference from other load only ever slows a run down), with
    every trial's QPS."""
    best = max(trials, key=lambda t: t["qps"])
    return {**best, "trial_qps": [t["qps"] for t in trials]}


def inserts(run: EngineRun, ds: Dataset, cfg) -> None:
    """Insert cfg.insert_rows new rows into the indexed table (after all queries ran)."""
    if cfg.insert_rows <= 0:
        return
    seconds = eng.insert_rows(run.conn, run.engine, len(ds.base), ds.extra_rows(cfg.insert_rows, cfg.seed))
    log(f"  {run.engine.name}: inserted {cfg.insert_rows:,} rows in {seconds:.2f} s")
    run.result.update(insert_s=seconds, insert_rows_per_s=cfg.insert_rows / seconds)


# ---------------------------------------------------------------------------------------------
# The run


def measure_points(runs: list[EngineRun], ds: Dataset, cfg) -> None:
    """Every (engine, ef_search) cell's recall pass, then per client count cfg.trials rounds in
    which every cell makes one timed run, in alternating order (unindexed engines have one
    cell, ef_search None).

    Spreading each cell's trials over the whole timed phase, rather than running them back to
    back, lets every cell meet the same fast and slow stretches of a noisy machine (on the
    2-vCPU VM the same cell's QPS moves by up to 2x for tens of seconds at a time), so the
    best of each cell's trials compares like with like."""
    params = eng.encode_vectors(ds.queries)
    cells = [(r, ef) for r in runs if r.ok for ef in r.setups]
    for r, ef in cells:
        r.step(recall_pass, ds, cfg, ef, params)
    for clients in cfg.clients:
        trials: dict[tuple[str, int | None], list[dict]] = {}
        for t in range(cfg.trials):
            for r, ef in in_turns(cells, t):
                r.step(timed, cfg, ef, params, clients, trials)
        for r, ef in cells:
            if r.ok:
                point(r, ef)["timings"].append(best_of(trials[(r.engine.name, ef)]))
    for r, ef in cells:
        if r.ok:
            p = point(r, ef)
            log(f"  {r.engine.name} ef_search={ef}: recall@{cfg.k} {p['recall']:.4f}, "
                + ", ".join(f"{t['clients']}c {t['qps']:.0f} QPS" for t in p["timings"]))


def point(run: EngineRun, ef: int | None) -> dict:
    """The engine's result point at `ef`."""
    return next(p for p in run.result["points"] if p["ef_search"] == ef)


def run_all(dsn: str, specs: list[tuple[eng.EngineSpec, str | None]], ds: Dataset, cfg) -> list[dict]:
    """Every phase for every engine; returns the engines' results in the given order."""
    runs = [EngineRun(dsn, engine, schema) for engine, schema in specs]
    try:
        for r in runs:
            r.step(load, ds)
        indexed = [r for r in runs if r.engine.indexed]
        for round_no in range(cfg.build_trials):
            for r in in_turns(indexed, round_no):
                r.step(build, ds, cfg, round_no)
        for r in runs:
            r.step(sizes)
            r.step(plans, ds, cfg)
        measure_points(runs, ds, cfg)
        for r in runs:
            r.step(inserts, ds, cfg)
    finally:
        for r in runs:
            r.close()
            if not r.ok or not cfg.keep_tables:
                with wait_for_server(dsn) as conn:
                    eng.drop_table(conn, r.engine)
    return [r.result for r in runs]
