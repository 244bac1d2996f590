"""Copies stay exact when two changes of one aggregate happen at the same moment, on the real
PostgreSQL (where writers do not wait for each other as on SQLite) and RabbitMQ.

A barrier releases two threads at once, each running a use case in its own transaction, as two
staff members' requests (or a staff request and a consumer) would; the events then travel through
the relay and the workers, and every read model must equal the source. Read models keep only a
strictly newer version, so two changes given the same version lose one of them for good.
"""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from werkzeug.test import Client

from support.bus import wait_for
from support.infra import create_postgres_database, drop_postgres_database
from support.notifying import UAI, add_school_with_population, notify, passwords_sent
from support.pipeline import at_once, everything_applied, run_services, services_running
from support.settings import settings_for
from ts_accounts.adapters.orm import Account, School
from ts_accounts.domain.lifecycle import AccountKind
from ts_accounts.service_layer.accounts import set_access_refused
from ts_accounts.service_layer.audit import Actor
from ts_accounts.service_layer.identity import first_login
from ts_accounts.service_layer.notifications import PAPER, Couple, record_delivery
from ts_accounts.service_layer.schools import activate_services, add_school
from ts_accounts.service_layer.settings import set_ent_and_letter, set_welcome_message
from ts_accounts.service_layer.staff import create_staff, delegate
from ts_accounts.service_layer.support import SearchFilters, search
from ts_notifier.adapters.orm import SchoolLetterSettings
from ts_shared.crypto import SecretBox
from ts_portal.adapters.orm import SchoolPortalSettings
from ts_shared.db import utcnow
from ts_shared.runtime.process import Platform
from ts_shared.web.staff_session import RIGHT_SETTINGS
from ts_stats.adapters.orm import AccountSnapshot

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]

ROUNDS = 20
HEAD, DEPUTY = Actor("chef.test"), Actor("adjoint.test")


@pytest.fixture
def make_platform(tmp_path, rabbitmq_url):
    """Platform with the named services on their own PostgreSQL databases, on one RabbitMQ vhost."""
    created: list[str] = []
    platforms: list[Platform] = []

    def make(*services: str) -> Platform:
        urls = {service: create_postgres_database() for service in services}
        created.extend(urls.values())
        platform = Platform(settings_for(tmp_path / "data", broker_url=rabbitmq_url, **urls))
        for service in services:
            platform.runtime(service).migrate()
        platforms.append(platform)
        return platform

    yield make
    for platform in platforms:
        platform.dispose()
    for url in created:
        drop_postgres_database(url)


def in_transaction(platform: Platform, use_case, **arguments):
    def change():
        with platform.runtime("accounts").uow() as uow:
            use_case(uow, **arguments)
            uow.commit()
    return change


def rows_by_key(platform: Platform, service: str, entity, key: str, *columns: str) -> dict:
    with platform.runtime(service).engine.connect() as connection:
        table = entity.__table__
        return {
            row[0]: tuple(row[1:]) for row in connection.execute(select(table.c[key], *(table.c[c] for c in columns)))
        }


