"""Folding people's names: for logins (B2) and for spotting duplicate guardians (A2)."""
from __future__ import annotations

import re
import unicodedata

# Letters NFKD does not decompose into ASCII.
_SPECIAL_LETTERS = str.maketrans({
    "œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L",
    "đ": "d", "Đ": "D", "ð": "d", "þ": "th",
})
_SEPARATORS = re.compile(r"[\s'’‘`´\-_.]+")
_NOT_LOGIN = re.compile(r"[^a-z0-9-]")


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", (text or "").translate(_SPECIAL_LETTERS))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def login_part(text: str) -> str:
    """« Jean-François », « D'Almeida », « de La Tour » → jean-francois, d-almeida, de-la-tour."""
    folded = _SEPARATORS.sub("-", strip_accents(text).lower())
    return _NOT_LOGIN.sub("", folded).strip("-").replace("--", "-")


def folded_name(text: str) -> str:
    """Case, accents, spaces, hyphens and apostrophes ignored: « Le Gall » = « LE-GALL » = « legall »."""
    return re.sub(r"[^a-z0-9]", "", strip_accents(text).lower())


NAME_KEY_LENGTH = 100


def name_key(text: str | None) -> str:
    """The key a name is found and sorted by (E2): folded as `folded_name`, so that « lefe »
    finds Lefèvre and « N’D » N'Diaye; stored beside the name and indexed."""
    return folded_name(text or "")[:NAME_KEY_LENGTH]


def french_order(*names: str | None) -> tuple[str, ...]:
    """A sort key putting names in French order: letters first, then accents, then case, each
    weighing only between names otherwise equal (Bénard before Brunet; Benard, benard, Bénard)."""
    return (tuple(name_key(name) for name in names) + tuple((name or "").lower() for name in names)
            + tuple(name or "" for name in names))
