"""The staff console « Administration Téléservices »: one module per area, each exposing a
`blueprint`, registered by the app factory (`console_blueprints`, one line per area)."""
from __future__ import annotations

from flask import Blueprint

from ts_accounts.web.console import (
    auth, establishment, imports, my_account, notify, reminders, services, settings, support,
)
from ts_accounts.web.console.academy import catalogue, continuity, schools


def console_blueprints() -> list[Blueprint]:
    return [schools.blueprint, catalogue.blueprint, continuity.blueprint, auth.blueprint, establishment.blueprint,
            imports.blueprint, my_account.blueprint, notify.blueprint, services.blueprint, settings.blueprint,
            support.blueprint, reminders.blueprint]
