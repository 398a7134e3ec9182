"""Turn a finished run (a plain dict) into Markdown tables and the ruvec/pgvector ratios."""
from __future__ import annotations


def _fmt(value, digits: int = 1, empty: str = "–") -> str:
    """Format a number with `digits` decimals (thousands separated), or `empty` for None."""
    if value is None:
        return empty
    return f"{value:,.{digits}f}"


def _mb(nbytes) -> str:
    return _fmt(None if nbytes is None else nbytes / 2**20, 1)


def first_point_reaching(engine: dict, target: float) -> dict | None:
    """The measured point with the smallest ef_search whose recall is >= target."""
    points = [p for p in engine.get("points", []) if p["recall"] >= target]
    return min(points, key=lambda p: p["ef_search"] or 0) if points else None


def _qps(point: dict | None, clients: int):
    if not point:
        return None
    return next((t["qps"] for t in point["timings"] if t["clients"] == clients), None)


def _ratio(a, b) -> str:
    return f"{a / b:.2f}×" if a is not None and b else "n/a"


def summarise(run: dict) -> dict:
    """Per engine: QPS at the first ef reaching the recall target, build time, index size;
    plus ruvec/pgvector ratios of each (None where either side is missing)."""
    target, clients = run["config"]["recall_target"], run["config"]["clients"]
    per_engine = {}
    for e in run["engines"]:
        p = first_point_reaching(e, target)
        per_engine[e["engine"]] = {
            "status": e["status"],
            "ef_search": p["ef_search"] if p else None,
            "recall": p["recall"] if p else None,
            "qps": {c: _qps(p, c) for c in clients},
            "build_s": e.get("build_s"),
            "index_bytes": e.get("index_bytes"),
        }
    pg = per_engine.get("pgvector")

    def ratios_of(rv):
        out = {f"qps_{c}c": (rv["qps"][c] / pg["qps"][c] if rv["qps"][c] and pg["qps"][c] else None)
               for c in clients}
        for key in ("build_s", "index_bytes"):
            out[key] = rv[key] / pg[key] if rv[key] and pg[key] else None
        return out

    # every ruvec engine (plain and storage tiers) against pgvector's plain hnsw
    all_ratios = {name: ratios_of(v) for name, v in per_engine.items()
                  if name.startswith("ruvec") and pg} if pg else {}
    return {"recall_target": target, "engines": per_engine,
            "ruvec_over_pgvector": all_ratios.get("ruvec"), "over_pgvector": all_ratios}


def _loadavg(values) -> str:
    return "/".join(f"{v:.1f}" for v in values)


def header_lines(run: dict) -> list[str]:
    """Command line, dataset, index parameters and environment."""
    c, ds, env = run["config"], run["dataset"], run["environment"]
    return [
        "```sh", run["command"], "```", "",
        f"- Dataset `{ds['name']}`: {ds['n']:,} × {ds['dim']} base, {ds['queries']:,} queries, "
        f"metric {ds['metric']}, k = {c['k']}; {ds['source']}",
        f"- Index: m = {c['m']}, ef_construction = {c['ef_construction']}; maintenance_work_mem = "
        f"{c['maintenance_work_mem']}, max_parallel_maintenance_workers = {c['parallel_workers']}; "
        f"build time: fastest of {c.get('build_trials', 1)} build(s)",
        "- ruvec storage tiers: ruvec.rerank = "
        + (str(c['rerank']) if c.get('rerank') is not None else "ef_search (every candidate of the first batch)")
        + "; pgvector-bq re-ranks ef_search Hamming candidates by the exact distance in SQL",
        "- ruvec code cache (ruvec.code_cache_mem, per backend): "
        + (c.get('code_cache_mem') or "server default (64MB unless configured)"),
        f"- Queries: prepared, binary parameters, jit = off, max_parallel_workers_per_gather = 0"
        f"{', enable_seqscan = off for indexed engines' if c['force_index'] else ''}; {c['warmup']} warm-up queries per client, "
        f"each client runs the query list ≥ {c['repeat']}× from its own offset and for ≥ {c['min_time']:g} s; "
        f"best of {c['trials']} trial(s), engines taking turns in alternating order"
        f"{'; client i and its backend pinned to CPU i' if c['pin'] else '; no CPU pinning'}",
        f"- {env['postgres']}; extensions: {env['extensions']}; shared_buffers {env['shared_buffers']}",
        f"- Libraries: ruvec.so {env.get('ruvec_library') or '–'}; vector.so {env.get('vector_library') or '–'}",
        *([f"- **Warning**: {env['ruvec_warning']}"] if env.get("ruvec_warning") else []),
        *([f"- **Warning**: {env['ruvec_library_changed']}"] if env.get("ruvec_library_changed") else []),
        f"- Machine: {env['cpu']}, {env['cpus']} CPUs; load average (1/5/15 min) "
        f"{_loadavg(env['load_average_start'])} at start, {_loadavg(env['load_average_end'])} at end",
    ]


