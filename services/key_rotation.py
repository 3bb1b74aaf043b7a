"""`python -m bot rotate-keys`: re-encrypt every encrypted value with the current key.

DATA_ENCRYPTION_KEY lists the new key first and the old ones after it ("2027:NEW,2026:OLD").
Each stored value carries the id of the key it was written with; rotation walks every
table holding encrypted columns in primary-key order, in batches, and rewrites the rows
holding a value under another key (their blind indexes are recomputed under the new
key at the same time). Each batch is its own transaction, so an interrupted run is
simply started again: rows already under the current key are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import Table, Text, select, type_coerce, update
from sqlalchemy.orm import Session, sessionmaker

from models.base import Base
from models.encrypted import EncryptedText, blind_index, current_key_id, decrypt_text, encrypt_text, key_id_of

# (table, encrypted column) → (its blind index column, normalisation kind)
BLIND_INDEXES = {
    ("volunteer", "name"): ("name_bi", "name"),
    ("volunteer", "mobile"): ("mobile_bi", "phone"),
    ("beneficiary", "name"): ("name_bi", "name"),
    ("beneficiary", "mobile"): ("mobile_bi", "phone"),
    ("beneficiary", "id_number"): ("id_number_bi", "id"),
    ("volunteer", "id_number"): ("id_number_bi", "id"),
    ("household", "address"): ("address_bi", "text"),
    ("help_request", "contact_phone"): ("contact_phone_bi", "phone"),
}
BATCH = 500


def encrypted_tables() -> list[tuple[Table, list]]:
    found = []
    for table in Base.metadata.sorted_tables:
        columns = [c for c in table.c if isinstance(c.type, EncryptedText)]
        if columns:
            found.append((table, columns))
    return found


@dataclass
class RotationReport:
    key_id: str
    rows: dict[str, int] = field(default_factory=dict)  # table → rows re-encrypted
    values: int = 0
    batches: int = 0

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def rotate_batch(session: Session, table: Table, columns: list, after, batch: int = BATCH):
    """Re-encrypt one batch of `table` after primary key `after`; returns (last key or None, rows, values)."""
    (pk,) = table.primary_key.columns
    current = current_key_id()
    query = select(pk, *(type_coerce(c, Text).label(c.name) for c in columns)).order_by(pk).limit(batch)
    if after is not None:
        query = query.where(pk > after)
    rows = session.execute(query).all()
    if not rows:
        return None, 0, 0
    rewritten = values = 0
    for row in rows:
        changes = {}
        for column in columns:
            stored = getattr(row, column.name)
            if stored is None or key_id_of(stored) == current:
                continue
            plain = decrypt_text(stored)
            changes[column.name] = type_coerce(encrypt_text(plain), Text)
            index = BLIND_INDEXES.get((table.name, column.name))
            if index is not None:
                changes[index[0]] = blind_index(plain, index[1])
        if changes:
            session.execute(update(table).where(pk == row[0]).values(changes))
            rewritten += 1
            values += sum(1 for c in columns if c.name in changes)
    return rows[-1][0], rewritten, values


def rotate(sessions: sessionmaker[Session], batch: int = BATCH,
           progress: Callable[[str, int], None] | None = None) -> RotationReport:
    report = RotationReport(key_id=current_key_id())
    for table, columns in encrypted_tables():
        after, done = None, 0
        while True:
            with sessions.begin() as session:
                after, rows, values = rotate_batch(session, table, columns, after, batch)
            if after is None:
                break
            report.batches += 1
            done += rows
            report.values += values
            if progress and rows:
                progress(table.name, done)
        report.rows[table.name] = done
    return report


def remaining(session: Session) -> dict[str, int]:
    """Values still under another key, by table (0 everywhere after a full rotation)."""
    current = current_key_id()
    counts: dict[str, int] = {}
    for table, columns in encrypted_tables():
        n = 0
        for column in columns:
            raw = type_coerce(column, Text)
            for stored in session.scalars(select(raw).where(column.is_not(None))):
                if key_id_of(stored) != current:
                    n += 1
        if n:
            counts[table.name] = n
    return counts
