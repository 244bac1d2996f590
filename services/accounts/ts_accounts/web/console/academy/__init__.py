"""Menu « Académie » of academy administrators: the schools (`schools`), the academies'
catalogues (`catalogue`) and the pending continuities of access (`continuity`). An administrator
sees the academy they manage (every academy for a national administrator); another academy's
pages answer 404."""
from __future__ import annotations

SCHOOLS = ("Établissements", "/admin/academy/schools")
SERVICES = ("Services de l'académie", "/admin/academy/services")
CONTINUITY = ("Continuité d'accès", "/admin/academy/continuity")


def menu(*extra: tuple[str, str]) -> list[tuple[str, str]]:
    """The breadcrumb of a page of the menu."""
    return [("Académie", SCHOOLS[1]), *extra]
