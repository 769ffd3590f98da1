"""The command line: its options and the banner it prints."""

from __future__ import annotations

from devstack.run import describe, parse_args
from devstack.stack import LocalStack


def test_defaults_use_the_fake_box_and_port_3000() -> None:
    args = parse_args([])

    assert (args.port, args.box_url, args.client_id) == (3000, None, "fake-client-id")
    assert args.template.endswith("template.yaml")


def test_explicit_box() -> None:
    args = parse_args(["--port", "0", "--box-url", "http://box", "--client-id", "i", "--client-secret", "s"])

    assert (args.port, args.box_url, args.client_id, args.client_secret) == (0, "http://box", "i", "s")


def test_banner_names_api_and_callback_urls(tiny_stack: LocalStack) -> None:
    banner = describe(tiny_stack, "http://box", fake=False)

    assert f"API URL:       {tiny_stack.api_url}" in banner
    assert f"Callback URL:  {tiny_stack.callback_url}" in banner
    assert "GET /public" in banner
    assert "(public)" in banner
    assert tiny_stack.env["TABLE_NAME"] in banner
