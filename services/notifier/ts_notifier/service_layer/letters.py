"""Rendering the notification letters (D2, D3): a batch of letters as one PDF (one page each), or
one letter as an email.

The batch is rendered as ONE xhtml2pdf document: for speed, everything that does not depend on
the recipient is prepared once per batch — the school's fields, the lists of services, the
first-connection steps, the data-protection mention, the QR code of the letters' URL, the
compiled templates (compiled once per process and source, see letter_templates) — and each
letter only renders its five small templates (the header's three placed blocks and the rest of
it, the body) into a page. The page layout is in templates/letters (letters.css): each block is
printed in its own frame and shrinks to fit it, so a letter never spans two pages.

Temporary passwords only pass through memory: nothing here writes a file or a row (J3)."""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date
from html import escape as escape_html
from html.parser import HTMLParser
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, TemplateError
from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from ts_notifier.adapters.orm import SchoolLetterSettings
from ts_notifier.adapters.pdf import html_to_pdf, qr_png_data_uri
from ts_notifier.domain import letters as domain
from ts_notifier.domain.letters import GUARDIANS, HEADER, HEADER_ZONES, SchoolIdentity
from ts_notifier.service_layer import letter_templates as templates
from ts_notifier.service_layer.family_emails import RenderedEmail
from ts_shared.calendar import french_date

log = logging.getLogger(__name__)

LAYOUT = Path(__file__).resolve().parent.parent / "templates" / "letters"
_layout = Environment(loader=FileSystemLoader(str(LAYOUT)), undefined=StrictUndefined, autoescape=True,
                      trim_blocks=True, lstrip_blocks=True)

# The value of {{ coupon_refus }} in a guardian's paper letter: a mark that the page layout
# replaces by the coupon in the bottom frame. It cannot come from a school's text (the sanitiser
# drops HTML comments) nor from a recipient's data (escaped).
COUPON_MARK = Markup("<!--ts:coupon-refus-->")
NEXT_FRAME = "<pdf:nextframe></pdf:nextframe>"  # explicitly closed: html5lib would nest what follows
PAPER, EMAIL = "paper", "email"


@dataclass(frozen=True)
class LetterData:
    letter_case: str
    recipient: dict  # as NotificationRequestedSchema.recipient
    student: dict  # as NotificationRequestedSchema.student
    login: str
    temporary_password: str | None  # clear, in memory only
    kept_from_previous_school: bool = False


class LetterSettingsMissing(LookupError):
    """The notifier has not received the school's settings (school.settings_changed) yet."""

    def __init__(self, school_uai: str):
        super().__init__(f"Les informations de l'établissement {school_uai} ne sont pas encore connues du service "
                         f"des courriers : réessayez dans quelques instants.")
        self.school_uai = school_uai


def school_identity(session: Session, school_uai: str) -> SchoolIdentity:
    row = session.get(SchoolLetterSettings, school_uai)
    if row is None:
        raise LetterSettingsMissing(school_uai)
    return SchoolIdentity(
        uai=row.uai, name=row.name, academy_code=row.academy_code, academy_name=row.academy_name,
        letter_type=row.letter_type, ent_url=row.ent_url, open_services=tuple(row.open_services or ()),
        service_labels=dict(row.service_labels or {}), address_lines=tuple(row.address_lines or ()),
        phone=row.phone, city=row.city, head_name=row.head_name)


# --- a batch: what is prepared once -------------------------------------------------------------------

def _lines(lines) -> Markup:
    return Markup("<br>").join(escape(line) for line in lines if line)


def _services(labels: list[str], channel: str) -> Markup:
    """The open services: on paper one compact paragraph (« • Vie scolaire   • Notes … », each
    label kept on one line), by email a list. The gap between two services is an empty span as
    wide as three spaces (letters.css), not three &nbsp;: xhtml2pdf makes a fragment of each
    &nbsp; and lays each out on its own, which made this paragraph the dearest of the letter."""
    if channel == EMAIL:
        return Markup('<ul class="services">{}</ul>').format(
            Markup("").join(Markup("<li>{}</li>").format(label) for label in labels))
    if not labels:
        return Markup('<p class="services">(aucun service ouvert pour le moment)</p>')
    items = (Markup("•&nbsp;{}").format(Markup("&nbsp;").join(escape(word) for word in label.split()))
             for label in labels)
    return Markup('<p class="services">{}</p>').format(Markup('<span class="espace-3"></span> ').join(items))


