"""/api/v1/settings: the menu « Paramétrage » of the school worked on — D1 welcome message, D2 ENT
and notification letter, D4 contact link, D5 useful links. Each view parses its input, calls one
use case of `service_layer.settings` (which validates, records the audit entry, announces the
portal's settings and commits, as for the console) and shapes the answer; a refusal names its
fields (`fields`)."""
from __future__ import annotations

from flask import g
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from ts_accounts.service_layer import settings as settings_cases
from ts_accounts.service_layer.errors import AccountsError
from ts_accounts.web.api.bodies import ROW_ID, Body, flag, integer, text
from ts_accounts.web.api.common import api_view, refuse
from ts_shared.web.app import runtime_of
from ts_shared.web.staff_session import RIGHT_SETTINGS

blueprint = Blueprint("api_settings", __name__, url_prefix="/api/v1/settings",
                      description="Paramétrage : message d'accueil (D1), ENT et courrier de notification (D2), lien de "
                                  "contact (D4), liens utiles (D5)")

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


@blueprint.route("/welcome-message")
@api_view(RIGHT_SETTINGS)
@blueprint.response(200, WelcomeSchema)
def welcome_message():
    """The welcome message of the portal's home page (D1)."""
    return settings_cases.preview_welcome(g.school.welcome_message_html)


@blueprint.route("/welcome-message", methods=["PUT"])
@api_view(RIGHT_SETTINGS)
@blueprint.arguments(WelcomeBody)
@blueprint.response(200, WelcomeSchema)
def set_welcome_message(body):
    """Save the welcome message, sanitised (families see it at once).

    Refused (400, nothing saved) beyond 2000 visible characters."""
    with runtime_of().uow() as uow:
        try:
            change = settings_cases.set_welcome_message(uow, g.actor, g.school.uai, body["html"])
        except AccountsError as error:
            refuse(error)
    preview = settings_cases.preview_welcome(change.after["welcome_message_html"])
    return {"html": preview.html, "length": preview.length, "maximum": preview.maximum,
            "too_long": preview.too_long, "changed": change.changed}


@blueprint.route("/welcome-message/preview", methods=["POST"])
@api_view(RIGHT_SETTINGS)
@blueprint.arguments(WelcomeBody)
@blueprint.response(200, WelcomeSchema)
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


@blueprint.route("/ent")
@api_view(RIGHT_SETTINGS)
@blueprint.response(200, EntSchema)
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


@blueprint.route("/ent", methods=["PUT"])
@api_view(RIGHT_SETTINGS)
@blueprint.arguments(EntBody)
@blueprint.response(200, EntSchema)
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


@blueprint.route("/contact")
@api_view(RIGHT_SETTINGS)
@blueprint.response(200, ContactSchema)
def contact():
    """The contact link of the portal (D4) and the school's addresses it may send to."""
    school = g.school
    with runtime_of().uow() as uow:
        emails = settings_cases.school_emails(uow, school.uai)
    current = next((email for email in emails if email.address == school.contact_email), None)
    return {"active": bool(school.contact_active), "email": school.contact_email,
            "email_id": current.id if current else None, "emails": emails}


@blueprint.route("/contact", methods=["PUT"])
@api_view(RIGHT_SETTINGS)
@blueprint.arguments(ContactBody)
@blueprint.response(200, ContactSchema)
def set_contact(body):
    """Activate the contact link towards one of the school's addresses, or deactivate it (D4).

    Refused (400) while the school has no address."""
    with runtime_of().uow() as uow:
        try:
            change = settings_cases.set_contact_link(uow, g.actor, g.school.uai, active=body["active"],
                                                     email_id=body["email_id"])
        except AccountsError as error:
            refuse(error)
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


@blueprint.route("/links")
@api_view(RIGHT_SETTINGS)
@blueprint.response(200, UsefulLinkSchema(many=True))
def links():
    """The useful links of the portal (D5), in the portal's order."""
    with runtime_of().uow() as uow:
        return settings_cases.useful_links(uow, g.school.uai)


@blueprint.route("/links", methods=["POST"])
@api_view(RIGHT_SETTINGS)
@blueprint.arguments(UsefulLinkBody)
@blueprint.response(201, UsefulLinkSchema)
def add_link(body):
    """Add a useful link after the existing ones (D5).

    Refused per field (400, `fields`)."""
    with runtime_of().uow() as uow:
        try:
            link = settings_cases.add_useful_link(uow, g.actor, g.school.uai, label=body["label"], url=body["url"])
        except AccountsError as error:
            refuse(error)
    return link


@blueprint.route(f"/links/<{ROW_ID}:link_id>", methods=["PUT"])
@api_view(RIGHT_SETTINGS)
@blueprint.arguments(UsefulLinkBody)
@blueprint.response(200, UsefulLinkSchema)
def update_link(body, link_id: int):
    """Change a useful link (it keeps its place in the list)."""
    with runtime_of().uow() as uow:
        try:
            change = settings_cases.update_useful_link(uow, g.actor, g.school.uai, link_id, label=body["label"],
                                                       url=body["url"])
        except AccountsError as error:
            refuse(error)
    return {"id": link_id, **change.after, "changed": change.changed}


@blueprint.route(f"/links/<{ROW_ID}:link_id>", methods=["DELETE"])
@api_view(RIGHT_SETTINGS)
@blueprint.response(204)
def delete_link(link_id: int):
    """Delete a useful link."""
    with runtime_of().uow() as uow:
        try:
            settings_cases.delete_useful_link(uow, g.actor, g.school.uai, link_id)
        except AccountsError as error:
            refuse(error)
