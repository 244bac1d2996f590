"""Rules about schools: the UAI code."""
from __future__ import annotations

import re

_UAI = re.compile(r"^[0-9]{7}[A-Z]$")


class InvalidUai(ValueError):
    pass


def normalise_uai(value: str) -> str:
    """Upper-case, trimmed UAI of the right shape; raises InvalidUai with a French reason.
    (The key letter is not recomputed: SIECLE is the authority on codes, and test or demo codes
    such as 0541234X do not always carry a real key.)"""
    uai = (value or "").strip().upper()
    if not _UAI.match(uai):
        raise InvalidUai(f"« {value} » n'est pas un code UAI (7 chiffres suivis d'une lettre, ex. 0541234X)")
    return uai
