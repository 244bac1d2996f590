"""The portal's client of the accounts identity API, against a fake transport: what each method
sends, what it returns, and how each refusal becomes a named error with its French message."""
from __future__ import annotations

from datetime import date, datetime, UTC

import pytest

from ts_portal.adapters.identity_client import (
    AccessRefused, IdentityClient, InvalidLink, InvalidRequest, Profile, Refused, Throttled, UnknownAccount,
    WrongCredentials,
)
from ts_shared.web.internal_api import InternalServiceError

PROFILE = {
    "account_id": "acc-1", "login": "helene.dupont", "kind": "guardian", "state": "used",
    "display_name": "Mme Hélène DUPONT", "email": "helene@example.org", "email_confirmed": True,
    "previous_login_at": "2026-09-11T08:00:00+00:00", "first_login_required": False,
    "pending_confirmation": False, "access_refused": False,
    "children": [{"school_uai": "0541234X", "school_name": "Collège Jean Moulin", "student_id": "1001",
                  "first_name": "Léa", "last_name": "DUPONT", "division": "3A", "mef_code": "10310019110",
                  "birth_date": "2013-03-12", "legal_rank": 1}],
}


class FakeTransport:
    """Answers every call with the next queued (status, body); records what was sent."""

    def __init__(self, *answers):
        self.answers = list(answers) or [(200, PROFILE)]
        self.calls: list[tuple[str, dict]] = []

    def post(self, path, payload):
        self.calls.append((path, payload))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def client(*answers):
    transport = FakeTransport(*answers)
    return IdentityClient(transport), transport


def test_authenticate_sends_the_credentials_and_the_client_address_and_reads_a_typed_profile():
    identity, transport = client()
    profile = identity.authenticate(login="helene.dupont", password="Lilas2026", client_address="203.0.113.7")
    assert transport.calls == [("/internal/v1/authenticate",
                                {"login": "helene.dupont", "password": "Lilas2026", "client_address": "203.0.113.7"})]
    assert isinstance(profile, Profile) and profile.display_name == "Mme Hélène DUPONT"
    assert profile.previous_login_at == datetime(2026, 9, 11, 8, 0, tzinfo=UTC)
    [child] = profile.children
    assert (
        child.birth_date == date(2013, 3, 12) and child.division == "3A" and child.school_name == "Collège Jean Moulin"
    )
    assert profile.is_guardian and profile.can_merge


def test_a_profile_without_a_previous_sign_in_has_no_date():
    identity, _ = client((200, {**PROFILE, "previous_login_at": None, "state": "activating"}))
    profile = identity.profile(account_id="acc-1")
    assert profile.previous_login_at is None and not profile.can_merge


def test_first_login_sends_the_birth_date_in_iso_format_and_a_blank_address_as_null():
    identity, transport = client()
    identity.first_login(login="lea.dupont", temporary_password="DCBRJDWH", new_password="Latin2026",
                         new_password_again="Latin2026", birth_date=date(2013, 3, 12), email="", email_again="",
                         client_address="198.51.100.1")
    path, body = transport.calls[0]
    assert path == "/internal/v1/first-login"
    assert body == {"login": "lea.dupont", "temporary_password": "DCBRJDWH", "new_password": "Latin2026",
                    "new_password_again": "Latin2026", "birth_date": "2013-03-12", "email": None,
                    "email_again": None, "client_address": "198.51.100.1", "ticket": None}


