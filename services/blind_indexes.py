"""Fill blind indexes for rows written before they existed (run by `db upgrade` and `serve`).

Setting the encrypted attribute again runs the model's validator, which computes the
index; rows are taken in batches and only where an index is missing, so a second run
finds nothing to do.
"""

from __future__ import annotations

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from models.beneficiary import Beneficiary, Household
from models.help_request import HelpRequest
from models.volunteer import Volunteer

# (model, encrypted attribute, its blind index column)
INDEXED = (
    (HelpRequest, "contact_phone", HelpRequest.contact_phone_bi),
    (Volunteer, "mobile", Volunteer.mobile_bi),
    (Beneficiary, "mobile", Beneficiary.mobile_bi),
    (Beneficiary, "id_number", Beneficiary.id_number_bi),
    (Household, "address", Household.address_bi),
)
BATCH = 500


def backfill(session: Session) -> int:
    """Compute missing indexes; returns how many rows were updated. The caller commits."""
    updated = 0
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
