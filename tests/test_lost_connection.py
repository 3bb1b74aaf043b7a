"""A database connection killed under a statement is recognised as such and logged in one line."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from models.database import lost_connection
from worker import loop


def _terminated_statement_error(pg_url: str) -> DBAPIError:
    engine = create_engine(pg_url)
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
            with admin.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            with pytest.raises(DBAPIError) as caught:
                conn.execute(text("SELECT 1"))
        return caught.value
    finally:
        engine.dispose()
        admin.dispose()


def test_a_terminated_connection_is_one_warning_line_and_other_errors_keep_their_traceback(pg_url, caplog):
    error = _terminated_statement_error(pg_url)
    assert lost_connection(error)
    with caplog.at_level(logging.WARNING, logger=loop.log.name):
        loop._log_failure("delivery: claiming failed; trying again", error)
    [record] = caplog.records
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert "database connection lost" in record.getMessage()

    caplog.clear()
    other = IntegrityError("INSERT …", {}, Exception("duplicate key"))
    assert not lost_connection(other)
    with caplog.at_level(logging.WARNING, logger=loop.log.name):
        try:
            raise other
        except IntegrityError as exc:
            loop._log_failure("delivery: unexpected error", exc, outbox_id=7)
    [record] = caplog.records
    assert record.levelno == logging.ERROR and record.exc_info is not None
