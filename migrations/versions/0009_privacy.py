"""privacy: names of volunteers and 优抚对象 become encrypted text with a blind index;
closed requests record when they were anonymised (retention); cached replies carry a keyed
hash of their sender, so 删除我的信息 can blank them.

The data itself is not touched here (a migration never reads the data key): the
application step services/blind_indexes.backfill, run by `db upgrade` and `serve`,
encrypts the names still in plaintext and fills their blind indexes.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 08:45:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0009'
down_revision: Union[str, Sequence[str], None] = '0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    for table in ('volunteer', 'beneficiary'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('name', existing_type=sa.String(length=40), type_=sa.Text(), existing_nullable=False)
            batch_op.add_column(sa.Column('name_bi', sa.String(length=64), nullable=True))
            batch_op.create_index(f'ix_{table}_name_bi', ['name_bi'], unique=False)
    with op.batch_alter_table('help_request', schema=None) as batch_op:
        batch_op.add_column(sa.Column('anonymised_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('inbound_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sender_bi', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_inbound_message_sender_bi', ['sender_bi'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('inbound_message', schema=None) as batch_op:
        batch_op.drop_index('ix_inbound_message_sender_bi')
        batch_op.drop_column('sender_bi')
    with op.batch_alter_table('help_request', schema=None) as batch_op:
        batch_op.drop_column('anonymised_at')
    for table in ('beneficiary', 'volunteer'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f'ix_{table}_name_bi')
            batch_op.drop_column('name_bi')
            batch_op.alter_column('name', existing_type=sa.Text(), type_=sa.String(length=40), existing_nullable=False)
