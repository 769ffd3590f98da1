"""Built-in detectors on valid and near-miss values: what counts, and what must not."""

from __future__ import annotations

import pytest

from boxcasb.inspect.detect import BUILTIN_DETECTORS, DetectorSet
from boxcasb.inspect.detect.validators import IBAN_LENGTHS, iban_valid, luhn_valid

DETECTORS = DetectorSet.build()


def count(text: str, detector: str) -> int:
    return DETECTORS.scan(text).counts[detector]


def off_by_one(value: str) -> str:
    """The same number with its last digit changed: the checksum no longer holds."""
    return value[:-1] + str((int(value[-1]) + 1) % 10)


def test_every_builtin_is_in_the_default_set() -> None:
    assert DETECTORS.names == BUILTIN_DETECTORS
    assert set(BUILTIN_DETECTORS) == {
        "credit_card",
        "us_ssn",
        "iban",
        "email",
        "phone",
        "aws_access_key_id",
        "aws_secret_access_key",
        "private_key",
        "github_token",
        "slack_token",
        "google_api_key",
        "stripe_key",
        "jwt",
    }


# --- cards ----------------------------------------------------------------------------------------

CARDS = [
    "4111111111111111",  # Visa
    "4222222222222",  # Visa, 13 digits
    "4111 1111 1111 1111",
    "4111-1111-1111-1111",
    "5555555555554444",  # Mastercard
    "2223003122003222",  # Mastercard 2-series
    "378282246310005",  # American Express
    "3782 822463 10005",
    "6011111111111117",  # Discover
    "6011 0009 9013 9424",
    "3530111333300000",  # JCB
    "36227206271667",  # Diners Club
    "3056 930902 5904",
]


@pytest.mark.parametrize("card", CARDS)
def test_valid_cards_count_once(card: str) -> None:
    assert count(f"Paid with {card}, thanks.", "credit_card") == 1


@pytest.mark.parametrize("card", CARDS)
def test_a_card_one_digit_off_is_not_a_card(card: str) -> None:
    assert not luhn_valid(off_by_one(card.replace(" ", "")))
    assert count(f"Paid with {off_by_one(card)}, thanks.", "credit_card") == 0


@pytest.mark.parametrize(
    "text",
    [
        "79927398713",  # Luhn-valid, too short
        "7992739871300000003",  # Luhn-valid 19 digits, no network starts with 7
        "1234567812345670",  # Luhn-valid, IIN 1
        "5555555555554444555",  # Mastercard prefix, Luhn checked on 19 digits
        "order 124111111111111111 shipped",  # inside a longer run of digits
        "ref 41111111111111110",
        "id=A4111111111111111",  # glued to letters
        "4111111111111111x",
        "4111 1111-1111 1111",  # two kinds of separator
        "1234 4111 1111 1111 1111",  # a grouped run that goes on
        "4111 1111 1111 1111 2222",
        "3782 822463 10005 1234",
    ],
)
def test_no_card_in_near_misses(text: str) -> None:
    assert count(text, "credit_card") == 0


def test_cards_separated_by_one_character_are_two_findings() -> None:
    assert count("4111111111111111,5555555555554444;378282246310005", "credit_card") == 3


# --- SSN ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["SSN 123-45-6789", "ssn: 123 45 6789", "id 078-05-1120.", "(665-01-0001)"])
def test_formatted_ssns_count(text: str) -> None:
    assert count(text, "us_ssn") == 1


@pytest.mark.parametrize(
    "ssn",
    ["000-12-3456", "666-12-3456", "900-12-3456", "999-12-3456", "123-00-4567", "123-45-0000"],
)
def test_ssns_the_ssa_never_issues_are_ignored(ssn: str) -> None:
    assert count(f"SSN: {ssn}", "us_ssn") == 0
    assert count(f"SSN: {ssn.replace('-', '')}", "us_ssn") == 0


@pytest.mark.parametrize(
    "text",
    [
        "123-45 6789",  # mixed separators
        "call 555-123-45-6789",  # part of a longer grouped number
        "123-45-6789-01",
        "A123-45-6789",
        "123456789",  # nine bare digits and no keyword
        "the 123456789th visitor",
        "SSN: 1234567890",  # ten digits
    ],
)
def test_no_ssn_in_near_misses(text: str) -> None:
    assert count(text, "us_ssn") == 0


