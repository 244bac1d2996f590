"""What a family does must not wait for the events that follow a staff action: on the real
PostgreSQL and RabbitMQ, with the accounts consumer paused (its queue lags, as during a rentrée
batch), a parent signs in with the letter's temporary password through the portal before the
notifier's delivery report is applied — and nothing breaks when the report comes in afterwards.
"""
from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server
from werkzeug.test import Client

from support.bus import queue_size, wait_for
from support.infra import create_postgres_database, drop_postgres_database
from support.notifying import (
    UAI, SmtpServer, add_school_with_population, notifier_knows_the_school, notify, passwords_sent,
)
from support.pipeline import everything_applied, run_services, services_running
from support.portal import first_login, sign_in, submit, text
from support.settings import settings_for
from ts_accounts.adapters.orm import Account
from ts_accounts.domain.lifecycle import AccountKind
from ts_accounts.service_layer.notifications import PAPER, Couple
from ts_accounts.service_layer.support import SearchFilters, search
from ts_shared.config import SmtpSettings
from ts_shared.crypto import SecretBox
from ts_shared.messaging.envelope import parse_event
from ts_shared.runtime.process import Platform
from ts_stats.adapters.orm import AccountSnapshot

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]

SERVICES = ("accounts", "notifier", "portal", "stats")


@pytest.fixture
def system(tmp_path, rabbitmq_url):
    """Every service on its PostgreSQL database, one RabbitMQ vhost, a real SMTP server; accounts
    answers the portal on a real HTTP port (as its internal API does in production)."""
    smtp = SmtpServer().start()
    server = make_server("127.0.0.1", 0, None, threaded=True)
    urls = {service: create_postgres_database() for service in SERVICES}
    settings = settings_for(tmp_path / "data", broker_url=rabbitmq_url, **urls).with_overrides(
        smtp=SmtpSettings(host="127.0.0.1", port=smtp.port, sender="Collège <ce@example.org>"),
        accounts_internal_url=f"http://127.0.0.1:{server.server_address[1]}")
    platform = Platform(settings)
    for service in SERVICES:
        platform.runtime(service).migrate()
    add_school_with_population(platform, tmp_path / "export", students=4)
    run_services(platform, lambda: notifier_knows_the_school(platform), services=("accounts", "notifier"))
    server.app = platform.spec("accounts").create_app(platform.runtime("accounts"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield platform
    server.shutdown()
    thread.join(timeout=10)
    platform.dispose()
    smtp.stop()
    for url in urls.values():
        drop_postgres_database(url)


def _account(platform: Platform, login: str) -> Account:
    with platform.runtime("accounts").uow() as uow:
        return uow.session.scalar(select(Account).where(Account.login == login))


def _stats_copy(platform: Platform, account_id: str) -> tuple:
    with platform.runtime("stats").uow() as uow:
        row = uow.session.get(AccountSnapshot, account_id)
        return row.version, row.state, row.notified_at


def _delivery_reports(platform: Platform) -> list:
    """The notifier's notification.delivered events that have left for the broker."""
    outbox = platform.runtime("notifier").spec.tables.outbox
    with platform.runtime("notifier").engine.connect() as connection:
        rows = connection.execute(select(outbox.c.envelope).where(outbox.c.event_type == "notification.delivered",
                                                                  outbox.c.sent_at.is_not(None))).scalars()
        return [parse_event(json.loads(row)) for row in rows]


def _last_link_token(platform: Platform) -> str:
    outbox = platform.runtime("accounts").spec.tables.outbox
    with platform.runtime("accounts").engine.connect() as connection:
        envelope = connection.execute(select(outbox.c.envelope).where(outbox.c.event_type == "family_email.requested")
                                      .order_by(outbox.c.id.desc()).limit(1)).scalar_one()
    return SecretBox(platform.settings.event_key).open(
        parse_event(json.loads(envelope)).payload["link_token_encrypted"]
    )


def test_a_parent_signs_in_with_the_letter_while_its_delivery_report_waits_in_the_accounts_queue(system):
    platform = system
    with platform.runtime("accounts").uow() as uow:
        couple = next(row for row in search(uow.session, UAI, AccountKind.GUARDIAN, SearchFilters()) if row.login)
    order = notify(platform, [Couple(couple.student_siecle_id, couple.guardian_siecle_id)], PAPER)
    password = passwords_sent(platform)[couple.login]
    portal = Client(platform.spec("portal").create_app(platform.runtime("portal")))

    with services_running(platform, services=SERVICES, paused=("accounts",)):
        # The notifier produced the letter and reported it; the report waits in ts.accounts.
        wait_for(lambda: len(_delivery_reports(platform)) == 1
                 and queue_size(platform.settings.broker_url, platform.spec("accounts").subscription) >= 1, timeout=60)
        assert _account(platform, couple.login).state == "not_notified"

        signed = sign_in(portal, couple.login, password)
        assert signed.status_code == 302 and signed.headers["Location"] == "/premiere-connexion", text(signed)
        pending = first_login(portal, password, birth=couple.birth_date.strftime("%d/%m/%Y"),
                              email="parent@example.org")
        assert pending.status_code == 302 and pending.headers["Location"] == "/compte/en-attente", text(pending)
        started = _account(platform, couple.login)
        assert started.state == "activating" and started.notified_at is not None  # the letter did reach them
        wait_for(lambda: everything_applied(platform, "stats"), timeout=60)
        assert _stats_copy(platform, started.id) == (started.version, "activating", started.notified_at)

    [report] = _delivery_reports(platform)
    assert report.payload["batch_id"] == order.batch_id
    with services_running(platform, services=SERVICES):  # the accounts consumer catches up
        wait_for(lambda: everything_applied(platform, "accounts", source="notifier")
                 and everything_applied(platform, "stats"), timeout=60)
    reported = _account(platform, couple.login)
    # The report completes the record; it does not take the account back to Notifié.
    assert (reported.state, reported.notified_at, reported.notification_mode) == (
        "activating", report.payload["delivered_at"], "paper")
    assert _stats_copy(platform, reported.id) == (reported.version, "activating", reported.notified_at)
    assert queue_size(platform.settings.broker_url, platform.spec("accounts").subscription, dead_letters=True) == 0

    confirmed = submit(portal, f"/compte/confirmation?jeton={_last_link_token(platform)}", {})
    assert confirmed.status_code == 200, text(confirmed)
    assert _account(platform, couple.login).state == "used"
