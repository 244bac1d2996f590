"""Each service's database, on SQLite (embedded) and on the real PostgreSQL (production):
migrations apply, match the models exactly (no drift, like `alembic check`), and the service's
own repositories work on them."""
from __future__ import annotations

from datetime import datetime, UTC

import pytest
from sqlalchemy import select

from support.events import account_snapshot
from support.infra import create_postgres_database, drop_postgres_database
from support.settings import settings_for
from ts_accounts.adapters.orm import School
from ts_accounts.service_layer.schools import add_school
from ts_accounts.service_layer.staff import create_staff, sign_in_staff
from ts_notifier.adapters.orm import SchoolLetterSettings
from ts_notifier.service_layer.school_settings import record_school_settings as record_letter_settings
from ts_portal.adapters.orm import SchoolPortalSettings
from ts_portal.service_layer.school_settings import record_school_settings as record_portal_settings
from ts_shared.db import current_revision, schema_drift
from ts_shared.messaging.envelope import new_event, parse_event
from ts_shared.runtime.process import Platform
from ts_stats.adapters.orm import AccountSnapshot, ServiceAccessCount
from ts_stats.service_layer.counters import record_account, record_service_access
from ts_stats.service_layer.summaries import guardian_summary, student_summary

SERVICES = ("accounts", "notifier", "portal", "stats")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def platform(request, tmp_path):
    urls = {}
    if request.param == "postgresql":
        urls = {service: create_postgres_database() for service in SERVICES}
    platform = Platform(settings_for(tmp_path, **urls))
    for service in SERVICES:
        platform.runtime(service).migrate()
    yield platform
    platform.dispose()
    for url in urls.values():
        drop_postgres_database(url)


@pytest.mark.parametrize("service", SERVICES)
def test_migrations_build_exactly_the_models(platform, service):
    runtime = platform.runtime(service)
    assert current_revision(runtime.engine) is not None
    assert schema_drift(runtime.engine, runtime.spec.metadata) == []
    runtime.migrate()  # applying again is a no-op


def _settings_payload(version: int, name: str) -> dict:
    event = parse_event({
        "id": "5d1f3f5e-8d8a-4f0e-9a57-2d5b8f0c1a11", "type": "school.settings_changed", "version": 1,
        "occurred_at": "2026-11-25T10:00:00+00:00", "producer": "accounts", "school_uai": "0541234X",
        "payload": {"settings_version": version, "name": name, "academy_code": "NCY", "services_activated": True,
                    "welcome_message_html": "<p>Bienvenue</p>", "open_services": ["notes"]},
    })
    return event.payload


def test_accounts_stores_schools_and_signs_staff_in(platform):
    with platform.runtime("accounts").uow() as uow:
        add_school(uow, uai="0541234X", name="Collège Jean Moulin", academy_code="NCY", city="Nancy")
        create_staff(
            uow, login="chef.demo", display_name="Mme Martin", password="correct horse battery", head_of="0541234X"
        )
        uow.commit()
    with platform.runtime("accounts").uow() as uow:
        signed_in = sign_in_staff(uow, login="CHEF.demo", password="correct horse battery")
        uow.commit()
        assert uow.session.get(School, "0541234X").city == "Nancy"
    assert signed_in.first_school.uai == "0541234X" and "guardian_access" in signed_in.first_school.rights


@pytest.mark.parametrize("service,record,model", [
    ("portal", record_portal_settings, SchoolPortalSettings),
    ("notifier", record_letter_settings, SchoolLetterSettings),
])
def test_school_settings_read_models_keep_only_the_newest_version(platform, service, record, model):
    with platform.runtime(service).uow() as uow:
        assert record(uow.session, "0541234X", _settings_payload(2, "Collège Jean Moulin (v2)"))
        assert not record(uow.session, "0541234X", _settings_payload(1, "Collège Jean Moulin (v1, late)"))
        assert not record(uow.session, "0541234X", _settings_payload(2, "Collège Jean Moulin (v2, another copy)"))
        assert record(uow.session, "0541234X", _settings_payload(3, "Collège Jean Moulin (v3)"))
        uow.commit()
    with platform.runtime(service).uow() as uow:
        row = uow.session.get(model, "0541234X")
        assert (row.settings_version, row.name) == (3, "Collège Jean Moulin (v3)")


def test_stats_counts_the_newest_state_of_each_account_and_service_accesses(platform):
    def snapshot(n, version, state, **kwargs):
        event = new_event("account.updated", {"account": account_snapshot(n, version=version, state=state, **kwargs)},
                          producer="accounts", school_uai="0541234X")
        return parse_event(event.to_message()).payload["account"]

    with platform.runtime("stats").uow() as uow:
        assert record_account(uow.session, snapshot(1, 2, "used"))
        assert not record_account(uow.session, snapshot(1, 1, "not_notified"))  # older, arrives late
        assert not record_account(uow.session, snapshot(1, 2, "notified"))  # the same version: kept as first seen
        record_account(uow.session, snapshot(2, 1, "notified"))
        record_account(uow.session, snapshot(3, 1, "notified", kind="guardian"))
        record_account(uow.session, snapshot(4, 1, "notified"))
        record_account(uow.session, snapshot(4, 2, "notified", closed=True))  # closed: no longer counted
        for _ in range(3):
            record_service_access(uow.session, "0541234X", "notes", "1031", datetime(2026, 11, 3, tzinfo=UTC))
        uow.commit()
    with platform.runtime("stats").uow() as uow:
        students = student_summary(uow.session, "0541234X").school
        guardians = guardian_summary(uow.session, "0541234X").school
        assert (students.not_notified, students.notified, students.used) == (0, 1, 1)
        assert (guardians.accounts, guardians.not_notified, guardians.notified_or_activating,
                guardians.used) == (1, 0, 1, 0)
        assert uow.session.get(AccountSnapshot, "account-1").version == 2
        assert uow.session.scalar(select(ServiceAccessCount.count)) == 3
