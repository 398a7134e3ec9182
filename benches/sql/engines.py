"""Engines under test and everything that touches the schema: extensions, tables, COPY, indexes.

An engine is an extension (ruvec or pgvector's `vector`), installed in its own schema so both
`vector` types can live in one database, plus an index access method (or none, for the exact
sequential-scan baseline). The code path is the same for every engine; only the names in the
DDL and the ef_search GUC differ.
"""
from __future__ import annotations

import struct
import time
from dataclasses import dataclass

import numpy as np
import psycopg
from psycopg import sql
from psycopg.adapt import Dumper
from psycopg.pq import Format
from psycopg.types.numeric import Int4

TABLE_SCHEMA = "ruvec_bench"
# extension name -> schema it is created in when the driver installs it
EXTENSION_SCHEMAS = {"ruvec": "rv", "vector": "pgv"}
# metric -> (distance operator, operator class suffix)
METRIC_OPS = {"l2": ("<->", "vector_l2_ops"), "cosine": ("<=>", "vector_cosine_ops"), "ip": ("<#>", "vector_ip_ops")}


@dataclass(frozen=True)
class EngineSpec:
    """One engine: which extension's types it uses and which index (if any) it builds."""

    name: str
    extension: str  # "ruvec" or "vector" (pgvector)
    method: str | None  # index access method; None = no index, sequential scan
    ef_guc: str | None  # GUC that sets the search-time candidate list size
    storage: str | None = None  # ruvec: WITH (storage = ...) tier
    # What is indexed and how the query reads it: "plain" (the vector column), "halfvec"
    # (pgvector's halfvec expression index), "bq" (pgvector's binary_quantize expression index,
    # ef_search candidates by Hamming distance re-ranked by the exact distance in SQL).
    recipe: str = "plain"

    @property
    def indexed(self) -> bool:
        return self.method is not None


ENGINES = {
    "ruvec": EngineSpec("ruvec", "ruvec", "ruhnsw", "ruvec.ef_search"),
    **{f"ruvec-{t}": EngineSpec(f"ruvec-{t}", "ruvec", "ruhnsw", "ruvec.ef_search", storage=t)
       for t in ("f16", "int8", "pq8", "pq4", "binary")},
    "pgvector": EngineSpec("pgvector", "vector", "hnsw", "hnsw.ef_search"),
    "pgvector-halfvec": EngineSpec("pgvector-halfvec", "vector", "hnsw", "hnsw.ef_search", recipe="halfvec"),
    "pgvector-bq": EngineSpec("pgvector-bq", "vector", "hnsw", "hnsw.ef_search", recipe="bq"),
    "exact": EngineSpec("exact", "ruvec", None, None),
    "exact-pgvector": EngineSpec("exact-pgvector", "vector", None, None),
}


class EngineUnavailable(Exception):
    """The engine cannot run here (extension not installed, access method missing, ...)."""


class EncodedVector(bytes):
    """A vector already in the binary wire format of `vector_recv` (shared by both extensions)."""


def encode_vectors(x: np.ndarray) -> list[EncodedVector]:
    """Binary `vector` values: int16 dim, int16 unused, then big-endian float32 components."""
    header = struct.pack(">HH", x.shape[1], 0)
    big_endian = np.ascontiguousarray(x, dtype=">f4")
    return [EncodedVector(header + row.tobytes()) for row in big_endian]


def register_vector_dumper(conn: psycopg.Connection, oid: int) -> None:
    """Make `conn` send EncodedVector values as binary parameters/COPY fields of type `oid`."""

    class VectorDumper(Dumper):
        format = Format.BINARY

        def dump(self, obj):
            return obj

    VectorDumper.oid = oid
    conn.adapters.register_dumper(EncodedVector, VectorDumper)


# ---------------------------------------------------------------------------------------------
# Extensions


def ensure_extension(conn: psycopg.Connection, extension: str) -> str | None:
    """Schema of `extension` in this database, installing it when available; None if absent.

    An extension that is already installed is used where it is; otherwise it is created in its
    own schema (`rv` for ruvec, `pgv` for pgvector) so the two `vector` types do not collide.
    """
    row = conn.execute(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
        "WHERE e.extname = %s", (extension,)).fetchone()
    if row:
        return row[0]
    if not conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = %s", (extension,)).fetchone():
        return None
    schema = EXTENSION_SCHEMAS[extension]
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    conn.execute(sql.SQL("CREATE EXTENSION {} SCHEMA {}").format(sql.Identifier(extension), sql.Identifier(schema)))
    return schema


def vector_type_oid(conn: psycopg.Connection, schema: str) -> int:
    """OID of `<schema>.vector`."""
    return conn.execute("SELECT to_regtype(%s)::oid", (f"{schema}.vector",)).fetchone()[0]


# ---------------------------------------------------------------------------------------------
# Tables and loading


def table_name(engine: EngineSpec) -> str:
    """Unqualified table name for an engine's copy of the data."""
    return "items_" + engine.name.replace("-", "_")


def qualified(name: str) -> sql.Composable:
    """`ruvec_bench.<name>` as a safely quoted identifier."""
    return sql.Identifier(TABLE_SCHEMA, name)


def create_table(conn: psycopg.Connection, engine: EngineSpec, schema: str, dim: int) -> None:
    """(Re)create the engine's table: `id int4 primary key, v <schema>.vector(dim)`."""
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(TABLE_SCHEMA)))
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(qualified(table_name(engine))))
    conn.execute(sql.SQL("CREATE TABLE {} (id int4 PRIMARY KEY, v {}.vector({}))").format(
        qualified(table_name(engine)), sql.Identifier(schema), sql.Literal(dim)))


def drop_table(conn: psycopg.Connection, engine: EngineSpec) -> None:
    """Drop the engine's table (and its index)."""
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(qualified(table_name(engine))))


