"""H11: the console's « Simuler l'accès à Scolarité services » lands here with a one-time link.
The warning page says what the simulation is; its button exchanges the link for the account's
profile and opens a read-only session (see pages._read_only_in_simulation)."""
from __future__ import annotations

from flask import redirect, render_template, request, url_for

from ts_portal.adapters.identity_client import IdentityError
from ts_portal.web import family_session
from ts_portal.web.family_session import identity
from ts_portal.web.forms import SimulationForm
from ts_portal.web.pages import INCOMPLETE_LINK, pages


@pages.get("/simulation")
def simulation_page():
    form = SimulationForm(token=request.args.get("jeton", ""))
    if not form.token.data:
        return render_template("portal/simulation.html", form=None, error=INCOMPLETE_LINK), 400
    return render_template("portal/simulation.html", form=form)


@pages.post("/simulation")
def open_simulation():
    form = SimulationForm()
    if not form.validate_on_submit():
        return render_template("portal/simulation.html", form=None, error=INCOMPLETE_LINK), 400
    try:
        profile = identity().open_simulation(token=form.token.data)
    except IdentityError as error:
        return render_template("portal/simulation.html", form=None, error=error.message), error.status
    family_session.start_simulation(profile)
    return redirect(url_for(".home"))
