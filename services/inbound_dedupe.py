"""Process each WeChat message once, however often WeChat retries it.

A message is *claimed* before any work is done. In the database the claim is an
`INSERT … ON CONFLICT DO NOTHING` on a unique key, made inside the handler's own
transaction: a concurrent retry waits on that key (PostgreSQL) or on the write
lock (SQLite) until the first attempt commits, then finds the stored reply. A
handler that fails rolls its claim back with everything else, so nothing is
half-done. With REDIS_URL the claim is a `SET NX` key, and a retry polls briefly
for the reply. Either way a retry runs nothing and gets the first reply (or
"success" when it is not ready in time).

A Redis claim is outside the database transaction, so it is only a short lease while
the message is handled: if the process dies mid-way, the lease runs out and one of
WeChat's later retries handles the message. Just before committing, the handler
`confirm`s its claim (and keeps it for the full TTL); a handler whose lease was taken
over meanwhile rolls back instead, so the message is still handled exactly once. With the
database fallback (what the app runs with REDIS_URL) a handled message is also recorded as
a database row in the handler's transaction, which decides instead of the confirm; the reply
goes to Redis only after the commit.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import bindparam, delete, event, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from models import InboundMessage, InboundStatus, utcnow
from models.database import current_watch
from models.encrypted import UndecryptableData, decrypt_text, encrypt_text
from services import conversations

log = logging.getLogger(__name__)

POLL_SECONDS = 0.05
USER_POLL_SECONDS = 0.002  # a sender's two messages within milliseconds: the second waits this long a try


def _text(value) -> str | None:
    return value.decode() if isinstance(value, bytes) else value

# The hot path's statements, built once: Core on the table (not the ORM entity), the values
# given at execution, so each message skips building, coercing and ORM bulk handling and
# reuses the compiled form from the engine's cache (issue 16: ~1 ms a statement before).
_TABLE = InboundMessage.__table__
_CLAIM = {
    dialect: insert(_TABLE).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(_TABLE.c.id)
    for dialect, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}
_COMPLETE = update(_TABLE).where(_TABLE.c.dedupe_key == bindparam("claimed_key"))
_HANDLED = select(_TABLE.c.id).where(_TABLE.c.dedupe_key == bindparam("claimed_key"))
_PENDING = "dedupe_pending"  # session.info: a reader's claims, their rows still to write
NO_REPLY = ""  # a stored reply of "" means: answer "success"


def dedupe_key(openid: str, msg_id: int | None, create_time: int, event: str | None, event_key: str | None) -> str:
    """sender + MsgId for messages; sender + CreateTime + Event + EventKey for events.

    Hashed so the store never holds the openid itself.
    """
    if msg_id:
        raw = f"msg|{openid}|{msg_id}"
    else:
        raw = f"event|{openid}|{create_time}|{event or ''}|{event_key or ''}"
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Claim:
    key: str
    msg_type: str
    event: str | None
    sender_bi: str | None = None  # blind index of the openid (for 删除我的信息), never the openid
    token: str = field(default_factory=lambda: uuid.uuid4().hex)  # whose claim it is


class ClaimLost(RuntimeError):
    """The claim's lease ran out and another attempt took the message over."""


class DedupeStore(Protocol):
    def claim(self, claim: Claim, now: datetime, session: Session) -> bool: ...

    def confirm(self, claim: Claim) -> None: ...

    def row_pending(self, key: str, session: Session) -> bool: ...

    def complete(self, key: str, reply: str | None, session: Session) -> None: ...

    def release(self, claim: Claim) -> None: ...

    def stored_reply(self, key: str, timeout: float) -> str | None: ...

    def prune(self, now: datetime) -> int: ...

    def forget_sender(self, sender_bis: list[str]) -> int: ...


