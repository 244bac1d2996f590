"""The accounts service's application factory."""
from __future__ import annotations

from flask import Flask

from ts_accounts.domain.lifecycle import STATE_LABELS
from ts_accounts.service_layer.errors import AccountsError
from ts_accounts.web.api import register_api
from ts_accounts.web.api.common import http_status
from ts_accounts.web.api.meta import docs as api_docs
from ts_accounts.web.console import console_blueprints
from ts_accounts.web.identity_api import identity_api
from ts_accounts.web.staff_identity import resolve_staff, staff_session_check
from ts_shared.service import ServiceRuntime
from ts_shared.web.app import create_service_app, error_response, register_error_handlers
from ts_shared.web.staff_session import STAFF_COOKIE, STAFF_RESOLVER, STAFF_SESSION_PURPOSE


def create_app(runtime: ServiceRuntime) -> Flask:
    """The app of the service, in the process resources (`runtime`) it runs in."""
    # Temporary passwords are derived from this key (docs/credentials.md): no start without it.
    runtime.settings.require("credential_key")
    app = create_service_app(
        __name__, runtime, url_prefix="/admin", product_name="Administration Téléservices",
        tagline="Gestion des comptes des services en ligne", session_cookie=STAFF_COOKIE,
        session_purpose=STAFF_SESSION_PURPOSE,
    )
    app.extensions[STAFF_RESOLVER] = resolve_staff  # the truth the other services ask for
    app.register_blueprint(staff_session_check)
    for blueprint in console_blueprints():
        app.register_blueprint(blueprint)
    app.extensions["ts.api"] = register_api(app)
    register_error_handlers(app)  # flask-smorest replaced them with its own
    # A use case's refusal that no view caught (e.g. a step the account's state no longer allows,
    # because an event changed it meanwhile) is its French message and status, never a 500.
    app.register_error_handler(AccountsError, lambda error: error_response(http_status(error), str(error),
                                                                            fields=error.errors or None))
    app.register_blueprint(api_docs)
    app.register_blueprint(identity_api)
    app.context_processor(lambda: {"state_labels": [(state.value, label) for state, label in STATE_LABELS.items()]})
    app.extensions["csrf"].exempt(identity_api)  # JSON between services, token-protected, no cookies
    return app
