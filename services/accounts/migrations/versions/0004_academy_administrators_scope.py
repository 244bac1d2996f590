"""academy administrators are scoped to their academy

Existing administrators keep a NULL academy: they stay national administrators until ops give
them an academy (`tsctl staff set-academy`).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 22:15:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('academy_code', sa.String(length=10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.drop_column('academy_code')
