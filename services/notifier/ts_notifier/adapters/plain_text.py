"""The plain-text part of an email, from its HTML (inscriptis: laid out as a browser would show it,
tables included).

Browser defaults (inscriptis' strict profile), except what a plain-text email reader expects: list
items marked « - » from the left margin, and a « -- » line where the HTML has a rule (before the
school's address)."""
from __future__ import annotations

import re

from inscriptis import get_text
from inscriptis.css_profiles import STRICT_CSS_PROFILE
from inscriptis.html_properties import Display
from inscriptis.model.config import ParserConfig
from inscriptis.model.html_element import HtmlElement
from inscriptis.model.tag import CustomHtmlTagHandlerMapping


def _start_dashed_list(state, _attributes) -> None:
    state.li_counter.append("- ")


def _end_dashed_list(state) -> None:
    state.li_counter.pop()


def _rule(state, _attributes) -> None:
    state.tags[-1].write("--")


_CONFIG = ParserConfig(
    css={**STRICT_CSS_PROFILE,
         "ul": HtmlElement(display=Display.block, padding_inline=2),  # the width of the item mark
         "ol": HtmlElement(display=Display.block, padding_inline=3),
         "hr": HtmlElement(display=Display.block, margin_before=1, margin_after=1)},
    custom_html_tag_handler_mapping=CustomHtmlTagHandlerMapping(
        start_tag_mapping={"ul": _start_dashed_list, "hr": _rule}, end_tag_mapping={"ul": _end_dashed_list}))
_BLANK_LINES = re.compile(r"\n{3,}")


def html_to_text(html: str) -> str:
    """The text of `html`: paragraphs apart, line breaks and lists kept, the markup dropped."""
    lines = (line.rstrip() for line in get_text(html, _CONFIG).strip().split("\n"))  # table cells are padded
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)) + "\n"
