"""Internal HTTP calls between services (e.g. the portal asking accounts to authenticate).

Never routed by the gateway; each call also carries a shared token, checked in constant time,
so that a misrouted or forged request is refused anyway.
"""
from __future__ import annotations

import hmac
from functools import wraps
from typing import Any

import requests
from flask import current_app, jsonify, request

TOKEN_HEADER = "X-TS-Internal-Token"
# The `code` of the 401 answer to a missing or wrong internal token: a configuration fault of the
# calling service (TS_INTERNAL_TOKEN differs), never the end user's.
TOKEN_REFUSED_CODE = "internal_token_refused"


class InternalServiceError(RuntimeError):
    """The called service could not be reached or answered with a server error."""


def internal_only(view):
    """Refuse a request without the internal token (401)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        expected = current_app.extensions["ts.settings"].internal_token
        given = request.headers.get(TOKEN_HEADER, "")
        if not given or not hmac.compare_digest(given.encode(), expected.encode()):
            return jsonify({"error": "internal token required", "code": TOKEN_REFUSED_CODE, "status": 401}), 401
        return view(*args, **kwargs)

    return wrapper


class InternalClient:
    def __init__(self, base_url: str, token: str, *, timeout: float = 5.0):
        self.base_url = base_url.rstrip("/")
        self._session = requests.Session()
        self._session.headers[TOKEN_HEADER] = token
        self.timeout = timeout

    def post(self, path: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """POST JSON; return (status, body) for any answer below 500, raise otherwise."""
        try:
            response = self._session.post(f"{self.base_url}{path}", json=payload, timeout=self.timeout)
        except requests.RequestException as error:
            raise InternalServiceError(f"{path}: {type(error).__name__}") from error
        if response.status_code >= 500:
            raise InternalServiceError(f"{path}: HTTP {response.status_code}")
        try:
            return response.status_code, response.json()
        except ValueError:
            raise InternalServiceError(f"{path}: answer is not JSON") from None