@pytest.mark.parametrize(
    "text",
    [
        "SSN 123456789",
        "ssn#: 123456789",
        "SS# 123456789",
        "Social Security Number: 123456789",
        "social security no. 123456789.",
    ],
)
def test_bare_ssns_count_after_a_keyword(text: str) -> None:
    assert count(text, "us_ssn") == 1


def test_the_keyword_must_be_close() -> None:
    assert count("SSN field left blank for this customer; ref 123456789", "us_ssn") == 0
    assert count("lessn 123456789", "us_ssn") == 0  # "ssn" inside a word is no keyword


# --- IBAN -----------------------------------------------------------------------------------------

IBANS = [
    "DE89370400440532013000",
    "GB29NWBK60161331926819",
    "FR1420041010050500013M02606",
    "NL91ABNA0417164300",
    "BE68539007547034",
    "NO9386011117947",
    "CH9300762011623852957",
    "ES9121000418450200051332",
    "IT60X0542811101000000123456",
    "MT84MALT011000012345MTLCAST001S",
    "BR1800360305000010009795493C1",
    "SA0380000000608010167519",
]


def grouped(iban: str) -> str:
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def bad_check_digits(iban: str) -> str:
    return f"{iban[:2]}{(int(iban[2:4]) % 97) + 1:02d}{iban[4:]}"


@pytest.mark.parametrize("iban", IBANS)
def test_valid_ibans_count_compact_and_grouped(iban: str) -> None:
    assert iban_valid(iban)
    assert count(f"Wire to {iban} today", "iban") == 1
    assert count(f"Wire to {grouped(iban)} today", "iban") == 1


@pytest.mark.parametrize("iban", IBANS)
def test_an_iban_with_a_bad_checksum_is_ignored(iban: str) -> None:
    for bad in (bad_check_digits(iban), off_by_one(iban) if iban[-1].isdigit() else iban[:-1] + "0"):
        assert not iban_valid(bad)
        assert count(f"Wire to {bad} today", "iban") == 0
        assert count(f"Wire to {grouped(bad)} today", "iban") == 0


def test_a_grouped_iban_after_a_code_of_the_same_shape_is_found() -> None:
    assert count("Ref AB12 DE89 3704 0044 0532 0130 00.", "iban") == 1
    assert DETECTORS.scan("Ref AB12 DE89 3704 0044 0532 0130 00.").samples["iban"] == (
        "Ref … DE** **** **** **** **30 00.",
    )


@pytest.mark.parametrize(
    "text",
    [
        "DE8937040044053201300",  # one character short for Germany
        "DE893704004405320130000",  # one too many
        "XX89370400440532013000",  # no such country
        "de89370400440532013000",  # lower case
        "ADE89370400440532013000",  # glued
        "DE89 3704 0044 0532 0130 0",  # grouped, a character short
        "DE89 37040044 0532 0130 00",  # not in groups of four
    ],
)
def test_no_iban_in_near_misses(text: str) -> None:
    assert count(text, "iban") == 0


def test_the_length_table_covers_the_registry_shape() -> None:
    assert all(len(code) == 2 and code.isupper() and 15 <= n <= 34 for code, n in IBAN_LENGTHS.items())


# --- email and phone ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail john.doe+box@example.co.uk now", 1),
        ('{"owner": "a_b-c%d@sub.example.org"}', 1),
        ("<jane@example.com>, bob@example.net.", 2),
        ("john..doe@example.com", 0),
        (".john@example.com", 1),  # the leading dot is punctuation: "john@example.com" is the address
        ("user@localhost", 0),
        ("user@-example.com", 0),
        ("@example.com", 0),
        ("a" * 65 + "@example.com", 0),
    ],
)
def test_email(text: str, expected: int) -> None:
    assert count(text, "email") == expected


@pytest.mark.parametrize(
    "text",
    [
        "+44 20 7946 0958",
        "+14155552671",
        "+1 (415) 555-2671",
        "+33 1 23 45 67 89",
        "+49 (0)30 1234567",
        "(212) 555-0142",
        "212-555-0142",
        "212.555.0142",
        "1-800-555-0199",
    ],
)
def test_phone_numbers_count(text: str) -> None:
    assert count(f"call {text} today", "phone") == 1


