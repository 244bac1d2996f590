"""The identity use cases the portal calls (H1–H8): sign-in, first login, email confirmation,
self-service recovery, account changes and merges. Messages are French, for families."""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import and_, func, select

from ts_accounts.adapters.orm import Account, AccountLink, Guardian, Mef, School, Student
from ts_accounts.adapters.passwords import hash_password, verify_password
from ts_accounts.domain.contacts import is_valid_email
from ts_accounts.domain.credentials import password_problems, typed_temporary_password
from ts_accounts.domain.lifecycle import (
    CONFIRMATION_LINK_LIFETIME, PASSWORD_RESET_LINK_LIFETIME, AccountKind, AccountState, Transition,
)
from ts_accounts.service_layer import throttling
from ts_accounts.service_layer.accounts import (
    active_links, apply_transition, bump_version, get_account, open_account_by_login, record_implied_notification,
    renotified_during_activation, revoke_temporary_password, temporary_password_matches, temporary_password_valid,
)
from ts_accounts.service_layer.directory import bump_versions, lock_account
from ts_accounts.service_layer.directory import FAMILY, emit_account_events, record_history
from ts_accounts.service_layer.errors import AccountsError, AuthenticationFailed, Conflict, InvalidInput
from ts_accounts.service_layer.tokens import (
    CONFIRM_EMAIL, RESET_PASSWORD, consume_token, issue_token, new_reference,
)
from ts_shared.crypto import SecretBox
from ts_shared.unit_of_work import UnitOfWork

WRONG_CREDENTIALS = "Identifiant ou mot de passe incorrect."


class AccessRefused(AccountsError):
    pass


class Refused(Conflict):
    """The request is understood but the account's situation does not allow it (HTTP 409)."""


@dataclass(frozen=True)
class Child:
    school_uai: str
    school_name: str
    student_id: str
    first_name: str
    last_name: str
    division: str | None
    mef_code: str | None
    birth_date: date
    legal_rank: int | None
    mefstat: str | None = None  # what the statistics count a service access by (G3)


@dataclass(frozen=True)
class Profile:
    """What the portal needs to know of a signed-in account."""

    account_id: str
    login: str
    kind: str
    state: str
    display_name: str
    email: str | None
    email_confirmed: bool
    previous_login_at: datetime | None
    first_login_required: bool
    pending_confirmation: bool
    access_refused: bool
    children: tuple[Child, ...]
    credentials_fingerprint: str  # changes whenever the password does: the portal's older sessions end
    # Given by a sign-in with the temporary password: the first-login page sends it back instead of
    # asking that password again (it names the temporary password checked, so a newer letter voids it).
    first_login_ticket: str | None = None


def _credentials_fingerprint(account: Account) -> str:
    """A digest of the password's hash: any change of password (by the family, by a reset link, or
    a reset by the school) changes it, whatever code path made it."""
    return hashlib.sha256((account.password_hash or "").encode()).hexdigest()[:32]


def _first_login_ticket(uow: UnitOfWork, account: Account) -> str | None:
    """Proof that the temporary password now in force was checked at sign-in: a MAC, with the
    credential key, of the account and of that password's serial (or its hash, for a letter from
    before derived passwords) — nobody without the key can make it, and a new password voids it."""
    if not temporary_password_valid(account):
        return None
    issued = account.temporary_password_issued_at.isoformat() if account.temporary_password_issued_at else ""
    message = f"first-login:{account.id}:{account.credential_serial}:{account.temporary_password_hash or ''}:{issued}"
    return hmac.new(uow.settings.require("credential_key").encode(), message.encode(), hashlib.sha256).hexdigest()


