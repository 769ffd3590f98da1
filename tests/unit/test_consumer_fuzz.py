"""Hostile input on every message consumer: a malformed record fails alone, reaches no service, logs nothing.

Each handler module is loaded the way Lambda loads it and called with a Lambda context. Its
`services()` is replaced by a `Spy`: services are a handler's only way to a table, a queue or
Box, so a record that got past validation shows up in `spy.calls`, and "a malformed record
writes nothing" is "a malformed record makes no call". What is malformed is written down here
(the `Contract`s below), not derived from the models, so a model that lets something through
fails a test.

The consumers, from template.yaml: SQS (`ActivityBackfillFunction`, `ScanWorkerFunction`, the
FIFO `PriorityScanFunction`), asynchronous invokes (`ApiTestFunction`, `GovernanceFunction`,
`WebhookSyncFunction`) and EventBridge Scheduler (`ActivityPollerFunction`,
`AlertNotifierFunction`, `ScanSchedulerFunction`, `TokenKeeperFunction`, and
`WebhookSyncFunction`'s daily run).
"""

from __future__ import annotations

import copy
import importlib.util
import json
import string
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from boxcasb.activity.backfill import BackfillMessage
from boxcasb.activity.stream import PollReport
from boxcasb.jobs import ApiTestRequest, RestoreRequest, WebhookSyncRequest
from boxcasb.scan.model import BulkMessage
from boxcasb.scan_queue import PriorityScanMessage
from boxcasb.token_keeper import KeeperReport
from devstack.handlers import LambdaContext, function_arn
from tests.support.log_tap import LogTap

ROOT = Path(__file__).resolve().parents[2]
# Looks like a Box token. Planted in hostile records; no log line may ever carry it.
PLANTED = "tok_PLANTED_7d1e9b6c0a5f4e3d2c1b0a99"
FUZZ = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# One budget per kind of malformation and consumer: every kind is reached, none left to chance.
FUZZ_EACH = settings(FUZZ, max_examples=20)


# --- calling a handler as Lambda does -------------------------------------------------------------


def load_handler(function_dir: str) -> ModuleType:
    """functions/<dir>/app.py under a name of its own, so several handlers coexist in one process."""
    name = f"fuzz_{function_dir}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "functions" / function_dir / "app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # pydantic resolves the record models' annotations through it
    spec.loader.exec_module(module)
    return module


def invoke(module: ModuleType, event: Any) -> Any:
    name = module.__name__
    context = LambdaContext(
        function_name=name,
        memory_limit_in_mb=256,
        invoked_function_arn=function_arn(name),
        aws_request_id=str(uuid.uuid4()),
        deadline_epoch=time.time() + 30,
    )
    return module.lambda_handler(event, context)


class Spy:
    """Stands in for `services()`: records every call made through it, by dotted path."""

    def __init__(self, answers: Mapping[str, Any] | None = None) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.answers = dict(answers or {})

    def __call__(self) -> _Reach:
        self.calls.append(("services", ()))
        return _Reach(self, "services()")

    def args_of(self, path: str) -> list[tuple[Any, ...]]:
        return [args for called, args in self.calls if called == path]


class _Reach:
    def __init__(self, spy: Spy, path: str) -> None:
        self._spy = spy
        self._path = path

    def __getattr__(self, name: str) -> _Reach:
        return _Reach(self._spy, f"{self._path}.{name}")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self._spy.calls.append((self._path, args))
        if self._path in self._spy.answers:
            return self._spy.answers[self._path]
        return _Reach(self._spy, f"{self._path}()")


@pytest.fixture
def spy_on(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Spy]:
    def install(module: ModuleType, answers: Mapping[str, Any] | None = None) -> Spy:
        spy = Spy(answers)
        monkeypatch.setattr(module, "services", spy)
        return spy

    return install


# --- what a malformed value is, field by field ----------------------------------------------------

JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
# Numbers past 2^53 (a float would round them) and past 64 bits, where text is expected.
BIG_NUMBERS = st.sampled_from([2**53 + 1, 2**63, 2**64 + 1, -(2**63), 10**30])
NOT_TEXT = st.one_of(
    st.integers(),
    BIG_NUMBERS,
    st.floats(allow_nan=False),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
HUGE_TEXT = st.integers(min_value=65, max_value=300_000).map(lambda n: "7" * n)
CONNECTION_ID_PATTERN = frozenset(string.ascii_letters + string.digits + "-")
BAD_CONNECTION_ID = st.one_of(
    st.just(""),
    HUGE_TEXT,
    st.text(min_size=1, max_size=30).filter(lambda s: not set(s) <= CONNECTION_ID_PATTERN),
    st.just(PLANTED + ";"),
    NOT_TEXT,
    st.none(),
)
BAD_BOX_ID = st.one_of(
    st.just(""),
    st.from_regex(r"[0-9]{21,40}", fullmatch=True),
    st.text(min_size=1, max_size=20).filter(lambda s: not (s.isascii() and s.isdigit())),
    NOT_TEXT,
)
# An int field takes "12", 1.0 and true (pydantic's lax mode); these it must refuse.
NOT_INT = st.one_of(
    st.text(alphabet=string.ascii_letters, min_size=1, max_size=10),
    st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer()),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.none(),
)
NEGATIVE = st.integers(max_value=-1)
NAIVE_TIMES = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)).map(
    datetime.isoformat
)
# Digits alone would be read as epoch seconds, which is a time; letters never are.
NOT_A_TIME = st.one_of(
    NAIVE_TIMES,
    st.text(alphabet=string.ascii_letters + " :-", min_size=1, max_size=30),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
AWARE_TIMES = st.datetimes(
    min_value=datetime(2020, 1, 1),
    max_value=datetime(2030, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=-8)), timezone(timedelta(hours=5, minutes=30))]),
).map(datetime.isoformat)


def not_one_of(*allowed: str) -> st.SearchStrategy[Any]:
    return st.one_of(st.text(max_size=12).filter(lambda s: s not in allowed), NOT_TEXT, st.none())


def _not_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return True
    return False


NOT_AN_OBJECT = st.one_of(
    st.text(max_size=200).filter(_not_json),
    st.sampled_from(["", " ", "{", "[" * 1500 + "]" * 1500, "\ufeff{}", "{'kind': 'plan'}", "NaN"]),
    st.one_of(JSON_SCALARS, st.lists(JSON_SCALARS, max_size=3)).map(json.dumps),
)

FieldPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Contract:
    """A message: how to make good ones, and each way one can be malformed."""

    valid: st.SearchStrategy[dict[str, Any]]
    required: Callable[[dict[str, Any]], list[FieldPath]]  # the fields this message cannot do without
    invalid: Mapping[FieldPath, st.SearchStrategy[Any]]  # values that field must refuse
    fields: frozenset[str]  # every top-level field name the message may have

    def malformations(self) -> dict[str, st.SearchStrategy[str]]:
        """Each way a body can break the contract, by name (a test per name reaches every one)."""
        unknown_name = st.text(min_size=1, max_size=20).filter(lambda n: n not in self.fields)
        return {
            "not an object": NOT_AN_OBJECT,
            "truncated": self.valid.map(json.dumps).flatmap(
                # A strict prefix of an object's JSON is never JSON.
                lambda text: st.integers(0, len(text) - 1).map(lambda end: text[:end])
            ),
            "unknown field": st.tuples(self.valid, unknown_name, st.just(PLANTED) | JSON_VALUES).map(
                lambda m: json.dumps({**m[0], m[1]: m[2]})
            ),
            "missing field": self.valid.flatmap(
                lambda m: st.sampled_from(self.required(m)).map(lambda path: json.dumps(_without(m, path)))
            ),
            **{
                "bad " + ".".join(map(str, path)): self._with_bad(path, values)
                for path, values in self.invalid.items()
            },
        }

    def _with_bad(self, path: FieldPath, values: st.SearchStrategy[Any]) -> st.SearchStrategy[str]:
        return st.tuples(self.valid, values).map(lambda m: json.dumps(_with(m[0], path, m[1])))

    def malformed(self) -> st.SearchStrategy[str]:
        return st.one_of(*self.malformations().values())


def _without(message: dict[str, Any], path: FieldPath) -> dict[str, Any]:
    changed = copy.deepcopy(message)
    parent: Any = changed
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    return changed


