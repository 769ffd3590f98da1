"""Box webhook signatures: our stdlib verifier against boxsdk's `validate_message`, every rejection, the keys.

boxsdk (`WebhooksManager.validate_message`) is the oracle: for generated bodies, timestamps and keys,
signed over the raw body or over boxsdk's own escaped form of it, both must give the same verdict.
Time is frozen by passing `now` to ours and by patching boxsdk's epoch clock.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from box_sdk_gen.internal.utils import escape_unicode
from box_sdk_gen.managers.webhooks import WebhooksManager
from hypothesis import example, given
from hypothesis import strategies as st

from boxcasb.webhooks import signature
from boxcasb.webhooks.keys import WebhookKeyProvider, WebhookKeysNotConfigured, parse_keys
from boxcasb.webhooks.signature import (
    DEFAULT_MAX_BODY_BYTES,
    Rejection,
    WebhookKeys,
    sign,
    verify_delivery,
)

PRIMARY = "SamplePrimaryKey0123456789abcdef"
SECONDARY = "SampleSecondaryKeyZYXWVUTSRQPONM"
KEYS = WebhookKeys(primary=PRIMARY, secondary=SECONDARY)
NOW = datetime(2026, 11, 27, 13, 0, 0, tzinfo=UTC)  # 05:00:00-08:00
PACIFIC = timezone(timedelta(hours=-8))
BODY = json.dumps(
    {
        "type": "webhook_event",
        "id": "e7f1c8a6-1d0b-4b4e-9c36-7d8f0e1a2b3c",
        "created_at": "2026-11-27T04:59:30-08:00",
        "trigger": "FILE.UPLOADED",
        "webhook": {"id": "1234"},
        "source": {"type": "file", "id": "5678", "name": "Résumé – 2026 📄.pdf"},
        "additional_info": {"path": "All Files/HR"},
    },
    ensure_ascii=False,
).encode("utf-8")
HEADER_NAMES = (
    "box-delivery-timestamp",
    "box-signature-primary",
    "box-signature-secondary",
    "box-signature-version",
    "box-signature-algorithm",
)


def box_timestamp(moment: datetime, tz: timezone = PACIFIC) -> str:
    """How Box writes BOX-DELIVERY-TIMESTAMP: ISO 8601, whole seconds, with an offset."""
    return moment.astimezone(tz).isoformat(timespec="seconds")


TS = box_timestamp(NOW - timedelta(seconds=30))  # 2026-11-27T04:59:30-08:00


def signed_headers(
    body: bytes = BODY,
    timestamp: str = TS,
    primary: str | None = PRIMARY,
    secondary: str | None = SECONDARY,
) -> dict[str, str]:
    """A delivery as API Gateway's HTTP API hands it over (lower-case names); None = header left out."""
    headers = {
        "box-delivery-id": "f96bb54b-ee16-4fc5-aa65-8c2d9e5b546f",
        "box-delivery-timestamp": timestamp,
        "box-signature-version": "1",
        "box-signature-algorithm": "HmacSHA256",
        "content-type": "application/json; charset=UTF-8",
    }
    if primary is not None:
        headers["box-signature-primary"] = sign(body, timestamp, primary)
    if secondary is not None:
        headers["box-signature-secondary"] = sign(body, timestamp, secondary)
    return headers


def verify(headers: dict[str, Any], body: bytes = BODY, keys: WebhookKeys = KEYS, **kwargs: Any) -> Any:
    return verify_delivery(headers, body, keys, NOW, **kwargs)


def boxsdk_accepts(
    body: bytes, headers: dict[str, str], keys: WebhookKeys, now: datetime = NOW, max_age: int = 600
) -> bool:
    with mock.patch(
        "box_sdk_gen.managers.webhooks.get_epoch_time_in_seconds", return_value=int(now.timestamp())
    ):
        return WebhooksManager.validate_message(
            body.decode("utf-8"),
            headers,
            keys.primary,  # type: ignore[arg-type]  # boxsdk tests `primary_key == None` itself
            secondary_key=keys.secondary,
            max_age=max_age,
        )


def escaped_by_boxsdk(body: bytes) -> bytes:
    return escape_unicode(body.decode("utf-8")).encode("utf-8")