@pytest.mark.parametrize("call,path,answer,expected", [
    (lambda c: c.confirm_email(token="t" * 43), "confirm-email", PROFILE, "helene.dupont"),
    (lambda c: c.resend_confirmation(account_id="acc-1"), "resend-confirmation",
     {"sent_to": "helene@example.org"}, "helene@example.org"),
    (lambda c: c.forgot_login(email="helene@example.org", client_address=None), "forgot-login", {"outcome": "sent"},
     "sent"),
    (lambda c: c.forgot_password(login="helene.dupont", client_address=None), "forgot-password",
     {"outcome": "sent", "reference": "R-12345678"}, ("sent", "R-12345678")),
    (lambda c: c.reset_password(token="t", login="helene.dupont", new_password="Neuf2026",
                                new_password_again="Neuf2026"), "reset-password", PROFILE, "helene.dupont"),
    (lambda c: c.change_password(account_id="acc-1", current_password="Lilas2026", new_password="Neuf2026",
                                 new_password_again="Neuf2026"), "change-password", PROFILE, "helene.dupont"),
    (lambda c: c.change_email(account_id="acc-1", password="Lilas2026", email="new@example.org",
                              email_again="new@example.org"), "change-email", {"sent_to": "new@example.org"},
     "new@example.org"),
    (lambda c: c.merge(account_id="acc-1", other_login="jean.dupont", other_password="Jean2026x", birth_date=None,
                       client_address=None), "merge", PROFILE, "helene.dupont"),
    (lambda c: c.profile(account_id="acc-1"), "profile", PROFILE, "helene.dupont"),
])
def test_each_endpoint_is_called_on_its_path_and_returns_its_result(call, path, answer, expected):
    identity, transport = client((200, answer))
    result = call(identity)
    assert transport.calls[0][0] == f"/internal/v1/{path}"
    assert (result.login if isinstance(result, Profile) else result) == expected


def test_a_merge_with_a_letter_sends_the_childs_birth_date():
    identity, transport = client()
    identity.merge(account_id="acc-1", other_login="helene.dupont1", other_password="2BUYJ9C8",
                   birth_date=date(2014, 11, 30), client_address="203.0.113.7")
    assert transport.calls[0][1]["birth_date"] == "2014-11-30"


def test_a_corrected_address_is_sent_with_its_confirmation():
    identity, transport = client((200, {"sent_to": "new@example.org"}))
    identity.resend_confirmation(account_id="acc-1", email="new@example.org", email_again="new@example.org")
    assert transport.calls[0][1] == {
        "account_id": "acc-1",
        "email": "new@example.org",
        "email_again": "new@example.org",
    }


@pytest.mark.parametrize("status,error", [
    (400, InvalidRequest), (401, WrongCredentials), (403, AccessRefused), (404, UnknownAccount), (409, Refused),
    (410, InvalidLink), (429, Throttled),
])
def test_each_refusal_status_raises_its_named_error_with_the_french_message(status, error):
    identity, _ = client((status, {"error": "Un message en français.", "status": status}))
    with pytest.raises(error) as raised:
        identity.authenticate(login="x", password="y", client_address=None)
    assert raised.value.message == "Un message en français." and raised.value.status == status


def test_a_throttled_answer_keeps_the_delay_when_the_service_gives_it():
    identity, _ = client((429, {"error": "Trop de tentatives infructueuses. Réessayez dans 15 minute(s).",
                                "retry_after": 900}),
                         (429, {"error": "Trop de tentatives infructueuses. Réessayez dans 15 minute(s)."}))
    with pytest.raises(Throttled) as with_delay:
        identity.authenticate(login="x", password="y", client_address=None)
    with pytest.raises(Throttled) as without_delay:
        identity.authenticate(login="x", password="y", client_address=None)
    assert with_delay.value.retry_after == 900 and without_delay.value.retry_after is None


def test_a_refused_internal_token_is_a_service_fault_not_a_wrong_password():
    identity, _ = client((401, {"error": "internal token required", "code": "internal_token_refused", "status": 401}))
    with pytest.raises(InternalServiceError):
        identity.authenticate(login="x", password="y", client_address=None)


@pytest.mark.parametrize("answer", [(418, {"error": "Je suis une théière."}), (401, {}), (400, {"status": 400})])
def test_an_unexpected_status_or_a_refusal_without_message_is_a_service_fault(answer):
    identity, _ = client(answer)
    with pytest.raises(InternalServiceError):
        identity.forgot_password(login="x", client_address=None)


def test_an_unreachable_service_raises_the_internal_service_error_of_the_transport():
    identity, _ = client(InternalServiceError("/internal/v1/profile: ConnectionError"))
    with pytest.raises(InternalServiceError):
        identity.profile(account_id="acc-1")
