"""Staff passwords are stored at werkzeug's full scrypt cost (other tests use a cheap one for speed)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from models.database import make_engine, make_session_factory
from services import staff_accounts

PASSWORD = "correct-horse-42"
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)


@pytest.mark.production_password_hash
def test_passwords_are_hashed_at_full_cost_and_still_sign_in(sqlite_url):
    engine = make_engine(sqlite_url)
    sessions = make_session_factory(engine)
    with sessions.begin() as session:
        account = staff_accounts.create(session, "wang", PASSWORD, NOW)
        stored = account.password_hash
    with sessions.begin() as session:
        assert staff_accounts.sign_in(session, "wang", PASSWORD, "10.0.0.1", NOW).account is not None
        assert staff_accounts.sign_in(session, "wang", "wrong-horse-42", "10.0.0.1", NOW).account is None
        assert staff_accounts.sign_in(session, "nobody", PASSWORD, "10.0.0.1", NOW).account is None
    engine.dispose()
    assert stored.startswith("scrypt:32768:8:1$") and PASSWORD not in stored
    assert staff_accounts._dummy_hash().startswith("scrypt:32768:8:1$")  # unknown names cost the same


def test_other_tests_use_the_cheap_hash_through_the_same_code(sqlite_url):
    engine = make_engine(sqlite_url)
    with make_session_factory(engine).begin() as session:
        stored = staff_accounts.create(session, "li", PASSWORD, NOW).password_hash
    engine.dispose()
    assert stored.startswith("scrypt:256:8:1$")
