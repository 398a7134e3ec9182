#!/usr/bin/env python3
"""SQL benchmark driver: ruvec (`ruhnsw`) vs pgvector (`hnsw`) vs exact scan, in one database.

    target/pyenv/bin/python benches/sql/bench.py --dataset sift5k --engines exact,ruvec,pgvector

Loads the dataset into one table per engine (binary COPY), builds the indexes, checks the
plans, then for every ef_search value measures tie-aware recall@k, QPS with 1..N clients and
latency, and finally times inserts into the indexed tables; the engines take turns in every
phase (runner.py). Prints a Markdown report and writes
the full results as JSON under target/bench-results/. See benches/sql/README.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import psycopg

import engines as eng
import report
import runner
from datasets import DATASET_HELP, METRICS, Dataset, load_dataset
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
    build_trials: int
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
                    help="repeat each timed run N times and report the fastest (for noisy machines); "
                         "the engines take turns, in alternating order")
    ap.add_argument("--build-trials", type=int, default=1,
                    help="build each index N times, engines taking turns in alternating order, and "
                         "report the fastest build")
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
        build_trials=max(1, args.build_trials),
        warmup=args.warmup, insert_rows=args.insert_rows, maintenance_work_mem=args.maintenance_work_mem,
        parallel_workers=args.parallel_workers, recall_target=args.recall_target, clusters=args.clusters,
        seed=args.seed, keep_tables=args.keep_tables, force_index=args.force_index,
        pin=args.pin, rerank=args.rerank, code_cache_mem=args.code_cache_mem)


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
    """Install the extensions, describe the environment, run the engines (runner.py).

    The environment is stamped again at the end: if ruvec.so was replaced during the run
    (another session reinstalling it), the report says so."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        needed = {eng.ENGINES[n].extension for n in cfg.engines}
        schemas = {ext: eng.ensure_extension(conn, ext) for ext in sorted(needed)}
        env = environment(conn)
    results = runner.run_all(dsn, [(eng.ENGINES[n], schemas[eng.ENGINES[n].extension]) for n in cfg.engines], ds, cfg)
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
