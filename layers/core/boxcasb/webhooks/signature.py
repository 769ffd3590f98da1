"""Box webhook (V2) delivery check: pure and standard library only.

It runs first in the webhook intake Lambda, before anything heavy is imported, so it must never
import boxsdk, boto3 or pydantic (a test checks this). Box signs every delivery twice:

    BOX-SIGNATURE-PRIMARY   = base64(HMAC-SHA256(primary key,   body bytes + BOX-DELIVERY-TIMESTAMP bytes))
    BOX-SIGNATURE-SECONDARY = base64(HMAC-SHA256(secondary key, body bytes + BOX-DELIVERY-TIMESTAMP bytes))

A delivery is valid when either signature matches the key of the same name, so a key can be rotated
without losing deliveries. `verify_delivery` never raises on what arrives over the wire: every
malformed header or body is a `Rejection`.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from json.encoder import encode_basestring_ascii

SIGNATURE_VERSION = "1"
SIGNATURE_ALGORITHM = "HmacSHA256"

DEFAULT_MAX_AGE = timedelta(minutes=10)
DEFAULT_MAX_SKEW = timedelta(seconds=60)
DEFAULT_MAX_BODY_BYTES = 1024 * 1024

# Lower case, as API Gateway's HTTP API delivers them; lookups are case-insensitive.
TIMESTAMP_HEADER = "box-delivery-timestamp"
PRIMARY_SIGNATURE_HEADER = "box-signature-primary"
SECONDARY_SIGNATURE_HEADER = "box-signature-secondary"
VERSION_HEADER = "box-signature-version"
ALGORITHM_HEADER = "box-signature-algorithm"
_SIGNATURE_HEADERS = frozenset(
    {
        TIMESTAMP_HEADER,
        PRIMARY_SIGNATURE_HEADER,
        SECONDARY_SIGNATURE_HEADER,
        VERSION_HEADER,
        ALGORITHM_HEADER,
    }
)


@dataclass(frozen=True)
class WebhookKeys:
    """The app's two signature keys. A rotation may leave one unset; at least one must be set.

    The keys never appear in `repr` (and so not in logs or tracebacks); only whether each is set.
    """

    primary: str | None = field(repr=False)
    secondary: str | None = field(repr=False)

    def __post_init__(self) -> None:
        for name in ("primary", "secondary"):
            key = getattr(self, name)
            if key is None:
                continue
            if not isinstance(key, str):
                raise TypeError(f"the {name} webhook key must be a string or None")
            if not key:
                raise ValueError(f"the {name} webhook key is empty: use None for a key that is not set")
            try:
                key.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError(f"the {name} webhook key is not valid text") from None
        if self.primary is None and self.secondary is None:
            raise ValueError("at least one webhook key (primary or secondary) must be set")

    def __repr__(self) -> str:
        def state(key: str | None) -> str:
            return "set" if key is not None else "unset"

        return f"WebhookKeys(primary=<{state(self.primary)}>, secondary=<{state(self.secondary)}>)"


class Rejection(StrEnum):
    """Why a delivery was refused. The value is safe to log and to count as a metric dimension."""

    BODY_TOO_LARGE = "body_too_large"
    """The body is larger than `max_body_bytes`; checked before any other work."""
    MISSING_HEADERS = "missing_signature_headers"
    """No timestamp, version or algorithm header, or neither signature header (or an empty one)."""
    CONFLICTING_HEADERS = "conflicting_signature_headers"
    """A signature header appears twice (in different letter cases) with different values."""
    UNSUPPORTED_VERSION = "unsupported_signature_version"
    """`BOX-SIGNATURE-VERSION` is not "1"."""
    UNSUPPORTED_ALGORITHM = "unsupported_signature_algorithm"
    """`BOX-SIGNATURE-ALGORITHM` is not "HmacSHA256"."""
    UNPARSEABLE_TIMESTAMP = "unparseable_timestamp"
    """`BOX-DELIVERY-TIMESTAMP` is not ISO 8601 with a UTC offset (a timestamp without one is refused)."""
    STALE_TIMESTAMP = "stale_timestamp"
    """The delivery is older than `max_age`: a replay, or a retry we can no longer trust."""
    FUTURE_TIMESTAMP = "future_timestamp"
    """The delivery claims to come from further in the future than `max_skew` allows."""
    SIGNATURE_MISMATCH = "signature_mismatch"
    """No signature header matches its key (for the raw body nor boxsdk's escaped form of it)."""


def sign(body: bytes, timestamp: str, key: str) -> str:
    """The value Box puts in a signature header for `body` sent at `timestamp`, signed with `key`."""
    return _b64_digest(key.encode("utf-8"), body, timestamp.encode("utf-8")).decode("ascii")


def verify_delivery(
    headers: Mapping[str, str],
    body: bytes,
    keys: WebhookKeys,
    now: datetime,
    *,
    max_age: timedelta = DEFAULT_MAX_AGE,
    max_skew: timedelta = DEFAULT_MAX_SKEW,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> Rejection | None:
    """None when the delivery is Box's and fresh, else why it is refused.

    Accepted when `now - max_age <= timestamp <= now + max_skew` and the primary signature matches
    the primary key or the secondary signature the secondary key. Cheap checks come first; the HMAC
    is computed only for a body within `max_body_bytes` and a timestamp inside the window.
    `now` must be timezone-aware (a naive `now` is a programming error and raises ValueError).
    """
    if now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    if len(body) > max_body_bytes:
        return Rejection.BODY_TOO_LARGE
    found = _read_headers(headers)
    if isinstance(found, Rejection):
        return found
    timestamp, primary_signature, secondary_signature = found
    signed_timestamp = _check_timestamp(timestamp, now, max_age, max_skew)
    if isinstance(signed_timestamp, Rejection):
        return signed_timestamp
    checks = [
        (key.encode("utf-8"), expected)
        for key, received in ((keys.primary, primary_signature), (keys.secondary, secondary_signature))
        if key is not None and (expected := _ascii(received)) is not None
    ]
    if _any_matches(checks, body, signed_timestamp):
        return None
    # boxsdk's validate_message (box_sdk_gen/managers/webhooks.py) accepts a signature over the raw
    # body *or* over `escape_unicode(body)` (box_sdk_gen/internal/utils.py): backslashes not before
    # "/" doubled, every character outside printable ASCII written as a JSON escape (\n, \r, \t,
    # \uXXXX in lower-case hex, surrogate pairs above U+FFFF). It once tried only the escaped form,
    # which refused genuine deliveries with non-ASCII characters (box/box-python-sdk-gen#596): Box
    # signs the bytes it sends, so the raw form is what matters. We try the escaped form too, after
    # the raw one, so that every delivery boxsdk accepts, we accept (a property test holds us to
    # it). The escaped form is a function of the received body, so forging it needs the key like
    # the raw one. What it adds is a replay, inside the time window, of a captured delivery
    # rewritten so that its escaped form is the signed bytes (e.g. "\u00e9" sent as "é", "\\n" as
    # "\n"); an exact replay is possible inside the window anyway, so the intake must be idempotent.
    escaped = _escaped_like_boxsdk(body) if checks else None
    if escaped is not None and _any_matches(checks, escaped, signed_timestamp):
        return None
    return Rejection.SIGNATURE_MISMATCH


def _read_headers(headers: Mapping[str, str]) -> tuple[str, str | None, str | None] | Rejection:
    """(timestamp, primary signature, secondary signature), once version and algorithm are right."""
    found: dict[str, str | None] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not name.isascii():
            continue  # header names are ASCII; str.lower() maps some non-ASCII letters to ASCII ones
        lowered = name.lower()
        if lowered not in _SIGNATURE_HEADERS:
            continue
        text = value if isinstance(value, str) else None  # a non-text value counts as absent
        if lowered in found and found[lowered] != text:
            return Rejection.CONFLICTING_HEADERS
        found[lowered] = text
    timestamp = found.get(TIMESTAMP_HEADER)
    version = found.get(VERSION_HEADER)
    algorithm = found.get(ALGORITHM_HEADER)
    primary_signature = found.get(PRIMARY_SIGNATURE_HEADER)
    secondary_signature = found.get(SECONDARY_SIGNATURE_HEADER)
    if not timestamp or not version or not algorithm or not (primary_signature or secondary_signature):
        return Rejection.MISSING_HEADERS
    if version != SIGNATURE_VERSION:
        return Rejection.UNSUPPORTED_VERSION
    if algorithm != SIGNATURE_ALGORITHM:
        return Rejection.UNSUPPORTED_ALGORITHM
    return timestamp, primary_signature, secondary_signature


def _check_timestamp(
    timestamp: str, now: datetime, max_age: timedelta, max_skew: timedelta
) -> bytes | Rejection:
    """The timestamp's bytes, as signed, when it is inside the window."""
    sent_at = _parse_timestamp(timestamp)
    if sent_at is None:
        return Rejection.UNPARSEABLE_TIMESTAMP
    try:
        signed = timestamp.encode("utf-8")
    except UnicodeEncodeError:  # fromisoformat takes any character, even a lone surrogate, as "T"
        return Rejection.UNPARSEABLE_TIMESTAMP
    age = now - sent_at
    if age > max_age:
        return Rejection.STALE_TIMESTAMP
    if -age > max_skew:
        return Rejection.FUTURE_TIMESTAMP
    return signed


def _any_matches(checks: list[tuple[bytes, bytes]], body: bytes, timestamp: bytes) -> bool:
    return any(hmac.compare_digest(_b64_digest(key, body, timestamp), expected) for key, expected in checks)


def _parse_timestamp(value: str) -> datetime | None:
    # The same parse as boxsdk (`date_time_from_string`), except that a timestamp without an offset
    # is refused: boxsdk would read it in the machine's local time zone.
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.utcoffset() is None:
        return None
    return parsed


def _ascii(signature: str | None) -> bytes | None:
    """The received signature as bytes for compare_digest (which refuses non-ASCII str); None if unusable."""
    if not signature:
        return None
    try:
        return signature.encode("ascii")
    except UnicodeEncodeError:
        return None  # base64 is ASCII: such a header cannot match


def _digest(key: bytes, body: bytes, timestamp: bytes) -> bytes:
    mac = hmac.new(key, body, hashlib.sha256)  # no body + timestamp copy of a large body
    mac.update(timestamp)
    return mac.digest()


def _b64_digest(key: bytes, body: bytes, timestamp: bytes) -> bytes:
    return binascii.b2a_base64(_digest(key, body, timestamp), newline=False)  # = base64.b64encode


_LEFT_AS_IS = bytes(range(0x20, 0x7F)).replace(b"\\", b"")


def _escaped_like_boxsdk(body: bytes) -> bytes | None:
    r"""boxsdk's `escape_unicode` of the body as UTF-8 text; None when that is the body itself or not UTF-8.

    A body that is not UTF-8 cannot reach boxsdk as text, so it has only the raw form. boxsdk uses
    a regex with a Python callback per character, which a forged 1 MiB body of "é" turns into
    about a second of CPU; this gives the same result (a property test compares them) from a few
    passes in C, tens of milliseconds at worst:
    1. Backslashes doubled, except one before "/" (a run of n before "/" becomes 2n - 1).
    2. \x08 and \x0c written as \u0008 and \u000c: the JSON encoder below writes them \b and \f.
    3. The stdlib's JSON string encoder: every character outside printable ASCII becomes \n, \r,
       \t or \uXXXX (lower-case hex, surrogate pairs), as in boxsdk. It also writes " as \" and a
       backslash as \\, which boxsdk does not, so
    4. those two are undone. A " in the encoder's output only ever follows its own backslash, so
       each \" found is one escape. Then every backslash in the output starts an escape, and only
       \\ has a backslash second, so replacing \\ left to right meets exactly those escapes.
    """
    if not body.translate(None, _LEFT_AS_IS):
        return None  # printable ASCII without a backslash: the escaped form is the body
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    doubled = text.replace("\\", "\\\\").replace("\\\\/", "\\/")
    doubled = doubled.replace("\x08", "\\u0008").replace("\x0c", "\\u000c")
    escaped = encode_basestring_ascii(doubled)[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if escaped == text:
        return None
    return escaped.encode("ascii")
