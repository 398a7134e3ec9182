"""Recall of the ruhnsw index against exact ground truth (DESIGN.md §5 tier 5).

Default settings (m = 16, ef_construction = 64, ruvec.ef_search = 40) on the real fixtures in
../shared/data: recall@10 must be >= 0.95 after the build, after further inserts, and after
delete + VACUUM + reinsert. Recall is tie-aware: a returned id counts when its true distance is
no worse than the 10th true distance.
"""
import os

import numpy as np
import pytest

from conftest import SHARED_DATA

K = 10
THRESHOLD = 0.95


def fvecs(path):
    a = np.fromfile(path, dtype="<i4")
    d = a[0]
    return a.reshape(-1, d + 1)[:, 1:].view("<f4")


def ivecs(path):
    a = np.fromfile(path, dtype="<i4")
    d = a[0]
    return a.reshape(-1, d + 1)[:, 1:]


def vec_text(v):
    return "[" + ",".join(repr(float(x)) for x in v) + "]"


FIXTURES = {
    # name: (base, queries, metric, opclass, operator, column type)
    "sift5k": ("vectors/sift5k/base.fvecs", "vectors/sift5k/query.fvecs", "l2", "vector_l2_ops", "<->"),
    "bigann10k": ("vectors/bigann10k/base.fvecs", "vectors/bigann10k/query.fvecs", "l2", "vector_l2_ops", "<->"),
    "bge-m3": ("vectors/bge-m3/paragraph.fvecs", "vectors/bge-m3/sentence.fvecs", "cosine", "vector_cosine_ops", "<=>"),
}


def exact_distances(base, queries, metric):
    if metric == "l2":
        d = (queries**2).sum(1)[:, None] - 2 * queries @ base.T + (base**2).sum(1)[None, :]
        return np.maximum(d, 0)
    bn = base / np.linalg.norm(base, axis=1, keepdims=True)
    qn = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    return 1 - qn @ bn.T


def recall(conn, table, op, queries, dist, live):
    """Mean tie-aware recall@10 over the queries, restricted to the `live` base ids."""
    hits = 0
    with conn.cursor() as cur:
        for qi, q in enumerate(queries):
            cur.execute(f"SELECT id FROM {table} ORDER BY v {op} %s::vector LIMIT {K}", (vec_text(q),))
            got = [r[0] for r in cur.fetchall()]
            d = dist[qi, live]
            kth = np.partition(d, K - 1)[K - 1]
            tol = 1e-6 * max(1.0, abs(kth))
            hits += sum(1 for i in got if dist[qi, i] <= kth + tol)
    return hits / (K * len(queries))


def load(conn, table, base, ids):
    with conn.cursor() as cur:
        with cur.copy(f"COPY {table} (id, v) FROM STDIN") as cp:
            for i in ids:
                cp.write_row((int(i), vec_text(base[i])))


