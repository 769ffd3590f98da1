"""Detector sets: one engine pass per block, exact counts across chunk boundaries, masked samples,
and custom patterns refused with a reason."""

from __future__ import annotations

import re
import string
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boxcasb.errors import InvalidRequest
from boxcasb.inspect.detect import (
    BUILTIN_DETECTORS,
    Detections,
    DetectorSet,
    InvalidPattern,
    UnknownDetector,
)
from boxcasb.inspect.detect.engine import Hit, MatchEngine
from boxcasb.inspect.detect.model import FindValue, Span
from boxcasb.inspect.detect.validators import IBAN_LENGTHS, luhn_valid

DETECTORS = DetectorSet.build()
CUSTOM = {"falcon": r"(?i)project\s{1,3}falcon", "badge": r"EMP-[0-9]{6}", "greeting": r"^Subject:"}
WITH_CUSTOM = DetectorSet.build(custom=CUSTOM)

VALUES = {
    "credit_card": ["4111 1111 1111 1111", "5555555555554444", "3782 822463 10005"],
    "us_ssn": ["123-45-6789", "SSN 078051120"],
    "iban": ["DE89 3704 0044 0532 0130 00", "GB29NWBK60161331926819"],
    "email": ["jane.doe@example.com"],
    "phone": ["+44 20 7946 0958", "(212) 555-0142"],
    "aws_access_key_id": ["AKIAIOSFODNN7EXAMPLE"],
    "aws_secret_access_key": ["aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"],
    "private_key": ["-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAuKa9Lq3pX0w8hUqG7bqk2m1a"],
    "github_token": ["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"],
    "slack_token": ["xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"],
    "google_api_key": ["AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe"],
    "stripe_key": ["sk_live_4eC39HqLyjWDarjtT1zdp7dc"],
    "jwt": [
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0"
        ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
    ],
    "falcon": ["Project Falcon"],
    "badge": ["EMP-123456"],
}
# The parts of each value a sample may never show: the secret body, the digits before the last four.
NEVER_SHOWN = {
    "4111 1111 1111 1111": ["4111 1111 1111", "411111111111"],
    "5555555555554444": ["555555555555"],
    "3782 822463 10005": ["3782 822463", "378282246"],
    "123-45-6789": ["123-45", "12345"],
    "SSN 078051120": ["07805"],
    "DE89 3704 0044 0532 0130 00": ["89 3704", "370400440532"],
    "GB29NWBK60161331926819": ["29NWBK", "6016133192"],
    "jane.doe@example.com": ["jane.doe", "ane.doe@"],
    "+44 20 7946 0958": ["7946", "+44 20"],
    "(212) 555-0142": ["555-01", "(212)"],
    "AKIAIOSFODNN7EXAMPLE": ["IOSFODNN7EXAMPLE"],
    "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY": ["wJalrXUtnFEMI", "EXAMPLEKEY"],
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAuKa9Lq3pX0w8hUqG7bqk2m1a": ["MIIEow", "2m1a"],
    "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": ["wWPw5k4a", "pINUx"],
    "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx": ["123456789012", "AbCdEf"],
    "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe": ["SyDaGm", "BGewQe"],
    "sk_live_4eC39HqLyjWDarjtT1zdp7dc": ["4eC39H", "zdp7dc"],
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c": ["hbGciOi", "SflKxw", "eyJzdWIi"],
    "Project Falcon": ["Falcon"],
    "EMP-123456": ["123456"],
}


def every_sample(found: Detections) -> list[str]:
    return [sample for samples in found.samples.values() for sample in samples]


class CountingEngine:
    """A spy: how many times the scanner calls the engine, and on how many bytes."""

    def __init__(self, inner: MatchEngine) -> None:
        self.inner = inner
        self.calls = 0
        self.scanned = 0

    def scan(self, data: bytes) -> list[Hit]:
        self.calls += 1
        self.scanned += len(data)
        return self.inner.scan(data)


