"""E1, F1, E2: notifying accounts — the accounts side.

Accounts decides, for each selected couple, the channel (email or paper letter), the letter's
case and its temporary password — the one the family already has, or a new one when the rules
say so (derived from the credential key, never stored; the clear value travels encrypted in the
event); then it emits one `notification.requested` per recipient of the
batch. The notifier renders and sends, and reports each delivery: only a delivered notification
makes the account Notifié, with its date and mode (see `record_delivery`).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, true

from ts_accounts.adapters.orm import Account, AccountLink, Guardian, School, Student
from ts_accounts.domain.contacts import is_valid_email
from ts_accounts.domain.lifecycle import AccountKind, AccountState
from ts_accounts.domain.names import french_order
from ts_accounts.service_layer.accounts import (
    current_temporary_password, issue_temporary_passwords, prepare_letters, record_notification,
)
from ts_accounts.service_layer.audit import Actor, record
from ts_accounts.service_layer.continuity import pending_continuity, reset_refusal
from ts_accounts.service_layer.directory import lock_account, record_history, snapshots
from ts_accounts.service_layer.errors import InvalidInput, NotFound
from ts_shared.crypto import SecretBox
from ts_shared.unit_of_work import UnitOfWork

EMAIL_AND_PAPER, EMAIL, PAPER = "email_and_paper", "email", "paper"
MODES = {EMAIL_AND_PAPER: "courriel et courrier", EMAIL: "courriel uniquement", PAPER: "courrier uniquement"}


@dataclass(frozen=True)
class Couple:
    """A student (guardian None) or a guardian × student of the school, by SIECLE ids."""

    student_id: str
    guardian_id: str | None = None


@dataclass
class NotificationOrder:
    batch_id: str
    deliveries: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (who, why)
    # The same, for the batch's permanent recap: name, reason and the couple (to notify again).
    recap: list[dict] = field(default_factory=list)

    def skip(self, who: str, why: str, couple: Couple) -> None:
        self.skipped.append((who, why))
        self.recap.append({"name": who[:300], "reason": why[:500], "student_id": couple.student_id,
                           "guardian_id": couple.guardian_id})


def notification_address(account: Account, guardian: Guardian | None) -> str | None:
    """Where a notification by email goes (E1/E2/F2): the address the family confirmed on its
    account once it is « Utilisé », else a guardian's valid SIECLE address; None: by letter only."""
    confirmed = account.email if account.email_confirmed_at and is_valid_email(account.email) else None
    if confirmed and account.state == AccountState.USED.value:
        return confirmed
    if guardian is not None and is_valid_email(guardian.email):
        return guardian.email
    return None


def _who(student: Student, guardian: Guardian | None) -> str:
    name = f"{student.first_name} {student.display_last_name}"
    return f"{guardian.first_name} {guardian.last_name} (responsable de {name})".strip() if guardian else name


def request_notifications(uow: UnitOfWork, box: SecretBox, actor: Actor, *, uai: str, couples: list[Couple],
                          mode: str, reset_password: bool, now: datetime, label: str) -> NotificationOrder:
    """E1/F1 « Notifier en masse »: issue the credentials and the notification requests of one
    batch, record it in the audit log and commit."""
    order = plan_notifications(uow, box, actor, uai=uai, couples=couples, mode=mode, reset_password=reset_password,
                               now=now, label=label)
    uow.commit()
    return order


def _channel(account: Account, guardian: Guardian | None, mode: str) -> tuple[str, str | None] | None:
    """(channel, address): email to the address a notification goes to (modes with email), paper
    otherwise; None when only email was asked for a guardian who has no address."""
    address = None if mode == PAPER else notification_address(account, guardian)
    if address is not None:
        return "email", address
    if mode == EMAIL and account.kind == AccountKind.GUARDIAN.value:  # a student's letter goes on paper
        return None
    return "paper", None


def _population(couples: list[Couple]) -> str:
    """Who may follow the batch: its guardians' or its students' staff."""
    return "guardians" if any(couple.guardian_id for couple in couples) else "students"


