"""IP address -> country, as a port: a local range database, or nothing (the rule then says so).

`CsvIpCountry` reads DB-IP's "IP to Country Lite" CSV (CC BY 4.0, https://db-ip.com; credit
DB-IP wherever its data is shown): one range a line, `start,end,country`, IPv4 and IPv6 in one
file, sorted, no header, `ZZ` for ranges with no country. A `.gz` file is read as it is
published. Ranges are kept in flat sorted arrays, adjacent ranges of one country joined, and
found by binary search.

Addresses that are not globally routable (private, loopback, link-local, CGNAT, documentation,
reserved) have no country: they say nothing about where someone is.
"""

from __future__ import annotations

import bisect
import gzip
import ipaddress
import socket
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

_NO_COUNTRY = "ZZ"


class GeoDatabaseError(ValueError):
    """The IP-to-country file is missing or not in the expected `start,end,country` form."""


class IpCountry(Protocol):
    @property
    def available(self) -> bool:
        """False when there is no database: rules that need a country are inactive."""
        ...

    def country(self, ip: str) -> str | None:
        """The ISO 3166-1 alpha-2 code of a public address; None if unknown or not public."""
        ...


class NoGeo:
    """No database configured: no address has a country."""

    available = False

    def country(self, ip: str) -> str | None:
        return None


@dataclass(frozen=True)
class _Ranges:
    starts: array[int] | list[int]
    ends: array[int] | list[int]
    countries: list[str]

    def find(self, address: int) -> str | None:
        at = bisect.bisect_right(self.starts, address) - 1
        if at < 0 or address > self.ends[at]:
            return None
        code = self.countries[at]
        return None if code == _NO_COUNTRY else code


class CsvIpCountry:
    available = True

    def __init__(self, v4: _Ranges, v6: _Ranges) -> None:
        self._v4 = v4
        self._v6 = v6

    @classmethod
    def load(cls, path: str | Path) -> CsvIpCountry:
        source = Path(path)
        try:
            if source.suffix == ".gz":
                with gzip.open(source, "rt", encoding="ascii", newline="") as text:
                    return cls.from_lines(text, str(source))
            with source.open(encoding="ascii", newline="") as text:
                return cls.from_lines(text, str(source))
        except (OSError, UnicodeDecodeError, EOFError) as exc:
            raise GeoDatabaseError(f"cannot read the IP-to-country database {source}: {exc}") from None

    @classmethod
    def from_lines(cls, lines: Iterable[str], source: str = "<lines>") -> CsvIpCountry:
        """Parse and index the ranges. This loop is the cold start's cost (~600k lines): kept plain."""
        v4, v6 = _Builder(4, source), _Builder(6, source)
        pton = socket.inet_pton
        for number, line in enumerate(lines, start=1):
            cells = line.split(",")
            if len(cells) != 3:
                if not line.strip():
                    continue
                raise GeoDatabaseError(f"{source}, line {number}: not 'start,end,country'")
            start, end, code = cells[0].strip(' "'), cells[1].strip(' "'), cells[2].strip(' "\r\n')
            six = ":" in start
            try:
                family = socket.AF_INET6 if six else socket.AF_INET
                low = int.from_bytes(pton(family, start))
                high = int.from_bytes(pton(family, end))
            except OSError:
                raise GeoDatabaseError(f"{source}, line {number}: not 'start,end,country'") from None
            if low > high or len(code) != 2 or not code.isalpha():
                raise GeoDatabaseError(f"{source}, line {number}: not 'start,end,country'")
            (v6 if six else v4).add(low, high, code.upper())
        return cls(v4.build(), v6.build())

    def country(self, ip: str) -> str | None:
        try:
            address = ipaddress.ip_address(ip.strip())
        except ValueError:
            return None
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if not address.is_global:
            return None
        ranges = self._v4 if address.version == 4 else self._v6
        return ranges.find(int(address))


def ip_country(path: str | None) -> IpCountry:
    """The database at `path` (a setting), or NoGeo when none is configured."""
    return CsvIpCountry.load(path) if path else NoGeo()


class _Builder:
    """One family's ranges as read; adjacent ranges of one country are joined (fewer to keep)."""

    def __init__(self, version: int, source: str) -> None:
        self._version = version
        self._source = source
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._countries: list[str] = []
        self._codes: dict[str, str] = {}  # one string object per country, shared by its ranges
        self._sorted = True

    def add(self, low: int, high: int, code: str) -> None:
        if self._starts and low <= self._ends[-1]:
            self._sorted = False  # out of order, or overlapping: build() tells which
        elif self._starts and low == self._ends[-1] + 1 and code == self._countries[-1]:
            self._ends[-1] = high
            return
        self._starts.append(low)
        self._ends.append(high)
        self._countries.append(self._codes.setdefault(code, code))

    def build(self) -> _Ranges:
        if not self._sorted:
            rows = sorted(zip(self._starts, self._ends, self._countries, strict=True))
            self._starts, self._ends, self._countries = [], [], []
            for low, high, code in rows:
                if self._starts and low <= self._ends[-1]:
                    at = ipaddress.IPv4Address(low) if self._version == 4 else ipaddress.IPv6Address(low)
                    raise GeoDatabaseError(f"{self._source}: overlapping ranges at {at}")
                self.add(low, high, code)
        if self._version == 4:  # 8 bytes an address instead of a Python int (28) and its pointer
            return _Ranges(array("L", self._starts), array("L", self._ends), self._countries)
        return _Ranges(self._starts, self._ends, self._countries)