def scan_in_chunks(detectors: DetectorSet, chunks: list[str], block_chars: int) -> Detections:
    scanner = detectors.scanner(block_chars)
    for chunk in chunks:
        scanner.feed(chunk)
    return scanner.finish()


# --- results --------------------------------------------------------------------------------------


def test_counts_name_every_detector_and_chars_count_characters() -> None:
    found = WITH_CUSTOM.scan("Zürich café: nothing to see")
    assert set(found.counts) == set(BUILTIN_DETECTORS) | set(CUSTOM)
    assert set(found.counts.values()) == {0}
    assert all(samples == () for samples in found.samples.values())
    assert found.chars == len("Zürich café: nothing to see")


def test_every_kind_is_found_with_its_masked_sample() -> None:
    text = "\n".join(f"line {i}: {value} ." for i, values in enumerate(VALUES.values()) for value in values)
    found = WITH_CUSTOM.scan(text)
    assert {name: found.counts[name] for name in VALUES} == {name: len(v) for name, v in VALUES.items()}
    masked = {
        "credit_card": ["**** **** **** 1111", "************4444", "**** ****** *0005"],
        "us_ssn": ["***-**-6789", "SSN *****1120"],
        "iban": ["DE** **** **** **** **30 00", "GB****************6819"],
        "email": ["j***@example.com"],
        "phone": ["+** ** **** **58", "(***) ***-**42"],
        "aws_access_key_id": ["AKIA…(20 chars)"],
        "aws_secret_access_key": ["aws_secret_access_key=…(40 chars)"],
        "private_key": ["-----BEGIN RSA PRIVATE KEY-----"],
        "github_token": ["ghp_…(40 chars)"],
        "slack_token": ["xoxb-…(56 chars)"],
        "google_api_key": ["AIza…(39 chars)"],
        "stripe_key": ["sk_live_…(32 chars)"],
        "jwt": ["eyJ…(108 chars)"],
        "falcon": ["…(14 chars)"],
        "badge": ["…(10 chars)"],
    }
    for name, values in masked.items():
        assert len(found.samples[name]) == len(values)
        for sample, value in zip(found.samples[name], values, strict=True):
            assert f": {value} " in f"{sample} ", (name, sample)
    assert found.samples["private_key"][0].endswith("KEY-----")  # nothing of the key after it


def test_no_sample_shows_a_value_or_its_neighbours() -> None:
    # Every value next to every other, with no room between them: each sample's context is
    # made of the others.
    values = [value for values in VALUES.values() for value in values]
    text = " ".join(values) + "\n" + ",".join(reversed(values))
    found = WITH_CUSTOM.scan(text)
    samples = every_sample(found)
    assert len(samples) > 20
    for sample in samples:
        for value in values:
            assert value not in sample
            for part in NEVER_SHOWN[value]:
                assert part not in sample, (sample, part)


def test_samples_are_limited_and_in_text_order() -> None:
    cards = ["4111111111111111", "5555555555554444", "378282246310005", "6011111111111117"]
    text = " and ".join(cards)
    assert DETECTORS.scan(text).samples["credit_card"] == (
        "************1111 and …",
        "… and ************4444 and … and",
        "… and ***********0005 and …",
    )
    assert DetectorSet.build(samples=1).scan(text).samples["credit_card"] == ("************1111 and …",)
    none = DetectorSet.build(samples=0).scan(text)
    assert (none.counts["credit_card"], none.samples["credit_card"]) == (4, ())


def test_context_keeps_words_and_hides_what_could_be_a_value() -> None:
    found = DETECTORS.scan("Invoice 2024-117 for alice@example.com: card 4111111111111111 exp 09/27 ok")
    assert found.samples["credit_card"] == ("…: card ************1111 exp … ok",)
    mixed = DETECTORS.scan("token Zq8LmXw2PvN4rT6yKb key 4111111111111111 note QwertyUiopAsdfGh end")
    assert mixed.samples["credit_card"] == ("… key ************1111 note …",)


