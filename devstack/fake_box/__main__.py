"""Run the fake Box server until interrupted: ``python -m devstack.fake_box --port 8765``.

Prints the server's URL on the first line of stdout, so scripts can read it
(``--port 0`` picks a free port).
"""

from __future__ import annotations

import argparse
import signal
import threading

from .fake import FakeBox


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devstack.fake_box", description=__doc__)
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--client-id", default="fake-client-id")
    parser.add_argument("--client-secret", default="fake-client-secret")
    parser.add_argument("--access-token-ttl", type=float, default=3600.0, help="access token lifetime (s)")
    args = parser.parse_args(argv)

    box = FakeBox(
        args.client_id, args.client_secret, port=args.port, access_token_ttl=args.access_token_ttl
    ).start()
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stopping.set())
    print(box.url, flush=True)
    try:
        stopping.wait()
    except KeyboardInterrupt:
        pass
    finally:
        box.stop()


if __name__ == "__main__":
    main()
