"""derived temporary passwords (B3): the account's credential serial

A temporary password is now derived from TS_CREDENTIAL_KEY and this serial; the argon2 hashes of
letters already handed out stay and keep working until they are replaced. A hash that was
cleared (the password was used) leaves no valid temporary password: its issue date goes too.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('credential_serial', sa.Integer(), server_default='0', nullable=False))
    op.execute("UPDATE accounts SET temporary_password_issued_at = NULL WHERE temporary_password_hash IS NULL")


def downgrade() -> None:
    # Derived passwords cannot be turned back into hashes: their letters stop working.
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('credential_serial')
