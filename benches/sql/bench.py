#!/usr/bin/env python3
"""SQL benchmark driver: ruvec (`ruhnsw`) vs pgvector (`hnsw`) vs exact scan, in one database.

    target/pyenv/bin/python benches/sql/bench.py --dataset sift5k --engines exact,ruvec,pgvector

Loads the dataset into one table per engine (binary COPY), builds the index, then for every
ef_search value checks the plan, measures tie-aware recall@k, QPS with 1..N clients and
latency, and finally times inserts into the indexed table. Prints a Markdown report and writes
the full results as JSON under target/bench-results/. See benches/sql/README.md.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shlex
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import psycopg

import engines as eng
import measure
import report
from datasets import DATASET_HELP, METRICS, Dataset, load_dataset, per_query_recall
from server import REPO_ROOT, database, environment, library_stamp, log, wait_for_server


@dataclass(frozen=True)
class Config:
    """Run parameters, as parsed from the command line."""

    dataset: str
    engines: tuple[str, ...]
    metric: str | None
    m: int
    ef_construction: int
    ef_search: tuple[int, ...]
    k: int
    clients: tuple[int, ...]
    queries: int | None
    repeat: int
    min_time: float
    trials: int
    warmup: int
    insert_rows: int
    maintenance_work_mem: str
    parallel_workers: int
    recall_target: float
    clusters: int | None
    seed: int
    keep_tables: bool
    force_index: bool
    pin: bool
    rerank: int | None = None
    code_cache_mem: str | None = None


def int_list(text: str) -> tuple[int, ...]:
    """`"10,20,40"` -> (10, 20, 40)."""
    return tuple(int(x) for x in text.split(",") if x.strip())


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dsn", help="libpq connection string of an existing database (extensions are used "
                    "where installed, else created in schemas rv/pgv); default: start the scratch cluster "
                    "'bench' (scripts/lib/common.sh) on --port and recreate database ruvec_bench")
    ap.add_argument("--port", type=int, default=55470, help="port of the scratch cluster (default 55470)")
    ap.add_argument("--keep", action="store_true", help="leave the scratch cluster running at the end")
    ap.add_argument("--shared-buffers", help="scratch cluster only: set shared_buffers (ALTER SYSTEM, "
                    "restart if needed), e.g. 4GB so a large index stays in shared buffers")
    ap.add_argument("--keep-tables", action="store_true", help="do not drop the benchmark tables")
    ap.add_argument("--dataset", default="sift5k", help=DATASET_HELP)
    ap.add_argument("--engines", default="exact,ruvec,pgvector",
                    help=f"comma-separated, from {', '.join(eng.ENGINES)} (default exact,ruvec,pgvector)")
    ap.add_argument("--metric", choices=METRICS, help="default: the dataset's own (l2 for generated sets)")
    ap.add_argument("--m", type=int, default=16, help="HNSW m (default 16)")
    ap.add_argument("--ef-construction", type=int, default=64, help="HNSW ef_construction (default 64)")
    ap.add_argument("--ef-search", type=int_list, default=(10, 20, 40, 80, 160), help="sweep, e.g. 10,20,40,80,160")
    ap.add_argument("--k", type=int, default=10, help="neighbours per query; recall is recall@k (default 10)")
    ap.add_argument("--clients", type=int_list, default=(1, 2), help="concurrent clients for QPS, e.g. 1,2")
    ap.add_argument("--queries", type=int, help="fixtures: use the first N queries; generated: N queries (default 1000)")
    ap.add_argument("--repeat", type=int, default=1, help="minimum timed passes over the query list per client "
                    "(0: just --min-time, handy for slow exact scans on large sets)")
    ap.add_argument("--min-time", type=float, default=5.0,
                    help="minimum seconds per timed run; clients keep cycling the queries until then")
    ap.add_argument("--trials", type=int, default=1,
                    help="repeat each timed run N times and report the fastest (for noisy machines)")
    ap.add_argument("--warmup", type=int, default=50, help="untimed queries per client before timing")
    ap.add_argument("--insert-rows", type=int, default=2000, help="rows for the insert-throughput test (0: skip)")
    ap.add_argument("--maintenance-work-mem", default="1GB", help="for CREATE INDEX (default 1GB)")
    ap.add_argument("--parallel-workers", type=int, default=1, help="max_parallel_maintenance_workers for CREATE INDEX")
    ap.add_argument("--force-index", action="store_true",
                    help="SET enable_seqscan = off for indexed engines (the planner prefers a "
                         "sequential scan on tiny tables such as bge-m3's 500 rows)")
    ap.add_argument("--pin", action="store_true",
                    help="pin client i and its server backend to CPU i (local server only); removes the "
                         "cross-CPU wake-up cost that dominates single-client latency on small VMs")
    ap.add_argument("--rerank", type=int,
                    help="ruvec storage tiers: SET ruvec.rerank to this (default: to each ef_search value, "
                         "i.e. re-score every candidate of the first batch)")
    ap.add_argument("--code-cache-mem",
                    help="ruvec engines: SET ruvec.code_cache_mem to this in every query session, e.g. 1GB "
                         "(default: the server's, 64MB unless configured)")
    ap.add_argument("--recall-target", type=float, default=0.95,
                    help="the summary compares engines at the smallest ef_search reaching this recall")
    ap.add_argument("--clusters", type=int, help="generated sets: number of clusters (default n/1000, at least 10)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out-dir", type=Path, default=REPO_ROOT / "target" / "bench-results")
    return ap.parse_args(argv)


def config_from(args: argparse.Namespace) -> Config:
    """Validate the arguments and freeze them into a Config."""
    names = tuple(x.strip() for x in args.engines.split(",") if x.strip())
    unknown = [n for n in names if n not in eng.ENGINES]
    if unknown:
        raise SystemExit(f"unknown engine(s) {unknown}; choose from {list(eng.ENGINES)}")
    if not args.ef_search or not args.clients or min(args.clients) < 1:
        raise SystemExit("--ef-search and --clients need at least one positive value")
    return Config(
        dataset=args.dataset, engines=names, metric=args.metric, m=args.m, ef_construction=args.ef_construction,
        ef_search=tuple(sorted(set(args.ef_search))), k=args.k, clients=tuple(sorted(set(args.clients))),
        queries=args.queries, repeat=args.repeat, min_time=args.min_time, trials=max(1, args.trials),
        warmup=args.warmup, insert_rows=args.insert_rows, maintenance_work_mem=args.maintenance_work_mem,
        parallel_workers=args.parallel_workers, recall_target=args.recall_target, clusters=args.clusters,
        seed=args.seed, keep_tables=args.keep_tables, force_index=args.force_index,
        pin=args.pin, rerank=args.rerank, code_cache_mem=args.code_cache_mem)


# ---------------------------------------------------------------------------------------------
# One engine


def query_setup(dsn: str, engine: eng.EngineSpec, schema: str, oid: int, ds: Dataset,
                ef: int | None, cfg: Config) -> measure.QuerySetup:
    """Session settings and k-NN query of one engine at one ef_search value."""
    return measure.QuerySetup(dsn, oid, measure.session_settings(engine, ef, cfg.force_index, cfg.rerank,
                                                                      cfg.code_cache_mem),
                              measure.knn_query(engine, schema, ds.metric, cfg.k, ds.dim, ef))


def check_plans(setups: dict, engine: eng.EngineSpec, schema: str, ds: Dataset) -> str:
    """EXPLAIN at every ef_search before timing anything (raises measure.PlanError early).
    Returns the plan at the first ef_search, for the report."""
    plans = []
    for setup in setups.values():
        with measure.open_session(setup) as conn:
            plans.append(measure.check_plan(conn, setup, engine, schema, ds.queries[0]))
    return plans[0]


def measure_point(setup: measure.QuerySetup, engine: eng.EngineSpec, ds: Dataset,
                  params: list[eng.EncodedVector], ef: int | None, cfg: Config) -> dict:
    """Recall pass (which is also the warm-up) and timed runs for one ef_search value."""
    with measure.open_session(setup) as conn:
        ids = measure.run_queries(conn, setup, params)
        measure.verify_settings(conn, setup)
    recalls = per_query_recall(ds, ids, cfg.k)
    timings = [best_of(setup, params, c, cfg) for c in cfg.clients]
    log(f"  {engine.name} ef_search={ef}: recall@{cfg.k} {recalls.mean():.4f}, "
        + ", ".join(f"{t['clients']}c {t['qps']:.0f} QPS" for t in timings))
    return {"ef_search": ef, "recall": float(recalls.mean()), "min_query_recall": float(recalls.min()),
            "queries_below_half_recall": int((recalls < 0.5).sum()), "timings": timings}


def best_of(setup: measure.QuerySetup, params: list[eng.EncodedVector], clients: int, cfg: Config) -> dict:
    """The timed run with `clients` clients, cfg.trials times; keeps the highest-QPS trial
    (interference from other load only ever slows a run down) and every trial's QPS."""
    trials = [measure.run_clients(setup, params, clients, repeat=cfg.repeat, min_time=cfg.min_time,
                                  warmup=cfg.warmup, pin=cfg.pin) for _ in range(cfg.trials)]
    best = max(trials, key=lambda t: t["qps"])
    return {**best, "trial_qps": [t["qps"] for t in trials]}


