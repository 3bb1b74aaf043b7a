"""Column types that keep personal data encrypted at rest (Fernet, from `cryptography`).

The keys come from DATA_ENCRYPTION_KEY (several, by key id, for rotation: see
`python -m bot rotate-keys`); `configure_data_key` is called once at start-up by
whatever process opens the database (web, worker, scheduler, CLI).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Text, TypeDecorator

KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,16}")
SEPARATOR = "$"  # "<key id>$<Fernet token>": a Fernet token is url-safe base64, never holds "$"


@dataclass(frozen=True)
class DataKey:
    id: str
    fernet: Fernet
    index_key: bytes  # HMAC key of the blind indexes written while this key is current


_keys: tuple[DataKey, ...] = ()  # configuration set once per process (the first key encrypts)


def parse_data_keys(spec: str) -> tuple[DataKey, ...]:
    """DATA_ENCRYPTION_KEY: one Fernet key, or several separated by commas, each optionally
    named "id:key". The first encrypts; all decrypt (by the key id stored with each value).
    A key without a name gets an id from its fingerprint. Raises ValueError."""
    keys: list[DataKey] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        key_id, _, secret = part.rpartition(":") if ":" in part else ("", "", part)
        fernet = Fernet(secret.encode())  # ValueError on a malformed key
        key_id = key_id or "k" + hashlib.sha256(secret.encode()).hexdigest()[:8]
        if not KEY_ID.fullmatch(key_id):
            raise ValueError(f"key id {key_id!r}: use 1 to 16 letters, digits, - or _")
        if any(k.id == key_id for k in keys):
            raise ValueError(f"key id {key_id!r} appears twice")
        # A separate key for blind indexes, derived so that one secret still configures both.
        index_key = hmac.new(secret.encode(), b"shuangyong blind index v1", hashlib.sha256).digest()
        keys.append(DataKey(key_id, fernet, index_key))
    if not keys:
        raise ValueError("no key given")
    return tuple(keys)


def configure_data_key(spec: str) -> None:
    global _keys  # configuration set once per process, not mutable state
    _keys = parse_data_keys(spec)


def data_key(key_id: str | None = None) -> DataKey:
    """The current key, or the configured key of that id (KeyError when not configured)."""
    keys = _configured()
    if key_id is None:
        return keys[0]
    found = next((k for k in keys if k.id == key_id), None)
    if found is None:
        raise KeyError(key_id)
    return found


def current_key_id() -> str:
    return _configured()[0].id


def _configured() -> tuple[DataKey, ...]:
    if not _keys:
        raise RuntimeError("configure_data_key() was not called before touching encrypted data")
    return _keys


_NOT_DIGITS = re.compile(r"\D")
_SPACES = re.compile(r"\s+")


def _normal(value: str, kind: str) -> str:
    if kind == "phone":
        return _NOT_DIGITS.sub("", value)
    if kind == "id":
        return value.strip().upper()
    return _SPACES.sub("", value)


def blind_index(value: str | None, kind: str = "text") -> str | None:
    """A keyed hash for exact-match search over an encrypted column (phone, ID number, name, address).

    Fernet ciphertexts differ every time, so "find this phone" needs a deterministic
    token; HMAC with a secret key keeps a dump from being searched by brute force
    without the key. `kind` picks the normalisation: digits for phones, upper case
    for ID numbers, no spaces for names and free text.
    """
    found = blind_indexes(value, kind)
    return found[0] if found else None


def blind_indexes(value: str | None, kind: str = "text") -> list[str]:
    """The index under every configured key, current first: search with all of them while
    `rotate-keys` is part-way (rows not yet rotated carry an older key's index)."""
    if value is None:
        return []
    normal = _normal(value, kind)
    if not normal:
        return []
    message = f"{kind}:{normal}".encode("utf-8")
    return [hmac.new(k.index_key, message, hashlib.sha256).hexdigest() for k in _configured()]


def encrypt_text(value: str) -> str:
    key = _configured()[0]
    return f"{key.id}{SEPARATOR}{key.fernet.encrypt(value.encode('utf-8')).decode('ascii')}"


def key_id_of(stored: str) -> str | None:
    """The key id a stored value was written with (None: before key ids existed)."""
    key_id, sep, _ = stored.partition(SEPARATOR)
    return key_id if sep else None


class UndecryptableData(RuntimeError):
    """Stored data whose key is no longer configured (removed after a rotation) or another key's."""


def decrypt_text(value: str) -> str:
    keys = _configured()
    key_id, sep, token = value.partition(SEPARATOR)
    if sep:
        candidates = [k for k in keys if k.id == key_id]
        if not candidates:
            raise UndecryptableData(
                f"stored data was encrypted with key id {key_id!r}, which DATA_ENCRYPTION_KEY does not list"
            )
    else:  # written before key ids: any configured key may be the one
        token, candidates = value, list(keys)
    for key in candidates:
        try:
            return key.fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            continue
    raise UndecryptableData(
        "stored data cannot be decrypted: DATA_ENCRYPTION_KEY differs from the key it was written with"
    )


class EncryptedText(TypeDecorator):
    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect) -> str | None:
        return None if value is None else encrypt_text(value)

    def process_result_value(self, value: str | None, dialect) -> str | None:
        return None if value is None else decrypt_text(value)


class EncryptedJSON(EncryptedText):
    cache_ok = True

    def process_bind_param(self, value: Any, dialect) -> str | None:
        if value is None:
            return None
        return super().process_bind_param(json.dumps(value, ensure_ascii=False), dialect)

    def process_result_value(self, value: str | None, dialect) -> Any:
        text = super().process_result_value(value, dialect)
        return None if text is None else json.loads(text)


class EncryptedBytes(EncryptedText):
    """Binary data (a visit's photo) encrypted like text: base64 inside the Fernet token, so key
    rotation and backups treat it as any other encrypted column."""

    cache_ok = True

    def process_bind_param(self, value: bytes | None, dialect) -> str | None:
        if value is None:
            return None
        return super().process_bind_param(base64.b64encode(value).decode("ascii"), dialect)

    def process_result_value(self, value: str | None, dialect) -> bytes | None:
        text = super().process_result_value(value, dialect)
        return None if text is None else base64.b64decode(text)
