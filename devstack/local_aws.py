"""The fixed local AWS identity and the moto server that plays AWS.

Every local piece signs and verifies with the same made-up credentials, so nothing
here can ever reach (or be mistaken for) a real account.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
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
