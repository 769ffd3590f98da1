"""Content detectors: one hyperscan pass against a naive loop of Python `re`, same checks, same text.

The corpus (`--mb`, default 100, built in memory from a fixed seed) mixes prose (some of it not
ASCII), CSV rows, JSON records and code, with a sensitive value planted in one line out of
PLANT_EVERY: valid card numbers, IBANs, SSNs, addresses, phones and secrets, and decoys that must
not count (Luhn off by one, IBAN check digits off by one, SSN areas 000/666/9xx). The detector set
is every built-in plus CUSTOM_PATTERNS, as a policy would have them.

Both sides run the same scanner (blocks of 1 Mi characters, boundaries, checks, overlap
selection, samples); only the engine differs: hyperscan's one pass over each block, or one
`finditer` per pattern over it (with lookarounds where hyperscan folds in a boundary byte).
Runs alternate between the two so machine noise spreads evenly; the best run of each is the
figure, on one core (the scan is single-threaded). Both must find the same counts, and these
are compared with what was planted.

`python -m bench.detectors --mb 20` for a shorter run.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import string
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from bench import emit
from boxcasb.inspect.detect import BUILTIN_DETECTORS, Detections, DetectorSet
from boxcasb.inspect.detect.engine import Hit
from boxcasb.inspect.detect.model import Expression
from boxcasb.inspect.detect.validators import IBAN_LENGTHS, luhn_valid

DEFAULT_MB = 100
MAKE_BENCH_MB = 20  # what `python -m bench` runs: the naive side takes about a minute per round here
PLANT_EVERY = 40  # one line in 40 carries a planted value or decoy: about one per 2-3 KiB
ROUNDS = 3
SEED = 20240501

CUSTOM_PATTERNS: dict[str, str] = {
    "confidential": r"(?i)\bstrictly\s{1,3}confidential\b",
    "internal_only": r"(?i)\binternal\s{1,3}use\s{1,3}only\b",
    "project_falcon": r"(?i)\bproject\s{1,3}falcon\b",
    "project_orion": r"(?i)\bproject\s{1,3}orion\b",
    "employee_id": r"\bEMP-[0-9]{6}\b",
    "customer_ref": r"\bCUST-[A-Z]{2}[0-9]{5}\b",
    "contract_no": r"\bCTR/[0-9]{4}/[0-9]{3,5}\b",
    "invoice_ref": r"\bINV-20[0-9]{2}-[0-9]{5}\b",
    "password_field": r"(?i)\bpassword\s{0,3}[:=]\s{0,3}[^\s\"']{6,32}",
    "api_secret_field": r"(?i)\bapi[_-]?secret\s{0,3}[:=]\s{0,3}[A-Za-z0-9]{16,64}",
    "salary": r"(?i)\bsalary\s{0,3}[:=]?\s{0,3}\$?[0-9]{2,3},[0-9]{3}\b",
    "passport_fr": r"\b[0-9]{2}[A-Z]{2}[0-9]{5}\b",
    "nhs_number": r"\b[0-9]{3} [0-9]{3} [0-9]{4}\b",
    "sin_ca": r"(?i)\bSIN\s{0,3}[:#]?\s{0,3}[0-9]{3}-[0-9]{3}-[0-9]{3}\b",
    "uk_nino": r"\b[A-CEGHJ-PR-TW-Z]{2}[0-9]{6}[A-D]\b",
    "ipv4_private": r"\b10\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\b",
    "azure_conn": r"AccountKey=[A-Za-z0-9+/]{86}==",
    "db_url": r"postgres://[A-Za-z0-9_]{1,32}:[A-Za-z0-9_%!*.-]{1,64}@[A-Za-z0-9.-]{1,64}",
    "codename_zephyr": r"(?i)\bzephyr[- ]protocol\b",
    "merger_terms": r"(?i)\b(?:merger|acquisition)\s{1,3}(?:term\s{1,3}sheet|agreement)\b",
}

_PROSE = (
    "the report quarterly revenue customer account meeting total status review budget forecast "
    "team project deadline update invoice payment shipment order contract renewal policy access "
    "share folder document draft final approved pending notes agenda action item owner risk "
    "issue plan release version feature service support ticket incident summary analysis data "
    "café Zürich naïve résumé Ångström straße 東京 データ"
)
_WORDS = _PROSE.split()
_NAMES = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"]


# --- the corpus -----------------------------------------------------------------------------------


def _prose(rng: random.Random) -> str:
    words = rng.choices(_WORDS, k=rng.randint(8, 24))
    return " ".join(words).capitalize() + "."


def _csv(rng: random.Random) -> str:
    day = f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    amount = f"{rng.randint(1, 9999)}.{rng.randint(0, 99):02d}"
    name = f"{rng.choice(_NAMES).title()} {rng.choice(_NAMES).title()}"
    return f"{rng.randint(10000, 99999)},{name},{day},{amount},{rng.choice(['paid', 'open', 'void'])}"


def _json(rng: random.Random) -> str:
    return (
        f'{{"id": {rng.randint(1000, 99999)}, "user": "{rng.choice(_NAMES)}", '
        f'"ts": "2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:00:00Z", '
        f'"amount": {rng.randint(1, 999)}.{rng.randint(0, 99)}, "tags": ["{rng.choice(_WORDS)}", "x"]}}'
    )


def _code(rng: random.Random) -> str:
    name = rng.choice(_NAMES)
    hex_id = "".join(rng.choices("0123456789abcdef", k=8))
    return rng.choice(
        [
            f"def load_{name}(path: str) -> dict:  # 0x{hex_id}",
            f"    return {{'{name}': cache.get({rng.randint(1, 999)}), 'ok': True}}",
            f"const {name}Count = items.filter(x => x.size > {rng.randint(1, 99)}).length;",
            f"if (retries >= {rng.randint(1, 9)}) {{ throw new Error('{name} failed'); }}",
        ]
    )


_FILLERS: tuple[Callable[[random.Random], str], ...] = (_prose, _prose, _csv, _json, _code)


def _card(rng: random.Random) -> str:
    prefix = rng.choice(["4", "51", "55", "2221", "2720", "34", "37", "6011", "65", "3530", "36"])
    length = {"34": 15, "37": 15, "36": 14}.get(prefix, 16)
    body = prefix + "".join(rng.choices(string.digits, k=length - len(prefix) - 1))
    digits = body + next(d for d in string.digits if luhn_valid(body + d))
    if length == 16 and rng.random() < 0.5:
        return " ".join(digits[i : i + 4] for i in range(0, 16, 4))
    return digits


def _bad_card(rng: random.Random) -> str:
    valid = _card(rng).replace(" ", "")
    return valid[:-1] + str((int(valid[-1]) + 1) % 10)


def _iban(rng: random.Random, valid: bool = True) -> str:
    country = rng.choice(["DE", "FR", "GB", "NL", "ES", "IT", "CH", "BE", "PL", "NO"])
    bban = "".join(rng.choices(string.digits, k=IBAN_LENGTHS[country] - 4))
    rearranged = bban + country + "00"
    check = 98 - int("".join(str(int(c, 36)) for c in rearranged)) % 97
    iban = f"{country}{(check if valid else check % 97 + 1):02d}{bban}"
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4)) if rng.random() < 0.5 else iban


def _ssn(rng: random.Random, valid: bool = True) -> str:
    area = rng.randint(1, 665) if valid else rng.choice([0, 666, rng.randint(900, 999)])
    return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def _secret(rng: random.Random, alphabet: str, k: int) -> str:
    return "".join(rng.choices(alphabet, k=k))


_B62 = string.ascii_letters + string.digits
_JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwiaWF0IjoxNzAwMDAwMDAwfQ."

# What each planted line is, and which detector must count it (None: a decoy, counted by none).
_PLANTS: tuple[tuple[str | None, Callable[[random.Random], str]], ...] = (
    ("credit_card", lambda r: f"Card on file: {_card(r)} (exp 0{r.randint(1, 9)}/2{r.randint(6, 9)})"),
    (None, lambda r: f"Reference number {_bad_card(r)} is not a card"),
    ("iban", lambda r: f"Please wire to IBAN {_iban(r)} by Friday"),
    (None, lambda r: f"Old account {_iban(r, valid=False)} was closed"),
    ("us_ssn", lambda r: f"Employee SSN: {_ssn(r)}"),
    (None, lambda r: f"Form field {_ssn(r, valid=False)} left as placeholder"),
    ("email", lambda r: f"Contact {r.choice(_NAMES)}.{r.choice(_NAMES)}@example.com for access"),
    ("phone", lambda r: f"Call +44 20 {r.randint(7000, 7999)} {r.randint(1000, 9999)} after 5pm"),
    (
        "phone",
        lambda r: f"Desk: (212) {r.randint(2, 9)}{r.randint(2, 9)}{r.randint(0, 9)}-{r.randint(1000, 9999)}",
    ),
    (
        "aws_access_key_id",
        lambda r: f"aws_access_key_id = AKIA{_secret(r, string.ascii_uppercase + '234567', 16)}",
    ),
    ("aws_secret_access_key", lambda r: f"aws_secret_access_key = {_secret(r, _B62, 38)}/+"),
    ("github_token", lambda r: f"export GITHUB_TOKEN=ghp_{_secret(r, _B62, 36)}"),
    ("slack_token", lambda r: f"slack: xoxb-{r.randint(10**11, 10**12)}-{_secret(r, _B62, 24)}"),
    ("google_api_key", lambda r: f"maps key AIza{_secret(r, _B62 + '_-', 35)}"),
    ("stripe_key", lambda r: f"STRIPE=sk_live_{_secret(r, _B62, 24)}"),
    ("jwt", lambda r: f"Authorization: Bearer {_JWT}{_secret(r, _B62 + '_-', 43)}"),
    ("private_key", lambda r: f"-----BEGIN RSA PRIVATE KEY-----\nMIIE{_secret(r, _B62 + '+/', 60)}"),
    ("project_falcon", lambda r: "Status of Project Falcon: on track"),
    ("employee_id", lambda r: f"Badge EMP-{r.randint(100000, 999999)} issued"),
    ("password_field", lambda r: f"password: {_secret(r, _B62, 12)}"),
)


def corpus(megabytes: float, seed: int = SEED) -> tuple[str, Counter[str]]:
    """The text and what was planted in it, per detector."""
    rng = random.Random(seed)
    target = int(megabytes * 1_000_000)
    # A pool of filler lines reused at random: building 100 MB line by line would take minutes.
    pool = [rng.choice(_FILLERS)(rng) for _ in range(20_000)]
    lines: list[str] = []
    planted: Counter[str] = Counter()
    size = 0
    while size < target:
        if len(lines) % PLANT_EVERY == PLANT_EVERY - 1:
            detector, make = rng.choice(_PLANTS)
            line = make(rng)
            if detector is not None:
                planted[detector] += 1
        else:
            line = rng.choice(pool)
        lines.append(line)
        size += len(line) + 1  # close enough to UTF-8 bytes: the few non-ASCII words are counted below
    return "\n".join(lines), planted


# --- the naive engine -----------------------------------------------------------------------------


class NaiveEngine:
    """One `finditer` per pattern over each block. A boundary byte becomes a lookaround here:
    `finditer` never overlaps its matches, so a consumed separator would hide the next value."""

    def __init__(self, expressions: Sequence[Expression]) -> None:
        self._patterns = [re.compile(_python_pattern(e).encode()) for e in expressions]

    def scan(self, data: bytes) -> list[Hit]:
        hits: list[Hit] = []
        for index, pattern in enumerate(self._patterns):
            hits.extend((index, m.start(), m.end()) for m in pattern.finditer(data))
        return hits


def _python_pattern(expression: Expression) -> str:
    before = f"(?<![{expression.not_before}])" if expression.not_before else ""
    after = f"(?![{expression.not_after}])" if expression.not_after else ""
    return f"{before}(?:{expression.core}){after}" if before or after else expression.core


# --- the measure ----------------------------------------------------------------------------------


def _timed(detectors: DetectorSet, text: str) -> tuple[float, float, Detections]:
    """Wall and CPU seconds: on a busy machine the CPU time is the steadier of the two."""
    wall, cpu = time.perf_counter(), time.process_time()
    found = detectors.scan(text)
    return time.perf_counter() - wall, time.process_time() - cpu, found


def run(megabytes: float = DEFAULT_MB, rounds: int = ROUNDS) -> dict[str, Any]:
    started = time.perf_counter()
    text, planted = corpus(megabytes)
    size = len(text.encode())
    built = time.perf_counter()
    fast = DetectorSet.build(custom=CUSTOM_PATTERNS)
    compile_seconds = time.perf_counter() - built
    naive = replace(fast, engine=NaiveEngine(fast.plan.expressions))
    seconds: dict[str, list[float]] = {"hyperscan": [], "python_re": []}
    cpu: dict[str, list[float]] = {"hyperscan": [], "python_re": []}
    results: dict[str, Detections] = {}
    for _ in range(rounds):
        for name, detectors in (("hyperscan", fast), ("python_re", naive)):
            elapsed, used, results[name] = _timed(detectors, text)
            seconds[name].append(elapsed)
            cpu[name].append(used)
    counts = {name: dict(found.counts) for name, found in results.items()}
    mb = size / 1_000_000
    best = {name: min(values) for name, values in seconds.items()}
    found = counts["hyperscan"]
    result: dict[str, Any] = {
        "corpus": {
            "mb_utf8": round(mb, 1),
            "chars": len(text),
            "seed": SEED,
            "build_seconds": round(built - started, 1),
            "planted": dict(sorted(planted.items())),
        },
        "patterns": {
            "detectors": len(fast.names),
            "builtin": len(BUILTIN_DETECTORS),
            "custom": len(CUSTOM_PATTERNS),
            "expressions": len(fast.plan.expressions),
            "hyperscan_compile_ms": round(compile_seconds * 1000),
        },
        "cores_used": 1,
        "cores_on_machine": len(os.sched_getaffinity(0)),
        "rounds": rounds,
        "seconds": {name: [round(s, 2) for s in values] for name, values in seconds.items()},
        "cpu_seconds": {name: [round(s, 2) for s in values] for name, values in cpu.items()},
        "mb_per_second": {name: round(mb / s, 1) for name, s in best.items()},
        "mb_per_cpu_second": {name: round(mb / min(values), 1) for name, values in cpu.items()},
        "speedup": round(best["python_re"] / best["hyperscan"], 1),
        "same_counts": counts["hyperscan"] == counts["python_re"],
        "counts": found,
        "count_differences": {
            name: {"hyperscan": found[name], "python_re": counts["python_re"][name]}
            for name in found
            if found[name] != counts["python_re"][name]
        },
        "planted_not_matching": {
            name: {"planted": planted[name], "found": found.get(name, 0)}
            for name in sorted(set(planted) | {n for n, c in found.items() if c})
            if planted[name] != found.get(name, 0)
        },
    }
    if megabytes < DEFAULT_MB:
        result["scaled_down"] = (
            f"{megabytes:g} MB, not {DEFAULT_MB}: the full size is `python -m bench.detectors`"
        )
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.detectors", description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=DEFAULT_MB, help="corpus size in MB")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="alternating runs of each engine")
    args = parser.parse_args(argv)
    return run(args.mb, args.rounds)


if __name__ == "__main__":
    emit(main)