def _children(uow: UnitOfWork, account: Account) -> tuple[Child, ...]:
    rows = uow.session.execute(
        select(AccountLink, Student, School, Mef.mefstat)
        .join(Student, Student.id == AccountLink.student_id).join(School, School.uai == AccountLink.school_uai)
        .outerjoin(Mef, and_(Mef.school_uai == AccountLink.school_uai, Mef.code == Student.mef_code))
        .where(AccountLink.account_id == account.id, AccountLink.ended_at.is_(None)).order_by(AccountLink.id)
    ).all()
    children: dict[tuple[str, str], Child] = {}
    for link, student, school, mefstat in rows:
        # A joint account (legal 1 and legal 2 merged) holds two links to the same child: listed once.
        children.setdefault((link.school_uai, student.siecle_id), Child(
            link.school_uai, school.name, student.siecle_id, student.first_name, student.display_last_name,
            student.division, student.mef_code, student.birth_date, link.legal_rank, mefstat))
    return tuple(children.values())


def display_name(uow: UnitOfWork, account: Account) -> str:
    """« Mme Hélène Dupont » for a guardian (both names for a joint account), the student's name."""
    names = []
    for link in active_links(uow.session, account.id):
        if link.guardian_id is not None:
            guardian = uow.session.get_one(Guardian, link.guardian_id)
            civility = {"MME": "Mme", "M.": "M.", "M": "M."}.get((guardian.civility or "").upper(), "")
            name = " ".join(part for part in (civility, guardian.first_name, guardian.last_name) if part)
        else:
            student = uow.session.get_one(Student, link.student_id)
            name = f"{student.first_name} {student.display_last_name}"
        if name not in names:
            names.append(name)
    return " et ".join(names) or account.login


def profile(uow: UnitOfWork, account: Account, *, previous_login_at: datetime | None = None,
            first_login_required: bool = False, first_login_ticket: str | None = None) -> Profile:
    return Profile(
        account_id=account.id, login=account.login, kind=account.kind, state=account.state,
        display_name=display_name(uow, account), email=account.email,
        email_confirmed=account.email_confirmed_at is not None,
        previous_login_at=previous_login_at, first_login_required=first_login_required,
        pending_confirmation=account.state == AccountState.ACTIVATING.value,
        access_refused=account.access_refused_at is not None, children=_children(uow, account),
        credentials_fingerprint=_credentials_fingerprint(account), first_login_ticket=first_login_ticket,
    )


def _credentials_match(uow: UnitOfWork, account: Account | None, password: str) -> tuple[bool, bool]:
    """(the chosen password matches, the temporary one does). Always one argon2 verification and
    one derivation, whatever the account (unknown, Notifié, Utilisé...): the time of an answer
    tells nothing. The temporary password is typed in any case, spaces around it ignored."""
    chosen = verify_password(account.password_hash if account is not None else None, password or "")
    temporary = temporary_password_matches(uow, account, password)
    return chosen, temporary


def _required_email(value: str | None, again: str | None) -> str:
    email = _check_email(value, again, required=True)
    assert email is not None  # required: refused when empty
    return email


def _check_email(value: str | None, again: str | None, *, required: bool) -> str | None:
    email = (value or "").strip()
    if not email:
        if required:
            raise InvalidInput("L'adresse électronique est obligatoire.")
        return None
    if not is_valid_email(email):
        raise InvalidInput(f"« {email} » n'est pas une adresse électronique valide.")
    if email.lower() != (again or "").strip().lower():
        raise InvalidInput("Les deux adresses électroniques saisies sont différentes.")
    return email


SAME_AS_TEMPORARY = "Le nouveau mot de passe doit être différent du mot de passe provisoire."


def _check_new_password(password: str, again: str, *, not_equal_to: str | None = None) -> None:
    problems = password_problems(password)
    if password != again:
        problems.append("Les deux mots de passe saisis sont différents.")
    if not_equal_to is not None and typed_temporary_password(password) == typed_temporary_password(not_equal_to):
        problems.append(SAME_AS_TEMPORARY)
    if problems:
        raise InvalidInput(" ".join(problems))