def plan_notifications(uow: UnitOfWork, box: SecretBox, actor: Actor, *, uai: str, couples: list[Couple],
                       mode: str, reset_password: bool, now: datetime, label: str) -> NotificationOrder:
    """The step of every notification: for each couple, the channel, the letter's case and a new
    temporary password if it needs one; one `notification.requested` per recipient; the audit
    entry of the batch. The caller commits."""
    if mode not in MODES:
        raise InvalidInput(f"Mode de transmission inconnu « {mode} ».")
    if not couples:
        raise InvalidInput("Aucun compte n'est sélectionné.")
    session = uow.session
    if session.get(School, uai) is None:
        raise NotFound(f"L'établissement {uai} n'existe pas.")
    order = NotificationOrder(batch_id=str(uuid.uuid4()))
    planned, planned_accounts = [], set()
    for couple in couples:
        student = session.scalar(
            select(Student).where(Student.school_uai == uai, Student.siecle_id == couple.student_id)
        )
        guardian = session.scalar(select(Guardian).where(
            Guardian.school_uai == uai, Guardian.siecle_id == couple.guardian_id)) if couple.guardian_id else None
        if student is None or (couple.guardian_id and guardian is None):
            order.skip(couple.student_id, "inconnu dans l'établissement", couple)
            continue
        link = session.scalar(select(AccountLink).where(
            AccountLink.school_uai == uai, AccountLink.student_id == student.id, AccountLink.ended_at.is_(None),
            AccountLink.guardian_id.is_(None) if guardian is None else AccountLink.guardian_id == guardian.id))
        account = session.get(Account, link.account_id) if link else None
        who = _who(student, guardian or None)
        if account is None and pending_continuity(session, student.id) is not None:
            order.skip(who, "continuité d'accès en attente (l'élève est encore inscrit dans son "
                            "établissement précédent) : pas encore de compte à notifier", couple)
            continue
        if account is None or account.closed_at is not None:
            order.skip(who, "pas de compte (réimportez ou créez un nouveau compte)", couple)
            continue
        if reset_password and reset_refusal(session, account, uai):
            order.skip(who, "compte conservé de l'établissement précédent où la famille ne s'est pas encore "
                            "connectée : son mot de passe ne peut pas être réinitialisé", couple)
            continue
        if account.access_refused_at is not None:
            order.skip(who, "l'accès aux services en ligne a été retiré", couple)
            continue
        if account.id in planned_accounts:
            # A guardian of two selected children has one account: one letter, one password (a
            # second letter's new password would void the first's).
            continue
        planned_accounts.add(account.id)
        routed = _channel(account, guardian or None, mode)
        if routed is None:
            order.skip(who, "pas d'adresse électronique valide dans SIECLE ni d'adresse confirmée du compte", couple)
            continue
        channel, address = routed
        planned.append((student, guardian or None, account, channel, address))

    order.deliveries = len(planned)
    letters = prepare_letters(uow, [account for _, _, account, _, _ in planned], reset_password=reset_password, now=now,
                              actor=actor.login)
    session.flush()
    accounts = {snapshot["account_id"]: snapshot
                for snapshot in snapshots(session, [a.id for _, _, a, _, _ in planned])}
    for (student, guardian, account, channel, address), (decision, password) in zip(planned, letters, strict=True):
        snapshot = accounts[account.id]
        recipient = ({"civility": guardian.civility, "last_name": guardian.last_name, "first_name": guardian.first_name,
                      "email": address if channel == "email" else None,
                      "address": {"lines": list(guardian.address_lines), "postal_code": guardian.postal_code,
                                  "city": guardian.city, "country": guardian.country}}
                     if guardian else
                     {"civility": None, "last_name": student.display_last_name, "first_name": student.first_name,
                      "email": address if channel == "email" else None, "address": None})
        uow.emit(
            "notification.requested",
            {
                "batch_id": order.batch_id,
                "delivery_id": str(uuid.uuid4()),
                "batch_size": order.deliveries,
                "batch_label": label[:200],
                "requested_by": actor.login,
                "population": "guardians" if guardian else "students",
                "channel": channel,
                "letter_case": decision.letter_case.value,
                "account": snapshot,
                "recipient": recipient,
                "student": {
                    "student_id": student.siecle_id,
                    "last_name": student.display_last_name,
                    "first_name": student.first_name,
                    "birth_date": student.birth_date,
                    "division": student.division,
                },
                "temporary_password_encrypted": box.seal(password) if password else None,
            },
            school_uai=uai,
        )
        record_history(
            session,
            [account.id],
            "notification_requested",
            now=now,
            actor=actor.login,
            detail={"batch_id": order.batch_id, "channel": channel, "letter_case": decision.letter_case.value},
        )
        order.by_channel[channel] = order.by_channel.get(channel, 0) + 1
    uow.emit("notification.batch_requested", {
        "batch_id": order.batch_id, "batch_size": order.deliveries, "batch_label": label[:200],
        "requested_by": actor.login, "population": _population(couples),
        "skipped": order.recap,
    }, school_uai=uai)
    if order.deliveries:
        channels = ", ".join(
            f"{n} par {'courriel' if c == 'email' else 'courrier'}" for c, n in sorted(order.by_channel.items())
        )
        record(session, actor, school_uai=uai, action="notification.requested", target=label[:200],
               summary=f"{label} : {order.deliveries} compte(s) à notifier ({channels})"
                       + (" avec réinitialisation des mots de passe" if reset_password else ""),
               detail={"batch_id": order.batch_id, "mode": mode, "reset_password": reset_password,
                       "skipped": len(order.skipped)})
    return order


