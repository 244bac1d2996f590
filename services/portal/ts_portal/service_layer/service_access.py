"""H7/H9, G3: a family opened a service's tile. The access is announced for the statistics
(portal.service_accessed): the school, the kind of account, the child's MEF and MEFSTAT, the
service and when — nobody's identity."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from ts_portal.adapters.identity_client import Child
from ts_shared.unit_of_work import UnitOfWork

PARIS = ZoneInfo("Europe/Paris")


def record_service_access(uow: UnitOfWork, *, kind: str, child: Child, service_code: str, now: datetime) -> None:
    uow.emit("portal.service_accessed", {
        "kind": kind, "service_code": service_code, "mefstat": child.mefstat, "mef_code": child.mef_code,
        "month": now.astimezone(PARIS).strftime("%Y-%m"), "accessed_at": now,
    }, school_uai=child.school_uai)
    uow.commit()