def engine_table(run: dict) -> list[str]:
    """One row per engine: status, load/build time, sizes and insert throughput."""
    lines = ["| engine | status | load s | build s | index MB | table MB | insert rows/s |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for e in run["engines"]:
        lines.append(f"| {e['engine']} | {e['status']} | {_fmt(e.get('load_s'), 2)} | {_fmt(e.get('build_s'), 2)} "
                     f"| {_mb(e.get('index_bytes'))} | {_mb(e.get('table_bytes'))} "
                     f"| {_fmt(e.get('insert_rows_per_s'), 0)} |")
    return lines


def points_table(run: dict) -> list[str]:
    """One row per engine × ef_search: recall, QPS per client count, single-client latency."""
    clients = run["config"]["clients"]
    k = run["config"]["k"]
    head = (f"| engine | ef_search | recall@{k} | " + " | ".join(f"QPS {c}c" for c in clients)
            + f" | p50 ms ({clients[0]}c) | p99 ms ({clients[0]}c) |")
    lines = [head, "|---|---:|---:|" + "---:|" * (len(clients) + 2)]
    for e in run["engines"]:
        for p in e.get("points", []):
            t = {x["clients"]: x for x in p["timings"]}
            first = t.get(clients[0], {})
            lines.append(f"| {e['engine']} | {p['ef_search'] if p['ef_search'] is not None else '–'} "
                         f"| {p['recall']:.4f} | " + " | ".join(_fmt(t.get(c, {}).get('qps'), 0) for c in clients)
                         + f" | {_fmt(first.get('p50_ms'), 3)} | {_fmt(first.get('p99_ms'), 3)} |")
    return lines


def summary_lines(run: dict) -> list[str]:
    """The baseline to beat and the ruvec/pgvector ratios."""
    s = run["summary"]
    clients = run["config"]["clients"]
    lines = [f"At the smallest ef_search reaching recall ≥ {s['recall_target']}:", "",
             "| engine | ef_search | recall | " + " | ".join(f"QPS {c}c" for c in clients)
             + " | build s | index MB |",
             "|---|---:|---:|" + "---:|" * (len(clients) + 2)]
    for name, v in s["engines"].items():
        if name.startswith("exact"):
            continue
        reached = v["status"] if v["status"] != "ok" else "not reached"
        lines.append(f"| {name} | {v['ef_search'] if v['ef_search'] is not None else reached} "
                     f"| {_fmt(v['recall'], 4)} | " + " | ".join(_fmt(v['qps'][c], 0) for c in clients)
                     + f" | {_fmt(v['build_s'], 2)} | {_mb(v['index_bytes'])} |")
    ratios = s.get("over_pgvector") or ({"ruvec": s["ruvec_over_pgvector"]} if s.get("ruvec_over_pgvector") else {})
    if ratios:
        lines.append("")
        for name, r in ratios.items():
            parts = [f"QPS {c}c {_ratio(r[f'qps_{c}c'], 1.0)}" for c in clients]
            parts += [f"build time {_ratio(r['build_s'], 1.0)}", f"index size {_ratio(r['index_bytes'], 1.0)}"]
            lines.append(f"- {name} / pgvector: " + ", ".join(parts))
    else:
        lines += ["", "ruvec / pgvector: n/a (both engines must have run)"]
    return lines


def notes_lines(run: dict) -> list[str]:
    """Plans, server notices and reasons for unavailable engines."""
    lines = []
    for e in run["engines"]:
        if e.get("reason"):
            reason = " ".join(str(e["reason"]).split())
            lines.append(f"- {e['engine']}: {e['status']} — {reason}")
        if e.get("plan"):
            lines.append(f"- {e['engine']} plan: `{e['plan']}`")
        for n in e.get("notices", []):
            lines.append(f"- {e['engine']} notice: {n}")
    return lines


def to_markdown(run: dict) -> str:
    """The full Markdown report of one run."""
    parts = header_lines(run) + [""] + engine_table(run) + [""] + points_table(run) + [""] + summary_lines(run)
    notes = notes_lines(run)
    if notes:
        parts += [""] + notes
    return "\n".join(parts) + "\n"
