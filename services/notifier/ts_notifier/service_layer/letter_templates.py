"""The sources of the letter parts (D3) and the sandbox that renders them.

A part is a small HTML text with fields, e.g. « Identifiant : <strong>{{ identifiant }}</strong> ».
What a school may write is deliberately narrow, and checked when it is saved:

- HTML: sanitised with nh3, keeping only the tags letters need (paragraphs, line breaks, bold,
  italics, underline, lists, simple tables, span/div) and, as attribute, only the classes of the
  letters' stylesheet (`LETTER_CLASSES`);
- fields: only those of `domain.letters.FIELDS`, shown as is (`{{ identifiant }}`), with a few
  text filters (`{{ eleve|upper }}`), compared (`==`, `!=`) and combined (`and`, `or`, `not`) in
  conditions (`{% if mot_de_passe %}…{% else %}…{% endif %}`). No attribute or item access, no
  call, no loop, no assignment, no inclusion: nothing that could reach Python objects. The
  templates are also rendered in Jinja's immutable sandbox with StrictUndefined, as a second wall;
- the data-protection mention: each body must show `{{ mention_cnil }}` unconditionally — at the
  top level of the text, neither inside a condition nor through a filter. That field, not the
  wording, is the marker: the wording belongs to the platform (it can be updated for every school
  at once) and a school cannot water it down;
- the header's three placed blocks (`<div class="expediteur">`, `"lieu-date"`, `"destinataire"`)
  must each be complete on their own (a condition may not straddle two blocks), since each is
  printed at its own place on the page.

Rendering the part with the sample family is the last check (service_layer.letter_parts)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache, cache
from html.parser import HTMLParser
from pathlib import Path

import nh3
from jinja2 import StrictUndefined, Template, TemplateSyntaxError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment
from sqlalchemy import select
from sqlalchemy.orm import Session

from ts_notifier.adapters.orm import LetterPart
from ts_notifier.domain.letters import CNIL_FIELD, FIELD_NAMES, HEADER, HEADER_ZONES, LETTER_CLASSES, PARTS

DEFAULTS = Path(__file__).resolve().parent.parent / "templates" / "letters" / "parts"
MAX_SOURCE_LENGTH = 20_000
# Nesting: the default texts go 3 tags and 4 template levels deep. Far deeper texts would exhaust
# Python's recursion (Jinja's parser and compiler, xhtml2pdf), so they are refused up front.
MAX_HTML_DEPTH = 20
MAX_TEMPLATE_DEPTH = 30
TOO_NESTED = (f"Le modèle imbrique des conditions {{% if %}}, des filtres, des « not » ou des parenthèses sur plus "
              f"de {MAX_TEMPLATE_DEPTH} niveaux : simplifiez-le.")
REST = "reste"  # what the header holds outside its three placed blocks (the subject line)

ALLOWED_TAGS = frozenset({"p", "br", "strong", "b", "em", "i", "u", "small", "ul", "ol", "li", "table", "thead",
                          "tbody", "tr", "td", "th", "span", "div"})
ALLOWED_FILTERS = ("upper", "lower", "capitalize", "title", "trim")
_VOID_TAGS = frozenset({"br", "hr", "img", "wbr"})

environment = ImmutableSandboxedEnvironment(autoescape=True, undefined=StrictUndefined, trim_blocks=True,
                                            lstrip_blocks=True)
environment.filters = {name: environment.filters[name] for name in ALLOWED_FILTERS}
environment.tests = {}
environment.globals = {}


class LetterPartRejected(ValueError):
    """A part that may not be saved, with every reason, in French."""

    def __init__(self, messages: list[str]):
        super().__init__(" ".join(messages))
        self.messages = messages


# --- sanitising -------------------------------------------------------------------------------------

JINJA_TOKEN = re.compile(r"{[{%#].*?[}%#]}", re.S)


def sanitise(source: str) -> str:
    """The part's HTML with only the tags and classes letters use (nh3)."""
    return nh3.clean(source.replace("\r\n", "\n"), tags=set(ALLOWED_TAGS),
                     attributes={"td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}},
                     allowed_classes={tag: set(LETTER_CLASSES) for tag in ALLOWED_TAGS}, link_rel=None).strip()


def sanitising_changed_text(raw: str, sanitised: str) -> bool:
    """Whether the sanitiser removed something (spacing and the forms of <br> aside)."""
    def canonical(text: str) -> str:
        text = re.sub(r"<br\s*/?>", "<br>", text.replace("\r\n", "\n"))
        text = re.sub(r"</?tbody>", "", text)
        return re.sub(r"\s+", "", text).replace("&amp;", "&").replace("&gt;", ">").replace("&lt;", "<")

    return canonical(raw) != canonical(sanitised)


# --- checks -------------------------------------------------------------------------------------------

_CONSTRUCTS = {
    nodes.For: "les boucles {% for %}",
    nodes.Assign: "les affectations {% set %}",
    nodes.AssignBlock: "les affectations {% set %}",
    nodes.Macro: "les macros",
    nodes.CallBlock: "les appels {% call %}",
    nodes.FilterBlock: "les blocs {% filter %}",
    nodes.With: "les blocs {% with %}",
    nodes.Block: "les blocs {% block %}",
    nodes.Extends: "l'héritage {% extends %}",
    nodes.Include: "les inclusions {% include %}",
    nodes.Import: "les imports",
    nodes.FromImport: "les imports",
    nodes.Call: "les appels de fonction",
    nodes.Getattr: "l'accès aux attributs (« .nom »)",
    nodes.Getitem: "l'accès par indice (« [ ] »)",
    nodes.Slice: "l'accès par indice (« [ ] »)",
    nodes.Test: "les tests « is »",
    nodes.Tuple: "les listes de valeurs",
    nodes.List: "les listes de valeurs",
    nodes.Dict: "les dictionnaires",
    nodes.BinExpr: "les calculs",
    nodes.UnaryExpr: "les calculs",
}
_ALLOWED_NODES = (nodes.Template, nodes.Output, nodes.TemplateData, nodes.Name, nodes.Const, nodes.If, nodes.Not,
                  nodes.And, nodes.Or, nodes.Compare, nodes.Operand, nodes.Filter, nodes.Concat, nodes.CondExpr)


def _syntax_message(error: TemplateSyntaxError, zone: str | None = None) -> str:
    where = f" (ligne {error.lineno})" if error.lineno else ""
    if zone:
        return (f"Le bloc « {zone} » de l'en-tête n'est pas complet à lui seul{where} : une condition "
                f"{{% if %}} doit s'ouvrir et se fermer dans le même bloc.")
    detail = (error.message or "").rstrip(".")
    return (f"Le texte n'est pas un modèle valide{where} : vérifiez que chaque champ {{{{ … }}}} et chaque "
            f"instruction {{% … %}} est bien fermé, et que chaque {{% if %}} a son {{% endif %}} "
            f"(détail : {detail}).")


def _walk(node: nodes.Node, errors: list[str], seen: set[str]) -> None:
    message: str | None
    construct = next((label for kind, label in _CONSTRUCTS.items() if isinstance(node, kind)), None)
    if construct is not None:
        message = (f"Le modèle utilise {construct}, ce qui n'est pas autorisé dans un courrier : utilisez "
                   f"seulement les champs de la liste et des conditions {{% if %}}.")
        if message not in seen:
            seen.add(message)
            errors.append(message)
        return
    if not isinstance(node, _ALLOWED_NODES):
        message = f"Le modèle utilise une construction non autorisée ({type(node).__name__})."
        if message not in seen:
            seen.add(message)
            errors.append(message)
        return
    if isinstance(node, nodes.Name):
        if node.ctx != "load":
            message = f"Le champ {{{{ {node.name} }}}} ne peut pas être modifié dans un modèle."
        elif node.name not in FIELD_NAMES:
            message = (f"Le champ {{{{ {node.name} }}}} n'existe pas : utilisez un champ de la liste "
                       f"« Champs insérables ».")
        else:
            message = None
        if message and message not in seen:
            seen.add(message)
            errors.append(message)
    if isinstance(node, nodes.Filter):
        if node.name not in ALLOWED_FILTERS:
            message = (f"Le filtre « |{node.name} » n'est pas autorisé (filtres possibles : "
                       f"{', '.join(ALLOWED_FILTERS)}).")
            if message not in seen:
                seen.add(message)
                errors.append(message)
        if node.kwargs or node.dyn_args or node.dyn_kwargs or any(not isinstance(a, nodes.Const) for a in node.args):
            message = "Les filtres ne prennent que des valeurs écrites telles quelles (« |trim »)."
            if message not in seen:
                seen.add(message)
                errors.append(message)
    for child in node.iter_child_nodes():
        _walk(child, errors, seen)


def _shows_cnil_mention(template: nodes.Template) -> bool:
    """`{{ mention_cnil }}` as such at the top level of the text (never conditional, never filtered)."""
    return any(isinstance(output, nodes.Output) and any(isinstance(item, nodes.Name) and item.name == CNIL_FIELD
                                                        for item in output.nodes)
               for output in template.body)


class _DepthMeter(HTMLParser):
    """The deepest nesting of HTML elements (the parser is iterative: any depth is measured)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.depth = self.deepest = 0

    def handle_starttag(self, tag, attrs):
        if tag not in _VOID_TAGS:
            self.depth += 1
            self.deepest = max(self.deepest, self.depth)

    def handle_endtag(self, tag):
        if tag not in _VOID_TAGS:
            self.depth = max(self.depth - 1, 0)


def html_depth(source: str) -> int:
    meter = _DepthMeter()
    meter.feed(source)
    meter.close()
    return meter.deepest


def template_depth(tree: nodes.Node) -> int:
    """The depth of a parsed template, walked with a list rather than recursion."""
    deepest, pending = 0, [(tree, 1)]
    while pending:
        node, depth = pending.pop()
        deepest = max(deepest, depth)
        pending.extend((child, depth + 1) for child in node.iter_child_nodes())
    return deepest


def fields_used(source: str) -> set[str]:
    try:
        tree = environment.parse(source)
    except (TemplateSyntaxError, RecursionError):
        return set()
    return {name.name for name in tree.find_all(nodes.Name)}


def check_source(part: str, source: str) -> list[str]:
    """Every reason why `source` (already sanitised) may not be the text of `part`; [] if none."""
    if part not in PARTS:
        return [f"La partie « {part} » n'existe pas."]
    if not source.strip():
        return ["Le texte est vide : utilisez « Réinitialiser » pour revenir au texte par défaut."]
    if len(source) > MAX_SOURCE_LENGTH:
        return [f"Le texte est trop long ({len(source)} caractères, {MAX_SOURCE_LENGTH} au plus)."]
    depth = html_depth(source)
    if depth > MAX_HTML_DEPTH:
        return [f"Le texte imbrique des balises sur {depth} niveaux ({MAX_HTML_DEPTH} au plus) : un courrier n'en "
                f"demande pas tant, simplifiez sa mise en forme."]
    try:
        tree = environment.parse(source)
    except TemplateSyntaxError as error:
        return [_syntax_message(error)]
    except RecursionError:  # the parser recurses once per level of « not », parentheses…
        return [TOO_NESTED]
    if template_depth(tree) > MAX_TEMPLATE_DEPTH:
        return [TOO_NESTED]
    errors: list[str] = []
    _walk(tree, errors, set())
    if part != HEADER and not _shows_cnil_mention(tree):
        errors.append("La mention relative à la protection des données {{ mention_cnil }} est obligatoire : elle "
                      "ne peut être ni supprimée, ni placée dans une condition {% if %}, ni passée dans un filtre.")
    if part == HEADER and not errors:
        for zone, text in split_header(source).items():
            try:
                environment.parse(text)
            except TemplateSyntaxError as error:
                errors.append(_syntax_message(error, zone))
    return errors


# --- the header's placed blocks ---------------------------------------------------------------------

class _ZoneFinder(HTMLParser):
    """Where the header's top-level <div class="expediteur|lieu-date|destinataire"> start and end."""

    def __init__(self, source: str):
        super().__init__(convert_charrefs=False)
        self.source = source
        self.line_starts = [0] + [match.end() for match in re.finditer("\n", source)]
        self.depth = 0
        self.open_zone: tuple[str, int, int] | None = None  # zone, start offset, depth at its opening
        self.zones: dict[str, tuple[int, int]] = {}

    def _offset(self) -> int:
        line, column = self.getpos()
        return self.line_starts[line - 1] + column

    def handle_starttag(self, tag, attrs):
        if tag in _VOID_TAGS:
            return
        if tag == "div" and self.depth == 0 and self.open_zone is None:
            classes = (dict(attrs).get("class") or "").split()
            zone = next((name for name in HEADER_ZONES if name in classes and name not in self.zones), None)
            if zone:
                self.open_zone = (zone, self._offset(), self.depth)
        self.depth += 1

    def handle_startendtag(self, tag, attrs):
        pass

    def handle_endtag(self, tag):
        if tag in _VOID_TAGS:
            return
        self.depth = max(self.depth - 1, 0)
        if tag == "div" and self.open_zone and self.depth == self.open_zone[2]:
            zone, start, _ = self.open_zone
            end = self.source.index(">", self._offset()) + 1
            self.zones[zone] = (start, end)
            self.open_zone = None


def split_header(source: str) -> dict[str, str]:
    """The header's three placed blocks (absent ones empty) and the rest (`REST`), in order."""
    finder = _ZoneFinder(source)
    finder.feed(source)
    finder.close()
    pieces = {zone: "" for zone in HEADER_ZONES}
    rest, cursor = [], 0
    for zone, (start, end) in sorted(finder.zones.items(), key=lambda item: item[1][0]):
        rest.append(source[cursor:start])
        pieces[zone] = source[start:end]
        cursor = end
    rest.append(source[cursor:])
    pieces[REST] = "".join(rest).strip()
    return pieces


# --- sources and compiled parts --------------------------------------------------------------------------

@cache
def default_source(part: str) -> str:
    if part not in PARTS:
        raise KeyError(part)
    return (DEFAULTS / f"{part}.html").read_text(encoding="utf-8").strip()


def customised_parts(session: Session, school_uai: str) -> dict[str, LetterPart]:
    rows = session.scalars(select(LetterPart).where(LetterPart.school_uai == school_uai)).all()
    return {row.part: row for row in rows}


@dataclass(frozen=True)
class CompiledHeader:
    zones: dict[str, Template]  # the three placed blocks and REST


@lru_cache(maxsize=512)
def compile_header(source: str) -> CompiledHeader:
    return CompiledHeader({zone: environment.from_string(text) for zone, text in split_header(source).items()})


@lru_cache(maxsize=512)
def compile_body(source: str) -> Template:
    return environment.from_string(source)
