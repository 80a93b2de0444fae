"""Pure rules of the back office: the credit code's check digit, opening hours, review states."""

from __future__ import annotations

import enum
import itertools
import re
from collections.abc import Mapping, Sequence

from lago_core.errors import InvalidInput

__all__ = [
    "CREDIT_CODE_CHARSET",
    "DocumentKind",
    "ItemKind",
    "MerchantStatus",
    "Weekday",
    "check_credit_code",
    "check_email",
    "check_opening_hours",
    "credit_code_check_char",
]

# GB 32100-2015 统一社会信用代码: 18 characters from 31 (digits and capitals without I, O, S, V, Z,
# which are too easily misread). The 18th is a check character over the first 17.
CREDIT_CODE_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_VALUE = {c: i for i, c in enumerate(CREDIT_CODE_CHARSET)}
# W_i = 3^(i-1) mod 31, as tabulated in the standard.
_CREDIT_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
# Positions 3-8 are the administrative division code (GB/T 2260): digits only.
_CREDIT_SHAPE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$")

MAX_RANGES_PER_DAY = 4
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$|^24:00$")


class MerchantStatus(enum.StrEnum):
    """draft → submitted → approved | rejected → resubmitted → approved | rejected → …"""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    RESUBMITTED = "resubmitted"


# The registration and its documents change only while nobody is reviewing them and they have
# not been approved: what an admin approved is what stays on file.
EDITABLE = frozenset({MerchantStatus.DRAFT, MerchantStatus.REJECTED})
UNDER_REVIEW = frozenset({MerchantStatus.SUBMITTED, MerchantStatus.RESUBMITTED})


class DocumentKind(enum.StrEnum):
    BUSINESS_LICENCE = "business_licence"  # 营业执照, required before submitting
    FOOD_PERMIT = "food_permit"  # 食品经营许可证
    OTHER_PERMIT = "other_permit"  # 行业许可证 and other qualifications


class ItemKind(enum.StrEnum):
    SERVICE = "service"
    PRODUCT = "product"


class Weekday(enum.StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


def credit_code_check_char(first17: str) -> str:
    """The GB 32100-2015 check character for the first 17 characters of a code."""
    total = sum(_CREDIT_VALUE[c] * w for c, w in zip(first17, _CREDIT_WEIGHTS, strict=True))
    return CREDIT_CODE_CHARSET[(31 - total % 31) % 31]


def check_credit_code(raw: str) -> str:
    """The code in canonical form (upper case, no spaces); InvalidInput unless it is valid."""
    code = raw.replace(" ", "").upper()
    if not _CREDIT_SHAPE.match(code):
        raise InvalidInput(
            "a unified social credit code is 18 characters: digits and capital letters "
            "other than I, O, S, V and Z",
            code="invalid_credit_code",
        )
    if credit_code_check_char(code[:17]) != code[17]:
        raise InvalidInput(
            "the unified social credit code's check character is wrong: check for a typo",
            code="invalid_credit_code",
        )
    return code


def _minutes(hhmm: str) -> int:
    if not _HHMM.match(hhmm):
        raise InvalidInput(f"{hhmm!r} is not a time of day HH:MM", code="invalid_opening_hours")
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def check_opening_hours(
    hours: Mapping[str, Sequence[Sequence[str]]],
) -> dict[str, list[list[str]]]:
    """Opening hours per weekday as sorted, non-overlapping [open, close) ranges within the day.

    A day left out is a closed day. A range past midnight is two ranges, one on each day: that
    keeps "is it open now?" a lookup in one day's list. 24:00 closes at midnight.
    """
    result: dict[str, list[list[str]]] = {}
    for day, ranges in hours.items():
        if day not in Weekday.__members__.values():
            raise InvalidInput(
                f"{day!r} is not a weekday (mon … sun)", code="invalid_opening_hours"
            )
        if len(ranges) > MAX_RANGES_PER_DAY:
            raise InvalidInput(
                f"at most {MAX_RANGES_PER_DAY} opening ranges a day", code="invalid_opening_hours"
            )
        spans = []
        for pair in ranges:
            if len(pair) != 2:
                raise InvalidInput("a range is [open, close]", code="invalid_opening_hours")
            start, end = _minutes(pair[0]), _minutes(pair[1])
            if start == 24 * 60 or start >= end:
                raise InvalidInput(
                    f"{pair[0]}-{pair[1]}: a range closes after it opens, on the same day",
                    code="invalid_opening_hours",
                )
            spans.append((start, end, [pair[0], pair[1]]))
        spans.sort()
        for before, after in itertools.pairwise(spans):
            if after[0] < before[1]:
                raise InvalidInput(f"{day}: opening ranges overlap", code="invalid_opening_hours")
        if spans:
            result[str(day)] = [s[2] for s in spans]
    return result


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def check_email(value: str) -> str:
    """A contact e-mail address, trimmed and with a lower-case domain; InvalidInput otherwise.
    Only its shape is checked: whether it receives mail is the provider's to find out."""
    value = value.strip()
    if len(value) > 254 or not _EMAIL.match(value):
        raise InvalidInput("not an e-mail address", code="invalid_email")
    local, _, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}"
