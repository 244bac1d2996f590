"""Ready-made events for tests."""
from __future__ import annotations

from ts_shared.messaging.envelope import Event, new_event


def account_snapshot(n: int, *, school_uai: str = "0541234X", version: int = 1, state: str = "not_notified",
                     closed: bool = False, kind: str = "student") -> dict:
    child = {"school_uai": school_uai, "student_id": str(1000 + n), "division": "3A", "mef_code": "10310019110",
             "mefstat": "1031"}
    if kind == "guardian":
        child.update(guardian_id=str(5000 + n), legal_rank=1)
    return {"account_id": f"account-{n}", "version": version, "kind": kind, "login": f"eleve.numero{n}",
            "state": state, "closed": closed, "children": [] if closed else [child]}


def account_created(n: int, *, school_uai: str = "0541234X", version: int = 1, state: str = "not_notified") -> Event:
    return new_event(
        "account.created",
        {"account": account_snapshot(n, school_uai=school_uai, version=version, state=state)},
        producer="accounts",
        school_uai=school_uai,
    )