def card_numbers() -> st.SearchStrategy[str]:
    prefixes = ["4", "51", "55", "2221", "2720", "34", "37", "6011", "65", "3528", "3589", "36", "300"]

    def complete(prefix: str, body: str) -> str:
        length = {"34": 15, "37": 15, "36": 14, "300": 14}.get(prefix, 16)
        partial = (prefix + body)[: length - 1]
        return partial + next(d for d in string.digits if luhn_valid(partial + d))

    return st.builds(complete, st.sampled_from(prefixes), st.text(string.digits, min_size=16, max_size=16))


words = st.text(string.ascii_letters + " ,.:;()\n", max_size=30)


@given(card=card_numbers(), grouped=st.booleans(), before=words, after=words)
@settings(max_examples=300, deadline=None)
def test_a_valid_card_is_found_once_and_only_its_last_four_digits_show(
    card: str, grouped: bool, before: str, after: str
) -> None:
    shown = " ".join(card[i : i + 4] for i in range(0, 16, 4)) if grouped and len(card) == 16 else card
    found = DETECTORS.scan(f"{before} {shown} {after}")
    assert found.counts["credit_card"] == 1
    (sample,) = found.samples["credit_card"]
    assert re.sub(r"\D", "", sample) == card[-4:]


def ibans() -> st.SearchStrategy[str]:
    def make(country: str, body: str) -> str:
        bban = body[: IBAN_LENGTHS[country] - 4]
        digits = "".join(str(int(c, 36)) for c in bban + country + "00")
        return f"{country}{98 - int(digits) % 97:02d}{bban}"

    alphabet = string.digits * 3 + string.ascii_uppercase  # mostly digits, as BBANs are
    return st.builds(make, st.sampled_from(sorted(IBAN_LENGTHS)), st.text(alphabet, min_size=30, max_size=30))


@given(iban=ibans(), grouped=st.booleans(), before=words, after=words)
@settings(max_examples=300, deadline=None)
def test_a_valid_iban_is_found_once_and_shows_only_country_and_last_four(
    iban: str, grouped: bool, before: str, after: str
) -> None:
    shown = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4)) if grouped else iban
    found = DETECTORS.scan(f"{before} {shown} {after}")
    assert found.counts["iban"] == 1
    (sample,) = found.samples["iban"]
    visible = re.sub(r"[^A-Z0-9]", "", sample.replace(" ", ""))
    assert iban[2:-4] not in visible
    assert re.sub(r"[^0-9]", "", sample) == re.sub(r"[^0-9]", "", iban[-4:])


# --- one pass -------------------------------------------------------------------------------------


def test_the_engine_runs_once_per_block_whatever_the_number_of_patterns() -> None:
    terms = {f"term_{i:03d}": rf"\bterm{i:03d}x\b" for i in range(200)}
    few = DetectorSet.build(custom={"term_007": terms["term_007"]})
    many = DetectorSet.build(custom=terms)
    block = 1000
    # Five blocks, each with 40 of the terms, over and over.
    chunks = [
        ((" ".join(f"term{j:03d}x" for j in range(40 * k, 40 * k + 40)) + " ") * 3)[:block] for k in range(5)
    ]
    for detectors in (few, many):
        spy = CountingEngine(detectors.engine)
        found = scan_in_chunks(replace(detectors, engine=spy), chunks, block)
        assert spy.calls == len(chunks)  # one engine call per block, none more to finish
        assert spy.scanned < sum(len(c) for c in chunks) + len(chunks) * detectors.plan.overlap
        assert found.counts["term_007"] == "".join(chunks).count("term007x")
    found_many = scan_in_chunks(many, chunks, block)
    expected = {f"term_{i:03d}": len(re.findall(rf"\bterm{i:03d}x\b", "".join(chunks))) for i in range(200)}
    assert {name: found_many.counts[name] for name in terms} == expected
    assert sum(expected.values()) > 400


