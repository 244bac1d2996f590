"""B4–B7: the account state machines, expiry rules and letter decisions."""
from __future__ import annotations

from datetime import datetime, timedelta, UTC

import pytest

from ts_accounts.domain.lifecycle import (
    MACHINES, AccountClock, AccountKind, AccountState, ExpiryReason, IllegalTransition, LetterCase, PasswordChoice,
    Transition, decide_letter, expiry_reason, next_state,
)

S, T = AccountState, Transition
GUARDIAN_LEGAL = {
    (S.NOT_NOTIFIED, T.NOTIFY): S.NOTIFIED,
    (S.NOTIFIED, T.NOTIFY): S.NOTIFIED,
    (S.ACTIVATING, T.NOTIFY): S.NOTIFIED,
    (S.USED, T.NOTIFY): S.USED,
    (S.NOTIFIED, T.FIRST_LOGIN): S.ACTIVATING,
    (S.NOT_NOTIFIED, T.FIRST_LOGIN): S.ACTIVATING,  # with a letter whose delivery report is not back
    (S.ACTIVATING, T.FIRST_LOGIN): S.ACTIVATING,  # with a newer letter's password (E1)
    (S.USED, T.FIRST_LOGIN): S.USED,
    (S.ACTIVATING, T.CONFIRM_EMAIL): S.USED,
    (S.USED, T.CONFIRM_EMAIL): S.USED,
    (S.NOTIFIED, T.RESET_PASSWORD): S.NOTIFIED,
    (S.ACTIVATING, T.RESET_PASSWORD): S.NOTIFIED,
    (S.USED, T.RESET_PASSWORD): S.USED,
}
STUDENT_LEGAL = {
    (S.NOT_NOTIFIED, T.NOTIFY): S.NOTIFIED,
    (S.NOTIFIED, T.NOTIFY): S.NOTIFIED,
    (S.USED, T.NOTIFY): S.USED,
    (S.NOTIFIED, T.FIRST_LOGIN): S.USED,
    (S.NOT_NOTIFIED, T.FIRST_LOGIN): S.USED,  # with a letter whose delivery report is not back
    (S.USED, T.FIRST_LOGIN): S.USED,
    (S.USED, T.CONFIRM_EMAIL): S.USED,
    (S.NOTIFIED, T.RESET_PASSWORD): S.NOTIFIED,
    (S.USED, T.RESET_PASSWORD): S.USED,
}
EXPECTED = {AccountKind.GUARDIAN: GUARDIAN_LEGAL, AccountKind.STUDENT: STUDENT_LEGAL}
ALL = [(kind, state, transition) for kind in AccountKind for state in AccountState for transition in Transition]


def test_the_machines_are_exactly_the_specified_ones():
    assert MACHINES == EXPECTED


@pytest.mark.parametrize("kind,state,transition", [c for c in ALL if (c[1], c[2]) in EXPECTED[c[0]]])
def test_every_legal_transition_leads_where_the_spec_says(kind, state, transition):
    assert next_state(kind, state, transition) == EXPECTED[kind][(state, transition)]


@pytest.mark.parametrize("kind,state,transition", [c for c in ALL if (c[1], c[2]) not in EXPECTED[c[0]]])
def test_every_illegal_transition_is_refused(kind, state, transition):
    with pytest.raises(IllegalTransition):
        next_state(kind, state, transition)


def test_a_student_account_is_never_awaiting_confirmation():
    assert all(target != S.ACTIVATING and state != S.ACTIVATING for (state, _), target in STUDENT_LEGAL.items())


NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("state,notified_days_ago,expected", [
    (S.NOTIFIED, 90, None),
    (S.NOTIFIED, 91, ExpiryReason.NOT_ACTIVATED),
    (S.ACTIVATING, 120, ExpiryReason.NOT_ACTIVATED),
    (S.NOT_NOTIFIED, 400, None),
])
def test_an_account_not_activated_three_months_after_notification_expires(state, notified_days_ago, expected):
    clock = AccountClock(state, NOW - timedelta(days=notified_days_ago), None, None)
    assert expiry_reason(clock, NOW) == expected


@pytest.mark.parametrize("activated_days_ago,last_login_days_ago,expected", [
    (500, 364, None),
    (500, 365, ExpiryReason.UNUSED),
    (365, None, ExpiryReason.UNUSED),
    (200, None, None),
])
def test_an_activated_account_unused_for_a_year_expires(activated_days_ago, last_login_days_ago, expected):
    last_login = NOW - timedelta(days=last_login_days_ago) if last_login_days_ago is not None else None
    clock = AccountClock(S.USED, NOW - timedelta(days=600), NOW - timedelta(days=activated_days_ago), last_login)
    assert expiry_reason(clock, NOW) == expected


@pytest.mark.parametrize("kind,state,kept,reset,case,password", [
    # Seeds 001 and 003 §5: renotified, « l'identifiant et le mot de passe restent identiques »,
    # except « En cours d'activation » (a new one); Utilisé: a reminder of the login.
    (AccountKind.GUARDIAN, S.NOT_NOTIFIED, False, False, LetterCase.GUARDIAN_NEW, PasswordChoice.CURRENT),
    (AccountKind.GUARDIAN, S.NOTIFIED, False, False, LetterCase.GUARDIAN_NEW, PasswordChoice.CURRENT),
    (AccountKind.GUARDIAN, S.NOTIFIED, False, True, LetterCase.GUARDIAN_NEW, PasswordChoice.NEW),  # E2
    (AccountKind.GUARDIAN, S.ACTIVATING, False, False, LetterCase.GUARDIAN_ACTIVATING, PasswordChoice.NEW),
    (AccountKind.GUARDIAN, S.USED, False, False, LetterCase.GUARDIAN_USED_REMINDER, PasswordChoice.NONE),
    (AccountKind.GUARDIAN, S.USED, False, True, LetterCase.GUARDIAN_USED_NEW_PASSWORD, PasswordChoice.NEW),
    (AccountKind.GUARDIAN, S.USED, True, False, LetterCase.GUARDIAN_CONTINUITY, PasswordChoice.NONE),
    (AccountKind.STUDENT, S.NOT_NOTIFIED, False, False, LetterCase.STUDENT_NEW, PasswordChoice.CURRENT),
    (AccountKind.STUDENT, S.NOTIFIED, False, False, LetterCase.STUDENT_NEW, PasswordChoice.CURRENT),
    (AccountKind.STUDENT, S.NOTIFIED, False, True, LetterCase.STUDENT_NEW, PasswordChoice.NEW),  # F1 with reset
    (AccountKind.STUDENT, S.USED, False, False, LetterCase.STUDENT_USED_REMINDER, PasswordChoice.NONE),
    (AccountKind.STUDENT, S.USED, False, True, LetterCase.STUDENT_USED_NEW_PASSWORD, PasswordChoice.NEW),
    (AccountKind.STUDENT, S.USED, True, False, LetterCase.STUDENT_CONTINUITY, PasswordChoice.NONE),
])
def test_the_letter_depends_on_the_state_continuity_and_the_reset_option(kind, state, kept, reset, case, password):
    decision = decide_letter(kind, state, kept_from_previous_school=kept, reset_password=reset)
    assert (decision.letter_case, decision.password) == (case, password)
    assert decision.new_temporary_password == (password == PasswordChoice.NEW)
