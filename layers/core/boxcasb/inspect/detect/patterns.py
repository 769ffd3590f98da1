"""The built-in detectors: patterns that find candidates, checks that keep only real values.

Patterns are deliberately loose where a checksum or number plan decides (cards, IBANs, SSNs) and
tight where nothing can be checked (phones, secrets). No value may be glued to a longer run of
its own kind of characters (`not_before` / `not_after`): no card inside a longer number, no key
inside a longer token. Precision trade-offs, in short:
- credit_card: 13-19 digits bare, 4-4-4-4(-1..3) or 4-6-4/5 with one kind of separator (space or
  dash), a known network's IIN and length, Luhn. A grouped number that goes on with the same
  separator and a digit is part of something longer and is skipped.
- us_ssn: AAA-GG-SSSS or AAA GG SSSS anywhere; nine bare digits only within 20 characters after
  "SSN", "SS#" or "social security", because nine digits alone are mostly not SSNs.
- iban: upper case, compact or in groups of four; registry length and mod 97 (a random string
  of the right shape passes 1 time in 97, so the country's length is checked too).
- phone: "+" international forms (8-15 digits, E.164) and North American numbers written with
  separators, e.g. (212) 555-0142 or 212-555-0142. Ten bare digits and national formats of other
  countries are not matched: they can't be told apart from order numbers and amounts.
- email: the usual address shape, local part at most 64 bytes, 254 in all, labels checked.
- Secrets: the documented token formats (fixed prefix, alphabet, length); an AWS secret access key
  has no prefix, so it counts only within a line after "aws ... secret" or "secret access key",
  and only if it looks random (both cases and a digit or symbol). A private key header counts
  only with key material after it, a JWT only if its header decodes to JSON naming an "alg",
  a Slack token only with its numeric team part; test keys (sk_test_) are not secrets.
"""

from __future__ import annotations

import re

from boxcasb.inspect.detect import masking
from boxcasb.inspect.detect.model import Detector, Expression, Span, char_class
from boxcasb.inspect.detect.validators import (
    card_number_valid,
    iban_valid,
    jwt_header_valid,
    nanp_valid,
    ssn_valid,
)

ALNUM = "A-Za-z0-9"
_DIGITS = char_class("0-9")
_LOWER = char_class("a-z")
_UPPER = char_class("A-Z")
_BASE64 = char_class(ALNUM + "/+")
_EMAIL_LOCAL = char_class(ALNUM + "._%+-")
_MAX_LOCAL_PART = 64
_MAX_EMAIL = 254  # the longest address SMTP carries


def _continues(buffer: bytes, start: int, end: int, separator: int) -> bool:
    """The grouped number goes on with the same separator and a digit, on either side."""
    before = start >= 2 and buffer[start - 1] == separator and buffer[start - 2] in _DIGITS
    after = end + 1 < len(buffer) and buffer[end] == separator and buffer[end + 1] in _DIGITS
    return before or after


def _card(buffer: bytes, start: int, end: int) -> Span | None:
    raw = buffer[start:end]
    separators = set(raw.translate(None, b"0123456789"))
    if len(separators) > 1 or (separators and _continues(buffer, start, end, separators.pop())):
        return None
    digits = raw.translate(None, b" -").decode("ascii")
    return (start, end) if card_number_valid(digits) else None


def _ssn(buffer: bytes, start: int, end: int) -> Span | None:
    raw = buffer[start:end]
    separator = raw[3]
    if raw[6] != separator or _continues(buffer, start, end, separator):
        return None
    text = raw.decode("ascii")
    return (start, end) if ssn_valid(text[:3], text[4:6], text[7:]) else None


def _ssn_after_keyword(buffer: bytes, start: int, end: int) -> Span | None:
    # The pattern puts no digit between the keyword and the nine digits: they are a whole run.
    text = buffer[end - 9 : end].decode("ascii")
    return (end - 9, end) if ssn_valid(text[:3], text[3:5], text[5:]) else None


_IBAN_HEAD = re.compile(rb"[A-Z]{2}[0-9]{2}")


def _iban(buffer: bytes, start: int, end: int) -> Span | None:
    # Hyperscan reports one start per end, the leftmost: in "REF AB12 DE89 3704 ..." that is "AB12".
    # A grouped IBAN may start at any later group, so those are tried too, left to right.
    step = 5 if buffer[start + 4 : start + 5] == b" " else end - start
    for head in range(start, end - 14, step):
        if _IBAN_HEAD.match(buffer, head) and iban_valid(buffer[head:end].replace(b" ", b"").decode("ascii")):
            return head, end
    return None


