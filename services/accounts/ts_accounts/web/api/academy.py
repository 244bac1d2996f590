"""/api/v1/academy: what academy administrators do in the console menu « Académie » — the schools
(identity block, SIECLE modules, email addresses, heads), each academy's catalogue (services
offered to its schools, ENT addresses, TIPI reference list) and the pending continuities of
access (B8). Academy administrators only (no
school right is needed); an administrator acts on the academy they manage (every academy for a
national administrator). Each view calls one use case of `service_layer.academy` (or
`continuity`), which validates, records the audit entry, announces the portal's settings of the
schools concerned and commits; a refusal names its fields (`fields`)."""
from __future__ import annotations

from flask import g
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validates_schema

from ts_accounts.service_layer import academy as cases
from ts_accounts.service_layer import continuity
from ts_accounts.service_layer.errors import AccountsError
from ts_accounts.service_layer.schools import SIECLE_MODULES
from ts_accounts.service_layer.staff import appoint_head
from ts_accounts.web.api.common import api_view, refuse
from ts_accounts.web.api.bodies import ROW_ID, Body, flag, text, texts
from ts_shared.db import utcnow
from ts_shared.web.app import runtime_of

blueprint = Blueprint("api_academy", __name__, url_prefix="/api/v1/academy",
                      description="Administration académique : établissements, catalogue de chaque académie "
                                  "(téléservices, ENT, référentiel TIPI) et continuités d'accès en attente")


# --- schools --------------------------------------------------------------------------------------

class AcademyHeadSchema(Schema):
    login = fields.String()
    display_name = fields.String()


class AcademySchoolLineSchema(Schema):
    uai = fields.String()
    name = fields.String()
    city = fields.String(allow_none=True)
    academy_code = fields.String()
    activated_at = fields.DateTime(allow_none=True, metadata={"description": "When the school activated its online "
                                                                             "services (C1), else null"})
    heads = fields.List(fields.Nested(AcademyHeadSchema))


class AcademySchoolsSchema(Schema):
    code = fields.String()
    name = fields.String(allow_none=True)
    schools = fields.List(fields.Nested(AcademySchoolLineSchema))


class NewSchoolBody(Body):
    uai = text(12, metadata={"description": "7 digits and a letter, e.g. 0541234X"})
    name = text(200)
    academy_code = text(10, metadata={"description": "e.g. NCY (created with the national services if new)"})
    city = text(100, required=False)


class SchoolEmailSchema(Schema):
    id = fields.Integer()
    address = fields.String()
    label = fields.String(allow_none=True)


class SchoolIdentitySchema(Schema):
    uai = fields.String()
    name = fields.String()
    academy_code = fields.String()
    address_lines = fields.List(fields.String())
    postal_code = fields.String(allow_none=True)
    city = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    siecle_modules = fields.List(fields.String())
    activated_at = fields.DateTime(allow_none=True)
    emails = fields.List(fields.Nested(SchoolEmailSchema))
    heads = fields.List(fields.Nested(AcademyHeadSchema))
    changed = fields.List(fields.String(), metadata={
        "description": "In the answer to a change: the French names of what changed (empty: nothing)"})


class IdentityBody(Body):
    """The whole identity block: every field is sent (null or [] to clear one)."""

    name = text(200)
    address_lines = texts(text(cases.ADDRESS_LINE_MAX), metadata={
        "description": f"{cases.MAX_ADDRESS_LINES} lines at most, {cases.ADDRESS_LINE_MAX} characters each"})
    postal_code = text(10, allow_none=True, metadata={"description": "5 digits"})
    city = text(100, allow_none=True)
    phone = text(40, allow_none=True, metadata={"description": "Shown on the portal's contact page"})
    siecle_modules = texts(text(choices=SIECLE_MODULES), metadata={
        "description": "SIECLE modules the school uses: " + ", ".join(SIECLE_MODULES)})


class SchoolEmailBody(Body):
    address = text(254)
    label = text(100, required=False, metadata={"description": "e.g. Secrétariat"})


class RemovedEmailSchema(Schema):
    address = fields.String()
    was_contact_address = fields.Boolean(metadata={
        "description": "It was the portal's contact address: the portal stops offering the contact link"})


class HeadBody(Body):
    login = text(100, metadata={"description": "A staff member's login, or the login to create"})
    display_name = text(200, required=False, metadata={"description": "For a new staff member"})
    email = text(254, required=False, metadata={"description": "For a new staff member (optional)"})
    initial_password = text(200, required=False, load_only=True, metadata={"description": "For a new staff member"})


def _school(detail: cases.SchoolDetail, changed: list[str] | None = None) -> dict:
    school = detail.school
    answer = {name: getattr(school, name) for name in ("uai", "name", "academy_code", "address_lines", "postal_code",
                                                        "city", "phone", "siecle_modules")}
    answer.update(activated_at=school.services_activated_at, emails=detail.emails, heads=detail.heads)
    if changed is not None:
        answer["changed"] = changed
    return answer


