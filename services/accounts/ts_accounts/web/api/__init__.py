"""The staff JSON API (/api/v1), described by an OpenAPI document (flask-smorest) served to
signed-in staff at /api/v1/openapi.json and rendered at /api/v1/docs. It offers the console's operations with the
same authorisation: the staff session (cookie) and, for every change, its CSRF token in the
`X-CSRFToken` header (GET /api/v1/csrf-token)."""
from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from ts_accounts.web.api import academy, accounts, establishment, meta, services, settings
from ts_accounts.web.api.common import ErrorSchema


class StaffApi(Api):
    ERROR_SCHEMA = ErrorSchema  # the OpenAPI document describes the errors the API really sends


def register_api(app: Flask) -> Api:
    app.config.update(
        API_TITLE="Téléservices — API du personnel",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        # No OPENAPI_URL_PREFIX: flask-smorest would serve the document to anyone; meta.openapi_json
        # serves it behind the staff session.
        API_SPEC_OPTIONS={
            "info": {"description": __doc__},
            "components": {"securitySchemes": {
                "staffSession": {"type": "apiKey", "in": "cookie", "name": "ts_staff"},
                "csrfToken": {"type": "apiKey", "in": "header", "name": "X-CSRFToken"},
            }},
            "security": [{"staffSession": []}],
        },
    )
    api = StaffApi(app)
    for blueprint in (meta.blueprint, accounts.blueprint, establishment.blueprint, services.blueprint,
                      settings.blueprint, academy.blueprint):
        api.register_blueprint(blueprint)
    return api
