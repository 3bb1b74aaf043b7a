"""notices written in the console: link, audience (and its 乡镇), recipients, validity, author, cancellation.

Existing notices (from the publicity calendar) keep audience "all", so they stay under 最新通知.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 11:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0012'
down_revision: Union[str, Sequence[str], None] = '0011'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('notice', schema=None) as batch_op:
        batch_op.add_column(sa.Column('link', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('audience', sa.String(length=16), server_default='all', nullable=False))
        batch_op.add_column(sa.Column('audience_ref', sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column('town', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('recipients', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('valid_until', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('created_by', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('cancelled_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('notice', schema=None) as batch_op:
        for name in ('cancelled_at', 'created_by', 'valid_until', 'recipients', 'town', 'audience_ref', 'link', 'audience'):
            batch_op.drop_column(name)
