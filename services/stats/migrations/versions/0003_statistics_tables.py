"""statistics: schools, refusals, MEF labels

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('schools',
    sa.Column('uai', sa.String(length=8), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('academy_code', sa.String(length=10), nullable=False),
    sa.Column('service_labels', sa.JSON(), nullable=False),
    sa.Column('settings_version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('uai', name=op.f('pk_schools'))
    )
    with op.batch_alter_table('schools', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_schools_academy_code'), ['academy_code'], unique=False)
    with op.batch_alter_table('account_snapshots', schema=None) as batch_op:
        batch_op.add_column(sa.Column('access_refused', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('account_children', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mef_label', sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('account_children', schema=None) as batch_op:
        batch_op.drop_column('mef_label')
    with op.batch_alter_table('account_snapshots', schema=None) as batch_op:
        batch_op.drop_column('access_refused')
    with op.batch_alter_table('schools', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_schools_academy_code'))
    op.drop_table('schools')
