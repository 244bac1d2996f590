"""The stats service's application factory."""
from __future__ import annotations

from flask import Flask

from ts_shared.config import Settings
from ts_shared.service import ServiceRuntime
from ts_shared.web.app import create_service_app
from ts_shared.web.staff_session import STAFF_COOKIE, STAFF_SESSION_PURPOSE


def create_app(settings: Settings | None = None, runtime: ServiceRuntime | None = None) -> Flask:
    from ts_stats.spec import SERVICE
    from ts_stats.web.pages import pages

    runtime = runtime or ServiceRuntime(SERVICE, settings or Settings.from_env())
    app = create_service_app(
        __name__, runtime, url_prefix="/admin/stats", product_name="Administration Téléservices",
        tagline="Statistiques", session_cookie=STAFF_COOKIE, session_purpose=STAFF_SESSION_PURPOSE,
    )
    app.register_blueprint(pages)
    return app
