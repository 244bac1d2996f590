"""school summaries: the academy view's cache

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 10:00:00
"""
from alembic import op
import sqlalchemy as sa
import ts_shared.db


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('school_summaries',
    sa.Column('uai', sa.String(length=8), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('computed_revision', sa.Integer(), nullable=False),
    sa.Column('students', sa.Integer(), nullable=False),
    sa.Column('student_accounts_used', sa.Integer(), nullable=False),
    sa.Column('guardian_accounts', sa.Integer(), nullable=False),
    sa.Column('guardian_accounts_used', sa.Integer(), nullable=False),
    sa.Column('last_notified_at', ts_shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('used_by_day', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('uai', name=op.f('pk_school_summaries'))
    )


def downgrade() -> None:
    op.drop_table('school_summaries')
