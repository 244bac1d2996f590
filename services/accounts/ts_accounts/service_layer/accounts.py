"""Account life-cycle use cases (B3–B10) shared by the staff console, the notifier's results, the
identity API and the expiry job. Each change moves the state machine, bumps the account's
version, writes its history and emits its account.* event, in the caller's transaction."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import CursorResult, delete, func, select, update
from sqlalchemy.orm import Session, object_session
from sqlalchemy.orm.attributes import set_committed_value

from ts_accounts.adapters.orm import Account, AccountEvent, AccountLink, Guardian, OneTimeToken, School, Student
from ts_accounts.adapters.passwords import verify_password
from ts_accounts.domain.credentials import derive_temporary_password, typed_temporary_password
from ts_accounts.domain.credentials import temporary_password_matches as matches_derived
from ts_accounts.domain.lifecycle import (
    STATE_LABELS, AccountClock, AccountKind, AccountState, ExpiryReason, IllegalTransition, LetterDecision,
    PasswordChoice, Transition, decide_letter, expiry_reason, next_state,
)
from ts_accounts.service_layer.audit import Actor, record
from ts_accounts.service_layer.directory import (
    SYSTEM, NewCouple, bump_versions, chunks, create_accounts, emit_account_events, lock_account, record_history,
)
from ts_accounts.service_layer.errors import AccountsError, Conflict, InvalidInput, NotFound
from ts_shared.unit_of_work import UnitOfWork

NOTIFICATION_MODES = ("paper", "email")
TOKENS_KEPT = timedelta(days=30)  # used or expired links are forgotten after this


class AccountClosed(AccountsError):
    pass


class TransitionRefused(Conflict):
    """The account's present state does not allow this step (B4, B5): usually something else
    changed it a moment before. HTTP 409, never a server error."""


TRANSITION_NAMES = {
    Transition.NOTIFY: "La notification",
    Transition.FIRST_LOGIN: "La première connexion",
    Transition.CONFIRM_EMAIL: "La confirmation de l'adresse électronique",
    Transition.RESET_PASSWORD: "La réinitialisation du mot de passe",
}


def get_account(session: Session, account_id: str, *, for_change: bool = False) -> Account:
    """The account (NotFound otherwise); `for_change`: locked and read afresh (lock_account)."""
    account = lock_account(session, account_id) if for_change else session.get(Account, account_id)
    if account is None:
        raise NotFound("Ce compte n'existe pas.")
    return account


def open_account_by_login(session: Session, login: str, *, for_change: bool = False) -> Account | None:
    """The open account of this login; `for_change`: locked and read afresh (lock_account)."""
    query = select(Account).where(Account.login == (login or "").strip().lower(), Account.closed_at.is_(None))
    if for_change:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalar(query)


def bump_version(account: Account) -> int:
    """The account's next version (given by the database, see directory.bump_versions)."""
    session = object_session(account)
    assert session is not None  # an account being changed belongs to the use case's session
    return bump_versions(session, [account.id])[account.id]


def apply_transition(account: Account, transition: Transition) -> AccountState:
    """Move the state machine and bump the version; TransitionRefused (French) if the rules
    forbid it. Returns the previous state."""
    previous = AccountState(account.state)
    try:
        account.state = next_state(AccountKind(account.kind), previous, transition).value
    except IllegalTransition:
        raise TransitionRefused(f"{TRANSITION_NAMES[transition]} n'est pas possible : ce compte est "
                                f"« {STATE_LABELS[previous]} ».") from None
    bump_version(account)
    return previous


def active_links(session: Session, account_id: str) -> list[AccountLink]:
    return list(session.scalars(select(AccountLink).where(AccountLink.account_id == account_id,
                                                          AccountLink.ended_at.is_(None)).order_by(AccountLink.id)))


# --- credentials and notifications (B3, E1, F1, E2) ---------------------------------------------

def _credential_key(uow: UnitOfWork) -> str:
    return uow.settings.require("credential_key")


