"""The footer's pages (legal notice, personal data, accessibility statement) and the help page:
open to everyone, signed in or not."""
from __future__ import annotations

from flask import render_template

from ts_portal.web.pages import pages


@pages.get("/mentions-legales")
def legal_notice():
    return render_template("portal/info/legal_notice.html")


@pages.get("/donnees-personnelles")
def personal_data():
    return render_template("portal/info/personal_data.html")


@pages.get("/accessibilite")
def accessibility():
    return render_template("portal/info/accessibility.html")


@pages.get("/aide")
def help_page():
    return render_template("portal/info/help.html")