def test_two_staff_saving_the_school_settings_at_once_leave_the_portal_and_the_notifier_equal_to_accounts(
    make_platform,
):
    platform = make_platform("accounts", "portal", "notifier")
    schools = [f"05{n:05d}A" for n in range(ROUNDS)]
    with platform.runtime("accounts").uow() as uow:
        for uai in schools:
            add_school(uow, uai=uai, name=f"Collège {uai}", academy_code="NCY")
            activate_services(uow, uai)
        uow.commit()

    for round_, uai in enumerate(schools):
        # The head saves the welcome message while the deputy saves the letter type, and (every
        # other round) both save the welcome message: the last save must be what families see.
        deputy = (
            in_transaction(platform, set_welcome_message, actor=DEPUTY, uai=uai, raw_html=f"<p>Adjoint {round_}</p>")
            if round_ % 2
            else in_transaction(
                platform,
                set_ent_and_letter,
                actor=DEPUTY,
                uai=uai,
                letter_type="mixed",
                typed_url="https://ent.example.org/",
            )
        )
        at_once(in_transaction(platform, set_welcome_message, actor=HEAD, uai=uai, raw_html=f"<p>Chef {round_}</p>"),
                deputy)
    run_services(platform, lambda: everything_applied(platform, "portal", "notifier"),
                 services=("accounts", "portal", "notifier"), timeout=120)

    source = rows_by_key(platform, "accounts", School, "uai", "settings_version", "welcome_message_html",
                         "letter_type", "ent_url")
    portal = rows_by_key(platform, "portal", SchoolPortalSettings, "uai", "settings_version", "welcome_message_html",
                         "letter_type", "ent_url")
    letters = rows_by_key(
        platform, "notifier", SchoolLetterSettings, "uai", "settings_version", "letter_type", "ent_url"
    )
    portal_wrong = [uai for uai in schools if portal[uai] != source[uai]]
    letters_wrong = [uai for uai in schools if letters[uai] != (source[uai][0], *source[uai][2:])]
    assert (portal_wrong, letters_wrong) == ([], []), (
        f"the portal differs from accounts for {len(portal_wrong)}/{ROUNDS} schools, "
        f"the notifier for {len(letters_wrong)}/{ROUNDS}")
    # Each save got its own version: two per school after the activation's.
    assert {source[uai][0] for uai in schools} == {4}


def test_a_delivery_report_racing_an_access_refusal_leaves_the_statistics_equal_to_accounts(make_platform, tmp_path):
    platform = make_platform("accounts", "stats")
    add_school_with_population(platform, tmp_path / "export", students=12)
    with platform.runtime("accounts").uow() as uow:
        raced = uow.session.scalars(select(Account.id).where(Account.state == "not_notified")
                                    .order_by(Account.login).limit(ROUNDS)).all()
    assert len(raced) == ROUNDS
    delivered_at = utcnow() - timedelta(minutes=1)
    for account_id in raced:
        at_once(in_transaction(platform, record_delivery, account_id=account_id, channel="paper",
                               delivered_at=delivered_at, batch_id="lot-de-rentree"),
                in_transaction(platform, set_access_refused, account_id=account_id, refused=True, now=utcnow(),
                               actor=HEAD.login))
    run_services(platform, lambda: everything_applied(platform, "stats"), services=("accounts", "stats"), timeout=120)

    source = rows_by_key(platform, "accounts", Account, "id", "version", "state", "notified_at")
    stats = rows_by_key(platform, "stats", AccountSnapshot, "account_id", "version", "state", "notified_at")
    wrong = [account_id for account_id in raced if stats[account_id] != source[account_id]]
    assert wrong == [], f"the statistics differ from accounts for {len(wrong)}/{ROUNDS} accounts"
    assert all(source[account_id][1] == "notified" for account_id in raced)
    with platform.runtime("accounts").uow() as uow:
        refused = uow.session.scalar(select(func.count()).select_from(Account).where(
            Account.id.in_(raced), Account.access_refused_at.is_not(None)))
    assert refused == ROUNDS


# --- through the staff API ----------------------------------------------------------------------

class StaffApi:
    """A staff member signed in to the console, calling the JSON API with the session's CSRF token."""

    def __init__(self, app, login: str, password: str):
        self.client = Client(app)
        page = self.client.get("/admin/login").text
        token = page.split('name="csrf_token"', 1)[1].split('value="', 1)[1].split('"', 1)[0]
        signed = self.client.post("/admin/login", data={"csrf_token": token, "login": login, "password": password})
        assert signed.status_code == 302, signed.text
        self.token = self.client.get("/api/v1/csrf-token").json["csrf_token"]

    def save_welcome_message(self, html: str):
        return lambda: self.client.put("/api/v1/settings/welcome-message", json={"html": html},
                                       headers={"X-CSRFToken": self.token})