def random_case(name: str) -> st.SearchStrategy[str]:
    return st.lists(st.booleans(), min_size=len(name), max_size=len(name)).map(
        lambda upper: "".join(c.upper() if u else c for c, u in zip(name, upper, strict=True))
    )


# --- the happy path and the known-answer vector -------------------------------------------------


def test_sign_matches_an_independent_known_answer() -> None:
    # printf '%s' '{"type":"webhook_event","trigger":"FILE.UPLOADED"}2026-11-27T05:00:00-08:00' \
    #   | openssl dgst -sha256 -hmac SamplePrimaryKey0123456789abcdef -binary | base64
    body = b'{"type":"webhook_event","trigger":"FILE.UPLOADED"}'
    assert sign(body, "2026-11-27T05:00:00-08:00", PRIMARY) == "hJIvJpLN3+4/aCz8r562BwCzay9Saj2wiSlfSpjoos0="


def test_a_signed_delivery_verifies_and_boxsdk_agrees() -> None:
    headers = signed_headers()
    assert verify(headers) is None
    assert boxsdk_accepts(BODY, headers, KEYS)


def test_mixed_case_header_names_verify() -> None:
    headers = {
        ("BOX-DELIVERY-TIMESTAMP" if name == "box-delivery-timestamp" else name.title()): value
        for name, value in signed_headers().items()
    }
    headers["bOx-SiGnAtUrE-vErSiOn"] = headers.pop("Box-Signature-Version")
    assert "box-signature-primary" not in headers
    assert verify(headers) is None


@given(casing=st.tuples(*(random_case(name) for name in HEADER_NAMES)))
def test_any_casing_of_the_header_names_verifies(casing: tuple[str, ...]) -> None:
    lower = signed_headers()
    headers = {cased: lower[name] for name, cased in zip(HEADER_NAMES, casing, strict=True)}
    assert verify(headers) is None


def test_utc_timestamp_written_with_z_verifies() -> None:
    timestamp = "2026-11-27T12:59:30Z"
    assert verify(signed_headers(timestamp=timestamp)) is None


# --- key rotation ---------------------------------------------------------------------------------


def test_only_the_secondary_key_set_verifies_with_the_secondary_signature() -> None:
    keys = WebhookKeys(primary=None, secondary=SECONDARY)
    # Box signs the primary header with a primary key we do not hold (just rotated).
    headers = signed_headers(primary="a-new-primary-key-we-do-not-have")
    assert verify(headers, keys=keys) is None
    assert boxsdk_accepts(BODY, headers, keys)
    assert verify(signed_headers(secondary=None), keys=keys) is Rejection.SIGNATURE_MISMATCH


def test_only_the_primary_key_set_verifies_with_the_primary_signature() -> None:
    keys = WebhookKeys(primary=PRIMARY, secondary=None)
    headers = signed_headers(secondary="a-new-secondary-key-we-do-not-have")
    assert verify(headers, keys=keys) is None
    assert verify(signed_headers(primary=None), keys=keys) is Rejection.SIGNATURE_MISMATCH


def test_either_signature_alone_is_enough() -> None:
    assert verify(signed_headers(secondary=None)) is None
    assert verify(signed_headers(primary=None)) is None
    wrong_primary = signed_headers(primary="stale-primary-key")
    assert verify(wrong_primary) is None  # the secondary still matches


def test_a_signature_counts_only_against_the_key_of_its_own_name() -> None:
    # Box: primary header = primary key, secondary header = secondary key. Swapped is forged.
    swapped = signed_headers(primary=SECONDARY, secondary=PRIMARY)
    assert verify(swapped) is Rejection.SIGNATURE_MISMATCH
    assert not boxsdk_accepts(BODY, swapped, KEYS)


def test_webhook_keys_need_one_key_and_never_show_them() -> None:
    with pytest.raises(ValueError, match="at least one"):
        WebhookKeys(primary=None, secondary=None)
    with pytest.raises(ValueError, match="primary webhook key is empty"):
        WebhookKeys(primary="", secondary=SECONDARY)
    with pytest.raises(ValueError, match="secondary webhook key is not valid text"):
        WebhookKeys(primary=PRIMARY, secondary="\ud800")
    for shown in (repr(KEYS), str(KEYS), f"{KEYS!r} {[KEYS]}"):
        assert PRIMARY not in shown
        assert SECONDARY not in shown
    assert repr(WebhookKeys(primary=None, secondary=SECONDARY)) == (
        "WebhookKeys(primary=<unset>, secondary=<set>)"
    )


