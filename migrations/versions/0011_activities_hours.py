"""activities and service hours: an activity may belong to a 乡镇, carries a cancellation
reason and its cached WeChat check-in QR ticket; a sign-up records check-out and its service
minutes with who approved them and why they were corrected; volunteers may carry an ID number
(entered by staff, for the national volunteer record); 志愿服务队 with their members.

Every new column is nullable (or has a default), so existing activities, sign-ups and
volunteers carry over unchanged: hours of past check-ins are computed until approved.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 10:55:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0011'
down_revision: Union[str, Sequence[str], None] = '0010'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.add_column(sa.Column('town', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('cancel_reason', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('qr_ticket', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('qr_url', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('qr_expires_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('updated_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('activity_signup', schema=None) as batch_op:
        batch_op.add_column(sa.Column('checked_out_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('service_minutes', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('hours_approved_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('hours_approved_by', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('hours_note', sa.String(length=200), nullable=True))
    with op.batch_alter_table('volunteer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('id_number', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('id_number_bi', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_volunteer_id_number_bi', ['id_number_bi'], unique=False)
    op.create_table(
        'volunteer_team',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=60), nullable=False),
        sa.Column('town', sa.String(length=40), nullable=True),
        sa.Column('flag_date', sa.Date(), nullable=True),
        sa.Column('note', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_volunteer_team')),
        sa.UniqueConstraint('name', name=op.f('uq_volunteer_team_name')),
    )
    op.create_table(
        'volunteer_team_member',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('team_id', sa.Integer(), nullable=False),
        sa.Column('volunteer_id', sa.Integer(), nullable=False),
        sa.Column('joined_on', sa.Date(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['team_id'], ['volunteer_team.id'], name=op.f('fk_volunteer_team_member_team_id_volunteer_team'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['volunteer_id'], ['volunteer.id'], name=op.f('fk_volunteer_team_member_volunteer_id_volunteer')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_volunteer_team_member')),
        sa.UniqueConstraint('team_id', 'volunteer_id', name=op.f('uq_volunteer_team_member_team_id')),
    )
    op.create_index('ix_volunteer_team_member_volunteer_id', 'volunteer_team_member', ['volunteer_id'], unique=False)


def downgrade() -> None:
    # ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35): copying `volunteer` or `activity` would trip the
    # foreign keys of the rows that point at them.
    op.drop_index('ix_volunteer_team_member_volunteer_id', table_name='volunteer_team_member')
    op.drop_table('volunteer_team_member')
    op.drop_table('volunteer_team')
    with op.batch_alter_table('volunteer', schema=None, recreate='never') as batch_op:
        batch_op.drop_index('ix_volunteer_id_number_bi')
        batch_op.drop_column('id_number_bi')
        batch_op.drop_column('id_number')
    with op.batch_alter_table('activity_signup', schema=None, recreate='never') as batch_op:
        for column in ('hours_note', 'hours_approved_by', 'hours_approved_at', 'service_minutes', 'checked_out_at'):
            batch_op.drop_column(column)
    with op.batch_alter_table('activity', schema=None, recreate='never') as batch_op:
        for column in ('updated_at', 'qr_expires_at', 'qr_url', 'qr_ticket', 'cancel_reason', 'town'):
            batch_op.drop_column(column)
