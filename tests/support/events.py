"""Ready-made events for tests."""
from __future__ import annotations

from ts_shared.messaging.envelope import Event, new_event


def account_created(n: int, *, school_uai: str = "0541234X", version: int = 1, state: str = "not_notified") -> Event:
    return new_event("account.created", {"account": {
        "account_id": f"account-{n}", "version": version, "kind": "student", "login": f"eleve.numero{n}",
        "state": state, "student_id": str(1000 + n), "division": "3A", "mef_code": "10310019110",
    }}, producer="accounts", school_uai=school_uai)