# --- every rejection ------------------------------------------------------------------------------


def test_rejects_a_body_over_the_cap_before_any_hmac_work(monkeypatch: pytest.MonkeyPatch) -> None:
    big = b" " * (DEFAULT_MAX_BODY_BYTES + 1)
    headers = signed_headers(body=big)
    small = signed_headers()

    def no_hmac(*_: object) -> bytes:
        raise AssertionError("HMAC computed for an oversized body")

    monkeypatch.setattr(signature, "_digest", no_hmac)
    assert verify(headers, big) is Rejection.BODY_TOO_LARGE
    assert verify(small, max_body_bytes=len(BODY) - 1) is Rejection.BODY_TOO_LARGE


def test_a_body_exactly_at_the_cap_is_checked() -> None:
    assert verify(signed_headers(), max_body_bytes=len(BODY)) is None


@pytest.mark.parametrize(
    "missing",
    [
        ("box-delivery-timestamp",),
        ("box-signature-version",),
        ("box-signature-algorithm",),
        ("box-signature-primary", "box-signature-secondary"),
    ],
)
def test_rejects_missing_signature_headers(missing: tuple[str, ...]) -> None:
    headers = signed_headers()
    for name in missing:
        del headers[name]
    assert verify(headers) is Rejection.MISSING_HEADERS


def test_empty_signature_headers_count_as_missing() -> None:
    headers = signed_headers()
    headers["box-signature-primary"] = ""
    headers["box-signature-secondary"] = ""
    assert verify(headers) is Rejection.MISSING_HEADERS
    assert verify({}, b"") is Rejection.MISSING_HEADERS


def test_rejects_the_same_header_twice_with_different_values() -> None:
    headers = signed_headers()
    headers["BOX-DELIVERY-TIMESTAMP"] = box_timestamp(NOW)
    assert verify(headers) is Rejection.CONFLICTING_HEADERS
    headers["BOX-DELIVERY-TIMESTAMP"] = TS  # the same value twice is not a conflict
    assert verify(headers) is None


@pytest.mark.parametrize("version", ["2", "0", " 1", "1.0", "v1"])
def test_rejects_an_unsupported_signature_version(version: str) -> None:
    headers = signed_headers()
    headers["box-signature-version"] = version
    assert verify(headers) is Rejection.UNSUPPORTED_VERSION
    assert not boxsdk_accepts(BODY, headers, KEYS)


@pytest.mark.parametrize("algorithm", ["HmacSHA1", "hmacsha256", "HMACSHA256", "HmacSHA512", "none"])
def test_rejects_an_unsupported_signature_algorithm(algorithm: str) -> None:
    headers = signed_headers()
    headers["box-signature-algorithm"] = algorithm
    assert verify(headers) is Rejection.UNSUPPORTED_ALGORITHM
    assert not boxsdk_accepts(BODY, headers, KEYS)


@pytest.mark.parametrize(
    "timestamp",
    [
        "yesterday",
        "2026-11-27T25:00:00-08:00",
        "2026-13-01T00:00:00Z",
        "1764248370",
        "2026-11-27T04:59:30-08:00 ",
        "2026-11-27\ud80004:59:30-08:00",  # fromisoformat takes it; it is not encodable
    ],
)
def test_rejects_an_unparseable_timestamp(timestamp: str) -> None:
    if timestamp.isascii():  # correctly signed: the parse alone refuses it
        headers = signed_headers(timestamp=timestamp)
    else:
        headers = signed_headers()
        headers["box-delivery-timestamp"] = timestamp
    assert verify(headers) is Rejection.UNPARSEABLE_TIMESTAMP


@pytest.mark.parametrize("timestamp", ["2026-11-27T04:59:30", "2026-11-27", "2026-11-27T12:59:30.5"])
def test_rejects_a_timestamp_without_a_timezone(timestamp: str) -> None:
    # Signed correctly and recent in UTC, but without an offset its instant is unknown.
    assert verify(signed_headers(timestamp=timestamp)) is Rejection.UNPARSEABLE_TIMESTAMP