@dataclass
class _Batch:
    school: SchoolIdentity
    url: str
    on: date
    channel: str
    overrides: dict[str, str] = field(default_factory=dict)  # part → unsaved source (previews)
    stored: dict[str, str] = field(default_factory=dict)  # part → the school's saved source

    def __post_init__(self):
        school = self.school
        self.common = {
            "etablissement": school.name,
            "academie": domain.academy_label(school),
            "adresse_etablissement": _lines(school.address_lines),
            "telephone_etablissement": school.phone or "",
            "ville": domain.school_city(school),
            "date": french_date(self.on),
            "chef_etablissement": school.head_name or "",
            "adresse_portail": self.url,
            "services": _services(domain.service_labels(school), self.channel),
            "mention_cnil": Markup(_layout.get_template("mention_cnil.html").render()),
        }
        steps = _layout.get_template("premiere_connexion.html")
        self.steps = {audience: Markup(steps.render(guardian=audience == GUARDIANS, paper=self.channel == PAPER))
                      for audience in (GUARDIANS, domain.STUDENTS)}
        self.coupon = _layout.get_template("coupon.html" if self.channel == PAPER else "coupon_email.html")
        self.header: templates.CompiledHeader = self._compile(HEADER, templates.compile_header)
        self.bodies: dict[str, Template] = {}

    def source(self, part: str) -> str:
        return self.overrides.get(part) or self.stored.get(part) or templates.default_source(part)

    def body(self, letter_case: str) -> Template:
        if letter_case not in self.bodies:
            self.bodies[letter_case] = self._compile(letter_case, templates.compile_body)
        return self.bodies[letter_case]

    def _compile(self, part: str, compile_):
        source = self.source(part)
        if part in self.overrides:
            return compile_(source)  # a preview: its errors are the point
        try:
            if source != templates.default_source(part) and templates.check_source(part, source):
                raise TemplateError("no longer passes the checks")
            return compile_(source)
        except TemplateError as error:
            # A saved text that this version no longer accepts: the letters still go out.
            log.warning("letter part %s of %s cannot be used (%s): the default text is used instead", part,
                        self.school.uai, error)
            return compile_(templates.default_source(part))

    def values(self, letter: LetterData) -> dict:
        values = dict(self.common)
        values.update(domain.letter_values(
            letter.letter_case, letter.recipient, letter.student, login=letter.login,
            temporary_password=letter.temporary_password if letter.letter_case in domain.CASES_WITH_PASSWORD
            else None, kept_from_previous_school=letter.kept_from_previous_school, on=self.on))
        audience = domain.audience(letter.letter_case)
        values["adresse_destinataire"] = _lines(domain.postal_lines(letter.recipient))
        values["premiere_connexion"] = self.steps[audience]
        if audience == GUARDIANS:
            values["coupon_refus"] = COUPON_MARK if self.channel == PAPER else Markup(self.coupon.render(values))
        else:
            values["coupon_refus"] = ""
        return values


def _batch(session: Session, school_uai: str, *, public_url: str, on: date, channel: str,
           overrides: dict[str, str] | None = None) -> _Batch:
    school = school_identity(session, school_uai)
    stored = {part: row.source for part, row in templates.customised_parts(session, school_uai).items()}
    return _Batch(school=school, url=domain.letter_url(school, public_url), on=on, channel=channel,
                  overrides=dict(overrides or {}), stored=stored)


# --- the PDF --------------------------------------------------------------------------------------------

def _geometry() -> dict:
    body_height = domain.PAGE_HEIGHT_MM - domain.BODY_TOP_MM - domain.BOTTOM_MARGIN_MM
    coupon_top = domain.PAGE_HEIGHT_MM - domain.BOTTOM_MARGIN_MM - domain.COUPON_HEIGHT_MM
    return {"sender": domain.SENDER, "place_date": domain.PLACE_DATE, "window": domain.WINDOW, "qr": domain.QR_CODE,
            "left": domain.LEFT_MM, "width": domain.CONTENT_WIDTH_MM, "body_top": domain.BODY_TOP_MM,
            "body_height": body_height, "body_height_coupon": coupon_top - 3 - domain.BODY_TOP_MM,
            "coupon_top": coupon_top, "coupon_height": domain.COUPON_HEIGHT_MM}


GEOMETRY = _geometry()


def _page(batch: _Batch, letter: LetterData) -> tuple[str, bool]:
    """One letter's page: its blocks in frame order, and whether it carries the coupon."""
    values = batch.values(letter)
    zones = batch.header.zones
    body = batch.body(letter.letter_case).render(values)
    with_coupon = COUPON_MARK in body
    parts = []
    for zone in HEADER_ZONES:
        parts.append(zones[zone].render(values))
        parts.append(NEXT_FRAME)
    parts.append('<div class="corps">')
    parts.append(zones[templates.REST].render(values))
    parts.append(body.replace(COUPON_MARK, "") if with_coupon else body)
    parts.append("</div>")
    if with_coupon:
        parts.append(NEXT_FRAME)
        parts.append(batch.coupon.render(values))
    return "".join(parts), with_coupon


def _letters_html(batch: _Batch, letters: list[LetterData]) -> str:
    pages = [_page(batch, letter) for letter in letters]
    qr = qr_png_data_uri(batch.url)
    css = _layout.get_template("letters.css").render(g=GEOMETRY, first_with_coupon=pages[0][1], qr=True)
    head = (f'<html><head><meta charset="utf-8"><title>Courriers de notification – {escape_html(batch.school.name)}'
            f'</title><style>{css}</style></head><body>'
            f'<div id="qr-code"><img src="{qr}" width="{domain.QR_CODE["width"] - 6}mm" '
            f'height="{domain.QR_CODE["width"] - 6}mm"><p class="qr-legende">Flashez ce code pour ouvrir '
            f'{escape_html(batch.url)}</p></div>')
    chunks = [head]
    for index, (page, with_coupon) in enumerate(pages):
        if index:
            template = "avec_coupon" if with_coupon else "sans_coupon"
            chunks.append(f'<pdf:nexttemplate name="{template}"></pdf:nexttemplate><pdf:nextpage></pdf:nextpage>')
        chunks.append(page)
    chunks.append("</body></html>")
    return "".join(chunks)


