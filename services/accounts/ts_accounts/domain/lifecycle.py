"""B4–B9: the life cycle of an account, as explicit state machines and expiry rules.

Guardian: Non notifié → Notifié (a letter or an email was produced) → En cours d'activation
(first login done, email awaiting confirmation) → Utilisé (confirmation link clicked).
Student: Non notifié → Notifié → Utilisé (first login done).

A temporary password works as soon as it is issued for a letter or an email, while the account
becomes Notifié when the notifier reports the delivery — which may come back after the family has
already signed in with it (a queue lags by minutes at the rentrée). So a first login is legal from
Non notifié too: the letter did reach the family, and the use case records the notification it
implies. Likewise a guardian renotified during a pending activation (E1: a new temporary password)
may start over with the new letter before its report comes back.

An email-confirmation link that expires (7 days) changes nothing: the account stays En cours
d'activation, and the letter's password does not come back (B7) — the family asks for the link
again, or the school sends it again or renotifies (a new temporary password).

Every rule takes the current time as an argument (an injected clock), so tests can move it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class AccountKind(StrEnum):
    STUDENT = "student"
    GUARDIAN = "guardian"


class AccountState(StrEnum):
    NOT_NOTIFIED = "not_notified"
    NOTIFIED = "notified"
    ACTIVATING = "activating"
    USED = "used"

    @property
    def label(self) -> str:
        return STATE_LABELS[self]


STATE_LABELS = {
    AccountState.NOT_NOTIFIED: "Non notifié",
    AccountState.NOTIFIED: "Notifié",
    AccountState.ACTIVATING: "En cours d'activation",
    AccountState.USED: "Utilisé",
}


class Transition(StrEnum):
    NOTIFY = "notify"  # a letter or email with the login (and maybe a temporary password) went out
    FIRST_LOGIN = "first_login"  # temporary password + birth date + new password (+ email)
    CONFIRM_EMAIL = "confirm_email"  # the guardian clicked the confirmation link
    RESET_PASSWORD = "reset_password"  # staff or forgot-password: a new temporary password


class IllegalTransition(Exception):
    def __init__(self, kind: AccountKind, state: AccountState, transition: Transition):
        super().__init__(f"{transition} is not possible for a {kind} account in state {state}")
        self.kind, self.state, self.transition = kind, state, transition


_S = AccountState
_GUARDIAN = {
    (_S.NOT_NOTIFIED, Transition.NOTIFY): _S.NOTIFIED,
    (_S.NOTIFIED, Transition.NOTIFY): _S.NOTIFIED,
    # E1: a guardian whose activation is pending gets a NEW temporary password and starts over.
    (_S.ACTIVATING, Transition.NOTIFY): _S.NOTIFIED,
    (_S.USED, Transition.NOTIFY): _S.USED,  # a reminder of the login
    (_S.NOTIFIED, Transition.FIRST_LOGIN): _S.ACTIVATING,
    (_S.NOT_NOTIFIED, Transition.FIRST_LOGIN): _S.ACTIVATING,  # the letter's report not back yet
    (_S.ACTIVATING, Transition.FIRST_LOGIN): _S.ACTIVATING,  # with a newer letter's password (E1)
    (_S.ACTIVATING, Transition.CONFIRM_EMAIL): _S.USED,
    (_S.USED, Transition.CONFIRM_EMAIL): _S.USED,  # a changed email confirmed (H6)
    (_S.NOTIFIED, Transition.RESET_PASSWORD): _S.NOTIFIED,
    (_S.ACTIVATING, Transition.RESET_PASSWORD): _S.NOTIFIED,
    (_S.USED, Transition.RESET_PASSWORD): _S.USED,
    (_S.USED, Transition.FIRST_LOGIN): _S.USED,  # choosing a password after a reset
}
_STUDENT = {
    (_S.NOT_NOTIFIED, Transition.NOTIFY): _S.NOTIFIED,
    (_S.NOTIFIED, Transition.NOTIFY): _S.NOTIFIED,
    (_S.USED, Transition.NOTIFY): _S.USED,
    (_S.NOTIFIED, Transition.FIRST_LOGIN): _S.USED,
    (_S.NOT_NOTIFIED, Transition.FIRST_LOGIN): _S.USED,  # the letter's report not back yet
    (_S.USED, Transition.FIRST_LOGIN): _S.USED,
    (_S.USED, Transition.CONFIRM_EMAIL): _S.USED,  # a student's optional email (B5)
    (_S.NOTIFIED, Transition.RESET_PASSWORD): _S.NOTIFIED,
    (_S.USED, Transition.RESET_PASSWORD): _S.USED,
}
MACHINES = {AccountKind.GUARDIAN: _GUARDIAN, AccountKind.STUDENT: _STUDENT}


def next_state(kind: AccountKind, state: AccountState, transition: Transition) -> AccountState:
    """The state after `transition`, or IllegalTransition."""
    try:
        return MACHINES[AccountKind(kind)][(AccountState(state), transition)]
    except KeyError:
        raise IllegalTransition(AccountKind(kind), AccountState(state), transition) from None


# --- B7: expiry -------------------------------------------------------------------------------

NOT_ACTIVATED_LIFETIME = timedelta(days=91)  # « trois mois » after the notification
UNUSED_LIFETIME = timedelta(days=365)  # « un an » without a login after activation
CONFIRMATION_LINK_LIFETIME = timedelta(days=7)
PASSWORD_RESET_LINK_LIFETIME = timedelta(days=1)


class ExpiryReason(StrEnum):
    NOT_ACTIVATED = "expired_not_activated"
    UNUSED = "expired_unused"


@dataclass(frozen=True)
class AccountClock:
    """What expiry needs to know of an account."""

    state: AccountState
    notified_at: datetime | None
    activated_at: datetime | None
    last_login_at: datetime | None


def expiry_reason(account: AccountClock, now: datetime) -> ExpiryReason | None:
    """Why the account must now be deleted, or None. An account waiting for its email
    confirmation counts as not activated."""
    if account.state in (AccountState.NOTIFIED, AccountState.ACTIVATING):
        if account.notified_at is not None and now - account.notified_at >= NOT_ACTIVATED_LIFETIME:
            return ExpiryReason.NOT_ACTIVATED
    if account.state == AccountState.USED:
        last_use = account.last_login_at or account.activated_at
        if last_use is not None and now - last_use >= UNUSED_LIFETIME:
            return ExpiryReason.UNUSED
    return None


# --- which letter an account gets (D3, E1, F1) -------------------------------------------------

class LetterCase(StrEnum):
    GUARDIAN_NEW = "guardian_new"
    GUARDIAN_ACTIVATING = "guardian_activating"
    GUARDIAN_USED_NEW_PASSWORD = "guardian_used_new_password"
    GUARDIAN_USED_REMINDER = "guardian_used_reminder"
    GUARDIAN_CONTINUITY = "guardian_continuity"
    STUDENT_NEW = "student_new"
    STUDENT_USED_NEW_PASSWORD = "student_used_new_password"
    STUDENT_USED_REMINDER = "student_used_reminder"
    STUDENT_CONTINUITY = "student_continuity"


class PasswordChoice(StrEnum):
    """Which temporary password a letter prints."""

    NONE = "none"  # a reminder of the login only
    CURRENT = "current"  # the one the family already holds, printed again (seeds 001, 003 §5)
    NEW = "new"  # a new one: the previous one stops working


@dataclass(frozen=True)
class LetterDecision:
    letter_case: LetterCase
    password: PasswordChoice

    @property
    def new_temporary_password(self) -> bool:
        return self.password == PasswordChoice.NEW


def decide_letter(kind: AccountKind, state: AccountState, *, kept_from_previous_school: bool,
                  reset_password: bool) -> LetterDecision:
    """E1/E2/F1: what a notification says and which password it prints. Non notifié and Notifié
    accounts get the temporary password they already have (« l'identifiant et le mot de passe
    restent identiques », a first one if none was issued yet); a pending activation gets a new
    one (003 §5); a used account a reminder of its login. `reset_password` (« Notifier et
    réinitialiser le mot de passe », the students' mass notification with reset) gives a new one
    to every account, Utilisé included."""
    kind, state = AccountKind(kind), AccountState(state)
    guardian = kind == AccountKind.GUARDIAN
    if state == AccountState.USED:
        if reset_password:
            return LetterDecision(LetterCase.GUARDIAN_USED_NEW_PASSWORD if guardian
                                  else LetterCase.STUDENT_USED_NEW_PASSWORD, PasswordChoice.NEW)
        if kept_from_previous_school:
            return LetterDecision(LetterCase.GUARDIAN_CONTINUITY if guardian else LetterCase.STUDENT_CONTINUITY,
                                  PasswordChoice.NONE)
        return LetterDecision(LetterCase.GUARDIAN_USED_REMINDER if guardian else LetterCase.STUDENT_USED_REMINDER,
                              PasswordChoice.NONE)
    if state == AccountState.ACTIVATING:
        return LetterDecision(LetterCase.GUARDIAN_ACTIVATING, PasswordChoice.NEW)
    return LetterDecision(LetterCase.GUARDIAN_NEW if guardian else LetterCase.STUDENT_NEW,
                          PasswordChoice.NEW if reset_password else PasswordChoice.CURRENT)
