"""Conversation state: one row per openid, locked for the length of one message.

`lock` runs first in every message's transaction. It makes sure the user's row
exists and locks it with one upsert (INSERT … ON CONFLICT DO UPDATE … RETURNING):
on PostgreSQL the conflicting row is locked like SELECT … FOR UPDATE would; on
SQLite the statement takes the database's write lock. A second message of the same user, in any worker
process, waits until the first one has committed, so two messages never interleave.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.util import identity_key

from models.conversation import ConversationState
from models.database import WriteNeeded, current_watch


_TABLE = ConversationState.__table__


def _lock_statement(insert):
    # The upsert's DO UPDATE takes the row lock on PostgreSQL (as SELECT … FOR UPDATE would)
    # and returns the row, existing or new.
    statement = insert(_TABLE)
    return statement.on_conflict_do_update(
        index_elements=["openid"], set_={"openid": statement.excluded.openid}
    ).returning(*_TABLE.c)


# Built once, values given at execution: a Core statement whose compiled form the engine
# caches. The ORM's upsert-returning-an-entity, built per message, cost about three times
# as much (issue 16).
_LOCK = {"postgresql": _lock_statement(postgresql.insert), "sqlite": _lock_statement(sqlite.insert)}
_READ = select(*_TABLE.c).where(_TABLE.c.openid == bindparam("openid"))
_CREATE = {name: insert(_TABLE).on_conflict_do_nothing(index_elements=["openid"])
           for name, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))}
LOCKED_ELSEWHERE = "conversation_locked_elsewhere"


def mark_locked_elsewhere(session: Session) -> None:
    """The sender is locked for this session's message outside the database (Redis)."""
    session.info[LOCKED_ELSEWHERE] = True


def lock(session: Session, openid: str, now: datetime) -> ConversationState:
    values = {"openid": openid, "version": 0, "updated_at": now}
    # The first statement of a message: nothing pending to flush, so the connection runs it
    # directly, without the ORM's execution layer (a tenth of a message's CPU, issue 16).
    connection = session.connection()
    watch = current_watch()
    reading_first = watch is not None and watch.read_first
    if reading_first or session.info.get(LOCKED_ELSEWHERE):
        row = connection.execute(_READ, values).one_or_none()
        if reading_first and row is not None and row.form is not None:
            # A reader that holds no lock; a form's every step writes: be a writer from the start.
            raise WriteNeeded("a form in progress")
        if row is None:  # a first message: the one write it needs (a reader stops here)
            connection.execute(_CREATE[connection.dialect.name], values)
            row = connection.execute(_READ, values).one()
    else:
        row = connection.execute(_LOCK[connection.dialect.name], values).one()
    if identity_key(ConversationState, row.openid) in session.identity_map:
        # Loaded earlier in this session: refresh that object from the row now locked.
        return session.get(ConversationState, row.openid, populate_existing=True)
    state = ConversationState(**row._mapping)
    make_transient_to_detached(state)  # as if loaded: changes from here on are flushed
    session.add(state)
    return state


def save(
    state: ConversationState,
    *,
    form: str,
    step: str,
    answers: dict[str, Any],
    scratch: dict[str, Any],
    now: datetime,
    timeout: timedelta,
) -> None:
    state.form = form
    state.step = step
    # New dict objects, so the ORM sees a change even when only a nested value moved.
    state.answers = dict(answers)
    state.scratch = dict(scratch)
    state.version += 1
    state.expires_at = now + timeout
    state.updated_at = now


def clear(state: ConversationState, now: datetime) -> None:
    """Forget the form and everything typed into it; the row stays as the user's lock."""
    state.form = None
    state.step = None
    state.answers = None
    state.scratch = None
    state.version += 1
    state.expires_at = None
    state.updated_at = now


def is_active(state: ConversationState) -> bool:
    return state.form is not None


def has_expired(state: ConversationState, now: datetime) -> bool:
    return state.form is not None and state.expires_at is not None and state.expires_at <= now


# --- a pending clarifying question (only while no form is open) ---------------------------
# The router asks "您是想：1 … 2 …" when it is unsure what a message means; the next numeric
# answer picks one. The choices (intent names, never user text) wait in `scratch` of a row
# whose `form` is NULL, so a form starting or any other message replaces them.

CHOICES_KEY = "choices"


def offer_choices(state: ConversationState, choices: list[str], now: datetime, timeout: timedelta) -> None:
    state.scratch = {CHOICES_KEY: list(choices), "until": (now + timeout).isoformat()}
    state.version += 1
    state.updated_at = now


def pending_choices(state: ConversationState, now: datetime) -> list[str]:
    scratch = state.scratch or {}
    if state.form is not None or CHOICES_KEY not in scratch:
        return []
    if datetime.fromisoformat(scratch["until"]) <= now:
        return []
    return list(scratch[CHOICES_KEY])


def forget_choices(state: ConversationState, now: datetime) -> None:
    if state.form is None and (state.scratch or {}).get(CHOICES_KEY) is not None:
        state.scratch = None
        state.version += 1
        state.updated_at = now
