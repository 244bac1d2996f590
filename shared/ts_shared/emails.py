"""The one rule for an email address, wherever one is typed or imported (console forms, the
accounts' use cases, SIECLE imports)."""
from __future__ import annotations

import re

_EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[A-Za-z]{2,}$")
MAX_EMAIL_LENGTH = 254  # RFC 5321's limit on a path, and the columns' size


def is_valid_email(value: str | None) -> bool:
    """A usable address: something@domain.tld, no spaces (« jean.dupont@gmail » or
    « dupont.gmail.com » are not). SIECLE keeps such addresses as typed: they are flagged to
    staff and never used to send anything."""
    return value is not None and bool(_EMAIL.match(value.strip()))