def issue_temporary_passwords(uow: UnitOfWork, accounts: list[Account], *, now: datetime, actor: str,
                              replace_chosen_password: bool = False) -> list[str]:
    """A new temporary password for each account (the previous one stops working): the next
    credential serial, given by the database (two requests at once cannot get the same one).
    Returns them in clear, for the letters or emails only. `replace_chosen_password`: staff reset
    used accounts' passwords. Microseconds each: nothing is hashed."""
    if any(account.closed_at is not None for account in accounts):
        raise AccountClosed("Ce compte est fermé.")
    if not accounts:
        return []
    key, session = _credential_key(uow), uow.session
    session.flush()
    changes = {"temporary_password_hash": None, "temporary_password_issued_at": now}
    if replace_chosen_password:
        changes["password_hash"] = None
    issued: dict[str, tuple[int, int]] = {}
    for chunk in chunks(sorted({account.id for account in accounts})):  # one lock order
        issued.update((row[0], (row[1], row[2])) for row in session.execute(
            update(Account).where(Account.id.in_(chunk))
            .values(credential_serial=Account.credential_serial + 1, version=Account.version + 1, **changes)
            .returning(Account.id, Account.credential_serial, Account.version)
            .execution_options(synchronize_session=False)))
    for account in accounts:
        serial, version = issued[account.id]
        for name, value in {**changes, "credential_serial": serial, "version": version}.items():
            set_committed_value(account, name, value)
    serials = {account_id: serial for account_id, (serial, _) in issued.items()}
    record_history(session, [account.id for account in accounts], "temporary_password_issued", now=now,
                   actor=actor, detail={"replaces_chosen_password": replace_chosen_password})
    return [derive_temporary_password(key, account.id, serials[account.id]) for account in accounts]


def issue_temporary_password(uow: UnitOfWork, account: Account, *, now: datetime, actor: str,
                             replace_chosen_password: bool = False) -> str:
    return issue_temporary_passwords(uow, [account], now=now, actor=actor,
                                     replace_chosen_password=replace_chosen_password)[0]


def temporary_password_valid(account: Account | None) -> bool:
    """Whether the account's temporary password opens a first login: from the moment it is issued
    for a letter or an email (even before the delivery report makes the account Notifié), or
    after a reset of a used account; during a pending activation only a newer letter's (E1), never
    the one the activation started with (B4) — not even once the confirmation link expired (B7)."""
    if account is None or account.closed_at is not None or account.temporary_password_issued_at is None:
        return False
    if account.state == AccountState.ACTIVATING.value and not renotified_during_activation(account):
        return False
    return bool(account.temporary_password_hash) or account.credential_serial >= 1


def current_temporary_password(uow: UnitOfWork, account: Account) -> str | None:
    """The temporary password the family already holds, to print again (renotification of a
    Notifié account, class lists): None when there is none to reprint — none valid, or one
    from before derived passwords, of which only a hash exists."""
    if not temporary_password_valid(account) or account.temporary_password_hash:
        return None
    return derive_temporary_password(_credential_key(uow), account.id, account.credential_serial)


def temporary_password_matches(uow: UnitOfWork, account: Account | None, typed: str | None) -> bool:
    """Whether `typed` is the account's valid temporary password, whatever its case and the spaces
    around it (constant time; an argon2 verification for a hash from before derived passwords)."""
    key = _credential_key(uow)
    if account is None or not temporary_password_valid(account):
        matches_derived(key, "-", 1, typed)  # the same work whatever the account
        return False
    if account.temporary_password_hash:
        return verify_password(account.temporary_password_hash, typed_temporary_password(typed))
    return matches_derived(key, account.id, account.credential_serial, typed)


def revoke_temporary_password(account: Account) -> None:
    """The temporary password stops working (it was used, or replaced by a chosen one); its
    serial stays, so a later one can never be this one again."""
    account.temporary_password_hash = None
    account.temporary_password_issued_at = None


