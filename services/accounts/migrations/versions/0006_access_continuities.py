"""access continuities (B8): pending, completed, refused or cancelled continuity of access

An arriving student's continuity waits while the previous school still has the student enrolled;
the academy administrator sees and resolves the pending ones.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 05:23:59.210654
"""
from alembic import op
import sqlalchemy as sa
import ts_shared.db


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "access_continuities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("academy_code", sa.String(length=10), nullable=False),
        sa.Column("national_id", sa.String(length=20), nullable=False),
        sa.Column("school_uai", sa.String(length=8), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("previous_school_uai", sa.String(length=8), nullable=False),
        sa.Column("previous_student_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("requested_at", ts_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("requested_by", sa.String(length=100), nullable=False),
        sa.Column("resolved_at", ts_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=100), nullable=True),
        sa.Column("resolution", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["previous_school_uai"],
            ["schools.uai"],
            name=op.f("fk_access_continuities_previous_school_uai_schools"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["previous_student_id"],
            ["students.id"],
            name=op.f("fk_access_continuities_previous_student_id_students"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["school_uai"], ["schools.uai"], name=op.f("fk_access_continuities_school_uai_schools"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["student_id"], ["students.id"], name=op.f("fk_access_continuities_student_id_students"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_continuities")),
    )
    with op.batch_alter_table('access_continuities', schema=None) as batch_op:
        batch_op.create_index('ix_access_continuities_academy_status', ['academy_code', 'status'], unique=False)
        batch_op.create_index(
            batch_op.f("ix_access_continuities_previous_student_id"), ["previous_student_id"], unique=False
        )
        batch_op.create_index(batch_op.f('ix_access_continuities_school_uai'), ['school_uai'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_continuities_student_id'), ['student_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('access_continuities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_continuities_student_id'))
        batch_op.drop_index(batch_op.f('ix_access_continuities_school_uai'))
        batch_op.drop_index(batch_op.f('ix_access_continuities_previous_student_id'))
        batch_op.drop_index('ix_access_continuities_academy_status')

    op.drop_table('access_continuities')
