"""Named errors of the accounts use cases; views map them to French messages and statuses.

An error may say which inputs are at fault: `errors` maps each field (the use case's name for it,
which the staff API's body uses too) to its French message — the console shows each message under
its field, the API sends them as `fields`. An error without fields is a plain message."""
from __future__ import annotations

from collections.abc import Mapping


class AccountsError(Exception):
    """Base class: the message is French and safe to show to the user."""

    def __init__(self, message: str | None = None, *, errors: Mapping[str, str] | None = None):
        self.errors: dict[str, str] = dict(errors or {})
        if message is None:
            message = next(iter(self.errors.values()), "")
        super().__init__(message)


class NotFound(AccountsError):
    pass


class AlreadyExists(AccountsError):
    pass


class InvalidInput(AccountsError):
    """Input refused: `InvalidInput(errors={"url": "…"})` for fields (the message is the first of
    them), `InvalidInput("…")` for input that belongs to no field."""


class AuthenticationFailed(AccountsError):
    pass


class Conflict(AccountsError):
    """The request is understood, but the present state of things forbids it (HTTP 409): a
    confirmation is needed, or something must happen first."""
