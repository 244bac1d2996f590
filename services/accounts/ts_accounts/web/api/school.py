"""/api/v1/services and /api/v1/settings: the menus « Gestion des téléservices » (C2 opening and
closing services, C3 publication of marks, C4 online payment of invoices) and « Paramétrage » (D1
welcome message, D2 ENT and notification letter, D4 contact link, D5 useful links) of the school
worked on. Each view parses its input, calls one use case of `service_layer.services` or
`service_layer.settings` (which records the audit entry and announces the portal's settings, as
for the console) and shapes the answer.

Also the French vocabulary of the staff API's bodies (`Body`, `text`, `flag`…), which `academy`
uses too: marshmallow's own messages are English."""
from __future__ import annotations

from decimal import Decimal

from flask import abort, g
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from werkzeug.exceptions import BadRequest

from ts_accounts.service_layer import services as service_cases
from ts_accounts.service_layer import settings as settings_cases
from ts_accounts.service_layer.errors import AccountsError
from ts_accounts.web.api.common import api_view, fail
from ts_shared.web.app import runtime_of
from ts_shared.web.staff_session import RIGHT_SERVICES, RIGHT_SETTINGS

services_blueprint = Blueprint("api_services", __name__, url_prefix="/api/v1/services",
                               description="Gestion des téléservices : ouverture et fermeture (C2), configuration "
                                           "Notes (C3), paiement en ligne des factures (C4)")
settings_blueprint = Blueprint("api_settings", __name__, url_prefix="/api/v1/settings",
                               description="Paramétrage : message d'accueil (D1), ENT et courrier de notification "
                                           "(D2), lien de contact (D4), liens utiles (D5)")
blueprints = (services_blueprint, settings_blueprint)

# A row id in a path: beyond it the database cannot hold it (404 rather than an error).
ROW_ID = "int(max=2147483647)"

# --- French bodies --------------------------------------------------------------------------------

REQUIRED = "Ce champ est obligatoire."
NOT_NULL = "Ce champ ne peut pas être vide (null)."


class Body(Schema):
    """A request body: an object of known fields only, refused with French messages."""

    error_messages = {"unknown": "Champ inconnu.", "type": "Le corps de la requête doit être un objet JSON."}


def _messages(invalid: str, **more: str) -> dict[str, str]:
    return {"required": REQUIRED, "null": NOT_NULL, "invalid": invalid, "validator_failed": "Valeur non valide.",
            **more}


def text(max_length: int | None = None, *, required: bool = True, choices=None, **kwargs) -> fields.String:
    """A string (trimmed by the use cases), at most `max_length` characters, or one of `choices`."""
    validators = []
    if max_length is not None:
        validators.append(validate.Length(max=max_length, error=f"{max_length} caractères au plus."))
    if choices is not None:
        validators.append(validate.OneOf(tuple(choices), error="Valeur non valide : choisissez parmi {choices}."))
    if not required:
        kwargs.setdefault("load_default", None)
        kwargs.setdefault("allow_none", True)
    return fields.String(required=required, validate=validators,
                         error_messages=_messages("Une chaîne de caractères est attendue."), **kwargs)


def flag(*, required: bool = True, **kwargs) -> fields.Boolean:
    return fields.Boolean(required=required, error_messages=_messages("true ou false est attendu."), **kwargs)


def integer(*, required: bool = True, **kwargs) -> fields.Integer:
    if not required:
        kwargs.setdefault("load_default", None)
        kwargs.setdefault("allow_none", True)
    return fields.Integer(required=required, strict=True, error_messages=_messages("Un nombre entier est attendu."),
                          **kwargs)


def a_date(**kwargs) -> fields.Date:
    return fields.Date(required=True, error_messages=_messages(
        "Une date au format AAAA-MM-JJ est attendue, par exemple 2026-12-12.",
        format="Une date au format AAAA-MM-JJ est attendue."), **kwargs)


def texts(item: fields.String, **kwargs) -> fields.List:
    return fields.List(item, required=True, error_messages=_messages("Une liste est attendue."), **kwargs)


