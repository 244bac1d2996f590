"""Signing in to the staff console through HTTP, as a browser does (the login form and its CSRF token)."""
from __future__ import annotations

import re

from werkzeug.test import Client

_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf(page: str) -> str:
    """The CSRF token of the first form of an HTML page."""
    return _TOKEN.search(page).group(1)


def sign_in(app, login: str, password: str) -> Client:
    """A client of `app` (the accounts app, or a gateway in front of it) signed in to the console."""
    client = Client(app)
    page = client.get("/admin/login")
    response = client.post("/admin/login", data={"csrf_token": csrf(page.text), "login": login, "password": password})
    assert response.status_code == 302, response.text
    return client
