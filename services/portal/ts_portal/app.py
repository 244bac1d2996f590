"""The portal service's application factory."""
from __future__ import annotations

import logging

from flask import Flask, render_template, session

from ts_portal.adapters.identity_client import IdentityClient
from ts_portal.web import home_pages, info_pages, simulation  # noqa: F401 (their views join `pages`)
from ts_portal.web.family_session import IDENTITY_EXTENSION, is_simulation
from ts_portal.web.formatting import french_date, french_datetime
from ts_portal.web.pages import pages
from ts_shared.service import ServiceRuntime
from ts_shared.web.app import create_service_app
from ts_shared.web.internal_api import InternalClient, InternalServiceError

FAMILY_COOKIE = "ts_portal"
FAMILY_SESSION_MINUTES = 60
UNAVAILABLE = ("Le service est momentanément indisponible. Réessayez dans quelques instants ; si le problème "
               "persiste, contactez votre établissement.")

log = logging.getLogger(__name__)


def create_app(runtime: ServiceRuntime) -> Flask:
    """The app of the service, in the process resources (`runtime`) it runs in."""
    settings = runtime.settings
    app = create_service_app(
        __name__, runtime, url_prefix="", product_name="Scolarité services",
        tagline="Les services en ligne de votre établissement", session_cookie=FAMILY_COOKIE,
        session_purpose="family-session", session_minutes=FAMILY_SESSION_MINUTES,
    )
    app.extensions[IDENTITY_EXTENSION] = IdentityClient(
        InternalClient(settings.accounts_internal_url, settings.internal_token))
    app.add_template_filter(french_date, "date_fr")
    app.add_template_filter(french_datetime, "datetime_fr")

    @app.context_processor
    def _family_header():
        # What the header shows: nothing before sign-in, « Quitter » on the first-login and
        # pending screens, the account menu once signed in.
        return {"portal_stage": session.get("stage"), "portal_display_name": session.get("display_name"),
                "portal_simulation": is_simulation()}

    @app.errorhandler(InternalServiceError)
    def _accounts_unreachable(error: InternalServiceError):
        log.warning("accounts identity API unavailable: %s", error)
        return render_template("ts_error.html", status=503, message=UNAVAILABLE), 503

    app.register_blueprint(pages)
    return app