class Amount(fields.String):
    """An amount in euros as staff type it (« 15,50 ») or a JSON number (15.5): passed on as text to
    the use case, which checks it."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
            value = str(value)
        return super()._deserialize(value, attr, data, **kwargs)


def refuse(error: AccountsError):
    """`fail`, and: a refused settings form answers 400 with its French message per field
    (`fields`); a conflict with the state of the school (the service closed, a confirmation
    needed) answers 409."""
    if isinstance(error, settings_cases.SettingsRejected):
        refused = BadRequest(description=str(error))
        refused.data = {"messages": dict(error.errors)}
        raise refused
    if isinstance(error, service_cases.ConfirmationRequired):
        abort(409, description=f"{error} Renvoyez la demande avec « confirm »: true pour confirmer.")
    if isinstance(error, service_cases.ServiceClosed):
        abort(409, description=str(error))
    fail(error)


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
                           error_messages=_messages("Un objet { code du téléservice: true | false } est attendu."),
                           metadata={"description": "Service code → true (open) or false (closed)"})


class ServiceChangeSchema(Schema):
    code = fields.String()
    label = fields.String()
    opened = fields.Boolean()


class ServicesChangedSchema(Schema):
    changes = fields.List(fields.Nested(ServiceChangeSchema), metadata={"description": "Empty: nothing changed"})
    services = fields.List(fields.Nested(ServiceLineSchema))


@services_blueprint.route("")
@api_view(RIGHT_SERVICES)
@services_blueprint.response(200, ServiceLineSchema(many=True))
def services():
    """The services the academy offers the school (national ones first), open or closed."""
    with runtime_of().uow() as uow:
        return service_cases.service_choices(uow, g.school.uai)


@services_blueprint.route("", methods=["PUT"])
@api_view(RIGHT_SERVICES)
@services_blueprint.arguments(ServicesBody)
@services_blueprint.response(200, ServicesChangedSchema)
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
        uow.commit()
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


@services_blueprint.route("/notes")
@api_view(RIGHT_SERVICES)
@services_blueprint.response(200, NotesSchema)
def notes():
    """The publication of marks (C3) and its dates per MEF × division.

    409 while the service Notes is closed."""
    with runtime_of().uow() as uow:
        try:
            return service_cases.notes_configuration(uow, g.school.uai)
        except AccountsError as error:
            refuse(error)


@services_blueprint.route("/notes", methods=["PUT"])
@api_view(RIGHT_SERVICES)
@services_blueprint.arguments(NotesBody)
@services_blueprint.response(200, NotesSchema)
def set_notes_publication(body):
    """Publish marks « au fil de l'eau » (continuous) or « à échéance » (deadline).

    Going back to continuous while dates exist answers 409 unless `confirm` is true; then the
    dates are deleted."""
    with runtime_of().uow() as uow:
        try:
            changed = service_cases.set_notes_publication(uow, g.actor, g.school.uai, body["publication"],
                                                          confirmed=body["confirm"])
        except AccountsError as error:
            refuse(error)
        uow.commit()
    with runtime_of().uow() as uow:
        configuration = service_cases.notes_configuration(uow, g.school.uai)
    return {"publication": configuration.publication, "dates_count": configuration.dates_count,
            "pairs": configuration.pairs, "changed": changed}


@services_blueprint.route("/notes/dates", methods=["POST"])
@api_view(RIGHT_SERVICES)
@services_blueprint.arguments(NewPublicationDateBody)
@services_blueprint.response(201, NewPublicationDateSchema)
def add_publication_date(body):
    """A publication date for one MEF × division of the school (publication « à échéance »)."""
    with runtime_of().uow() as uow:
        try:
            row = service_cases.add_publication_date(uow, g.actor, g.school.uai, mef_code=body["mef_code"],
                                                     division=body["division"], day=body["publication_date"])
        except AccountsError as error:
            refuse(error)
        uow.commit()
    return row


@services_blueprint.route(f"/notes/dates/<{ROW_ID}:date_id>", methods=["DELETE"])
@api_view(RIGHT_SERVICES)
@services_blueprint.response(204)
def remove_publication_date(date_id: int):
    """Delete a publication date."""
    with runtime_of().uow() as uow:
        try:
            service_cases.remove_publication_date(uow, g.actor, g.school.uai, date_id)
        except AccountsError as error:
            refuse(error)
        uow.commit()


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
                            error_messages=_messages("Un montant est attendu, par exemple \"15,50\" ou 15.5."),
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


@services_blueprint.route("/payment")
@api_view(RIGHT_SERVICES)
@services_blueprint.response(200, PaymentSchema)
def payment():
    """The online payment of invoices (C4) as saved (null fields: not configured yet)."""
    with runtime_of().uow() as uow:
        return _payment(service_cases.payment_configuration(uow, g.school.uai))


@services_blueprint.route("/payment", methods=["PUT"])
@api_view(RIGHT_SERVICES)
@services_blueprint.arguments(PaymentBody)
@services_blueprint.response(200, PaymentSchema)
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
        uow.commit()
    with runtime_of().uow() as uow:
        return {**_payment(service_cases.payment_configuration(uow, g.school.uai)), "confirmation_required": False}


# --- D1 welcome message ---------------------------------------------------------------------------

class WelcomeSchema(Schema):
    html = fields.String(metadata={"description": "Sanitised: what families see"})
    length = fields.Integer(metadata={"description": "Visible characters"})
    maximum = fields.Integer()
    too_long = fields.Boolean()
    changed = fields.Boolean(metadata={"description": "In the answer to a change: whether anything changed"})


class WelcomeBody(Body):
    html = text(metadata={"description": "p, br, strong/b, em/i, u, ul, ol, li and a[href] are kept; the rest loses "
                                         "its tag. An empty message removes it."})


@settings_blueprint.route("/welcome-message")
@api_view(RIGHT_SETTINGS)
@settings_blueprint.response(200, WelcomeSchema)
def welcome_message():
    """The welcome message of the portal's home page (D1)."""
    return settings_cases.preview_welcome(g.school.welcome_message_html)


