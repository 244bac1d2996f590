"""Walking the staff console as a curious user would: every page a link leads to, every form on
them sent once filled as a secretary would and once more per field with that field wrong. What
came back is kept for the tests to judge (no 5xx anywhere, no codes on the pages)."""
from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from urllib.parse import urlencode, urljoin, urlsplit

import lxml.html

SIGN_IN = "/admin/login"
# Never followed nor sent: they end the walk's session or leave the console.
NOT_FOLLOWED = ("/admin/logout", "/admin/assets/", "/admin/static/", "/admin/settings-static/",
                "/admin/support-static/",
                "/admin/stats/assets/", "/admin/stats/static/", "/admin/letters/static/",
                "/admin/notifications/assets/", "/admin/notifications/static/")
# Sent only with wrong fields: valid input would change the walker's own password.
ONLY_INVALID = ("/admin/compte",)
SAMPLES_PER_SHAPE = 2  # /admin/students/123 and /admin/students/456 are the same page twice
GARBAGE = "n'existe pas \u00e9 <b>x</b> " + "x" * 3000


@dataclass
class Visit:
    method: str
    url: str
    status: int
    text: str
    form_of: str | None = None  # the page the form was on
    variant: str = "page"  # "page", "valid" or the field sent wrong


@dataclass
class Walk:
    visits: list[Visit] = field(default_factory=list)

    def pages(self) -> list[Visit]:
        """The HTML pages shown (a form's answer included)."""
        return [v for v in self.visits if v.status < 300 and v.text]

    def failures(self) -> list[Visit]:
        return [v for v in self.visits if v.status >= 500]


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def sign_in(client, login: str, password: str) -> None:
    page = client.get(SIGN_IN)
    response = client.post(SIGN_IN, data={"csrf_token": csrf(page.text), "login": login, "password": password})
    assert response.status_code == 302, f"{login} could not sign in"


def _shape(url: str) -> str:
    parts = urlsplit(url)
    return re.sub(r"[0-9A-Fa-f-]{8,}|\d+", "N", parts.path) + ("?" + "&".join(
        sorted(key.split("=")[0] for key in parts.query.split("&"))) if parts.query else "")


def _followed(url: str) -> bool:
    return url.startswith("/admin") and not url.startswith(NOT_FOLLOWED)


def _valid_value(element) -> str:
    """What a secretary would type in an empty field."""
    kind = (element.get("type") or "text").lower()
    name = (element.get("name") or "").lower()
    hint = " ".join(filter(None, (name, element.get("placeholder") or "", element.get("inputmode") or ""))).lower()
    if kind == "email" or "mail" in name:
        return "secretariat@college-jean-moulin.fr"
    if kind == "url" or "url" in name or "adresse_web" in name or "lien" in name:
        return "https://www.education.gouv.fr"
    if kind == "password" or "password" in name or "mot_de_passe" in name:
        return "Un mot de passe très long 2026 !"
    if "jj/mm/aaaa" in hint or kind == "date":
        return "15/09/2027" if kind != "date" else "2027-09-15"
    if kind == "number" or "numeric" in hint:
        return "12"
    if kind == "tel" or "phone" in name or "telephone" in name:
        return "03 83 00 00 00"
    if "uai" in name:
        return "0549999Z"
    if "login" in name or "identifiant" in name:
        return "secretariat.walk"
    return "Texte de la secrétaire"


@dataclass
class _Field:
    name: str
    kind: str  # text, textarea, select, checkbox, radio, hidden, file
    value: str | list[str] | None
    options: list[str] = field(default_factory=list)


def _fields(form) -> list[_Field]:
    fields: dict[str, _Field] = {}
    for element in form.iter("input", "select", "textarea"):
        name = element.get("name")
        if not name or element.get("disabled") is not None:
            continue
        tag = element.tag
        kind = tag if tag in ("textarea", "select") else (element.get("type") or "text").lower()
        if kind in ("submit", "button", "image", "reset"):
            continue
        if kind == "select":
            options = [o.get("value", o.text_content()) for o in element.iter("option")]
            chosen = [o.get("value", o.text_content()) for o in element.iter("option") if o.get("selected") is not None]
            filled = [o for o in options if o]
            multiple = element.get("multiple") is not None
            value = chosen if multiple else (chosen[0] if chosen and chosen[0] else (filled[0] if filled else ""))
            fields[name] = _Field(name, "select", value, options)
        elif kind in ("checkbox", "radio"):
            item = fields.setdefault(name, _Field(name, kind, None if kind == "radio" else [], []))
            value = element.get("value", "on")
            item.options.append(value)
            if kind == "radio" and (element.get("checked") is not None or item.value is None):
                item.value = value if element.get("checked") is not None or item.value is None else item.value
            elif kind == "checkbox":
                item.value.append(value)  # a secretary ticks the boxes offered
        elif kind == "file":
            fields[name] = _Field(name, "file", None)
        elif kind == "textarea":
            fields[name] = _Field(name, "textarea", element.text_content() or _valid_value(element))
        else:
            current = element.get("value")
            fields[name] = _Field(name, "hidden" if kind == "hidden" else "text",
                                  current if current else ("" if kind == "hidden" else _valid_value(element)))
    return list(fields.values())


