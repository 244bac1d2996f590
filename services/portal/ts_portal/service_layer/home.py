"""H7: what the home page shows — the children attached to the account, the one being looked
at, and the welcome message of that child's school (from the portal's read model)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from ts_portal.adapters.identity_client import Child, Profile
from ts_portal.service_layer.school_settings import school_settings


class UnknownChild(LookupError):
    """The requested child is not attached to this account."""


@dataclass(frozen=True)
class HomePage:
    children: tuple[Child, ...]
    selected: Child | None
    welcome_message_html: str  # sanitised by the accounts service before it was published
    school_name: str | None


def select_child(children: tuple[Child, ...], key: str | None) -> Child | None:
    """The child asked for (`?enfant=<UAI>-<student id>`, Child.key), which must be one of the
    account's; else the first."""
    if key is None or key == "":
        return children[0] if children else None
    for child in children:
        if child.key == key:
            return child
    raise UnknownChild(key)


def home_page(session: Session, profile: Profile, child_key: str | None) -> HomePage:
    selected = select_child(profile.children, child_key)
    settings = school_settings(session, selected.school_uai) if selected else None
    return HomePage(
        children=profile.children, selected=selected,
        welcome_message_html=settings.welcome_message_html if settings else "",
        school_name=settings.name if settings else (selected.school_name if selected else None),
    )
