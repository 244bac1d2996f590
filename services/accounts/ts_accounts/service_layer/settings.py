"""The « Paramétrage » menu (D1, D2, D4, D5): what a school shows its families on the portal and
which address its letters give. Every change bumps the school's settings version and announces
it (`school.settings_changed`) and records it in the audit log (J2) for `actor`, in the same
transaction — the same action, summary, target and detail whoever asks (the console or the staff
API); a change that changes nothing announces and records nothing. Errors are French, per field
(`InvalidInput.errors`)."""
from __future__ import annotations

from typing import Any
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit

import nh3
from marshmallow import ValidationError
from marshmallow.validate import URL
from sqlalchemy import select

from ts_accounts.adapters.orm import AcademyEntLink, School, SchoolEmail, UsefulLink
from ts_accounts.service_layer.audit import Actor, record
from ts_accounts.service_layer.errors import InvalidInput, NotFound
from ts_accounts.service_layer.schools import announce_settings, get_school
from ts_shared.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class SettingsChange:
    """What a use case did: whether anything changed, and the values before and after (for the
    audit log)."""

    changed: bool
    before: dict = field(default_factory=dict)
    after: dict = field(default_factory=dict)


def _is_row_id(value: int | None) -> bool:
    """A value that can be a primary key (an id forged out of range must not reach the database)."""
    return value is not None and 0 < value < 2**31


def _apply(uow: UnitOfWork, school: School, before: dict, after: dict) -> SettingsChange:
    if before == after:
        return SettingsChange(False, before, after)
    announce_settings(uow, school)
    return SettingsChange(True, before, after)


# --- addresses (D2 ENT, D5 useful links) ----------------------------------------------------------

MAX_URL_LENGTH = 500  # the columns' size (School.ent_url, UsefulLink.url)
_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")
# What the event schemas accept (UsefulLinkSchema.url): checked here so that an address we accept
# can always be published.
_PUBLISHABLE_URL = URL(schemes={"http", "https"}, require_tld=True)


def check_web_address(value: str | None, *, missing: str) -> str:
    """An absolute http(s) address of a named host, at most 500 characters, without spaces or
    credentials; trimmed. Raises InvalidInput (French) otherwise; `missing` when empty."""
    url = (value or "").strip()
    if not url:
        raise InvalidInput(missing)
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput(f"L'adresse ne doit pas dépasser {MAX_URL_LENGTH} caractères.")
    malformed = InvalidInput(f"« {url[:80]} » n'est pas une adresse internet valide : elle doit commencer par "
                             "http:// ou https:// suivi du nom du site (ex. https://www.example.fr).")
    if _SPACE_OR_CONTROL.search(url):
        raise malformed
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError on a malformed port
    except ValueError:
        raise malformed from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise malformed
    if "@" in parts.netloc:  # « https://www.ac-nancy-metz.fr@evil.example » misleads families
        raise malformed
    if port == 0:
        raise malformed
    try:
        _PUBLISHABLE_URL(url)
    except ValidationError:
        raise malformed from None
    return url


# --- D1 welcome message ---------------------------------------------------------------------------

WELCOME_MAX_CHARACTERS = 2000
# The stored HTML must fit the event (SchoolSettingsChangedSchema.welcome_message_html).
WELCOME_MAX_HTML = 20000
# What may be sent at all (before sanitising): a generous bound on what 2000 characters of
# formatted text can weigh, so that nobody makes the sanitiser chew on megabytes.
WELCOME_MAX_INPUT = 100_000

