"""The stats service's application factory."""
from __future__ import annotations

from flask import Flask

from ts_shared.service import ServiceRuntime
from ts_shared.web.app import create_service_app
from ts_shared.web.staff_session import STAFF_COOKIE, STAFF_SESSION_PURPOSE
from ts_stats.web.pages import pages


def create_app(runtime: ServiceRuntime) -> Flask:
    """The app of the service, in the process resources (`runtime`) it runs in."""
    app = create_service_app(
        __name__, runtime, url_prefix="/admin/stats", product_name="Administration Téléservices",
        tagline="Statistiques", session_cookie=STAFF_COOKIE, session_purpose=STAFF_SESSION_PURPOSE,
    )
    app.register_blueprint(pages)
    return app
