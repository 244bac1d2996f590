"""Events the accounts service consumes: none yet (notification results arrive with the notifier)."""
from __future__ import annotations

HANDLERS: dict = {}
