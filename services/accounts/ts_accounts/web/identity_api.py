"""The internal identity API (JSON) the portal calls, and the statistics snapshot stats asks for.
Never routed by the gateway; every call carries the internal token. Bodies are validated by
marshmallow schemas; use-case errors map to HTTP statuses with their French message (shown to the family as is)."""
from __future__ import annotations

from dataclasses import asdict
from functools import wraps

from flask import Blueprint, jsonify, request
from marshmallow import Schema, ValidationError, fields, validate

from ts_accounts.service_layer import identity, simulation, statistics
from ts_accounts.service_layer.errors import AccountsError, AuthenticationFailed, Conflict, InvalidInput, NotFound
from ts_accounts.service_layer.throttling import Throttled
from ts_accounts.service_layer.tokens import InvalidLink
from ts_shared.crypto import SecretBox
from ts_shared.db import utcnow
from ts_shared.statistics_snapshot import STATISTICS_SNAPSHOT_PATH, StatisticsSnapshotRequest
from ts_shared.web.app import runtime_of, settings_of
from ts_shared.web.internal_api import internal_only

identity_api = Blueprint("identity_api", __name__, url_prefix="/internal/v1")

_text = lambda **kw: fields.String(validate=validate.Length(max=254), **kw)  # noqa: E731


class AuthenticateBody(Schema):
    login = _text(required=True)
    password = _text(required=True)
    client_address = _text(load_default=None, allow_none=True)


class FirstLoginBody(Schema):
    login = _text(required=True)
    # One of the two: the letter's temporary password, or the ticket the sign-in with it gave.
    temporary_password = _text(load_default=None, allow_none=True)
    ticket = _text(load_default=None, allow_none=True)
    new_password = _text(required=True)
    new_password_again = _text(required=True)
    birth_date = fields.Date(required=True)
    email = _text(load_default=None, allow_none=True)
    email_again = _text(load_default=None, allow_none=True)
    client_address = _text(load_default=None, allow_none=True)


class TokenBody(Schema):
    token = _text(required=True)


class ResendBody(Schema):
    account_id = _text(required=True)
    email = _text(load_default=None, allow_none=True)
    email_again = _text(load_default=None, allow_none=True)


class ForgotLoginBody(Schema):
    email = _text(required=True)
    client_address = _text(load_default=None, allow_none=True)


class ForgotPasswordBody(Schema):
    login = _text(required=True)
    client_address = _text(load_default=None, allow_none=True)


class ResetPasswordBody(Schema):
    token = _text(required=True)
    login = _text(required=True)
    new_password = _text(required=True)
    new_password_again = _text(required=True)


class ChangePasswordBody(Schema):
    account_id = _text(required=True)
    current_password = _text(required=True)
    new_password = _text(required=True)
    new_password_again = _text(required=True)


class ChangeEmailBody(Schema):
    account_id = _text(required=True)
    password = _text(required=True)
    email = _text(required=True)
    email_again = _text(required=True)


class MergeBody(Schema):
    account_id = _text(required=True)
    other_login = _text(required=True)
    other_password = _text(required=True)
    birth_date = fields.Date(load_default=None, allow_none=True)
    client_address = _text(load_default=None, allow_none=True)


class ProfileBody(Schema):
    account_id = _text(required=True)


_STATUS = [
    (Throttled, 429), (identity.AccessRefused, 403), (identity.Refused, 409), (Conflict, 409),
    (AuthenticationFailed, 401), (InvalidLink, 410), (NotFound, 404), (InvalidInput, 400), (AccountsError, 400),
]


def _profile_json(profile: identity.Profile) -> dict:
    data = asdict(profile)
    data["previous_login_at"] = profile.previous_login_at.isoformat() if profile.previous_login_at else None
    data["children"] = [{**child, "birth_date": child["birth_date"].isoformat()} for child in data["children"]]
    return data


