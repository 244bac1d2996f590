"""academy services' labels and addresses in the school settings copy; contact messages

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 09:00:00
"""
from alembic import op
import sqlalchemy as sa
import ts_shared.db


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('school_portal_settings') as batch:
        batch.add_column(sa.Column('service_labels', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('service_urls', sa.JSON(), nullable=True))
    op.create_table('contact_messages',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('school_uai', sa.String(length=8), nullable=False),
    sa.Column('sent_at', ts_shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contact_messages'))
    )
    op.create_index('ix_contact_messages_account_sent', 'contact_messages', ['account_id', 'sent_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_contact_messages_account_sent', table_name='contact_messages')
    op.drop_table('contact_messages')
    with op.batch_alter_table('school_portal_settings') as batch:
        batch.drop_column('service_urls')
        batch.drop_column('service_labels')
