"""The shared access token (wechat-platform.md §5): one per AppID for every process,
kept in the database (or Redis), refreshed under a lock shortly before it expires.
Flask-free; wechat/api.py hands a TokenManager to its client."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Iterator, Protocol

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from models import AccessToken
from models.encrypted import decrypt_text, encrypt_text

log = logging.getLogger(__name__)

REFRESH_MARGIN = 120  # seconds; a stable_token fetch is valid for at least 300 s
LOCK_SECONDS = 30
REUSE_SECONDS = 10  # a process re-reads the shared token at most this often


@dataclass(frozen=True)
class Token:
    value: str
    expires_at: float  # epoch seconds

    def fresh(self, now: float) -> bool:
        return self.expires_at - now > REFRESH_MARGIN


class Locked(Protocol):
    token: Token | None  # the stored token, read under the lock

    def store(self, token: Token) -> None: ...


class TokenStore(Protocol):
    def read(self) -> Token | None: ...

    def locked(self) -> contextlib.AbstractContextManager[Locked]:
        """Hold the refresh lock (across processes); read and store under it."""
        ...


@dataclass
class _Locked:
    token: Token | None
    store: Callable[[Token], None]


class DatabaseTokenStore:
    """The `access_token` row. Its own row lock (PostgreSQL) or the write lock (SQLite)
    serialises refreshes across processes."""

    def __init__(self, sessions: sessionmaker[Session], app_id: str):
        self._sessions = sessions
        self._app_id = app_id
        with sessions.begin() as session:
            insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
            session.execute(insert(AccessToken).values(app_id=app_id).on_conflict_do_nothing(index_elements=["app_id"]))

    def read(self) -> Token | None:
        with self._sessions() as session:
            row = session.get(AccessToken, self._app_id)
            return _token_of(row)

    @contextlib.contextmanager
    def locked(self) -> Iterator[Locked]:
        # One transaction for read and write: on SQLite a second one from this
        # thread would wait for the lock this one holds.
        with self._sessions.begin() as session:
            # A no-op write takes the lock before reading, so the read sees the last refresh.
            session.execute(
                update(AccessToken).where(AccessToken.app_id == self._app_id).values(fetched_at=AccessToken.fetched_at)
            )
            row = session.scalars(select(AccessToken).where(AccessToken.app_id == self._app_id)).one()

            def store(token: Token) -> None:
                row.token = token.value
                row.expires_at = datetime.fromtimestamp(token.expires_at, timezone.utc)
                row.fetched_at = datetime.now(timezone.utc)
                session.flush()

            yield _Locked(_token_of(row), store)


def _token_of(row: AccessToken | None) -> Token | None:
    if row is None or not row.token or row.expires_at is None:
        return None
    return Token(row.token, row.expires_at.timestamp())


class RedisTokenStore:
    def __init__(self, redis, app_id: str, prefix: str = "shuangyong:wechat:"):
        self._redis = redis
        self._key = f"{prefix}{app_id}:access_token"
        self._lock_key = f"{prefix}{app_id}:access_token_lock"

    def read(self) -> Token | None:
        raw = self._redis.get(self._key)
        if raw is None:
            return None
        data = json.loads(decrypt_text(raw.decode() if isinstance(raw, bytes) else raw))
        return Token(data["token"], float(data["expires_at"]))

    @contextlib.contextmanager
    def locked(self) -> Iterator[Locked]:
        with self._redis.lock(self._lock_key, timeout=LOCK_SECONDS, blocking_timeout=LOCK_SECONDS):

            def store(token: Token) -> None:
                value = encrypt_text(json.dumps({"token": token.value, "expires_at": token.expires_at}))
                ttl = max(1, int(token.expires_at - time.time()))
                self._redis.set(self._key, value, ex=ttl)

            yield _Locked(self.read(), store)


class TokenManager:
    """Hands out the shared token; at most one fetch per expiry or rejection, everywhere."""

    def __init__(self, store: TokenStore, fetch: Callable[[bool], Token], reuse_seconds: float = REUSE_SECONDS):
        self._store = store
        self._fetch = fetch  # fetch(force_refresh) → Token
        self._local = threading.Lock()  # threads of this process queue here, not on the store
        self._reuse_seconds = reuse_seconds
        self._seen: tuple[Token, float] | None = None  # last token read, and when
        self.fetches = 0

    def current(self) -> str:
        now = time.time()
        # Reading the shared store once per call would cost a round trip per message. A token
        # another process replaced meanwhile only costs one refused call: `replace` then
        # finds the new one in the store without fetching.
        seen = self._seen
        if seen is not None and now - seen[1] < self._reuse_seconds and seen[0].fresh(now):
            return seen[0].value
        token = self._store.read()
        if token is not None and token.fresh(now):
            self._seen = (token, now)
            return token.value
        return self._refresh(rejected=None)

    def replace(self, rejected: str) -> str:
        """WeChat refused `rejected`: a token another process got since, or one fresh fetch."""
        return self._refresh(rejected=rejected)

    def _refresh(self, rejected: str | None) -> str:
        with self._local, self._store.locked() as held:
            token = held.token
            if token is not None and token.fresh(time.time()) and token.value != rejected:
                self._seen = (token, time.time())
                return token.value  # someone refreshed while we waited for the lock
            new = self._fetch(False)
            self.fetches += 1
            if rejected is not None and new.value == rejected:
                # WeChat still hands out the token it refuses: only a forced refresh helps.
                new = self._fetch(True)
                self.fetches += 1
            held.store(new)
            self._seen = (new, time.time())
            log.info("wechat: access token refreshed", extra={"expires_in": round(new.expires_at - time.time())})
            return new.value