def letters_html(session: Session, school_uai: str, letters: list[LetterData], *, public_url: str, on: date) -> str:
    """The HTML document the PDF of these letters is rendered from (benchmarks compare renderers on it)."""
    if not letters:
        raise ValueError("no letter to render")
    batch = _batch(session, school_uai, public_url=public_url, on=on, channel=PAPER)
    return _letters_html(batch, letters)


def render_letters_pdf(session: Session, school_uai: str, letters: list[LetterData], *, public_url: str,
                       on: date) -> bytes:
    """One page per letter (a letter never spans two pages), in the given order."""
    return html_to_pdf(letters_html(session, school_uai, letters, public_url=public_url, on=on))


# --- the email --------------------------------------------------------------------------------------------

def render_letter_email(session: Session, school_uai: str, letter: LetterData, *, public_url: str,
                        on: date) -> RenderedEmail:
    """The same text as an email (subject, plain text, HTML) for the email channel: the header's
    subject line and the body; the postal blocks, the QR code and the paper coupon stay on paper
    (the coupon becomes a sentence)."""
    batch = _batch(session, school_uai, public_url=public_url, on=on, channel=EMAIL)
    values = batch.values(letter)
    header = Markup(batch.header.zones[templates.REST].render(values))
    body = Markup(batch.body(letter.letter_case).render(values))
    subject = f"{batch.school.name} – {values['objet'][:1].upper()}{values['objet'][1:]}"
    html = _layout.get_template("email.html").render(subject=subject, header=header, body=body, school=batch.school)
    return RenderedEmail(subject=subject, text=html_to_text(html), html=html)


_WHITESPACE = re.compile(r"\s+")


class _TextExtractor(HTMLParser):
    BLOCKS = frozenset({"p", "div", "ul", "ol", "table", "tr", "h1", "h2", "h3", "hr", "body", "title"})

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.lists: list[list[int]] = []  # per open list: [is_ordered, counter]
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("title", "style", "script", "head"):
            self.skip += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in ("ul", "ol"):
            self.lists.append([tag == "ol", 0])
            self.parts.append("\n")
        elif tag == "li":
            prefix = "- "
            if self.lists and self.lists[-1][0]:
                self.lists[-1][1] += 1
                prefix = f"{self.lists[-1][1]}. "
            self.parts.append("\n" + prefix)
        elif tag == "hr":
            self.parts.append("\n\n--\n")
        elif tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag):
        if tag in ("title", "style", "script", "head"):
            self.skip = max(self.skip - 1, 0)
        elif tag in ("ul", "ol"):
            if self.lists:
                self.lists.pop()
            self.parts.append("\n\n")
        elif tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data):
        if not self.skip:
            # Whitespace runs become one space, kept at the edges: « Identifiant : <strong>x</strong> ».
            self.parts.append(_WHITESPACE.sub(" ", data))


def html_to_text(html: str) -> str:
    """The plain-text version of an email's HTML: paragraphs, line breaks and lists kept."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    lines = [" ".join(line.split()) for line in "".join(extractor.parts).replace("\xa0", " ").split("\n")]
    text, blank = [], False
    for line in lines:
        if line:
            text.append(line)
            blank = False
        elif not blank and text:
            text.append("")
            blank = True
    return "\n".join(text).strip() + "\n"


# --- previews with the fictitious family ---------------------------------------------------------------

def sample_letter(letter_case: str) -> LetterData:
    guardian = domain.audience(letter_case) == GUARDIANS
    return LetterData(
        letter_case=letter_case,
        recipient=domain.SAMPLE_GUARDIAN if guardian else domain.SAMPLE_STUDENT_RECIPIENT,
        student=domain.SAMPLE_STUDENT,
        login=domain.SAMPLE_LOGINS[domain.audience(letter_case)],
        temporary_password=domain.SAMPLE_PASSWORD if letter_case in domain.CASES_WITH_PASSWORD else None,
        kept_from_previous_school=letter_case in domain.CONTINUITY_CASES)


def preview_cases(part: str) -> list[str]:
    """The letters a preview of `part` shows: the header on a guardian's and a student's letter."""
    return ["guardian_new", "student_new"] if part == HEADER else [part]


def preview_pdf(session: Session, school_uai: str, part: str, *, public_url: str, on: date,
                source: str | None = None) -> bytes:
    """The PDF of `part` (its saved text, or `source` not saved yet) on the sample family's
    letters, with the school's settings."""
    overrides = {part: source} if source is not None else None
    batch = _batch(session, school_uai, public_url=public_url, on=on, channel=PAPER, overrides=overrides)
    return html_to_pdf(_letters_html(batch, [sample_letter(case) for case in preview_cases(part)]))
