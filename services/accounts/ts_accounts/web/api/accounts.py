"""/api/v1/accounts: search, look at and act on the school's accounts (E2, F2, B9)."""
from __future__ import annotations

from flask import g
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from ts_accounts.domain.lifecycle import AccountKind, AccountState
from ts_accounts.service_layer import support
from ts_accounts.service_layer.errors import AccountsError, InvalidInput, NotFound
from ts_accounts.service_layer.notifications import MODES
from ts_accounts.service_layer.support import (
    SearchFilters, change_access, couple_detail, create_new_account, renotify, search, write_to_guardians,
)
from ts_accounts.web.api.common import api_view, population as population_kind, refuse
from ts_shared.crypto import SecretBox
from ts_shared.db import utcnow
from ts_shared.web.app import runtime_of, settings_of
from ts_shared.web.staff_session import RIGHT_GUARDIAN_ACCESS, RIGHT_STUDENT_ACCESS

blueprint = Blueprint("api_accounts", __name__, url_prefix="/api/v1/accounts",
                      description="Comptes des élèves et des responsables de l'établissement")
POPULATION = validate.OneOf(("guardians", "students"))
STATES = [state.value for state in AccountState]


class SearchArgs(Schema):
    population = fields.String(required=True, validate=POPULATION,
                               metadata={"description": "guardians (couples responsable × élève) or students"})
    name = fields.String(load_default=None, metadata={"description": "First letters of the student's last name"})
    mef = fields.String(load_default=None)
    division = fields.String(load_default=None)
    state = fields.List(fields.String(validate=validate.OneOf(STATES)), load_default=list)
    legal_rank = fields.Integer(load_default=None, validate=validate.OneOf((1, 2)))


class AccountRowSchema(Schema):
    student_id = fields.String(attribute="student_siecle_id")
    student_last_name = fields.String()
    student_first_name = fields.String()
    birth_date = fields.Date()
    division = fields.String(allow_none=True)
    mef_code = fields.String(allow_none=True)
    guardian_id = fields.String(attribute="guardian_siecle_id", allow_none=True)
    guardian_name = fields.String(allow_none=True)
    legal_rank = fields.Integer(allow_none=True)
    email = fields.String(allow_none=True)
    email_valid = fields.Boolean()
    login = fields.String(allow_none=True)
    state = fields.String(allow_none=True)
    notified_at = fields.DateTime(allow_none=True)
    notification_mode = fields.String(allow_none=True)
    last_login_at = fields.DateTime(allow_none=True)
    kept_from_previous_school = fields.Boolean()
    access_refused = fields.Boolean()
    continuity_pending = fields.Boolean(metadata={
        "description": "B8: no account yet, the student is still enrolled in their previous school"})


class HistorySchema(Schema):
    login = fields.String()
    started_at = fields.DateTime()
    notified_at = fields.DateTime(allow_none=True)
    activated_at = fields.DateTime(allow_none=True)
    ended_at = fields.DateTime(allow_none=True)
    ended_reason = fields.String(allow_none=True)


class EventSchema(Schema):
    at = fields.DateTime()
    action = fields.String()
    actor = fields.String()


class AccountDetailSchema(Schema):
    student_id = fields.String()
    student_name = fields.String()
    birth_date = fields.Date()
    division = fields.String(allow_none=True)
    mef = fields.String(allow_none=True)
    guardian_id = fields.String(allow_none=True)
    guardian_name = fields.String(allow_none=True)
    guardian_email = fields.String(allow_none=True)
    guardian_address = fields.String(allow_none=True)
    legal_rank = fields.Integer(allow_none=True)
    login = fields.String(allow_none=True)
    state = fields.String(allow_none=True)
    account_email = fields.String(allow_none=True)
    account_email_confirmed = fields.Boolean()
    last_login_at = fields.DateTime(allow_none=True)
    access_refused = fields.Boolean()
    kept_from_previous_school = fields.Boolean()
    continuity_pending_from = fields.String(allow_none=True, metadata={
        "description": "B8: the school that still has the student enrolled; no account until it records the departure"})
    reset_refused = fields.String(allow_none=True, metadata={
        "description": "B8: why the password cannot be reset nor the account replaced (a continued account whose "
                       "family has not signed in since), else null"})
    other_children = fields.List(fields.String())
    history = fields.List(fields.Nested(HistorySchema))
    events = fields.List(fields.Nested(EventSchema))


class NotifyBody(Schema):
    mode = fields.String(required=True, validate=validate.OneOf(tuple(MODES)),
                         metadata={"description": "email_and_paper, email or paper (students: paper)"})
    reset_password = fields.Boolean(load_default=False)