@blueprint.route("/schools")
@api_view(academy=True)
@blueprint.response(200, AcademySchoolsSchema(many=True))
def schools():
    """Every school, grouped by academy (every academy listed, even without schools)."""
    with runtime_of().uow() as uow:
        return cases.schools_by_academy(uow, g.actor)


@blueprint.route("/schools", methods=["POST"])
@api_view(academy=True)
@blueprint.arguments(NewSchoolBody)
@blueprint.response(201, SchoolIdentitySchema)
def add_school(body):
    """Add a school (then complete its identity and name its head)."""
    with runtime_of().uow() as uow:
        try:
            school = cases.create_school(uow, g.actor, **body)
        except AccountsError as error:
            refuse(error)
    return _school(cases.SchoolDetail(school, (), ()))


@blueprint.route("/schools/<uai>")
@api_view(academy=True)
@blueprint.response(200, SchoolIdentitySchema)
def school(uai: str):
    """A school's identity block, SIECLE modules, email addresses and heads."""
    with runtime_of().uow() as uow:
        try:
            return _school(cases.school_detail(uow, g.actor, uai))
        except AccountsError as error:
            refuse(error)


@blueprint.route("/schools/<uai>", methods=["PUT"])
@api_view(academy=True)
@blueprint.arguments(IdentityBody)
@blueprint.response(200, SchoolIdentitySchema)
def update_school(body, uai: str):
    """Save a school's identity block and the SIECLE modules it uses.

    The identity block is printed on letters and shown on the portal's contact page; some
    services need a SIECLE module. Announced to the portal when anything changed."""
    with runtime_of().uow() as uow:
        try:
            changed = cases.update_identity(uow, g.actor, uai, **body)
        except AccountsError as error:
            refuse(error)
    with runtime_of().uow() as uow:
        return _school(cases.school_detail(uow, g.actor, uai), changed)


@blueprint.route("/schools/<uai>/emails", methods=["POST"])
@api_view(academy=True)
@blueprint.arguments(SchoolEmailBody)
@blueprint.response(201, SchoolEmailSchema)
def add_school_email(body, uai: str):
    """Add an email address of the school (offered as the portal's contact address, D4)."""
    with runtime_of().uow() as uow:
        try:
            email = cases.add_school_email(uow, g.actor, uai, address=body["address"], label=body["label"])
        except AccountsError as error:
            refuse(error)
    return email


@blueprint.route(f"/schools/<uai>/emails/<{ROW_ID}:email_id>", methods=["DELETE"])
@api_view(academy=True)
@blueprint.response(200, RemovedEmailSchema)
def remove_school_email(uai: str, email_id: int):
    """Remove an email address of the school.

    If it was the contact address, the portal stops offering the contact link."""
    with runtime_of().uow() as uow:
        try:
            email, was_contact = cases.remove_school_email(uow, g.actor, uai, email_id)
        except AccountsError as error:
            refuse(error)
    return {"address": email.address, "was_contact_address": was_contact}


@blueprint.route("/schools/<uai>/head", methods=["POST"])
@api_view(academy=True)
@blueprint.arguments(HeadBody)
@blueprint.response(200, AcademyHeadSchema)
def appoint_school_head(body, uai: str):
    """Name the head of school.

    A staff member who has an account, or a new one (then `display_name` and `initial_password`
    are needed)."""
    with runtime_of().uow() as uow:
        try:
            staff = appoint_head(uow, g.actor, uai=uai, **body)
        except AccountsError as error:
            refuse(error)
    return staff


# --- the academies' catalogues --------------------------------------------------------------------

class CatalogueArgs(Schema):
    academy = text(10, metadata={"description": "The academy's code, e.g. NCY"})


class CatalogueServiceSchema(Schema):
    code = fields.String()
    label = fields.String()
    scope = fields.String(metadata={"description": "national or academic"})
    enabled = fields.Boolean(metadata={"description": "Offered to the academy's schools"})
    mandatory = fields.Boolean(metadata={"description": "Open in every school of the academy"})
    nationally_mandatory = fields.Function(
        lambda service: service.scope == "national" and service.code in cases.NATIONALLY_MANDATORY,
        metadata={"description": "Mandatory nationally: always offered and mandatory"})
    required_module = fields.String(allow_none=True, metadata={"description": "The SIECLE module it needs"})
    url = fields.String(allow_none=True)
    position = fields.Integer()


class AcademyEntLinkSchema(Schema):
    id = fields.Integer()
    label = fields.String()
    url = fields.String()


class TipiClientSchema(Schema):
    number = fields.String()
    holder = fields.String()


