"""The family's session, kept on the server (`ts_shared.web.server_session`: the cookie
`ts_portal` holds an opaque id), in one of three stages.

- `first_login`: the letter's credentials were right; only the first-login page is open. Keeps
  the login and what the form needs to know (never the password).
- `pending`: a guardian whose address is not confirmed yet (H3); only the pending screen is open.
- `family`: signed in. Keeps the account id, the display name, the kind, the previous sign-in
  date (the identity API gives it only at sign-in) and a fingerprint of the credentials.

Each stage starts a new session (a new id, a new CSRF token), so nothing of an earlier visitor
survives a sign-in, and signing out deletes it. A signed-in session ends after an idle timeout
(pushed back on each page) and, whatever happens, 12 hours after sign-in; it also ends as soon as
the account's password changes (changed by the family elsewhere, or reset by the school).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta, UTC
from functools import wraps

from flask import current_app, flash, g, redirect, session
from flask.sessions import SessionMixin

from ts_shared.web.server_session import server_session

from ts_portal.adapters.identity_client import IdentityClient, IdentityError, Profile

IDENTITY_EXTENSION = "ts_portal.identity"
FIRST_LOGIN_MINUTES = 30
SIGNED_IN_HOURS = 12  # absolute lifetime of a signed-in session
_STAGE = "stage"
_IDLE_RENEWAL_SECONDS = 60  # the idle deadline is written back at most once a minute


def identity() -> IdentityClient:
    return current_app.extensions[IDENTITY_EXTENSION]


def _idle_seconds() -> int:
    return int(current_app.permanent_session_lifetime.total_seconds())


def _start(stage: str, *, lasts: timedelta, account_id: str | None = None, **values) -> None:
    session.clear()
    server_session().rotate()
    server_session().subject = f"account:{account_id}" if account_id else None
    server_session().expires_at = datetime.now(UTC) + lasts
    session.update({_STAGE: stage, "idle_until": int(time.time()) + _idle_seconds(), **values})
    if account_id:
        session["account_id"] = account_id


def _stage(stage: str) -> SessionMixin | None:
    if session.get(_STAGE) != stage:
        return None
    if session.get("idle_until", 0) < time.time():
        end()
        flash("Votre session a expiré. Connectez-vous de nouveau.", "info")
        return None
    return session


def end() -> None:
    """Sign out: the session is deleted on the server; the cookie gets a new, empty id."""
    session.clear()
    server_session().rotate()
    server_session().subject, server_session().expires_at = None, None


def stage() -> str | None:
    return session.get(_STAGE)


# --- first login ---------------------------------------------------------------------------------

def start_first_login(profile: Profile) -> None:
    # The address is mandatory for a guardian's activation; a used account (a new temporary
    # password after a reset by the school) keeps its own, and is told what happened. The ticket
    # (the sign-in checked the temporary password) spares the family typing it again.
    confirmed = profile.email if profile.email and profile.email_confirmed else None
    _start("first_login", lasts=timedelta(minutes=FIRST_LOGIN_MINUTES), login=profile.login, kind=profile.kind,
           email_required=profile.is_guardian and profile.state != "used", ticket=profile.first_login_ticket,
           child_names=[child.full_name for child in profile.children], reset_by_school=profile.reset_by_school,
           confirmed_email=confirmed if profile.reset_by_school else None)


def first_login_state() -> SessionMixin | None:
    return _stage("first_login")


# --- pending confirmation ------------------------------------------------------------------------

def start_pending(profile: Profile) -> None:
    _start("pending", lasts=timedelta(hours=SIGNED_IN_HOURS), account_id=profile.account_id)


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
    _start("family", lasts=timedelta(hours=SIGNED_IN_HOURS), account_id=profile.account_id,
           display_name=profile.display_name, kind=profile.kind, previous_login_at=previous,
           credentials=profile.credentials_fingerprint)


def start_simulation(profile: Profile) -> None:
    """H11: a staff member sees the portal as this account does, read-only (`is_simulation`); the
    previous login shown is the account's last one, which the simulation leaves untouched."""
    previous = profile.previous_login_at.isoformat() if profile.previous_login_at else None
    _start("family", lasts=timedelta(hours=1), account_id=profile.account_id, display_name=profile.display_name,
           kind=profile.kind, previous_login_at=previous, credentials=profile.credentials_fingerprint, simulation=True)


def is_simulation() -> bool:
    return session.get(_STAGE) == "family" and bool(session.get("simulation"))


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


def credentials_changed(profile: Profile) -> None:
    """The family changed its password in this session: this session goes on under a new id with
    the new credentials; every other session of the account ends at its next request."""
    if session.get(_STAGE) == "family":
        content = dict(server_session().content())
        server_session().rotate()
        session.update({**content, "credentials": profile.credentials_fingerprint})


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
        if profile.credentials_fingerprint != session.get("credentials"):
            end()
            flash("Le mot de passe de ce compte a été modifié. Connectez-vous avec le nouveau mot de passe.", "info")
            return redirect("/")
        if profile.pending_confirmation:
            start_pending(profile)
            return redirect("/compte/en-attente")
        if session["idle_until"] - time.time() < _idle_seconds() - _IDLE_RENEWAL_SECONDS:
            session["idle_until"] = int(time.time()) + _idle_seconds()
        refresh_display_name(profile.display_name)
        g.family, g.profile = current(), profile
        return view(*args, **kwargs)

    return wrapper
