"""Process each WeChat message once, however often WeChat retries it.

A message is *claimed* before any work is done. In the database the claim is an
`INSERT … ON CONFLICT DO NOTHING` on a unique key, made inside the handler's own
transaction: a concurrent retry waits on that key (PostgreSQL) or on the write
lock (SQLite) until the first attempt commits, then finds the stored reply. A
handler that fails rolls its claim back with everything else, so nothing is
half-done. With REDIS_URL the claim is a `SET NX` key, and a retry polls briefly
for the reply. Either way a retry runs nothing and gets the first reply (or
"success" when it is not ready in time).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from models import InboundMessage, InboundStatus
from models.encrypted import decrypt_text, encrypt_text

POLL_SECONDS = 0.05
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


class DedupeStore(Protocol):
    def claim(self, claim: Claim, now: datetime, session: Session) -> bool: ...

    def complete(self, key: str, reply: str | None, session: Session) -> None: ...

    def release(self, key: str) -> None: ...

    def stored_reply(self, key: str, timeout: float) -> str | None: ...

    def prune(self, now: datetime) -> int: ...

    def forget_sender(self, sender_bis: list[str]) -> int: ...


class DatabaseDedupe:
    """Claims as rows of `inbound_message`; the unique key holds across processes."""

    def __init__(self, sessions: sessionmaker[Session], ttl: timedelta):
        self._sessions = sessions
        self._ttl = ttl

    def claim(self, claim: Claim, now: datetime, session: Session) -> bool:
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        statement = (
            insert(InboundMessage)
            .values(
                dedupe_key=claim.key,
                msg_type=claim.msg_type,
                event=claim.event,
                sender_bi=claim.sender_bi,
                status=InboundStatus.PROCESSING,
                received_at=now,
                expires_at=now + self._ttl,
            )
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(InboundMessage.id)
        )
        return session.execute(statement).first() is not None

    def complete(self, key: str, reply: str | None, session: Session) -> None:
        # Part of the handler's own transaction: the reply is stored exactly when
        # the handler's changes are.
        session.execute(
            update(InboundMessage)
            .where(InboundMessage.dedupe_key == key)
            .values(status=InboundStatus.DONE, reply=reply if reply is not None else NO_REPLY)
        )

    def release(self, key: str) -> None:
        pass  # the claim was part of the failed transaction and is rolled back with it

    def stored_reply(self, key: str, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        while True:
            with self._sessions() as session:
                row = session.execute(
                    select(InboundMessage.status, InboundMessage.reply).where(InboundMessage.dedupe_key == key)
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

    PROCESSING = "\x00processing"

    def __init__(self, redis, ttl: timedelta, prefix: str = "shuangyong:inbound:"):
        self._redis = redis
        self._ttl = ttl
        self._prefix = prefix

    def _name(self, key: str) -> str:
        return self._prefix + key

    def _sender_set(self, sender_bi: str) -> str:
        return f"{self._prefix}sender:{sender_bi}"

    def claim(self, claim: Claim, now: datetime, session: Session) -> bool:
        claimed = bool(self._redis.set(self._name(claim.key), self.PROCESSING, nx=True, ex=self._ttl))
        if claimed and claim.sender_bi:
            pipe = self._redis.pipeline()
            pipe.sadd(self._sender_set(claim.sender_bi), claim.key)
            pipe.expire(self._sender_set(claim.sender_bi), self._ttl)
            pipe.execute()
        return claimed

    def forget_sender(self, sender_bis: list[str]) -> int:
        """Delete the replies cached for one sender. Each claim stays (as an empty reply, until
        its TTL) so that a late WeChat retry of an old message is still not run twice; a claim
        still being processed (the erasing message itself) is left alone. Returns the count."""
        blanked = 0
        for sender_bi in sender_bis:
            name = self._sender_set(sender_bi)
            for member in self._redis.smembers(name):
                key = self._name(member.decode() if isinstance(member, bytes) else member)
                value = self._redis.get(key)
                text = value.decode() if isinstance(value, bytes) else value
                if text and text != self.PROCESSING:
                    self._redis.set(key, NO_REPLY, xx=True, keepttl=True)
                    blanked += 1
            self._redis.delete(name)
        return blanked

    def complete(self, key: str, reply: str | None, session: Session) -> None:
        value = encrypt_text(reply) if reply else NO_REPLY
        self._redis.set(self._name(key), value, ex=self._ttl)

    def release(self, key: str) -> None:
        self._redis.delete(self._name(key))

    def stored_reply(self, key: str, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        while True:
            value = self._redis.get(self._name(key))
            if value is not None:
                text = value.decode() if isinstance(value, bytes) else value
                if text != self.PROCESSING:
                    return decrypt_text(text) if text else NO_REPLY
            if time.monotonic() >= deadline:
                return None
            time.sleep(POLL_SECONDS)

    def prune(self, now: datetime) -> int:
        return 0  # Redis expires the keys itself
