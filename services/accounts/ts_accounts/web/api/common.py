"""Shared pieces of the staff API: error bodies, the authorisation decorator, the population
argument."""
from __future__ import annotations

from typing import NoReturn
from collections.abc import Mapping

from flask import abort, g
from marshmallow import Schema, fields
from werkzeug.exceptions import default_exceptions

from ts_accounts.domain.lifecycle import AccountKind
from ts_accounts.service_layer.errors import (
    AccountsError, AlreadyExists, AuthenticationFailed, Conflict, InvalidInput, NotFound,
)
from ts_accounts.web.console.common import console_page
from ts_shared.web.staff_session import RIGHT_GUARDIAN_ACCESS, RIGHT_STUDENT_ACCESS

api_view = console_page  # same checks as the console; JSON answers on /api paths

POPULATIONS = {"guardians": (AccountKind.GUARDIAN, RIGHT_GUARDIAN_ACCESS),
               "students": (AccountKind.STUDENT, RIGHT_STUDENT_ACCESS)}


class ErrorSchema(Schema):
    """Every error of the API (ts_shared.web.app.register_error_handlers writes it)."""

    error = fields.String(required=True, metadata={"description": "A French message, to show as is"})
    status = fields.Integer(required=True, metadata={"description": "The HTTP status, repeated"})
    fields_ = fields.Dict(data_key="fields", keys=fields.String(), metadata={
        "description": "Refused input. A malformed request: where (« json », « query ») then each field and its "
                       "French messages; a request the use case refuses: each field at fault and its French "
                       "message"})


def population(name: str) -> AccountKind:
    """The population of a path, if the staff member holds its right (404 for an unknown one)."""
    if name not in POPULATIONS:
        abort(404)
    kind, right = POPULATIONS[name]
    if not g.staff.can(right):
        abort(403)
    return kind


def http_status(error: AccountsError) -> int:
    for kind, status in ((NotFound, 404), (AlreadyExists, 409), (Conflict, 409), (AuthenticationFailed, 401),
                         (InvalidInput, 400)):
        if isinstance(error, kind):
            return status
    return 400


def refuse(error: AccountsError, fields: Mapping[str, str] | None = None) -> NoReturn:
    """Answer a use case's refusal: its French message, the matching status and, when it names
    the fields at fault, each field's message (`fields` maps the use case's name of a field to the
    body's, where they differ)."""
    answer = default_exceptions[http_status(error)](description=str(error))
    if error.errors:
        # ts_shared.web.app sends them as the body's `fields` (werkzeug leaves `data` to extensions)
        answer.data = {"messages": {(fields or {}).get(name, name): message for name, message in error.errors.items()}}  # type: ignore[attr-defined]
    raise answer