def load_and_build(conn: psycopg.Connection, engine: eng.EngineSpec, schema: str, oid: int,
                   ds: Dataset, cfg: Config) -> dict:
    """Create the table, COPY the base rows, VACUUM ANALYZE, build the index; timings + sizes."""
    eng.create_table(conn, engine, schema, ds.dim)
    out = {"load_s": eng.copy_rows(conn, engine, oid, 0, ds.base)}
    eng.vacuum_analyze(conn, engine)
    log(f"  {engine.name}: loaded {len(ds.base):,} rows in {out['load_s']:.2f} s")
    if engine.indexed:
        with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
            conn.execute("CHECKPOINT")
        out["build_s"], out["notices"] = eng.build_index(conn, engine, schema, ds.metric, ds.dim, m=cfg.m,
                                         ef_construction=cfg.ef_construction,
                                         maintenance_work_mem=cfg.maintenance_work_mem,
                                         parallel_workers=cfg.parallel_workers)
        log(f"  {engine.name}: built {engine.method} index in {out['build_s']:.2f} s")
    out.update(eng.relation_sizes(conn, engine))
    return out


def insert_throughput(conn: psycopg.Connection, engine: eng.EngineSpec, ds: Dataset, cfg: Config) -> dict:
    """Insert cfg.insert_rows new rows into the indexed table (after all queries ran)."""
    if cfg.insert_rows <= 0:
        return {}
    seconds = eng.insert_rows(conn, engine, len(ds.base), ds.extra_rows(cfg.insert_rows, cfg.seed))
    log(f"  {engine.name}: inserted {cfg.insert_rows:,} rows in {seconds:.2f} s")
    return {"insert_s": seconds, "insert_rows_per_s": cfg.insert_rows / seconds}