def test_checks_run_on_candidates_only() -> None:
    calls: list[int] = []

    def spied(find: FindValue) -> FindValue:
        def find_value(buffer: bytes, start: int, end: int) -> Span | None:
            calls.append(end - start)
            return find(buffer, start, end)

        return find_value

    detectors = [
        replace(d, expressions=tuple(replace(e, find_value=spied(e.find_value)) for e in d.expressions))
        for d in DETECTORS.plan.detectors
    ]
    spy = replace(DETECTORS, plan=replace(DETECTORS.plan, detectors=tuple(detectors)))
    prose = "Quarterly revenue grew; see the attached report for the details.\n" * 3000
    text = f"{prose}card 4111111111111111\n{prose}iban DE89370400440532013000\n{prose}"
    found = spy.scan(text)
    assert (found.counts["credit_card"], found.counts["iban"]) == (1, 1)
    assert len(calls) == 2  # two candidates in 600 KB, two checks
    assert max(calls) <= 22


def test_a_large_chunk_is_cut_into_blocks() -> None:
    spy = CountingEngine(DETECTORS.engine)
    scanner = replace(DETECTORS, engine=spy).scanner(block_chars=100)
    scanner.feed("x" * 1050)
    found = scanner.finish()
    assert (spy.calls, found.chars) == (11, 1050)


# --- chunking -------------------------------------------------------------------------------------

FRAGMENTS = [
    *(value for values in VALUES.values() for value in values),
    "4111 1111 1111 1112",
    "666-12-3456",
    "DE89 3704 0044 0532 0130 01",
    "Zürich 東京 ",
    "Subject: hello",
    " ",
    "\n",
    ", ",
    "0",
    "12",
    "-",
    "ab",
]


@given(
    parts=st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=30),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=12),
    block_chars=st.integers(min_value=1, max_value=64),
)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_chunking_never_changes_what_is_found(parts: list[str], cuts: list[int], block_chars: int) -> None:
    text = "".join(parts)
    whole = WITH_CUSTOM.scan(text)
    points = sorted({min(c, len(text)) for c in cuts})
    chunks = [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]
    assert scan_in_chunks(WITH_CUSTOM, chunks, block_chars) == whole


NARROW = DetectorSet.build(enabled=["credit_card", "us_ssn", "email"], custom={"badge": CUSTOM["badge"]})
LONG_EMAIL = f"{'a' * 30}.{'b' * 33}@{'c' * 60}.{'d' * 60}.{'e' * 50}.example.com"  # 249 bytes
TOO_LONG_EMAIL = f"{'a' * 64}@{'c' * 60}.{'d' * 60}.{'e' * 60}.{'f' * 50}.com"


@given(
    parts=st.lists(
        st.sampled_from(
            [*VALUES["credit_card"], *VALUES["us_ssn"], LONG_EMAIL, "EMP-123456", " x ", ",", "e"]
        ),
        max_size=40,
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=12),
    block_chars=st.integers(min_value=1, max_value=40),
)
@settings(max_examples=150, deadline=None)
def test_chunking_with_short_patterns_only(parts: list[str], cuts: list[int], block_chars: int) -> None:
    # Without the 8 KiB JWT in the set the overlap is short: the margins for checks and context count.
    assert NARROW.plan.overlap < 500
    text = "".join(parts)
    points = sorted({min(c, len(text)) for c in cuts})
    chunks = [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]
    assert scan_in_chunks(NARROW, chunks, block_chars) == NARROW.scan(text)


@pytest.mark.parametrize("value", [v for values in VALUES.values() for v in values])
def test_a_value_cut_at_every_position_is_found_exactly_once(value: str) -> None:
    text = f"before {value} after"
    whole = WITH_CUSTOM.scan(text)
    assert sum(whole.counts.values()) >= 1
    for cut in range(len(text)):
        for block_chars in (1, 7, cut or 1):
            assert scan_in_chunks(WITH_CUSTOM, [text[:cut], text[cut:]], block_chars) == whole


def test_anchors_mean_the_text_edges_not_the_block_edges() -> None:
    text = "Subject: one\n" + "Subject: two\n" * 50
    assert scan_in_chunks(WITH_CUSTOM, [text], block_chars=5).counts["greeting"] == 1


