"""The accounts service's internal identity API (H1–H8), as the portal calls it.

One method per endpoint: it sends the JSON body, returns a typed result, or raises a named
`IdentityError` carrying the French message of the accounts service (shown to families as is)
and the HTTP status. An unreachable service, a server error or a refused internal token raise
`InternalServiceError` (the portal shows its 503 page). Secrets (passwords, link tokens) are
sent, never logged.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from ts_shared.web.internal_api import TOKEN_REFUSED_CODE, InternalServiceError

API = "/internal/v1"


class Transport(Protocol):
    """What the client needs of `ts_shared.web.internal_api.InternalClient`."""

    def post(self, path: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]: ...


# --- results -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Child:
    school_uai: str
    school_name: str
    student_id: str
    first_name: str
    last_name: str
    division: str | None
    birth_date: date
    legal_rank: int | None
    mef_code: str | None = None
    mefstat: str | None = None

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def key(self) -> str:
        """Names the child in the portal's links: SIECLE ids are unique within a school only."""
        return f"{self.school_uai}-{self.student_id}"


@dataclass(frozen=True)
class Profile:
    account_id: str
    login: str
    kind: str  # "guardian" or "student"
    state: str
    display_name: str
    email: str | None
    email_confirmed: bool
    previous_login_at: datetime | None
    first_login_required: bool
    pending_confirmation: bool
    access_refused: bool
    children: tuple[Child, ...]
    credentials_fingerprint: str = ""  # changes with the password: sessions opened before end
    first_login_ticket: str | None = None  # a sign-in with the temporary password: first login without it

    @property
    def reset_by_school(self) -> bool:
        """A used account whose password the school reset: its first login again (H2)."""
        return self.first_login_required and self.state == "used"

    @property
    def is_guardian(self) -> bool:
        return self.kind == "guardian"

    @property
    def can_merge(self) -> bool:
        """H8 is for an activated guardian account (the accounts service checks it again)."""
        return self.is_guardian and self.state == "used"


def _profile(body: dict[str, Any]) -> Profile:
    previous = body.get("previous_login_at")
    return Profile(
        account_id=body["account_id"], login=body["login"], kind=body["kind"], state=body["state"],
        display_name=body["display_name"], email=body.get("email"), email_confirmed=bool(body.get("email_confirmed")),
        previous_login_at=datetime.fromisoformat(previous) if previous else None,
        first_login_required=bool(body.get("first_login_required")),
        pending_confirmation=bool(body.get("pending_confirmation")),
        access_refused=bool(body.get("access_refused")),
        credentials_fingerprint=str(body.get("credentials_fingerprint") or ""),
        first_login_ticket=body.get("first_login_ticket"),
        children=tuple(Child(
            school_uai=child["school_uai"], school_name=child["school_name"], student_id=child["student_id"],
            first_name=child["first_name"], last_name=child["last_name"], division=child.get("division"),
            birth_date=date.fromisoformat(child["birth_date"]), legal_rank=child.get("legal_rank"),
            mef_code=child.get("mef_code"), mefstat=child.get("mefstat"),
        ) for child in body.get("children", [])),
    )


# --- errors --------------------------------------------------------------------------------------

