"""/api/v1: who am I, the CSRF token, and the rendered OpenAPI document."""
from __future__ import annotations

from flask import Blueprint as FlaskBlueprint, current_app, g, json, render_template
from flask_smorest import Blueprint
from flask_wtf.csrf import generate_csrf
from marshmallow import Schema, fields

from ts_accounts.service_layer.staff import RIGHT_LABELS
from ts_accounts.web.api.common import api_view

blueprint = Blueprint("api_meta", __name__, url_prefix="/api/v1", description="Session du personnel")
docs = FlaskBlueprint("api_docs", __name__, url_prefix="/api/v1", template_folder="templates")


class MeSchema(Schema):
    login = fields.String()
    display_name = fields.String()
    school_uai = fields.String(allow_none=True)
    school_name = fields.String(allow_none=True)
    rights = fields.List(fields.String(), metadata={"description": "Rights on the school: " + ", ".join(RIGHT_LABELS)})
    academy_admin = fields.Boolean()


class CsrfSchema(Schema):
    csrf_token = fields.String(metadata={"description": "Send it in the X-CSRFToken header of every change"})


@blueprint.route("/me")
@api_view(school_optional=True)
@blueprint.response(200, MeSchema)
def me():
    """The signed-in staff member, the school worked on and the rights held there."""
    staff = g.staff
    return {"login": staff.login, "display_name": staff.display_name, "school_uai": staff.school_uai,
            "school_name": staff.school_name, "rights": sorted(staff.rights), "academy_admin": staff.academy_admin}


@blueprint.route("/csrf-token")
@api_view(school_optional=True, needs_activation=False)
@blueprint.response(200, CsrfSchema)
def csrf_token():
    """The CSRF token of the session, for the X-CSRFToken header of POST, PUT and DELETE calls."""
    return {"csrf_token": generate_csrf()}


@docs.get("/openapi.json")
@api_view(school_optional=True, needs_activation=False)
def openapi_json():
    """The OpenAPI document, to staff only like its rendering: it maps every operation of the API.
    (Served here rather than by flask-smorest, whose route would be open to anyone.)"""
    spec = current_app.extensions["ts.api"].spec.to_dict()
    return current_app.response_class(json.dumps(spec, indent=2, sort_keys=False), mimetype="application/json")


@docs.get("/docs")
@api_view(school_optional=True, needs_activation=False)
def documentation():
    """The OpenAPI document, rendered for people (no external script: the same CSP as the console)."""
    spec = current_app.extensions["ts.api"].spec.to_dict()
    return render_template("api/docs.html", spec=spec)
