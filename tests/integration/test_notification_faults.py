"""Mass notification (E1) on the real RabbitMQ and PostgreSQL, with a real SMTP server: a batch
goes through end to end, and a notifier worker killed in the middle of a batch, then restarted,
finishes it with no family emailed twice and no recipient lost.

The worker is a `tsctl worker notifier` subprocess that kills itself (SIGKILL) at a crash point
(TS_CRASH_POINT=<point>#<n>: the n-th time it gets there); see ts_notifier.service_layer.batches
for why an email interrupted while being handed to the mail server is reported, never resent.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections import Counter

import pytest
from sqlalchemy import select

from support.infra import create_postgres_database, drop_postgres_database
from support.notifying import (
    UAI, SmtpServer, add_school_with_population, batch_completed, batch_pdf, notified_accounts,
    notifier_knows_the_school, notify, passwords_sent,
)
from support.pipeline import run_services
from support.settings import environment_for, settings_for
from ts_accounts.adapters.orm import Account
from ts_accounts.domain.lifecycle import AccountKind
from ts_accounts.service_layer.notifications import Couple
from ts_accounts.service_layer.support import SearchFilters, search
from ts_notifier.adapters.batches import Delivery
from ts_notifier.service_layer.batches import INTERRUPTED
from ts_shared.config import SmtpSettings
from ts_shared.runtime.process import Platform

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]

TSCTL = [sys.executable, "-m", "ts_shared.runtime.cli"]
LOGIN = re.compile(r"Identifiant\s*:\s*(\S+)")


@pytest.fixture
def smtp_server():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def platform(tmp_path, rabbitmq_url, smtp_server):
    """accounts and notifier on PostgreSQL, all services on one RabbitMQ virtual host."""
    urls = {"accounts": create_postgres_database(), "notifier": create_postgres_database()}
    settings = settings_for(tmp_path / "data", broker_url=rabbitmq_url, **urls).with_overrides(
        smtp=SmtpSettings(host="127.0.0.1", port=smtp_server.port, sender="Collège <ce@example.org>"),
        public_url="https://scolarite.example.org")
    platform = Platform(settings)
    for service in urls:
        platform.runtime(service).migrate()
    add_school_with_population(platform, tmp_path / "export", students=60)
    run_services(platform, lambda: notifier_knows_the_school(platform), services=("accounts", "notifier"))
    yield platform
    platform.dispose()
    for url in urls.values():
        drop_postgres_database(url)


def _whole_school(platform) -> list[Couple]:
    """Every guardian × student of the school (about 110 for 60 students)."""
    with platform.runtime("accounts").uow() as uow:
        rows = search(uow.session, UAI, AccountKind.GUARDIAN, SearchFilters())
    return [Couple(r.student_siecle_id, r.guardian_siecle_id) for r in rows]


def _deliveries(platform, batch_id: str) -> list[Delivery]:
    with platform.runtime("notifier").uow() as uow:
        return uow.session.scalars(select(Delivery).where(Delivery.batch_id == batch_id)).all()


def _accounts_by_login(platform, logins) -> dict[str, Account]:
    with platform.runtime("accounts").uow() as uow:
        return {a.login: a for a in uow.session.scalars(select(Account).where(Account.login.in_(list(logins))))}


def _logins_emailed(server: SmtpServer) -> Counter:
    return Counter(match.group(1) for text in server.texts() for match in [LOGIN.search(text)] if match)


def _relay_accounts(platform) -> None:
    relay = platform.runtime("accounts").relay()
    try:
        while relay.publish_pending():
            pass
    finally:
        relay.close()


def test_a_batch_on_the_real_broker_ends_in_the_right_states_emails_and_pdf(platform, smtp_server):
    couples = _whole_school(platform)
    order = notify(platform, couples, "email_and_paper", label="Notification de tous les responsables")
    run_services(platform, lambda: batch_completed(platform, order.batch_id)
                 and notified_accounts(platform) >= order.deliveries, timeout=120)

    passwords = passwords_sent(platform)
    deliveries = _deliveries(platform, order.batch_id)
    assert len(deliveries) == order.deliveries == len(passwords)
    by_email = [d for d in deliveries if d.channel == "email"]
    paper = [d for d in deliveries if d.channel == "paper"]
    assert {d.status for d in by_email} == {"sent"} and {d.status for d in paper} == {"printed"}
    assert by_email and paper
    emailed = _logins_emailed(smtp_server)
    assert sum(emailed.values()) == len(smtp_server.messages) == len(by_email)
    for text in smtp_server.texts():
        login = LOGIN.search(text).group(1)
        assert passwords[login] in text
    assert len(batch_pdf(platform, order.batch_id).pages) == len(paper)
    accounts = _accounts_by_login(platform, passwords)
    assert Counter(a.notification_mode for a in accounts.values()) == {"email": len(by_email), "paper": len(paper)}
    assert all(a.state == "notified" for a in accounts.values())


@pytest.mark.parametrize("crash_point", ["notifier.before_smtp", "notifier.after_smtp", "consumer.after_commit"])
def test_a_notifier_worker_killed_mid_batch_and_restarted_finishes_it_without_emailing_anyone_twice(
        platform, smtp_server, crash_point):
    couples = _whole_school(platform)
    order = notify(platform, couples, "email", label="Notification de tous les responsables")
    passwords = passwords_sent(platform)
    assert order.deliveries == len(passwords) > 20
    _relay_accounts(platform)

    env = {**os.environ, **environment_for(platform.settings), "TS_CRASH_POINT": f"{crash_point}#8"}
    worker = subprocess.Popen([*TSCTL, "worker", "notifier"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output, _ = worker.communicate(timeout=120)
    assert worker.returncode == -signal.SIGKILL, output.decode()[-2000:]
    emailed_before_restart = sum(_logins_emailed(smtp_server).values())
    assert 0 < emailed_before_restart < order.deliveries  # killed in the middle of the batch

    run_services(platform, lambda: batch_completed(platform, order.batch_id)
                 and _all_reported(platform, order.batch_id), services=("accounts", "notifier"), timeout=120)

    deliveries = _deliveries(platform, order.batch_id)
    assert len(deliveries) == order.deliveries  # nobody lost
    assert {d.status for d in deliveries} <= {"sent", "failed"}
    emailed = _logins_emailed(smtp_server)
    assert max(emailed.values()) == 1  # nobody emailed twice
    sent = {d.account_id for d in deliveries if d.status == "sent"}
    interrupted = [d for d in deliveries if d.status == "failed"]
    if crash_point == "consumer.after_commit":
        assert interrupted == []  # the redelivered event is recognised as applied
    else:
        # The one email in the hands of the dying worker is reported, to notify again, not resent.
        assert [d.error for d in interrupted] == [INTERRUPTED]
    accounts = _accounts_by_login(platform, passwords)
    assert len(emailed) == len(sent) + (1 if crash_point == "notifier.after_smtp" else 0)
    assert {a.id for a in accounts.values() if a.state == "notified"} == sent
    assert all(a.notification_mode == "email" for a in accounts.values() if a.id in sent)


def _all_reported(platform, batch_id: str) -> bool:
    deliveries = _deliveries(platform, batch_id)
    sent = {d.account_id for d in deliveries if d.status == "sent"}
    with platform.runtime("accounts").uow() as uow:
        notified = set(uow.session.scalars(select(Account.id).where(Account.notified_at.is_not(None))))
    return all(d.status in ("sent", "failed") for d in deliveries) and sent <= notified
