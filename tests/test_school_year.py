"""I2: a whole school year of two schools, the clock driven by the test — import, notify, a family
activating, the 3-month expiry, a student moving from one school to the other, and the school
year turning by itself on 1 September in Paris (not at midnight UTC), once, whoever runs it."""
from __future__ import annotations

import json
import re
from datetime import datetime, UTC

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from werkzeug.test import Client

from support.settings import settings_for
from support.siecle_files import OTHER_UAI, UAI, guardians_file, student_xml, students_file
from ts_accounts.adapters.orm import Account, AccountLink, AuditEntry, School, Student
from ts_accounts.adapters.siecle import inspect_export
from ts_accounts.service_layer.accounts import expire_accounts, record_notification
from ts_accounts.service_layer.audit import Actor
from ts_accounts.service_layer.identity import confirm_email, first_login
from ts_accounts.service_layer.imports import import_population, source_from_exports
from ts_accounts.service_layer.notifications import PAPER, Couple, request_notifications
from ts_accounts.service_layer.school_year import rentree_reminder, start_school_year
from ts_accounts.service_layer.schools import activate_services, add_school
from ts_accounts.service_layer.staff import create_staff
from ts_shared.calendar import current_school_year, school_year_of
from ts_shared.crypto import SecretBox
from ts_shared.messaging.envelope import parse_event
from ts_shared.runtime.cli import cli
from ts_shared.runtime.process import Platform

PASSWORD = "a long passphrase"
HEAD = Actor(login="chef.x", staff_id=None)
LEA = student_xml("1001", "DUPONT", "Léa", "12/03/2013", "3A", ine="1234567890A")
MAEL = student_xml("1002", "N'DIAYE", "Maël", "01/01/2012", "3B", ine="2234567890B")
ZOE = student_xml("3001", "BRUNET", "Zoé", "05/07/2011", "2A", ine="5234567890E")
LEA_IN_B = student_xml("3002", "DUPONT", "Léa", "12/03/2013", "2B", ine="1234567890A")
ADDRESS = [("77", "3 rue des Lilas", "54000", "NANCY")]
A_PEOPLE = [("9001", "MME", "DUPONT", "Hélène", "helene.dupont@example.org", "77"),
            ("9002", "M.", "DUPONT", "Jean", None, "77"),
            ("9003", "MME", "N'DIAYE", "Awa", None, None)]
A_LINKS = [("1001", "9001", 1), ("1001", "9002", 2), ("1002", "9003", 1)]
B_PEOPLE = [("8101", "M.", "BRUNET", "Paul", "paul.brunet@example.org", None),
            ("8102", "M.", "DUPONT", "Jean", None, "77")]  # Léa's father, same address: the same person
B_LINKS = [("3001", "8101", 1), ("3002", "8102", 1)]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def platform(tmp_path):
    platform = Platform(settings_for(tmp_path))
    with platform.runtime("accounts").uow() as uow:
        add_school(uow, uai=UAI, name="Collège Jean Moulin", academy_code="NCY")
        add_school(uow, uai=OTHER_UAI, name="Lycée Henri Poincaré", academy_code="NCY")
        for uai in (UAI, OTHER_UAI):
            activate_services(uow, uai)
        create_staff(uow, login="chef.x", display_name="Chef du collège", password=PASSWORD, head_of=UAI)
        uow.commit()
    yield platform
    platform.dispose()


def run_import(platform, tmp_path, uai, students, people, links, when):
    files = [students_file(tmp_path / f"{uai}-{when:%m%d}-e.xml", students, uai=uai),
             guardians_file(tmp_path / f"{uai}-{when:%m%d}-r.xml", people, links, ADDRESS, uai=uai)]
    with platform.runtime("accounts").uow() as uow:
        report = import_population(uow, uai=uai, source=source_from_exports(uai, [inspect_export(f) for f in files]),
                                   actor="chef.x", clock=lambda: when)
        uow.commit()
    return report


def events(platform, event_type):
    table = platform.runtime("accounts").spec.tables.outbox
    with platform.runtime("accounts").engine.connect() as connection:
        return [parse_event(json.loads(row)) for row in connection.execute(
            select(table.c.envelope).where(table.c.event_type == event_type).order_by(table.c.id)).scalars()]