@pytest.mark.parametrize(
    "text",
    [
        "2125550142",  # ten bare digits: order numbers look the same
        "212-555.0142",  # two kinds of separator
        "(212) 155-0142",  # exchanges don't start with 1
        "(911) 555-0142",  # N11 service codes
        "+1 212 155 0142",
        "+12.50 13.75 14.00",  # amounts
        "+1234",
        "x+14155552671",
        "020 7946 0958",  # national formats outside North America are not matched
    ],
)
def test_no_phone_in_near_misses(text: str) -> None:
    assert count(f"value {text} end", "phone") == 0


# --- secrets --------------------------------------------------------------------------------------

PEM_BODY = "MIIEowIBAAKCAQEAuKa9Lq3pX0w8hUqG7bqk2m1a"

SECRETS = {
    "aws_access_key_id": ["AKIAIOSFODNN7EXAMPLE", "ASIAY34FZKBOKMUTVV7A"],
    "aws_secret_access_key": [
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        '"SecretAccessKey": "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"',
        "AWS secret: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ],
    "private_key": [
        f"-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}",
        f"-----BEGIN PRIVATE KEY-----\r\n{PEM_BODY}",
        f"-----BEGIN OPENSSH PRIVATE KEY-----\n{PEM_BODY}",
        f"-----BEGIN EC PRIVATE KEY-----\n{PEM_BODY}",
        f"-----BEGIN ENCRYPTED PRIVATE KEY-----\n{PEM_BODY}",
        "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,0A1B",
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2\n\nlQOYBF",
    ],
    "github_token": [
        "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",
        "gho_16C7e42F292c6912E7710c838347Ae178B4a",
        "github_pat_11ABCDEFG0123456789abc_" + "a1B2c3D4e5F6g7H8i9J0" * 2 + "k1L2m3N4o5P6q7R8s9T",
    ],
    "slack_token": [
        "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
        "xoxp-123456789012-123456789012-123456789012-0123456789abcdef0123456789abcdef",
    ],
    "google_api_key": ["AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe"],
    "stripe_key": ["sk_live_4eC39HqLyjWDarjtT1zdp7dc", "rk_live_51H8abcdefGHIJKLmnopQRSTuv"],
    "jwt": [
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0"
        ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
    ],
}


@pytest.mark.parametrize(("detector", "text"), [(d, t) for d, texts in SECRETS.items() for t in texts])
def test_secrets_count(detector: str, text: str) -> None:
    found = DETECTORS.scan(f"config:\n{text}\nend")
    assert found.counts[detector] == 1


@pytest.mark.parametrize(
    ("detector", "text"),
    [
        ("aws_access_key_id", "AKIAIOSFODNN7EXAMPL"),  # 19 characters
        ("aws_access_key_id", "XAKIAIOSFODNN7EXAMPLE"),
        ("aws_access_key_id", "AKIAIOSFODNN7EXAMPLE1"),
        ("aws_access_key_id", "AKIA0OSFODNN7EXAMPLE"),  # 0 is not base32
        ("aws_secret_access_key", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),  # no keyword
        ("aws_secret_access_key", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY1"),
        ("aws_secret_access_key", "aws secret " + "a" * 40),  # not random-looking
        ("private_key", "-----BEGIN RSA PRIVATE KEY-----"),  # a mention, no key after it
        ("private_key", "The file starts with -----BEGIN PRIVATE KEY----- and then base64."),
        ("private_key", "-----BEGIN PUBLIC KEY-----\n" + PEM_BODY),
        ("github_token", "ghp_wWPw5k4aXcaT4fNP0UcnZwJUVFk6LO0pINU"),  # 35 characters
        ("github_token", "x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"),
        ("slack_token", "xoxb-not-a-token-at-all"),
        ("google_api_key", "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQ"),  # 38 characters
        ("stripe_key", "sk_test_4eC39HqLyjWDarjtT1zdp7dc"),  # test keys are not secrets
        ("jwt", "eyJub3QgSlNPTg.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV"),
        ("jwt", "eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV"),
    ],
)
def test_no_secret_in_near_misses(detector: str, text: str) -> None:
    assert DETECTORS.scan(f"config:\n{text}\nend").counts[detector] == 0
