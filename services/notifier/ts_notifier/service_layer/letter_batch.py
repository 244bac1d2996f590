"""What a batch of letters (D2, D3) prepares once, whatever the channel: the school's fields, the
lists of services, the first-connection steps, the data-protection mention, the compiled templates
(compiled once per process and source, see letter_templates). Each letter then only renders its
small templates with its own values (`LetterBatch.values`): on paper (letter_pages) or by email
(letter_emails).

Temporary passwords only pass through memory: nothing here writes a file or a row (J3)."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, TemplateError
from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from ts_notifier.adapters.orm import SchoolLetterSettings
from ts_notifier.domain import letters as domain
from ts_notifier.domain.letters import GUARDIANS, HEADER, SchoolIdentity
from ts_notifier.service_layer import letter_templates as templates
from ts_shared.calendar import french_date

log = logging.getLogger(__name__)

LAYOUT = Path(__file__).resolve().parent.parent / "templates" / "letters"
layout = Environment(loader=FileSystemLoader(str(LAYOUT)), undefined=StrictUndefined, autoescape=True,
                     trim_blocks=True, lstrip_blocks=True)

# The value of {{ coupon_refus }} in a guardian's paper letter: a mark that the page layout
# replaces by the coupon in the bottom frame. It cannot come from a school's text (the sanitiser
# drops HTML comments) nor from a recipient's data (escaped).
COUPON_MARK = Markup("<!--ts:coupon-refus-->")
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
class LetterBatch:
    """What the letters of one school, date and channel share; `values(letter)` adds one letter's own."""

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
            "mention_cnil": Markup(layout.get_template("mention_cnil.html").render()),
        }
        steps = layout.get_template("premiere_connexion.html")
        self.steps = {audience: Markup(steps.render(guardian=audience == GUARDIANS, paper=self.channel == PAPER))
                      for audience in (GUARDIANS, domain.STUDENTS)}
        self.coupon = layout.get_template("coupon.html" if self.channel == PAPER else "coupon_email.html")
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

    def render(self, template: Template, values: dict) -> str:
        """A part of one letter, in French: « d'Alexandre », never « de Alexandre »."""
        return domain.elide(template.render(values), values)

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
            values["coupon_refus"] = COUPON_MARK if self.channel == PAPER else Markup(self.render(self.coupon, values))
        else:
            values["coupon_refus"] = ""
        return values


def prepare_batch(session: Session, school_uai: str, *, public_url: str, on: date, channel: str,
                  overrides: dict[str, str] | None = None) -> LetterBatch:
    school = school_identity(session, school_uai)
    stored = {part: row.source for part, row in templates.customised_parts(session, school_uai).items()}
    return LetterBatch(school=school, url=domain.letter_url(school, public_url), on=on, channel=channel,
                       overrides=dict(overrides or {}), stored=stored)