def copy_rows(conn: psycopg.Connection, engine: EngineSpec, oid: int, first_id: int, rows: np.ndarray) -> float:
    """Binary COPY of `rows` with ids first_id.. into the engine's table; returns seconds.

    The time includes encoding the vectors, as a client loading data would pay it.
    """
    stmt = sql.SQL("COPY {} (id, v) FROM STDIN (FORMAT BINARY)").format(qualified(table_name(engine)))
    t0 = time.perf_counter()
    encoded = encode_vectors(rows)
    with conn.cursor() as cur, cur.copy(stmt) as copy:
        copy.set_types(["int4", oid])
        for i, value in enumerate(encoded, start=first_id):
            copy.write_row((i, value))
    return time.perf_counter() - t0


def vacuum_analyze(conn: psycopg.Connection, engine: EngineSpec) -> None:
    """VACUUM ANALYZE the engine's table (sets hint bits and statistics before the build)."""
    conn.execute(sql.SQL("VACUUM ANALYZE {}").format(qualified(table_name(engine))))


# ---------------------------------------------------------------------------------------------
# Index


def index_name(engine: EngineSpec) -> str:
    """Name of the engine's vector index."""
    return table_name(engine) + "_v_idx"


def check_access_method(conn: psycopg.Connection, engine: EngineSpec) -> None:
    """Raise EngineUnavailable early (before loading) when the engine's access method is missing."""
    if engine.indexed and not conn.execute("SELECT 1 FROM pg_am WHERE amname = %s", (engine.method,)).fetchone():
        raise EngineUnavailable(f'access method "{engine.method}" does not exist')


def indexed_expression(engine: EngineSpec, schema: str, metric: str, dim: int) -> sql.Composable:
    """What the engine indexes, with its operator class."""
    s = sql.Identifier(schema)
    if engine.recipe == "halfvec":
        opclass = METRIC_OPS[metric][1].replace("vector_", "halfvec_")
        return sql.SQL("((v::{}.halfvec({})) {}.{})").format(s, sql.Literal(dim), s, sql.Identifier(opclass))
    if engine.recipe == "bq":
        return sql.SQL("(({}.binary_quantize(v)::bit({})) {}.bit_hamming_ops)").format(s, sql.Literal(dim), s)
    return sql.SQL("(v {}.{})").format(s, sql.Identifier(METRIC_OPS[metric][1]))


def build_index(conn: psycopg.Connection, engine: EngineSpec, schema: str, metric: str, dim: int, *,
                m: int, ef_construction: int, maintenance_work_mem: str,
                parallel_workers: int) -> tuple[float, list[str]]:
    """CREATE INDEX ... USING <method> (v <schema>.<opclass>) WITH (m, ef_construction).

    Returns the wall time in seconds and the server's notices during the build (pgvector warns
    there when the graph outgrows maintenance_work_mem). Raises EngineUnavailable when the
    access method, the operator class or a storage parameter does not exist.
    """
    conn.execute(sql.SQL("SET maintenance_work_mem = {}").format(sql.Literal(maintenance_work_mem)))
    conn.execute(sql.SQL("SET max_parallel_maintenance_workers = {}").format(sql.Literal(parallel_workers)))
    storage = sql.SQL(", storage = {}").format(sql.Literal(engine.storage)) if engine.storage else sql.SQL("")
    stmt = sql.SQL("CREATE INDEX {} ON {} USING {} {} WITH (m = {}, ef_construction = {}{})").format(
        sql.Identifier(index_name(engine)), qualified(table_name(engine)), sql.Identifier(engine.method),
        indexed_expression(engine, schema, metric, dim), sql.Literal(m), sql.Literal(ef_construction), storage)
    notices: list[str] = []

    def collect(diag):
        notices.append(f"{diag.severity}: {diag.message_primary}")

    conn.add_notice_handler(collect)
    t0 = time.perf_counter()
    try:
        conn.execute(stmt)
    except (psycopg.errors.UndefinedObject, psycopg.errors.InvalidParameterValue) as exc:
        raise EngineUnavailable(f"{engine.method}: {exc.diag.message_primary}") from exc
    finally:
        conn.remove_notice_handler(collect)
    return time.perf_counter() - t0, notices


def relation_sizes(conn: psycopg.Connection, engine: EngineSpec) -> dict:
    """Bytes on disk of the vector index (if any) and of the table (heap + TOAST, no indexes)."""
    table = f"{TABLE_SCHEMA}.{table_name(engine)}"
    index = f"{TABLE_SCHEMA}.{index_name(engine)}" if engine.indexed else None
    idx, heap = conn.execute(
        "SELECT CASE WHEN %s::text IS NULL THEN NULL ELSE pg_relation_size(%s::regclass) END, "
        "pg_table_size(%s::regclass)", (index, index, table)).fetchone()
    return {"index_bytes": idx, "table_bytes": heap}


# ---------------------------------------------------------------------------------------------
# Inserts


def insert_rows(conn: psycopg.Connection, engine: EngineSpec, first_id: int, rows: np.ndarray,
                batch: int = 1000) -> float:
    """Insert `rows` one INSERT per row (prepared, pipelined), committing every `batch` rows.

    Returns the wall time in seconds; the table keeps its index, so this is the index's
    incremental-insert cost plus the heap insert.
    """
    stmt = sql.SQL("INSERT INTO {} (id, v) VALUES (%s, %s)").format(qualified(table_name(engine)))
    encoded = encode_vectors(rows)
    params = [(Int4(first_id + i), v) for i, v in enumerate(encoded)]
    t0 = time.perf_counter()
    for start in range(0, len(params), batch):
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(stmt, params[start:start + batch])
    return time.perf_counter() - t0
