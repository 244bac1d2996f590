"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-25 20:28:52.047106
"""
from alembic import op
import sqlalchemy as sa
import ts_shared.db


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('account_snapshots',
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('notified_at', ts_shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('activated_at', ts_shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed', sa.Boolean(), nullable=False),
    sa.Column('updated_at', ts_shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('account_id', name=op.f('pk_account_snapshots'))
    )
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

    op.create_table(
        "service_access_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("school_uai", sa.String(length=8), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("service_code", sa.String(length=50), nullable=False),
        sa.Column("mefstat", sa.String(length=20), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_access_counts")),
        sa.UniqueConstraint(
            "school_uai",
            "month",
            "service_code",
            "mefstat",
            name=op.f("uq_service_access_counts_school_uai_month_service_code_mefstat"),
        ),
    )
    with op.batch_alter_table('service_access_counts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_service_access_counts_school_uai'), ['school_uai'], unique=False)

    op.create_table(
        "account_children",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("school_uai", sa.String(length=8), nullable=False),
        sa.Column("student_id", sa.String(length=40), nullable=False),
        sa.Column("guardian_id", sa.String(length=40), nullable=True),
        sa.Column("legal_rank", sa.Integer(), nullable=True),
        sa.Column("division", sa.String(length=40), nullable=True),
        sa.Column("mef_code", sa.String(length=20), nullable=True),
        sa.Column("mefstat", sa.String(length=20), nullable=True),
        sa.Column("kept_from_previous_school", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account_snapshots.account_id"],
            name=op.f("fk_account_children_account_id_account_snapshots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_children")),
    )
    with op.batch_alter_table('account_children', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_children_account_id'), ['account_id'], unique=False)
        batch_op.create_index('ix_account_children_school', ['school_uai', 'division'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('account_children', schema=None) as batch_op:
        batch_op.drop_index('ix_account_children_school')
        batch_op.drop_index(batch_op.f('ix_account_children_account_id'))

    op.drop_table('account_children')
    with op.batch_alter_table('service_access_counts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_service_access_counts_school_uai'))

    op.drop_table('service_access_counts')
    with op.batch_alter_table('processed_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_processed_events_processed_at'))

    op.drop_table('processed_events')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(
            "ix_outbox_unsent", postgresql_where=sa.text("sent_at IS NULL"), sqlite_where=sa.text("sent_at IS NULL")
        )

    op.drop_table('outbox')
    op.drop_table('account_snapshots')
