"""Hostile input on the public entry points, at the handler: what API Gateway can hand over, refused right.

The webhook intake's handler runs over the in-memory intake of test_webhook_intake (its state,
sinks and keys), so every effect is visible; the OAuth callback's handler runs over a real
ConnectService on moto's DynamoDB, with Box faked. What test_webhook_signature,
test_webhook_intake, test_callback_fuzz and the connect-flow tests cover already is not repeated:
here are HTTP API's header joining, case-variant and look-alike header names, base64 and
non-UTF-8 bodies, the size limit at its edge, replays over time, near-miss OAuth states, and the
logs of all of them.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import string
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from boxcasb.connect import ConnectService
from boxcasb.models import (
    Authorization,
    AuthorizationState,
    BoxUser,
    Connection,
    ConnectionStatus,
    OAuthStateRecord,
    TokenSet,
)
from boxcasb.settings import Settings
from boxcasb.state_store import StateStore
from boxcasb.webhooks.intake import WebhookIntake
from boxcasb.webhooks.signature import WebhookKeys
from tests.support.log_tap import LogTap
from tests.support.moto_tables import pk_sk_table
from tests.unit.test_consumer_fuzz import PLANTED, invoke, load_handler
from tests.unit.test_webhook_intake import (
    NOW,
    PRIMARY,
    SECONDARY,
    Harness,
    Keys,
    Sink,
    State,
    encode,
    payload,
    signed,
)

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DELIVERY = json.loads((ROOT / "events/webhook_intake_delivery.json").read_text())
SAMPLE_CALLBACK = json.loads((ROOT / "events/oauth_callback_allow.json").read_text())
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SIGNATURE_HEADERS = (
    "box-delivery-timestamp",
    "box-signature-version",
    "box-signature-algorithm",
    "box-signature-primary",
    "box-signature-secondary",
)


def assert_logged_without_secrets(tap: LogTap, said: str | None, *secrets: str) -> None:
    logged = tap.text()
    if said is not None:
        assert said in logged  # the tap saw the handler's own line
    for secret in (PRIMARY, SECONDARY, PLANTED, *secrets):
        assert secret not in logged


# --- the webhook intake ---------------------------------------------------------------------------


class Intakes:
    """Stands in for `webhook_intake()`: hands out the intake under test and counts who asked."""

    def __init__(self) -> None:
        self.current: WebhookIntake = Harness().intake
        self.built = 0

    def __call__(self) -> WebhookIntake:
        self.built += 1
        return self.current


@pytest.fixture
def intake_handler(monkeypatch: pytest.MonkeyPatch) -> tuple[ModuleType, Intakes]:
    module = load_handler("webhook_intake")
    intakes = Intakes()
    monkeypatch.setattr(module, "webhook_intake", intakes)
    return module, intakes


def gateway_headers(
    body: bytes, *, at: datetime = NOW, primary: str | None = PRIMARY, secondary: str | None = SECONDARY
) -> dict[str, str]:
    """A signed delivery's headers as API Gateway's HTTP API hands them over: names in lower case."""
    return {
        name.lower(): value
        for name, value in signed(body, at=at, primary=primary, secondary=secondary).items()
    }


def signature_values(headers: dict[str, str]) -> list[str]:
    return [v for k, v in headers.items() if k in ("box-signature-primary", "box-signature-secondary")]


def gateway_event(headers: dict[str, str], body: bytes | str, *, encoded: bool = False) -> dict[str, Any]:
    unsigned = {k: v for k, v in SAMPLE_DELIVERY["headers"].items() if not k.startswith("box-")}
    if isinstance(body, bytes):
        body = base64.b64encode(body).decode() if encoded else body.decode()
    return {**SAMPLE_DELIVERY, "headers": {**unsigned, **headers}, "body": body, "isBase64Encoded": encoded}


def answer_of(module: ModuleType, event: dict[str, Any]) -> tuple[int, str]:
    answer = invoke(module, event)
    assert answer["headers"] == {"content-type": "application/json", "cache-control": "no-store"}
    return answer["statusCode"], json.loads(answer["body"])["outcome"]


def effects(harness: Harness) -> tuple[Any, ...]:
    return (
        sorted(harness.state.processed.items()),
        harness.state.marked,
        [(c, e.model_dump()) for c, e in harness.sink.events],
        [(c, r, o) for c, r, o in harness.sink.scans],
    )


def delivery(delivery_id: str = "d-1", name: str = "plan.xlsx") -> bytes:
    return encode(payload(delivery_id=delivery_id, source={"type": "file", "id": "3000001", "name": name}))


SEPARATORS = st.sampled_from([",", ", "])
# What a proxy or an attacker may put beside the genuine value.
PARTNERS = st.one_of(
    st.just("GENUINE"),
    st.just(""),
    st.just(PLANTED),
    st.binary(min_size=32, max_size=32).map(lambda b: base64.b64encode(b).decode()),
    st.text(alphabet=string.printable, max_size=40),
)


@FUZZ
@given(
    header=st.sampled_from(SIGNATURE_HEADERS),
    partner=PARTNERS,
    separator=SEPARATORS,
    genuine_first=st.booleans(),
    other_signature=st.booleans(),
)
def test_a_header_sent_twice_and_joined_by_the_gateway_never_verifies_by_itself(
    intake_handler: tuple[ModuleType, Intakes],
    log_tap: LogTap,
    header: str,
    partner: str,
    separator: str,
    genuine_first: bool,
    other_signature: bool,
) -> None:
    # HTTP API joins repeated headers with commas. Base64 has no comma, so a joined signature
    # matches nothing; a joined timestamp, version or algorithm is not one we speak.
    module, intakes = intake_handler
    harness = Harness()
    intakes.current = harness.intake
    body = delivery()
    primary_only = header == "box-signature-primary" and not other_signature
    secondary_only = header == "box-signature-secondary" and not other_signature
    headers = gateway_headers(
        body, primary=None if secondary_only else PRIMARY, secondary=None if primary_only else SECONDARY
    )
    signatures = signature_values(headers)
    genuine = headers[header]
    pair = [genuine, genuine if partner == "GENUINE" else partner]
    headers[header] = separator.join(pair if genuine_first else pair[::-1])
    log_tap.clear()
    status, outcome = answer_of(module, gateway_event(headers, body))
    if header == "box-delivery-timestamp":
        # Unparseable; or, should Python read the joined text as a time, out of the window or not
        # the signed text.
        assert (status, outcome) in {
            (400, "rejected: unparseable_timestamp"),
            (401, "rejected: stale_timestamp"),
            (401, "rejected: future_timestamp"),
            (401, "rejected: signature_mismatch"),
        }
    else:
        assert (status, outcome) == {
            "box-signature-version": (400, "rejected: unsupported_signature_version"),
            "box-signature-algorithm": (400, "rejected: unsupported_signature_algorithm"),
        }.get(header, (200, "accepted") if other_signature else (401, "rejected: signature_mismatch"))
    assert len(harness.sink.events) == (1 if status == 200 else 0)
    if status != 200:
        assert harness.untouched()
    assert_logged_without_secrets(log_tap, "webhook delivery", *signatures)


def random_case(name: str) -> st.SearchStrategy[str]:
    return (
        st.lists(st.booleans(), min_size=len(name), max_size=len(name))
        .map(lambda upper: "".join(c.upper() if u else c for c, u in zip(name, upper, strict=True)))
        .filter(lambda cased: cased != name)
    )


@FUZZ
@given(data=st.data(), header=st.sampled_from(SIGNATURE_HEADERS), same=st.booleans())
def test_a_header_repeated_in_another_case_must_agree_with_itself(
    intake_handler: tuple[ModuleType, Intakes], log_tap: LogTap, data: st.DataObject, header: str, same: bool
) -> None:
    # A client (or a test harness, or a gateway that stops lower-casing) sending both spellings:
    # one of them must not win silently.
    module, intakes = intake_handler
    harness = Harness()
    intakes.current = harness.intake
    body = delivery()
    headers = gateway_headers(body)
    other = data.draw(random_case(header), label="other spelling")
    headers[other] = headers[header] if same else data.draw(PARTNERS.filter(lambda v: v != headers[header]))
    log_tap.clear()
    status, outcome = answer_of(module, gateway_event(headers, body))
    if same:
        assert (status, outcome) == (200, "accepted")
    else:
        assert (status, outcome) == (400, "rejected: conflicting_signature_headers")
        assert harness.untouched()
    assert_logged_without_secrets(log_tap, "webhook delivery")


@pytest.mark.parametrize(
    "look_alike",
    [
        "box-signature-prımary",  # dotless i: lower() of "PRIMARY" never gives it, but it looks the same
        "box-signature-primary\u200b",
        "box-signature-primary ",
        " box-signature-primary",
        "box_signature_primary",
        "x-box-signature-primary",
        "box-signature-primary-2",
    ],
)
def test_a_signature_under_a_look_alike_name_is_no_signature(
    intake_handler: tuple[ModuleType, Intakes], look_alike: str
) -> None:
    module, intakes = intake_handler
    harness = Harness()
    intakes.current = harness.intake
    body = delivery()
    headers = gateway_headers(body, secondary=None)
    headers[look_alike] = headers.pop("box-signature-primary")
    assert answer_of(module, gateway_event(headers, body)) == (401, "rejected: missing_signature_headers")
    assert harness.untouched()


NAMES = st.text(max_size=40) | st.sampled_from(["Résumé 📄.pdf", "a\\/b", "\u2028", "\x00"])


@FUZZ
@given(
    kind=st.sampled_from(["delivery", "bytes"]),
    delivery_id=st.text(min_size=1, max_size=40),
    name=NAMES,
    raw=st.binary(max_size=300),
    signature=st.sampled_from(["primary", "secondary", "forged"]),
)
@example(kind="bytes", delivery_id="x", name="", raw=b"\xff\xfe{}", signature="primary")
def test_a_body_gets_the_same_answer_and_effects_as_text_or_as_base64(
    intake_handler: tuple[ModuleType, Intakes],
    log_tap: LogTap,
    kind: str,
    delivery_id: str,
    name: str,
    raw: bytes,
    signature: str,
) -> None:
    module, intakes = intake_handler
    body = delivery(delivery_id, name) if kind == "delivery" else raw
    headers = gateway_headers(
        body,
        primary="forged-key" if signature == "forged" else (PRIMARY if signature == "primary" else None),
        secondary=SECONDARY if signature == "secondary" else None,
    )
    outcomes = {}
    for encoded in (False, True):
        try:
            body.decode()
        except UnicodeDecodeError:
            if not encoded:
                continue  # not text: API Gateway hands it over base64-encoded, never as text
        harness = Harness()
        intakes.current = harness.intake
        log_tap.clear()
        outcomes[encoded] = (
            answer_of(module, gateway_event(headers, body, encoded=encoded)),
            effects(harness),
        )
        assert_logged_without_secrets(log_tap, "webhook delivery", *signature_values(headers))
    (status, outcome), effect = outcomes[True]
    if False in outcomes:
        assert outcomes[False] == outcomes[True]
    processed, _, events, _ = effect
    assert len(processed) == len(events) == (1 if status == 200 else 0)
    if signature == "forged":
        assert (status, outcome) == (401, "rejected: signature_mismatch")
    elif kind == "bytes" and _not_a_json_object(raw):
        assert (status, outcome) == (400, "rejected: not a webhook delivery")
    elif kind == "delivery":
        assert (status, outcome) == (200, "accepted")


def _not_a_json_object(raw: bytes) -> bool:
    try:
        return not isinstance(json.loads(raw), dict)
    except (ValueError, RecursionError):
        return True


B64_ISH = string.ascii_letters + string.digits + "+/=-_ \n\t.*"


def _not_strict_base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return True
    return False


@FUZZ
@given(
    body=st.one_of(
        st.text(alphabet=B64_ISH, min_size=1, max_size=200),
        st.binary(min_size=1, max_size=200).map(lambda b: base64.urlsafe_b64encode(b).decode()),
        st.binary(min_size=1, max_size=200).map(lambda b: base64.encodebytes(b).decode()),  # MIME: newlines
        st.binary(min_size=1, max_size=200).map(lambda b: base64.b64encode(b).decode().rstrip("=") + "="),
    ).filter(_not_strict_base64)
)
def test_a_body_that_is_not_strict_base64_never_reaches_the_intake(
    intake_handler: tuple[ModuleType, Intakes], log_tap: LogTap, body: str
) -> None:
    module, intakes = intake_handler
    headers = gateway_headers(body.encode())
    log_tap.clear()
    status, outcome = answer_of(module, gateway_event(headers, body, encoded=True))
    assert (status, outcome) == (400, "rejected: body is not valid base64")
    assert intakes.built == 0  # no key read, no state touched: the intake was never even built
    assert_logged_without_secrets(log_tap, "webhook delivery", headers["box-signature-primary"])


LIMIT = 4096  # the Harness's max_body_bytes


def padded_delivery(size: int) -> bytes:
    """A delivery of exactly `size` bytes."""
    base = len(encode(payload(padding="")))
    body = encode(payload(padding="x" * (size - base)))
    assert len(body) == size
    return body


@FUZZ
@given(
    size=st.integers(LIMIT - 16, LIMIT + 16) | st.integers(LIMIT + 17, 6 * 1024 * 1024),
    encoded=st.booleans(),
)
def test_the_size_limit_counts_the_bytes_box_signed_not_their_encoding(
    intake_handler: tuple[ModuleType, Intakes], log_tap: LogTap, size: int, encoded: bool
) -> None:
    module, intakes = intake_handler
    harness = Harness()
    intakes.current = harness.intake
    body = padded_delivery(size)
    log_tap.clear()
    status, outcome = answer_of(module, gateway_event(gateway_headers(body), body, encoded=encoded))
    if size > LIMIT:
        assert (status, outcome) == (413, "rejected: body_too_large")
        assert harness.untouched()
        assert harness.keys.refetches == 0
    else:
        assert (status, outcome) == (200, "accepted")  # base64 of it is a third longer than the limit
    assert_logged_without_secrets(log_tap, "webhook delivery")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@FUZZ
@given(
    age=st.integers(0, 600),
    replays=st.lists(st.integers(0, 1800), min_size=1, max_size=4).map(sorted),
    restamped=st.booleans(),
)
def test_a_captured_delivery_replayed_at_any_later_time_has_its_effect_once(
    intake_handler: tuple[ModuleType, Intakes], log_tap: LogTap, age: int, replays: list[int], restamped: bool
) -> None:
    module, intakes = intake_handler
    clock = Clock(NOW)
    state, sink = State(), Sink()
    intakes.current = WebhookIntake(
        Keys(WebhookKeys(PRIMARY, SECONDARY)),
        state,
        lambda: sink,
        lambda: sink,
        clock=clock,
        max_body_bytes=LIMIT,
    )
    signed_at = NOW - timedelta(seconds=age)
    body = delivery(f"captured-{age}")
    event = gateway_event(gateway_headers(body, at=signed_at), body)
    assert answer_of(module, event) == (200, "accepted")
    for later in replays:
        clock.now = NOW + timedelta(seconds=later)
        copy = json.loads(json.dumps(event))
        if restamped:  # the attacker moves the timestamp into the window: the signature covers it
            copy["headers"]["box-delivery-timestamp"] = clock.now.astimezone(UTC).isoformat()
        log_tap.clear()
        status, outcome = answer_of(module, copy)
        if restamped:
            assert (status, outcome) == (401, "rejected: signature_mismatch")
        elif age + later <= 600:
            assert (status, outcome) == (200, "replay")
        else:
            assert (status, outcome) == (401, "rejected: stale_timestamp")
        assert_logged_without_secrets(log_tap, "webhook delivery", event["headers"]["box-signature-primary"])
    assert len(sink.events) == 1
    assert len(sink.scans) == 1
    assert list(state.processed) == [f"captured-{age}"]


@pytest.mark.parametrize(
    ("body", "encoded"), [("\ud800" + "x" * 10, False), ('{"id": "\udfff"}', False), (12345, True)]
)
def test_a_body_that_is_not_text_or_base64_is_a_400(
    intake_handler: tuple[ModuleType, Intakes], body: Any, encoded: bool
) -> None:
    module, intakes = intake_handler
    event = {**SAMPLE_DELIVERY, "body": body, "isBase64Encoded": encoded}
    assert invoke(module, event)["statusCode"] == 400
    assert intakes.built == 0


# --- the OAuth callback ---------------------------------------------------------------------------

CODE = "bX5a9Zk2QpL7cV0w"  # what Box puts in the redirect: must never be logged
ISSUED_TOKENS = TokenSet(
    access_token=SecretStr("tok_ACCESS_3b9e1c7a5d2f48e6"),
    refresh_token=SecretStr("tok_REFRESH_8c1d4e7f2a5b9036"),
    access_expires_at=datetime(2030, 1, 1, tzinfo=UTC),
    issued_at=datetime(2029, 12, 31, 23, 0, tzinfo=UTC),
)


class FakeBoxSide:
    """The Box side of a connect: the app's code exchange and /users/me, counted."""

    def __init__(self) -> None:
        self.exchanged: list[str] = []
        self.saved: list[str] = []

    def app(self) -> FakeBoxSide:
        return self

    def exchange_code(self, code: str) -> TokenSet:
        self.exchanged.append(code)
        return ISSUED_TOKENS

    def with_tokens(self, tokens: TokenSet) -> FakeBoxSide:
        assert tokens is ISSUED_TOKENS
        return self

    def current_user(self) -> BoxUser:
        return BoxUser(
            id="20000001",
            login="admin@acme.example",
            role="admin",
            enterprise_id="e-1",
            enterprise_name="Acme",
        )

    def save_new(self, connection_id: str, tokens: TokenSet) -> None:
        self.saved.append(connection_id)