def measure_engine(conn: psycopg.Connection, dsn: str, engine: eng.EngineSpec, schema: str,
                   ds: Dataset, cfg: Config, out: dict) -> None:
    """Load, build, check the plans, measure every ef_search, then time inserts. Results go
    into `out` as they come, so a failure part-way keeps what was measured before it."""
    oid = eng.vector_type_oid(conn, schema)
    eng.register_vector_dumper(conn, oid)
    eng.check_access_method(conn, engine)
    out.update(load_and_build(conn, engine, schema, oid, ds, cfg))
    efs = cfg.ef_search if engine.indexed else (None,)
    setups = {ef: query_setup(dsn, engine, schema, oid, ds, ef, cfg) for ef in efs}
    out["plan"] = check_plans(setups, engine, schema, ds)
    params = eng.encode_vectors(ds.queries)
    out["points"] = []
    for ef in efs:
        out["points"].append(measure_point(setups[ef], engine, ds, params, ef, cfg))
    out.update(insert_throughput(conn, engine, ds, cfg))


def run_engine(dsn: str, engine: eng.EngineSpec, schema: str | None, ds: Dataset, cfg: Config) -> dict:
    """All measurements for one engine, never raising for the engine's own failures.

    Status 'unavailable' (extension, access method or GUC missing) or 'FAILED' (the plan does
    not use the index, a query errors, the backend crashes) comes with a reason; the run goes
    on with the next engine."""
    result = {"engine": engine.name, "method": engine.method or "seq scan", "status": "ok"}
    if schema is None:
        return {**result, "status": "unavailable", "reason": f"extension {engine.extension} is not available"}
    log(f"engine {engine.name} ({engine.extension} in schema {schema}, {result['method']})")
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            measure_engine(conn, dsn, engine, schema, ds, cfg, result)
    except eng.EngineUnavailable as exc:
        result.update(status="unavailable", reason=str(exc))
    except (measure.MeasurementError, psycopg.Error) as exc:
        result.update(status="FAILED", reason=f"{type(exc).__name__}: {exc}".strip(),
                      detail=getattr(exc, "detail", None))
    if result["status"] != "ok":
        log(f"  {engine.name}: {result['status']}: {result['reason']}")
    if result["status"] != "ok" or not cfg.keep_tables:
        with wait_for_server(dsn) as conn:
            eng.drop_table(conn, engine)
    return result