def outstanding_temporary_passwords(session: Session) -> tuple[int, int]:
    """(derived, argon2-hashed) temporary passwords that letters, emails or class lists already
    handed out and that still open an account: what a rotation of TS_CREDENTIAL_KEY would void
    (the first) — the second, from before derived passwords, does not depend on the key."""
    rows = session.execute(select(Account.temporary_password_hash.is_(None), func.count()).where(
        Account.closed_at.is_(None), Account.temporary_password_issued_at.is_not(None))
        .group_by(Account.temporary_password_hash.is_(None))).all()
    counts = {bool(derived): count for derived, count in rows}
    return counts.get(True, 0), counts.get(False, 0)


def prepare_letters(uow: UnitOfWork, accounts: list[Account], *, reset_password: bool, now: datetime,
                    actor: str) -> list[tuple[LetterDecision, str | None]]:
    """What the notification of each account says, and its temporary password: the one it already
    has (printed again, seeds 001 and 003 §5) or a new one when the rules say so (E1, E2, F1)."""
    decisions = []
    for account in accounts:
        kept = any(link.kept_from_previous_school for link in active_links(uow.session, account.id))
        decisions.append(decide_letter(AccountKind(account.kind), AccountState(account.state),
                                       kept_from_previous_school=kept, reset_password=reset_password))
    passwords: dict[int, str] = {}
    renewed: list[int] = []
    for index, (account, decision) in enumerate(zip(accounts, decisions, strict=True)):
        if decision.password == PasswordChoice.CURRENT and (current := current_temporary_password(uow, account)):
            passwords[index] = current
        elif decision.password != PasswordChoice.NONE:
            renewed.append(index)
    for replacing in (False, True):  # a used account's chosen password goes with the reset
        chosen = [index for index in renewed if (accounts[index].state == AccountState.USED.value) == replacing]
        issued = issue_temporary_passwords(uow, [accounts[index] for index in chosen], now=now, actor=actor,
                                           replace_chosen_password=replacing)
        passwords.update(zip(chosen, issued, strict=True))
    return [(decision, passwords.get(index)) for index, decision in enumerate(decisions)]


def prepare_letter(uow: UnitOfWork, account: Account, *, reset_password: bool, now: datetime,
                   actor: str) -> tuple[LetterDecision, str | None]:
    return prepare_letters(uow, [account], reset_password=reset_password, now=now, actor=actor)[0]


def record_notification(uow: UnitOfWork, account_id: str, mode: str, *, at: datetime, actor: str) -> Account:
    """B4: a letter or an email reached the family: Notifié, with date and mode.

    The report may come back after the family has already used that letter: a first login does
    not wait for it. Then it completes the record (date and mode) and leaves the state alone; a
    pending activation is abandoned only for a letter requested after it started (E1)."""
    if mode not in NOTIFICATION_MODES:
        raise InvalidInput(f"Mode de notification inconnu « {mode} ».")
    account = get_account(uow.session, account_id, for_change=True)
    if account.closed_at is not None:
        raise AccountClosed("Ce compte est fermé.")
    if account.state == AccountState.ACTIVATING.value and not renotified_during_activation(account):
        bump_version(account)
    else:
        previous = apply_transition(account, Transition.NOTIFY)
        if previous == AccountState.ACTIVATING:
            # The pending activation is abandoned: its confirmation link and chosen password go.
            account.password_hash = None
            account.activation_started_at = None
            _revoke_tokens(uow.session, account.id, "confirm_email", at)
    account.notified_at, account.notification_mode = at, mode
    record_history(uow.session, [account.id], "notified", now=at, actor=actor, detail={"mode": mode})
    uow.session.flush()
    emit_account_events(uow, "account.notified", [account.id])
    return account


def renotified_during_activation(account: Account) -> bool:
    """Whether a letter was requested for this pending activation after it started (E1): its new
    temporary password is then the one that works."""
    issued, started = account.temporary_password_issued_at, account.activation_started_at
    return account.state == AccountState.ACTIVATING.value and issued is not None and started is not None \
        and issued > started


