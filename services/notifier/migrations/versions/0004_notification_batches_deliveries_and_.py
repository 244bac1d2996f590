"""notification batches, deliveries and files

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 21:48:22.499945
"""
from alembic import op
import sqlalchemy as sa
import ts_shared.db


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('notification_batches',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('school_uai', sa.String(length=8), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('population', sa.String(length=10), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('requested_by', sa.String(length=100), nullable=True),
    sa.Column('expected', sa.Integer(), nullable=False),
    sa.Column('received', sa.Integer(), nullable=False),
    sa.Column('created_at', ts_shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('completed_at', ts_shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_batches'))
    )
    with op.batch_alter_table('notification_batches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notification_batches_school_uai'), ['school_uai'], unique=False)

    op.create_table(
        "deliveries",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("batch_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("letter_case", sa.String(length=40), nullable=False),
        sa.Column("recipient_name", sa.String(length=300), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("student_id", sa.String(length=40), nullable=False),
        sa.Column("guardian_id", sa.String(length=40), nullable=True),
        sa.Column("sort_key", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("request", sa.JSON(), nullable=True),
        sa.Column("updated_at", ts_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["notification_batches.id"],
            name=op.f("fk_deliveries_batch_id_notification_batches"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
    )
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deliveries_batch_id'), ['batch_id'], unique=False)

    op.create_table(
        "generated_files",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("school_uai", sa.String(length=8), nullable=False),
        sa.Column("batch_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=5), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_at", ts_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", ts_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("downloaded_at", ts_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", ts_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["notification_batches.id"],
            name=op.f("fk_generated_files_batch_id_notification_batches"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_generated_files")),
    )
    with op.batch_alter_table('generated_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_generated_files_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_generated_files_school_uai'), ['school_uai'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('generated_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_generated_files_school_uai'))
        batch_op.drop_index(batch_op.f('ix_generated_files_batch_id'))

    op.drop_table('generated_files')
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deliveries_batch_id'))

    op.drop_table('deliveries')
    with op.batch_alter_table('notification_batches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_batches_school_uai'))

    op.drop_table('notification_batches')