def test_two_concurrent_saves_of_the_welcome_message_through_the_staff_api_leave_every_copy_equal(make_platform):
    platform = make_platform("accounts", "portal", "notifier")
    with platform.runtime("accounts").uow() as uow:
        add_school(uow, uai=UAI, name="Collège Jean Moulin", academy_code="NCY")
        activate_services(uow, UAI)
        create_staff(uow, login="chef.test", display_name="Mme Claire Martin", password="un mot de passe de chef",
                     head_of=UAI)
        delegate(uow, HEAD, uai=UAI, login="adjoint.test", rights=[RIGHT_SETTINGS], display_name="M. Paul Petit",
                 initial_password="un mot de passe d'adjoint")
        uow.commit()
    app = platform.spec("accounts").create_app(platform.runtime("accounts"))
    head, deputy = (
        StaffApi(app, "chef.test", "un mot de passe de chef"),
        StaffApi(app, "adjoint.test", "un mot de passe d'adjoint"),
    )

    diverged, first = [], rows_by_key(platform, "accounts", School, "uai", "settings_version")[UAI][0]
    with services_running(platform, services=("accounts", "portal", "notifier")):
        for round_ in range(ROUNDS // 2):
            answers = at_once(head.save_welcome_message(f"<p>Message du chef n° {round_}</p>"),
                              deputy.save_welcome_message(f"<p>Message de l'adjoint n° {round_}</p>"))
            assert [answer.status_code for answer in answers] == [200, 200], [a.text for a in answers]
            wait_for(lambda: everything_applied(platform, "portal", "notifier"), timeout=60)
            source = rows_by_key(platform, "accounts", School, "uai", "settings_version", "welcome_message_html")[UAI]
            portal = rows_by_key(platform, "portal", SchoolPortalSettings, "uai", "settings_version",
                                 "welcome_message_html")[UAI]
            letters = rows_by_key(platform, "notifier", SchoolLetterSettings, "uai", "settings_version")[UAI]
            if portal != source or letters != source[:1]:
                diverged.append(round_)
    assert diverged == [], f"a copy differs from accounts after {len(diverged)}/{ROUNDS // 2} pairs of saves"
    assert source[0] == first + ROUNDS  # every save got its own version


def test_a_delivery_report_racing_the_familys_first_login_never_takes_the_account_back(make_platform, tmp_path):
    platform = make_platform("accounts", "stats")
    add_school_with_population(platform, tmp_path / "export", students=15)
    with platform.runtime("accounts").uow() as uow:
        couples = [row for row in search(uow.session, UAI, AccountKind.GUARDIAN, SearchFilters()) if row.login][:ROUNDS]
    assert len(couples) == ROUNDS
    order = notify(platform, [Couple(row.student_siecle_id, row.guardian_siecle_id) for row in couples], PAPER)
    passwords, box = passwords_sent(platform), SecretBox(platform.settings.event_key)

    def signs_in(row):
        def change():
            with platform.runtime("accounts").uow() as uow:
                first_login(
                    uow,
                    box,
                    login=row.login,
                    temporary_password=passwords[row.login],
                    new_password="Lilas2026",
                    new_password_again="Lilas2026",
                    birth_date=row.birth_date,
                    email="parent@example.org",
                    email_again="parent@example.org",
                    client_address=None,
                    now=utcnow(),
                )
        return change

    def reported_after(delay: float, row):
        deliver = in_transaction(platform, record_delivery, account_id=row.account_id, channel="paper",
                                 delivered_at=utcnow(), batch_id=order.batch_id)
        return lambda: (time.sleep(delay), deliver())

    # The report lands at a different moment of the first login each round (which checks and
    # hashes passwords for a while): before it reads the account, while it changes it, after.
    for round_, row in enumerate(couples):
        at_once(reported_after(round_ * 0.01, row), signs_in(row))
    run_services(platform, lambda: everything_applied(platform, "stats"), services=("accounts", "stats"), timeout=120)

    source = rows_by_key(platform, "accounts", Account, "id", "version", "state", "notified_at")
    stats = rows_by_key(platform, "stats", AccountSnapshot, "account_id", "version", "state", "notified_at")
    taken_back = [row.login for row in couples if source[row.account_id][1] != "activating"]
    wrong = [row.login for row in couples if stats[row.account_id] != source[row.account_id]]
    assert (taken_back, wrong) == ([], []), (
        f"{len(taken_back)}/{ROUNDS} activations undone by the report, statistics wrong for {len(wrong)}/{ROUNDS}")