class AcademySchema(Schema):
    code = fields.String()
    name = fields.String(allow_none=True)
    login_format = fields.String()


class CatalogueSchema(Schema):
    academy = fields.Nested(AcademySchema)
    national = fields.List(fields.Nested(CatalogueServiceSchema))
    academic = fields.List(fields.Nested(CatalogueServiceSchema))
    ent_links = fields.List(fields.Nested(AcademyEntLinkSchema))
    tipi_clients = fields.List(fields.Nested(TipiClientSchema))
    schools = fields.Integer(metadata={"description": "How many schools the academy has"})


class ServiceFlagsBody(Body):
    enabled = flag(required=False, metadata={"description": "Offer the service to the academy's schools or not"})
    mandatory = flag(required=False, metadata={"description": "Make it mandatory in the academy's schools or not"})

    @validates_schema
    def _one_at_least(self, data, **kwargs):
        if not data:
            raise ValidationError("Indiquez « enabled », « mandatory » ou les deux.")


class AcademicServiceBody(Body):
    label = text(200)
    url = text(500, metadata={"description": "e.g. https://services.ac-nancy-metz.fr/"})


class AcademyEntLinkBody(Body):
    label = text(200)
    url = text(500)


class TipiClientBody(Body):
    number = text(40)
    holder = text(200, metadata={"description": "e.g. Agence comptable du lycée Henri Poincaré"})


@blueprint.route("/services")
@api_view(academy=True)
@blueprint.arguments(CatalogueArgs, location="query")
@blueprint.response(200, CatalogueSchema)
def catalogue(args):
    """An academy's catalogue.

    The services offered to its schools, its ENT addresses, its TIPI reference list."""
    with runtime_of().uow() as uow:
        try:
            return cases.catalogue(uow, g.actor, args["academy"])
        except AccountsError as error:
            refuse(error)


@blueprint.route("/services/<academy_code>/<code>/flags", methods=["PUT"])
@api_view(academy=True)
@blueprint.arguments(ServiceFlagsBody)
@blueprint.response(200, CatalogueServiceSchema)
def service_flags(body, academy_code: str, code: str):
    """Offer a service to the academy's schools or not, make it mandatory there or not.

    Services mandatory nationally stay offered and mandatory."""
    with runtime_of().uow() as uow:
        try:
            service = cases.set_service_flags(uow, g.actor, academy_code, code, **body)
        except AccountsError as error:
            refuse(error)
    return service


@blueprint.route("/services/<academy_code>/academic", methods=["POST"])
@api_view(academy=True)
@blueprint.arguments(AcademicServiceBody)
@blueprint.response(201, CatalogueServiceSchema)
def add_academic_service(body, academy_code: str):
    """Add an academy's own service (closed in every school until opened)."""
    with runtime_of().uow() as uow:
        try:
            service = cases.add_academic_service(uow, g.actor, academy_code, **body)
        except AccountsError as error:
            refuse(error)
    return service


@blueprint.route("/services/<academy_code>/academic/<code>", methods=["PUT"])
@api_view(academy=True)
@blueprint.arguments(AcademicServiceBody)
@blueprint.response(200, CatalogueServiceSchema)
def update_academic_service(body, academy_code: str, code: str):
    """Change an academy's own service (the schools where it is open are announced)."""
    with runtime_of().uow() as uow:
        try:
            service = cases.update_academic_service(uow, g.actor, academy_code, code, **body)
        except AccountsError as error:
            refuse(error)
    return service


@blueprint.route("/services/<academy_code>/academic/<code>", methods=["DELETE"])
@api_view(academy=True)
@blueprint.response(204)
def delete_academic_service(academy_code: str, code: str):
    """Delete an academy's own service: the schools that opened it lose it."""
    with runtime_of().uow() as uow:
        try:
            cases.delete_academic_service(uow, g.actor, academy_code, code)
        except AccountsError as error:
            refuse(error)


@blueprint.route("/services/<academy_code>/ent-links", methods=["POST"])
@api_view(academy=True)
@blueprint.arguments(AcademyEntLinkBody)
@blueprint.response(201, AcademyEntLinkSchema)
def add_ent_link(body, academy_code: str):
    """Add an ENT address the academy's schools can choose (D2)."""
    with runtime_of().uow() as uow:
        try:
            link = cases.add_ent_link(uow, g.actor, academy_code, **body)
        except AccountsError as error:
            refuse(error)
    return link


@blueprint.route(f"/services/<academy_code>/ent-links/<{ROW_ID}:ent_link_id>", methods=["DELETE"])
@api_view(academy=True)
@blueprint.response(204)
def remove_ent_link(academy_code: str, ent_link_id: int):
    """Remove an ENT address from the academy's list (schools that chose it keep it)."""
    with runtime_of().uow() as uow:
        try:
            cases.remove_ent_link(uow, g.actor, academy_code, ent_link_id)
        except AccountsError as error:
            refuse(error)


