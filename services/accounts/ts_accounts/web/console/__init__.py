"""The staff console « Administration Téléservices »: one module per area, each exposing a
`blueprint` (registered by the app factory, found by scanning this package)."""
from __future__ import annotations

import importlib
import pkgutil

from flask import Blueprint


def console_blueprints() -> list[Blueprint]:
    blueprints = []
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        blueprint = getattr(module, "blueprint", None)
        if isinstance(blueprint, Blueprint):
            blueprints.append(blueprint)
    return blueprints