def _endpoint(schema: Schema):
    """Parse the body with `schema`, run the view in a unit of work, map errors to statuses."""

    def decorator(view):
        @wraps(view)
        @internal_only
        def wrapper():
            try:
                body = schema.load(request.get_json(silent=True) or {})
            except ValidationError as error:
                return jsonify({"error": "Requête invalide.", "fields": error.messages, "status": 400}), 400
            try:
                with runtime_of().uow() as uow:
                    return view(uow, body)
            except AccountsError as error:
                status = next(code for kind, code in _STATUS if isinstance(error, kind))
                body = {"error": str(error), "status": status}
                if error.errors:
                    body["fields"] = error.errors  # each field's French message (H2: all at once)
                if isinstance(error, Throttled):
                    body["retry_after"] = int(error.retry_after.total_seconds()) + 1
                response = jsonify(body)
                if isinstance(error, Throttled):
                    response.headers["Retry-After"] = str(body["retry_after"])
                return response, status

        return wrapper

    return decorator


def _box() -> SecretBox:
    return SecretBox(settings_of().event_key)


@identity_api.post("/authenticate")
@_endpoint(AuthenticateBody())
def authenticate(uow, body):
    return jsonify(_profile_json(identity.authenticate(uow, now=utcnow(), **body)))


@identity_api.post("/first-login")
@_endpoint(FirstLoginBody())
def first_login(uow, body):
    return jsonify(_profile_json(identity.first_login(uow, _box(), now=utcnow(), **body)))


@identity_api.post("/confirm-email")
@_endpoint(TokenBody())
def confirm_email(uow, body):
    return jsonify(_profile_json(identity.confirm_email(uow, now=utcnow(), **body)))


@identity_api.post("/resend-confirmation")
@_endpoint(ResendBody())
def resend_confirmation(uow, body):
    return jsonify({"sent_to": identity.resend_confirmation(uow, _box(), now=utcnow(), **body)})


@identity_api.post("/forgot-login")
@_endpoint(ForgotLoginBody())
def forgot_login(uow, body):
    return jsonify({"outcome": identity.forgot_login(uow, _box(), now=utcnow(), **body).value})


@identity_api.post("/forgot-password")
@_endpoint(ForgotPasswordBody())
def forgot_password(uow, body):
    outcome, reference = identity.forgot_password(uow, _box(), now=utcnow(), **body)
    return jsonify({"outcome": outcome.value, "reference": reference})


@identity_api.post("/reset-password")
@_endpoint(ResetPasswordBody())
def reset_password(uow, body):
    return jsonify(_profile_json(identity.reset_password(uow, now=utcnow(), **body)))


@identity_api.post("/change-password")
@_endpoint(ChangePasswordBody())
def change_password(uow, body):
    return jsonify(_profile_json(identity.change_password(uow, now=utcnow(), **body)))


@identity_api.post("/change-email")
@_endpoint(ChangeEmailBody())
def change_email(uow, body):
    identity.change_email(uow, _box(), now=utcnow(), **body)
    return jsonify({"sent_to": body["email"].strip()})


@identity_api.post("/merge")
@_endpoint(MergeBody())
def merge(uow, body):
    return jsonify(_profile_json(identity.merge_accounts(uow, now=utcnow(), **body)))


@identity_api.post("/simulation")
@_endpoint(TokenBody())
def open_simulation(uow, body):
    """H11: the one-time link of « Simuler l'accès » exchanged for the account's profile."""
    return jsonify(_profile_json(simulation.open_simulation(uow, now=utcnow(), **body)))


@identity_api.post("/profile")
@_endpoint(ProfileBody())
def profile(uow, body):
    return jsonify(_profile_json(identity.signed_in_profile(uow, body["account_id"])))


@identity_api.post(STATISTICS_SNAPSHOT_PATH.removeprefix("/internal/v1"))
@_endpoint(StatisticsSnapshotRequest())
def statistics_snapshot(uow, body):
    """Stats rebuilds or checks a school's counters from this (`tsctl stats rebuild|check`)."""
    return jsonify(statistics.statistics_snapshot(uow, body["uai"]))