WELCOME_TAGS = frozenset({"p", "br", "strong", "b", "em", "i", "u", "ul", "ol", "li", "a"})
_BLOCKS = frozenset({"p", "ul", "ol", "li", "div"})
# Content removed with its tag (everything else not allowed keeps its text and loses its tag).
_DROPPED_WITH_CONTENT = frozenset({"script", "style", "template", "noscript", "iframe", "object", "title"})
_CLEANER_OPTIONS: dict[str, Any] = dict(
    attributes={"a": {"href"}},
    url_schemes={"http", "https", "mailto"},
    url_relative="deny",
    link_rel="noopener noreferrer",
    set_tag_attribute_values={"a": {"target": "_blank"}},
    clean_content_tags=set(_DROPPED_WITH_CONTENT),
    strip_comments=True,
)
# The editor's line breaks: browsers write <div> for a new line in a contenteditable.
_FIRST_PASS = nh3.Cleaner(tags=set(WELCOME_TAGS | {"div"}), **_CLEANER_OPTIONS)
_FINAL_PASS = nh3.Cleaner(tags=set(WELCOME_TAGS), **_CLEANER_OPTIONS)
# A link whose address was refused (javascript:, relative…) is left without href: keep its text.
_LINK_WITHOUT_ADDRESS = re.compile(r'<a target="_blank" rel="noopener noreferrer">(.*?)</a>', re.DOTALL)
_COLLAPSED_SPACE = re.compile(r"[ \t\n\r\f\u00a0]+")


def sanitise_welcome_html(html: str | None) -> str:
    """The allow-list: p, br, strong/b, em/i, u, ul, ol, li and a[href] (http, https, mailto; the
    link opens in a new tab with rel="noopener noreferrer"). Everything else loses its tag,
    scripts and styles their content too. A message without visible text is the empty string."""
    first = _FIRST_PASS.clean(html or "")
    first = first.replace("<div>", "<p>").replace("</div>", "</p>")
    cleaned = _LINK_WITHOUT_ADDRESS.sub(r"\1", _FINAL_PASS.clean(first))
    return cleaned if visible_text(cleaned) else ""


class _TextOf(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "br" or tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data):
        self.parts.append(data)


def visible_text(html: str) -> str:
    """The text families read: each run of spaces and line breaks counts as one character.
    (The editor's counter, settings-welcome.js, computes the same on the page.)"""
    parser = _TextOf()
    parser.feed(html or "")
    parser.close()
    return _COLLAPSED_SPACE.sub(" ", "".join(parser.parts)).strip(" ")


@dataclass(frozen=True)
class WelcomePreview:
    html: str  # sanitised: what the portal will show
    length: int  # visible characters
    maximum: int = WELCOME_MAX_CHARACTERS

    @property
    def too_long(self) -> bool:
        return self.length > self.maximum


def preview_welcome(raw_html: str | None) -> WelcomePreview:
    """What families would see of this message (nothing is saved)."""
    if len(raw_html or "") > WELCOME_MAX_INPUT:
        raise InvalidInput(errors={"message": too_long_message(None)})
    html = sanitise_welcome_html(raw_html)
    return WelcomePreview(html, len(visible_text(html)))


def too_long_message(length: int | None) -> str:
    counted = f" (il en compte {length})" if length is not None else ""
    return (f"Le message d'accueil ne doit pas dépasser {WELCOME_MAX_CHARACTERS} caractères{counted}. "
            "Raccourcissez-le puis validez à nouveau.")


def set_welcome_message(uow: UnitOfWork, actor: Actor, uai: str, raw_html: str | None) -> SettingsChange:
    """D1: store the sanitised message (shown at once on every family's home page). Refused,
    nothing changed, beyond 2000 visible characters."""
    preview = preview_welcome(raw_html)
    if preview.too_long:
        raise InvalidInput(errors={"message": too_long_message(preview.length)})
    if len(preview.html) > WELCOME_MAX_HTML:
        raise InvalidInput(errors={"message": "Le message d'accueil comporte trop de mise en forme ou de liens : "
                                           "simplifiez-le puis validez à nouveau."})
    school = get_school(uow, uai, for_change=True)
    before = {"welcome_message_html": school.welcome_message_html or ""}
    school.welcome_message_html = preview.html
    change = _apply(uow, school, before, {"welcome_message_html": preview.html})
    if change.changed:
        html, length = preview.html, preview.length
        record(uow.session, actor, school_uai=uai, action="settings.welcome_message",
               summary=f"Message d'accueil modifié ({length} caractères)" if html else "Message d'accueil supprimé",
               target="message d'accueil",
               detail={"visible_characters": length, "welcome_message_html": html,
                       "previous_visible_characters": len(visible_text(before["welcome_message_html"]))})
    uow.commit()
    return change


