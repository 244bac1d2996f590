"""Accessibility checks of the browser journeys: axe-core (npm, pinned in package-lock.json,
installed by `make axe`) injected into the page through the DevTools protocol — the pages' own
Content Security Policy stays as it is — and screenshots kept as test artifacts."""
from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from support.infra import unavailable

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts"  # git-ignored
WIDTHS = (360, 1280)  # a phone, a laptop
BLOCKING = ("serious", "critical")


def axe_source() -> str:
    if not AXE.exists():
        unavailable("axe-core is not installed (`make axe`: npm ci): the accessibility checks are skipped")
    return AXE.read_text(encoding="utf-8")


def violations(page, source: str) -> list[str]:
    """The serious and critical violations axe-core finds on the page as it is now."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(source)  # Runtime.evaluate: not subject to the page's CSP
    found = page.evaluate("""async () => {
        const result = await window.axe.run(document, {resultTypes: ["violations"]});
        return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                            targets: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
    }""")
    return [f"{v['id']} ({v['impact']}): {v['help']} – {', '.join(v['targets'])}" for v in found
            if v["impact"] in BLOCKING]


class AccessibilityCheck:
    """Checks each page at every width and keeps a screenshot of each; `problems` gathers the
    violations by page, so that one run reports them all."""

    def __init__(self, folder: str):
        self.source = axe_source()
        self.folder = ARTIFACTS / folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.problems: dict[str, list[str]] = {}
        self.checked: list[str] = []

    def check(self, page, name: str) -> None:
        ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
        slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            found = violations(page, self.source)
            if found:
                self.problems[f"{name} @{width}px"] = found
            page.screenshot(path=str(self.folder / f"{slug}-{width}.png"), full_page=True)
        page.set_viewport_size({"width": 1280, "height": 900})
        self.checked.append(name)