def test_rejects_a_stale_timestamp() -> None:
    at_limit = box_timestamp(NOW - timedelta(minutes=10))
    assert verify(signed_headers(timestamp=at_limit)) is None
    too_old = box_timestamp(NOW - timedelta(minutes=10, seconds=1))
    headers = signed_headers(timestamp=too_old)
    assert verify(headers) is Rejection.STALE_TIMESTAMP
    assert not boxsdk_accepts(BODY, headers, KEYS)


def test_stale_limit_is_a_parameter() -> None:
    two_minutes_old = signed_headers(timestamp=box_timestamp(NOW - timedelta(minutes=2)))
    assert verify(two_minutes_old) is None
    assert verify(two_minutes_old, max_age=timedelta(minutes=1)) is Rejection.STALE_TIMESTAMP


def test_rejects_a_future_timestamp_beyond_the_skew() -> None:
    within = box_timestamp(NOW + timedelta(seconds=60))
    assert verify(signed_headers(timestamp=within)) is None
    beyond = box_timestamp(NOW + timedelta(seconds=61))
    assert verify(signed_headers(timestamp=beyond)) is Rejection.FUTURE_TIMESTAMP
    later = signed_headers(timestamp=box_timestamp(NOW + timedelta(seconds=10)))
    assert verify(later, max_skew=timedelta(seconds=5)) is Rejection.FUTURE_TIMESTAMP


def test_rejects_a_signature_mismatch() -> None:
    headers = signed_headers(primary="not-the-key", secondary="not-the-key-either")
    assert verify(headers) is Rejection.SIGNATURE_MISMATCH
    assert not boxsdk_accepts(BODY, headers, KEYS)


def test_a_non_ascii_signature_header_is_a_mismatch_not_an_error() -> None:
    # hmac.compare_digest raises TypeError for non-ASCII str; boxsdk would raise here.
    headers = signed_headers()
    headers["box-signature-primary"] = "é" * 44
    headers["box-signature-secondary"] = "\ud800" * 44
    assert verify(headers) is Rejection.SIGNATURE_MISMATCH


def test_a_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        verify_delivery(signed_headers(), BODY, KEYS, NOW.replace(tzinfo=None))


def test_every_rejection_has_a_test_above() -> None:
    source = Path(__file__).read_text(encoding="utf-8")
    untested = [r.name for r in Rejection if f"Rejection.{r.name}" not in source]
    assert not untested


# --- body escaping: what boxsdk's validate_message accepts, we accept ----------------------------

# JSON as Box writes it ("\/" in paths), with non-ASCII, an escaped backslash and newline, a raw tab.
ESCAPABLE = '{"path":"All Files\\/HR","name":"Résumé 📄","note":"a\\\\b\\nc",\t"n":1}'.encode()


def test_a_signature_over_the_raw_body_verifies() -> None:
    headers = signed_headers(body=ESCAPABLE)
    assert verify(headers, ESCAPABLE) is None
    assert boxsdk_accepts(ESCAPABLE, headers, KEYS)


def test_a_signature_over_boxsdks_escaped_form_verifies() -> None:
    escaped = escaped_by_boxsdk(ESCAPABLE)
    assert escaped != ESCAPABLE
    assert b"\\u00e9" in escaped
    assert b"\\ud83d\\udcc4" in escaped
    assert b"\\/" in escaped
    headers = signed_headers(body=escaped)  # signed over the escaped bytes, raw body delivered
    assert boxsdk_accepts(ESCAPABLE, headers, KEYS)
    assert verify(headers, ESCAPABLE) is None
    only_secondary = signed_headers(body=escaped, primary=None)
    assert verify(only_secondary, ESCAPABLE) is None


def test_the_escaped_form_is_not_a_wildcard() -> None:
    # Signed over another escaping of the same JSON (json.dumps: \u00e9 but a bare /): refused by both.
    other = json.dumps(json.loads(ESCAPABLE)).encode()
    assert other != escaped_by_boxsdk(ESCAPABLE)
    headers = signed_headers(body=other)
    assert verify(headers, ESCAPABLE) is Rejection.SIGNATURE_MISMATCH
    assert not boxsdk_accepts(ESCAPABLE, headers, KEYS)


def test_a_body_that_is_not_utf8_verifies_on_its_raw_bytes() -> None:
    body = b'{"name":"\xff\xfe"}'
    assert verify(signed_headers(body=body), body) is None
    assert verify(signed_headers(body=b'{"name":"\xff\xfd"}'), body) is Rejection.SIGNATURE_MISMATCH


