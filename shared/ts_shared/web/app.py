"""What every service's Flask application has in common: configuration, CSRF, security headers,
request metrics, `/healthz`, `/readyz` and `/metrics`, and error pages in French."""
from __future__ import annotations

import hashlib
import hmac
import logging
import time
from datetime import timedelta
from pathlib import Path

from flask import (
    Blueprint, Flask, Response, abort, current_app, g, jsonify, render_template, request, session, url_for,
)
from flask_wtf.csrf import CSRFError, CSRFProtect
from jinja2 import ChoiceLoader, FileSystemLoader
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from ts_shared.calendar import current_school_year, french_date, french_datetime, school_year_label
from ts_shared.config import Settings
from ts_shared.db import ping
from ts_shared.messaging.bus import check_broker
from ts_shared.metrics import HTTP_LATENCY, HTTP_REQUESTS, OUTBOX_PENDING, render_latest
from ts_shared.service import ServiceRuntime
from ts_shared.web.console_menu import breadcrumb_trail, current_section, menu_for
from ts_shared.web.server_session import ServerSessionInterface
from ts_shared.web.staff_session import STAFF_RESOLVER, STAFF_SESSION_PURPOSE, current_staff, identity_from_gateway

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
SERVICE_HEADER = "X-TS-Service"


def derive_key(secret: str, purpose: str) -> str:
    """A distinct key per purpose, so a cookie signed for one use is worthless for another."""
    return hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).hexdigest()


def wants_json() -> bool:
    return request.path.startswith(("/api/", "/internal/")) or request.accept_mimetypes.best == "application/json"


def create_service_app(import_name: str, runtime: ServiceRuntime, *, url_prefix: str, product_name: str,
                       tagline: str, session_cookie: str, session_purpose: str,
                       session_minutes: int | None = None) -> Flask:
    """A service's Flask app. `url_prefix` is where the gateway sends it ("" for the portal):
    its own static files are served under `<prefix>/static`, the shared ones (DSFR) under
    `<prefix>/assets`, so every service works alone or behind the gateway."""
    settings: Settings = runtime.settings
    service = runtime.spec.name
    app = Flask(import_name, static_url_path=f"{url_prefix}/static")
    # The service's own templates first, then the shared ones (base layout, error page).
    own = [app.jinja_loader] if app.jinja_loader is not None else []
    app.jinja_loader = ChoiceLoader([*own, FileSystemLoader(str(TEMPLATES))])
    app.config.update(
        SECRET_KEY=derive_key(settings.secret_key, session_purpose),
        SESSION_COOKIE_NAME=session_cookie,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=not settings.embedded,
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=session_minutes or settings.staff_session_minutes),
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        MAX_CONTENT_LENGTH=64 * 1024 * 1024,  # SIECLE exports of a large school, zipped or not
        JSON_SORT_KEYS=False,
    )
    app.extensions["ts.runtime"] = runtime
    app.extensions["ts.settings"] = settings
    if not settings.embedded:
        # Behind the nginx gateway: trust its X-Forwarded-For/Proto (one hop).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    # Sessions live in the service's database; the cookie holds an opaque id only.
    app.session_interface = ServerSessionInterface(runtime.engine, runtime.spec.web_sessions,
                                                   lifetime=app.config["PERMANENT_SESSION_LIFETIME"])
    if session_purpose == STAFF_SESSION_PURPOSE:
        # Who the staff member is comes from accounts through the gateway (accounts itself
        # replaces this resolver with its database).
        app.extensions[STAFF_RESOLVER] = identity_from_gateway
    CSRFProtect(app)
    app.register_blueprint(_health_blueprint(runtime))
    app.register_blueprint(Blueprint("ts_assets", __name__, static_folder=str(STATIC),
                                     static_url_path=f"{url_prefix}/assets"))

    app.add_template_filter(french_date, "french_date")
    app.add_template_filter(french_datetime, "french_datetime")

    @app.context_processor
    def _layout_context():
        context = {
            "ts_product_name": product_name,
            "ts_tagline": tagline,
            "ts_home_url": f"{url_prefix}/",
            "asset_url": lambda path: url_for("ts_assets.static", filename=path),
        }
        if session_purpose == STAFF_SESSION_PURPOSE:  # the console chrome: who, which school, which year
            staff = current_staff()
            menu = menu_for(staff)
            context.update(staff=staff, school_year=school_year_label(
                staff.school_year if staff and staff.school_year else current_school_year()), ts_home_url="/admin/",
                           console_menu=menu, console_section=current_section(menu, request.path),
                           breadcrumb_trail=lambda breadcrumb, menu=menu: breadcrumb_trail(menu, breadcrumb))
        return context
    OUTBOX_PENDING.add(service, runtime.engine, runtime.spec.tables.outbox)

    @app.before_request
    def _start_timer():
        g.request_started = time.perf_counter()
        if getattr(session, "unavailable", False):  # the session store (the database) is away
            abort(503)

    @app.after_request
    def _finish(response: Response) -> Response:
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        HTTP_REQUESTS.labels(service, request.method, endpoint, str(response.status_code)).inc()
        if "request_started" in g:
            HTTP_LATENCY.labels(service, endpoint).observe(time.perf_counter() - g.request_started)
        response.headers[SERVICE_HEADER] = service
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'; form-action 'self'; base-uri 'self'",
        )
        return response

    register_error_handlers(app)
    return app


