"""Seed 003 §5: reminders before the 3-month deletion — « Comptes bientôt supprimés ».

An account « Notifié » or « En cours d'activation » is deleted three months after its latest
notification (B7). Within the last days, the school sees those accounts, division by division,
and renotifies them in one go: the new letter starts the three months again."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from ts_accounts.domain.lifecycle import NOT_ACTIVATED_LIFETIME, AccountKind, AccountState
from ts_accounts.service_layer.audit import Actor
from ts_accounts.service_layer.notifications import (
    EMAIL_AND_PAPER, PAPER, Couple, NotificationOrder, request_notifications,
)
from ts_accounts.service_layer.support import CoupleRow, SearchFilters, search
from ts_shared.crypto import SecretBox
from ts_shared.unit_of_work import UnitOfWork

REMINDER_WINDOW = timedelta(days=15)  # « bientôt » : deleted within the next 15 days
WAITING_STATES = (AccountState.NOTIFIED.value, AccountState.ACTIVATING.value)


@dataclass(frozen=True)
class SoonDeleted:
    row: CoupleRow
    deleted_on: datetime  # when the expiry job will delete the account, unless renotified


def deletion_due(notified_at: datetime) -> datetime:
    return notified_at + NOT_ACTIVATED_LIFETIME


def soon_deleted(session: Session, uai: str, kind: AccountKind, *, now: datetime,
                 division: str | None = None) -> list[SoonDeleted]:
    """The school's accounts of `kind` not activated whose deletion falls within the window,
    by division then in French order of the student's name."""
    rows = search(session, uai, kind, SearchFilters(division=division, states=WAITING_STATES))
    found = [SoonDeleted(row, deletion_due(row.notified_at)) for row in rows
             if row.notified_at is not None and deletion_due(row.notified_at) <= now + REMINDER_WINDOW]
    found.sort(key=lambda item: item.row.division or "")  # stable: French order within each division
    return found


def renotify_soon_deleted(uow: UnitOfWork, box: SecretBox, actor: Actor, *, uai: str, kind: AccountKind,
                          division: str | None, now: datetime) -> NotificationOrder:
    """« Renotifier » every account of the list (of one division, or all) in one batch — by email
    where the family has a usable address, else by letter (a student's: by letter)."""
    couples = [Couple(item.row.student_siecle_id, item.row.guardian_siecle_id)
               for item in soon_deleted(uow.session, uai, kind, now=now, division=division)]
    who = "responsables" if kind == AccountKind.GUARDIAN else "élèves"
    label = f"Rappel avant suppression des comptes {who}" + (f" de {division}" if division else "")
    return request_notifications(uow, box, actor, uai=uai, couples=couples,
                                 mode=EMAIL_AND_PAPER if kind == AccountKind.GUARDIAN else PAPER,
                                 reset_password=False, now=now, label=label)