TRICKY_TEXT = st.one_of(
    st.text(),
    st.text(
        alphabet=st.sampled_from(list('a/\\"é\n\r\t\x08\x0c\x00\x1f\x7f\u2028\ufffe😀\U0010ffffubfn0')),
        max_size=40,
    ),
)


@given(text=TRICKY_TEXT)
@example(text='\\\\/\\"\x08\\b\x0c\\f\\u00e9\\\\n')
def test_escaped_form_is_exactly_boxsdks_escape_unicode(text: str) -> None:
    body = text.encode("utf-8")
    theirs = escaped_by_boxsdk(body)
    ours = signature._escaped_like_boxsdk(body)
    assert (ours if ours is not None else body) == theirs


def test_forged_bodies_built_to_be_slow_to_escape_are_refused_quickly() -> None:
    # A regex with a Python callback per character (boxsdk's escape_unicode) spends seconds on these.
    half = DEFAULT_MAX_BODY_BYTES // 2
    bodies = [
        "é" * half,
        "aé" * (half // 3),
        "\x08" * DEFAULT_MAX_BODY_BYTES,
        '\\"' * half,
        "😀" * (half // 2),
    ]
    headers = signed_headers(primary="forged", secondary="forged")
    started = time.perf_counter()
    for text in bodies:
        body = text.encode("utf-8")
        assert len(body) <= DEFAULT_MAX_BODY_BYTES
        assert verify(headers, body) is Rejection.SIGNATURE_MISMATCH
    assert time.perf_counter() - started < 1.0


SIGNING = st.sampled_from(["raw", "escaped", "other_key", "garbage", "absent"])
KEY = st.text(min_size=1, max_size=40)
BODY_TEXT = st.one_of(
    st.text(max_size=200),
    st.text(alphabet=st.sampled_from(list('a/\\"é\n\r\t\x00\x7f\u2028😀{}: ')), max_size=60),
    st.builds(
        lambda data, ascii_only: json.dumps(data, ensure_ascii=ascii_only),
        st.dictionaries(st.text(max_size=10), st.text(max_size=30), max_size=4),
        st.booleans(),
    ),
)


@given(
    body_text=BODY_TEXT,
    seconds_ago=st.integers(0, 599),
    offset_minutes=st.integers(-14 * 60, 14 * 60),
    primary_key=st.none() | KEY,
    secondary_key=st.none() | KEY,
    primary_signing=SIGNING,
    secondary_signing=SIGNING,
    garbage=st.text(
        alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=", max_size=48
    ),
)
@example(
    body_text="Résumé 📄 All Files\\/HR",
    seconds_ago=30,
    offset_minutes=-480,
    primary_key=PRIMARY,
    secondary_key=SECONDARY,
    primary_signing="garbage",
    secondary_signing="escaped",
    garbage="x",
)
@example(
    body_text='{"a":"\\\\n"}',
    seconds_ago=599,
    offset_minutes=0,
    primary_key=None,
    secondary_key=SECONDARY,
    primary_signing="raw",
    secondary_signing="escaped",
    garbage="",
)
def test_verdict_agrees_with_boxsdk_for_both_keys_and_both_escapings(
    body_text: str,
    seconds_ago: int,
    offset_minutes: int,
    primary_key: str | None,
    secondary_key: str | None,
    primary_signing: str,
    secondary_signing: str,
    garbage: str,
) -> None:
    if primary_key is None and secondary_key is None:
        primary_key = PRIMARY
    keys = WebhookKeys(primary=primary_key, secondary=secondary_key)
    body = body_text.encode("utf-8")
    timestamp = box_timestamp(
        NOW - timedelta(seconds=seconds_ago), timezone(timedelta(minutes=offset_minutes))
    )
    headers = signed_headers(body=body, timestamp=timestamp, primary=None, secondary=None)
    expected = False
    for name, own_key, other_key, how in (
        ("box-signature-primary", primary_key, secondary_key, primary_signing),
        ("box-signature-secondary", secondary_key, primary_key, secondary_signing),
    ):
        signing_key = (own_key if how in ("raw", "escaped") else other_key) or "an-unrelated-key"
        if how == "absent":
            continue
        if how == "garbage":
            headers[name] = garbage
            continue
        signed_body = escaped_by_boxsdk(body) if how == "escaped" else body
        headers[name] = sign(signed_body, timestamp, signing_key)
        expected = expected or (own_key is not None and signing_key == own_key)

    ours = verify(headers, body, keys)
    assert (ours is None) == expected, ours
    assert boxsdk_accepts(body, headers, keys) == expected
    if not expected:
        assert ours in (Rejection.SIGNATURE_MISMATCH, Rejection.MISSING_HEADERS)


@given(seconds_from_now=st.integers(-700, 120), offset_minutes=st.integers(-12 * 60, 12 * 60))
@example(seconds_from_now=-600, offset_minutes=0)
@example(seconds_from_now=-601, offset_minutes=0)
@example(seconds_from_now=0, offset_minutes=0)
@example(seconds_from_now=1, offset_minutes=0)
@example(seconds_from_now=60, offset_minutes=0)
@example(seconds_from_now=61, offset_minutes=0)
def test_time_window_accepts_all_boxsdk_accepts_plus_the_clock_skew(
    seconds_from_now: int, offset_minutes: int
) -> None:
    # boxsdk refuses any timestamp after its clock; we allow 60 s of skew between Box and AWS.
    timestamp = box_timestamp(
        NOW + timedelta(seconds=seconds_from_now), timezone(timedelta(minutes=offset_minutes))
    )
    headers = signed_headers(timestamp=timestamp)
    ours = verify(headers) is None
    theirs = boxsdk_accepts(BODY, headers, KEYS)
    assert ours == (-600 <= seconds_from_now <= 60)
    assert theirs == (-600 <= seconds_from_now <= 0)


# --- properties: garbage never raises, changes never verify ---------------------------------------

ANY_HEADER_NAME = st.one_of(st.sampled_from(HEADER_NAMES).flatmap(random_case), st.text(max_size=30))
PLAUSIBLE_VALUE = st.one_of(
    st.text(max_size=60),
    st.sampled_from(["1", "HmacSHA256", TS, box_timestamp(NOW), "2026-11-27T04:59:30"]),
    st.binary(min_size=32, max_size=32).map(lambda raw: base64.b64encode(raw).decode()),
    st.none(),
    st.integers(),
)


@given(headers=st.dictionaries(ANY_HEADER_NAME, PLAUSIBLE_VALUE, max_size=12), body=st.binary(max_size=512))
def test_arbitrary_headers_and_bodies_never_raise_and_never_verify(
    headers: dict[str, Any], body: bytes
) -> None:
    assert isinstance(verify(headers, body), Rejection)


@given(
    values=st.fixed_dictionaries({name: PLAUSIBLE_VALUE for name in HEADER_NAMES}),
    body=st.binary(max_size=256),
)
def test_plausible_unsigned_headers_never_verify(values: dict[str, Any], body: bytes) -> None:
    assert isinstance(verify(values, body), Rejection)


@given(body=st.binary(min_size=1, max_size=300), data=st.data())
def test_flipping_any_body_byte_fails(body: bytes, data: st.DataObject) -> None:
    headers = signed_headers(body=body)
    assert verify(headers, body) is None
    index = data.draw(st.integers(0, len(body) - 1))
    flipped = bytearray(body)
    flipped[index] ^= data.draw(st.integers(1, 255))
    assert verify(headers, bytes(flipped)) is Rejection.SIGNATURE_MISMATCH


@given(body_text=BODY_TEXT.filter(bool), data=st.data())
def test_flipping_any_body_byte_fails_when_signed_over_the_escaped_form(
    body_text: str, data: st.DataObject
) -> None:
    body = body_text.encode("utf-8")
    headers = signed_headers(body=escaped_by_boxsdk(body))
    assert verify(headers, body) is None
    index = data.draw(st.integers(0, len(body) - 1))
    flipped = bytearray(body)
    flipped[index] ^= data.draw(st.integers(1, 255))
    assert verify(headers, bytes(flipped)) is Rejection.SIGNATURE_MISMATCH


@given(data=st.data())
def test_changing_any_timestamp_character_fails(data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(TS) - 1))
    replacement = data.draw(st.characters().filter(lambda c: c != TS[index]))
    headers = signed_headers()
    headers["box-delivery-timestamp"] = TS[:index] + replacement + TS[index + 1 :]
    assert verify(headers) in (
        Rejection.UNPARSEABLE_TIMESTAMP,
        Rejection.STALE_TIMESTAMP,
        Rejection.FUTURE_TIMESTAMP,
        Rejection.SIGNATURE_MISMATCH,
    )


@given(data=st.data())
def test_flipping_any_timestamp_byte_fails(data: st.DataObject) -> None:
    raw = bytearray(TS.encode())
    raw[data.draw(st.integers(0, len(raw) - 1))] ^= data.draw(st.integers(1, 255))
    headers = signed_headers()
    headers["box-delivery-timestamp"] = raw.decode("utf-8", "surrogateescape")
    assert isinstance(verify(headers), Rejection)


@given(data=st.data(), which=st.sampled_from(["box-signature-primary", "box-signature-secondary"]))
def test_changing_any_signature_character_fails(data: st.DataObject, which: str) -> None:
    primary_only = which == "box-signature-primary"
    headers = signed_headers(
        primary=PRIMARY if primary_only else None, secondary=None if primary_only else SECONDARY
    )
    assert verify(headers) is None
    value = headers[which]
    index = data.draw(st.integers(0, len(value) - 1))
    replacement = data.draw(st.characters().filter(lambda c: c != value[index]))
    headers[which] = value[:index] + replacement + value[index + 1 :]
    assert verify(headers) is Rejection.SIGNATURE_MISMATCH


def test_signature_module_imports_only_the_standard_library() -> None:
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import boxcasb.webhooks.signature, boxcasb.webhooks.keys\n"
        "new = {m.split('.')[0] for m in set(sys.modules) - before}\n"
        "print(sorted(new - set(sys.stdlib_module_names) - {'boxcasb'}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)  # noqa: S603
    assert result.stdout.strip() == "[]", result.stdout


# --- keys: parsing the secret ---------------------------------------------------------------------


def test_parse_keys_reads_both_keys() -> None:
    keys = parse_keys(json.dumps({"primary": PRIMARY, "secondary": SECONDARY}))
    assert keys == KEYS


@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        ({"primary": PRIMARY, "secondary": None}, WebhookKeys(primary=PRIMARY, secondary=None)),
        ({"primary": PRIMARY}, WebhookKeys(primary=PRIMARY, secondary=None)),
        ({"primary": "", "secondary": SECONDARY}, WebhookKeys(primary=None, secondary=SECONDARY)),
        ({"primary": "  ", "secondary": f" {SECONDARY}\n"}, WebhookKeys(primary=None, secondary=SECONDARY)),
    ],
)
def test_parse_keys_treats_null_empty_and_blank_as_unset(
    secret: dict[str, Any], expected: WebhookKeys
) -> None:
    assert parse_keys(json.dumps(secret)) == expected


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        (f"{{'primary': '{PRIMARY}'}}", "not valid JSON"),
        ("", "not valid JSON"),
        (json.dumps([PRIMARY, SECONDARY]), "must be a JSON object .* not a JSON array"),
        (json.dumps(PRIMARY), "not a JSON string"),
        (json.dumps({"primary": 1234, "secondary": SECONDARY}), '"primary" .* not a JSON number'),
        (json.dumps({"primary": PRIMARY, "secondary": [SECONDARY]}), '"secondary" .* not a JSON array'),
        (json.dumps({"primary": None, "secondary": ""}), 'neither "primary" nor "secondary"'),
        (json.dumps({"primaryKey": PRIMARY}), "other fields: primaryKey"),
        ('{"primary": "\\ud800' + PRIMARY + '"}', "primary webhook key is not valid text"),
    ],
)
def test_parse_keys_names_what_is_wrong_and_never_the_values(secret: str, message: str) -> None:
    with pytest.raises(WebhookKeysNotConfigured, match=message) as raised:
        parse_keys(secret)
    text = str(raised.value)
    assert PRIMARY not in text
    assert SECONDARY not in text
    # No chained JSONDecodeError: it would carry the whole secret in `.doc`.
    assert raised.value.__cause__ is None
    assert raised.value.__context__ is None