def request_family_email(uow: UnitOfWork, box: SecretBox | None, *, school_uai: str | None, template: str, to: str,
                         recipient_name: str, account_id: str | None = None, token: str | None = None,
                         reference: str | None = None, logins: list[str] | None = None,
                         expires_at: datetime | None = None, extra: dict | None = None) -> None:
    """Ask the notifier to send a family email (a link token goes sealed with the event key: `box`
    is needed only with a token)."""
    uow.emit("family_email.requested", {
        "template": template, "to": to, "recipient_name": recipient_name, "account_id": account_id,
        "logins": logins or [], "reference": reference,
        "link_token_encrypted": _sealed(box, token), "expires_at": expires_at, **(extra or {}),
    }, school_uai=school_uai)


def _sealed(box: SecretBox | None, token: str | None) -> str | None:
    if not token:
        return None
    if box is None:
        raise ValueError("a link token travels sealed with the event key: its box is needed")
    return box.seal(token)


def _request_email(uow: UnitOfWork, box: SecretBox, account: Account, template: str, to: str, *,
                   token: str | None = None, reference: str | None = None, logins: list[str] | None = None,
                   expires_at: datetime | None = None) -> None:
    school_uai = next((link.school_uai for link in active_links(uow.session, account.id)), None)
    request_family_email(uow, box, school_uai=school_uai, template=template, to=to,
                         recipient_name=display_name(uow, account), account_id=account.id, token=token,
                         reference=reference, logins=logins, expires_at=expires_at)


def _fail(uow: UnitOfWork, keys, now: datetime, message: str = WRONG_CREDENTIALS) -> AuthenticationFailed:
    """Count the failure (committed even though the request fails) and build the error."""
    throttling.record_failure(uow.session, keys, now)
    uow.commit()
    return AuthenticationFailed(message)


# --- H1: sign-in ----------------------------------------------------------------------------------

def authenticate(uow: UnitOfWork, *, login: str, password: str, client_address: str | None, now: datetime) -> Profile:
    keys = throttling.keys("family", login, client_address)
    throttling.check(uow.session, keys, now)
    account = open_account_by_login(uow.session, login)
    chosen, temporary = _credentials_match(uow, account, password)
    if account is None or not (chosen or temporary):
        raise _fail(uow, keys, now)
    first_login = not chosen
    throttling.record_success(uow.session, keys)
    if account.access_refused_at is not None and account.kind == AccountKind.GUARDIAN.value:
        uow.commit()
        raise AccessRefused("L'accès aux services en ligne a été retiré pour ce compte. Contactez l'établissement.")
    previous = account.last_login_at
    if not first_login and account.state == AccountState.USED.value:
        account.last_login_at = now
        record_history(uow.session, [account.id], "login", now=now, actor=FAMILY)
    result = profile(uow, account, previous_login_at=previous, first_login_required=first_login,
                     first_login_ticket=_first_login_ticket(uow, account) if first_login else None)
    uow.commit()
    return result


# --- H2: first login ------------------------------------------------------------------------------

def _open_first_login(uow: UnitOfWork, keys, now: datetime, account: Account | None, *,
                      temporary_password: str | None, ticket: str | None, new_password: str) -> tuple[Account, bool]:
    """Check what opens the first login — the temporary password, or the ticket — and say whether
    the new password is that temporary password (always one argon2 verification for it)."""
    if ticket:
        expected = _first_login_ticket(uow, account) if account is not None else None
        if account is None or expected is None or not hmac.compare_digest(expected, ticket):
            raise AuthenticationFailed("Votre session de première connexion n'est plus valable : reconnectez-vous avec "
                                       "l'identifiant et le mot de passe provisoire de votre courrier.")
        return account, temporary_password_matches(uow, account, new_password)
    _, opened = _credentials_match(uow, account, temporary_password or "")
    if account is None or not opened:
        raise _fail(uow, keys, now, "Identifiant ou mot de passe provisoire incorrect.")
    return account, typed_temporary_password(new_password) == typed_temporary_password(temporary_password)