class DatabaseDedupe:
    """Claims as rows of `inbound_message`; the unique key holds across processes."""

    def __init__(self, sessions: sessionmaker[Session], ttl: timedelta):
        self._sessions = sessions
        self._ttl = ttl

    def claim(self, claim: Claim, now: datetime, session: Session, reply: str | None = None) -> bool:
        """Insert the claim; False when the key is taken. With a `reply` the row is stored
        handled, claim and reply in one statement (the Redis store's record of a message).

        A reader (SQLite, see bot.webhook) only looks: the row, claim and reply in one, is
        written when the reply is known (`complete`), by which time the message is a writer.
        Two attempts of one message running at once then both read, and the second to write
        its row finds the key taken: it rolls back and answers the first one's reply."""
        watch = current_watch()
        if reply is None and watch is not None and watch.read_first:
            if session.connection().execute(_HANDLED, {"claimed_key": claim.key}).first():
                return False
            session.info.setdefault(_PENDING, {})[claim.key] = claim
            return True
        row = {
            "dedupe_key": claim.key,
            "msg_type": claim.msg_type,
            "event": claim.event,
            "sender_bi": claim.sender_bi,
            "status": InboundStatus.PROCESSING if reply is None else InboundStatus.DONE,
            "reply": reply,
            "received_at": now,
            "expires_at": now + self._ttl,
        }
        # On the connection, not through the ORM's execution layer: the claim is a message's first
        # statement and the stored reply its last (nothing of the dedupe table is pending).
        connection = session.connection()
        return connection.execute(_CLAIM[connection.dialect.name], row).first() is not None

    def row_pending(self, key: str, session: Session) -> bool:
        """A reader's claim: its row is still to be written."""
        return key in session.info.get(_PENDING, {})

    def complete(self, key: str, reply: str | None, session: Session) -> None:
        # Part of the handler's own transaction: the reply is stored exactly when
        # the handler's changes are.
        pending = session.info.get(_PENDING, {}).pop(key, None)
        if pending is not None:
            if not self.claim(pending, utcnow(), session, reply=NO_REPLY if reply is None else reply):
                raise ClaimLost(key)  # another attempt of the message wrote its row first
            return
        session.connection().execute(
            _COMPLETE, {"claimed_key": key, "status": InboundStatus.DONE, "reply": NO_REPLY if reply is None else reply}
        )

    def confirm(self, claim: Claim) -> None:
        pass  # the claim is a row of the handler's own transaction: it holds until the commit

    def release(self, claim: Claim) -> None:
        pass  # the claim was part of the failed transaction and is rolled back with it

    def stored_reply(self, key: str, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        while True:
            with self._sessions() as session:
                row = session.execute(
                    select(_TABLE.c.status, _TABLE.c.reply).where(_TABLE.c.dedupe_key == key)
                ).one_or_none()
            if row is not None and row.status == InboundStatus.DONE:
                return row.reply
            if time.monotonic() >= deadline:
                return None
            time.sleep(POLL_SECONDS)

    def prune(self, now: datetime) -> int:
        with self._sessions.begin() as session:
            result = session.execute(delete(InboundMessage).where(InboundMessage.expires_at < now))
        return result.rowcount or 0

    def forget_sender(self, sender_bis: list[str]) -> int:
        return 0  # services.personal_data.erase blanks the rows in its own transaction


class RedisDedupe:
    """Claims as Redis keys with a TTL: `SET NX` is atomic across processes and hosts.

    Each sender's claims are also listed in a set named by the sender's blind index (the
    keyed hash the database store keeps in `sender_bi`, never the openid), with the same
    TTL, so that 删除我的信息 can find that person's cached replies (`forget_sender`).
    """

    PROCESSING = "\x00processing:"  # + the claim's token, while a handler has the lease

    # Keep the claim for the full TTL if it is still ours, or free (the lease ran out
    # and no retry took it); refuse if another attempt holds it now.
    _CONFIRM = """
    local held = redis.call('GET', KEYS[1])
    if held == ARGV[1] or not held then
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
        return 1
    end
    return 0
    """
    _RELEASE = """
    if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
    return 0
    """
    # The reply in place of our claim (as _CONFIRM decides), then the sender's lock freed if ours.
    _FINISH = """
    local held = redis.call('GET', KEYS[1])
    if held and held ~= ARGV[1] then return 0 end
    redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
    if KEYS[2] ~= KEYS[1] and redis.call('GET', KEYS[2]) == ARGV[4] then redis.call('DEL', KEYS[2]) end
    return 1
    """

    def __init__(self, redis, ttl: timedelta, prefix: str = "shuangyong:inbound:",
                 lease: timedelta = timedelta(seconds=8)):
        self._redis = redis
        self._ttl = ttl
        self._lease = lease
        self._prefix = prefix
        self._confirm = redis.register_script(self._CONFIRM)
        self._release = redis.register_script(self._RELEASE)
        self._finish = redis.register_script(self._FINISH)

    def _name(self, key: str) -> str:
        return self._prefix + key

    def _sender_set(self, sender_bi: str) -> str:
        return f"{self._prefix}sender:{sender_bi}"

    def claim(self, claim: Claim, now: datetime, session: Session | None) -> bool:
        """Claim the message and lock its sender's conversation, in one round trip.

        Claiming again with the same token (a message run once more as a database writer)
        finds the claim its own. With a session, the sender's
        conversation is locked here for the length of the message, which spares the database
        its row lock (services.conversations); a claim refused frees that lock at once.
        """
        name, value = self._name(claim.key), self.PROCESSING + claim.token
        user = self._user_lock(claim) if session is not None else None
        pipe = self._redis.pipeline(transaction=False)
        pipe.set(name, value, nx=True, px=self._lease)
        pipe.get(name)
        if user:
            pipe.set(user, claim.token, nx=True, px=self._lease)
            pipe.get(user)
        if claim.sender_bi:
            # The sender's set gets the key even when the claim is refused: then the attempt
            # holding it has put it there already, and adding it again changes nothing.
            pipe.sadd(self._sender_set(claim.sender_bi), claim.key)
            pipe.expire(self._sender_set(claim.sender_bi), self._ttl)
        results = pipe.execute()
        claimed = bool(results[0]) or _text(results[1]) == value
        if user:
            locked = bool(results[2]) or _text(results[3]) == claim.token
            if not claimed:
                if locked:
                    self._release(keys=[user], args=[claim.token])
            elif self._wait_for_user(user, claim.token, locked):
                conversations.mark_locked_elsewhere(session)
        return claimed

    def _user_lock(self, claim: Claim) -> str | None:
        return f"{self._prefix}user:{claim.sender_bi}" if claim.sender_bi else None

    def _wait_for_user(self, user: str, token: str, locked: bool) -> bool:
        """The sender's previous message is still being handled: wait for it (at most its lease)."""
        deadline = time.monotonic() + self._lease.total_seconds() + 1
        while not locked and time.monotonic() < deadline:
            time.sleep(USER_POLL_SECONDS)
            locked = bool(self._redis.set(user, token, nx=True, px=self._lease))
        return locked

    def finish(self, claim: Claim, reply: str | None) -> None:
        """Store the reply of a message that changed nothing in the database, and unlock its
        sender: one round trip. ClaimLost when another attempt holds the claim now."""
        ttl_ms = int(self._ttl.total_seconds() * 1000)
        value = encrypt_text(reply) if reply else NO_REPLY
        user = self._user_lock(claim) or self._name(claim.key)
        if not self._finish(keys=[self._name(claim.key), user],
                            args=[self.PROCESSING + claim.token, value, ttl_ms, claim.token]):
            raise ClaimLost(claim.key)

    def unlock_user(self, claim: Claim) -> None:
        user = self._user_lock(claim)
        if user:
            self._release(keys=[user], args=[claim.token])

    def forget_sender(self, sender_bis: list[str]) -> int:
        """Delete the replies cached for one sender. Each claim stays (as an empty reply, until
        its TTL) so that a late WeChat retry of an old message is still not run twice; a claim
        still being processed (the erasing message itself) is left alone. Returns the count."""
        blanked = 0
        for sender_bi in sender_bis:
            name = self._sender_set(sender_bi)
            for member in self._redis.smembers(name):
                key = self._name(_text(member))
                text = _text(self._redis.get(key))
                if text and not text.startswith(self.PROCESSING):
                    self._redis.set(key, NO_REPLY, xx=True, keepttl=True)
                    blanked += 1
            self._redis.delete(name)
        return blanked

    def complete(self, key: str, reply: str | None, session: Session) -> None:
        value = encrypt_text(reply) if reply else NO_REPLY
        self._redis.set(self._name(key), value, ex=self._ttl)

    def confirm(self, claim: Claim) -> None:
        ttl_ms = int(self._ttl.total_seconds() * 1000)
        if not self._confirm(keys=[self._name(claim.key)], args=[self.PROCESSING + claim.token, ttl_ms]):
            raise ClaimLost(claim.key)

    def release(self, claim: Claim) -> None:
        self._release(keys=[self._name(claim.key)], args=[self.PROCESSING + claim.token])
        self.unlock_user(claim)

    def stored_reply(self, key: str, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        while True:
            value = self._redis.get(self._name(key))
            if value is not None:
                text = _text(value)
                if not text.startswith(self.PROCESSING):
                    return self._readable(text)
            if time.monotonic() >= deadline:
                return None
            time.sleep(POLL_SECONDS)

    @staticmethod
    def _readable(text: str) -> str:
        """A retry's copy of the reply. One cached under a data key removed since (a rotation
        finished within the TTL) answers "success": the first attempt got the reply to the
        person; a retry answering 系统繁忙 would only confuse them."""
        if not text:
            return NO_REPLY
        try:
            return decrypt_text(text)
        except UndecryptableData:
            log.warning("dedupe: a cached reply's data key is gone; the retry is answered without it")
            return NO_REPLY

    def prune(self, now: datetime) -> int:
        return 0  # Redis expires the keys itself


class RedisWithDatabaseFallback:
    """Redis claims while Redis answers; database claims when it does not, so chat goes on
    through a Redis outage.

    A message that changed nothing in the database (帮助, an FAQ answer: most of a mass send's
    answers) is handled without a database write: its claim, its sender's conversation lock and
    its reply live in Redis (`finish`). A message that wrote something is also recorded as a
    database row in its own transaction (`complete`), and its reply goes to Redis after the
    commit: the row is what makes a process dying between the two harmless. A Redis claim
    also looks for that row, one indexed lookup, before the handler runs: it finds a message
    handled during a Redis outage (or whose reply never reached Redis), so its retry is not run
    again.
    """

    def __init__(self, redis_store: RedisDedupe, database_store: DatabaseDedupe, errors: tuple[type[Exception], ...],
                 on_fallback=lambda: None):
        self._redis = redis_store
        self._db = database_store
        self._errors = errors
        self._on_fallback = on_fallback  # counted in the metrics

    def _in_database(self, session: Session) -> set[str]:
        return session.info.setdefault("dedupe_in_database", set())

    def _claims(self, session: Session) -> dict[str, Claim]:
        return session.info.setdefault("dedupe_claims", {})

    def _fell_back(self, error: Exception, what: str) -> None:
        log.warning("dedupe: redis unreachable, %s", what, extra={"error": type(error).__name__})
        self._on_fallback()

    def claim(self, claim: Claim, now: datetime, session: Session) -> bool:
        self._claims(session)[claim.key] = claim
        try:
            claimed = self._redis.claim(claim, now, session)
        except self._errors as error:
            self._fell_back(error, "claiming in the database")
            self._in_database(session).add(claim.key)
            return self._db.claim(claim, now, session)
        if claimed and session.connection().execute(_HANDLED, {"claimed_key": claim.key}).first():
            self.release(claim)  # handled during the outage (the row is the truth): a retry
            return False
        return claimed

    def row_pending(self, key: str, session: Session) -> bool:
        return self._db.row_pending(key, session)  # a reader's claim made during a Redis outage

    def confirm(self, claim: Claim) -> None:
        """Nothing to do in Redis: the lease is left to run. What `complete` writes decides:
        extending the Redis claim before a commit meant a process dying in between held the
        message for the whole TTL, unhandled (found by bench/drill.py)."""

    def complete(self, key: str, reply: str | None, session: Session) -> None:
        """Store the reply: in Redis alone when the message wrote nothing to the database;
        otherwise as a database row in the handler's own transaction, and in Redis once that
        commits (the fast path for WeChat's retries).

        The row is the truth: a process dying before the commit leaves nothing (its Redis lease
        runs out and a retry handles the message); one dying after it leaves the row, which a
        retry's claim finds. A reply is never in Redis for work that rolled back, and Redis
        being away at this point costs nothing but speed."""
        claim = self._claims(session).get(key)
        session.flush()  # the handler's pending changes count as writes
        watch = current_watch()
        if claim is not None and key not in self._in_database(session) and watch is not None and not watch.wrote:
            try:
                self._redis.finish(claim, reply)
                return
            except self._errors as error:
                self._fell_back(error, "the reply is kept in the database")
        if key not in self._in_database(session) and claim is not None:
            # The claim and the reply in one statement.
            if not self._db.claim(claim, utcnow(), session, reply=NO_REPLY if reply is None else reply):
                raise ClaimLost(key)  # another attempt recorded it first: this one rolls back
            self._in_database(session).add(key)
        else:
            self._db.complete(key, reply, session)
        event.listen(session, "after_commit", lambda _s: self._store_reply(key, reply, claim), once=True)

    def _store_reply(self, key: str, reply: str | None, claim: Claim | None) -> None:
        try:
            self._redis.complete(key, reply, None)
            if claim is not None:
                self._redis.unlock_user(claim)
        except self._errors as error:  # committed: the database has the reply; never raise here
            self._fell_back(error, "after commit: the reply is in the database")

    def release(self, claim: Claim) -> None:
        try:
            self._redis.release(claim)
        except self._errors:
            pass  # the lease runs out by itself

    def stored_reply(self, key: str, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                reply = self._redis.stored_reply(key, 0)
            except self._errors:
                reply = None
            if reply is None:
                reply = self._db.stored_reply(key, 0)
            if reply is not None or time.monotonic() >= deadline:
                return reply
            time.sleep(POLL_SECONDS)

    def prune(self, now: datetime) -> int:
        return self._db.prune(now)

    def forget_sender(self, sender_bis: list[str]) -> int:
        try:
            return self._redis.forget_sender(sender_bis)
        except self._errors:
            return 0  # the replies expire with their TTL; the database rows are blanked by personal_data
