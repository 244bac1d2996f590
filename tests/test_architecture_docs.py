"""docs/architecture.md tells the truth: its table of events is the services' declarations, and
the project never points to files outside it."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

from ts_shared.messaging.events import EVENT_TYPES
from ts_shared.service import discover_services

ROOT = Path(__file__).resolve().parent.parent
ARCHITECTURE = ROOT / "docs" / "architecture.md"


def _services_named(cell: str) -> set[str]:
    """The services a cell names, before any parenthesis (« — » names none)."""
    return set(re.findall(r"[a-z]+", cell.split("(")[0])) & set(discover_services())


def test_the_table_of_events_is_what_the_services_declare():
    rows = re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \| ([^|]+) \| ([^|]+) \|", ARCHITECTURE.read_text(), re.MULTILINE)
    documented = {event_type: (_services_named(producers), _services_named(consumers))
                  for event_type, producers, consumers in rows}
    specs = discover_services().values()
    declared = {event_type: ({s.name for s in specs if event_type in s.publishes},
                             {s.name for s in specs if event_type in s.consumes}) for event_type in EVENT_TYPES}
    assert documented == declared


def test_nothing_in_the_project_points_outside_it():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    texts = [path for path in tracked if path.endswith((".md", ".py", ".html", ".toml", ".yml", ".yaml", ".conf"))
             and not path.startswith("tests/test_architecture_docs.py")]
    pointing = [path for path in texts if "../shared/" in (ROOT / path).read_text(encoding="utf-8", errors="replace")]
    assert pointing == []
