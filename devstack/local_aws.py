"""The fixed local AWS identity and the moto server that plays AWS.

Every local piece signs and verifies with the same made-up credentials, so nothing
here can ever reach (or be mistaken for) a real account.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from moto.server import ThreadedMotoServer

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


class MotoServer:
    """moto in server mode on an ephemeral 127.0.0.1 port.

    ThreadedMotoServer serves moto's process-wide backends: every stack (and every
    `mock_aws`) in one process sees the same "account". So nothing here resets moto;
    stacks keep apart the way CloudFormation stacks do, by unique physical names.
    """

    def __init__(self, *, quiet: bool = True) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._quiet = quiet
        self.url = ""

    def start(self) -> str:
        if self._quiet:
            # moto's werkzeug logs one line per AWS call: noise in tests and in the CLI.
            logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        return self.url

    def stop(self) -> None:
        if self.url:
            self._server.stop()
            self.url = ""