def _email(buffer: bytes, at: int, end: int) -> Span | None:
    """The match starts at the "@" (tracking a start through every word is what makes hyperscan
    slow), so the local part is found here: at most 64 bytes, so one more is read to reject it."""
    start = at
    floor = max(0, at - _MAX_LOCAL_PART - 1)
    while start > floor and buffer[start - 1] in _EMAIL_LOCAL:
        start -= 1
    while start < at and buffer[start] == 46:  # 46 is ".": a leading one is punctuation ("...bob@")
        start += 1
    local = buffer[start:at]
    if not local or at - start > _MAX_LOCAL_PART or end - start > _MAX_EMAIL:
        return None
    if local[-1] == 46 or b".." in local:
        return None
    labels = buffer[at + 1 : end].split(b".")
    if any(not 0 < len(label) <= 63 or label[0] == 45 or label[-1] == 45 for label in labels):
        return None  # 45 is "-": a label neither starts nor ends with one
    return start, end


_SEPARATOR = re.compile(rb"[ .-]")
_NANP = re.compile(rb"(?:1[ .-]?)?(?:\((\d{3})\) ?|(\d{3})([ .-]))(\d{3})([ .-])\d{4}")


def _plus_phone(buffer: bytes, start: int, end: int) -> Span | None:
    raw = buffer[start:end]
    digits = raw.translate(None, b" .-()+").decode("ascii")
    if not 8 <= len(digits) <= 15:
        return None
    if digits[0] == "1":
        return (start, end) if len(digits) == 11 and nanp_valid(digits[1:4], digits[4:7]) else None
    # After the country code, one kind of separator: "+12.50 13.75" is two amounts, not a number.
    separators = set(_SEPARATOR.findall(raw.replace(b" (", b"(").replace(b") ", b")"))[1:])
    return (start, end) if len(separators) <= 1 else None


def _nanp_phone(buffer: bytes, start: int, end: int) -> Span | None:
    parts = _NANP.fullmatch(buffer, start, end)
    if parts is None or (parts[3] is not None and parts[3] != parts[5]):
        return None  # 212-555.0142 mixes two kinds of separator
    area, exchange = (parts[1] or parts[2]).decode("ascii"), parts[4].decode("ascii")
    return (start, end) if nanp_valid(area, exchange) else None


def _aws_secret(buffer: bytes, start: int, end: int) -> Span | None:
    value_start = end - 40
    if buffer[value_start - 1] in _BASE64:
        return None  # the last 40 characters of a longer run
    chars = set(buffer[value_start:end])
    random_looking = chars & _LOWER and chars & _UPPER and chars - _LOWER - _UPPER
    return (value_start, end) if random_looking else None


_KEY_BODY = re.compile(rb"\s{0,4}(?:[A-Za-z0-9+/]{24}|[A-Za-z][A-Za-z-]{0,20}: )")


def _private_key(buffer: bytes, start: int, end: int) -> Span | None:
    # Key material (or PEM / PGP armor headers) after the header, not a mention of the format.
    return (start, end) if _KEY_BODY.match(buffer, end, end + 48) else None


def _slack(buffer: bytes, start: int, end: int) -> Span | None:
    parts = buffer[start:end].split(b"-")  # xoxb-<team number>-...: a number follows the kind
    return (start, end) if len(parts) >= 3 and parts[1].isdigit() else None


def _jwt(buffer: bytes, start: int, end: int) -> Span | None:
    header = buffer[start : buffer.index(b".", start)]
    return (start, end) if jwt_header_valid(header) else None


def _token(core: str, max_len: int, alphabet: str, fold_before: bool = True) -> Expression:
    """A secret with a documented prefix, standing alone: not glued to its own alphabet."""
    return Expression(core, max_len, not_before=alphabet, not_after=alphabet, fold_before=fold_before)


_WORD = ALNUM + "_"
_URLSAFE = ALNUM + "_-"

