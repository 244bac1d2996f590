"""The routes of the gateway, and the in-process gateway of the embedded run.

Production routes with nginx (deploy/gateway/nginx.conf); a test checks that nginx's locations
are exactly these, so both gateways send every URL to the same service. Paths are passed on
unchanged: each service's routes carry their full prefix.

Before a request reaches the notifier or stats, the gateway asks accounts whose staff session the
cookie holds and forwards the sealed answer (nginx: `auth_request`); a client's own copy of that
header never goes through.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from werkzeug.test import EnvironBuilder, run_wsgi_app
from werkzeug.wrappers import Response

from ts_shared.web.staff_session import STAFF_IDENTITY_HEADER, STAFF_SESSION_CHECK_PATH

# Longest prefix first; "/" takes the rest.
ROUTES: tuple[tuple[str, str], ...] = (
    ("/admin/stats", "stats"),
    ("/admin/letters", "notifier"),
    ("/admin/notifications", "notifier"),
    ("/admin", "accounts"),
    ("/api", "accounts"),
    ("/", "portal"),
)
# Staff pages served by another service than accounts: accounts checks their session first.
STAFF_CHECKED_SERVICES: tuple[str, ...] = ("stats", "notifier")
# Never reachable through the gateway: the internal identity API and the per-service metrics.
BLOCKED_PREFIXES: tuple[str, ...] = ("/internal", "/metrics")


def _matches(path: str, prefix: str) -> bool:
    return prefix == "/" or path == prefix or path.startswith(prefix + "/")


def route_for(path: str, extra_prefixes: Iterable[str] = ()) -> str | None:
    """The service (or extra mount) that serves `path`, or None when the gateway refuses it."""
    if any(_matches(path, prefix) for prefix in BLOCKED_PREFIXES):
        return None
    for prefix in sorted(extra_prefixes, key=len, reverse=True):
        if _matches(path, prefix):
            return prefix
    for prefix, service in ROUTES:
        if _matches(path, prefix):
            return service
    return None


class Gateway:
    """A WSGI app dispatching to the services' WSGI apps by path, as nginx does."""

    def __init__(self, services: Mapping[str, Callable], extra: Mapping[str, Callable] | None = None):
        missing = {service for _, service in ROUTES} - set(services)
        if missing:
            raise ValueError(f"gateway has no app for: {', '.join(sorted(missing))}")
        self.services = dict(services)
        self.extra = dict(extra or {})

    def __call__(self, environ, start_response):
        target = route_for(environ.get("PATH_INFO", "/") or "/", self.extra)
        if target is None:
            return Response("Not Found", status=404, mimetype="text/plain")(environ, start_response)
        environ.pop(_IDENTITY_ENVIRON_KEY, None)  # only the gateway says who a staff member is
        if target in STAFF_CHECKED_SERVICES:
            identity = self._staff_identity(environ)
            if identity:
                environ[_IDENTITY_ENVIRON_KEY] = identity
        app = self.extra.get(target) or self.services[target]
        return app(environ, start_response)

    def _staff_identity(self, environ) -> str | None:
        """nginx's auth_request: the accounts service's sealed answer for this request's cookie."""
        builder = EnvironBuilder(path=STAFF_SESSION_CHECK_PATH, method="GET",
                                 headers=[("Cookie", environ.get("HTTP_COOKIE", ""))],
                                 environ_base={"REMOTE_ADDR": environ.get("REMOTE_ADDR", "")})
        try:
            _, status, headers = run_wsgi_app(self.services["accounts"], builder.get_environ(), buffered=True)
        finally:
            builder.close()
        return headers.get(STAFF_IDENTITY_HEADER) if status.startswith("200") else None


_IDENTITY_ENVIRON_KEY = "HTTP_" + STAFF_IDENTITY_HEADER.upper().replace("-", "_")
