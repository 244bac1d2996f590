"""outgoing emails

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 20:39:51.504072
"""
from alembic import op
import sqlalchemy as sa
import ts_shared.db


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('outgoing_emails',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('school_uai', sa.String(length=8), nullable=True),
    sa.Column('template', sa.String(length=40), nullable=False),
    sa.Column('to_address', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('error', sa.String(length=2000), nullable=True),
    sa.Column('sent_at', ts_shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outgoing_emails'))
    )
    with op.batch_alter_table('outgoing_emails', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outgoing_emails_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outgoing_emails_school_uai'), ['school_uai'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('outgoing_emails', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outgoing_emails_school_uai'))
        batch_op.drop_index(batch_op.f('ix_outgoing_emails_event_id'))

    op.drop_table('outgoing_emails')