class IdentityError(Exception):
    """A refusal of the accounts service; `message` is French, for the family; `fields` maps the
    fields at fault to their message, when the service says which."""

    status = 400

    def __init__(self, message: str, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.fields = dict(fields or {})


class InvalidRequest(IdentityError):
    status = 400


class WrongCredentials(IdentityError):
    status = 401


class AccessRefused(IdentityError):
    status = 403


class UnknownAccount(IdentityError):
    status = 404


class Refused(IdentityError):
    """Understood, but the account's situation does not allow it (e.g. email not confirmed)."""

    status = 409


class InvalidLink(IdentityError):
    """The emailed link is unknown, already used or expired."""

    status = 410


class Throttled(IdentityError):
    status = 429

    def __init__(self, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after


_ERRORS: dict[int, type[IdentityError]] = {
    error.status: error for error in (InvalidRequest, WrongCredentials, AccessRefused, UnknownAccount, Refused,
                                      InvalidLink, Throttled)
}


# --- the client ----------------------------------------------------------------------------------

class IdentityClient:
    def __init__(self, transport: Transport):
        self._transport = transport

    def _call(self, endpoint: str, payload: dict[str, Any]) -> dict[str, Any]:
        status, body = self._transport.post(f"{API}/{endpoint}", payload)
        if status == 200:
            return body
        message = body.get("error") if isinstance(body, dict) else None
        if status == 401 and isinstance(body, dict) and body.get("code") == TOKEN_REFUSED_CODE:
            # A configuration fault (TS_INTERNAL_TOKEN differs between services), not the family's.
            raise InternalServiceError(f"{endpoint}: the accounts service refused the internal token")
        error = _ERRORS.get(status)
        if error is None or not message:
            raise InternalServiceError(f"{endpoint}: unexpected HTTP {status}")
        if error is Throttled:
            retry_after = body.get("retry_after")
            raise Throttled(message, int(retry_after) if isinstance(retry_after, (int, float)) else None)
        fields = body.get("fields") if error is InvalidRequest else None
        if not isinstance(fields, dict):
            fields = {}
        raise error(message, {str(name): str(text) for name, text in fields.items()})

    # H1
    def authenticate(self, *, login: str, password: str, client_address: str | None) -> Profile:
        return _profile(self._call("authenticate", {
            "login": login, "password": password, "client_address": client_address}))

    # H2
    def first_login(self, *, login: str, temporary_password: str | None, new_password: str, new_password_again: str,
                    birth_date: date, email: str | None, email_again: str | None,
                    client_address: str | None, ticket: str | None = None) -> Profile:
        return _profile(self._call("first-login", {
            "login": login, "temporary_password": temporary_password or None, "ticket": ticket,
            "new_password": new_password,
            "new_password_again": new_password_again, "birth_date": birth_date.isoformat(),
            "email": email or None, "email_again": email_again or None, "client_address": client_address}))

    # H2/H3/H6
    def confirm_email(self, *, token: str) -> Profile:
        return _profile(self._call("confirm-email", {"token": token}))

    # H3: returns the address the link was sent to
    def resend_confirmation(self, *, account_id: str, email: str | None = None,
                            email_again: str | None = None) -> str:
        return self._call("resend-confirmation", {
            "account_id": account_id, "email": email or None, "email_again": email_again or None})["sent_to"]

    # H4: "sent" or "unknown" (no confirmed address like this one)
    def forgot_login(self, *, email: str, client_address: str | None) -> str:
        return self._call("forgot-login", {"email": email, "client_address": client_address})["outcome"]

    # H5: ("sent", the request reference shown on screen), ("unknown", None) or ("unconfirmed", None)
    def forgot_password(self, *, login: str, client_address: str | None) -> tuple[str, str | None]:
        body = self._call("forgot-password", {"login": login, "client_address": client_address})
        return body["outcome"], body.get("reference")

    def reset_password(self, *, token: str, login: str, new_password: str, new_password_again: str) -> Profile:
        return _profile(self._call("reset-password", {
            "token": token, "login": login, "new_password": new_password, "new_password_again": new_password_again}))

    # H6
    def change_password(self, *, account_id: str, current_password: str, new_password: str,
                        new_password_again: str) -> Profile:
        return _profile(self._call("change-password", {
            "account_id": account_id, "current_password": current_password, "new_password": new_password,
            "new_password_again": new_password_again}))

    def change_email(self, *, account_id: str, password: str, email: str, email_again: str) -> str:
        """Returns the new address the confirmation link was sent to."""
        return self._call("change-email", {
            "account_id": account_id, "password": password, "email": email, "email_again": email_again})["sent_to"]

    # H8
    def merge(self, *, account_id: str, other_login: str, other_password: str, birth_date: date | None,
              client_address: str | None) -> Profile:
        return _profile(self._call("merge", {
            "account_id": account_id, "other_login": other_login, "other_password": other_password,
            "birth_date": birth_date.isoformat() if birth_date else None, "client_address": client_address}))

    # H11: the one-time link of the console's « Simuler l'accès »
    def open_simulation(self, *, token: str) -> Profile:
        return _profile(self._call("simulation", {"token": token}))

    # every signed-in page
    def profile(self, *, account_id: str) -> Profile:
        return _profile(self._call("profile", {"account_id": account_id}))
