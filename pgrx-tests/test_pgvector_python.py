"""The pgvector Python client library works unchanged against ruvec (psycopg 3).

register_vector() looks the types up by name and uses pgvector's own text and binary codecs, so
these tests exercise ruvec's wire formats exactly as a pgvector user's application would.
"""
import numpy as np
import pytest
from pgvector import Bit, HalfVector, SparseVector, Vector
from pgvector.psycopg import register_vector


@pytest.fixture
def vconn(conn):
    register_vector(conn)
    conn.execute("DROP TABLE IF EXISTS items")
    conn.execute(
        "CREATE TABLE items (id bigserial PRIMARY KEY, embedding vector(3), "
        "half_embedding halfvec(3), binary_embedding bit(3), sparse_embedding sparsevec(6))"
    )
    return conn


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_vector_numpy_roundtrip(vconn, binary):
    rng = np.random.default_rng(7)
    rows = [rng.standard_normal(3).astype(np.float32) for _ in range(50)]
    with vconn.cursor(binary=binary) as cur:
        for r in rows:
            cur.execute("INSERT INTO items (embedding) VALUES (%s)", (r,))
        cur.execute("SELECT embedding FROM items ORDER BY id")
        got = [row[0] for row in cur.fetchall()]
    assert len(got) == len(rows)
    assert all(isinstance(g, Vector) for g in got)
    for want, g in zip(rows, got):
        # f32 in, f32 out: text output is shortest round-trip, binary is the raw bits.
        g = g.to_numpy()
        assert g.dtype == np.float32
        assert np.array_equal(g, want)


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_nearest_neighbours(vconn, binary):
    vconn.execute(
        "INSERT INTO items (embedding) VALUES ('[1,1,1]'), ('[2,2,2]'), ('[1,1,2]'), (NULL)"
    )
    query = np.array([1, 1, 1], dtype=np.float32)
    with vconn.cursor(binary=binary) as cur:
        cur.execute(
            "SELECT id, embedding <-> %s AS d FROM items WHERE embedding IS NOT NULL "
            "ORDER BY embedding <-> %s LIMIT 5",
            (query, query),
        )
        res = cur.fetchall()
    assert [r[0] for r in res] == [1, 3, 2]
    assert res[0][1] == 0.0
    assert res[1][1] == pytest.approx(1.0)
    assert res[2][1] == pytest.approx(np.sqrt(3))


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_halfvec_bit_sparsevec(vconn, binary):
    half = HalfVector([1.5, -2, 3])
    sparse = SparseVector({0: 1.5, 4: -2}, 6)
    with vconn.cursor(binary=binary) as cur:
        cur.execute(
            "INSERT INTO items (half_embedding, binary_embedding, sparse_embedding) "
            "VALUES (%s, %s, %s) RETURNING id",
            (half, Bit("101"), sparse),
        )
        (id_,) = cur.fetchone()
        cur.execute(
            "SELECT half_embedding, binary_embedding, sparse_embedding FROM items WHERE id = %s",
            (id_,),
        )
        h, b, s = cur.fetchone()
    assert h.to_list() == [1.5, -2.0, 3.0]
    assert s.dimensions() == 6
    assert s.indices() == [0, 4]
    assert s.values() == [1.5, -2.0]
    # psycopg has no binary loader for PostgreSQL's bit; pgvector's Bit decodes either form.
    bit = Bit.from_binary(b) if isinstance(b, (bytes, bytearray, memoryview)) else Bit.from_text(b)
    assert bit.to_text() == "101"


def test_binary_copy(vconn):
    """COPY ... BINARY uses the send/recv functions, as bulk loaders do."""
    rows = [np.array([i, i + 0.5, -i], dtype=np.float32) for i in range(100)]
    with vconn.cursor() as cur:
        with cur.copy("COPY items (embedding) FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["vector"])
            for r in rows:
                copy.write_row([r])
        cur.execute("SELECT count(*), sum(embedding) FROM items")
        n, total = cur.fetchone()
    assert n == 100
    assert np.allclose(total.to_numpy(), np.sum(rows, axis=0))


def test_server_errors_are_clean(vconn):
    """Bad input from a client is a precise SQLSTATE, not an internal error."""
    import psycopg

    with pytest.raises(psycopg.errors.DataException) as e:
        vconn.execute("INSERT INTO items (embedding) VALUES (%s)", (np.array([1, 2], dtype=np.float32),))
    assert e.value.sqlstate == "22000"
    assert "expected 3 dimensions, not 2" in str(e.value)
    with pytest.raises(psycopg.errors.InvalidTextRepresentation):
        vconn.execute("SELECT '[1,2'::vector")
    # the connection is still usable
    assert vconn.execute("SELECT '[1,2,3]'::vector <-> '[1,2,3]'").fetchone()[0] == 0.0
