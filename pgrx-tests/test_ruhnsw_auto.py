"""storage = 'auto' (issue 4): each vector's tier follows how often scans return it.

- A fresh auto index keeps every vector at the archive tier (binary codes) and meets the
  recall threshold at defaults (also in test_ruhnsw_tiers.py's per-tier recall test).
- Scans count accesses exactly (index_stats' auto.heat = rows returned), and
  ruvec.retier() puts exactly the elements returned >= 4 times on the hot tier and those
  returned 1-3 times on the warm tier; upgrade bytes follow from the format.
- Hot vectors are exact: their candidates skip the table fetch of the rerank (scan_stats).
- With a short half-life the heat decays and retier demotes everything back to archive;
  VACUUM retiers too, reusing the space demotions freed (the index does not grow).
- Deleting upgraded rows + VACUUM leaves no orphaned upgrade tuple; inserts after that pass
  ruvec.index_check.
- Errors: retier of a non-auto index, too many dimensions for auto.
(Retiering under concurrent inserts and scans, crash and replica: test_durability.py.)
"""
import time
from collections import Counter

import numpy as np
import psycopg
import pytest

from test_ruhnsw_recall import K, THRESHOLD, recall, vec_text
from test_ruhnsw_tiers import fixture_table

HOT, WARM = 4, 1  # accesses that make an element hot / warm (auto.rs HOT_HEAT, WARM_HEAT)


def stats(conn, index):
    return dict(conn.execute("SELECT stat, value FROM ruvec.index_stats(%s::regclass)",
                             (index,)).fetchall())


def assert_check(conn, index):
    rows = conn.execute("SELECT check_name, ok, detail FROM ruvec.index_check(%s::regclass)",
                        (index,)).fetchall()
    assert all(r[1] for r in rows), rows
    return dict((r[0], r[2]) for r in rows)


def top10(conn, table, op, q):
    return [r[0] for r in conn.execute(
        f"SELECT id FROM {table} ORDER BY v {op} %s::vector LIMIT {K}", (vec_text(q),))]


def retier(conn, index):
    return conn.execute("SELECT * FROM ruvec.retier(%s::regclass)", (index,)).fetchone()


def size(conn, index):
    return conn.execute("SELECT pg_relation_size(%s::regclass)", (index,)).fetchone()[0]