def states(platform, uai) -> dict[tuple[str, str | None], tuple[str, str]]:
    """(student, guardian) SIECLE ids → (login, state) of the school's open accounts."""
    from ts_accounts.adapters.orm import Guardian

    with platform.runtime("accounts").uow() as uow:
        rows = uow.session.execute(
            select(Student.siecle_id, Guardian.siecle_id, Account.login, Account.state)
            .join(AccountLink, AccountLink.student_id == Student.id)
            .join(Account, Account.id == AccountLink.account_id)
            .outerjoin(Guardian, Guardian.id == AccountLink.guardian_id)
            .where(AccountLink.school_uai == uai, AccountLink.ended_at.is_(None), Account.closed_at.is_(None))).all()
    return {(student, guardian): (login, state) for student, guardian, login, state in rows}


def notify_guardians(platform, uai, couples, when) -> dict[str, str]:
    """A mass notification on `when`, delivered the same day; the temporary passwords by login."""
    box = SecretBox(platform.settings.event_key)
    before = len(events(platform, "notification.requested"))
    with platform.runtime("accounts").uow() as uow:
        order = request_notifications(uow, box, HEAD, uai=uai, couples=couples, mode=PAPER, reset_password=False,
                                      now=when, label="Notification de rentrée")
    assert order.deliveries == len(couples)
    passwords = {}
    for event in events(platform, "notification.requested")[before:]:
        with platform.runtime("accounts").uow() as uow:
            record_notification(uow, event.payload["account"]["account_id"], "paper", at=when, actor="notificateur")
            uow.commit()
        passwords[event.payload["account"]["login"]] = box.open(event.payload["temporary_password_encrypted"])
    return passwords


def audit(platform, action) -> list[tuple[str, str]]:
    with platform.runtime("accounts").uow() as uow:
        return [(e.school_uai, e.summary) for e in uow.session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))]