@pytest.fixture
def callback(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ModuleType, StateStore, FakeBoxSide]]:
    with pk_sk_table(monkeypatch, "fuzz-callback-state", "expires_at") as table:
        store, box = StateStore(table), FakeBoxSide()
        fake: Any = box  # the token store and the gateways, as far as the callback uses them
        settings_ = Settings(
            table_name=table.name,
            activity_table_name="unused",
            backfill_queue_url="unused",
            priority_scan_queue_url="unused",
            token_key_arn="unused",
            box_app_secret_arn="unused",
        )
        service = ConnectService(
            settings_,
            store,
            fake,
            lambda: fake,
            cast(Any, None),  # the callback never reads the app's credentials
            lambda connection_id, reason: None,
            lambda connection_id, at: None,
        )
        module = load_handler("oauth_callback")
        monkeypatch.setattr(module, "services", lambda: SimpleNamespace(connect=lambda: service))
        yield module, store, box


def issue_state(store: StateStore) -> tuple[str, str]:
    """What `POST /connections` leaves behind: a pending connection and its one-time state."""
    now = datetime.now(UTC)
    connection_id = f"c-{secrets.token_hex(8)}"
    expires = now + timedelta(minutes=10)
    store.create_connection(
        Connection(
            connection_id=connection_id,
            status=ConnectionStatus.PENDING,
            created_at=now,
            updated_at=now,
            authorization=Authorization(
                state=AuthorizationState.AWAITING_CONSENT, started_at=now, expires_at=expires
            ),
        )
    )
    state = secrets.token_urlsafe(32)
    store.put_oauth_state(
        state,
        OAuthStateRecord(connection_id=connection_id, redirect_uri="https://x.test/cb", expires_at=expires),
    )
    return connection_id, state


