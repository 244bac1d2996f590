"""`tsctl run` (what `make run` starts): one port, every service, demo data, a clean Ctrl-C."""
from __future__ import annotations

import os
import re
import signal
import smtplib
import sqlite3
import subprocess
import sys
import time
from email.message import EmailMessage

import requests
from werkzeug.test import Client

from support.bus import wait_for
from ts_shared.runtime.mail_sink import MailSink, free_port, mail_viewer_app


def test_the_embedded_run_serves_everything_on_one_port_and_stops_cleanly_on_ctrl_c(tmp_path):
    port = free_port()
    env = {**os.environ, "TS_DATA_DIR": str(tmp_path / "data"), "TS_PORT": str(port)}
    for variable in [v for v in env if v.endswith("_DATABASE_URL") or v in ("TS_MODE", "TS_BROKER_URL")]:
        env.pop(variable)
    process = subprocess.Popen([sys.executable, "-m", "ts_shared.runtime.cli", "run"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            output.append(line)
            if "Ctrl-C" in line or process.poll() is not None:
                break
        text = "".join(output)
        base = f"http://127.0.0.1:{port}"
        assert f"Téléservices est prêt : {base}/" in text, text
        assert re.search(r"chef\.demo / \S+", text), text

        portal = requests.get(f"{base}/", timeout=10)
        assert portal.status_code == 200 and "Connexion à Scolarité services" in portal.text
        console = requests.get(f"{base}/admin/", timeout=10)
        assert console.url.endswith("/admin/login?next=/admin/") and "Administration Téléservices" in console.text
        assert requests.get(f"{base}/dev/mail/", timeout=10).status_code == 200
        # The demo school reached the portal's read model through the broker.
        def portal_knows_the_school():
            with sqlite3.connect(tmp_path / "data" / "portal.sqlite") as db:
                return db.execute("SELECT count(*) FROM school_portal_settings").fetchone()[0] == 1

        wait_for(portal_knows_the_school, timeout=20)
    finally:
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    assert process.returncode == 0, rest
    assert "Arrêté proprement." in rest


def test_the_mail_sink_keeps_each_email_and_shows_it(tmp_path):
    sink = MailSink(tmp_path / "mail")
    sink.start()
    try:
        message = EmailMessage()
        message["From"] = "ne-pas-repondre@teleservices.localhost"
        message["To"] = "parent@example.org"
        message["Subject"] = "Confirmez votre adresse électronique"
        message.set_content("Bonjour,\nCliquez sur le lien pour confirmer.")
        message.add_alternative("<p>Bonjour,</p><script>alert(1)</script>", subtype="html")
        with smtplib.SMTP("127.0.0.1", sink.port) as smtp:
            smtp.send_message(message)
    finally:
        sink.stop()
    [stored] = list((tmp_path / "mail").glob("*.eml"))
    viewer = Client(mail_viewer_app(tmp_path / "mail"))
    listing = viewer.get("/dev/mail/").text
    assert "Confirmez votre adresse électronique" in listing and "parent@example.org" in listing
    detail = viewer.get(f"/dev/mail/{stored.name}").text
    assert "Cliquez sur le lien pour confirmer." in detail
    html = viewer.get(f"/dev/mail/{stored.name}/html")
    assert html.headers["Content-Security-Policy"].startswith("sandbox")
    assert viewer.get("/dev/mail/..%2Fembedded-secrets.json").status_code == 404
