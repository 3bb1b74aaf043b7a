"""bench/floor.py, the webhook bench's floor: the least storage work is still correct work. A
floor that claimed nothing would flatter every figure it is compared with."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from floor import Floor  # noqa: E402

from tests.conftest import create_pg_database, drop_pg_database  # noqa: E402


@pytest.mark.parametrize("store", ["sqlite", "postgresql", "redis"])
def test_the_first_attempt_claims_and_a_retry_gets_its_reply(store, request, tmp_path):
    if store == "sqlite":
        floor = Floor(f"sqlite:///{tmp_path / 'floor.db'}")
    elif store == "postgresql":
        request.getfixturevalue("pg_url")  # skipped (in CI, failed) without a server
        url = create_pg_database()  # its own: the floor's tables are not the product's
        request.addfinalizer(lambda: drop_pg_database(url))
        floor = Floor(url)
    else:
        floor = Floor(f"sqlite:///{tmp_path / 'floor.db'}", request.getfixturevalue("redis_url"))
    floor.create_tables()

    assert floor.handle("key-1", "oFloorUser", "第一次的回复") is None  # claimed: the handler answers
    assert floor.handle("key-1", "oFloorUser", "第二次的回复") == "第一次的回复"  # a retry: the stored reply
    assert floor.handle("key-2", "oFloorUser", "另一条") is None
