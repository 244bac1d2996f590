"""J2: how a service other than accounts reports what a staff member did, for the audit log that
accounts keeps (event `staff_action.recorded`, in the same transaction as the action itself)."""
from __future__ import annotations

from dataclasses import dataclass

from ts_shared.db import utcnow
from ts_shared.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class StaffActor:
    """Who acts: the signed-in staff member of the request (ids are those of accounts)."""

    login: str
    staff_id: int | None = None
    client_address: str | None = None


def report_staff_action(uow: UnitOfWork, actor: StaffActor, *, school_uai: str, action: str, summary: str,
                        target: str | None = None, detail: dict | None = None) -> None:
    uow.emit("staff_action.recorded", {
        "staff_login": actor.login, "staff_id": actor.staff_id, "client_address": actor.client_address,
        "action": action, "summary": summary[:500], "target": target, "detail": detail or {}, "at": utcnow(),
    }, school_uai=school_uai)
