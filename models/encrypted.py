"""Column types that keep personal data encrypted at rest (Fernet, from `cryptography`).

The key comes from DATA_ENCRYPTION_KEY; `configure_data_key` is called once at
start-up by whatever process opens the database (web, worker, scheduler, CLI).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Text, TypeDecorator

_fernet: Fernet | None = None
_index_key: bytes | None = None


def configure_data_key(key: str) -> None:
    global _fernet, _index_key  # configuration set once per process, not mutable state
    _fernet = Fernet(key.encode())
    # A separate key for blind indexes, derived so that one secret still configures both.
    _index_key = hmac.new(key.encode(), b"shuangyong blind index v1", hashlib.sha256).digest()


_NOT_DIGITS = re.compile(r"\D")
_SPACES = re.compile(r"\s+")


def blind_index(value: str | None, kind: str = "text") -> str | None:
    """A keyed hash for exact-match search over an encrypted column (phone, ID number, address).

    Fernet ciphertexts differ every time, so "find this phone" needs a deterministic
    token; HMAC with a secret key keeps a dump from being searched by brute force
    without the key. `kind` picks the normalisation: digits for phones, upper case
    for ID numbers, no spaces for free text.
    """
    if value is None:
        return None
    if kind == "phone":
        normal = _NOT_DIGITS.sub("", value)
    elif kind == "id":
        normal = value.strip().upper()
    else:
        normal = _SPACES.sub("", value)
    if not normal:
        return None
    if _index_key is None:
        raise RuntimeError("configure_data_key() was not called before computing a blind index")
    return hmac.new(_index_key, f"{kind}:{normal}".encode("utf-8"), hashlib.sha256).hexdigest()


def _cipher() -> Fernet:
    if _fernet is None:
        raise RuntimeError("configure_data_key() was not called before touching encrypted data")
    return _fernet


def encrypt_text(value: str) -> str:
    return _cipher().encrypt(value.encode("utf-8")).decode("ascii")


def decrypt_text(value: str) -> str:
    try:
        return _cipher().decrypt(value.encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise RuntimeError(
            "stored data cannot be decrypted: DATA_ENCRYPTION_KEY differs from the key it was written with"
        ) from None


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
