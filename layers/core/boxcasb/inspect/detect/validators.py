"""Checksums and number plans that turn a pattern's candidate into a finding. Pure, on candidates only."""

from __future__ import annotations

import base64
import binascii
import json

# ISO 13616 (SWIFT IBAN registry): the IBAN length of every country that issues them.
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28,
    "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28,
    "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22,
    "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
    "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip

_ANY_LENGTH = frozenset(range(16, 20))


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def card_lengths(digits: str) -> frozenset[int]:
    """The lengths the issuer identification number allows; empty for an IIN no network we know uses."""
    two, three, four, six = int(digits[:2]), int(digits[:3]), int(digits[:4]), int(digits[:6])
    if digits[0] == "4":  # Visa
        return frozenset({13, 16, 19})
    if 51 <= two <= 55 or 2221 <= four <= 2720:  # Mastercard, with the 2-series
        return frozenset({16})
    if two in (34, 37):  # American Express
        return frozenset({15})
    if four == 6011 or two == 65 or 644 <= three <= 649 or 622126 <= six <= 622925:  # Discover
        return _ANY_LENGTH
    if 3528 <= four <= 3589:  # JCB
        return _ANY_LENGTH
    if 300 <= three <= 305 or four == 3095 or two in (36, 38, 39):  # Diners Club
        return frozenset(range(14, 20))
    return frozenset()


def card_number_valid(digits: str) -> bool:
    return len(digits) in card_lengths(digits) and luhn_valid(digits)


def ssn_valid(area: str, group: str, serial: str) -> bool:
    """SSA never issues area 000, 666 or 900-999, group 00 or serial 0000."""
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def iban_valid(compact: str) -> bool:
    """Registry length for the country, then ISO 7064 mod 97-10 over the rearranged number."""
    if IBAN_LENGTHS.get(compact[:2]) != len(compact):
        return False
    rearranged = compact[4:] + compact[:4]
    # Letters count as 10..35: int(c, 36) does exactly that for digits and upper-case letters.
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


def nanp_valid(area: str, exchange: str) -> bool:
    """North American numbering plan: area and exchange start 2-9 and are not N11 service codes."""
    return all(part[0] in "23456789" and part[1:] != "11" for part in (area, exchange))


def jwt_header_valid(segment: bytes) -> bool:
    """A JOSE header: base64url JSON naming its algorithm."""
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4)))
    except (binascii.Error, ValueError):
        return False
    return isinstance(header, dict) and isinstance(header.get("alg"), str)
