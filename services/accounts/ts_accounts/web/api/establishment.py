"""/api/v1: the audit log, delegations and imports of the school."""
from __future__ import annotations

from flask import abort, g, request
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from ts_accounts.adapters.siecle import ImportFileError
from ts_accounts.service_layer import audit as audit_log
from ts_accounts.service_layer import imports
from ts_accounts.service_layer.errors import AccountsError, InvalidInput
from ts_accounts.service_layer.population import DeparturesToConfirm
from ts_accounts.service_layer.staff import delegate, list_delegates, revoke_delegation
from ts_accounts.web.api.common import api_view, refuse
from ts_accounts.web.uploads import as_uploaded, problems_as_uploaded, saved_uploads
from ts_shared.web.app import runtime_of
from ts_shared.web.staff_session import DELEGABLE_RIGHTS, RIGHT_AUDIT, RIGHT_DELEGATE, RIGHT_IMPORT

blueprint = Blueprint("api_establishment", __name__, url_prefix="/api/v1",
                      description="Journal des actions, délégations et imports de l'établissement")


class AuditArgs(Schema):
    staff = fields.String(load_default=None)
    action = fields.String(load_default=None)
    text = fields.String(load_default=None)
    since = fields.Date(load_default=None)
    until = fields.Date(load_default=None)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))


class AuditEntrySchema(Schema):
    at = fields.DateTime()
    staff_login = fields.String()
    action = fields.String()
    summary = fields.String()
    target = fields.String(allow_none=True)
    client_address = fields.String(allow_none=True)
    detail = fields.Dict()


class AuditPageSchema(Schema):
    total = fields.Integer()
    page = fields.Integer()
    entries = fields.List(fields.Nested(AuditEntrySchema))


class DelegateSchema(Schema):
    staff_id = fields.Integer()
    login = fields.String()
    display_name = fields.String()
    email = fields.String(allow_none=True)
    rights = fields.List(fields.String())
    last_login_at = fields.DateTime(allow_none=True)


class DelegationBody(Schema):
    login = fields.String(required=True, validate=validate.Length(min=2, max=100))
    rights = fields.List(fields.String(validate=validate.OneOf(DELEGABLE_RIGHTS)), required=True,
                         validate=validate.Length(min=1))
    display_name = fields.String(load_default=None, metadata={"description": "For a staff member without an account"})
    email = fields.Email(load_default=None, allow_none=True)
    initial_password = fields.String(load_default=None, load_only=True)


class RejectionSchema(Schema):
    source = fields.String()
    record = fields.String()
    reason = fields.String()


class ImportReportSchema(Schema):
    files = fields.List(fields.String())
    created = fields.Dict(keys=fields.String(), values=fields.Integer())
    updated = fields.Dict(keys=fields.String(), values=fields.Integer())
    unchanged = fields.Dict(keys=fields.String(), values=fields.Integer())
    departed = fields.Dict(keys=fields.String(), values=fields.Integer())
    rejected = fields.List(fields.Nested(RejectionSchema))
    warnings = fields.List(fields.Nested(RejectionSchema))
    accounts_created = fields.Integer()
    accounts_kept_from_previous_school = fields.Integer()
    account_links_ended = fields.Integer()
    continuities_pending = fields.Integer(metadata={
        "description": "B8: arriving students still enrolled in their previous school (no account until it records "
                       "the departure)"})
    continuities_completed_elsewhere = fields.Integer(metadata={
        "description": "B8: other schools' continuities completed by the departures this import recorded"})


class ImportArgs(Schema):
    format = fields.String(load_default=imports.SIECLE, validate=validate.OneOf((imports.SIECLE, imports.CSV)))
    confirm_departures = fields.Boolean(load_default=False, metadata={
        "description": "A students export that lists nobody, or that would mark more than half of the enrolled "
                       "students as departed, answers 409 and changes nothing unless this is true"})


@blueprint.route("/audit")
@api_view(RIGHT_AUDIT)
@blueprint.arguments(AuditArgs, location="query")
@blueprint.response(200, AuditPageSchema)
def audit_entries(args):
    """The school's audit log, newest first, 50 per page."""
    query = audit_log.AuditQuery(staff_login=args["staff"], action=args["action"], text=args["text"],
                                 since=args["since"], until=args["until"], page=args["page"])
    with runtime_of().uow() as uow:
        entries, total = audit_log.search(uow.session, g.school.uai, query)
    return {"total": total, "page": args["page"], "entries": entries}


@blueprint.route("/delegations")
@api_view(RIGHT_DELEGATE)
@blueprint.response(200, DelegateSchema(many=True))
def delegations():
    """Staff members the head delegated parts of the console to."""
    with runtime_of().uow() as uow:
        return list_delegates(uow, g.school.uai)


@blueprint.route("/delegations", methods=["POST"])
@api_view(RIGHT_DELEGATE)
@blueprint.arguments(DelegationBody)
@blueprint.response(201, DelegateSchema(many=True))
def add_delegation(body):
    """Delegate parts of the console to a staff member (created if new)."""
    with runtime_of().uow() as uow:
        try:
            delegate(uow, g.actor, uai=g.school.uai, **body)
        except AccountsError as error:
            refuse(error)
    with runtime_of().uow() as uow:
        return list_delegates(uow, g.school.uai)


@blueprint.route("/delegations/<int:staff_id>", methods=["DELETE"])
@api_view(RIGHT_DELEGATE)
@blueprint.response(204)
def remove_delegation(staff_id: int):
    """End a delegation."""
    with runtime_of().uow() as uow:
        try:
            revoke_delegation(uow, g.actor, uai=g.school.uai, staff_id=staff_id)
        except AccountsError as error:
            refuse(error)


@blueprint.route("/imports", methods=["POST"])
@api_view(RIGHT_IMPORT)
@blueprint.arguments(ImportArgs, location="query")
@blueprint.response(201, ImportReportSchema)
def import_files(args):
    """Import SIECLE exports (multipart field `files`, one or more .xml/.zip) or one CSV file
    (`format=csv`). A rejected file changes nothing (400, with every problem found); an export
    that would empty most of the school changes nothing either (409) unless `confirm_departures`."""
    uploads = [f for f in request.files.getlist("files") if f and f.filename]
    if not uploads:
        refuse(InvalidInput("Envoyez au moins un fichier (champ « files »)."))
    with saved_uploads(uploads) as paths:
        try:
            with runtime_of().uow() as uow:
                return imports.import_files(uow, g.actor, uai=g.school.uai, file_format=args["format"], paths=paths,
                                            names=[upload.filename for upload in uploads],
                                            confirm_departures=args["confirm_departures"])
        except ImportFileError as error:
            refuse(InvalidInput("Import refusé, aucune donnée modifiée : "
                                + " | ".join(problems_as_uploaded(error, uploads))))
        except DeparturesToConfirm as error:
            abort(409, description=f"{as_uploaded(str(error), uploads)} Renvoyez la demande avec "
                                   "confirm_departures=true pour confirmer.")
        except AccountsError as error:
            refuse(error)
