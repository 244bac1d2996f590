"""The routes of the gateway, and the in-process gateway of the embedded run.

Production routes with nginx (deploy/gateway/nginx.conf); a test checks that nginx's locations
are exactly these, so both gateways send every URL to the same service. Paths are passed on
unchanged: each service's routes carry their full prefix.
"""
from __future__ import annotations

from typing import Callable, Iterable, Mapping

from werkzeug.wrappers import Response

# Longest prefix first; "/" takes the rest.
ROUTES: tuple[tuple[str, str], ...] = (
    ("/admin/stats", "stats"),
    ("/admin/letters", "notifier"),
    ("/admin/notifications", "notifier"),
    ("/admin", "accounts"),
    ("/api", "accounts"),
    ("/", "portal"),
)
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
        app = self.extra.get(target) or self.services[target]
        return app(environ, start_response)