BUILTINS: tuple[Detector, ...] = (
    Detector(
        "credit_card",
        (
            Expression(r"[2-6][0-9]{12,18}", 19, _card, ALNUM, ALNUM),
            Expression(r"[2-6][0-9]{3}(?:[ -][0-9]{4}){3}(?:[ -][0-9]{1,3})?", 23, _card, ALNUM, ALNUM),
            Expression(r"3[0-9]{3}[ -][0-9]{6}[ -][0-9]{4,5}", 17, _card, ALNUM, ALNUM),  # Amex, Diners
        ),
        masking.card,
    ),
    Detector(
        "us_ssn",
        (
            Expression(r"[0-9]{3}[ -][0-9]{2}[ -][0-9]{4}", 11, _ssn, ALNUM, ALNUM),
            Expression(
                r"(?i:\bss[n#]|\bsocial\s{1,3}security)[^0-9\n]{0,20}[0-9]{9}",
                48,
                _ssn_after_keyword,
                not_after=ALNUM,
            ),
        ),
        masking.ssn,
    ),
    Detector(
        "iban",
        (
            Expression(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}", 34, _iban, ALNUM, ALNUM),
            Expression(r"[A-Z]{2}[0-9]{2}(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?", 42, _iban, ALNUM, ALNUM),
        ),
        masking.iban,
    ),
    Detector(
        "email",
        # The reach covers the local part too: _email reads up to 65 bytes before the "@".
        (
            Expression(
                r"@[A-Za-z0-9][A-Za-z0-9.-]*\.[A-Za-z]{2,24}",
                _MAX_EMAIL + _MAX_LOCAL_PART + 1,
                _email,
                not_after=ALNUM + "-",
            ),
        ),
        masking.email,
    ),
    Detector(
        "phone",
        (
            Expression(r"\+[1-9][0-9]{6,14}", 16, _plus_phone, ALNUM + "+", ALNUM),
            Expression(
                r"\+[1-9][0-9]{0,3}(?:[ .-]?\([0-9]{1,4}\))?[ .-]?[0-9]{1,8}(?:[ .-][0-9]{1,8}){1,5}",
                66,
                _plus_phone,
                ALNUM + "+",
                ALNUM,
            ),
            Expression(
                r"(?:1[ .-]?)?(?:\([2-9][0-9]{2}\) ?|[2-9][0-9]{2}[ .-])[2-9][0-9]{2}[ .-][0-9]{4}",
                18,
                _nanp_phone,
                ALNUM + "+(",  # "(" too: the core may start with one, and "+1 ..." is the form above
                ALNUM,
            ),
        ),
        masking.phone,
    ),
    Detector(
        "aws_access_key_id",
        (_token(r"(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}", 20, ALNUM),),
        masking.secret(b"AKIA", b"ASIA", b"ABIA", b"ACCA"),
    ),
    Detector(
        "aws_secret_access_key",
        (
            Expression(
                r"(?i:aws[^\n]{0,24}secret|secret[_ .-]?access[_ .-]?key)[^\n]{0,24}[A-Za-z0-9/+]{40}",
                100,
                _aws_secret,
                not_after=ALNUM + "/+=",
            ),
        ),
        masking.secret(),
    ),
    Detector(
        "private_key",
        (
            Expression(
                r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----",
                45,
                _private_key,
            ),
        ),
        masking.header_line,
        context_after=False,
    ),
    Detector(
        "github_token",
        (
            _token(r"gh[pousr]_[A-Za-z0-9]{36,}", 255, _WORD, fold_before=False),
            _token(r"github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}", 93, _WORD),
        ),
        masking.secret(b"github_pat_", b"ghp_", b"gho_", b"ghu_", b"ghs_", b"ghr_"),
    ),
    Detector(
        "slack_token",
        (Expression(r"xox[abeprs]-[A-Za-z0-9-]{10,}", 255, _slack, _URLSAFE, _URLSAFE, fold_before=False),),
        masking.secret(b"xoxa-", b"xoxb-", b"xoxe-", b"xoxp-", b"xoxr-", b"xoxs-"),
    ),
    Detector(
        "google_api_key",
        (_token(r"AIza[A-Za-z0-9_-]{35}", 39, _URLSAFE),),
        masking.secret(b"AIza"),
    ),
    Detector(
        "stripe_key",
        (_token(r"[rs]k_live_[A-Za-z0-9]{24,}", 255, _WORD, fold_before=False),),
        masking.secret(b"sk_live_", b"rk_live_"),
    ),
    Detector(
        "jwt",
        (
            # 8 KiB: far above real tokens (hundreds of bytes to a few KiB); it sizes the overlap.
            Expression(
                r"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{16,}",
                8192,
                _jwt,
                ALNUM + "_.-",
                _URLSAFE,
                fold_before=False,
            ),
        ),
        masking.secret(b"eyJ"),
    ),
)

BUILTIN_DETECTORS: tuple[str, ...] = tuple(detector.name for detector in BUILTINS)
