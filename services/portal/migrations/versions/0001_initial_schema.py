"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-25 20:10:38.339327
"""
from alembic import op
import sqlalchemy as sa
import ts_shared.db


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('outbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('event_type', sa.String(length=100), nullable=False),
    sa.Column('school_uai', sa.String(length=8), nullable=True),
    sa.Column('envelope', sa.Text(), nullable=False),
    sa.Column('created_at', ts_shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', ts_shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('claimed_by', sa.String(length=64), nullable=True),
    sa.Column('lease_until', ts_shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('event_id', name=op.f('uq_outbox_event_id'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_unsent",
            ["id"],
            unique=False,
            postgresql_where=sa.text("sent_at IS NULL"),
            sqlite_where=sa.text("sent_at IS NULL"),
        )

    op.create_table('processed_events',
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('event_type', sa.String(length=100), nullable=False),
    sa.Column('processed_at', ts_shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('event_id', name=op.f('pk_processed_events'))
    )
    with op.batch_alter_table('processed_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_processed_events_processed_at'), ['processed_at'], unique=False)

    op.create_table('school_portal_settings',
    sa.Column('uai', sa.String(length=8), nullable=False),
    sa.Column('settings_version', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('academy_code', sa.String(length=10), nullable=False),
    sa.Column('services_activated', sa.Boolean(), nullable=False),
    sa.Column('welcome_message_html', sa.Text(), nullable=False),
    sa.Column('open_services', sa.JSON(), nullable=False),
    sa.Column('letter_type', sa.String(length=20), nullable=False),
    sa.Column('ent_url', sa.String(length=500), nullable=True),
    sa.Column('contact_email', sa.String(length=254), nullable=True),
    sa.Column('address_lines', sa.JSON(), nullable=False),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('useful_links', sa.JSON(), nullable=False),
    sa.Column('updated_at', ts_shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('uai', name=op.f('pk_school_portal_settings'))
    )


def downgrade() -> None:
    op.drop_table('school_portal_settings')
    with op.batch_alter_table('processed_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_processed_events_processed_at'))

    op.drop_table('processed_events')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(
            "ix_outbox_unsent", postgresql_where=sa.text("sent_at IS NULL"), sqlite_where=sa.text("sent_at IS NULL")
        )

    op.drop_table('outbox')