@blueprint.route("/services/<academy_code>/tipi-clients", methods=["POST"])
@api_view(academy=True)
@blueprint.arguments(TipiClientBody)
@blueprint.response(201, TipiClientSchema)
def add_tipi_client(body, academy_code: str):
    """Add a TIPI client number, and who holds it, to the academy's reference list (C4)."""
    with runtime_of().uow() as uow:
        try:
            client = cases.add_tipi_client(uow, g.actor, academy_code, **body)
        except AccountsError as error:
            refuse(error)
    return client


@blueprint.route("/services/<academy_code>/tipi-clients/<number>", methods=["DELETE"])
@api_view(academy=True)
@blueprint.response(204)
def remove_tipi_client(academy_code: str, number: str):
    """Remove a TIPI client number from the academy's reference list.

    Refused while a school uses it for the online payment of invoices."""
    with runtime_of().uow() as uow:
        try:
            cases.remove_tipi_client(uow, g.actor, academy_code, number)
        except AccountsError as error:
            refuse(error)


# --- continuity of access (B8) --------------------------------------------------------------------

class PendingContinuitySchema(Schema):
    id = fields.Integer()
    academy_code = fields.String()
    national_id = fields.String(metadata={"description": "The INE both schools hold"})
    student_name = fields.String(metadata={"description": "As the arriving school imported it"})
    division = fields.String(allow_none=True)
    school_uai = fields.String(metadata={"description": "The arriving school"})
    school_name = fields.String()
    previous_student_name = fields.String(metadata={"description": "As the previous school holds it"})
    previous_division = fields.String(allow_none=True)
    previous_school_uai = fields.String(metadata={"description": "The school that still has the student enrolled"})
    previous_school_name = fields.String()
    requested_at = fields.DateTime()
    conflict = fields.Boolean(metadata={
        "description": f"Enrolled in both schools for {continuity.CONFLICT_AFTER.days} days or more"})


class ResolvedContinuitySchema(Schema):
    id = fields.Integer()
    status = fields.String(metadata={"description": "completed (confirmed) or refused"})
    resolution = fields.String()
    resolved_at = fields.DateTime()


@blueprint.route("/continuity")
@api_view(academy=True)
@blueprint.response(200, PendingContinuitySchema(many=True))
def pending_continuities():
    """Pending continuities of access of the administrator's academy, conflicts first.

    A student arriving from another school of the academy keeps the family's accounts only once
    that school has recorded the departure; until then the arriving school has no account for
    them. The administrator confirms the move or refuses continuity."""
    with runtime_of().uow() as uow:
        return continuity.pending_report(uow, g.actor, now=utcnow())


def _resolve(resolve, continuity_id: int):
    with runtime_of().uow() as uow:
        try:
            claim = resolve(uow, g.actor, continuity_id, now=utcnow())
        except AccountsError as error:
            refuse(error)
    return claim


@blueprint.route(f"/continuity/<{ROW_ID}:continuity_id>/confirm", methods=["POST"])
@api_view(academy=True)
@blueprint.response(200, ResolvedContinuitySchema)
def confirm_continuity(continuity_id: int):
    """Confirm the move: the accounts are handed over to the arriving school now (family emailed,
    both schools' audit logs)."""
    return _resolve(continuity.confirm_move, continuity_id)


@blueprint.route(f"/continuity/<{ROW_ID}:continuity_id>/refuse", methods=["POST"])
@api_view(academy=True)
@blueprint.response(200, ResolvedContinuitySchema)
def refuse_continuity(continuity_id: int):
    """Refuse continuity: the arriving school gets new accounts (Non notifié); the previous school's
    accounts stay where they are."""
    return _resolve(continuity.refuse_continuity, continuity_id)


class ResetAuthorisationBody(Body):
    login = text(100, metadata={"description": "The login of a used account kept from another school"})


class ResetAuthorisationSchema(Schema):
    login = fields.String()
    school_uai = fields.String(metadata={"description": "The school that may now reset it"})


@blueprint.route("/continuity/reset-authorisations", methods=["POST"])
@api_view(academy=True)
@blueprint.arguments(ResetAuthorisationBody)
@blueprint.response(200, ResetAuthorisationSchema)
def authorise_reset(body):
    """Let the school a used account was continued into reset it before the family signs in.

    For a family that lost its password and has no confirmed address to recover it, once the
    administrator has checked; recorded in the account's history and the school's audit log."""
    with runtime_of().uow() as uow:
        try:
            account, school = continuity.authorise_reset(uow, g.actor, body["login"], now=utcnow())
        except AccountsError as error:
            refuse(error)
    return {"login": account.login, "school_uai": school.uai}
