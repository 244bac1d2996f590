"""letter templates

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 21:24:17.240132
"""
from alembic import op
import sqlalchemy as sa
import ts_shared.db


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('letter_parts',
    sa.Column('school_uai', sa.String(length=8), nullable=False),
    sa.Column('part', sa.String(length=40), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('updated_at', ts_shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('school_uai', 'part', name=op.f('pk_letter_parts'))
    )
    with op.batch_alter_table('school_letter_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('academy_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('city', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('head_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('service_labels', sa.JSON(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('school_letter_settings', schema=None) as batch_op:
        batch_op.drop_column('service_labels')
        batch_op.drop_column('head_name')
        batch_op.drop_column('city')
        batch_op.drop_column('academy_name')

    op.drop_table('letter_parts')
