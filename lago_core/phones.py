"""Phone numbers: parsed and normalised to E.164 with libphonenumber; mainland China by default."""

from __future__ import annotations

import phonenumbers

from lago_core.errors import InvalidInput

__all__ = ["normalise_phone"]


def normalise_phone(raw: str, default_region: str = "CN") -> str:
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException:
        raise InvalidInput("not a phone number", code="invalid_phone") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput("not a valid phone number", code="invalid_phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
