"""IP -> country over a DB-IP "IP to Country Lite" CSV: ranges, families, non-public addresses, bad files."""

from __future__ import annotations

import gzip
import ipaddress
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from boxcasb.activity_rules.geo import CsvIpCountry, GeoDatabaseError, NoGeo, ip_country

# The shape of DB-IP's file: no header, IPv4 then IPv6, ZZ where no country is known.
DBIP_SAMPLE = """\
0.0.0.0,0.255.255.255,ZZ
1.0.0.0,1.0.0.255,AU
1.0.1.0,1.0.3.255,CN
10.0.0.0,10.255.255.255,US
81.0.0.0,81.63.255.255,FR
2001:200::,2001:200:ffff:ffff:ffff:ffff:ffff:ffff,JP
2a01:4f8::,2a01:4f8:ffff:ffff:ffff:ffff:ffff:ffff,DE
2c0f:fff0::,2c0f:fff0:ffff:ffff:ffff:ffff:ffff:ffff,ZZ
"""


@pytest.fixture
def geo() -> CsvIpCountry:
    return CsvIpCountry.from_lines(DBIP_SAMPLE.splitlines())


@pytest.mark.parametrize(
    ("ip", "country"),
    [
        ("1.0.0.0", "AU"),  # first address of a range
        ("1.0.0.255", "AU"),  # last address
        ("1.0.1.0", "CN"),  # the next range starts right after
        ("1.0.3.255", "CN"),
        ("1.0.4.0", None),  # a gap between ranges
        ("81.20.30.40", "FR"),
        ("81.64.0.0", None),
        ("255.255.255.254", None),  # past the last range
        ("2001:200::1", "JP"),
        ("2001:200:ffff:ffff:ffff:ffff:ffff:ffff", "JP"),
        ("2001:201::", None),
        ("2A01:4F8:0:A0A1::2", "DE"),  # upper case, as some logs write it
        ("2c0f:fff0::1", None),  # ZZ: no country
        ("::ffff:81.2.3.4", "FR"),  # IPv4-mapped IPv6 is the IPv4 address
        (" 81.2.3.4 ", "FR"),
    ],
)
def test_lookups_find_the_range_that_holds_the_address(
    geo: CsvIpCountry, ip: str, country: str | None
) -> None:
    assert geo.country(ip) == country


@pytest.mark.parametrize(
    "ip",
    [
        "10.1.2.3",  # private, even though the file places 10/8
        "192.168.0.1",
        "172.16.5.4",
        "127.0.0.1",
        "169.254.1.1",
        "100.64.0.1",  # carrier-grade NAT
        "0.1.2.3",
        "192.0.2.7",  # documentation
        "::1",
        "fe80::1",
        "fd12:3456::1",
        "::ffff:10.0.0.1",
        "not an ip",
        "",
    ],
)
def test_non_public_or_malformed_addresses_have_no_country(geo: CsvIpCountry, ip: str) -> None:
    assert geo.country(ip) is None


def test_files_load_plain_or_gzipped_and_unsorted_rows_are_sorted(tmp_path: Path) -> None:
    shuffled = "\n".join(reversed(DBIP_SAMPLE.splitlines())) + "\n\n"
    plain, packed = tmp_path / "dbip-country-lite.csv", tmp_path / "dbip-country-lite.csv.gz"
    plain.write_text(shuffled)
    packed.write_bytes(gzip.compress(DBIP_SAMPLE.encode()))
    for path in (plain, packed, str(plain)):
        loaded = ip_country(str(path))
        assert loaded.available
        assert (loaded.country("1.0.2.9"), loaded.country("2001:200::9")) == ("CN", "JP")