def test_overlapping_custom_matches_count_like_finditer() -> None:
    detectors = DetectorSet.build(custom={"six": r"[0-9]{6}", "word": r"(?i)secret[a-z]{0,6}"}, enabled=())
    found = detectors.scan("123456789012 34567 Secretive secrets")
    assert (found.counts["six"], found.counts["word"]) == (2, 2)
    assert found.samples["word"] == ("… …(9 chars) …", "… …(7 chars)")


def test_custom_patterns_match_characters_not_bytes() -> None:
    detectors = DetectorSet.build(custom={"cafe": r"caf. de", "city": r"(?i)zürich"}, enabled=())
    found = detectors.scan("Le café de ZÜRICH")
    assert (found.counts["cafe"], found.counts["city"]) == (1, 1)
    assert found.samples["cafe"] == ("Le …(7 chars) …",)  # the neighbouring finding is hidden too


def test_a_lone_surrogate_does_not_break_the_scan() -> None:
    assert DETECTORS.scan("bad \udcff 4111111111111111").counts["credit_card"] == 1


def test_a_finished_scanner_takes_no_more_text() -> None:
    scanner = DETECTORS.scanner()
    scanner.feed("4111111111111111")
    assert scanner.finish() == scanner.finish()
    with pytest.raises(RuntimeError):
        scanner.feed("more")


def test_one_set_serves_many_threads() -> None:
    texts = [f"card {c} mail u{i}@example.com" for i, c in enumerate(VALUES["credit_card"] * 20)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(WITH_CUSTOM.scan, texts))
    assert results == [WITH_CUSTOM.scan(text) for text in texts]


# --- which detectors ------------------------------------------------------------------------------


def test_enabled_picks_built_ins_and_custom_patterns_always_join() -> None:
    detectors = DetectorSet.build(custom={"badge": r"EMP-[0-9]{6}"}, enabled=["email", "iban"])
    assert detectors.names == ("iban", "email", "badge")
    assert DetectorSet.build(enabled=[]).scan("4111111111111111").counts == {}


def test_an_unknown_built_in_is_refused() -> None:
    with pytest.raises(UnknownDetector) as raised:
        DetectorSet.build(enabled=["email", "passport"])
    assert raised.value.name == "passport"
    assert isinstance(raised.value, InvalidRequest)


@pytest.mark.parametrize(
    ("name", "pattern", "reason"),
    [
        ("twice", r"(ab)\1", "backreferences"),
        ("ahead", r"foo(?=bar)", "lookahead and lookbehind"),
        ("behind", r"(?<!x)foo", "lookahead and lookbehind"),
        ("star", r"secret.*", "no upper bound"),
        ("plus", r"[0-9]+", "no upper bound"),
        ("open", r"x{2,}", "no upper bound"),
        ("long", r"[a-z]{2000}", "the limit is 1024"),
        ("empty", r"(?:abc)?", "the empty string"),
        ("broken", r"(abc", "not a valid regular expression"),
        ("posix", r"[[:alpha:]]{3}", "not a valid regular expression"),
        ("huge", r"postgres://[a-z]{1,32}:[^@\s]{1,64}@", "too large"),
        ("1st", r"abc", "a name is"),
        ("with space", r"abc", "a name is"),
        ("email", r"abc", "built-in"),
    ],
)
def test_bad_custom_patterns_are_refused_with_a_reason(name: str, pattern: str, reason: str) -> None:
    with pytest.raises(InvalidPattern) as raised:
        DetectorSet.build(custom={"fine": r"EMP-[0-9]{6}", name: pattern})
    assert (raised.value.name, isinstance(raised.value, ValueError)) == (name, True)
    assert reason in raised.value.reason
    assert name in str(raised.value)


def test_samples_cannot_be_negative() -> None:
    with pytest.raises(ValueError, match="negative"):
        DetectorSet.build(samples=-1)
