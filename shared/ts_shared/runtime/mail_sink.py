"""Embedded mode only: an SMTP server that keeps every email it receives as a `.eml` file in the
data folder, and the `/dev/mail` pages that show them. The notifier talks real SMTP to it, as it
would to the production relay."""
from __future__ import annotations

import email
import email.policy
import logging
import re
import socket
import uuid
from datetime import datetime, UTC
from pathlib import Path

from aiosmtpd.controller import Controller
from flask import Flask, Response, abort, render_template_string

log = logging.getLogger(__name__)

_MESSAGE_NAME = re.compile(r"^[0-9]{8}T[0-9]{6}-[0-9a-f]{32}\.eml$")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _StoreHandler:
    def __init__(self, folder: Path):
        self.folder = folder

    async def handle_DATA(self, server, session, envelope):
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        path = self.folder / f"{stamp}-{uuid.uuid4().hex}.eml"
        header = f"X-TS-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n".encode()
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(header + envelope.original_content)
        tmp.replace(path)
        return "250 Message accepted for delivery"


class MailSink:
    """Start/stop an SMTP server on 127.0.0.1 that stores messages under `folder`."""

    def __init__(self, folder: Path, port: int | None = None):
        self.folder = folder
        self.port = port or free_port()
        self._controller = Controller(_StoreHandler(folder), hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._controller.start()
        log.info("SMTP sink on 127.0.0.1:%d, storing in %s", self.port, self.folder)

    def stop(self) -> None:
        self._controller.stop()


def _parse(path: Path) -> email.message.EmailMessage:
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


def _part(message: email.message.EmailMessage, subtype: str) -> str | None:
    body = message.get_body(preferencelist=(subtype,))
    return body.get_content() if body is not None else None


_LIST = """<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>Courriels envoyés (démo)</title></head>
<body style="font-family: sans-serif; max-width: 70rem; margin: 2rem auto">
<h1>Courriels envoyés (mode démonstration)</h1>
<p>{{ messages|length }} courriel(s), du plus récent au plus ancien. Ils ne quittent pas cette machine.</p>
<table style="width:100%; border-collapse: collapse" border="1" cellpadding="6">
<thead><tr><th>Date</th><th>Destinataire(s)</th><th>Objet</th></tr></thead><tbody>
{% for m in messages %}<tr><td>{{ m.date }}</td><td>{{ m.to }}</td>
<td><a href="/dev/mail/{{ m.name }}">{{ m.subject }}</a></td></tr>
{% else %}<tr><td colspan="3">Aucun courriel pour l'instant.</td></tr>{% endfor %}
</tbody></table></body></html>"""

_DETAIL = """<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>{{ subject }}</title></head>
<body style="font-family: sans-serif; max-width: 70rem; margin: 2rem auto">
<p><a href="/dev/mail/">← Tous les courriels</a></p>
<h1>{{ subject }}</h1>
<dl><dt>De</dt><dd>{{ sender }}</dd><dt>À</dt><dd>{{ to }}</dd><dt>Date</dt><dd>{{ date }}</dd></dl>
{% if html %}<p><a href="/dev/mail/{{ name }}/html">Voir la version HTML</a></p>{% endif %}
<pre style="white-space: pre-wrap; background: #f6f6f6; padding: 1rem">{{ text or "(pas de partie texte)" }}</pre>
</body></html>"""


def mail_viewer_app(folder: Path) -> Flask:
    app = Flask(__name__)

    def message_path(name: str) -> Path:
        if not _MESSAGE_NAME.match(name):
            abort(404)
        path = folder / name
        if not path.is_file():
            abort(404)
        return path

    @app.get("/dev/mail")
    @app.get("/dev/mail/")
    def index():
        messages = []
        for path in sorted(folder.glob("*.eml"), reverse=True):
            message = _parse(path)
            messages.append({"name": path.name, "date": message.get("Date", ""), "subject": message.get("Subject", ""),
                             "to": message.get("X-TS-Envelope-To", message.get("To", ""))})
        return render_template_string(_LIST, messages=messages)

    @app.get("/dev/mail/<name>")
    def detail(name: str):
        message = _parse(message_path(name))
        return render_template_string(
            _DETAIL, name=name, subject=message.get("Subject", ""), sender=message.get("From", ""),
            to=message.get("X-TS-Envelope-To", message.get("To", "")), date=message.get("Date", ""),
            text=_part(message, "plain"), html=_part(message, "html"),
        )

    @app.get("/dev/mail/<name>/html")
    def html(name: str):
        content = _part(_parse(message_path(name)), "html")
        if content is None:
            abort(404)
        response = Response(content, mimetype="text/html")
        # The email's HTML is shown as a sandboxed document: no script, no request elsewhere.
        response.headers["Content-Security-Policy"] = (
            "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"
        )
        return response

    return app
