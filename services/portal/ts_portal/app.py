"""The portal service's application factory."""
from __future__ import annotations

from flask import Flask

from ts_shared.config import Settings
from ts_shared.service import ServiceRuntime
from ts_shared.web.app import create_service_app

FAMILY_COOKIE = "ts_portal"
FAMILY_SESSION_MINUTES = 60


def create_app(settings: Settings | None = None, runtime: ServiceRuntime | None = None) -> Flask:
    from ts_portal.spec import SERVICE
    from ts_portal.web.pages import pages

    runtime = runtime or ServiceRuntime(SERVICE, settings or Settings.from_env())
    app = create_service_app(
        __name__, runtime, url_prefix="", product_name="Scolarité services",
        tagline="Les services en ligne de votre établissement", session_cookie=FAMILY_COOKIE,
        session_purpose="family-session", session_minutes=FAMILY_SESSION_MINUTES,
    )
    app.register_blueprint(pages)
    return app
