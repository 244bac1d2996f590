"""H11: a school's staff member opens « Scolarité services » as a family sees it, read-only.

« Simuler l'accès à Scolarité services » (Gérer le compte, E2/F2) issues a one-time link valid two
minutes and records who simulated whom in the school's audit log; the portal exchanges the link
for the account's profile and keeps its session read-only (every write refused there). Nothing of
the account changes: neither the last login nor its history."""
from __future__ import annotations

from datetime import datetime, timedelta

from ts_accounts.domain.lifecycle import AccountState
from ts_accounts.service_layer.accounts import get_account
from ts_accounts.service_layer.audit import Actor, record
from ts_accounts.service_layer.errors import Conflict, NotFound
from ts_accounts.service_layer.identity import Profile, Refused, profile
from ts_accounts.service_layer.support import couple_detail
from ts_accounts.service_layer.tokens import consume_token, issue_token
from ts_shared.unit_of_work import UnitOfWork

SIMULATE = "simulate"
SIMULATION_LINK_LIFETIME = timedelta(minutes=2)
ONLY_USED = "La simulation n'est accessible que pour un compte à l'état « Utilisé »."


def start_simulation(uow: UnitOfWork, actor: Actor, *, uai: str, student_id: str, guardian_id: str | None,
                     now: datetime) -> str:
    """The link's token for the couple's current account (NotFound outside the school)."""
    couple = couple_detail(uow.session, uai, student_id, guardian_id)
    account = couple.account
    if account is None:
        raise NotFound("Aucun compte en cours pour cet élève ou ce responsable.")
    if account.state != AccountState.USED.value or account.closed_at is not None:
        raise Conflict(ONLY_USED)
    token = issue_token(uow.session, account.id, SIMULATE, now=now, lifetime=SIMULATION_LINK_LIFETIME)
    record(uow.session, actor, school_uai=uai, action="account.simulated", now=now, target=account.login,
           summary=f"Simulation de l'accès à Scolarité services avec le compte {account.login}")
    uow.commit()
    return token


def open_simulation(uow: UnitOfWork, *, token: str, now: datetime) -> Profile:
    """The portal's side: the link works once; the profile is read, nothing of the account changes."""
    row = consume_token(uow.session, token, SIMULATE, now=now)
    account = get_account(uow.session, row.account_id)
    if account.closed_at is not None or account.state != AccountState.USED.value:
        uow.commit()  # the link is used up all the same
        raise Refused(ONLY_USED)
    result = profile(uow, account, previous_login_at=account.last_login_at)
    uow.commit()
    return result
