"""The family's session: Flask's signed cookie `ts_portal`, in one of three stages.

- `first_login`: the letter's credentials were right; only the first-login page is open. Keeps
  the login and what the form needs to know (never the password).
- `pending`: a guardian whose address is not confirmed yet (H3); only the pending screen is open.
- `family`: signed in. Keeps the account id, the display name, the kind, the previous sign-in
  date (the identity API gives it only at sign-in) and the expiry.

Each stage starts from an empty session (clear, then set: a new cookie, a new CSRF token), so
nothing of an earlier visitor survives a sign-in. The expiry is an idle timeout, pushed back on
each signed-in page.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from functools import wraps

from flask import current_app, flash, g, redirect, session

from ts_portal.adapters.identity_client import IdentityClient, IdentityError, Profile

IDENTITY_EXTENSION = "ts_portal.identity"
FIRST_LOGIN_MINUTES = 30
_STAGE = "stage"


def identity() -> IdentityClient:
    return current_app.extensions[IDENTITY_EXTENSION]


def _lifetime_seconds() -> int:
    return int(current_app.permanent_session_lifetime.total_seconds())


def _start(stage: str, lifetime_seconds: int, **values) -> None:
    session.clear()
    session.update({_STAGE: stage, "expires_at": int(time.time()) + lifetime_seconds, **values})


def _stage(stage: str) -> dict | None:
    if session.get(_STAGE) != stage:
        return None
    if session.get("expires_at", 0) < time.time():
        session.clear()
        flash("Votre session a expiré. Connectez-vous de nouveau.", "info")
        return None
    return session


def end() -> None:
    session.clear()


def stage() -> str | None:
    return session.get(_STAGE)


# --- first login ---------------------------------------------------------------------------------

def start_first_login(profile: Profile) -> None:
    # The address is mandatory for a guardian's activation; a used account (a new temporary
    # password after a reset by the school) keeps its own.
    _start("first_login", FIRST_LOGIN_MINUTES * 60, login=profile.login, kind=profile.kind,
           email_required=profile.is_guardian and profile.state != "used")


def first_login_state() -> dict | None:
    return _stage("first_login")


# --- pending confirmation ------------------------------------------------------------------------

def start_pending(profile: Profile) -> None:
    _start("pending", _lifetime_seconds(), account_id=profile.account_id)


def pending_account_id() -> str | None:
    state = _stage("pending")
    return state["account_id"] if state else None


# --- signed in -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Family:
    account_id: str
    display_name: str
    kind: str
    previous_login_at: datetime | None


def start(profile: Profile) -> None:
    previous = profile.previous_login_at.isoformat() if profile.previous_login_at else None
    _start("family", _lifetime_seconds(), account_id=profile.account_id, display_name=profile.display_name,
           kind=profile.kind, previous_login_at=previous)


def current() -> Family | None:
    state = _stage("family")
    if state is None:
        return None
    previous = state.get("previous_login_at")
    return Family(account_id=state["account_id"], display_name=state["display_name"], kind=state["kind"],
                  previous_login_at=datetime.fromisoformat(previous) if previous else None)


def refresh_display_name(display_name: str) -> None:
    """A merge may make a joint account: « Mme Hélène DUPONT et M. Jean DUPONT »."""
    if session.get(_STAGE) == "family" and session.get("display_name") != display_name:
        session["display_name"] = display_name


def family_required(view):
    """A signed-in page: the profile is read again from the accounts service on every request,
    so a closed account, a refused access or a merge is seen at once (`g.profile`)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        family = current()
        if family is None:
            return redirect("/")
        try:
            profile = identity().profile(account_id=family.account_id)
        except IdentityError:  # 404 unknown, 409 closed (merged into another account, deleted)
            end()
            flash("Ce compte n'est plus ouvert. Connectez-vous avec votre identifiant actuel ou contactez "
                  "l'établissement.", "error")
            return redirect("/")
        if profile.access_refused and profile.is_guardian:
            end()
            flash("L'accès aux services en ligne a été retiré pour ce compte. Contactez l'établissement.", "error")
            return redirect("/")
        if profile.pending_confirmation:
            start_pending(profile)
            return redirect("/compte/en-attente")
        session["expires_at"] = int(time.time()) + _lifetime_seconds()
        refresh_display_name(profile.display_name)
        g.family, g.profile = current(), profile
        return view(*args, **kwargs)

    return wrapper