# --- D2 ENT and notification letter ---------------------------------------------------------------

LETTER_TYPES = {
    "teleservices": "Téléservices",
    "mixed": "Mixte ENT/Téléservices",
    "ent_only": "ENT seul",
}
ENT_LETTER_TYPES = ("mixed", "ent_only")


def academy_ent_links(uow: UnitOfWork, academy_code: str) -> list[AcademyEntLink]:
    return list(uow.session.scalars(select(AcademyEntLink).where(AcademyEntLink.academy_code == academy_code)
                                    .order_by(AcademyEntLink.label, AcademyEntLink.id)))


def set_ent_and_letter(uow: UnitOfWork, actor: Actor, uai: str, *, letter_type: str,
                       academy_link_id: int | None = None, typed_url: str | None = None) -> SettingsChange:
    """D2: the letter type, and for « Mixte » and « ENT seul » the ENT address — one of the
    academy's (`academy_link_id`) or typed (`typed_url`). « Téléservices » keeps the address
    stored (it is neither shown nor sent while that type is chosen)."""
    if letter_type not in LETTER_TYPES:
        raise InvalidInput(errors={"letter_type": "Choisissez le type de courrier."})
    school = get_school(uow, uai, for_change=True)
    before = {"letter_type": school.letter_type, "ent_url": school.ent_url}
    ent_url = school.ent_url
    if letter_type in ENT_LETTER_TYPES:
        if academy_link_id is not None:
            link = uow.session.get(AcademyEntLink, academy_link_id) if _is_row_id(academy_link_id) else None
            if link is None or link.academy_code != school.academy_code:
                raise InvalidInput(errors={"ent_choice": "Cet ENT ne fait pas partie de la liste de l'académie."})
            try:
                ent_url = check_web_address(link.url, missing="")
            except InvalidInput:
                raise InvalidInput(errors={"ent_choice": "L'adresse de cet ENT dans la liste de l'académie n'est pas "
                                                      "valide : saisissez l'adresse de l'ENT."}) from None
        else:
            missing = (f"Le type de courrier « {LETTER_TYPES[letter_type]} » demande l'adresse de l'ENT : "
                       "choisissez-la dans la liste de l'académie ou saisissez-la.")
            try:
                ent_url = check_web_address(typed_url, missing=missing)
            except InvalidInput as error:
                raise InvalidInput(errors={"ent_url": str(error)}) from None
    school.letter_type, school.ent_url = letter_type, ent_url
    change = _apply(uow, school, before, {"letter_type": letter_type, "ent_url": ent_url})
    if change.changed:
        summary = f"Type de courrier « {LETTER_TYPES[letter_type]} »"
        if letter_type in ENT_LETTER_TYPES:
            summary += f", adresse de l'ENT {ent_url}"
        record(uow.session, actor, school_uai=uai, action="settings.ent", summary=summary,
               target="ENT et courrier de notification", detail={"before": change.before, "after": change.after})
    uow.commit()
    return change


# --- D4 contact link ------------------------------------------------------------------------------

NO_SCHOOL_EMAIL = ("Le lien de contact ne peut pas être paramétré : aucune adresse de messagerie n'est définie "
                   "pour l'établissement.")


def school_emails(uow: UnitOfWork, uai: str) -> list[SchoolEmail]:
    return list(uow.session.scalars(select(SchoolEmail).where(SchoolEmail.school_uai == uai)
                                    .order_by(SchoolEmail.address, SchoolEmail.id)))