def first_login(uow: UnitOfWork, box: SecretBox, *, login: str, temporary_password: str | None, new_password: str,
                new_password_again: str, birth_date: date | None, email: str | None, email_again: str | None,
                client_address: str | None, now: datetime, ticket: str | None = None) -> Profile:
    """H2. The temporary password, or the ticket a sign-in with it gave (`authenticate`), opens
    it; then every problem of the form is reported at once, keyed by field (`birth_date`,
    `new_password`, `email`), so that the family fixes them in one go."""
    keys = throttling.keys("family", login, client_address)
    throttling.check(uow.session, keys, now)
    account, same_as_temporary = _open_first_login(
        uow, keys, now, open_account_by_login(uow.session, login, for_change=True),
        temporary_password=temporary_password, ticket=ticket, new_password=new_password)
    guardian = account.kind == AccountKind.GUARDIAN.value
    already_used = account.state == AccountState.USED.value
    errors: dict[str, str] = {}
    try:
        _check_new_password(new_password, new_password_again,
                            not_equal_to=new_password if same_as_temporary else None)
    except InvalidInput as error:
        errors["new_password"] = str(error)
    address = None
    try:
        address = _check_email(email, email_again, required=guardian and not already_used)
    except InvalidInput as error:
        errors["email"] = str(error)
    if birth_date is None or birth_date not in {child.birth_date for child in _children(uow, account)}:
        # A wrong birth date is a failed attempt (throttled like a wrong password), reported with the rest.
        errors = {"birth_date": "La date de naissance ne correspond pas à celle de l'élève. "
                                "Vérifiez-la ou contactez l'établissement.", **errors}
        throttling.record_failure(uow.session, keys, now)
        uow.commit()
    if errors:
        raise InvalidInput(errors=errors)
    throttling.record_success(uow.session, keys)

    # The letter's delivery report is not back yet (Non notifié, or a newer letter than the one a
    # pending activation started with): the letter did reach the family.
    report_pending = account.state == AccountState.NOT_NOTIFIED.value or renotified_during_activation(account)
    apply_transition(account, Transition.FIRST_LOGIN)
    if report_pending:
        record_implied_notification(uow, account, now=now, actor=FAMILY)
    account.password_hash = hash_password(new_password)
    record_history(uow.session, [account.id], "first_login", now=now, actor=FAMILY)
    if guardian and not already_used:
        assert address is not None  # required above for a guardian's activation
        # En cours d'activation: the temporary password no longer opens anything (B4), even once
        # the link expires (B7); a renotification gives a new one (E1).
        revoke_temporary_password(account)
        account.activation_started_at = now
        account.email, account.email_confirmed_at = address, None
        token = issue_token(uow.session, account.id, CONFIRM_EMAIL, now=now, lifetime=CONFIRMATION_LINK_LIFETIME,
                            email=address)
        _request_email(uow, box, account, "confirm_email", address, token=token,
                       expires_at=now + CONFIRMATION_LINK_LIFETIME)
        event = "account.activation_started"
    else:
        revoke_temporary_password(account)
        if not already_used:
            account.activated_at = now
        account.last_login_at = now
        if address and address.lower() != (account.email or "").lower():
            token = issue_token(uow.session, account.id, CONFIRM_EMAIL, now=now, lifetime=CONFIRMATION_LINK_LIFETIME,
                                email=address)
            _request_email(uow, box, account, "confirm_email", address, token=token,
                           expires_at=now + CONFIRMATION_LINK_LIFETIME)
        event = "account.updated" if already_used else "account.activated"
    uow.session.flush()
    emit_account_events(uow, event, [account.id])
    result = profile(uow, account)
    uow.commit()
    return result


# --- H2/H3/H6: email confirmation --------------------------------------------------------------

def confirm_email(uow: UnitOfWork, *, token: str, now: datetime) -> Profile:
    row = consume_token(uow.session, token, CONFIRM_EMAIL, now=now)
    account = get_account(uow.session, row.account_id, for_change=True)
    if account.closed_at is not None:
        raise Refused("Ce compte a été fermé. Contactez l'établissement.")
    activating = account.state == AccountState.ACTIVATING.value
    apply_transition(account, Transition.CONFIRM_EMAIL)
    account.email, account.email_confirmed_at = row.email, now
    if activating:
        account.activated_at = now
        revoke_temporary_password(account)
        account.activation_started_at = None
    record_history(uow.session, [account.id], "email_confirmed", now=now, actor=FAMILY)
    uow.session.flush()
    emit_account_events(uow, "account.activated" if activating else "account.updated", [account.id])
    result = profile(uow, account)
    uow.commit()
    return result