# --- keys: the cached provider --------------------------------------------------------------------

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:boxcasb/webhook-keys-AbCdEf"


class FakeSecrets:
    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.calls = 0
        self.failure: Exception | None = None

    def rotate(self, **keys: str | None) -> None:
        self.secret = json.dumps(keys)

    def get_secret_value(self, *, SecretId: str) -> dict[str, str]:
        assert SecretId == ARN
        self.calls += 1
        if self.failure is not None:
            raise self.failure
        return {"ARN": ARN, "Name": "boxcasb/webhook-keys", "SecretString": self.secret}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_provider(**kwargs: Any) -> tuple[WebhookKeyProvider, FakeSecrets, FakeClock]:
    secrets = FakeSecrets(json.dumps({"primary": PRIMARY, "secondary": SECONDARY}))
    clock = FakeClock()
    return WebhookKeyProvider(secrets, ARN, clock=clock, **kwargs), secrets, clock


def test_provider_caches_the_keys_for_max_age() -> None:
    provider, secrets, clock = make_provider()
    assert provider.get() == KEYS
    clock.now += 299
    assert provider.get() == KEYS
    assert secrets.calls == 1
    secrets.rotate(primary="rotated-primary", secondary=SECONDARY)
    clock.now += 1
    assert provider.get() == WebhookKeys(primary="rotated-primary", secondary=SECONDARY)
    assert secrets.calls == 2


