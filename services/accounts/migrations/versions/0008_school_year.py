"""school year (I2): the school year each school is in, and when it began for it

Existing schools are in the school year of the day the migration runs (Paris time), begun on its
1 September: the next change of year is the first one recorded.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 09:10:00
"""
from alembic import op
import sqlalchemy as sa

import ts_shared.db
from ts_shared.calendar import current_school_year, school_year_begins


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('schools') as batch_op:
        batch_op.add_column(sa.Column('school_year', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('school_year_started_at', ts_shared.db.UTCDateTime(timezone=True), nullable=True))
    year = current_school_year()
    schools = sa.table('schools', sa.column('school_year'),
                       sa.column('school_year_started_at', ts_shared.db.UTCDateTime(timezone=True)))
    op.get_bind().execute(schools.update().values(school_year=year, school_year_started_at=school_year_begins(year)))


def downgrade() -> None:
    with op.batch_alter_table('schools') as batch_op:
        batch_op.drop_column('school_year_started_at')
        batch_op.drop_column('school_year')