# ---------------------------------------------------------------------------------------------
# Main


def command_line(argv: list[str]) -> str:
    """The exact command, with paths relative to the current directory where shorter."""
    def rel(p: str) -> str:
        r = os.path.relpath(p)
        return r if not r.startswith("../..") else p
    return shlex.join([rel(sys.executable), rel(sys.argv[0])] + argv)


def dataset_info(ds: Dataset) -> dict:
    return {"name": ds.name, "n": len(ds.base), "dim": ds.dim, "queries": len(ds.queries),
            "metric": ds.metric, "source": ds.source}


def write_json(run: dict, out_dir: Path) -> Path:
    """Write the run to <out_dir>/<timestamp>.json and return the path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{dt.datetime.now().strftime('%Y%m%dT%H%M%S')}-{run['dataset']['name']}.json"
    path.write_text(json.dumps(run, indent=2, default=str))
    return path


def run_engines(dsn: str, ds: Dataset, cfg: Config) -> tuple[dict, list[dict]]:
    """Install the extensions, describe the environment, run every engine in turn.

    The environment is stamped again at the end: if ruvec.so was replaced during the run
    (another session reinstalling it), the report says so."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        needed = {eng.ENGINES[n].extension for n in cfg.engines}
        schemas = {ext: eng.ensure_extension(conn, ext) for ext in sorted(needed)}
        env = environment(conn)
    results = [run_engine(dsn, eng.ENGINES[n], schemas[eng.ENGINES[n].extension], ds, cfg) for n in cfg.engines]
    env["load_average_end"] = os.getloadavg()
    with wait_for_server(dsn) as conn:
        env["ruvec_library_end"] = library_stamp(conn, "ruvec")
    if env["ruvec_library_end"] != env["ruvec_library"]:
        env["ruvec_library_changed"] = (f"ruvec.so changed during the run ({env['ruvec_library']} -> "
                                        f"{env['ruvec_library_end']}): ruvec results may mix two builds")
    return env, results


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    cfg = config_from(args)
    shared = Path(os.environ.get("RUVEC_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
    log(f"loading dataset {cfg.dataset}")
    ds = load_dataset(cfg.dataset, shared=shared, cache=REPO_ROOT / "target" / "bench-data", metric=cfg.metric,
                      queries=cfg.queries, clusters=cfg.clusters, seed=cfg.seed)
    log(f"dataset {ds.name}: {len(ds.base):,} x {ds.dim}, {len(ds.queries)} queries, {ds.metric}")
    started = dt.datetime.now().isoformat(timespec="seconds")
    with database(args.dsn, args.port, args.keep, args.shared_buffers) as dsn:
        env, results = run_engines(dsn, ds, cfg)
    run = {"command": command_line(argv), "started": started, "config": asdict(cfg),
           "dataset": dataset_info(ds), "environment": env, "engines": results}
    run["summary"] = report.summarise(run)
    markdown = report.to_markdown(run)
    run["markdown"] = markdown
    print(markdown)
    log(f"results written to {write_json(run, args.out_dir)}")
    failed = [e["engine"] for e in results if e["status"] == "FAILED"]
    if failed:
        log(f"FAILED engines: {', '.join(failed)} (see the notes at the end of the report)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