def test_provider_max_age_is_a_parameter() -> None:
    provider, secrets, clock = make_provider(max_age_seconds=10)
    provider.get()
    clock.now += 10
    provider.get()
    assert secrets.calls == 2


def test_refetch_after_miss_picks_up_a_rotated_key_at_once() -> None:
    provider, secrets, clock = make_provider()
    body, timestamp = BODY, TS
    provider.get()
    # Box now signs with a new primary; the secret was updated a moment ago.
    secrets.rotate(primary="rotated-primary", secondary=SECONDARY)
    headers = signed_headers(body=body, timestamp=timestamp, primary="rotated-primary", secondary=None)
    assert verify(headers, body, provider.get()) is Rejection.SIGNATURE_MISMATCH
    clock.now += 1
    fresh = provider.refetch_after_miss()
    assert fresh == WebhookKeys(primary="rotated-primary", secondary=SECONDARY)
    assert verify(headers, body, fresh) is None
    assert provider.get() == fresh  # the cache holds the new keys
    assert secrets.calls == 2


def test_refetch_after_miss_is_throttled() -> None:
    provider, secrets, clock = make_provider()
    provider.get()
    assert provider.refetch_after_miss() is None  # re-read, unchanged
    assert secrets.calls == 2
    secrets.rotate(primary="rotated-primary", secondary=None)
    clock.now += 29
    assert provider.refetch_after_miss() is None  # throttled: no read
    assert secrets.calls == 2
    assert provider.get() == KEYS
    clock.now += 1
    assert provider.refetch_after_miss() == WebhookKeys(primary="rotated-primary", secondary=None)
    assert secrets.calls == 3