def _data(fields: list[_Field], wrong: str | None, empty: bool) -> dict:
    data: dict = {}
    for item in fields:
        value = item.value
        if item.name == wrong:
            if item.kind == "file":
                value = (io.BytesIO(b"\x00\xff pas un export SIECLE"), "export.xml")
            elif item.kind in ("checkbox",):
                value = [] if not empty else [GARBAGE]
            else:
                value = "" if empty else GARBAGE
        elif item.kind == "file":
            value = (io.BytesIO(b""), "vide.xml")
        if value is None:
            continue
        data[item.name] = value
    return data


class ConsoleWalker:
    def __init__(self, client, *, login: str, password: str, start: str = "/admin/", limit: int = 400):
        self.client, self.login, self.password = client, login, password
        self.start, self.limit = start, limit
        self.walk = Walk()
        self.seen_shapes: dict[str, int] = {}
        self.seen_urls: set[str] = set()
        self.seen_forms: set[str] = set()

    def _record(self, method, url, response, **kwargs) -> Visit:
        visit = Visit(method, url, response.status_code, response.get_data(as_text=True)
                      if response.mimetype == "text/html" else "", **kwargs)
        self.walk.visits.append(visit)
        if response.status_code in (301, 302, 303) and response.headers.get("Location", "").startswith(SIGN_IN):
            sign_in(self.client, self.login, self.password)  # a form that ended the session: start again
        return visit

    def run(self) -> Walk:
        sign_in(self.client, self.login, self.password)
        self.queue = queue = [self.start]
        while queue and len(self.walk.visits) < self.limit * 10:
            url = queue.pop(0)
            if url in self.seen_urls:
                continue
            shape = _shape(url)
            if self.seen_shapes.get(shape, 0) >= SAMPLES_PER_SHAPE:
                continue
            self.seen_urls.add(url)
            self.seen_shapes[shape] = self.seen_shapes.get(shape, 0) + 1
            response = self.client.get(url)
            visit = self._record("GET", url, response)
            if response.status_code in (301, 302, 303):
                target = urljoin(url, response.headers["Location"])
                if _followed(target):
                    queue.append(target)
                continue
            if response.mimetype != "text/html" or response.status_code != 200:
                continue
            document = lxml.html.fromstring(visit.text)
            for href in document.xpath("//a/@href"):
                target = urljoin(url, href).split("#")[0]
                target = target.replace("http://localhost", "")
                if _followed(target) and target not in self.seen_urls:
                    queue.append(target)
            for form in document.forms:
                self._send_form(url, form)
        return self.walk

    def _send_form(self, page_url: str, form) -> None:
        action = urljoin(page_url, form.get("action") or page_url).replace("http://localhost", "")
        method = (form.get("method") or "get").upper()
        fields = _fields(form)
        key = f"{method} {_shape(action)} {sorted(f.name for f in fields)}"
        if not _followed(action) or key in self.seen_forms:
            return
        self.seen_forms.add(key)
        variants: list[tuple[str, dict]] = []
        if not action.startswith(ONLY_INVALID):
            variants.append(("valid", _data(fields, None, False)))
        for item in fields:
            if item.name == "csrf_token":
                continue
            variants.append((f"{item.name} vide", _data(fields, item.name, True)))
            variants.append((f"{item.name} faux", _data(fields, item.name, False)))
        for variant, data in variants:
            if method == "GET":
                flat = [(k, v) for k, values in data.items() for v in (values if isinstance(values, list) else [values])
                        if not isinstance(v, tuple)]
                url = action.split("?")[0] + "?" + urlencode(flat)
                response = self.client.get(url)
            else:
                data = {k: v for k, v in data.items()}
                if "csrf_token" in data:  # the token of the current session (a form may have started another)
                    page = self.client.get(page_url)
                    if page.status_code == 200 and "csrf_token" in page.get_data(as_text=True):
                        data["csrf_token"] = csrf(page.get_data(as_text=True))
                response = self.client.post(action, data=data)
                url = action
                location = response.headers.get("Location", "")
                if response.status_code in (302, 303) and _followed(location):
                    self.queue.append(location)  # where the form leads: a batch's page, a new link
            self._record(method, url, response, form_of=page_url, variant=variant)
