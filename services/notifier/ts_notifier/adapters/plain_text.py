"""The plain-text part of an email, from its HTML: paragraphs, line breaks and lists kept."""
from __future__ import annotations

import re
from html.parser import HTMLParser

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