def test_refetch_without_a_previous_get_returns_the_keys() -> None:
    provider, secrets, _ = make_provider(min_refetch_seconds=5)
    assert provider.refetch_after_miss() == KEYS
    assert secrets.calls == 1


def test_a_failed_refetch_keeps_the_cache_and_still_counts_for_the_throttle() -> None:
    provider, secrets, clock = make_provider()
    provider.get()
    secrets.failure = RuntimeError("throttled by Secrets Manager")
    with pytest.raises(RuntimeError):
        provider.refetch_after_miss()
    assert provider.refetch_after_miss() is None
    assert provider.get() == KEYS
    assert secrets.calls == 2
    secrets.failure = None
    clock.now += 30
    assert provider.refetch_after_miss() is None
    assert secrets.calls == 3


def test_provider_reports_a_bad_secret_without_its_value() -> None:
    provider, secrets, _ = make_provider()
    secrets.secret = f"primary={PRIMARY}"
    with pytest.raises(WebhookKeysNotConfigured, match="not valid JSON") as raised:
        provider.get()
    assert PRIMARY not in str(raised.value)
    secrets.rotate(primary=None, secondary=None)
    with pytest.raises(WebhookKeysNotConfigured, match="neither"):
        provider.get()


def test_provider_reports_a_secret_without_a_string_value() -> None:
    provider, secrets, _ = make_provider()
    secrets.get_secret_value = lambda **_: {"ARN": ARN, "SecretBinary": b"{}"}  # type: ignore[method-assign]
    with pytest.raises(WebhookKeysNotConfigured, match="no string value"):
        provider.get()


def test_provider_reads_the_secret_lazily() -> None:
    _, secrets, _ = make_provider()
    assert secrets.calls == 0