class NotificationSchema(Schema):
    batch_id = fields.String()
    deliveries = fields.Integer()
    skipped = fields.List(fields.String())


class AccessBody(Schema):
    refused = fields.Boolean(required=True, metadata={"description": "true: remove access (refusal coupon)"})


class ResendBody(Schema):
    email = fields.Email(load_default=None, allow_none=True)
    email_again = fields.Email(load_default=None, allow_none=True)


class WriteBody(Schema):
    subject = fields.String(required=True, validate=validate.Length(min=1, max=200))
    body = fields.String(required=True, validate=validate.Length(min=1, max=10000))


class SentSchema(Schema):
    sent_to = fields.List(fields.String())


def _couple_of(population: str, guardian_id: str | None) -> None:
    """The path's population must be one the staff member holds the right of (403), and the path
    must name a couple of it: a guardian for guardians, none for students (404 otherwise)."""
    if (guardian_id is None) != (population_kind(population) == AccountKind.STUDENT):
        refuse(NotFound("Ce compte n'existe pas dans l'établissement."))


def _detail(uow, student_id: str, guardian_id: str | None):
    try:
        return couple_detail(uow.session, g.school.uai, student_id, guardian_id)
    except AccountsError as error:
        refuse(error)


def _detail_json(detail) -> dict:
    account, student, guardian = detail.account, detail.student, detail.guardian
    return {
        "student_id": student.siecle_id, "student_name": f"{student.display_last_name} {student.first_name}",
        "birth_date": student.birth_date, "division": student.division, "mef": detail.mef_label or student.mef_code,
        "guardian_id": guardian.siecle_id if guardian else None,
        "guardian_name": f"{guardian.last_name} {guardian.first_name}" if guardian else None,
        "guardian_email": guardian.email if guardian else None, "guardian_address": detail.address,
        "legal_rank": detail.legal_rank, "login": account.login if account else None,
        "state": account.state if account else None, "account_email": account.email if account else None,
        "account_email_confirmed": bool(account and account.email_confirmed_at),
        "last_login_at": account.last_login_at if account else None,
        "access_refused": bool(account and account.access_refused_at),
        "kept_from_previous_school": bool(detail.link and detail.link.kept_from_previous_school),
        "continuity_pending_from": (f"{detail.pending_from.name} ({detail.pending_from.uai})"
                                    if detail.pending_from else None),
        "reset_refused": detail.reset_refused,
        "other_children": [f"{s.first_name} {s.display_last_name} ({uai})" for s, uai in detail.other_children],
        "history": [{"login": a.login, "started_at": link.started_at, "notified_at": a.notified_at,
                     "activated_at": a.activated_at, "ended_at": link.ended_at, "ended_reason": link.ended_reason}
                    for a, link in detail.history],
        "events": [{"at": e.at, "action": e.action, "actor": e.actor} for e in detail.events],
    }


@blueprint.route("")
@api_view(RIGHT_GUARDIAN_ACCESS, RIGHT_STUDENT_ACCESS, any_of=True)
@blueprint.arguments(SearchArgs, location="query")
@blueprint.response(200, AccountRowSchema(many=True))
def search_accounts(args):
    """Search the school's students or guardian couples, with their current account."""
    kind = population_kind(args["population"])
    filters = SearchFilters(name_prefix=args["name"], mef_code=args["mef"], division=args["division"],
                            states=tuple(args["state"]), legal_rank=args["legal_rank"])
    with runtime_of().uow() as uow:
        return search(uow.session, g.school.uai, kind, filters)


@blueprint.route("/<population>/<student_id>", endpoint="detail_student", defaults={"guardian_id": None})
@blueprint.route("/<population>/<student_id>/<guardian_id>", endpoint="detail_couple")
@api_view(RIGHT_GUARDIAN_ACCESS, RIGHT_STUDENT_ACCESS, any_of=True)
@blueprint.response(200, AccountDetailSchema)
def detail(population: str, student_id: str, guardian_id: str | None):
    """One student, or one guardian × student couple: people, current account, history."""
    _couple_of(population, guardian_id)
    with runtime_of().uow() as uow:
        return _detail_json(_detail(uow, student_id, guardian_id))


@blueprint.route("/<population>/<student_id>/notify", endpoint="notify_student", methods=["POST"],
                 defaults={"guardian_id": None})