def set_contact_link(uow: UnitOfWork, actor: Actor, uai: str, *, active: bool,
                     email_id: int | None) -> SettingsChange:
    """D4: the portal's contact link, active or not, and the school address it sends to (one of
    the school's configured addresses). Impossible while the school has none."""
    school = get_school(uow, uai, for_change=True)
    emails = school_emails(uow, uai)
    if not emails:
        raise InvalidInput(errors={"contact_active": NO_SCHOOL_EMAIL})
    address = school.contact_email
    if email_id is not None:
        chosen = next((email for email in emails if email.id == email_id), None)
        if chosen is None:
            raise InvalidInput(errors={"contact_email": "Cette adresse n'est pas une adresse de l'établissement."})
        address = chosen.address
    elif active:
        address = None
    if active and address not in {email.address for email in emails}:
        raise InvalidInput(errors={"contact_email": "Choisissez l'adresse de messagerie à laquelle les familles "
                                                 "écriront."})
    before = {"contact_active": bool(school.contact_active), "contact_email": school.contact_email}
    school.contact_active, school.contact_email = active, address
    change = _apply(uow, school, before, {"contact_active": active, "contact_email": address})
    if change.changed:
        summary = f"Lien de contact actif vers {address}" if active else "Lien de contact non actif"
        record(uow.session, actor, school_uai=uai, action="settings.contact", summary=summary,
               target="lien de contact", detail={"before": change.before, "after": change.after})
    uow.commit()
    return change


# --- D5 useful links ------------------------------------------------------------------------------

MAX_LINK_LABEL = 200  # the column, and UsefulLinkSchema.label


def useful_links(uow: UnitOfWork, uai: str) -> list[UsefulLink]:
    """In creation order (the portal's order)."""
    return list(uow.session.scalars(select(UsefulLink).where(UsefulLink.school_uai == uai)
                                    .order_by(UsefulLink.created_at, UsefulLink.id)))


def useful_link(uow: UnitOfWork, uai: str, link_id: int) -> UsefulLink:
    link = uow.session.get(UsefulLink, link_id) if _is_row_id(link_id) else None
    if link is None or link.school_uai != uai:
        raise NotFound("Ce lien n'existe pas.")
    return link


def _checked_link(label: str | None, url: str | None) -> tuple[str, str]:
    errors = {}
    label = " ".join((label or "").split())
    if not label:
        errors["label"] = "Le libellé est obligatoire."
    elif len(label) > MAX_LINK_LABEL:
        errors["label"] = f"Le libellé ne doit pas dépasser {MAX_LINK_LABEL} caractères."
    checked_url = ""
    try:
        checked_url = check_web_address(url, missing="L'adresse internet (url) est obligatoire.")
    except InvalidInput as error:
        errors["url"] = str(error)
    if errors:
        raise InvalidInput(errors=errors)
    return label, checked_url


def add_useful_link(uow: UnitOfWork, actor: Actor, uai: str, *, label: str | None,
                    url: str | None) -> UsefulLink:
    """D5: a new link, shown after the existing ones."""
    label, url = _checked_link(label, url)
    school = get_school(uow, uai, for_change=True)
    link = UsefulLink(school_uai=uai, label=label, url=url)
    uow.session.add(link)
    uow.session.flush()
    announce_settings(uow, school)
    record(uow.session, actor, school_uai=uai, action="settings.useful_link_added",
           summary=f"Lien utile ajouté : « {label} » ({url})", target=f"lien utile {link.id}",
           detail={"label": label, "url": url})
    uow.commit()
    return link


def update_useful_link(uow: UnitOfWork, actor: Actor, uai: str, link_id: int, *, label: str | None,
                       url: str | None) -> SettingsChange:
    """D5: a link keeps its place in the list when it is changed."""
    link = useful_link(uow, uai, link_id)
    label, url = _checked_link(label, url)
    before = {"label": link.label, "url": link.url}
    link.label, link.url = label, url
    change = _apply(uow, get_school(uow, uai, for_change=True), before, {"label": label, "url": url})
    if change.changed:
        record(uow.session, actor, school_uai=uai, action="settings.useful_link_changed",
               summary=f"Lien utile modifié : « {label} » ({url})", target=f"lien utile {link_id}",
               detail={"before": change.before, "after": change.after})
    uow.commit()
    return change


def delete_useful_link(uow: UnitOfWork, actor: Actor, uai: str, link_id: int) -> UsefulLink:
    link = useful_link(uow, uai, link_id)
    uow.session.delete(link)
    uow.session.flush()
    announce_settings(uow, get_school(uow, uai, for_change=True))
    record(uow.session, actor, school_uai=uai, action="settings.useful_link_deleted",
           summary=f"Lien utile supprimé : « {link.label} » ({link.url})", target=f"lien utile {link_id}",
           detail={"label": link.label, "url": link.url})
    uow.commit()
    return link
