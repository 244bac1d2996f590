"""The notifier service's application factory."""
from __future__ import annotations

from flask import Flask

from ts_notifier.web.batches import blueprint as batches_blueprint
from ts_notifier.web.letters import blueprint as letters_blueprint
from ts_shared.service import ServiceRuntime
from ts_shared.web.app import create_service_app
from ts_shared.web.staff_session import STAFF_COOKIE, STAFF_SESSION_PURPOSE


def create_app(runtime: ServiceRuntime) -> Flask:
    """The app of the service, in the process resources (`runtime`) it runs in."""

    app = create_service_app(
        __name__, runtime, url_prefix="/admin/notifications", product_name="Administration Téléservices",
        tagline="Notifications et courriers", session_cookie=STAFF_COOKIE, session_purpose=STAFF_SESSION_PURPOSE,
    )
    app.register_blueprint(letters_blueprint)
    app.register_blueprint(batches_blueprint)
    return app