@blueprint.route("/<population>/<student_id>/<guardian_id>/notify", endpoint="notify_couple", methods=["POST"])
@api_view(RIGHT_GUARDIAN_ACCESS, RIGHT_STUDENT_ACCESS, any_of=True)
@blueprint.arguments(NotifyBody)
@blueprint.response(202, NotificationSchema)
def notify(body, population: str, student_id: str, guardian_id: str | None):
    """Renotify the account (a new temporary password when the rules or `reset_password` say so).
    The notifier renders and sends; follow the batch at /admin/notifications/batches/<batch_id>."""
    _couple_of(population, guardian_id)
    with runtime_of().uow() as uow:
        try:
            order = renotify(uow, SecretBox(settings_of().event_key), g.actor, uai=g.school.uai, student_id=student_id,
                             guardian_id=guardian_id, mode=body["mode"], reset_password=body["reset_password"],
                             now=utcnow())
        except AccountsError as error:
            refuse(error)
    return {"batch_id": order.batch_id, "deliveries": order.deliveries,
            "skipped": [f"{who} : {why}" for who, why in order.skipped]}


@blueprint.route("/<population>/<student_id>/new-account", endpoint="new_account_student", methods=["POST"],
                 defaults={"guardian_id": None})
@blueprint.route(
    "/<population>/<student_id>/<guardian_id>/new-account", endpoint="new_account_couple", methods=["POST"]
)
@api_view(RIGHT_GUARDIAN_ACCESS, RIGHT_STUDENT_ACCESS, any_of=True)
@blueprint.response(201, AccountDetailSchema)
def new_account(population: str, student_id: str, guardian_id: str | None):
    """A new account with a new normalised login; the old one closes (or keeps its other children)."""
    _couple_of(population, guardian_id)
    with runtime_of().uow() as uow:
        try:
            create_new_account(uow, g.actor, uai=g.school.uai, student_id=student_id, guardian_id=guardian_id,
                               now=utcnow())
        except AccountsError as error:
            refuse(error)
    with runtime_of().uow() as uow:
        return _detail_json(_detail(uow, student_id, guardian_id))


@blueprint.route("/<population>/<student_id>/access", endpoint="access_student", methods=["PUT"],
                 defaults={"guardian_id": None})
@blueprint.route("/<population>/<student_id>/<guardian_id>/access", endpoint="access_couple", methods=["PUT"])
@api_view(RIGHT_GUARDIAN_ACCESS, RIGHT_STUDENT_ACCESS, any_of=True)
@blueprint.arguments(AccessBody)
@blueprint.response(200, AccountDetailSchema)
def access(body, population: str, student_id: str, guardian_id: str | None):
    """Remove (refusal coupon, B9) or restore the account's access to online services."""
    _couple_of(population, guardian_id)
    with runtime_of().uow() as uow:
        try:
            change_access(uow, g.actor, uai=g.school.uai, student_id=student_id, guardian_id=guardian_id,
                          refused=body["refused"], now=utcnow())
        except AccountsError as error:
            refuse(error)
    with runtime_of().uow() as uow:
        return _detail_json(_detail(uow, student_id, guardian_id))


@blueprint.route("/guardians/<student_id>/<guardian_id>/resend-activation", methods=["POST"])
@api_view(RIGHT_GUARDIAN_ACCESS)
@blueprint.arguments(ResendBody)
@blueprint.response(200, SentSchema)
def resend_activation(body, student_id: str, guardian_id: str):
    """Send the activation (confirmation) email again, to a corrected address if given."""
    _couple_of("guardians", guardian_id)
    with runtime_of().uow() as uow:
        try:
            sent_to = support.resend_activation(uow, SecretBox(settings_of().event_key), g.actor, uai=g.school.uai,
                                                student_id=student_id, guardian_id=guardian_id, email=body["email"],
                                                email_again=body["email_again"], now=utcnow())
        except AccountsError as error:
            refuse(error)
    return {"sent_to": [sent_to]}


@blueprint.route("/guardians/<student_id>/<guardian_id>/write", methods=["POST"])
@api_view(RIGHT_GUARDIAN_ACCESS)
@blueprint.arguments(WriteBody)
@blueprint.response(200, SentSchema)
def write(body, student_id: str, guardian_id: str):
    """Write an email to the guardian (their confirmed address, else SIECLE's)."""
    _couple_of("guardians", guardian_id)
    with runtime_of().uow() as uow:
        try:
            outcome = write_to_guardians(uow, SecretBox(settings_of().event_key), g.actor, uai=g.school.uai,
                                         couples=[(student_id, guardian_id)], subject=body["subject"],
                                         body=body["body"], now=utcnow())
        except AccountsError as error:
            refuse(error)
    if not outcome.sent_to:
        refuse(InvalidInput("Ce responsable n'a pas d'adresse électronique utilisable."))
    return {"sent_to": outcome.sent_to}