def send_confirmation_link(uow: UnitOfWork, box: SecretBox, account: Account, *, email: str | None,
                           email_again: str | None, now: datetime, actor: str) -> str:
    """Send the confirmation link of a pending activation again, to a corrected address if one is
    given (families, H3; staff, E2). The 7 days start again. Returns the address used."""
    locked = lock_account(uow.session, account.id)  # decided on its latest state (a report may have reset it)
    if locked is None or locked.state != AccountState.ACTIVATING.value or locked.closed_at is not None:
        raise Refused("Ce compte n'attend pas de confirmation d'adresse électronique.")
    account = locked
    if email:
        account.email = _required_email(email, email_again)
        bump_version(account)
    token = issue_token(uow.session, account.id, CONFIRM_EMAIL, now=now, lifetime=CONFIRMATION_LINK_LIFETIME,
                        email=account.email)
    account.activation_started_at = now
    record_history(uow.session, [account.id], "confirmation_resent", now=now, actor=actor,
                   detail={"address_corrected": bool(email)})
    address = account.email
    if address is None:  # an account activating has the address its link goes to
        raise Refused("Ce compte n'a pas d'adresse électronique à confirmer.")
    _request_email(uow, box, account, "confirm_email", address, token=token,
                   expires_at=now + CONFIRMATION_LINK_LIFETIME)
    return address


def resend_confirmation(uow: UnitOfWork, box: SecretBox, *, account_id: str, email: str | None,
                        email_again: str | None, now: datetime) -> str:
    """H3: the family asks for the link again (maybe to a corrected address)."""
    sent_to = send_confirmation_link(uow, box, get_account(uow.session, account_id, for_change=True), email=email,
                                     email_again=email_again, now=now, actor=FAMILY)
    uow.commit()
    return sent_to


# --- H4, H5: self-service recovery ---------------------------------------------------------------

class Recovery(StrEnum):
    """What became of a recovery request (H4, H5). Every outcome is one answer to the family's
    browser (the same status): the page's words differ, as the seeds want, but no script reads
    from the status whether a login or an address exists."""

    SENT = "sent"
    UNKNOWN = "unknown"
    UNCONFIRMED = "unconfirmed"
    NOT_ACTIVATED = "not_activated"  # never signed in: the letter's temporary password is the way in


def _count_recovery(uow: UnitOfWork, kind: str, target: str, client_address: str | None, now: datetime) -> None:
    """Refuse past a few requests an hour for one login or address, or many from one client
    (committed even though nothing else may be)."""
    keys = throttling.recovery_keys(kind, target, client_address)
    throttling.check(uow.session, keys, now, throttling.TOO_MANY_REQUESTS)
    throttling.record_request(uow.session, keys, now)


def _mailbox_open(uow: UnitOfWork, mailbox: str, now: datetime) -> bool:
    """Whether one more recovery email may go to `mailbox` this hour. When not, the request is
    answered as usual and no email leaves: nobody learns that the mailbox exists, and nobody can
    flood it."""
    keys = throttling.mailbox_key(mailbox)
    if throttling.locked(uow.session, keys, now) is not None:
        return False
    throttling.record_request(uow.session, keys, now)
    return True


def forgot_login(uow: UnitOfWork, box: SecretBox, *, email: str, client_address: str | None = None,
                 now: datetime) -> Recovery:
    """H4: email every login attached to that confirmed address."""
    address = (email or "").strip().lower()
    _count_recovery(uow, "email", address, client_address, now)
    accounts = list(uow.session.scalars(select(Account).where(
        func.lower(Account.email) == address, Account.email_confirmed_at.is_not(None), Account.closed_at.is_(None)
    ).order_by(Account.login))) if address else []
    if accounts and _mailbox_open(uow, address, now):
        _request_email(uow, box, accounts[0], "forgot_login", accounts[0].email or address,
                       logins=[a.login for a in accounts])
        record_history(uow.session, [a.id for a in accounts], "login_reminder_sent", now=now, actor=FAMILY)
    uow.commit()
    return Recovery.SENT if accounts else Recovery.UNKNOWN