@settings_blueprint.route("/welcome-message", methods=["PUT"])
@api_view(RIGHT_SETTINGS)
@settings_blueprint.arguments(WelcomeBody)
@settings_blueprint.response(200, WelcomeSchema)
def set_welcome_message(body):
    """Save the welcome message, sanitised (families see it at once).

    Refused (400, nothing saved) beyond 2000 visible characters."""
    with runtime_of().uow() as uow:
        try:
            change = settings_cases.set_welcome_message(uow, g.actor, g.school.uai, body["html"])
        except AccountsError as error:
            refuse(error)
        uow.commit()
    preview = settings_cases.preview_welcome(change.after["welcome_message_html"])
    return {"html": preview.html, "length": preview.length, "maximum": preview.maximum,
            "too_long": preview.too_long, "changed": change.changed}


@settings_blueprint.route("/welcome-message/preview", methods=["POST"])
@api_view(RIGHT_SETTINGS)
@settings_blueprint.arguments(WelcomeBody)
@settings_blueprint.response(200, WelcomeSchema)
def preview_welcome_message(body):
    """What families would see of this message, and its length. Nothing is saved."""
    try:
        return settings_cases.preview_welcome(body["html"])
    except AccountsError as error:
        refuse(error)


# --- D2 ENT and notification letter ---------------------------------------------------------------

class LetterTypeSchema(Schema):
    value = fields.String()
    label = fields.String()


class AcademyEntChoiceSchema(Schema):
    id = fields.Integer()
    label = fields.String()
    url = fields.String()


class EntSchema(Schema):
    letter_type = fields.String(metadata={"description": ", ".join(settings_cases.LETTER_TYPES)})
    ent_url = fields.String(allow_none=True)
    academy_link_id = fields.Integer(allow_none=True, metadata={
        "description": "The academy's ENT whose address is the school's, if any"})
    academy_links = fields.List(fields.Nested(AcademyEntChoiceSchema), metadata={
        "description": "The ENT addresses of the academy (GET only)"})
    letter_types = fields.List(fields.Nested(LetterTypeSchema), metadata={"description": "GET only"})
    changed = fields.Boolean(metadata={"description": "In the answer to a change: whether anything changed"})


class EntBody(Body):
    letter_type = text(choices=settings_cases.LETTER_TYPES, metadata={
        "description": "teleservices, mixed or ent_only (mixed and ent_only need the ENT address)"})
    academy_link_id = integer(required=False, metadata={"description": "One of the academy's ENT addresses…"})
    ent_url = text(required=False, metadata={"description": "…or the address typed (when academy_link_id is null)"})


@settings_blueprint.route("/ent")
@api_view(RIGHT_SETTINGS)
@settings_blueprint.response(200, EntSchema)
def ent():
    """The notification letter type and the ENT address (D2).

    With the academy's ENT addresses, to choose from."""
    school = g.school
    with runtime_of().uow() as uow:
        links = settings_cases.academy_ent_links(uow, school.academy_code)
    chosen = next((link for link in links if school.ent_url and link.url == school.ent_url), None)
    return {"letter_type": school.letter_type, "ent_url": school.ent_url,
            "academy_link_id": chosen.id if chosen else None, "academy_links": links,
            "letter_types": [{"value": value, "label": label} for value, label in settings_cases.LETTER_TYPES.items()]}


@settings_blueprint.route("/ent", methods=["PUT"])
@api_view(RIGHT_SETTINGS)
@settings_blueprint.arguments(EntBody)
@settings_blueprint.response(200, EntSchema)
def set_ent(body):
    """Save the letter type and the ENT address (D2).

    « Mixte » and « ENT seul » need the ENT address: one of the academy's (`academy_link_id`) or
    typed (`ent_url`). Refused per field (400, `fields`)."""
    with runtime_of().uow() as uow:
        try:
            change = settings_cases.set_ent_and_letter(uow, g.actor, g.school.uai, letter_type=body["letter_type"],
                                                       academy_link_id=body["academy_link_id"],
                                                       typed_url=body["ent_url"])
        except AccountsError as error:
            refuse(error)
        uow.commit()
    return {**change.after, "changed": change.changed}