def record_implied_notification(uow: UnitOfWork, account: Account, *, now: datetime, actor: str) -> None:
    """B4: the family signs in with a temporary password whose letter's delivery report has not
    come back yet — the letter did reach them. Notified when the letter was requested, by its
    channel, until the report gives the delivery's own date (record_notification)."""
    request = (
        uow.session.scalar(
            select(AccountEvent)
            .where(
                AccountEvent.account_id == account.id,
                AccountEvent.action == "notification_requested",
                AccountEvent.at >= account.temporary_password_issued_at,
            )
            .order_by(AccountEvent.at.desc(), AccountEvent.id.desc())
            .limit(1)
        )
        if account.temporary_password_issued_at
        else None
    )
    mode = (request.detail or {}).get("channel") if request else None
    account.notified_at = account.temporary_password_issued_at or now
    account.notification_mode = mode if mode in NOTIFICATION_MODES else None
    record_history(uow.session, [account.id], "notified_by_first_login", now=now, actor=actor,
                   detail={"mode": account.notification_mode})


def _revoke_tokens(session: Session, account_id: str, purpose: str, now: datetime) -> None:
    for token in session.scalars(select(OneTimeToken).where(OneTimeToken.account_id == account_id,
                                                            OneTimeToken.purpose == purpose,
                                                            OneTimeToken.used_at.is_(None))):
        token.used_at = now


# --- refusal of access (B9) ---------------------------------------------------------------------

def set_access_refused(uow: UnitOfWork, account_id: str, refused: bool, *, now: datetime, actor: str) -> Account:
    """The refusal coupon: online services closed to this account (a student's stays valid for
    the ENT), or open again."""
    account = get_account(uow.session, account_id, for_change=True)
    if (account.access_refused_at is not None) == refused:
        return account
    account.access_refused_at = now if refused else None
    bump_version(account)
    record_history(uow.session, [account.id], "access_refused" if refused else "access_restored", now=now, actor=actor)
    uow.session.flush()
    emit_account_events(uow, "account.updated", [account.id])
    return account


# --- expiry (B7, I1) ----------------------------------------------------------------------------

@dataclass
class ExpiryReport:
    deleted: list[tuple[str, str]] = field(default_factory=list)  # (login, reason)
    deleted_by_school: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # uai -> (login, reason)
    recreated: int = 0
    tokens_purged: int = 0


def expire_accounts(uow: UnitOfWork, *, now: datetime, actor: str = SYSTEM) -> ExpiryReport:
    """Run the B7 rules: accounts not activated (Notifié or En cours d'activation) 3 months after
    their latest notification, or unused for a year, are deleted — their login and temporary
    password never work again; their couples get a new Non notifié account with a new login. An
    expired confirmation link changes nothing (the account stays En cours d'activation)."""
    session, report = uow.session, ExpiryReport()

    def due(account: Account) -> ExpiryReason | None:
        return expiry_reason(AccountClock(AccountState(account.state), account.notified_at, account.activated_at,
                                          account.last_login_at), now)

    candidates = session.scalars(select(Account).where(
        Account.closed_at.is_(None),
        Account.state.in_([AccountState.NOTIFIED.value, AccountState.ACTIVATING.value, AccountState.USED.value]))
        .order_by(Account.id)).all()
    # Candidates are read without locks (the whole directory); each one due is then locked and
    # checked again on its latest state (a family may be signing in at this very moment).
    for account_id in [account.id for account in candidates if due(account) is not None]:
        account = get_account(session, account_id, for_change=True)
        reason = due(account) if account.closed_at is None else None
        if reason is None:
            continue
        links = active_links(session, account.id)
        account.closed_at, account.closed_reason = now, reason.value
        bump_version(account)
        for link in links:
            link.ended_at, link.ended_reason = now, reason.value
        record_history(session, [account.id], "deleted", now=now, actor=actor, detail={"reason": reason.value})
        report.deleted.append((account.login, reason.value))
        if links:
            report.deleted_by_school.setdefault(links[0].school_uai, []).append((account.login, reason.value))
        session.flush()
        emit_account_events(uow, "account.deleted", [account.id], extra={"reason": reason.value},
                            school_uai=links[0].school_uai if links else None)
        report.recreated += len(_recreate_for(uow, account, links, now=now, actor=actor))
    _record_deletions(session, report, actor=actor, now=now)
    purged = session.execute(delete(OneTimeToken).where(OneTimeToken.expires_at < now - TOKENS_KEPT))
    report.tokens_purged = cast(CursorResult, purged).rowcount or 0
    return report