def forgot_password(uow: UnitOfWork, box: SecretBox, *, login: str, client_address: str | None = None,
                    now: datetime) -> tuple[Recovery, str | None]:
    """H5: email a link to choose a new password; returns the outcome and the request reference
    shown on screen."""
    _count_recovery(uow, "login", login, client_address, now)
    account = open_account_by_login(uow.session, login)
    if account is None or account.email_confirmed_at is None or account.email is None:
        uow.commit()
        if account is None:
            return Recovery.UNKNOWN, None
        never_signed_in = account.state in (AccountState.NOT_NOTIFIED.value, AccountState.NOTIFIED.value)
        return (Recovery.NOT_ACTIVATED if never_signed_in else Recovery.UNCONFIRMED), None
    reference = new_reference()
    if _mailbox_open(uow, account.email, now):
        token = issue_token(uow.session, account.id, RESET_PASSWORD, now=now, lifetime=PASSWORD_RESET_LINK_LIFETIME,
                            reference=reference)
        record_history(uow.session, [account.id], "password_reset_requested", now=now, actor=FAMILY,
                       detail={"reference": reference})
        _request_email(uow, box, account, "forgot_password", account.email, token=token, reference=reference,
                       expires_at=now + PASSWORD_RESET_LINK_LIFETIME)
    uow.commit()
    return Recovery.SENT, reference


def reset_password(uow: UnitOfWork, *, token: str, login: str, new_password: str, new_password_again: str,
                   now: datetime) -> Profile:
    row = consume_token(uow.session, token, RESET_PASSWORD, now=now)
    account = get_account(uow.session, row.account_id, for_change=True)
    if account.closed_at is not None or account.login != (login or "").strip().lower():
        raise InvalidInput("L'identifiant ne correspond pas à cette demande de nouveau mot de passe.")
    _check_new_password(new_password, new_password_again)
    account.password_hash = hash_password(new_password)
    revoke_temporary_password(account)
    bump_version(account)
    record_history(uow.session, [account.id], "password_reset", now=now, actor=FAMILY)
    uow.session.flush()
    emit_account_events(uow, "account.updated", [account.id])
    result = profile(uow, account)
    uow.commit()
    return result


# --- H6: my account ------------------------------------------------------------------------------

def _signed_in_account(uow: UnitOfWork, account_id: str, *, for_change: bool = True) -> Account:
    account = get_account(uow.session, account_id, for_change=for_change)
    if account.closed_at is not None:
        raise Refused("Ce compte a été fermé.")
    return account


def change_password(uow: UnitOfWork, *, account_id: str, current_password: str, new_password: str,
                    new_password_again: str, now: datetime) -> Profile:
    account = _signed_in_account(uow, account_id)
    # A stolen session must not let anyone guess the current password at leisure.
    keys = throttling.keys("password", account.login, None)
    throttling.check(uow.session, keys, now)
    if not verify_password(account.password_hash, current_password or ""):
        raise _fail(uow, keys, now, "Le mot de passe actuel est incorrect.")
    throttling.record_success(uow.session, keys)
    _check_new_password(new_password, new_password_again)
    account.password_hash = hash_password(new_password)
    record_history(uow.session, [account.id], "password_changed", now=now, actor=FAMILY)
    result = profile(uow, account)
    uow.commit()
    return result