_FRENCH_MESSAGES = {
    400: "La demande n'est pas valide.",
    401: "Vous devez vous connecter.",
    403: "Vous n'avez pas les droits nécessaires pour cette page.",
    404: "Cette page n'existe pas.",
    405: "Cette action n'est pas autorisée ici.",
    413: "Le fichier envoyé est trop volumineux.",
    422: "Certaines valeurs envoyées ne sont pas valides.",
    429: "Trop de tentatives. Patientez quelques minutes avant de réessayer.",
    500: "Une erreur inattendue s'est produite. Réessayez ; si elle persiste, contactez l'assistance.",
    503: "Le service est momentanément indisponible. Réessayez dans quelques instants.",
}


def register_error_handlers(app: Flask) -> None:
    """French error pages (JSON on /api and /internal). Call again after an extension that
    registers its own handlers (flask-smorest does), so these stay in force."""

    def csrf_error(error: CSRFError):
        if wants_json():
            return error_response(400, "Jeton CSRF absent ou invalide : envoyez celui de GET /api/v1/csrf-token "
                                       "dans l'en-tête X-CSRFToken.")
        return error_response(400, "Le formulaire a expiré ou n'est pas valide. Rechargez la page et recommencez.")

    def http_error(error: HTTPException):
        # A message given where the error was raised says more than the generic one.
        specific = error.description if error.description != type(error).description else None
        data = getattr(error, "data", None)
        fields = data.get("messages") if isinstance(data, dict) else None
        message = specific or _FRENCH_MESSAGES.get(error.code or 500) or error.description or ""
        return error_response(error.code or 500, message, fields=fields)

    def unexpected(error: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, _FRENCH_MESSAGES[500])

    app.register_error_handler(CSRFError, csrf_error)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, unexpected)


def error_response(status: int, message: str, *, fields: dict | None = None):
    """A French error: JSON on /api and /internal (`{"error", "status"[, "fields"]}`), the error page
    elsewhere."""
    if wants_json():
        body = {"error": message, "status": status}
        if fields:
            body["fields"] = fields
        return jsonify(body), status
    return render_template("ts_error.html", status=status, message=message), status


def _health_blueprint(runtime: ServiceRuntime) -> Blueprint:
    blueprint = Blueprint("ts_health", __name__)
    broker_checked = {"at": 0.0, "error": None}

    @blueprint.get("/healthz")
    def healthz():
        """Liveness: the process answers."""
        return jsonify({"status": "ok", "service": runtime.spec.name})

    @blueprint.get("/readyz")
    def readyz():
        """Readiness: the database and the broker answer (the broker check is cached 5 s)."""
        checks = {}
        try:
            ping(runtime.engine)
            checks["database"] = "ok"
        except Exception as error:
            checks["database"] = f"error: {type(error).__name__}"
        if time.monotonic() - broker_checked["at"] > 5:
            try:
                check_broker(runtime.settings.broker_url)
                broker_checked["error"] = None
            except Exception as error:
                broker_checked["error"] = f"error: {type(error).__name__}"
            broker_checked["at"] = time.monotonic()
        checks["broker"] = broker_checked["error"] or "ok"
        ready = all(value == "ok" for value in checks.values())
        return jsonify({"status": "ready" if ready else "not ready", "service": runtime.spec.name,
                        "checks": checks}), 200 if ready else 503

    @blueprint.get("/metrics")
    def metrics():
        return Response(render_latest(), mimetype="text/plain; version=0.0.4")

    return blueprint


def runtime_of(app: Flask | None = None) -> ServiceRuntime:
    return (app or current_app).extensions["ts.runtime"]


def settings_of(app: Flask | None = None) -> Settings:
    return (app or current_app).extensions["ts.settings"]
