"""What the notification tests share: a real SMTP server in-process (aiosmtpd) that keeps what
it accepts and refuses chosen mailboxes, a school with a generated population, and the steps and
observations of a notification batch (who was sent which password, the batch's PDF)."""
from __future__ import annotations

import email
import email.policy
import io
import json
from pathlib import Path

from aiosmtpd.controller import Controller
from pypdf import PdfReader
from sqlalchemy import select

from ts_accounts.adapters.orm import Account
from ts_accounts.adapters.siecle import inspect_export
from ts_accounts.demo.synthetic_siecle import generate_school, write_export
from ts_accounts.domain.lifecycle import AccountKind
from ts_accounts.service_layer.audit import Actor
from ts_accounts.service_layer.imports import import_population, source_from_exports
from ts_accounts.service_layer.notifications import request_notifications
from ts_accounts.service_layer.schools import activate_services, add_school
from ts_accounts.service_layer.support import SearchFilters, search
from ts_notifier.adapters.batches import GeneratedFile, NotificationBatch
from ts_notifier.adapters.orm import SchoolLetterSettings
from ts_notifier.service_layer.files import files_folder
from ts_shared.crypto import SecretBox
from ts_shared.db import utcnow
from ts_shared.messaging.envelope import parse_event
from ts_shared.runtime.mail_sink import free_port

UAI = "0541234X"
ACTOR = Actor("chef.demo")


class SmtpServer:
    """A real SMTP server in-process that keeps what it accepts and refuses some mailboxes (550)."""

    def __init__(self, refused=()):
        self.refused, self.messages = set(refused), []
        self.port = free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refused:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.original_content, policy=email.policy.default))
        return "250 OK"

    def texts(self) -> list[str]:
        return [m.get_body(preferencelist=("plain",)).get_content() for m in self.messages]

    def recipients(self) -> list[str]:
        return [m["To"] for m in self.messages]


def add_school_with_population(platform, work: Path, students: int = 60) -> None:
    """The school, its services opened, and a generated SIECLE population imported."""
    with platform.runtime("accounts").uow() as uow:
        add_school(uow, uai=UAI, name="Collège Jean Moulin", academy_code="NCY", city="Nancy")
        activate_services(uow, UAI)
        uow.commit()
    files = write_export(generate_school(UAI, students, seed=5), work)
    with platform.runtime("accounts").uow() as uow:
        import_population(uow, uai=UAI, source=source_from_exports(UAI, [inspect_export(f) for f in files]),
                          actor="test")
        uow.commit()


def notifier_knows_the_school(platform) -> bool:
    with platform.runtime("notifier").uow() as uow:
        return uow.session.get(SchoolLetterSettings, UAI) is not None


def division_rows(platform, division: str, kind: AccountKind = AccountKind.GUARDIAN):
    with platform.runtime("accounts").uow() as uow:
        return search(uow.session, UAI, kind, SearchFilters(division=division))


def notify(platform, couples, mode, *, reset_password: bool = False, label="Notification des responsables de 6A"):
    with platform.runtime("accounts").uow() as uow:
        order = request_notifications(uow, SecretBox(platform.settings.event_key), ACTOR, uai=UAI, couples=couples,
                                      mode=mode, reset_password=reset_password, now=utcnow(), label=label)
        uow.commit()
    return order


def batch_completed(platform, batch_id: str) -> bool:
    with platform.runtime("notifier").uow() as uow:
        batch = uow.session.get(NotificationBatch, batch_id)
        return batch is not None and batch.completed_at is not None


def notified_accounts(platform) -> int:
    with platform.runtime("accounts").uow() as uow:
        return len(uow.session.scalars(select(Account.id).where(Account.notified_at.is_not(None))).all())


def passwords_sent(platform) -> dict[str, str]:
    """login -> the temporary password accounts sealed into the requests (what letters must print)."""
    outbox = platform.runtime("accounts").spec.tables.outbox
    box = SecretBox(platform.settings.event_key)
    with platform.runtime("accounts").engine.connect() as connection:
        events = [parse_event(json.loads(row)) for row in connection.execute(
            select(outbox.c.envelope).where(outbox.c.event_type == "notification.requested")).scalars()]
    return {e.payload["account"]["login"]: box.open(e.payload["temporary_password_encrypted"]) for e in events}


def batch_pdf(platform, batch_id: str) -> PdfReader:
    with platform.runtime("notifier").uow() as uow:
        [file] = uow.session.scalars(select(GeneratedFile).where(GeneratedFile.batch_id == batch_id,
                                                                 GeneratedFile.kind == "pdf")).all()
    return PdfReader(io.BytesIO((files_folder(platform.settings) / file.id).read_bytes()))
