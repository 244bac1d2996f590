"""name keys (E2): students and guardians are found and sorted by their folded name

`name_key` holds the name with case, accents, spaces, hyphens and apostrophes folded away
(« Lefèvre » → lefevre, « N'Diaye » → ndiaye), indexed with the school: a search by the first
letters of a name is a range scan on SQLite and PostgreSQL alike.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 09:00:00
"""
from alembic import op
import sqlalchemy as sa

from ts_accounts.domain.names import name_key


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

_BATCH = 2000
# Byte order on PostgreSQL (collation "C"): a prefix is a range of the index, whatever the database's collation.
_NAME_KEY = sa.String(length=100).with_variant(sa.String(length=100, collation="C"), "postgresql")


def _fill(table: str, *columns: str) -> None:
    connection = op.get_bind()
    rows = sa.table(table, sa.column("id"), sa.column("name_key"), *(sa.column(c) for c in columns))
    last_id = 0
    while True:
        batch = connection.execute(sa.select(rows).where(rows.c.id > last_id).order_by(rows.c.id).limit(_BATCH)).all()
        if not batch:
            return
        update = rows.update().where(rows.c.id == sa.bindparam("row_id")).values(name_key=sa.bindparam("key"))
        connection.execute(update, [
            {"row_id": row.id, "key": name_key(next((getattr(row, c) for c in columns if getattr(row, c)), ""))}
            for row in batch])
        last_id = batch[-1].id


def upgrade() -> None:
    for table, columns in (("students", ("usage_name", "last_name")), ("guardians", ("last_name",))):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column('name_key', _NAME_KEY, nullable=True))
        _fill(table, *columns)
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column('name_key', existing_type=_NAME_KEY, nullable=False)
    op.create_index('ix_students_school_name_key', 'students', ['school_uai', 'name_key'], unique=False)
    op.create_index('ix_guardians_school_name_key', 'guardians', ['school_uai', 'name_key'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_guardians_school_name_key', table_name='guardians')
    op.drop_index('ix_students_school_name_key', table_name='students')
    with op.batch_alter_table('guardians') as batch_op:
        batch_op.drop_column('name_key')
    with op.batch_alter_table('students') as batch_op:
        batch_op.drop_column('name_key')