def test_auto_tiers_follow_access(conn):
    table, base, queries, dist, opclass, op = fixture_table(conn, "sift5k")
    n, dims = base.shape
    assert len(np.unique(base, axis=0)) == n  # one element per row: counts map to elements
    # VACUUM retiers (with the server's half-life, not this session's): an autovacuum run
    # during the decay wait below would promote what the recall queries touched.
    conn.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = off)")
    conn.execute(f"CREATE INDEX auto_idx ON {table} USING ruhnsw (v {opclass}) WITH (storage = 'auto')")
    s = stats(conn, "auto_idx")
    assert s["storage.auto"] == 1
    assert s["auto.archive.elements"] == n and s["auto.heat"] == 0
    assert s["auto.hot.upgrade_bytes"] == s["auto.warm.upgrade_bytes"] == 0
    assert_check(conn, "auto_idx")
    size0 = size(conn, "auto_idx")
    conn.execute("SET enable_seqscan = off")

    # Accesses: 20 queries 6 times each, 30 others once.
    counts = Counter()
    for _ in range(6):
        for q in queries[:20]:
            counts.update(top10(conn, table, op, q))
    for q in queries[20:50]:
        counts.update(top10(conn, table, op, q))
    s = stats(conn, "auto_idx")
    assert s["auto.heat"] == pytest.approx(sum(counts.values()), rel=1e-3)
    assert s["auto.archive.elements"] == n  # scans count; only retier/VACUUM move vectors

    want_hot = sum(1 for c in counts.values() if c >= HOT)
    want_warm = sum(1 for c in counts.values() if WARM <= c < HOT)
    promoted, demoted, hot, warm, cold, archive = retier(conn, "auto_idx")
    print(f"auto: {sum(counts.values())} accesses of {len(counts)} vectors -> hot {hot}, warm {warm}")
    assert (hot, warm, cold, archive) == (want_hot, want_warm, 0, n - want_hot - want_warm)
    assert (promoted, demoted) == (want_hot + want_warm, 0)
    s = stats(conn, "auto_idx")
    assert s["auto.hot.elements"] == want_hot and s["auto.warm.elements"] == want_warm
    # hot upgrades hold the column value (f32), warm ones one byte per dimension (16-byte header)
    assert s["auto.hot.upgrade_bytes"] == want_hot * (16 + 4 * dims)
    assert s["auto.warm.upgrade_bytes"] == want_warm * (16 + dims)
    detail = assert_check(conn, "auto_idx")["upgrades"]
    assert f"{want_hot + want_warm} upgrade tuples" in detail, detail
    assert retier(conn, "auto_idx")[:2] == (0, 0)  # nothing left to move
    size1 = size(conn, "auto_idx")

    # Hot candidates are exact: the rerank reads fewer table rows for the hot queries, and
    # rows still come back in exact order with the same recall.
    conn.execute("SELECT ruvec.scan_stats_reset()")
    for q in queries[:20]:
        got = conn.execute(f"SELECT v {op} %s::vector FROM {table} ORDER BY v {op} %s::vector LIMIT {K}",
                           (vec_text(q), vec_text(q))).fetchall()
        d = [r[0] for r in got]
        assert d == sorted(d)
    scans, navigated, reranked = conn.execute(
        "SELECT scans, navigated, reranked FROM ruvec.scan_stats()").fetchone()
    print(f"auto: hot queries re-read {reranked} of {navigated} candidates from the table")
    assert reranked <= navigated - 5 * scans, (navigated, reranked)
    r = recall(conn, table, op, queries, dist, np.arange(n))
    assert r >= THRESHOLD, r

    # Decay: with a 1-second half-life, 10 s later every heat (at most a few dozen accesses)
    # is below 1/16 of an access: retier moves every upgraded vector back to archive.
    conn.execute("SET ruvec.access_half_life = '1s'")
    time.sleep(10)
    promoted, demoted, hot, warm, cold, archive = retier(conn, "auto_idx")
    assert (hot, warm, cold, archive) == (0, 0, 0, n)
    assert demoted == want_hot + want_warm and promoted == 0
    s = stats(conn, "auto_idx")
    assert s["auto.hot.upgrade_bytes"] == s["auto.warm.upgrade_bytes"] == 0
    assert_check(conn, "auto_idx")

    # VACUUM retiers too: the same accesses again (the default half-life) put the same
    # vectors back on the hot tier (and some on warm: earlier accesses still count under the
    # 7-day half-life), reusing the space the demotions freed: the index holds the build's
    # pages plus the pages its upgrade tuples need, nothing leaked by the earlier moves.
    conn.execute("RESET ruvec.access_half_life")
    for _ in range(6):
        for q in queries[:20]:
            top10(conn, table, op, q)
    conn.execute(f"VACUUM {table}")
    s = stats(conn, "auto_idx")
    assert s["auto.hot.elements"] >= want_hot, s
    assert_check(conn, "auto_idx")
    size2 = size(conn, "auto_idx")
    ups = s["auto.hot.elements"] + s["auto.warm.elements"] + s["auto.cold.elements"]
    up_bytes = s["auto.hot.upgrade_bytes"] + s["auto.warm.upgrade_bytes"] + s["auto.cold.upgrade_bytes"]
    need_pages = int(np.ceil((up_bytes + 4 * ups) / 8000))
    print(f"auto: index {size0 // 1024} kB built, {size1 // 1024} kB with upgrades, "
          f"{size2 // 1024} kB after demote + promote ({up_bytes / 1024:.0f} kB of upgrades)")
    assert size2 - size0 <= (need_pages + 2) * 8192, (size0, size2, up_bytes)
    conn.execute(f"DROP INDEX auto_idx")


def test_auto_delete_vacuum_insert(conn):
    """Deleting upgraded rows: VACUUM drops their upgrade tuples with them (no orphans), inserts
    reuse the freed elements, and everything passes ruvec.index_check."""
    _, base, queries, _, _, _ = fixture_table(conn, "sift5k")
    conn.execute("DROP TABLE IF EXISTS auto_dv")
    # autovacuum off: VACUUM retiers, and the promotion counts below assume only ours runs
    conn.execute("CREATE TABLE auto_dv (id int PRIMARY KEY, v vector(128)) WITH (autovacuum_enabled = off)")
    with conn.cursor() as cur:
        with cur.copy("COPY auto_dv (id, v) FROM STDIN") as cp:
            for i, v in enumerate(base[:3000]):
                cp.write_row((i, vec_text(v)))
    conn.execute("CREATE INDEX auto_dv_idx ON auto_dv USING ruhnsw (v vector_l2_ops) WITH (storage = 'auto', pq_subvectors = 16)")
    conn.execute("SET enable_seqscan = off")
    returned = set()
    for _ in range(5):
        for q in queries[:30]:
            returned.update(top10(conn, "auto_dv", "<->", q))
    promoted = retier(conn, "auto_dv_idx")[0]
    assert promoted == len(returned)
    gone = sorted(returned)[::2]
    conn.execute("DELETE FROM auto_dv WHERE id = ANY(%s)", (gone,))
    conn.execute("VACUUM auto_dv")
    detail = assert_check(conn, "auto_dv_idx")["upgrades"]
    assert f"{len(returned) - len(gone)} upgrade tuples" in detail, detail
    assert stats(conn, "auto_dv_idx")["elements.free"] == len(gone)
    with conn.cursor() as cur:
        with cur.copy("COPY auto_dv (id, v) FROM STDIN") as cp:
            for i, v in enumerate(base[3000:3300]):
                cp.write_row((3000 + i, vec_text(v)))
    for q in queries[:30]:
        top10(conn, "auto_dv", "<->", q)
    retier(conn, "auto_dv_idx")
    assert_check(conn, "auto_dv_idx")
    s = stats(conn, "auto_dv_idx")
    assert s["elements.live"] == 3300 - len(gone)
    conn.execute("DROP TABLE auto_dv")


