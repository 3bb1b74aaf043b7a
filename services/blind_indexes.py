"""Fill blind indexes for rows written before they existed (run by `db upgrade` and `serve`).

Setting the encrypted attribute again runs the model's validator, which computes the
index; rows are taken in batches and only where an index is missing, so a second run
finds nothing to do.
"""

from __future__ import annotations

from sqlalchemy import Text, and_, select, type_coerce, update
from sqlalchemy.orm import Session

from models.beneficiary import Beneficiary, Household
from models.help_request import HelpRequest
from models.encrypted import blind_index, key_id_of
from models.visits import PlannedVisit
from models.volunteer import Volunteer

# (model, encrypted attribute, its blind index column)
INDEXED = (
    (Volunteer, "name", Volunteer.name_bi),
    (Beneficiary, "name", Beneficiary.name_bi),
    (HelpRequest, "contact_phone", HelpRequest.contact_phone_bi),
    (Volunteer, "mobile", Volunteer.mobile_bi),
    (Beneficiary, "mobile", Beneficiary.mobile_bi),
    (Beneficiary, "id_number", Beneficiary.id_number_bi),
    (Volunteer, "id_number", Volunteer.id_number_bi),
    (Household, "address", Household.address_bi),
)
BATCH = 500


# Columns that were plaintext before they were encrypted: (model, attribute, index kind or None).
# Names since revision 0009; a visit's note since 0010 (it may tell of health or hardship).
ONCE_PLAINTEXT = ((Volunteer, "name", "name"), (Beneficiary, "name", "name"), (PlannedVisit, "note", None))


def _is_plaintext(stored: str) -> bool:
    """Not a stored ciphertext: neither "<key id>$<token>" nor a bare Fernet token (version 0x80)."""
    return key_id_of(stored) is None and not stored.startswith("gAAAAA")


def encrypt_plaintext(session: Session) -> int:
    """Encrypt values written before their column was encrypted; returns how many. The caller commits."""
    updated = 0
    for model, attribute, kind in ONCE_PLAINTEXT:
        table = model.__table__
        column, pk = table.c[attribute], table.c.id
        last_id = 0
        while True:
            rows = session.execute(
                select(pk, type_coerce(column, Text)).where(pk > last_id).order_by(pk).limit(BATCH)
            ).all()
            if not rows:
                break
            for row_id, stored in rows:
                if stored is not None and _is_plaintext(stored):
                    # The column's type encrypts the value on the way in.
                    values = {attribute: stored}
                    if kind is not None:
                        values[f"{attribute}_bi"] = blind_index(stored, kind)
                    session.execute(update(table).where(pk == row_id).values(values))
                    updated += 1
            last_id = rows[-1][0]
    return updated


def backfill(session: Session) -> int:
    """Encrypt leftover plaintext, then compute missing indexes; returns how many rows were
    updated. The caller commits."""
    updated = encrypt_plaintext(session)
    session.flush()
    for model, attribute, index_column in INDEXED:
        encrypted = getattr(model, attribute)
        last_id = 0
        while True:
            rows = list(session.scalars(
                select(model).where(and_(index_column.is_(None), encrypted.is_not(None), model.id > last_id))
                .order_by(model.id).limit(BATCH)
            ))
            if not rows:
                break
            for row in rows:
                setattr(row, attribute, getattr(row, attribute))
            session.flush()
            updated += len(rows)
            last_id = rows[-1].id
    return updated
