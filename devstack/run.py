"""`python -m devstack.run`: the whole stack on this machine until Ctrl-C.

Without --box-url the fake Box (devstack.fake_box) is started in-process and the
stack points at it; with --box-url it points wherever you say.
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from devstack.local_aws import LOCAL_IDENTITY, REGION
from devstack.stack import LocalStack

DEFAULT_TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"
FAKE_CLIENT_ID = "fake-client-id"
FAKE_CLIENT_SECRET = "fake-client-secret"  # noqa: S105 - the fake Box app's, public


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devstack.run", description=__doc__)
    parser.add_argument(
        "--template", default=str(DEFAULT_TEMPLATE), help="SAM template (default: the repo's)"
    )
    parser.add_argument("--port", type=int, default=3000, help="HTTP API port (0: any free port)")
    parser.add_argument("--lambda-port", type=int, default=0, help="Lambda Invoke API port (default: any)")
    # Each Box option also reads an environment variable, so a real client secret need not
    # appear in a command line (shell history, process list).
    env = os.environ.get
    parser.add_argument(
        "--box-url",
        default=env("BOXCASB_BOX_URL"),
        help="Box API base URL, e.g. https://api.box.com [BOXCASB_BOX_URL] (default: in-process fake)",
    )
    parser.add_argument(
        "--box-upload-url",
        default=env("BOXCASB_BOX_UPLOAD_URL"),
        help="Box upload base URL [BOXCASB_BOX_UPLOAD_URL] (default: <box-url>/api)",
    )
    parser.add_argument(
        "--box-authorize-url",
        default=env("BOXCASB_BOX_AUTHORIZE_URL"),
        help="Box authorize URL, for real Box https://account.box.com/api/oauth2/authorize "
        "[BOXCASB_BOX_AUTHORIZE_URL] (default: <box-url>/api/oauth2/authorize)",
    )
    parser.add_argument(
        "--client-id",
        default=env("BOXCASB_CLIENT_ID", FAKE_CLIENT_ID),
        help="Box app client id written to the secret [BOXCASB_CLIENT_ID]",
    )
    parser.add_argument(
        "--client-secret",
        default=env("BOXCASB_CLIENT_SECRET", FAKE_CLIENT_SECRET),
        help="Box app client secret, likewise [BOXCASB_CLIENT_SECRET]",
    )
    parser.add_argument("--no-schedules", action="store_true", help="do not fire rate() schedules on a timer")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request (moto's too)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    fake_box: Any = None
    box_url = args.box_url
    upload_url, authorize_url = args.box_upload_url, args.box_authorize_url
    if box_url is None:
        from devstack.fake_box import FakeBox  # only needed (and only imported) without --box-url

        fake_box = FakeBox(args.client_id, args.client_secret, port=0)
        fake_box.start()
        box_url = fake_box.url
    stack = LocalStack(
        args.template,
        box_base_url=box_url,
        box_upload_url=upload_url,
        box_authorize_url=authorize_url,
        box_client_id=args.client_id,
        box_client_secret=args.client_secret,
        api_port=args.port,
        lambda_port=args.lambda_port,
        fire_schedules=not args.no_schedules,
        quiet_moto=not args.verbose,
    )
    try:
        stack.start()
        print(describe(stack, box_url, fake=fake_box is not None), flush=True)
        threading.Event().wait()  # serve until Ctrl-C
    except KeyboardInterrupt:
        print("\nstopping", flush=True)
    finally:
        stack.stop()
        if fake_box is not None:
            fake_box.stop()
    return 0


def describe(stack: LocalStack, box_url: str, *, fake: bool) -> str:
    names = "\n".join(
        f"  {logical_id:<24} {physical.ref}" for logical_id, physical in sorted(stack.resources.items())
    )
    routes = "\n".join(
        f"  {route.route_key:<40} -> {route.function_id}" + ("" if route.auth == "AWS_IAM" else "   (public)")
        for route in stack.template.routes
    )
    return f"""devstack is up.
API URL:       {stack.api_url}   (IAM-signed: boxcasb --api-url {stack.api_url})
Callback URL:  {stack.callback_url}   (register it as the Box app's redirect URI)
Box:           {box_url}{"   (fake Box, in-process)" if fake else ""}
moto (AWS):    {stack.moto_url}
Lambda API:    {stack.lambda_url}
Routes:
{routes}
Resources:
{names}
To use the local AWS from another shell:
  export AWS_ENDPOINT_URL={stack.moto_url} AWS_ENDPOINT_URL_LAMBDA={stack.lambda_url}
  export AWS_DEFAULT_REGION={REGION}
  export AWS_ACCESS_KEY_ID={LOCAL_IDENTITY.access_key} AWS_SECRET_ACCESS_KEY={LOCAL_IDENTITY.secret_key}
Ctrl-C stops everything."""


if __name__ == "__main__":
    raise SystemExit(main())
