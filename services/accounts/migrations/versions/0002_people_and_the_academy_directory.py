"""people and the academy directory

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 20:41:18.628899
"""
from alembic import op
import sqlalchemy as sa
import ts_shared.db


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('academies',
    sa.Column('code', sa.String(length=10), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('login_format', sa.String(length=20), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_academies'))
    )
    op.create_table('accounts',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('academy_code', sa.String(length=10), nullable=False),
    sa.Column('login', sa.String(length=100), nullable=False),
    sa.Column('login_base', sa.String(length=100), nullable=False),
    sa.Column('login_index', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=True),
    sa.Column('temporary_password_hash', sa.String(length=200), nullable=True),
    sa.Column('temporary_password_issued_at', ts_shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('email_confirmed_at', ts_shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('notified_at', ts_shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('notification_mode', sa.String(length=10), nullable=True),
    sa.Column('activation_started_at', ts_shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('activated_at', ts_shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_login_at', ts_shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('access_refused_at', ts_shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', ts_shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', ts_shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_reason', sa.String(length=40), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_accounts')),
    sa.UniqueConstraint('login', name=op.f('uq_accounts_login'))
    )
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.create_index('ix_accounts_login_base', ['login_base'], unique=False)

    op.create_table('throttle_counters',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('window_started_at', ts_shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('locked_until', ts_shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_throttle_counters'))
    )
    op.create_table(
        "account_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("at", ts_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_account_history_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_history")),
    )
    with op.batch_alter_table('account_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_history_account_id'), ['account_id'], unique=False)

    op.create_table(
        "guardians",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("school_uai", sa.String(length=8), nullable=False),
        sa.Column("siecle_id", sa.String(length=40), nullable=False),
        sa.Column("civility", sa.String(length=10), nullable=True),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone_home", sa.String(length=40), nullable=True),
        sa.Column("phone_mobile", sa.String(length=40), nullable=True),
        sa.Column("phone_work", sa.String(length=40), nullable=True),
        sa.Column("address_lines", sa.JSON(), nullable=False),
        sa.Column("postal_code", sa.String(length=20), nullable=True),
        sa.Column("city", sa.String(length=100), nullable=True),
        sa.Column("country", sa.String(length=100), nullable=True),
        sa.Column("departed_at", ts_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", ts_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ts_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["school_uai"], ["schools.uai"], name=op.f("fk_guardians_school_uai_schools"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guardians")),
        sa.UniqueConstraint("school_uai", "siecle_id", name=op.f("uq_guardians_school_uai_siecle_id")),
    )
    with op.batch_alter_table('guardians', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_guardians_school_uai'), ['school_uai'], unique=False)

    op.create_table(
        "mefs",
        sa.Column("school_uai", sa.String(length=8), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("short_label", sa.String(length=100), nullable=True),
        sa.Column("long_label", sa.String(length=200), nullable=True),
        sa.Column("edition_label", sa.String(length=200), nullable=True),
        sa.Column("attached_mef", sa.String(length=20), nullable=True),
        sa.Column("mefstat", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(
            ["school_uai"], ["schools.uai"], name=op.f("fk_mefs_school_uai_schools"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("school_uai", "code", name=op.f("pk_mefs")),
    )
    op.create_table(
        "one_time_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("reference", sa.String(length=20), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("created_at", ts_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", ts_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", ts_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_one_time_tokens_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_one_time_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_one_time_tokens_token_hash")),
    )
    with op.batch_alter_table('one_time_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_one_time_tokens_account_id'), ['account_id'], unique=False)

    op.create_table(
        "structures",
        sa.Column("school_uai", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["school_uai"], ["schools.uai"], name=op.f("fk_structures_school_uai_schools"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("school_uai", "kind", "code", name=op.f("pk_structures")),
    )
    op.create_table(
        "students",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("school_uai", sa.String(length=8), nullable=False),
        sa.Column("siecle_id", sa.String(length=40), nullable=False),
        sa.Column("elenoet", sa.String(length=40), nullable=True),
        sa.Column("national_id", sa.String(length=20), nullable=True),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("usage_name", sa.String(length=100), nullable=True),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("first_name_2", sa.String(length=100), nullable=True),
        sa.Column("first_name_3", sa.String(length=100), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("sex", sa.String(length=1), nullable=True),
        sa.Column("mef_code", sa.String(length=20), nullable=True),
        sa.Column("division", sa.String(length=40), nullable=True),
        sa.Column("groups", sa.JSON(), nullable=False),
        sa.Column("entry_date", sa.Date(), nullable=True),
        sa.Column("left_on", sa.Date(), nullable=True),
        sa.Column("departed_at", ts_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", ts_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ts_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["school_uai"], ["schools.uai"], name=op.f("fk_students_school_uai_schools"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_students")),
        sa.UniqueConstraint("school_uai", "siecle_id", name=op.f("uq_students_school_uai_siecle_id")),
    )
    with op.batch_alter_table('students', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_students_national_id'), ['national_id'], unique=False)
        batch_op.create_index('ix_students_school_division', ['school_uai', 'division'], unique=False)

    op.create_table(
        "account_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("school_uai", sa.String(length=8), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("guardian_id", sa.Integer(), nullable=True),
        sa.Column("legal_rank", sa.Integer(), nullable=True),
        sa.Column("kept_from_previous_school", sa.Boolean(), nullable=False),
        sa.Column("started_at", ts_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", ts_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_reason", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_account_links_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["guardian_id"], ["guardians.id"], name=op.f("fk_account_links_guardian_id_guardians"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["school_uai"], ["schools.uai"], name=op.f("fk_account_links_school_uai_schools"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["student_id"], ["students.id"], name=op.f("fk_account_links_student_id_students"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_links")),
    )
    with op.batch_alter_table('account_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_links_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_account_links_guardian_id'), ['guardian_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_account_links_school_uai'), ['school_uai'], unique=False)
        batch_op.create_index(batch_op.f('ix_account_links_student_id'), ['student_id'], unique=False)

    op.create_table(
        "guardian_links",
        sa.Column("guardian_id", sa.Integer(), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("legal_rank", sa.Integer(), nullable=False),
        sa.Column("relationship_code", sa.String(length=10), nullable=True),
        sa.Column("is_contact", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["guardian_id"], ["guardians.id"], name=op.f("fk_guardian_links_guardian_id_guardians"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["student_id"], ["students.id"], name=op.f("fk_guardian_links_student_id_students"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("guardian_id", "student_id", name=op.f("pk_guardian_links")),
    )
    with op.batch_alter_table('guardian_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_guardian_links_student_id'), ['student_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('guardian_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_guardian_links_student_id'))

    op.drop_table('guardian_links')
    with op.batch_alter_table('account_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_account_links_student_id'))
        batch_op.drop_index(batch_op.f('ix_account_links_school_uai'))
        batch_op.drop_index(batch_op.f('ix_account_links_guardian_id'))
        batch_op.drop_index(batch_op.f('ix_account_links_account_id'))

    op.drop_table('account_links')
    with op.batch_alter_table('students', schema=None) as batch_op:
        batch_op.drop_index('ix_students_school_division')
        batch_op.drop_index(batch_op.f('ix_students_national_id'))

    op.drop_table('students')
    op.drop_table('structures')
    with op.batch_alter_table('one_time_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_one_time_tokens_account_id'))

    op.drop_table('one_time_tokens')
    op.drop_table('mefs')
    with op.batch_alter_table('guardians', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_guardians_school_uai'))

    op.drop_table('guardians')
    with op.batch_alter_table('account_history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_account_history_account_id'))

    op.drop_table('account_history')
    op.drop_table('throttle_counters')
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_index('ix_accounts_login_base')

    op.drop_table('accounts')
    op.drop_table('academies')