def _with(message: dict[str, Any], path: FieldPath, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(message)
    parent: Any = changed
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return changed


CONNECTION_IDS = st.uuids().map(str)
BOX_IDS = st.from_regex(r"[0-9]{1,20}", fullmatch=True)

BACKFILL = Contract(
    valid=st.one_of(
        st.fixed_dictionaries(
            {"kind": st.just("plan"), "connection_id": CONNECTION_IDS, "connected_at": AWARE_TIMES}
        ),
        st.fixed_dictionaries(
            {"kind": st.just("resume"), "connection_id": CONNECTION_IDS},
            optional={"connected_at": st.none() | AWARE_TIMES},
        ),
        st.fixed_dictionaries(
            {"kind": st.just("window"), "connection_id": CONNECTION_IDS, "window_start": AWARE_TIMES}
        ),
    ),
    required=lambda m: [
        ("kind",),
        ("connection_id",),
        *{"plan": [("connected_at",)], "window": [("window_start",)]}.get(m["kind"], []),
    ],
    invalid={
        ("kind",): not_one_of("plan", "resume", "window"),
        ("connection_id",): BAD_CONNECTION_ID,
        ("connected_at",): NOT_A_TIME,
        ("window_start",): NOT_A_TIME,
    },
    fields=frozenset(BackfillMessage.model_fields),
)

PRIORITY = Contract(
    valid=st.fixed_dictionaries(
        {
            "connection_id": CONNECTION_IDS,
            "item_type": st.sampled_from(["file", "folder"]),
            "item_id": BOX_IDS,
            "reason": st.text(max_size=60),
            "origin": st.sampled_from(["event_stream", "backfill", "webhook", "scan"]),
        },
        optional={"owner_id": st.none() | BOX_IDS},
    ),
    required=lambda m: [("connection_id",), ("item_type",), ("item_id",), ("reason",), ("origin",)],
    invalid={
        ("connection_id",): BAD_CONNECTION_ID,
        ("item_type",): not_one_of("file", "folder"),
        ("item_id",): st.one_of(st.just(""), HUGE_TEXT, NOT_TEXT, st.none()),
        ("reason",): st.one_of(NOT_TEXT, st.none()),
        ("origin",): not_one_of("event_stream", "backfill", "webhook", "scan"),
        ("owner_id",): BAD_BOX_ID,
    },
    fields=frozenset(PriorityScanMessage.model_fields),
)

_LISTED_FILE = st.fixed_dictionaries(
    {"id": BOX_IDS, "name": st.text(max_size=40), "parent_id": BOX_IDS, "path": st.text(max_size=60)},
    optional={"size": st.integers(0, 2**40), "sha1": st.none() | st.text("0123456789abcdef", max_size=40)},
)
_FILE_WORK = st.fixed_dictionaries({"file": _LISTED_FILE, "content_changed": st.booleans()})
_COMMON_JOB = {"connection_id": CONNECTION_IDS, "generation": st.integers(1, 10**6)}
BULK = Contract(
    valid=st.fixed_dictionaries(
        {
            "job": st.one_of(
                st.fixed_dictionaries({"kind": st.just("start"), **_COMMON_JOB}),
                st.fixed_dictionaries(
                    {
                        "kind": st.just("folder"),
                        **_COMMON_JOB,
                        "folder_id": BOX_IDS,
                        "as_user": st.none() | BOX_IDS,
                        "walker": BOX_IDS,
                        "path": st.text(max_size=60),
                    },
                    optional={"inherited_link": st.sampled_from([None, "open", "company", "collaborators"])},
                ),
                st.fixed_dictionaries(
                    {
                        "kind": st.just("files"),
                        **_COMMON_JOB,
                        "folder_id": BOX_IDS,
                        "batch": st.integers(0, 10_000),
                        "as_user": st.none() | BOX_IDS,
                        "files": st.lists(_FILE_WORK, max_size=2),
                    }
                ),
            )
        },
        optional={"throttled": st.integers(0, 49), "unavailable": st.integers(0, 5)},
    ),
    required=lambda m: [
        ("job",),
        ("job", "kind"),
        ("job", "connection_id"),
        ("job", "generation"),
        *{
            "folder": [("job", "folder_id"), ("job", "as_user"), ("job", "walker"), ("job", "path")],
            "files": [("job", "folder_id"), ("job", "batch"), ("job", "as_user"), ("job", "files")],
        }.get(m["job"]["kind"], []),
    ],
    invalid={
        ("job",): st.one_of(
            st.none(), NOT_TEXT.filter(lambda v: not isinstance(v, dict)), st.text(max_size=5)
        ),
        ("job", "kind"): not_one_of("start", "folder", "files"),
        ("job", "connection_id"): st.one_of(NOT_TEXT, st.none()),
        ("job", "generation"): NOT_INT,
        # A file whose id is no Box id: in a files job malformed; in any other job an unknown field.
        ("job", "files"): st.tuples(_FILE_WORK, BAD_BOX_ID).map(
            lambda w: [_with(w[0], ("file", "id"), w[1])]
        ),
        ("throttled",): NEGATIVE | NOT_INT,
        ("unavailable",): NEGATIVE | NOT_INT,
    },
    fields=frozenset(BulkMessage.model_fields),
)


# --- SQS consumers --------------------------------------------------------------------------------


def sqs_record(message_id: str, body: str, group: str | None = None) -> dict[str, Any]:
    attributes = {
        "ApproximateReceiveCount": "1",
        "SentTimestamp": "1795748400000",
        "SenderId": "AROAEXAMPLEID:boxcasb",
        "ApproximateFirstReceiveTimestamp": "1795748400100",
    }
    if group is not None:
        attributes |= {
            "MessageGroupId": group,
            "MessageDeduplicationId": message_id,
            "SequenceNumber": "18849496460467696128",
        }
    return {
        "messageId": message_id,
        "receiptHandle": f"AQEB{message_id}",
        "body": body,
        "attributes": attributes,
        "messageAttributes": {},
        "md5OfBody": "0" * 32,
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:boxcasb-Queue-EXAMPLE"
        + (".fifo" if group else ""),
        "awsRegion": "us-east-1",
    }


@dataclass(frozen=True)
class Queue:
    function_dir: str
    contract: Contract
    model: type[BaseModel]
    service: str  # the spy path a good record is handed to
    answer: Any
    fifo: bool = False

    @property
    def record_calls(self) -> list[str]:
        """The calls one good record makes, in order."""
        factory = self.service.rsplit(".", 1)[0]
        return ["services", factory.removesuffix("()"), self.service]


BACKFILL_QUEUE = Queue(
    "activity_backfill", BACKFILL, BackfillMessage, "services().backfill().handle", "planned"
)
BULK_QUEUE = Queue("scan_worker", BULK, BulkMessage, "services().bulk_scan_worker().handle_message", None)
PRIORITY_QUEUE = Queue(
    "priority_scan",
    PRIORITY,
    PriorityScanMessage,
    "services().priority_scanner().handle",
    "scanned",
    fifo=True,
)


@dataclass(frozen=True)
class Batch:
    event: dict[str, Any]
    ids: list[str]
    good: dict[str, dict[str, Any]]  # message id -> the good message sent
    bad: list[str]  # message ids of the malformed records, in order


def draw_batch(
    data: st.DataObject, queue: Queue, goodness: Sequence[bool], groups: Sequence[str] | None = None
) -> Batch:
    records, good, bad, ids = [], {}, [], []
    for index, is_good in enumerate(goodness):
        message_id = f"{index:02d}-{uuid.uuid4()}"
        ids.append(message_id)
        if is_good:
            message = data.draw(queue.contract.valid, label=f"good {index}")
            good[message_id] = message
            body = json.dumps(message)
        else:
            body = data.draw(queue.contract.malformed(), label=f"malformed {index}")
            bad.append(message_id)
        # One group per record unless given, as the priority queue sends them (one per item).
        group = (groups[index] if groups else f"g-{index}") if queue.fifo else None
        records.append(sqs_record(message_id, body, group=group))
    return Batch({"Records": records}, ids, good, bad)


def failures(ids: Sequence[str]) -> dict[str, list[dict[str, str]]]:
    return {"batchItemFailures": [{"itemIdentifier": i} for i in ids]}


def answer_of(module: ModuleType, batch: Batch, returned: Sequence[str]) -> Any:
    """The handler's answer. When every record failed, Powertools raises a typed error instead
    (the whole batch goes back to the queue), or, configured not to, lists every record."""
    if len(returned) < len(batch.ids):
        return invoke(module, batch.event)
    try:
        return invoke(module, batch.event)
    except BatchProcessingError:
        return failures(batch.ids)


def assert_processed(spy: Spy, queue: Queue, messages: Sequence[dict[str, Any]]) -> None:
    """Exactly these good messages reached their service, in order, as sent; nothing else was called."""
    assert [path for path, _ in spy.calls] == queue.record_calls * len(messages)
    assert [args[0] for args in spy.args_of(queue.service)] == [
        queue.model.model_validate(m) for m in messages
    ]


@pytest.mark.parametrize("queue", [BACKFILL_QUEUE, BULK_QUEUE], ids=lambda q: q.function_dir)
@FUZZ
@given(data=st.data())
def test_a_standard_queue_fails_exactly_the_malformed_records(
    queue: Queue, data: st.DataObject, spy_on: Callable[..., Spy], log_tap: LogTap
) -> None:
    module = load_handler(queue.function_dir)
    spy = spy_on(module, {queue.service: queue.answer})
    goodness = data.draw(st.lists(st.booleans(), min_size=1, max_size=10), label="good or malformed")
    batch = draw_batch(data, queue, goodness)
    log_tap.clear()
    assert answer_of(module, batch, batch.bad) == failures(batch.bad)
    assert_processed(spy, queue, list(batch.good.values()))
    assert PLANTED not in log_tap.text()


@FUZZ
@given(data=st.data())
def test_the_fifo_queue_holds_back_only_the_malformed_records_group(
    data: st.DataObject, spy_on: Callable[..., Spy], log_tap: LogTap
) -> None:
    # Order matters within a FIFO message group (one per item): the processor skips the group of
    # a failed record, returning it and that group's later records unprocessed; the other
    # groups go on. Two malformed records:
    # test_two_malformed_records_in_one_fifo_batch_are_reported_not_raised.
    module = load_handler(PRIORITY_QUEUE.function_dir)
    spy = spy_on(module, {PRIORITY_QUEUE.service: PRIORITY_QUEUE.answer})
    size = data.draw(st.integers(1, 10), label="batch size")
    position = data.draw(st.integers(0, size - 1), label="malformed at")
    groups = data.draw(st.lists(st.sampled_from("abc"), min_size=size, max_size=size), label="groups")
    batch = draw_batch(data, PRIORITY_QUEUE, [index != position for index in range(size)], groups)
    log_tap.clear()
    returned = [
        i for index, i in enumerate(batch.ids) if index >= position and groups[index] == groups[position]
    ]
    assert answer_of(module, batch, returned) == failures(returned)
    assert_processed(spy, PRIORITY_QUEUE, [batch.good[i] for i in batch.ids if i not in returned])
    assert PLANTED not in log_tap.text()


EACH_QUEUE_MALFORMATION = [
    pytest.param(queue, strategy, id=f"{queue.function_dir}: {name}")
    for queue in (BACKFILL_QUEUE, BULK_QUEUE, PRIORITY_QUEUE)
    for name, strategy in queue.contract.malformations().items()
]


@pytest.mark.parametrize(("queue", "malformed"), EACH_QUEUE_MALFORMATION)
@FUZZ_EACH
@given(data=st.data())
def test_every_kind_of_malformed_record_fails_alone_and_reaches_nothing(
    queue: Queue,
    malformed: st.SearchStrategy[str],
    data: st.DataObject,
    spy_on: Callable[..., Spy],
    log_tap: LogTap,
) -> None:
    module = load_handler(queue.function_dir)
    spy = spy_on(module, {queue.service: queue.answer})
    before, after = data.draw(queue.contract.valid), data.draw(queue.contract.valid)
    bodies = {"before": json.dumps(before), "malformed": data.draw(malformed), "after": json.dumps(after)}
    event = {"Records": [sqs_record(i, b, group=i if queue.fifo else None) for i, b in bodies.items()]}
    log_tap.clear()
    answer = invoke(module, event)
    # FIFO too: "after" is in another message group, so the failure does not hold it back.
    assert answer == failures(["malformed"])
    assert_processed(spy, queue, [before, after])
    assert PLANTED not in log_tap.text()


GOOD_PRIORITY = {
    "connection_id": "5b0c7d3e-2f4a-4c1b-9e8d-7a6b5c4d3e2f",
    "item_type": "file",
    "item_id": "4000000003",
    "reason": "UPLOAD",
    "origin": "event_stream",
}


def test_two_malformed_records_in_one_fifo_batch_are_reported_not_raised(spy_on: Callable[..., Spy]) -> None:
    module = load_handler(PRIORITY_QUEUE.function_dir)
    spy = spy_on(module, {PRIORITY_QUEUE.service: PRIORITY_QUEUE.answer})
    bodies = [json.dumps(GOOD_PRIORITY), "not json", json.dumps({**GOOD_PRIORITY, "x": PLANTED}), "{}"]
    ids = [f"m{i}" for i in range(len(bodies))]
    event = {"Records": [sqs_record(i, b, group=f"g-{i}") for i, b in zip(ids, bodies, strict=True)]}
    assert invoke(module, event) == failures(ids[1:])
    assert_processed(spy, PRIORITY_QUEUE, [GOOD_PRIORITY])


@pytest.mark.parametrize("queue", [BACKFILL_QUEUE, BULK_QUEUE, PRIORITY_QUEUE], ids=lambda q: q.function_dir)
def test_a_batch_of_only_malformed_records_puts_no_record_content_in_the_logs(
    queue: Queue, spy_on: Callable[..., Spy]
) -> None:
    module = load_handler(queue.function_dir)
    spy = spy_on(module, {queue.service: queue.answer})
    event = {"Records": [sqs_record("m0", json.dumps({"x": PLANTED}), group="g" if queue.fifo else None)]}
    try:
        answer = invoke(module, event)
    except BatchProcessingError as exc:
        logged = str(exc)  # what the Lambda runtime writes for an unhandled error
    else:
        assert answer == failures(["m0"])
        logged = json.dumps(answer)
    assert spy.calls == []
    assert PLANTED not in logged


# --- asynchronous invokes -------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    function_dir: str
    contract: Contract
    model: type[BaseModel]
    service: str
    service_args: Callable[[Any], tuple[Any, ...]]  # what a good request is handed to its service
    answer: Any  # what the service gives back
    done: dict[str, Any]  # and so what the handler answers
    objects_only: bool = False  # see test_webhook_sync_refuses_an_event_that_is_not_an_object


JOBS = [
    Job(
        "api_test",
        Contract(
            valid=st.fixed_dictionaries(
                {"connection_id": CONNECTION_IDS},
                optional={"reason": st.sampled_from(["connect", "on_demand"])},
            ),
            required=lambda m: [("connection_id",)],
            invalid={("connection_id",): BAD_CONNECTION_ID, ("reason",): not_one_of("connect", "on_demand")},
            fields=frozenset(ApiTestRequest.model_fields),
        ),
        ApiTestRequest,
        "services().api_tests().run",
        lambda r: (r.connection_id,),
        SimpleNamespace(outcome=SimpleNamespace(value="passed"), box_calls=7),
        {"status": "done", "outcome": "passed", "box_calls": 7},
    ),
    Job(
        "governance",
        Contract(
            valid=st.fixed_dictionaries(
                {
                    "connection_id": CONNECTION_IDS,
                    "file_id": BOX_IDS,
                    "requested_by": st.text(min_size=1, max_size=200),
                }
            ),
            required=lambda m: [("connection_id",), ("file_id",), ("requested_by",)],
            invalid={
                ("connection_id",): BAD_CONNECTION_ID,
                ("file_id",): BAD_BOX_ID | st.none(),
                ("requested_by",): st.one_of(
                    st.just(""), st.integers(2049, 300_000).map(lambda n: "a" * n), NOT_TEXT, st.none()
                ),
            },
            fields=frozenset(RestoreRequest.model_fields),
        ),
        RestoreRequest,
        "services().restorer().restore",
        lambda r: (r.connection_id, r.file_id, r.requested_by),
        SimpleNamespace(result="applied", reason="restored by request"),
        {"status": "done", "result": "applied", "reason": "restored by request"},
    ),
    Job(
        "webhook_sync",
        Contract(
            valid=st.fixed_dictionaries({"connection_id": CONNECTION_IDS}),
            required=lambda m: [("connection_id",)],
            invalid={("connection_id",): BAD_CONNECTION_ID},
            # "source" is not an unknown field here: {"source": "aws.scheduler"} is the daily run.
            fields=frozenset({*WebhookSyncRequest.model_fields, "source"}),
        ),
        WebhookSyncRequest,
        "services().webhook_sync().run",
        lambda r: (r.connection_id,),
        SimpleNamespace(outcome=SimpleNamespace(value="finished")),
        {"status": "done", "outcome": "finished"},
        objects_only=True,
    ),
]


@pytest.mark.parametrize("job", JOBS, ids=lambda j: j.function_dir)
@FUZZ
@given(data=st.data())
def test_an_async_job_hands_a_good_event_to_its_service_once(
    job: Job, data: st.DataObject, spy_on: Callable[..., Spy]
) -> None:
    module = load_handler(job.function_dir)
    spy = spy_on(module, {job.service: job.answer})
    event = data.draw(job.contract.valid)
    assert invoke(module, copy.deepcopy(event)) == job.done
    assert spy.args_of(job.service) == [job.service_args(job.model.model_validate(event))]


EACH_JOB_MALFORMATION = [
    pytest.param(job, strategy, id=f"{job.function_dir}: {name}")
    for job in JOBS
    for name, strategy in job.contract.malformations().items()
]


@pytest.mark.parametrize(("job", "malformed"), EACH_JOB_MALFORMATION)
@FUZZ_EACH
@given(data=st.data())
def test_an_async_job_refuses_every_kind_of_malformed_event_before_any_service(
    job: Job,
    malformed: st.SearchStrategy[str],
    data: st.DataObject,
    spy_on: Callable[..., Spy],
    log_tap: LogTap,
) -> None:
    module = load_handler(job.function_dir)
    spy = spy_on(module, {job.service: job.answer})
    text = data.draw(malformed)
    # Lambda hands the handler parsed JSON: a payload that isn't JSON arrives inside an object.
    event: Any = {"payload": text, "token": PLANTED} if _not_json(text) else json.loads(text)
    if job.objects_only and not isinstance(event, dict):
        event = {"payload": event}
    log_tap.clear()
    assert invoke(module, event) == {"status": "rejected", "reason": "invalid event"}
    assert spy.calls == []
    assert "rejected" in log_tap.text()  # it says so, without the event
    assert PLANTED not in log_tap.text()


@pytest.mark.parametrize("event", [[], "sync", 1, None])
def test_webhook_sync_refuses_an_event_that_is_not_an_object(event: Any, spy_on: Callable[..., Spy]) -> None:
    module = load_handler("webhook_sync")
    spy = spy_on(module)
    assert invoke(module, event) == {"status": "rejected", "reason": "invalid event"}
    assert spy.calls == []


# --- schedules ------------------------------------------------------------------------------------

SCHEDULED = {
    "activity_poller": ("activity_poller.json", {"services().stream_poller().poll_all": PollReport()}),
    "alert_notifier": ("alert_notifier.json", {"services().store.list_connections": []}),
    "scan_scheduler": ("scan_scheduler.json", {"services().scans().start_scheduled": {}}),
    "token_keeper": ("token_keeper.json", {"services().token_keeper().run": KeeperReport()}),
}


@pytest.mark.parametrize("function_dir", sorted(SCHEDULED))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    event=JSON_VALUES
    | st.dictionaries(st.sampled_from(["source", "detail", "id", "time"]), JSON_VALUES | st.just(PLANTED))
)
def test_a_scheduled_function_does_the_same_whatever_the_event_says(
    function_dir: str, event: Any, spy_on: Callable[..., Spy], log_tap: LogTap
) -> None:
    # The schedule's event carries nothing these functions need: a forged one can change nothing.
    module = load_handler(function_dir)
    sample, answers = SCHEDULED[function_dir]
    spy = spy_on(module, answers)
    expected = invoke(module, json.loads((ROOT / "events" / sample).read_text()))
    expected_calls = [path for path, _ in spy.calls]
    spy.calls.clear()
    log_tap.clear()
    assert invoke(module, event) == expected
    assert [path for path, _ in spy.calls] == expected_calls
    assert expected_calls  # the function did its work through the spy
    assert PLANTED not in log_tap.text()
