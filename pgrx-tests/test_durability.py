"""Durability of ruvec data on clusters each test makes for itself (DESIGN.md §3, §5 tier 4).

- a streaming hot standby answers exactly as its primary does,
- kill -9 of the postmaster loses no committed row and resurrects no uncommitted one,
- concurrent writers, readers and a VACUUM loop see consistent, correctly ordered results,
- an UNLOGGED table keeps its rows over a clean restart and is empty after a crash.

The data are real SIFT descriptors (../shared/data/vectors/sift5k). Every component is an
integer below 2^11, so float32, float16 and sparse forms hold them exactly, squared L2 distances
are exact integers (below 2^24) in any summation order, and the client can hold an exact model
of every table and compare the server against it.

Every test runs once per entry of INDEXES: "heap" (no index: ORDER BY ... LIMIT is an exact
sequential scan, checked against the model exactly) and "ruhnsw" (the same workload through an
HNSW index on v; approximate, so checked for
valid, correctly ordered, correctly measured results and a recall floor that a damaged graph
would miss). The index variant uses less data (SCALE): incremental HNSW inserts and VACUUM
cost far more than heap ones. The note at the end of this file says how to add variants.
"""
from contextlib import closing
import json
import os
import random
import re
import threading
import time

import numpy as np
import psycopg
import pytest

from harness import PG_BIN, read_fvecs, shared_data_path, sparse_literal, vector_literal

DIM = 128
COLUMNS = "id bigint PRIMARY KEY, v vector(128), h halfvec(128), s sparsevec(128)"
INSERT = "INSERT INTO {t} (id, v, h, s) VALUES (%s, %s::vector, %s::halfvec, %s::sparsevec)"


# DDL per index variant ({t}: table name). None: no index.
INDEXES = [
    pytest.param(None, id="heap"),
    pytest.param("CREATE INDEX {t}_v_idx ON {t} USING ruhnsw (v vector_l2_ops)", id="ruhnsw"),
    # quantized tiers: codebook pages in the build's WAL, navigation on codes, exact rerank
    # from the heap (on the standby too, with its own snapshot)
    pytest.param("CREATE INDEX {t}_v_idx ON {t} USING ruhnsw (v vector_l2_ops) WITH (storage = 'pq8')",
                 id="ruhnsw-pq8"),
    pytest.param("CREATE INDEX {t}_v_idx ON {t} USING ruhnsw (v vector_l2_ops) WITH (storage = 'binary')",
                 id="ruhnsw-binary"),
    # per-vector tiers: scans count accesses, ruvec.retier() and VACUUM add and remove upgrade
    # tuples (WAL-logged) while the other clients work; see Retierer
    pytest.param("CREATE INDEX {t}_v_idx ON {t} USING ruhnsw (v vector_l2_ops) WITH (storage = 'auto')",
                 id="ruhnsw-auto"),
]


def is_auto(index):
    return index is not None and "storage = 'auto'" in index


class Retierer:
    """A client that keeps moving the vectors of an auto index between tiers: a few scans
    (which count accesses), then ruvec.retier(), with a 2-second half-life so vectors go up
    and come down again while the test runs. `moves` = [promoted, demoted] so far; `stop(self)`
    ends the loop."""

    def __init__(self, pg, db, Q, errors, stop, expected_errors=None):
        self.moves = [0, 0]
        self.runs = 0
        rng = random.Random(7)

        def run():
            try:
                with closing(pg.connect(db)) as c:
                    c.execute("SET ruvec.access_half_life = '2s'")
                    use_index(c, "items", "auto")
                    while not stop(self):
                        for _ in range(3):
                            knn(c, "items", Q[rng.randrange(40)])
                        r = c.execute("SELECT * FROM ruvec.retier('items_v_idx')").fetchone()
                        self.moves[0] += r[0]
                        self.moves[1] += r[1]
                        self.runs += 1
                        time.sleep(0.05)
            except Exception as e:
                if expected_errors is None or not expected_errors.is_set():
                    errors.append(("retier", 0, e))

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()


