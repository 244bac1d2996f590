"""skipped recipients: who a batch could not notify, and why (its permanent recap); where a
printed letter's pages are in the part of the batch's PDF rendered with it

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 09:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('skipped_recipients',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.String(length=36), nullable=False),
    sa.Column('recipient_name', sa.String(length=300), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('student_id', sa.String(length=40), nullable=False),
    sa.Column('guardian_id', sa.String(length=40), nullable=True),
    sa.ForeignKeyConstraint(['batch_id'], ['notification_batches.id'],
                            name=op.f('fk_skipped_recipients_batch_id_notification_batches'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_skipped_recipients'))
    )
    with op.batch_alter_table('skipped_recipients', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_skipped_recipients_batch_id'), ['batch_id'], unique=False)
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('part_file_id', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('part_first_page', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('part_pages', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_column('part_pages')
        batch_op.drop_column('part_first_page')
        batch_op.drop_column('part_file_id')
    with op.batch_alter_table('skipped_recipients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_skipped_recipients_batch_id'))
    op.drop_table('skipped_recipients')
