"""The fixed local AWS identity and the moto server that plays AWS.

Every local piece signs and verifies with the same made-up credentials, so nothing
here can ever reach (or be mistaken for) a real account.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models import table as dynamodb_table
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.sqs import models as sqs_models
from werkzeug.serving import BaseWSGIServer, make_server

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account: ARNs moto makes and ARNs we make agree
PARTITION = "aws"
URL_SUFFIX = "amazonaws.com"


@dataclass(frozen=True)
class LocalIdentity:
    """The IAM user the local stack pretends every signed caller is."""

    access_key: str
    secret_key: str
    user_id: str
    user_arn: str
    account_id: str = ACCOUNT_ID


LOCAL_IDENTITY = LocalIdentity(
    access_key="AKIADEVSTACKLOCAL001",
    secret_key="devstack-local-secret-access-key-not-a-secret",  # noqa: S106 - fixed, public, local only
    user_id="AIDADEVSTACKLOCAL001",
    user_arn=f"arn:{PARTITION}:iam::{ACCOUNT_ID}:user/devstack",
)


class AtomicDynamoDB:
    """Runs one DynamoDB request at a time, as DynamoDB's own item-level atomicity would.

    moto checks a ConditionExpression and then writes, with no lock between the two, and
    its threaded server runs requests side by side: two conditional writes can both win.
    Everything that relies on conditional writes (the refresh lease, checkpoints, dedupe)
    would then be tested against a weaker store than the real one. Other services run
    unserialised: an SQS long poll must not hold up the table.
    """

    def __init__(self, app: WSGIApplication) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if not str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith("DynamoDB_"):
            return self._app(environ, start_response)
        with self._lock:
            return list(self._app(environ, start_response))  # the body is built inside the lock


_fifo_lock = threading.Lock()


def remember_fifo_deduplication() -> None:
    """Make moto's FIFO queues drop a repeated deduplication id for 5 minutes, as SQS does.

    SQS remembers the id even after the first message was received and deleted; moto only
    compares with messages still on the queue. With a fast consumer the difference decides
    whether one change arriving twice is scanned once, so the local stack keeps SQS's rule.
    """
    queue_type: Any = sqs_models.Queue
    if getattr(queue_type.add_message, "remembers_deduplication", False):
        return
    original = queue_type.add_message

    def add_message(self: Any, message: Any) -> None:
        if self.fifo_queue and message.deduplication_id:
            sent = message.sent_timestamp / 1000
            with _fifo_lock:
                seen: dict[str, float] = self.__dict__.setdefault("devstack_deduplication", {})
                last = seen.get(message.deduplication_id)
                if last is not None and sent - last < sqs_models.DEDUPLICATION_TIME_IN_SECONDS:
                    return
                seen[message.deduplication_id] = sent
        original(self, message)

    add_message.remembers_deduplication = True  # type: ignore[attr-defined]
    queue_type.add_message = add_message


def snapshot_only_touched_items() -> None:
    """Make moto's TransactWriteItems save the items it touches, not whole tables.

    moto deep-copies every table an action names, once per action, to roll back a cancelled
    transaction: with a state table of thousands of items that copy is most of a scan's local
    cost. Here the tables are left uncopied (their deepcopy returns the table itself, only
    inside a transaction, which AtomicDynamoDB runs one at a time) and the touched items are
    saved and put back on a rollback: the same outcome, at the cost of the items.
    """
    backend: Any = dynamodb_models.DynamoDBBackend
    if getattr(backend.transact_write_items, "snapshots_items", False):
        return
    original = backend.transact_write_items
    table_type: Any = dynamodb_table.Table

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved = []
        for action in transact_items:
            op = next(iter(action.values()))
            table = self.tables.get(op.get("TableName"))
            if table is None:
                continue
            key = op.get("Item") or op.get("Key") or {}
            if table.hash_key_attr not in key:
                continue
            hash_value = DynamoType(key[table.hash_key_attr])
            range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr in key else None
            saved.append(
                (table, hash_value, range_value, copy.deepcopy(table.get_item(hash_value, range_value)))
            )
        table_type.__deepcopy__ = lambda table, memo: table
        try:
            original(self, transact_items)
        except Exception:
            for table, hash_value, range_value, item in reversed(saved):
                if item is None:
                    if table.get_item(hash_value, range_value) is not None:
                        table.delete_item(hash_value, range_value)
                elif range_value is None:
                    table.items[hash_value] = item
                else:
                    table.items[hash_value][range_value] = item
            raise
        finally:
            del table_type.__deepcopy__

    transact_write_items.snapshots_items = True  # type: ignore[attr-defined]
    backend.transact_write_items = transact_write_items


_query_partition = threading.local()


def query_one_partition() -> None:
    """Make moto answer a base-table Query from the one partition it names.

    moto builds and sorts the list of every item of the table for each Query, then keeps the
    partition's: a folder's records in a 100,000-file inventory cost a sort of 100,000 items,
    which made a large local scan spend most of its time there. Real DynamoDB reads the
    partition alone. Here the Query tells `all_items` (through a thread-local, so concurrent
    requests can't see each other's) which partition it wants; indexes keep moto's own path.
    """
    table_type: Any = dynamodb_table.Table
    if getattr(table_type.query, "one_partition", False):
        return
    original_query, original_all_items = table_type.query, table_type.all_items

    def all_items(self: Any) -> list[Any]:
        wanted = getattr(_query_partition, "key", None)
        if wanted is None or wanted[0] is not self:
            return original_all_items(self)  # type: ignore[no-any-return]
        partition = self.items.get(wanted[1])
        if partition is None:
            return []
        return (
            sorted(partition.values(), key=lambda item: item.range_key)
            if self.range_key_attr
            else [partition]
        )

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        if index_name is not None or hash_key is None:
            return original_query(self, hash_key, *args, **kwargs)
        _query_partition.key = (self, hash_key)
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            _query_partition.key = None

    query.one_partition = True  # type: ignore[attr-defined]
    table_type.query = query
    table_type.all_items = all_items


class MotoServer:
    """moto in server mode on an ephemeral 127.0.0.1 port, one thread per request.

    moto's backends are process-wide: every stack (and every `mock_aws`) in one process
    sees the same "account". So nothing here resets moto; stacks keep apart the way
    CloudFormation stacks do, by unique physical names.
    """

    def __init__(self, *, quiet: bool = True) -> None:
        self._quiet = quiet
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def start(self) -> str:
        if self._quiet:
            # moto's werkzeug logs one line per AWS call: noise in tests and in the CLI.
            logging.getLogger("werkzeug").setLevel(logging.WARNING)
        remember_fifo_deduplication()
        snapshot_only_touched_items()
        query_one_partition()
        app = AtomicDynamoDB(DomainDispatcherApplication(create_backend_app))
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto", daemon=True)
        self._thread.start()
        host, port = self._server.server_address[:2]
        self.url = f"http://{host!s}:{port}"
        return self.url

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._server = None
            self.url = ""
