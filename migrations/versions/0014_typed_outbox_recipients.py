"""outbox recipients typed: recipient_kind (person, role, tag, all) beside the recipient's value.

Older rows spelled the kind into the value ("role:staff", "tag:7", "all"); the upgrade reads
that spelling once, for the last time, and keeps the bare value (the role's name, the tag id,
"" for all). The downgrade writes the old spelling back.

Revision ID: 0014
Revises: 0013_faq_answers
Create Date: 2026-11-29 14:30:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0014'
down_revision: Union[str, Sequence[str], None] = '0013_faq_answers'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

KIND = sa.Enum('person', 'role', 'tag', 'all', name='recipientkind', native_enum=False, length=8)


def upgrade() -> None:
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recipient_kind', KIND, nullable=True))
    op.execute("UPDATE outbox_message SET recipient_kind = 'role', recipient = substr(recipient, 6)"
               " WHERE recipient LIKE 'role:%'")
    op.execute("UPDATE outbox_message SET recipient_kind = 'tag', recipient = substr(recipient, 5)"
               " WHERE recipient LIKE 'tag:%'")
    op.execute("UPDATE outbox_message SET recipient_kind = 'all', recipient = '' WHERE recipient = 'all'")
    op.execute("UPDATE outbox_message SET recipient_kind = 'person' WHERE recipient_kind IS NULL")
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.alter_column('recipient_kind', existing_type=KIND, nullable=False)


def downgrade() -> None:
    op.execute("UPDATE outbox_message SET recipient = 'role:' || recipient WHERE recipient_kind = 'role'")
    op.execute("UPDATE outbox_message SET recipient = 'tag:' || recipient WHERE recipient_kind = 'tag'")
    op.execute("UPDATE outbox_message SET recipient = 'all' WHERE recipient_kind = 'all'")
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_column('recipient_kind')
