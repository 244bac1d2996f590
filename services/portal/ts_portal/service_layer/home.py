"""H7: what the home page shows — the children attached to the account, the one being looked at,
the tiles of the services open in that child's school (C2) that this kind of account uses, the
ENT tile (D2), and the school's name, welcome message and contact (from the portal's read model)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from ts_portal.adapters.identity_client import Child, Profile
from ts_portal.adapters.orm import SchoolPortalSettings
from ts_portal.domain.catalogue import ENT_SERVICE, ServiceDescription, describe
from ts_portal.service_layer.school_settings import school_settings


class UnknownChild(LookupError):
    """The requested child is not attached to this account."""


class UnknownService(LookupError):
    """The service is not open for this child, or not for this kind of account."""


@dataclass(frozen=True)
class Tile:
    service: ServiceDescription
    link_text: str


@dataclass(frozen=True)
class HomePage:
    children: tuple[Child, ...]
    selected: Child | None
    welcome_message_html: str  # sanitised by the accounts service before it was published
    school_name: str | None
    tiles: tuple[Tile, ...] = ()
    ent: Tile | None = None
    ent_url: str | None = None
    has_useful_links: bool = False


def select_child(children: tuple[Child, ...], key: str | None) -> Child | None:
    """The child asked for (`?enfant=<UAI>-<student id>`, Child.key), which must be one of the
    account's; else the first."""
    if key is None or key == "":
        return children[0] if children else None
    for child in children:
        if child.key == key:
            return child
    raise UnknownChild(key)


def open_services(settings: SchoolPortalSettings | None, kind: str) -> list[ServiceDescription]:
    """The services open in the school (C2, in the school's order) that this kind of account uses."""
    if settings is None or not settings.services_activated:
        return []
    services = [describe(code, labels=settings.service_labels or {}, urls=settings.service_urls or {})
                for code in settings.open_services]
    return [service for service in services if service.for_kind(kind)]


def open_service(session: Session, profile: Profile, child_key: str | None,
                 code: str) -> tuple[Child, ServiceDescription, SchoolPortalSettings]:
    """The child and the service a tile leads to (UnknownChild, UnknownService otherwise)."""
    child = select_child(profile.children, child_key)
    if child is None:
        raise UnknownChild(child_key)
    settings = school_settings(session, child.school_uai)
    if settings is None:
        raise UnknownService(code)
    if code == ENT_SERVICE.code:
        if not settings.ent_url:
            raise UnknownService(code)
        return child, ENT_SERVICE, settings
    for service in open_services(settings, profile.kind):
        if service.code == code:
            return child, service, settings
    raise UnknownService(code)


def home_page(session: Session, profile: Profile, child_key: str | None) -> HomePage:
    selected = select_child(profile.children, child_key)
    settings = school_settings(session, selected.school_uai) if selected else None
    tiles: tuple[Tile, ...] = ()
    ent = None
    if selected is not None:
        tiles = tuple(Tile(service, service.link_text(selected.first_name, profile.kind))
                      for service in open_services(settings, profile.kind))
        if settings is not None and settings.ent_url:
            ent = Tile(ENT_SERVICE, ENT_SERVICE.link_text(selected.first_name, profile.kind))
    return HomePage(
        children=profile.children, selected=selected,
        welcome_message_html=settings.welcome_message_html if settings else "",
        school_name=settings.name if settings else (selected.school_name if selected else None),
        tiles=tiles, ent=ent, ent_url=settings.ent_url if settings else None,
        has_useful_links=bool(settings and settings.useful_links),
    )
