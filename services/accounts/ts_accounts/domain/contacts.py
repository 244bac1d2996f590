"""Email addresses, phone numbers and postal addresses as families type them and as SIECLE holds
them; and whether two guardian records of two schools are the same person (B8)."""
from __future__ import annotations

from dataclasses import dataclass

import phonenumbers

from ts_accounts.domain.names import folded_name
from ts_shared.emails import is_valid_email  # the one rule, shared with the console's forms


def normalised_phone(value: str | None) -> str | None:
    """One writing of a phone number (E.164), whatever the typing: « 06 12 34 56 78 »,
    « +33 (0)6 12 34 56 78 » and « 0033612345678 » are the same number. None if it is not one."""
    if not value or not value.strip():
        return None
    try:
        number = phonenumbers.parse(value, "FR")  # numbers written without a country are French
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@dataclass(frozen=True)
class ContactCard:
    """What a school knows of a guardian: name and the ways to reach them."""

    first_name: str
    last_name: str
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    address_lines: tuple[str, ...] = ()
    postal_code: str | None = None
    city: str | None = None

    def _emails(self) -> set[str]:
        return {email.strip().lower() for email in self.emails if is_valid_email(email)}

    def _phones(self) -> set[str]:
        return {phone for phone in map(normalised_phone, self.phones) if phone}

    def _address(self) -> str | None:
        lines = folded_name(" ".join(self.address_lines))
        if not lines or not (self.postal_code or self.city):
            return None  # a street without a town (or a town alone) says too little
        return "|".join((lines, folded_name(self.postal_code or ""), folded_name(self.city or "")))


def same_person(known: ContactCard, other: ContactCard) -> bool:
    """B8: a guardian of the previous school and one of the arriving school are the same person
    only if they have the same name AND share a contact detail (email, phone or postal address):
    a name alone is what anyone importing a file could type."""
    if (folded_name(known.first_name), folded_name(known.last_name)) != (folded_name(other.first_name),
                                                                         folded_name(other.last_name)):
        return False
    address = known._address()
    return bool(known._emails() & other._emails() or known._phones() & other._phones()
                or (address is not None and address == other._address()))
