"""Form validators with French messages, for every form of the console and the portal (WTForms'
own messages are English)."""
from __future__ import annotations

from wtforms.validators import Length


def at_most(characters: int) -> Length:
    return Length(max=characters, message=f"{characters} caractères au plus.")