def test_a_whole_school_year_of_two_schools(platform, tmp_path, monkeypatch):
    monkeypatch.setenv("TS_DATA_DIR", str(platform.settings.data_dir))  # tsctl on the same data
    box = SecretBox(platform.settings.event_key)
    year = current_school_year()  # the schools start in today's school year; the test drives its months
    sept = at(f"{year}-09-14T08:00")

    # September: both schools import SIECLE — every account « Non notifié »
    run_import(platform, tmp_path, UAI, [LEA, MAEL], A_PEOPLE, A_LINKS, sept)
    run_import(platform, tmp_path, OTHER_UAI, [ZOE], B_PEOPLE[:1], B_LINKS[:1], sept)
    a = states(platform, UAI)
    assert {state for _, state in a.values()} == {"not_notified"} and len(a) == 5  # 2 students, 3 guardians
    assert {state for _, state in states(platform, OTHER_UAI).values()} == {"not_notified"}

    # the rentrée's mass notification, by letter — « Notifié »
    notified = at(f"{year}-09-15T09:00")
    passwords = notify_guardians(platform, UAI, [Couple("1001", "9001"), Couple("1001", "9002"),
                                                 Couple("1002", "9003")], notified)
    notify_guardians(platform, OTHER_UAI, [Couple("3001", "8101")], notified)
    a = states(platform, UAI)
    assert [a[key][1] for key in (("1001", "9001"), ("1001", "9002"), ("1002", "9003"))] == ["notified"] * 3

    # Jean activates his account: first login, then the confirmation link — « Utilisé »
    jean = a[("1001", "9002")][0]
    with platform.runtime("accounts").uow() as uow:
        first_login(uow, box, login=jean, temporary_password=passwords[jean], new_password="Papa2026ok",
                    new_password_again="Papa2026ok", birth_date=datetime(2013, 3, 12).date(),
                    email="jean.perso@example.net", email_again="jean.perso@example.net", client_address=None,
                    now=at(f"{year}-09-20T18:00"))
    assert states(platform, UAI)[("1001", "9002")] == (jean, "activating")
    token = box.open(events(platform, "family_email.requested")[-1].payload["link_token_encrypted"])
    with platform.runtime("accounts").uow() as uow:
        confirm_email(uow, token=token, now=at(f"{year}-09-20T18:05"))
    assert states(platform, UAI)[("1001", "9002")] == (jean, "used")

    # 3 months after the letters: the accounts not activated are deleted, each couple gets a new
    # « Non notifié » account; both schools' audit logs say how many
    with platform.runtime("accounts").uow() as uow:
        assert expire_accounts(uow, now=at(f"{year}-12-14T10:00")).deleted == []  # 90 days: not yet
        uow.commit()
    with platform.runtime("accounts").uow() as uow:
        report = expire_accounts(uow, now=at(f"{year}-12-16T10:00"))
        uow.commit()
    assert len(report.deleted) == 3 and report.recreated == 3
    a = states(platform, UAI)
    assert a[("1001", "9002")] == (jean, "used")
    assert a[("1001", "9001")][1] == a[("1002", "9003")][1] == "not_notified"
    assert a[("1001", "9001")][0] == "helene.dupont1"  # a new login: the old one is never given again
    expired = audit(platform, "accounts.expired")
    assert [(uai, summary.split(" : ")[0]) for uai, summary in expired] == [
        (UAI, "Suppression automatique de 2 compte(s)"), (OTHER_UAI, "Suppression automatique de 1 compte(s)")]

    # January: Léa moves to the lycée — the collège's import records her departure, the lycée's
    # enrols her with her father: his used account follows her (access continuity, B8)
    january = at(f"{year + 1}-01-10T08:00")
    run_import(platform, tmp_path, UAI, [MAEL], A_PEOPLE[2:], A_LINKS[2:], january)
    run_import(platform, tmp_path, OTHER_UAI, [ZOE, LEA_IN_B], B_PEOPLE, B_LINKS, january)
    b = states(platform, OTHER_UAI)
    assert b[("3002", "8102")] == (jean, "used")
    assert all(student != "1001" for student, _ in states(platform, UAI))

    # 31 August, 23:30 in Paris (21:30 UTC): still the same school year
    with platform.runtime("accounts").uow() as uow:
        assert start_school_year(uow, now=at(f"{year + 1}-08-31T21:30")) == []
    assert school_year_of(at(f"{year + 1}-08-31T21:30")) == year

    # 1 September, 00:30 in Paris: the job moves both schools, nothing closes, no account changes
    before_a, before_b = states(platform, UAI), states(platform, OTHER_UAI)
    rentree = at(f"{year + 1}-08-31T22:30")
    with platform.runtime("accounts").uow() as uow:
        assert start_school_year(uow, now=rentree) == [UAI, OTHER_UAI]
    with platform.runtime("accounts").uow() as uow:
        assert start_school_year(uow, now=at(f"{year + 1}-09-01T10:00")) == []  # once
    with platform.runtime("accounts").uow() as uow:
        for uai in (UAI, OTHER_UAI):
            school = uow.session.get(School, uai)
            assert school.school_year == year + 1 and school.services_activated_at is not None
        reminder = rentree_reminder(uow.session, uow.session.get(School, UAI), now=at(f"{year + 1}-09-02T08:00"))
    assert states(platform, UAI) == before_a and states(platform, OTHER_UAI) == before_b
    assert (reminder.year, reminder.guardians, reminder.students) == (year + 1, 1, 1)  # Awa (Léa has left); Maël
    started = audit(platform, "school.year_started")
    assert [uai for uai, _ in started] == [UAI, OTHER_UAI]
    assert started[0][1].startswith(f"Nouvelle année scolaire {year + 1}/{year + 2} : les téléservices")

    # ops running the command afterwards changes nothing
    result = CliRunner().invoke(cli, ["rollover", "--year", str(year + 1)])
    assert result.exit_code == 0, result.output
    assert f"déjà en année scolaire {year + 1}/{year + 2}" in result.output
    assert len(audit(platform, "school.year_started")) == 2

    # the console shows the new year, and what the rentrée requires, with the selection ready
    client = Client(platform.spec("accounts").create_app(platform.runtime("accounts")))
    page = client.get("/admin/login")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text).group(1)
    client.post("/admin/login", data={"csrf_token": token, "login": "chef.x", "password": PASSWORD})
    home = client.get("/admin/").text
    assert f"Année {year + 1}/{year + 2}" in home and f"Rentrée {year + 1} : notifiez les comptes en masse" in home
    assert "1 compte(s) responsable(s) et 1 compte(s) élève(s) restent à notifier" in home
    assert "/admin/guardians/notify?etats=not_notified&amp;etats=notified&amp;etats=activating" in home


def test_the_rollover_command_starts_a_year_once(platform, monkeypatch):
    monkeypatch.setenv("TS_DATA_DIR", str(platform.settings.data_dir))
    year = current_school_year() + 1
    first = CliRunner().invoke(cli, ["rollover", "--year", str(year)])
    assert first.exit_code == 0
    assert f"Année scolaire {year}/{year + 1} commencée dans 2 établissement(s)" in first.output
    again = CliRunner().invoke(cli, ["rollover", "--year", str(year)])
    assert again.exit_code == 0 and "rien à faire" in again.output
    older = CliRunner().invoke(cli, ["rollover", "--year", str(year - 1)])
    assert older.exit_code == 0 and "rien à faire" in older.output  # a school never goes back
    assert CliRunner().invoke(cli, ["rollover", "--year", "1990"]).exit_code != 0
    with platform.runtime("accounts").uow() as uow:
        assert {school.school_year for school in uow.session.scalars(select(School))} == {year}