def promote(c, Q):
    """Accesses, then a retier that moves vectors up (and the index still checks)."""
    for _ in range(5):
        for q in Q[:30]:
            knn(c, "items", q)
    promoted = c.execute("SELECT promoted FROM ruvec.retier('items_v_idx')").fetchone()[0]
    assert promoted > 0
    return promoted


def assert_index_check(c, index_name, skip=()):
    """ruvec.index_check passes (every check, except those named in `skip`)."""
    rows = c.execute("SELECT check_name, ok, detail FROM ruvec.index_check(%s::regclass)",
                     (index_name,)).fetchall()
    assert len(rows) == 7, rows
    bad = [r for r in rows if not r[1] and r[0] not in skip]
    assert not bad, f"index_check failed: {bad}"


# ---- data and the client-side model ----------------------------------------------------------


@pytest.fixture(scope="module")
def sift():
    base = shared_data_path("vectors", "sift5k", "base.fvecs")
    query = shared_data_path("vectors", "sift5k", "query.fvecs")
    X, Q = read_fvecs(base), read_fvecs(query)
    assert X.shape == (4500, DIM) and Q.shape == (500, DIM)
    assert np.array_equal(X, np.round(X)), "sift5k components are integers"
    return X, Q


def vec_for(X, i):
    """The vector stored under id i in the crash/concurrency/unlogged tables: a SIFT row plus a
    small integer shift, so ids beyond len(X) still get distinct exact vectors."""
    return X[i % len(X)] + np.float32((i // len(X)) % 7)


def row(i, x):
    lit = vector_literal(x)
    return (i, lit, lit, sparse_literal(x))


def copy_rows(conn, table, ids, vecs):
    with conn.cursor() as cur:
        with cur.copy(f"COPY {table} (id, v, h, s) FROM STDIN") as cp:
            for i, x in zip(ids, vecs):
                cp.write_row(row(i, x))


def parse_vec(text):
    return np.array(json.loads(text), dtype=np.float32)


def fetch_table(conn, table):
    """{id: v} as float32 arrays, plus a check that h and s hold the same values as v."""
    bad = conn.execute(
        f"SELECT count(*) FROM {table} WHERE h::vector <> v OR s::vector <> v").fetchone()[0]
    assert bad == 0, f"{bad} rows of {table} have halfvec/sparsevec columns that differ from v"
    return {i: parse_vec(t) for i, t in conn.execute(f"SELECT id, v::text FROM {table}")}


def knn(conn, table, q, col="v", op="<->", cast="vector", k=10):
    lit = sparse_literal(q) if cast == "sparsevec" else vector_literal(q)
    return conn.execute(
        f"SELECT id, {col} {op} %s::{cast} FROM {table} ORDER BY {col} {op} %s::{cast} LIMIT {k}",
        (lit, lit)).fetchall()


def assert_knn(results, model, index, k=10, min_recall=0.9):
    """results: [(q, [(id, distance)])] from ORDER BY v <-> q LIMIT k against the table whose
    exact contents are `model` ({id: vector}).

    Always: distinct ids that exist, each distance right for its id, ascending, min(k, n) rows.
    heap (exact scan): the squared distances are exactly the k smallest (tie-aware).
    index (approximate): mean tie-aware recall@k >= min_recall."""
    ids = np.fromiter(model.keys(), dtype=np.int64)
    M = np.stack(list(model.values())).astype(np.float64) if model else np.zeros((0, DIM))
    hits = total = 0
    for q, result in results:
        sq = ((M - q.astype(np.float64)) ** 2).sum(axis=1)  # exact: integers below 2^53
        by_id = dict(zip(ids.tolist(), sq.tolist()))
        want = np.sort(sq)[: min(k, len(sq))]
        got_ids = [r[0] for r in result]
        assert len(result) == len(want), f"{len(result)} rows, want {len(want)}"
        assert len(set(got_ids)) == len(got_ids), f"duplicate ids in {got_ids}"
        assert all(i in by_id for i in got_ids), f"ids not in the table: {set(got_ids) - set(by_id)}"
        for (i, d) in result:
            assert d == pytest.approx(np.sqrt(by_id[i]), rel=1e-6, abs=1e-6), (i, d, by_id[i])
        assert_sorted(result)
        got = np.array([by_id[i] for i in got_ids])
        if index is None:
            assert np.array_equal(np.sort(got), want), f"not the exact {k}-NN: {got} vs {want}"
        elif len(want):
            hits += int(np.sum(got <= want[-1]))
            total += len(want)
    if index is not None and total:
        assert hits / total >= min_recall, f"recall@{k} {hits / total:.3f} < {min_recall}"


def assert_sorted(result):
    d = [r[1] for r in result]
    assert all(a <= b for a, b in zip(d, d[1:])), f"distances out of order: {d}"


def setup_index(conn, table, index):
    """Create the variant's index (if any), then make the planner use it and prove that it
    does, so an index variant cannot silently test a sequential scan."""
    if index is None:
        return
    conn.execute(index.format(t=table))
    m = re.search(r"storage = '(\w+)'", index)
    if m:
        # the tier is really in use whenever there were rows enough to train its codebook
        rows = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        detail = conn.execute("SELECT detail FROM ruvec.index_check(%s::regclass) WHERE check_name = 'meta'",
                              (f"{table}_v_idx",)).fetchone()[0]
        assert f"storage {m.group(1) if rows >= 256 else 'f32'}" in detail, (rows, detail)
    use_index(conn, table, index)


def use_index(conn, table, index):
    if index is None:
        return
    conn.execute("SET enable_seqscan = off")
    zero = vector_literal(np.zeros(DIM, dtype=np.float32))
    plan = "\n".join(r[0] for r in conn.execute(
        f"EXPLAIN SELECT id FROM {table} ORDER BY v <-> %s::vector LIMIT 10", (zero,)))
    assert f"Index Scan using {table}_v_idx" in plan, plan


# Row counts per variant. Heap rows are cheap; every HNSW insert searches the graph and
# rewrites neighbour pages under Generic WAL, and VACUUM repairs links, so the index variant
# writes fewer rows through the index (its bulk build is fast, so base data go in before it).
SCALE = {
    "heap": dict(rep_base=2000, rep_stream=2500, rep_update_mod=10, rep_delete_mod=9,
                 rep_refill=300, crash_preload=500, crash_rows=1200, conc_rows=2000,
                 conc_batch=20, unl_rows=500),
    "index": dict(rep_base=1500, rep_stream=120, rep_update_mod=60, rep_delete_mod=45,
                  rep_refill=30, crash_preload=1000, crash_rows=120, conc_rows=60,
                  conc_batch=10, unl_rows=500),
}


def scale(index):
    return SCALE["heap" if index is None else "index"]


# ---- 1. streaming replica --------------------------------------------------------------------


@pytest.mark.parametrize("index", INDEXES)
def test_hot_standby_answers_exactly_like_primary(make_cluster, sift, index):
    X, Q = sift
    sc = scale(index)
    n0, n1 = sc["rep_base"], sc["rep_base"] + sc["rep_stream"]
    primary = make_cluster("primary")
    db = primary.create_db_with_extension("rep")
    model = {}
    with primary.connect(db) as c:
        c.execute(f"CREATE TABLE items ({COLUMNS})")
        copy_rows(c, "items", range(n0), X[:n0])  # these rows travel in the base backup ...
        model.update({i: X[i].copy() for i in range(n0)})

    standby = primary.make_standby()

    # ... everything from here on through streamed WAL: the index build (log_newpage_range),
    # inserts, updates, deletes, VACUUM, inserts into the space VACUUM freed
    with primary.connect(db) as c:
        setup_index(c, "items", index)
        copy_rows(c, "items", range(n0, n1), X[n0:n1])
        model.update({i: X[i].copy() for i in range(n0, n1)})

    # A standby session that searches the index before the changes below are replayed: its
    # backend keeps copies of element codes, which must not outlive the replayed VACUUM that
    # frees elements whose slots the refill reuses (it answers like the primary at the end).
    assert primary.wait_for_replay(standby)
    early = standby.connect(db)
    use_index(early, "items", index)
    for q in Q[:20]:
        assert len(knn(early, "items", q)) == 10

    with primary.connect(db) as c:
        shift = (np.arange(DIM) % 3).astype(np.float32)  # zeros too: the sparse pattern changes
        lit = vector_literal(shift)
        um, dm = sc["rep_update_mod"], sc["rep_delete_mod"]
        n = c.execute("UPDATE items SET v = v + %s::vector, h = (v + %s::vector)::halfvec, "
                      f"s = (v + %s::vector)::sparsevec WHERE id %% {um} = 3",
                      (lit, lit, lit)).rowcount
        updated = [i for i in model if i % um == 3]
        assert n == len(updated) > 0
        for i in updated:
            model[i] = model[i] + shift
        n = c.execute(f"DELETE FROM items WHERE id % {dm} = 4").rowcount
        deleted = [i for i in model if i % dm == 4]
        assert n == len(deleted) > 0
        for i in deleted:
            del model[i]
        c.execute("VACUUM items")
        new = {10000 + j: X[j] + 1 for j in range(sc["rep_refill"])}
        copy_rows(c, "items", list(new), list(new.values()))
        model.update(new)
        c.execute("VACUUM ANALYZE items")
        if is_auto(index):  # vectors on every tier, in streamed WAL
            # (no autovacuum from here on: its retier would move vectors on the primary
            # between the replay wait and the comparison below)
            c.execute("ALTER TABLE items SET (autovacuum_enabled = off)")
            use_index(c, "items", index)
            promote(c, Q)
            c.execute("SET ruvec.access_half_life = '1s'")
            time.sleep(2)
            assert c.execute("SELECT demoted FROM ruvec.retier('items_v_idx')").fetchone()[0] > 0
            c.execute("RESET ruvec.access_half_life")
            promote(c, Q)
        if index is not None:
            assert_index_check(c, "items_v_idx")

    assert primary.wait_for_replay(standby)

    with primary.connect(db) as p, standby.connect(db) as s:
        assert s.execute("SELECT pg_is_in_recovery()").fetchone()[0] is True
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            s.execute(INSERT.format(t="items"), row(99999, X[0]))
        use_index(p, "items", index)
        use_index(s, "items", index)
        if index is not None:  # the replayed index passes the same check on the standby
            assert_index_check(s, "items_v_idx")
        if is_auto(index):
            tiers = "SELECT stat, value FROM ruvec.index_stats('items_v_idx') WHERE stat LIKE 'auto.%%.%%'"
            assert dict(s.execute(tiers).fetchall()) == dict(p.execute(tiers).fetchall())
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                s.execute("SELECT ruvec.retier('items_v_idx')")

        # the primary is right (so "equal" below means "equal and right") ...
        got = fetch_table(p, "items")
        assert got.keys() == model.keys()
        for i, x in got.items():
            assert np.array_equal(x, model[i]), i

        # ... and the standby holds the same rows, byte for byte in text form
        digest = ("SELECT count(*), md5(string_agg(id::text || v::text || h::text || s::text, "
                  "'|' ORDER BY id)) FROM items")
        assert s.execute(digest).fetchone() == p.execute(digest).fetchone()
        assert s.execute(digest).fetchone()[0] == len(model)

        # sum(h) itself would overflow halfvec's range (max 65504) on thousands of SIFT rows:
        # an error on both sides, so the halfvec values are summed as vector instead.
        aggs = ("SELECT count(*), avg(v)::text, sum(v)::text, avg(h)::text, "
                "sum(h::vector)::text FROM items")
        pa, sa = p.execute(aggs).fetchone(), s.execute(aggs).fetchone()
        assert sa == pa
        total = np.sum(np.stack(list(model.values())).astype(np.float64), axis=0)
        assert np.array_equal(parse_vec(pa[2]), total.astype(np.float32))

        l2 = []
        for q in Q[:20]:
            for col, op, cast in [("v", "<->", "vector"), ("v", "<=>", "vector"),
                                  ("v", "<#>", "vector"), ("v", "<+>", "vector"),
                                  ("h", "<->", "halfvec"), ("s", "<->", "sparsevec")]:
                pr = knn(p, "items", q, col, op, cast)
                assert len(pr) == 10
                assert_sorted(pr)
                assert knn(s, "items", q, col, op, cast) == pr, (col, op)
                assert knn(early, "items", q, col, op, cast) == pr, (col, op)
            l2.append((q, knn(p, "items", q)))
        assert_knn(l2, model, index)
    early.close()


# ---- 2. crash recovery -----------------------------------------------------------------------


@pytest.mark.parametrize("index", INDEXES)
def test_crash_recovery_keeps_committed_rows_only(make_cluster, sift, index):
    X, Q = sift
    sc = scale(index)
    pg = make_cluster("crash", fsync=True)
    db = pg.create_db_with_extension("crash")
    preload = list(range(700000, 700000 + sc["crash_preload"]))
    with pg.connect(db) as c:
        c.execute(f"CREATE TABLE items ({COLUMNS})")
        copy_rows(c, "items", preload, [vec_for(X, i) for i in preload])
        setup_index(c, "items", index)

    WRITERS, BATCH = 4, 5
    txns = []              # {"ids": [...], "state": open|in_doubt|committed|rolled_back}
    errors = []            # unexpected errors (before the crash)
    crashed = threading.Event()  # set just before kill -9: errors from then on are expected
    killed = threading.Event()   # set once every backend is gone
    holder_ready = threading.Event()
    ins = INSERT.format(t="items")

    def writer(t):
        try:
            with closing(pg.connect(db)) as c:  # closing(): never COMMIT on the way out
                k = 0
                while True:  # until the crash breaks the connection
                    ids = [t * 100000 + k + j for j in range(BATCH)]
                    k += BATCH
                    rollback = (k // BATCH) % 7 == 0
                    txn = {"ids": ids, "state": "open"}
                    txns.append(txn)
                    with c.transaction():
                        with c.cursor() as cur:
                            cur.executemany(ins, [row(i, vec_for(X, i)) for i in ids])
                        if rollback:
                            txn["state"] = "rolled_back"
                            raise psycopg.Rollback()
                        txn["state"] = "in_doubt"  # COMMIT goes out now
                    if not rollback:
                        txn["state"] = "committed"
                    if k > 20000:
                        raise RuntimeError("writer never saw the crash")
        except Exception as e:
            if not crashed.is_set():
                errors.append(e)

    held = [900000 + j for j in range(20)]

    def holder():
        # a transaction still open (never committed) when the postmaster dies
        c = None
        try:
            c = pg.connect(db)
            c.execute("BEGIN")
            with c.cursor() as cur:
                cur.executemany(ins, [row(i, vec_for(X, i)) for i in held])
            assert c.execute("SELECT count(*) FROM items WHERE id >= 900000").fetchone()[0] \
                == len(held)
            holder_ready.set()
            killed.wait(60)
            c.execute("SELECT 1")
            errors.append(AssertionError("a backend outlived its postmaster"))
        except Exception as e:
            if not crashed.is_set():
                errors.append(e)
        finally:
            if c is not None:
                c.close()  # close, never COMMIT (a connection's `with` exit would commit)

    threads = [threading.Thread(target=writer, args=(t,), daemon=True) for t in range(WRITERS)]
    threads.append(threading.Thread(target=holder, daemon=True))
    for th in threads:
        th.start()
    retierer = Retierer(pg, db, Q, errors, lambda r: killed.is_set(), crashed) if is_auto(index) else None
    if retierer:
        threads.append(retierer.thread)

    def n_committed():
        return sum(len(t["ids"]) for t in list(txns) if t["state"] == "committed")

    deadline = time.monotonic() + 30
    while (n_committed() < sc["crash_rows"] or not holder_ready.is_set()) \
            and time.monotonic() < deadline and not errors:
        time.sleep(0.02)
    assert not errors, errors
    assert holder_ready.is_set() and n_committed() >= 2 * BATCH, "writers made no progress"
    while retierer and sum(retierer.moves) == 0 and time.monotonic() < deadline + 30 and not errors:
        time.sleep(0.05)  # crash with tiers really changing
    assert not retierer or sum(retierer.moves) > 0, "the retier client moved nothing"

    crashed.set()
    pg.crash()  # mid-stream: writers are still sending
    killed.set()
    for th in threads:
        th.join(30)
    assert not any(th.is_alive() for th in threads), "a client thread hangs after the crash"
    assert not errors, errors

    pg.start()
    assert "automatic recovery in progress" in pg.log_tail(200), pg.log_tail()

    by_state = {}
    for t in txns:
        by_state.setdefault(t["state"], []).append(t["ids"])
    committed = {i for ids in by_state.get("committed", []) for i in ids} | set(preload)
    in_doubt = {i for ids in by_state.get("in_doubt", []) for i in ids}
    never = {i for s in ("open", "rolled_back") for ids in by_state.get(s, []) for i in ids}
    never |= set(held)

    with pg.connect(db) as c:
        present = fetch_table(c, "items")
        print(f"crash: {len(committed)} committed (incl. {len(preload)} preloaded), "
              f"{len(in_doubt)} in doubt ({len(set(present) & in_doubt)} survived), "
              f"{len(never)} never committed; {len(present)} rows after recovery")
        ids = set(present)
        missing = committed - ids
        assert not missing, f"{len(missing)} committed rows lost, e.g. {sorted(missing)[:5]}"
        ghosts = ids & never
        assert not ghosts, f"{len(ghosts)} uncommitted rows present, e.g. {sorted(ghosts)[:5]}"
        unknown = ids - committed - in_doubt
        assert not unknown, f"rows nobody inserted: {sorted(unknown)[:5]}"
        for ids_ in by_state.get("in_doubt", []):  # COMMIT sent, no answer: all or nothing
            assert len(set(ids_) & ids) in (0, len(ids_)), f"torn transaction {ids_}"
        for i, x in present.items():
            assert np.array_equal(x, vec_for(X, i)), f"row {i} differs after recovery"

        # the server answers (through the index, if any) and is writable
        use_index(c, "items", index)
        assert_knn([(q, knn(c, "items", q)) for q in Q[:10]], present, index)
        c.execute(INSERT.format(t="items"), row(800000, vec_for(X, 800000)))
        assert c.execute("SELECT count(*) FROM items").fetchone()[0] == len(present) + 1
        if index is not None:
            # The recovered index is well-formed and complete at once; concurrent pruning may
            # have left an element without in-links, which the next VACUUM reconnects.
            assert_index_check(c, "items_v_idx", skip=("reachable",))
            c.execute("VACUUM items")
            assert_index_check(c, "items_v_idx")
            # rows written just before the crash are reachable: each is its own nearest neighbour
            recent = sorted(ids - set(preload))
            sample = random.Random(1).sample(recent, min(40, len(recent)))
            hits = sum(knn(c, "items", present[i], k=1)[0][1] == 0.0 for i in sample)
            assert hits >= 0.95 * len(sample), f"self-recall {hits}/{len(sample)} after crash"


# ---- 3. concurrency --------------------------------------------------------------------------


@pytest.mark.parametrize("index", INDEXES)
def test_concurrent_writers_and_readers(make_cluster, sift, index):
    X, Q = sift
    sc = scale(index)
    pg = make_cluster("conc")
    db = pg.create_db_with_extension("conc")
    # Rows present before the index is built, so a quantized tier trains its codebook and
    # the concurrent inserts below are coded with it (a multiple of BATCH: readers check it).
    preload = [900000 + i for i in range(1000)]
    with pg.connect(db) as c:
        c.execute(f"CREATE TABLE items ({COLUMNS})")
        with c.cursor() as cur:
            cur.executemany(INSERT.format(t="items"), [row(i, vec_for(X, i)) for i in preload])
        setup_index(c, "items", index)

    WRITERS, READERS, ROWS, BATCH = 4, 2, sc["conc_rows"], sc["conc_batch"]
    deadline = time.monotonic() + 45  # bounds the run on a slow machine; counts stay exact
    inserted = [0] * WRITERS
    committed = [set() for _ in range(WRITERS)]
    queries = [0] * READERS
    vacuums = [0]
    errors = []
    done = threading.Event()
    ins = INSERT.format(t="items")

    def writer(t):
        try:
            with closing(pg.connect(db)) as c:
                for k in range(0, ROWS, BATCH):
                    if time.monotonic() > deadline:
                        break
                    ids = [t * 100000 + k + j for j in range(BATCH)]
                    abort = (k // BATCH) % 5 == 4  # dead index entries for VACUUM to remove
                    with c.transaction():
                        with c.cursor() as cur:
                            cur.executemany(ins, [row(i, vec_for(X, i)) for i in ids])
                        if abort:
                            raise psycopg.Rollback()
                    if not abort:
                        inserted[t] += len(ids)
                        committed[t].update(ids)
        except Exception as e:
            errors.append(("writer", t, e))

    def reader(r):
        rng = random.Random(r)
        try:
            with closing(pg.connect(db)) as c:
                use_index(c, "items", index)
                last_count = 0
                while not done.is_set() and time.monotonic() < deadline + 5:
                    q = Q[rng.randrange(len(Q))]
                    col, op, cast = rng.choice([("v", "<->", "vector"), ("v", "<=>", "vector"),
                                                ("h", "<->", "halfvec")])
                    res = knn(c, "items", q, col, op, cast)
                    assert len(res) <= 10
                    assert_sorted(res)
                    n = c.execute("SELECT count(*) FROM items").fetchone()[0]
                    assert n >= last_count, f"count went back from {last_count} to {n}"
                    assert n % BATCH == 0, f"saw a partial transaction: {n} rows"
                    last_count = n
                    queries[r] += 1
        except Exception as e:
            errors.append(("reader", r, e))

    def vacuumer():
        # VACUUM concurrently with the writers and readers: removes the rolled-back rows' index
        # entries, repairs links and reconnects orphans under the index's update lock.
        try:
            with closing(pg.connect(db)) as c:
                while not done.is_set() and time.monotonic() < deadline + 5:
                    c.execute("VACUUM items")
                    vacuums[0] += 1
                    time.sleep(0.2)
        except Exception as e:
            errors.append(("vacuum", 0, e))

    ws = [threading.Thread(target=writer, args=(t,), daemon=True) for t in range(WRITERS)]
    rs = [threading.Thread(target=reader, args=(r,), daemon=True) for r in range(READERS)]
    rs.append(threading.Thread(target=vacuumer, daemon=True))
    for th in ws + rs:
        th.start()
    retierer = None
    if is_auto(index):
        # runs past the writers until it has seen vectors come down as well as go up
        retierer = Retierer(pg, db, Q, errors, lambda r: (done.is_set() and r.moves[1] > 0)
                            or time.monotonic() > deadline + 5)
        rs.append(retierer.thread)
    for th in ws:
        th.join(60)
    done.set()
    for th in rs:
        th.join(30)
    assert not any(th.is_alive() for th in ws + rs), "a client thread hangs"
    assert not errors, errors
    assert all(n > 0 for n in inserted), inserted
    assert all(n > 0 for n in queries), queries
    assert vacuums[0] > 0, "the VACUUM thread never ran"
    if retierer:
        print(f"retier: {retierer.runs} runs, {retierer.moves[0]} promoted, {retierer.moves[1]} demoted")
        assert retierer.moves[0] > 0 and retierer.moves[1] > 0, retierer.moves

    with pg.connect(db) as c:
        assert c.execute("SELECT count(*) FROM items").fetchone()[0] == sum(inserted) + len(preload)
        model = fetch_table(c, "items")
        want = set().union(*committed) | set(preload)
        assert set(model) == want
        for i, x in model.items():
            assert np.array_equal(x, vec_for(X, i)), i
        use_index(c, "items", index)
        assert_knn([(q, knn(c, "items", q)) for q in Q[:10]], model, index)
        if index is not None:
            c.execute("VACUUM items")
            assert_index_check(c, "items_v_idx")


# ---- 4. UNLOGGED tables ----------------------------------------------------------------------


@pytest.mark.parametrize("index", INDEXES)
def test_unlogged_table_survives_clean_restart_and_is_empty_after_crash(make_cluster, sift, index):
    X, Q = sift
    N = scale(index)["unl_rows"]
    pg = make_cluster("unlogged", fsync=True)
    db = pg.create_db_with_extension("unl")
    digest = ("SELECT count(*), md5(string_agg(id::text || v::text || h::text || s::text, "
              "'|' ORDER BY id)) FROM {t}")
    model = {i: vec_for(X, i) for i in range(N)}
    with pg.connect(db) as c:
        c.execute(f"CREATE UNLOGGED TABLE u ({COLUMNS})")
        c.execute(f"CREATE TABLE l ({COLUMNS})")  # logged control
        assert c.execute("SELECT relpersistence FROM pg_class WHERE relname = 'u'").fetchone()[0] \
            == "u"
        for t in ("u", "l"):
            copy_rows(c, t, list(model), list(model.values()))
        setup_index(c, "u", index)  # an unlogged index: built, plus an init fork (ambuildempty)
        before = c.execute(digest.format(t="u")).fetchone()
        assert before[0] == N

    pg.restart()  # clean: the shutdown checkpoint writes unlogged relations too
    with pg.connect(db) as c:
        assert c.execute(digest.format(t="u")).fetchone() == before
        assert c.execute(digest.format(t="l")).fetchone() == before
        use_index(c, "u", index)
        assert_knn([(q, knn(c, "u", q)) for q in Q[:5]], model, index)

    pg.crash()
    pg.start()
    with pg.connect(db) as c:
        # PostgreSQL's contract: crash recovery resets unlogged relations to their init fork
        assert c.execute("SELECT count(*) FROM u").fetchone()[0] == 0
        assert c.execute(digest.format(t="l")).fetchone() == before
        use_index(c, "u", index)
        assert knn(c, "u", Q[0]) == []
        # and the reset table (and index) take rows and answer again
        model = {i: vec_for(X, i) for i in range(N, N + 50)}
        copy_rows(c, "u", list(model), list(model.values()))
        assert fetch_table(c, "u").keys() == model.keys()
        assert_knn([(q, knn(c, "u", q)) for q in Q[:5]], model, index)


# ---- adding index variants -------------------------------------------------------------------
#
# INDEXES holds one pytest.param per variant: the CREATE INDEX statement ({t} = table; the index
# must be named {t}_v_idx for use_index's EXPLAIN check and assert_index_check).
# setup_index() runs it at the point where the workload should go through the access method
# (replica: after the base backup, so the build's WAL streams; crash/concurrency: before the
# writers start; unlogged: after the load, so the init fork comes from ambuildempty), and
# use_index() sets enable_seqscan = off and asserts the plan is an Index Scan on it. Queries on
# other columns/operators fall back to exact scans. assert_knn() is exact for heap and a recall
# floor for indexes; SCALE holds the row counts per kind. Other opclasses (vector_cosine_ops,
# halfvec_l2_ops, ...), index options (WITH (m = 8)) or GUCs (SET ruvec.ef_search) are new
# INDEXES entries, or a second parametrize axis.
