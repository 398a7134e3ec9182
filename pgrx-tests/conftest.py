"""Shared fixtures for client-side tests (DESIGN.md §5 tier 4).

scripts/test.sh starts a scratch cluster on 127.0.0.1:$RUVEC_TEST_PORT with ruvec installed;
each test module gets a fresh database with the extension created.
"""
import os
import uuid

import psycopg
import pytest

PORT = int(os.environ.get("RUVEC_TEST_PORT", "55433"))
SHARED_DATA = os.environ.get(
    "RUVEC_SHARED_DATA", os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")
)


def dsn(dbname):
    return f"host=127.0.0.1 port={PORT} user=postgres dbname={dbname}"


@pytest.fixture(scope="module")
def database():
    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(dsn("postgres"), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    with psycopg.connect(dsn(name), autocommit=True) as c:
        c.execute("CREATE EXTENSION ruvec")
    yield name
    with psycopg.connect(dsn("postgres"), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture
def conn(database):
    with psycopg.connect(dsn(database), autocommit=True) as c:
        yield c


# ---- clusters of a test's own (harness.py) ---------------------------------------------------
# For what the shared cluster cannot do: crash it, restart it, stream it to a standby.

from harness import Cluster, destroy_all  # noqa: E402


@pytest.fixture
def make_cluster():
    """Factory: make_cluster(name="pg", fsync=False, settings=None) -> a started Cluster.

    Every cluster it made (and every standby those made) is stopped and its directory removed
    when the test ends, passed or failed."""
    made = []

    def factory(name="pg", **kw):
        c = Cluster(name, **kw)
        made.append(c)
        return c

    try:
        yield factory
    finally:
        errors = []
        for c in reversed(made):
            try:
                c.destroy()
            except Exception as e:  # destroy the rest anyway
                errors.append(e)
        if errors:
            raise errors[0]


def pytest_sessionfinish(session, exitstatus):
    # Safety net for clusters made outside make_cluster (or a run interrupted mid-test).
    destroy_all()
