"""/api/v1/services: the menu « Gestion des téléservices » of the school worked on — C2 opening and
closing services, C3 publication of marks, C4 online payment of invoices. Each view parses its
input, calls one use case of `service_layer.services` (which validates, records the audit entry,
announces the portal's settings and commits, as for the console) and shapes the answer."""
from __future__ import annotations

from flask import abort, g
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from ts_accounts.service_layer import services as service_cases
from ts_accounts.service_layer.errors import AccountsError
from ts_accounts.web.api.bodies import ROW_ID, Amount, Body, a_date, flag, messages, text
from ts_accounts.web.api.common import api_view, refuse
from ts_shared.web.app import runtime_of
from ts_shared.web.staff_session import RIGHT_SERVICES

blueprint = Blueprint("api_services", __name__, url_prefix="/api/v1/services",
                      description="Gestion des téléservices : ouverture et fermeture (C2), configuration Notes (C3), "
                                  "paiement en ligne des factures (C4)")

# --- C2 opening and closing services --------------------------------------------------------------

class ServiceLineSchema(Schema):
    code = fields.String()
    label = fields.String()
    scope = fields.String(metadata={"description": "national or academic"})
    mandatory = fields.Boolean()
    is_open = fields.Boolean()
    unavailable_reason = fields.String(allow_none=True, metadata={
        "description": "Why it cannot be opened (a SIECLE module the school does not use), else null"})
    changeable = fields.Boolean(metadata={"description": "Neither mandatory nor unavailable"})


class ServicesBody(Body):
    services = fields.Dict(keys=fields.String(), values=flag(), required=True,
                           validate=validate.Length(min=1, error="Indiquez au moins un téléservice."),
                           error_messages=messages("Un objet { code du téléservice: true | false } est attendu."),
                           metadata={"description": "Service code → true (open) or false (closed)"})


class ServiceChangeSchema(Schema):
    code = fields.String()
    label = fields.String()
    opened = fields.Boolean()


class ServicesChangedSchema(Schema):
    changes = fields.List(fields.Nested(ServiceChangeSchema), metadata={"description": "Empty: nothing changed"})
    services = fields.List(fields.Nested(ServiceLineSchema))


@blueprint.route("")
@api_view(RIGHT_SERVICES)
@blueprint.response(200, ServiceLineSchema(many=True))
def services():
    """The services the academy offers the school (national ones first), open or closed."""
    with runtime_of().uow() as uow:
        return service_cases.service_choices(uow, g.school.uai)


@blueprint.route("", methods=["PUT"])
@api_view(RIGHT_SERVICES)
@blueprint.arguments(ServicesBody)
@blueprint.response(200, ServicesChangedSchema)
def set_services(body):
    """Open or close services (C2).

    The whole request is refused (400, nothing changed) if it closes a mandatory service, opens
    one whose SIECLE module the school lacks, or names a service the academy does not offer. A
    closed service keeps its settings."""
    with runtime_of().uow() as uow:
        try:
            changes = service_cases.set_services(uow, g.actor, g.school.uai, body["services"])
        except AccountsError as error:
            refuse(error)
    with runtime_of().uow() as uow:
        return {"changes": changes, "services": service_cases.service_choices(uow, g.school.uai)}


# --- C3 publication of marks ----------------------------------------------------------------------

class PublicationDateSchema(Schema):
    id = fields.Integer()
    date = fields.Date(attribute="day")


class NotesLineSchema(Schema):
    mef_code = fields.String()
    mef_label = fields.String()
    division = fields.String()
    has_students = fields.Boolean(metadata={"description": "false: dates left over from students who moved since"})
    dates = fields.List(fields.Nested(PublicationDateSchema))


class NotesSchema(Schema):
    publication = fields.String(metadata={"description": "continuous (au fil de l'eau) or deadline (à échéance)"})
    dates_count = fields.Integer()
    pairs = fields.List(fields.Nested(NotesLineSchema), metadata={"description": "MEF × division lines"})
    changed = fields.Boolean(metadata={"description": "In the answer to a change: whether anything changed"})


class NotesBody(Body):
    publication = text(choices=service_cases.PUBLICATION_LABELS, metadata={"description": "continuous or deadline"})
    confirm = flag(required=False, load_default=False, metadata={
        "description": "Going back to continuous deletes the publication dates: without true, 409 and nothing "
                       "changed"})


class NewPublicationDateBody(Body):
    mef_code = text(20)
    division = text(40)
    publication_date = a_date(data_key="date")


class NewPublicationDateSchema(Schema):
    id = fields.Integer()
    mef_code = fields.String()
    division = fields.String()
    date = fields.Date(attribute="publication_date")


@blueprint.route("/notes")
@api_view(RIGHT_SERVICES)
@blueprint.response(200, NotesSchema)
def notes():
    """The publication of marks (C3) and its dates per MEF × division.

    409 while the service Notes is closed."""
    with runtime_of().uow() as uow:
        try:
            return service_cases.notes_configuration(uow, g.school.uai)
        except AccountsError as error:
            refuse(error)