def change_email(uow: UnitOfWork, box: SecretBox, *, account_id: str, password: str, email: str,
                 email_again: str, now: datetime) -> None:
    """The new address is used once confirmed (the link goes to it); the old one stays until then."""
    account = _signed_in_account(uow, account_id)
    keys = throttling.keys("password", account.login, None)
    throttling.check(uow.session, keys, now)
    if not verify_password(account.password_hash, password or ""):
        raise _fail(uow, keys, now, "Le mot de passe est incorrect.")
    throttling.record_success(uow.session, keys)
    address = _required_email(email, email_again)
    token = issue_token(uow.session, account.id, CONFIRM_EMAIL, now=now, lifetime=CONFIRMATION_LINK_LIFETIME,
                        email=address)
    record_history(uow.session, [account.id], "email_change_requested", now=now, actor=FAMILY)
    _request_email(
        uow, box, account, "confirm_email", address, token=token, expires_at=now + CONFIRMATION_LINK_LIFETIME
    )
    uow.commit()


# --- H8: merge ---------------------------------------------------------------------------------

def merge_accounts(uow: UnitOfWork, *, account_id: str, other_login: str, other_password: str,
                   birth_date: date | None, client_address: str | None, now: datetime) -> Profile:
    """Hang another account's children off this one: the other letter's login + temporary
    password + that child's birth date, or another active account's login + password. The
    other account is closed; only the school can undo this (by creating a new account)."""
    main = _signed_in_account(uow, account_id, for_change=False)
    if main.kind != AccountKind.GUARDIAN.value or main.state != AccountState.USED.value:
        raise Refused("Seul un compte responsable activé peut regrouper d'autres comptes.")
    keys = throttling.keys("merge", other_login, client_address)
    throttling.check(uow.session, keys, now)
    other = open_account_by_login(uow.session, other_login)
    chosen, temporary = _credentials_match(uow, other, other_password)
    if other is None or other.id == main.id or other.academy_code != main.academy_code \
            or other.kind != AccountKind.GUARDIAN.value:
        raise _fail(uow, keys, now, "Identifiant ou mot de passe du compte à regrouper incorrect.")
    if other.state == AccountState.USED.value and chosen:
        pass  # another active account: its own credentials suffice
    elif temporary:
        birth_dates = {child.birth_date for child in _children(uow, other)}
        if birth_date is None or birth_date not in birth_dates:
            raise _fail(uow, keys, now, "La date de naissance ne correspond pas à celle de l'élève du courrier.")
    else:
        raise _fail(uow, keys, now, "Identifiant ou mot de passe du compte à regrouper incorrect.")
    throttling.record_success(uow.session, keys)
    # Both rows locked in one order (two merges at once cannot wait for each other), then checked
    # again on their latest state.
    for locked_id in sorted((main.id, other.id)):
        lock_account(uow.session, locked_id)
    if main.closed_at is not None or other.closed_at is not None or main.state != AccountState.USED.value:
        raise Refused("L'un des deux comptes vient d'être modifié ou fermé : rechargez la page et recommencez.")

    moved = active_links(uow.session, other.id)
    for link in moved:
        link.ended_at, link.ended_reason = now, f"merged_into:{main.login}"
        uow.session.add(AccountLink(account_id=main.id, school_uai=link.school_uai, student_id=link.student_id,
                                    guardian_id=link.guardian_id, legal_rank=link.legal_rank,
                                    kept_from_previous_school=link.kept_from_previous_school, started_at=now))
    other.closed_at, other.closed_reason = now, "merged"
    bump_versions(uow.session, [main.id, other.id])
    record_history(uow.session, [main.id], "merged", now=now, actor=FAMILY, detail={"absorbed": other.login})
    record_history(uow.session, [other.id], "merged_into", now=now, actor=FAMILY, detail={"into": main.login})
    uow.session.flush()
    emit_account_events(uow, "account.deleted", [other.id], extra={"reason": "merged"},
                        school_uai=moved[0].school_uai if moved else None)
    emit_account_events(uow, "account.merged", [main.id], extra={"absorbed_account_id": other.id})
    result = profile(uow, main)
    uow.commit()
    return result


def signed_in_profile(uow: UnitOfWork, account_id: str) -> Profile:
    return profile(uow, _signed_in_account(uow, account_id, for_change=False))
