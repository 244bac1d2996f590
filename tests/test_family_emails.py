"""Family emails end to end on the embedded stack: the identity API asks for an email, the event
crosses the bus, the notifier sends it over real SMTP, and its link works."""
from __future__ import annotations

import email
import email.policy
import re
import pytest
from sqlalchemy import select
from werkzeug.test import Client

from support.bus import reset_memory_broker, run_worker_until
from support.settings import settings_for
from support.siecle_files import ADDRESSES, LINKS, PEOPLE, STUDENTS, UAI, guardians_file, students_file
from ts_accounts.adapters.orm import Account
from ts_accounts.adapters.siecle import inspect_export
from ts_accounts.service_layer.accounts import prepare_letter, record_notification
from ts_accounts.service_layer.imports import import_population, source_from_exports
from ts_accounts.service_layer.schools import add_school
from ts_notifier.adapters.orm import OutgoingEmail
from ts_shared.config import SmtpSettings
from ts_shared.db import utcnow
from ts_shared.runtime.mail_sink import MailSink
from ts_shared.runtime.process import Platform, build_worker
from ts_shared.web.internal_api import TOKEN_HEADER


@pytest.fixture
def sink(tmp_path):
    sink = MailSink(tmp_path / "mail")
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def platform(tmp_path, sink):
    reset_memory_broker()
    settings = settings_for(tmp_path).with_overrides(
        smtp=SmtpSettings(host="127.0.0.1", port=sink.port, sender="Scolarité services <ne-pas-repondre@example.org>"),
        public_url="https://scolarite.example.org")
    platform = Platform(settings)
    accounts = platform.runtime("accounts")
    with accounts.uow() as uow:
        add_school(uow, uai=UAI, name="Collège Jean Moulin", academy_code="NCY")
        uow.commit()
    files = [students_file(tmp_path / "e.xml", STUDENTS), guardians_file(tmp_path / "r.xml", PEOPLE, LINKS, ADDRESSES)]
    with accounts.uow() as uow:
        import_population(
            uow, uai=UAI, source=source_from_exports(UAI, [inspect_export(f) for f in files]), actor="test"
        )
        uow.commit()
    yield platform
    platform.dispose()
    reset_memory_broker()


def _deliver(platform, expected_emails: int, sink_folder):
    """Relay the accounts outbox and run the notifier's worker until the emails are out."""
    platform.runtime("accounts").relay().publish_pending()
    notifier = platform.runtime("notifier")
    run_worker_until(build_worker(platform, "notifier"), lambda: len(list(sink_folder.glob("*.eml"))) >= expected_emails
                     and _count_outgoing(notifier) >= expected_emails)


def _count_outgoing(notifier) -> int:
    with notifier.uow() as uow:
        return len(uow.session.scalars(select(OutgoingEmail)).all())


def _messages(folder):
    return [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for path in sorted(folder.glob("*.eml"))
    ]


def test_a_guardian_gets_a_french_confirmation_email_whose_link_activates_the_account(platform, tmp_path):
    with platform.runtime("accounts").uow() as uow:
        account = uow.session.scalar(select(Account).where(Account.login == "helene.dupont"))
        _, password = prepare_letter(uow, account, reset_password=False, now=utcnow(), actor="test")
        record_notification(uow, account.id, "paper", at=utcnow(), actor="test")
        uow.commit()
    client = Client(platform.spec("accounts").create_app(platform.runtime("accounts")))
    headers = {TOKEN_HEADER: platform.settings.internal_token}
    response = client.post("/internal/v1/first-login", headers=headers, json={
        "login": "helene.dupont", "temporary_password": password, "new_password": "Lilas2026",
        "new_password_again": "Lilas2026", "birth_date": "2013-03-12", "email": "helene@example.org",
        "email_again": "helene@example.org"})
    assert response.status_code == 200, response.text
    _deliver(platform, 1, tmp_path / "mail")

    [message] = _messages(tmp_path / "mail")
    assert message["To"] == "helene@example.org"
    assert message["Subject"] == "Scolarité services : confirmez votre adresse électronique"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert text.startswith("Bonjour Mme Hélène DUPONT,") and "Confirmer mon adresse électronique" in html
    link = re.search(r"https://scolarite\.example\.org/compte/confirmation\?jeton=(\S+)", text)
    assert link and link.group(0) in html.replace("&amp;", "&")
    # The link's token confirms the account.
    confirmed = client.post("/internal/v1/confirm-email", headers=headers, json={"token": link.group(1)})
    assert confirmed.status_code == 200 and confirmed.json["state"] == "used"
    with platform.runtime("notifier").uow() as uow:
        [sent] = uow.session.scalars(select(OutgoingEmail)).all()
    assert (sent.template, sent.status, sent.to_address) == ("confirm_email", "sent", "helene@example.org")


def test_the_reference_of_a_password_request_is_in_the_email_subject(platform, tmp_path):
    with platform.runtime("accounts").uow() as uow:
        account = uow.session.scalar(select(Account).where(Account.login == "helene.dupont"))
        account.state, account.email, account.email_confirmed_at = "used", "helene@example.org", utcnow()
        uow.commit()
    client = Client(platform.spec("accounts").create_app(platform.runtime("accounts")))
    headers = {TOKEN_HEADER: platform.settings.internal_token}
    reference = client.post("/internal/v1/forgot-password", headers=headers, json={"login": "helene.dupont"}).json[
        "reference"
    ]
    client.post("/internal/v1/forgot-login", headers=headers, json={"email": "helene@example.org"})
    _deliver(platform, 2, tmp_path / "mail")
    subjects = {message["Subject"] for message in _messages(tmp_path / "mail")}
    assert f"Scolarité services : demande de nouveau mot de passe n° {reference}" in subjects
    reminder = next(m for m in _messages(tmp_path / "mail") if "identifiant" in m["Subject"])
    assert "  - helene.dupont" in reminder.get_body(preferencelist=("plain",)).get_content()


class _RefusingHandler:
    """An SMTP server that refuses one mailbox for good (550), as a real relay does."""

    def __init__(self, refused: str):
        self.refused, self.accepted = refused, []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == self.refused:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.accepted.append(envelope.rcpt_tos)
        return "250 OK"


def test_a_mailbox_refused_for_good_is_recorded_and_not_retried(platform):
    from aiosmtpd.controller import Controller

    from ts_notifier.service_layer.family_emails import send_family_email
    from ts_shared.messaging.envelope import new_event, parse_event
    from ts_shared.runtime.mail_sink import free_port

    handler = _RefusingHandler("gone@example.org")
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        notifier = platform.runtime("notifier")
        event = parse_event(new_event("family_email.requested", {
            "template": "forgot_login", "to": "gone@example.org", "recipient_name": "M. Jean DUPONT",
            "logins": ["jean.dupont"]}, producer="accounts", school_uai=UAI).to_message())
        with notifier.uow() as uow:
            uow.settings = uow.settings.with_overrides(smtp=SmtpSettings(host="127.0.0.1", port=port))
            send_family_email(uow, event)  # no exception: nothing to retry
            uow.commit()
        with notifier.uow() as uow:
            [outgoing] = uow.session.scalars(select(OutgoingEmail)).all()
        assert outgoing.status == "refused" and "550" in outgoing.error and handler.accepted == []
    finally:
        controller.stop()
