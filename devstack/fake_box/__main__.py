"""Run the fake Box server until interrupted: ``python -m devstack.fake_box --port 8765``.

Prints the server's URL on the first line of stdout, so scripts can read it
(``--port 0`` picks a free port).
"""

from __future__ import annotations

import argparse
import signal
import threading
from datetime import timedelta

from .deliveries import DEFAULT_WEBHOOK_KEYS
from .fake import FakeBox
from .synthetic import synthetic_tenant
from .tenant import Tenant


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devstack.fake_box", description=__doc__)
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--client-id", default="fake-client-id")
    parser.add_argument("--client-secret", default="fake-client-secret")
    parser.add_argument("--access-token-ttl", type=float, default=3600.0, help="access token lifetime (s)")
    events = parser.add_argument_group("enterprise events (see the README)")
    events.add_argument("--no-history", action="store_true", help="seed 21 events, not 90 days of them")
    events.add_argument("--synthetic-events", type=int, default=0, metavar="N", help="add N over 90 days")
    events.add_argument("--admin-logs-latency", type=float, default=0.0, metavar="SECONDS")
    events.add_argument("--admin-logs-short-pages", action="store_true")
    events.add_argument("--streaming-duplicates", type=int, default=0, metavar="N", help="every Nth page")
    events.add_argument("--streaming-empty-pages", type=int, default=0, metavar="N", help="every Nth end")
    hooks = parser.add_argument_group("webhook deliveries (see the README)")
    primary, secondary = DEFAULT_WEBHOOK_KEYS
    hooks.add_argument("--webhook-primary-key", default=primary, metavar="KEY", help="'': none")
    hooks.add_argument("--webhook-secondary-key", default=secondary, metavar="KEY", help="'': none")
    hooks.add_argument("--webhook-retries", type=int, default=3, metavar="N", help="after a failed attempt")
    hooks.add_argument("--webhook-retry-delay", type=float, default=0.05, metavar="SECONDS", help="doubling")
    hooks.add_argument("--webhook-timeout", type=float, default=10.0, metavar="SECONDS", help="per attempt")
    hooks.add_argument("--webhook-limit-per-user", type=int, default=1000, metavar="N")
    content = parser.add_argument_group("a synthetic tenant instead of the seeded one (synthetic.py)")
    content.add_argument("--synthetic-files", type=int, default=0, metavar="N", help="files in all")
    content.add_argument("--synthetic-users", type=int, default=200, metavar="N", help="managed users")
    content.add_argument("--synthetic-seed", type=int, default=1, metavar="N")
    args = parser.parse_args(argv)

    tenant_factory = None
    if args.synthetic_files:

        def tenant_factory() -> Tenant:
            return synthetic_tenant(
                files=args.synthetic_files, users=args.synthetic_users, seed=args.synthetic_seed
            )

    box = FakeBox(
        args.client_id,
        args.client_secret,
        port=args.port,
        access_token_ttl=args.access_token_ttl,
        history=not args.no_history,
        admin_logs_latency=args.admin_logs_latency,
        admin_logs_short_pages=args.admin_logs_short_pages,
        streaming_duplicates=args.streaming_duplicates,
        streaming_empty_pages=args.streaming_empty_pages,
        webhook_keys=(args.webhook_primary_key or None, args.webhook_secondary_key or None),
        webhook_retries=args.webhook_retries,
        webhook_retry_delay=args.webhook_retry_delay,
        webhook_timeout=args.webhook_timeout,
        webhook_limit_per_user=args.webhook_limit_per_user,
        tenant_factory=tenant_factory,
    )
    if args.synthetic_events:
        now = box.tenant.now()
        box.tenant.add_synthetic_events(args.synthetic_events, now - timedelta(days=90), now)
    box.start()
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
