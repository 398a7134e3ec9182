"""Backend-local copies of element codes (src/am/hnsw/codecache.rs): a scan measures elements
this backend has read before without visiting their index pages.

- Repeated queries in one session measure the elements on the copies (ruvec.scan_stats) and
  return exactly what the session returns with the copies off.
- VACUUM starts a new epoch: a session whose copies predate a VACUUM that freed elements and
  inserts that reused the slots for other vectors still returns the exact top-k (a stale copy
  would measure a new row on the freed vector's code, and the scan would miss it).
- ruvec.code_cache_mem bounds the memory the copies take; 0 turns them off.
(A standby session across a replayed VACUUM: test_durability.py's replica test.)
"""
import numpy as np
import psycopg
import pytest

from conftest import dsn
from test_ruhnsw_recall import K, vec_text

DIMS = 32


def scan_stats(conn):
    cols = ["scans", "navigated", "reranked", "page_reads", "cache_reads", "cache_elements",
            "cache_bytes"]
    return dict(zip(cols, conn.execute("SELECT * FROM ruvec.scan_stats()").fetchone()))


def load(conn, table, ids, X):
    with conn.cursor().copy(f"COPY {table} (id, v) FROM STDIN") as cp:
        for i, x in zip(ids, X):
            cp.write_row((int(i), vec_text(x)))


def topk(conn, table, q, k=K):
    return [r[0] for r in conn.execute(
        f"SELECT id FROM {table} ORDER BY v <-> %s::vector LIMIT {k}", (vec_text(q),))]


@pytest.mark.parametrize("storage", ["f32", "int8"])
def test_repeated_queries_use_the_copies(conn, storage):
    rng = np.random.default_rng(7)
    X = rng.standard_normal((2000, DIMS)).astype(np.float32)
    Q = rng.standard_normal((20, DIMS)).astype(np.float32)
    t = f"cc_{storage}"
    conn.execute(f"CREATE TABLE {t} (id int PRIMARY KEY, v vector({DIMS}))")
    load(conn, t, range(len(X)), X)
    conn.execute(f"CREATE INDEX ON {t} USING ruhnsw (v vector_l2_ops) WITH (storage = '{storage}')")
    conn.execute("SET enable_seqscan = off")

    conn.execute("SELECT ruvec.scan_stats_reset()")
    first = [topk(conn, t, q) for q in Q]
    s1 = scan_stats(conn)
    assert s1["page_reads"] > 0 and s1["cache_elements"] > 0
    again = [topk(conn, t, q) for q in Q]
    s2 = scan_stats(conn)
    assert again == first
    reads, hits = s2["page_reads"] - s1["page_reads"], s2["cache_reads"] - s1["cache_reads"]
    print(f"{storage}: second pass {hits} elements from copies, {reads} from pages")
    assert hits > 0 and reads == 0  # the same queries meet the same elements
    if storage == "f32":  # at least the copies themselves (level byte + 32 floats each)
        assert s2["cache_bytes"] >= s2["cache_elements"] * (4 * DIMS + 1)

    conn.execute("SET ruvec.code_cache_mem = 0")
    off = [topk(conn, t, q) for q in Q]
    s3 = scan_stats(conn)
    assert off == first
    assert s3["cache_reads"] == s2["cache_reads"] and s3["cache_bytes"] == 0
    # rows come back in exact distance order
    for q, got in zip(Q, first):
        d = np.linalg.norm(X[got] - q, axis=1)
        assert np.all(np.diff(d) >= -1e-5), d


def test_vacuum_epoch_drops_copies_of_reused_slots(conn, database):
    rng = np.random.default_rng(11)
    n = 3000
    X = rng.standard_normal((n, DIMS)).astype(np.float32)
    conn.execute(f"CREATE TABLE cc_epoch (id int PRIMARY KEY, v vector({DIMS}))")
    load(conn, "cc_epoch", range(n), X)
    conn.execute("CREATE INDEX cc_epoch_idx ON cc_epoch USING ruhnsw (v vector_l2_ops)")
    conn.execute("ALTER TABLE cc_epoch SET (autovacuum_enabled = off)")

    # Session A copies (almost) every element.
    conn.execute("SET enable_seqscan = off")
    conn.execute("SET ruvec.ef_search = 1000")
    for q in X[:20]:
        topk(conn, "cc_epoch", q, 100)
    assert scan_stats(conn)["cache_elements"] > 0.9 * n

    # Session B deletes half the rows, VACUUM frees their elements, and new rows with other
    # vectors take the freed slots (the index does not grow).
    Y = (rng.standard_normal((n // 2, DIMS)) * 3).astype(np.float32)
    with psycopg.connect(dsn(database), autocommit=True) as b:
        b.execute("DELETE FROM cc_epoch WHERE id % 2 = 0")
        b.execute("VACUUM cc_epoch")
        size = b.execute("SELECT pg_relation_size('cc_epoch_idx')").fetchone()[0]
        load(b, "cc_epoch", range(n, n + len(Y)), Y)
        assert b.execute("SELECT pg_relation_size('cc_epoch_idx')").fetchone()[0] == size

    # Session A, same backend: the exact top-k around the new rows.
    live = {i: X[i] for i in range(1, n, 2)} | {n + j: y for j, y in enumerate(Y)}
    ids = np.array(list(live))
    M = np.stack(list(live.values()))
    conn.execute("SET ruvec.ef_search = 400")
    for y in Y[:30]:
        q = y + 0.05 * rng.standard_normal(DIMS).astype(np.float32)
        got = topk(conn, "cc_epoch", q)
        d = np.linalg.norm(M - q, axis=1)
        want = list(ids[np.argsort(d, kind="stable")[:K]])
        assert got == want
    s = scan_stats(conn)
    assert s["cache_reads"] > 0  # the new epoch's copies are in use again


def test_code_cache_mem_bounds_the_copies(conn):
    rng = np.random.default_rng(5)
    n = 20000
    X = rng.standard_normal((n, DIMS)).astype(np.float32)
    Q = rng.standard_normal((30, DIMS)).astype(np.float32)
    conn.execute(f"CREATE TABLE cc_budget (id int PRIMARY KEY, v vector({DIMS}))")
    load(conn, "cc_budget", range(n), X)
    conn.execute("CREATE INDEX ON cc_budget USING ruhnsw (v vector_l2_ops)")
    conn.execute("SET enable_seqscan = off")
    conn.execute("SET ruvec.ef_search = 400")
    conn.execute("SET ruvec.code_cache_mem = 0")
    want = [topk(conn, "cc_budget", q) for q in Q]

    conn.execute("SET ruvec.code_cache_mem = '1MB'")  # room for about 7,000 copies of 128-byte codes
    got = [topk(conn, "cc_budget", q) for q in Q]
    s = scan_stats(conn)
    print(f"1MB: {s['cache_elements']} copies in {s['cache_bytes']} bytes")
    assert got == want
    assert 0 < s["cache_bytes"] <= 1024 * 1024
    assert 1000 < s["cache_elements"] < n  # full: the rest was read from pages
    got = [topk(conn, "cc_budget", q) for q in Q]
    assert got == want and scan_stats(conn)["cache_bytes"] <= 1024 * 1024