def test_auto_errors(conn):
    conn.execute("DROP TABLE IF EXISTS auto_err")
    conn.execute("CREATE TABLE auto_err (id int, v vector(3), w vector(2040))")
    conn.execute("CREATE INDEX auto_err_f32 ON auto_err USING ruhnsw (v vector_l2_ops)")
    with pytest.raises(psycopg.errors.WrongObjectType, match="does not use storage = 'auto'"):
        retier(conn, "auto_err_f32")
    with pytest.raises(psycopg.errors.WrongObjectType, match="not a ruhnsw index"):
        retier(conn, "auto_err")
    # a hot vector's upgrade tuple holds the f32 value: at most 2,034 dimensions
    with pytest.raises(psycopg.errors.ProgramLimitExceeded, match="storage 'auto' supports at most 2034"):
        conn.execute("CREATE INDEX ON auto_err USING ruhnsw (w vector_l2_ops) WITH (storage = 'auto')")
    with pytest.raises(psycopg.errors.FeatureNotSupported, match="does not support L1"):
        conn.execute("CREATE INDEX ON auto_err USING ruhnsw (v vector_l1_ops) WITH (storage = 'auto')")
    conn.execute("DROP TABLE auto_err")


def test_auto_duplicates_never_hot(conn):
    """Rows with identical vectors share an element; a hot upgrade holds one row's value as its
    exact distance, so a multi-row element stops at warm while one-row elements go hot."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((400, 16)).astype(np.float32)
    conn.execute("DROP TABLE IF EXISTS auto_dup")
    conn.execute("CREATE TABLE auto_dup (id int PRIMARY KEY, v vector(16))")
    with conn.cursor() as cur:
        with cur.copy("COPY auto_dup (id, v) FROM STDIN") as cp:
            for i, v in enumerate(X):
                cp.write_row((i, vec_text(v)))
    conn.execute("CREATE INDEX auto_dup_idx ON auto_dup USING ruhnsw (v vector_l2_ops) WITH (storage = 'auto')")
    for j in range(3):  # inserts merge into row 0's element
        conn.execute("INSERT INTO auto_dup VALUES (%s, %s)", (1000 + j, vec_text(X[0])))
    assert stats(conn, "auto_dup_idx")["elements.live"] == 400
    conn.execute("SET enable_seqscan = off")
    for _ in range(6):
        got = top10(conn, "auto_dup", "<->", X[0])
    assert set(got[:4]) == {0, 1000, 1001, 1002}, got  # the four copies first (distance 0)
    promoted, demoted, hot, warm, cold, archive = retier(conn, "auto_dup_idx")
    assert (hot, warm) == (6, 1), (hot, warm)  # six one-row neighbours hot, the 4-row element warm
    assert_check(conn, "auto_dup_idx")
    got = conn.execute("SELECT id, v <-> %s::vector FROM auto_dup ORDER BY v <-> %s::vector LIMIT 10",
                       (vec_text(X[0]), vec_text(X[0]))).fetchall()
    assert [r[1] for r in got] == sorted(r[1] for r in got) and got[0][1] == 0
    # a copy of a hot row's vector gets an element of its own (the hot one takes no 2nd row)
    hot_id = got[5][0]
    conn.execute("INSERT INTO auto_dup SELECT 2000, v FROM auto_dup WHERE id = %s", (hot_id,))
    assert stats(conn, "auto_dup_idx")["elements.live"] == 401
    assert_check(conn, "auto_dup_idx")
    conn.execute("DROP TABLE auto_dup")
