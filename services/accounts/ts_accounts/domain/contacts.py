"""Email addresses as families type them and as SIECLE holds them."""
from __future__ import annotations

import re

_EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[A-Za-z]{2,}$")


def is_valid_email(value: str | None) -> bool:
    """A usable address: something@domain.tld, no spaces (« jean.dupont@gmail » or
    « dupont.gmail.com » are not). SIECLE keeps such addresses as typed: they are flagged to
    staff and never used to send anything."""
    return bool(value) and bool(_EMAIL.match(value.strip()))