def record_delivery(uow: UnitOfWork, *, account_id: str, channel: str, delivered_at: datetime, batch_id: str) -> None:
    """notification.delivered: the family got it — Notifié, with the date and mode (B4). The
    report may come after later changes (a first login with that letter, a closing): it is
    applied to the account as it now is and never refused (see record_notification)."""
    account = lock_account(uow.session, account_id)
    if account is None or account.closed_at is not None:
        return  # closed meanwhile (expired, replaced): nothing to mark
    record_notification(uow, account_id, channel, at=delivered_at, actor="notificateur")


def record_failure(uow: UnitOfWork, *, account_id: str, channel: str, error: str, at: datetime, batch_id: str) -> None:
    """notification.failed: the account stays as it was; the history says why."""
    if uow.session.get(Account, account_id) is not None:
        record_history(uow.session, [account_id], "notification_failed", now=at, actor="notificateur",
                       detail={"batch_id": batch_id, "channel": channel, "error": error[:500]})


PASSWORD_HIDDEN = "*****"
TO_NOTIFY = "Compte à notifier"


def request_class_list(uow: UnitOfWork, box: SecretBox, actor: Actor, *, uai: str, division: str | None = None,
                       group: str | None = None, now: datetime) -> str:
    """F3: the account list of a division or group, to hand out in class. A student whose
    account is Notifié gets the temporary password of the letters, printed again (the same one:
    nothing changes for the account); used accounts show « ***** »; accounts never notified show
    « Compte à notifier ». Returns the batch id the notifier will render under."""
    if bool(division) == bool(group):
        raise InvalidInput("Choisissez une division ou un groupe.")
    session = uow.session
    students = session.scalars(select(Student).where(Student.school_uai == uai, Student.departed_at.is_(None),
                                                     Student.division == division if division else true())).all()
    if group:
        students = [student for student in students if group in (student.groups or [])]
    if not students:
        raise InvalidInput("Aucun élève dans cette division ou ce groupe.")
    batch_id, listed = str(uuid.uuid4()), []
    for student in sorted(students, key=lambda s: (french_order(s.display_last_name, s.first_name), s.siecle_id)):
        link = session.scalar(
            select(AccountLink).where(
                AccountLink.school_uai == uai,
                AccountLink.student_id == student.id,
                AccountLink.guardian_id.is_(None),
                AccountLink.ended_at.is_(None),
            )
        )
        listed.append((student, session.get(Account, link.account_id) if link else None))
    # Notifié: the password of the letters, printed again; a new one only where none can be (a
    # letter from before derived passwords, of which only a hash exists, or none valid).
    shown = [
        account for _, account in listed if account is not None and account.state not in ("not_notified", "used")
    ]
    current = {account.id: current_temporary_password(uow, account) for account in shown}
    reissued = [account for account in shown if current[account.id] is None]
    passwords = {account_id: password for account_id, password in current.items() if password is not None}
    passwords.update(zip((account.id for account in reissued),
                         issue_temporary_passwords(uow, reissued, now=now, actor=actor.login), strict=True))
    sealed_passwords = {account_id: box.seal(password) for account_id, password in passwords.items()}
    if shown:
        record_history(session, [account.id for account in shown], "class_list_printed", now=now,
                       actor=actor.login, detail={"batch_id": batch_id})
    rows = []
    for student, account in listed:
        sealed = sealed_passwords.get(account.id) if account else None
        note = (TO_NOTIFY if account is None or account.state == "not_notified"
                else PASSWORD_HIDDEN if account.state == "used" else None)
        rows.append({
            "student_id": student.siecle_id, "last_name": student.display_last_name, "first_name": student.first_name,
            "division": student.division, "birth_date": student.birth_date,
            "login": account.login if account else None, "temporary_password_encrypted": sealed, "password_note": note,
            "notified_at": account.notified_at if account else None, "state": account.state if account else None,
            "last_login_at": account.last_login_at if account else None,
        })
    title = f"Division {division}" if division else f"Groupe {group}"
    uow.emit("class_list.requested", {"batch_id": batch_id, "title": title, "requested_by": actor.login, "rows": rows},
             school_uai=uai)
    record(session, actor, school_uai=uai, action="class_list.requested", target=title,
           summary=f"Liste des comptes élèves : {title} ({len(rows)} élève(s))", detail={"batch_id": batch_id})
    uow.commit()
    return batch_id