STATE_ALPHABET = string.ascii_letters + string.digits + "-_"


def near_misses(state: str) -> st.SearchStrategy[str]:
    """States an attacker could try who saw part of the real one, or guesses its shape."""
    index = st.integers(0, len(state) - 1)
    return st.one_of(
        st.tuples(index, st.sampled_from(STATE_ALPHABET)).map(
            lambda m: state[: m[0]] + m[1] + state[m[0] + 1 :]
        ),
        st.integers(32, len(state) - 1).map(lambda n: state[:n]),
        st.text(alphabet=STATE_ALPHABET, min_size=1, max_size=20).map(lambda tail: state + tail),
        st.just(state.swapcase()),
        st.sampled_from([" ", "%20", "\n", "=", "%3D"]).map(lambda pad: state + pad),
        st.text(alphabet=STATE_ALPHABET, min_size=43, max_size=43),
    ).filter(lambda forged: forged != state)


def visit(module: ModuleType, state: str, code: str = CODE) -> tuple[int, str]:
    """The admin's browser arriving from Box: the callback's status and page."""
    answer = invoke(module, {**SAMPLE_CALLBACK, "queryStringParameters": {"state": state, "code": code}})
    assert answer["headers"]["cache-control"] == "no-store"
    return answer["statusCode"], answer["body"]


