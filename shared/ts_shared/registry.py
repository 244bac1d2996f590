"""Which services are installed: the names of the `teleservices.services` entry points (each
service registers its ServiceSpec there). shared/ lists no services; it asks the installation."""
from __future__ import annotations

from functools import lru_cache
from importlib.metadata import entry_points

ENTRY_POINT_GROUP = "teleservices.services"


@lru_cache(maxsize=1)
def service_names() -> frozenset[str]:
    return frozenset(entry_point.name for entry_point in entry_points(group=ENTRY_POINT_GROUP))