def test_no_path_means_no_geo() -> None:
    for setting in (None, ""):
        nothing = ip_country(setting)
        assert isinstance(nothing, NoGeo)
        assert not nothing.available
        assert nothing.country("81.2.3.4") is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("1.0.0.0,1.0.0.255\n", "line 1"),
        ("1.0.0.0,1.0.0.255,AU,extra\n", "line 1"),
        ("1.0.0.0,1.0.0.255,AU\n1.0.1.0,1.0.1.300,CN\n", "line 2"),
        ("1.0.0.9,1.0.0.1,AU\n", "line 1"),
        ("1.0.0.0,1.0.0.255,AUS\n", "line 1"),
        ("1.0.0.0,1.0.0.255,4U\n", "line 1"),
        ("2001::,zz::1,JP\n", "line 1"),
        ("1.0.0.0,1.0.0.255,AU\n1.0.0.128,1.0.1.0,CN\n", "overlapping ranges at 1.0.0.128"),
        ("2001::,2001::ff,JP\n2001::10,2001::1ff,KR\n", "overlapping ranges at 2001::10"),
    ],
)
def test_a_malformed_file_is_refused_with_where(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(GeoDatabaseError, match=message):
        CsvIpCountry.load(path)


def test_a_missing_or_unreadable_file_is_a_geo_database_error(tmp_path: Path) -> None:
    with pytest.raises(GeoDatabaseError, match="cannot read"):
        ip_country(str(tmp_path / "absent.csv"))
    broken = tmp_path / "broken.csv.gz"
    broken.write_bytes(b"not gzip at all")
    with pytest.raises(GeoDatabaseError, match="cannot read"):
        CsvIpCountry.load(broken)


# Public space only: a lookup of a non-public address answers None whatever the file says.
_PUBLIC_V4 = int(ipaddress.IPv4Address("11.0.0.0"))
_SPAN = 2**24


@given(
    cuts=st.lists(st.integers(0, _SPAN - 1), min_size=2, max_size=40, unique=True),
    codes=st.lists(st.sampled_from(["FR", "DE", "US", "ZZ"]), min_size=40, max_size=40),
    probes=st.lists(st.integers(0, _SPAN - 1), min_size=1, max_size=30),
)
def test_binary_search_agrees_with_a_linear_scan(
    cuts: list[int], codes: list[str], probes: list[int]
) -> None:
    bounds = sorted(cuts)
    # Ranges [bounds[i], bounds[i+1] - 1], every other one left out (gaps).
    ranges = [(bounds[i], bounds[i + 1] - 1, codes[i]) for i in range(0, len(bounds) - 1, 2)]
    lines = [
        f"{ipaddress.IPv4Address(_PUBLIC_V4 + a)},{ipaddress.IPv4Address(_PUBLIC_V4 + b)},{c}"
        for a, b, c in ranges
    ]
    geo = CsvIpCountry.from_lines(lines)
    for probe in [*probes, *bounds]:
        expected = next((c for a, b, c in ranges if a <= probe <= b), None)
        found = geo.country(str(ipaddress.IPv4Address(_PUBLIC_V4 + probe)))
        assert found == (None if expected == "ZZ" else expected)


def test_adjacent_ranges_of_one_country_are_joined_without_changing_any_answer() -> None:
    geo = CsvIpCountry.from_lines(
        [
            "81.0.0.0,81.0.0.255,FR",
            "81.0.1.0,81.0.1.255,FR",  # joins the one before
            "81.0.2.0,81.0.2.255,DE",  # adjacent, another country: kept apart
            "81.0.4.0,81.0.4.255,DE",  # a gap before it: kept apart
            '"81.0.5.0","81.0.5.255","de"',  # quoted cells and lower case, as some exports write them
        ]
    )
    answers = {ip: geo.country(ip) for ip in ("81.0.0.0", "81.0.1.255", "81.0.2.0", "81.0.3.9", "81.0.5.7")}
    assert answers == {
        "81.0.0.0": "FR",
        "81.0.1.255": "FR",
        "81.0.2.0": "DE",
        "81.0.3.9": None,
        "81.0.5.7": "DE",
    }
