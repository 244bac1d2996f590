"""staff console: settings, services, audit

Columns added to schools carry server defaults so that existing schools migrate.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 20:57:07.865645
"""
from alembic import op
import sqlalchemy as sa
import ts_shared.db


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('tipi_clients',
    sa.Column('number', sa.String(length=20), nullable=False),
    sa.Column('holder', sa.String(length=200), nullable=False),
    sa.Column('academy_code', sa.String(length=10), nullable=True),
    sa.PrimaryKeyConstraint('number', name=op.f('pk_tipi_clients'))
    )
    with op.batch_alter_table('tipi_clients', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tipi_clients_academy_code'), ['academy_code'], unique=False)

    op.create_table(
        "academy_ent_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("academy_code", sa.String(length=10), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["academy_code"],
            ["academies.code"],
            name=op.f("fk_academy_ent_links_academy_code_academies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_academy_ent_links")),
    )
    with op.batch_alter_table('academy_ent_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_academy_ent_links_academy_code'), ['academy_code'], unique=False)

    op.create_table(
        "academy_services",
        sa.Column("academy_code", sa.String(length=10), nullable=False),
        sa.Column("code", sa.String(length=50), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("mandatory", sa.Boolean(), nullable=False),
        sa.Column("required_module", sa.String(length=50), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["academy_code"],
            ["academies.code"],
            name=op.f("fk_academy_services_academy_code_academies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("academy_code", "code", name=op.f("pk_academy_services")),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", ts_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("staff_login", sa.String(length=100), nullable=False),
        sa.Column("school_uai", sa.String(length=8), nullable=True),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("summary", sa.String(length=500), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=True),
        sa.Column("client_address", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff_users.id"], name=op.f("fk_audit_log_staff_id_staff_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_action'), ['action'], unique=False)
        batch_op.create_index('ix_audit_log_school_at', ['school_uai', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_staff_login'), ['staff_login'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_target'), ['target'], unique=False)

    op.create_table(
        "notes_publication_dates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("school_uai", sa.String(length=8), nullable=False),
        sa.Column("mef_code", sa.String(length=20), nullable=False),
        sa.Column("division", sa.String(length=40), nullable=False),
        sa.Column("publication_date", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["school_uai"],
            ["schools.uai"],
            name=op.f("fk_notes_publication_dates_school_uai_schools"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notes_publication_dates")),
        sa.UniqueConstraint(
            "school_uai",
            "mef_code",
            "division",
            "publication_date",
            name=op.f("uq_notes_publication_dates_school_uai_mef_code_division_publication_date"),
        ),
    )
    with op.batch_alter_table('notes_publication_dates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notes_publication_dates_school_uai'), ['school_uai'], unique=False)

    op.create_table(
        "notes_settings",
        sa.Column("school_uai", sa.String(length=8), nullable=False),
        sa.Column("publication", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["school_uai"], ["schools.uai"], name=op.f("fk_notes_settings_school_uai_schools"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("school_uai", name=op.f("pk_notes_settings")),
    )
    op.create_table(
        "payment_settings",
        sa.Column("school_uai", sa.String(length=8), nullable=False),
        sa.Column("tipi_client_number", sa.String(length=20), nullable=False),
        sa.Column("minimum_amount", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column("contact_email", sa.String(length=254), nullable=False),
        sa.Column("confirmed_at", ts_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("confirmed_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["school_uai"], ["schools.uai"], name=op.f("fk_payment_settings_school_uai_schools"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tipi_client_number"],
            ["tipi_clients.number"],
            name=op.f("fk_payment_settings_tipi_client_number_tipi_clients"),
        ),
        sa.PrimaryKeyConstraint("school_uai", name=op.f("pk_payment_settings")),
    )
    op.create_table(
        "school_emails",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("school_uai", sa.String(length=8), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["school_uai"], ["schools.uai"], name=op.f("fk_school_emails_school_uai_schools"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_school_emails")),
        sa.UniqueConstraint("school_uai", "address", name=op.f("uq_school_emails_school_uai_address")),
    )
    with op.batch_alter_table('school_emails', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_school_emails_school_uai'), ['school_uai'], unique=False)

    op.create_table(
        "school_services",
        sa.Column("school_uai", sa.String(length=8), nullable=False),
        sa.Column("service_code", sa.String(length=50), nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.Column("changed_at", ts_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["school_uai"], ["schools.uai"], name=op.f("fk_school_services_school_uai_schools"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("school_uai", "service_code", name=op.f("pk_school_services")),
    )
    op.create_table(
        "useful_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("school_uai", sa.String(length=8), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("created_at", ts_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["school_uai"], ["schools.uai"], name=op.f("fk_useful_links_school_uai_schools"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_useful_links")),
    )
    with op.batch_alter_table('useful_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_useful_links_school_uai'), ['school_uai'], unique=False)

    with op.batch_alter_table('schools', schema=None) as batch_op:
        batch_op.add_column(sa.Column('address_lines', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('postal_code', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('phone', sa.String(length=40), nullable=True))
        batch_op.add_column(
            sa.Column("letter_type", sa.String(length=20), nullable=False, server_default="teleservices")
        )
        batch_op.add_column(sa.Column('ent_url', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('contact_active', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('contact_email', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('siecle_modules', sa.JSON(), nullable=False, server_default='[]'))



def downgrade() -> None:
    with op.batch_alter_table('schools', schema=None) as batch_op:
        batch_op.drop_column('siecle_modules')
        batch_op.drop_column('contact_email')
        batch_op.drop_column('contact_active')
        batch_op.drop_column('ent_url')
        batch_op.drop_column('letter_type')
        batch_op.drop_column('phone')
        batch_op.drop_column('postal_code')
        batch_op.drop_column('address_lines')

    with op.batch_alter_table('useful_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_useful_links_school_uai'))

    op.drop_table('useful_links')
    op.drop_table('school_services')
    with op.batch_alter_table('school_emails', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_school_emails_school_uai'))

    op.drop_table('school_emails')
    op.drop_table('payment_settings')
    op.drop_table('notes_settings')
    with op.batch_alter_table('notes_publication_dates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notes_publication_dates_school_uai'))

    op.drop_table('notes_publication_dates')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_target'))
        batch_op.drop_index(batch_op.f('ix_audit_log_staff_login'))
        batch_op.drop_index('ix_audit_log_school_at')
        batch_op.drop_index(batch_op.f('ix_audit_log_action'))

    op.drop_table('audit_log')
    op.drop_table('academy_services')
    with op.batch_alter_table('academy_ent_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_academy_ent_links_academy_code'))

    op.drop_table('academy_ent_links')
    with op.batch_alter_table('tipi_clients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tipi_clients_academy_code'))

    op.drop_table('tipi_clients')