def _record_deletions(session: Session, report: ExpiryReport, *, actor: str, now: datetime) -> None:
    """I1: each school's audit log says what this run deleted there, with the count."""
    for uai, deleted in sorted(report.deleted_by_school.items()):
        not_activated = sum(reason == ExpiryReason.NOT_ACTIVATED.value for _, reason in deleted)
        unused = len(deleted) - not_activated
        parts = [f"{not_activated} non activé(s) dans les 3 mois"] if not_activated else []
        parts += [f"{unused} inutilisé(s) depuis un an"] if unused else []
        record(session, Actor(login=actor), school_uai=uai, action="accounts.expired", now=now,
               summary=f"Suppression automatique de {len(deleted)} compte(s) : {' et '.join(parts)} ; "
                       "un nouveau compte « Non notifié » est créé pour chaque élève ou responsable encore inscrit",
               target=", ".join(sorted(login for login, _ in deleted))[:200],
               detail={"count": len(deleted), "not_activated": not_activated, "unused": unused})


def _recreate_for(
    uow: UnitOfWork, account: Account, links: list[AccountLink], *, now: datetime, actor: str
) -> list[str]:
    """New Non notifié accounts (new logins) for the couples an expired account served."""
    session = uow.session
    couples = []
    for link in links:
        student = session.get_one(Student, link.student_id)
        if student.departed_at is not None:
            continue
        if link.guardian_id is None:
            couples.append(NewCouple(AccountKind.STUDENT, link.school_uai, student.id, None, None, student.first_name,
                                     student.display_last_name))
        else:
            guardian = session.get_one(Guardian, link.guardian_id)
            couples.append(NewCouple(AccountKind.GUARDIAN, link.school_uai, student.id, guardian.id, link.legal_rank,
                                     guardian.first_name, guardian.last_name))
    created = create_accounts(session, account.academy_code, couples, now=now, actor=actor)
    session.flush()
    emit_account_events(uow, "account.created", created)
    return created


# --- history (B10) ------------------------------------------------------------------------------

def account_history(session: Session, account_id: str) -> list[AccountEvent]:
    return list(session.scalars(select(AccountEvent).where(AccountEvent.account_id == account_id)
                                .order_by(AccountEvent.at, AccountEvent.id)))


def couple_accounts(session: Session, student_id: int, guardian_id: int | None) -> list[tuple[Account, AccountLink]]:
    """Every account that served this student (or guardian × student), oldest first: the logins
    it had, when they were notified and used; only one is valid at a time."""
    query = (select(Account, AccountLink).join(AccountLink, AccountLink.account_id == Account.id)
             .where(AccountLink.student_id == student_id))
    query = query.where(
        AccountLink.guardian_id.is_(None) if guardian_id is None else AccountLink.guardian_id == guardian_id
    )
    rows = session.execute(query.order_by(AccountLink.started_at, AccountLink.id))
    return [(account, link) for account, link in rows]


def school_of(session: Session, account: Account) -> School | None:
    link = session.scalar(
        select(AccountLink).where(AccountLink.account_id == account.id).order_by(AccountLink.id.desc())
    )
    return session.get(School, link.school_uai) if link else None
