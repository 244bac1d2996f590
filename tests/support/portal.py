"""Driving the families' portal like a browser in tests: open a page, fill its form (hidden fields and
CSRF token kept), post it; read a page's text as a reader sees it."""
from __future__ import annotations

import html
import re
from html.parser import HTMLParser

from werkzeug.test import Client


class _Forms(HTMLParser):
    """The hidden fields of each form of a page, by the form's action."""

    def __init__(self):
        super().__init__()
        self.forms: dict[str, dict[str, str]] = {}
        self._current: dict[str, str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self._current = self.forms.setdefault(attrs.get("action", ""), {})
        elif tag == "input" and self._current is not None and attrs.get("type") == "hidden":
            self._current[attrs["name"]] = attrs.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self._current = None


def hidden_fields(html: str, action: str) -> dict[str, str]:
    parser = _Forms()
    parser.feed(html)
    assert action in parser.forms, f"no form posting to {action} in the page"
    return parser.forms[action]


def submit(browser: Client, page: str, fields: dict, *, action: str | None = None):
    """Open `page`, fill its form (hidden fields and CSRF token kept) and post it."""
    shown = browser.get(page)
    assert shown.status_code == 200, shown.text
    action = action or page.split("?")[0]
    return browser.post(action, data={**hidden_fields(shown.text, action), **fields})


def sign_in(browser: Client, login: str, password: str):
    return submit(browser, "/", {"login": login, "password": password})


def text(response) -> str:
    """The page's text, tags removed and spaces folded (what a reader sees)."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))))


def first_login(browser: Client, temporary_password: str, *, birth="12/03/2013", email="helene@example.org",
                new_password="Lilas2026"):
    return submit(browser, "/premiere-connexion", {
        "temporary_password": temporary_password, "new_password": new_password, "new_password_again": new_password,
        "birth_date": birth, "email": email, "email_again": email})