SECRETS_OF_A_CONNECT = (
    CODE,
    ISSUED_TOKENS.access_token.get_secret_value(),
    ISSUED_TOKENS.refresh_token.get_secret_value(),
)


@pytest.fixture
def issued(callback: tuple[ModuleType, StateStore, FakeBoxSide]) -> tuple[str, str]:
    return issue_state(callback[1])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_near_miss_of_a_live_state_changes_nothing_and_never_reaches_box(
    callback: tuple[ModuleType, StateStore, FakeBoxSide],
    issued: tuple[str, str],
    log_tap: LogTap,
    data: st.DataObject,
) -> None:
    module, store, box = callback
    _, state = issued  # one live state for every example: none may consume it
    forged = data.draw(near_misses(state), label="forged state")
    before = store.table.scan(ConsistentRead=True)["Items"]
    log_tap.clear()
    status, page = visit(module, forged)
    assert (status, "can&#x27;t be used" in page) == (400, True)
    assert store.table.scan(ConsistentRead=True)["Items"] == before
    assert box.exchanged == []
    assert_logged_without_secrets(log_tap, None, state, forged, *SECRETS_OF_A_CONNECT)


def test_after_forged_tries_the_real_state_connects_once_and_a_replay_changes_nothing(
    callback: tuple[ModuleType, StateStore, FakeBoxSide], issued: tuple[str, str], log_tap: LogTap
) -> None:
    module, store, box = callback
    connection_id, state = issued
    flipped = ("A" if state[0] != "A" else "B") + state[1:]
    for forged in (flipped, state[:-1], state + "A", state.swapcase(), state + "\n"):
        assert visit(module, forged)[0] == 400
    status, page = visit(module, state)
    assert (status, "successfully connected" in page) == (200, True)
    assert box.exchanged == [CODE]
    assert box.saved == [connection_id]
    assert store.get_connection(connection_id).status is ConnectionStatus.CONNECTED
    after_connect = store.table.scan(ConsistentRead=True)["Items"]
    status, page = visit(module, state, code="another-code")
    assert (status, "already used" in page) == (400, True)
    assert store.table.scan(ConsistentRead=True)["Items"] == after_connect
    assert box.exchanged == [CODE]
    assert_logged_without_secrets(log_tap, "box connected", state, *SECRETS_OF_A_CONNECT)