# --- D4 contact link ------------------------------------------------------------------------------

class SchoolAddressSchema(Schema):
    id = fields.Integer()
    address = fields.String()
    label = fields.String(allow_none=True)


class ContactSchema(Schema):
    active = fields.Boolean()
    email = fields.String(allow_none=True, metadata={"description": "The address families write to"})
    email_id = fields.Integer(allow_none=True, metadata={"description": "GET only"})
    emails = fields.List(fields.Nested(SchoolAddressSchema), metadata={
        "description": "The school's addresses, to choose from (GET only)"})
    changed = fields.Boolean(metadata={"description": "In the answer to a change: whether anything changed"})


class ContactBody(Body):
    active = flag()
    email_id = integer(required=False, metadata={"description": "One of the school's addresses (GET "
                                                                "/api/v1/settings/contact)"})


@settings_blueprint.route("/contact")
@api_view(RIGHT_SETTINGS)
@settings_blueprint.response(200, ContactSchema)
def contact():
    """The contact link of the portal (D4) and the school's addresses it may send to."""
    school = g.school
    with runtime_of().uow() as uow:
        emails = settings_cases.school_emails(uow, school.uai)
    current = next((email for email in emails if email.address == school.contact_email), None)
    return {"active": bool(school.contact_active), "email": school.contact_email,
            "email_id": current.id if current else None, "emails": emails}


@settings_blueprint.route("/contact", methods=["PUT"])
@api_view(RIGHT_SETTINGS)
@settings_blueprint.arguments(ContactBody)
@settings_blueprint.response(200, ContactSchema)
def set_contact(body):
    """Activate the contact link towards one of the school's addresses, or deactivate it (D4).

    Refused (400) while the school has no address."""
    with runtime_of().uow() as uow:
        try:
            change = settings_cases.set_contact_link(uow, g.actor, g.school.uai, active=body["active"],
                                                     email_id=body["email_id"])
        except AccountsError as error:
            refuse(error)
        uow.commit()
    return {"active": change.after["contact_active"], "email": change.after["contact_email"],
            "changed": change.changed}


# --- D5 useful links ------------------------------------------------------------------------------

class UsefulLinkSchema(Schema):
    id = fields.Integer()
    label = fields.String()
    url = fields.String()
    changed = fields.Boolean(metadata={"description": "In the answer to a change: whether anything changed"})


class UsefulLinkBody(Body):
    label = text(metadata={"description": f"{settings_cases.MAX_LINK_LABEL} characters at most"})
    url = text(metadata={"description": "http:// or https:// and the site's name"})


@settings_blueprint.route("/links")
@api_view(RIGHT_SETTINGS)
@settings_blueprint.response(200, UsefulLinkSchema(many=True))
def links():
    """The useful links of the portal (D5), in the portal's order."""
    with runtime_of().uow() as uow:
        return settings_cases.useful_links(uow, g.school.uai)


@settings_blueprint.route("/links", methods=["POST"])
@api_view(RIGHT_SETTINGS)
@settings_blueprint.arguments(UsefulLinkBody)
@settings_blueprint.response(201, UsefulLinkSchema)
def add_link(body):
    """Add a useful link after the existing ones (D5).

    Refused per field (400, `fields`)."""
    with runtime_of().uow() as uow:
        try:
            link = settings_cases.add_useful_link(uow, g.actor, g.school.uai, label=body["label"], url=body["url"])
        except AccountsError as error:
            refuse(error)
        uow.commit()
    return link


@settings_blueprint.route(f"/links/<{ROW_ID}:link_id>", methods=["PUT"])
@api_view(RIGHT_SETTINGS)
@settings_blueprint.arguments(UsefulLinkBody)
@settings_blueprint.response(200, UsefulLinkSchema)
def update_link(body, link_id: int):
    """Change a useful link (it keeps its place in the list)."""
    with runtime_of().uow() as uow:
        try:
            change = settings_cases.update_useful_link(uow, g.actor, g.school.uai, link_id, label=body["label"],
                                                       url=body["url"])
        except AccountsError as error:
            refuse(error)
        uow.commit()
    return {"id": link_id, **change.after, "changed": change.changed}


@settings_blueprint.route(f"/links/<{ROW_ID}:link_id>", methods=["DELETE"])
@api_view(RIGHT_SETTINGS)
@settings_blueprint.response(204)
def delete_link(link_id: int):
    """Delete a useful link."""
    with runtime_of().uow() as uow:
        try:
            settings_cases.delete_useful_link(uow, g.actor, g.school.uai, link_id)
        except AccountsError as error:
            refuse(error)
        uow.commit()

