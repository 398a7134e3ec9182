#!/usr/bin/env python3
"""`storage = 'auto'` under a skewed workload: size, recall and QPS before and after retier.

    target/pyenv/bin/python benches/sql/auto_tiers.py --dataset bigann10k

A workload that keeps asking the same `--hot-queries` queries (`--reps` times each, plus every
other query once) is run against a fresh auto index (every vector at the archive tier), then
`ruvec.retier()` moves the vectors it returned to the hot / warm tiers, and the same workload
is measured again. Fixed-tier `f32` and `binary` indexes on the same table, measured with the
same queries, are the reference points. Single client, default ef_search and rerank; QPS is the
best of `--trials` timed passes over the hot queries. Prints a Markdown table.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import psycopg

from datasets import load_dataset, per_query_recall
from server import REPO_ROOT, database, log

OPS = {"l2": ("<->", "vector_l2_ops"), "cosine": ("<=>", "vector_cosine_ops"),
       "ip": ("<#>", "vector_ip_ops")}


def lit(v: np.ndarray) -> str:
    return "[" + ",".join(repr(float(x)) for x in v) + "]"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="bigann10k")
    ap.add_argument("--hot-queries", type=int, default=50)
    ap.add_argument("--reps", type=int, default=6)
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--port", type=int, default=55470)
    ap.add_argument("--dsn")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    ds = load_dataset(args.dataset, shared=REPO_ROOT.parent / "shared" / "data",
                      cache=REPO_ROOT / "target" / "bench-cache")
    op, opclass = OPS[ds.metric]
    hot = list(range(min(args.hot_queries, len(ds.queries))))
    qlits = [lit(q) for q in ds.queries]
    with database(args.dsn, args.port, args.keep) as dsn, psycopg.connect(dsn, autocommit=True) as c:
        c.execute("CREATE EXTENSION IF NOT EXISTS ruvec")
        c.execute(f"CREATE TABLE items (id int PRIMARY KEY, v vector({ds.dim}))")
        with c.cursor() as cur, cur.copy("COPY items (id, v) FROM STDIN") as cp:
            for i, v in enumerate(ds.base):
                cp.write_row((i, lit(v)))
        c.execute("VACUUM ANALYZE items")
        c.execute("SET enable_seqscan = off")
        sql = f"SELECT id FROM items ORDER BY v {op} %s::vector LIMIT 10"

        def ask(qs):
            return [[r[0] for r in c.execute(sql, (qlits[j],), prepare=True)] for j in qs]

        def measure(label, storage):
            c.execute("SELECT ruvec.scan_stats_reset()")
            # (hot = the first queries, so results line up with the ground truth's rows)
            recall_hot = float(per_query_recall(ds, ask(hot), 10).mean())
            scans, reranked = c.execute("SELECT scans, reranked FROM ruvec.scan_stats()").fetchone()
            recall_all = float(per_query_recall(ds, ask(range(len(ds.queries))), 10).mean())
            best = 0.0
            for _ in range(args.trials):
                t0 = time.perf_counter()
                ask(hot)
                best = max(best, len(hot) / (time.perf_counter() - t0))
            size = c.execute("SELECT pg_relation_size('items_idx')").fetchone()[0]
            st = dict(c.execute("SELECT stat, value FROM ruvec.index_stats('items_idx')").fetchall())
            tiers = (f"{int(st['auto.hot.elements'])} / {int(st['auto.warm.elements'])} / "
                     f"{int(st['auto.cold.elements'])} / {int(st['auto.archive.elements'])}"
                     if storage == "auto" else "–")
            log(f"{label}: {size / 1048576:.2f} MB, recall hot {recall_hot:.4f}, QPS {best:.0f}")
            return (label, size, recall_hot, recall_all, best, reranked / max(scans, 1), tiers)

        rows = []
        for storage in ["f32", "binary", "auto"]:
            c.execute("DROP INDEX IF EXISTS items_idx")
            t0 = time.perf_counter()
            c.execute(f"CREATE INDEX items_idx ON items USING ruhnsw (v {opclass}) WITH (storage = '{storage}')")
            log(f"{storage}: built in {time.perf_counter() - t0:.1f} s")
            if storage != "auto":
                rows.append(measure(storage, storage))
                continue
            rows.append(measure("auto, fresh (all archive)", storage))
            for _ in range(args.reps):
                ask(hot)
            moved = c.execute("SELECT * FROM ruvec.retier('items_idx')").fetchone()
            log(f"retier: {moved}")
            rows.append(measure("auto, after workload + retier", storage))
        print(f"\n{ds.name}: {len(ds.base)} x {ds.dim} ({ds.metric}); workload: {len(hot)} hot queries "
              f"x {args.reps + 1 + args.trials} passes (+ every query once per measurement)\n")
        print("| index | size | recall@10 hot queries | recall@10 all queries | QPS hot queries | table rows re-read per query | hot / warm / cold / archive |")
        print("|---|---:|---:|---:|---:|---:|---|")
        for label, size, rh, ra, qps, rr, tiers in rows:
            print(f"| {label} | {size / 1048576:.2f} MB | {rh:.4f} | {ra:.4f} | {qps:.0f} | {rr:.1f} | {tiers} |")


if __name__ == "__main__":
    main()