@pytest.mark.parametrize("name", list(FIXTURES))
def test_recall_build_insert_vacuum(conn, name):
    base_p, query_p, metric, opclass, op = FIXTURES[name]
    base_path = os.path.join(SHARED_DATA, base_p)
    base = fvecs(base_path)
    queries = fvecs(os.path.join(SHARED_DATA, query_p))[:100]
    dims = base.shape[1]
    dist = exact_distances(base.astype(np.float64), queries.astype(np.float64), metric)
    table = "r_" + name.replace("-", "_")
    conn.execute(f"DROP TABLE IF EXISTS {table}")
    conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, v vector({dims}))")
    n = len(base)
    first = np.arange(0, n * 8 // 10)
    rest = np.arange(n * 8 // 10, n)

    # 1. build on 80%, then insert the remaining 20% through aminsert
    load(conn, table, base, first)
    conn.execute(f"CREATE INDEX ON {table} USING ruhnsw (v {opclass})")
    load(conn, table, base, rest)
    conn.execute("SET enable_seqscan = off")
    plan = "\n".join(r[0] for r in conn.execute(
        f"EXPLAIN SELECT id FROM {table} ORDER BY v {op} %s::vector LIMIT 10", (vec_text(queries[0]),)))
    assert "ruhnsw" in plan or "Index Scan" in plan, plan
    r_all = recall(conn, table, op, queries, dist, np.arange(n))
    assert r_all >= THRESHOLD, f"{name}: recall after build+insert {r_all:.4f}"

    # 2. delete 20% at random, VACUUM, check against the surviving rows
    rng = np.random.default_rng(7)
    gone = rng.choice(n, size=n // 5, replace=False)
    conn.execute(f"DELETE FROM {table} WHERE id = ANY(%s)", (gone.tolist(),))
    conn.execute(f"VACUUM {table}")
    live = np.setdiff1d(np.arange(n), gone)
    r_live = recall(conn, table, op, queries, dist, live)
    assert r_live >= THRESHOLD, f"{name}: recall after delete+vacuum {r_live:.4f}"

    # 3. reinsert them: recall against the full ground truth again
    load(conn, table, base, gone)
    r_back = recall(conn, table, op, queries, dist, np.arange(n))
    assert r_back >= THRESHOLD, f"{name}: recall after reinsert {r_back:.4f}"
    print(f"{name}: recall@10 build+insert {r_all:.4f}, after vacuum {r_live:.4f}, after reinsert {r_back:.4f}")


def test_identical_vectors_all_found(conn):
    """Identical vectors are all found, whether they came with the build (where byte-identical
    rows share elements of up to 10 heap TIDs, like pgvector) or through inserts."""
    conn.execute("DROP TABLE IF EXISTS dup")
    conn.execute("CREATE TABLE dup (id int, v vector(8))")
    rng = np.random.default_rng(3)
    with conn.cursor() as cur:
        with cur.copy("COPY dup (id, v) FROM STDIN") as cp:
            for i in range(2000):
                cp.write_row((1000 + i, vec_text(rng.standard_normal(8) * 10)))
            for i in range(25):
                cp.write_row((i, vec_text(np.ones(8))))
    conn.execute("CREATE INDEX dup_v_idx ON dup USING ruhnsw (v vector_l2_ops)")
    stats = dict(conn.execute("SELECT stat, value FROM ruvec.index_stats('dup_v_idx')").fetchall())
    assert stats["heap_rows"] == 2025
    assert stats["elements.live"] == 2000 + 3  # 25 copies: elements of 10, 10 and 5 rows
    # and ten more through aminsert
    for i in range(25, 35):
        conn.execute("INSERT INTO dup VALUES (%s, %s)", (i, vec_text(np.ones(8))))
    conn.execute("SET enable_seqscan = off")
    got = [r[0] for r in conn.execute(f"SELECT id FROM dup ORDER BY v <-> %s::vector LIMIT 35", (vec_text(np.ones(8)),))]
    assert sorted(got) == list(range(35))
    failed = conn.execute("SELECT check_name, detail FROM ruvec.index_check('dup_v_idx') WHERE NOT ok").fetchall()
    assert failed == []


@pytest.mark.parametrize("storage", ["main", "external"])
def test_wide_vectors_planned_on_the_index(conn, storage):
    """768-d rows: kept in the row by the type's default STORAGE main, in TOAST with pgvector's
    external. Either way the planner picks the index for ORDER BY ... LIMIT without being
    forced (PostgreSQL leaves TOAST out of a seq scan's cost; amcostestimate scales its page
    costs by the same ratio), and the returned rows are the exact nearest ones."""
    t = f"wide_{storage}"
    conn.execute(f"DROP TABLE IF EXISTS {t}")
    conn.execute(f"CREATE TABLE {t} (id int, v vector(768))")
    conn.execute(f"ALTER TABLE {t} ALTER COLUMN v SET STORAGE {storage}")
    rng = np.random.default_rng(11)
    # low intrinsic dimension like real embeddings (i.i.d. 768-d noise has no neighbourhoods
    # for any graph to follow)
    latent = rng.standard_normal((20000, 16))
    base = (latent @ rng.standard_normal((16, 768)) + 0.05 * rng.standard_normal((20000, 768))).astype(np.float32)
    with conn.cursor() as cur:
        with cur.copy(f"COPY {t} (id, v) FROM STDIN") as cp:
            for i, row in enumerate(base):
                cp.write_row((i, vec_text(row)))
    toast = conn.execute(
        "SELECT pg_relation_size(reltoastrelid) FROM pg_class WHERE relname = %s", (t,)).fetchone()[0]
    assert (toast > 0) == (storage == "external"), toast
    conn.execute(f"CREATE INDEX ON {t} USING ruhnsw (v vector_l2_ops)")
    conn.execute(f"ANALYZE {t}")
    conn.execute("RESET enable_seqscan")
    q = vec_text(base[123] + 0.01)
    plan = "\n".join(r[0] for r in conn.execute(
        f"EXPLAIN SELECT id FROM {t} ORDER BY v <-> %s::vector LIMIT 10", (q,)))
    assert f"Index Scan using {t}_v_idx" in plan, plan
    got = [r[0] for r in conn.execute(f"SELECT id FROM {t} ORDER BY v <-> %s::vector LIMIT 10", (q,))]
    conn.execute("SET enable_indexscan = off")
    exact = [r[0] for r in conn.execute(f"SELECT id FROM {t} ORDER BY v <-> %s::vector LIMIT 10", (q,))]
    conn.execute("RESET enable_indexscan")
    assert got[0] == 123 and len(set(got) & set(exact)) >= 9, (got, exact)


@pytest.mark.parametrize("metric,opclass,op", [
    ("l2", "vector_l2_ops", "<->"),
    ("ip", "vector_ip_ops", "<#>"),
    ("cosine", "vector_cosine_ops", "<=>"),
    ("l1", "vector_l1_ops", "<+>"),
])
def test_f16_navigation_every_metric(conn, metric, opclass, op):
    """Builds of >= 256 dimensions navigate on scaled f16 copies (docs/ruhnsw.md): every
    metric still finds its exact top 10, and rows whose magnitudes differ by more than 2^13
    make the build keep f32."""
    rng = np.random.default_rng(17)
    n, dims = 2500, 300
    latent = rng.standard_normal((n + 50, 12))
    proj = rng.standard_normal((12, dims))
    data = (latent @ proj + 3.0 + 0.05 * rng.standard_normal((n + 50, dims))).astype(np.float32)
    base, queries = data[:n], data[n:]
    b, q = base.astype(np.float64), queries.astype(np.float64)
    if metric == "ip":
        dist = -(q @ b.T)
    elif metric == "l1":
        dist = np.abs(q[:, None, :] - b[None, :, :]).sum(2)
    else:
        dist = exact_distances(b, q, metric)
    messages = []
    conn.add_notice_handler(lambda d: messages.append(d.message_primary))
    for tiny_row in (False, True):
        rows = base.copy()
        if tiny_row:
            rows[7] *= 2.0 ** -20  # far below the others: f16 would lose it
        d = dist
        if tiny_row:
            d = dist.copy()
            r7 = rows[7].astype(np.float64)
            d[:, 7] = {"l2": ((q - r7) ** 2).sum(1), "ip": -(q @ r7), "l1": np.abs(q - r7).sum(1),
                       "cosine": dist[:, 7]}[metric]
        conn.execute("DROP TABLE IF EXISTS nav")
        conn.execute(f"CREATE TABLE nav (id int, v vector({dims}))")
        load(conn, "nav", rows, np.arange(n))
        messages.clear()
        conn.execute("SET client_min_messages = debug1")
        conn.execute(f"CREATE INDEX nav_idx ON nav USING ruhnsw (v {opclass})")
        conn.execute("RESET client_min_messages")
        used_f16 = any("navigating on f16 copies" in m for m in messages)
        assert used_f16 == (not tiny_row), messages
        conn.execute("SET enable_seqscan = off")
        r = recall(conn, "nav", op, queries, d, np.arange(n))
        assert r >= THRESHOLD, (tiny_row, r)


def test_build_spills_past_maintenance_work_mem(conn):
    """A graph larger than maintenance_work_mem is written out with a NOTICE and the rest of the
    rows go through the on-disk insert path; the index is complete and as good."""
    base = fvecs(os.path.join(SHARED_DATA, "vectors/sift5k/base.fvecs"))
    queries = fvecs(os.path.join(SHARED_DATA, "vectors/sift5k/query.fvecs"))[:50]
    dist = exact_distances(base.astype(np.float64), queries.astype(np.float64), "l2")
    conn.execute("DROP TABLE IF EXISTS spill")
    conn.execute("CREATE TABLE spill (id int PRIMARY KEY, v vector(128))")
    load(conn, "spill", base, np.arange(len(base)))
    notices = []
    conn.add_notice_handler(lambda d: notices.append(d.message_primary))
    conn.execute("SET maintenance_work_mem = '1MB'")
    conn.execute("CREATE INDEX spill_idx ON spill USING ruhnsw (v vector_l2_ops)")
    conn.execute("RESET maintenance_work_mem")
    assert any("no longer fits into maintenance_work_mem" in n for n in notices), notices
    rows = conn.execute("SELECT check_name, ok, detail FROM ruvec.index_check('spill_idx')").fetchall()
    assert all(r[1] for r in rows if r[0] != "reachable"), rows
    conn.execute("VACUUM spill")
    rows = conn.execute("SELECT check_name, ok, detail FROM ruvec.index_check('spill_idx')").fetchall()
    assert all(r[1] for r in rows), rows
    conn.execute("SET enable_seqscan = off")
    r = recall(conn, "spill", "<->", queries, dist, np.arange(len(base)))
    assert r >= THRESHOLD, f"recall after a spilled build {r:.4f}"


def build_with_workers(conn, table, index, workers):
    """CREATE INDEX with `workers` parallel workers allowed; returns how many were launched
    (from the build's DEBUG1 line, None when it built serially)."""
    msgs = []
    conn.add_notice_handler(lambda d: msgs.append(d.message_primary))
    conn.execute("SET min_parallel_table_scan_size = 0")
    conn.execute(f"SET max_parallel_maintenance_workers = {workers}")
    conn.execute("SET client_min_messages = debug1")
    try:
        conn.execute(f"CREATE INDEX {index} ON {table} USING ruhnsw (v vector_l2_ops)")
    finally:
        conn.execute("RESET client_min_messages")
        conn.execute("RESET max_parallel_maintenance_workers")
        conn.execute("RESET min_parallel_table_scan_size")
    launched = [m for m in msgs if m.startswith("ruhnsw build:") and "parallel workers launched" in m]
    return int(launched[-1].split()[2]) if launched else None


def test_parallel_build_with_postgres_workers(conn):
    """Large enough builds use Postgres parallel workers (max_parallel_maintenance_workers, as
    the planner grants them); the graph is the same whatever the number of workers, passes
    ruvec.index_check and keeps recall."""
    base = fvecs(os.path.join(SHARED_DATA, "vectors/bigann10k/base.fvecs"))
    queries = fvecs(os.path.join(SHARED_DATA, "vectors/bigann10k/query.fvecs"))[:100]
    dist = exact_distances(base.astype(np.float64), queries.astype(np.float64), "l2")
    conn.execute("DROP TABLE IF EXISTS par")
    conn.execute("CREATE TABLE par (id int PRIMARY KEY, v vector(128))")
    load(conn, "par", base, np.arange(len(base)))
    conn.execute("SET enable_seqscan = off")

    def answers():
        with conn.cursor() as cur:
            out = []
            for q in queries:
                cur.execute("SELECT id FROM par ORDER BY v <-> %s::vector LIMIT 10", (vec_text(q),))
                out.append([r[0] for r in cur.fetchall()])
            return out

    assert build_with_workers(conn, "par", "par_w2", 2) == 2
    rows = conn.execute("SELECT check_name, ok, detail FROM ruvec.index_check('par_w2')").fetchall()
    assert all(r[1] for r in rows), rows
    r = recall(conn, "par", "<->", queries, dist, np.arange(len(base)))
    assert r >= THRESHOLD, f"recall after a parallel build {r:.4f}"
    two = answers()
    size2 = conn.execute("SELECT pg_relation_size('par_w2')").fetchone()[0]
    conn.execute("DROP INDEX par_w2")

    assert build_with_workers(conn, "par", "par_w1", 1) == 1
    assert answers() == two
    assert conn.execute("SELECT pg_relation_size('par_w1')").fetchone()[0] == size2
    conn.execute("DROP INDEX par_w1")

    # No workers allowed: the serial build (a different insertion order, same quality).
    assert build_with_workers(conn, "par", "par_w0", 0) is None
    r = recall(conn, "par", "<->", queries, dist, np.arange(len(base)))
    assert r >= THRESHOLD, f"recall after a serial build {r:.4f}"
    conn.execute("DROP TABLE par")


def test_parallel_build_worker_killed(conn, database):
    """A parallel worker terminated mid-build fails the CREATE INDEX cleanly (no index left
    behind, the session and the table stay usable)."""
    import threading
    import time

    import psycopg

    from conftest import dsn

    rng = np.random.default_rng(5)
    conn.execute("DROP TABLE IF EXISTS park")
    conn.execute("CREATE TABLE park (id int PRIMARY KEY, v vector(256))")
    load(conn, "park", rng.standard_normal((40_000, 256)).astype(np.float32), np.arange(40_000))
    stop = threading.Event()
    killed = []

    def killer():
        with psycopg.connect(dsn(database), autocommit=True) as k:
            while not stop.is_set():
                r = k.execute("SELECT pid FROM pg_stat_activity WHERE backend_type = 'parallel worker' "
                              "AND wait_event = 'Extension'").fetchall()
                if r:
                    k.execute("SELECT pg_terminate_backend(%s)", (r[0][0],))
                    killed.append(r[0][0])
                    return
                time.sleep(0.05)

    t = threading.Thread(target=killer)
    t.start()
    try:
        with pytest.raises(psycopg.Error):
            build_with_workers(conn, "park", "park_idx", 2)
    finally:
        stop.set()
        t.join()
    assert killed, "no parallel worker was seen"
    assert conn.execute("SELECT count(*) FROM pg_class WHERE relname = 'park_idx'").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM park").fetchone()[0] == 40_000
    conn.execute("DROP TABLE park")