@blueprint.route("/notes", methods=["PUT"])
@api_view(RIGHT_SERVICES)
@blueprint.arguments(NotesBody)
@blueprint.response(200, NotesSchema)
def set_notes_publication(body):
    """Publish marks « au fil de l'eau » (continuous) or « à échéance » (deadline).

    Going back to continuous while dates exist answers 409 unless `confirm` is true; then the
    dates are deleted."""
    with runtime_of().uow() as uow:
        try:
            changed = service_cases.set_notes_publication(uow, g.actor, g.school.uai, body["publication"],
                                                          confirmed=body["confirm"])
        except service_cases.ConfirmationRequired as question:
            abort(409, description=f"{question} Renvoyez la demande avec « confirm »: true pour confirmer.")
        except AccountsError as error:
            refuse(error)
    with runtime_of().uow() as uow:
        configuration = service_cases.notes_configuration(uow, g.school.uai)
    return {"publication": configuration.publication, "dates_count": configuration.dates_count,
            "pairs": configuration.pairs, "changed": changed}


@blueprint.route("/notes/dates", methods=["POST"])
@api_view(RIGHT_SERVICES)
@blueprint.arguments(NewPublicationDateBody)
@blueprint.response(201, NewPublicationDateSchema)
def add_publication_date(body):
    """A publication date for one MEF × division of the school (publication « à échéance »)."""
    with runtime_of().uow() as uow:
        try:
            row = service_cases.add_publication_date(uow, g.actor, g.school.uai, mef_code=body["mef_code"],
                                                     division=body["division"], day=body["publication_date"])
        except AccountsError as error:
            refuse(error, fields={"day": "date"})
    return row


@blueprint.route(f"/notes/dates/<{ROW_ID}:date_id>", methods=["DELETE"])
@api_view(RIGHT_SERVICES)
@blueprint.response(204)
def remove_publication_date(date_id: int):
    """Delete a publication date."""
    with runtime_of().uow() as uow:
        try:
            service_cases.remove_publication_date(uow, g.actor, g.school.uai, date_id)
        except AccountsError as error:
            refuse(error)


# --- C4 online payment of invoices ----------------------------------------------------------------

class PaymentSchema(Schema):
    service_open = fields.Boolean(metadata={"description": "Whether the service « Paiement en ligne des factures » "
                                                           "is open"})
    tipi_client_number = fields.String(allow_none=True)
    holder = fields.String(allow_none=True, metadata={"description": "Who holds the TIPI client number"})
    minimum_amount = fields.Decimal(as_string=True, places=2, allow_none=True,
                                    metadata={"description": "In euros, e.g. \"15.50\""})
    contact_email = fields.String(allow_none=True)
    confirmed_at = fields.DateTime(allow_none=True)
    confirmed_by = fields.String(allow_none=True)
    confirmation_required = fields.Boolean(metadata={
        "description": "In the answer to a change sent without confirm: the holder found, nothing saved yet"})


class PaymentBody(Body):
    tipi_client_number = text(40, metadata={"description": "The number given by the DDFiP"})
    minimum_amount = Amount(required=True, validate=validate.Length(max=20, error="20 caractères au plus."),
                            error_messages=messages("Un montant est attendu, par exemple \"15,50\" ou 15.5."),
                            metadata={"description": "In euros: \"15\", \"15,50\", \"15.50\" or a number"})
    contact_email = text(254)
    confirm = flag(required=False, load_default=False, metadata={
        "description": "false: check the number and answer the holder found, nothing saved; true: save"})


def _payment(configuration: service_cases.PaymentConfiguration) -> dict:
    settings = configuration.settings
    answer = {"service_open": configuration.service_open, "holder": configuration.holder}
    for name in ("tipi_client_number", "minimum_amount", "contact_email", "confirmed_at", "confirmed_by"):
        answer[name] = getattr(settings, name) if settings else None
    return answer


@blueprint.route("/payment")
@api_view(RIGHT_SERVICES)
@blueprint.response(200, PaymentSchema)
def payment():
    """The online payment of invoices (C4) as saved (null fields: not configured yet)."""
    with runtime_of().uow() as uow:
        return _payment(service_cases.payment_configuration(uow, g.school.uai))


@blueprint.route("/payment", methods=["PUT"])
@api_view(RIGHT_SERVICES)
@blueprint.arguments(PaymentBody)
@blueprint.response(200, PaymentSchema)
def set_payment(body):
    """Configure the online payment of invoices (C4), in two steps like the console.

    Without `confirm`, the TIPI client number is looked up in the reference list and the holder
    found is answered (`confirmation_required`), nothing saved; with `confirm`: checked again and
    saved. An unknown number is refused (400)."""
    values = {name: body[name] for name in ("tipi_client_number", "minimum_amount", "contact_email")}
    with runtime_of().uow() as uow:
        try:
            if not body["confirm"]:
                checked = service_cases.check_payment(uow, g.school.uai, **values)
                return {"confirmation_required": True, "tipi_client_number": checked.tipi_client_number,
                        "holder": checked.holder, "minimum_amount": checked.minimum_amount,
                        "contact_email": checked.contact_email}
            service_cases.save_payment(uow, g.actor, g.school.uai, **values)
        except AccountsError as error:
            refuse(error)
    with runtime_of().uow() as uow:
        return {**_payment(service_cases.payment_configuration(uow, g.school.uai)), "confirmation_required": False}
