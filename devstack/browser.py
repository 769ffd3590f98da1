"""An admin's browser, scripted: follows the link `boxcasb connect` prints and answers Box's consent."""

from __future__ import annotations

import io
import re
import threading
from dataclasses import dataclass
from typing import TextIO
from urllib.parse import parse_qs, urlencode, urlparse

import requests

_LINK = re.compile(r"^\s+(https?://\S+/authorize\?\S+)$")


class LinkWatcher(io.TextIOBase):
    """A stdout stand-in: passes the CLI's output through and catches the authorize link."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._buffer = ""
        self.link: str | None = None
        self.seen = threading.Event()

    def write(self, text: str) -> int:
        self._out.write(text)
        self._buffer += text
        while "\n" in self._buffer:
            line, self._buffer = self._buffer.split("\n", 1)
            match = _LINK.match(line)
            if match:
                self.link = match.group(1)
                self.seen.set()
        return len(text)

    def flush(self) -> None:
        self._out.flush()


@dataclass
class CallbackPage:
    """Where Box sent the browser (our callback URL with code and state) and what it showed."""

    callback_url: str
    status: int
    html: str
    title: str
    message: str

    @property
    def query(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlparse(self.callback_url).query).items()}


def consent(link: str, login: str, decision: str = "allow") -> CallbackPage:
    """Sign in to the fake Box as `login`, click Allow or Deny, and load our callback's page."""
    box = requests.get(
        link + "&" + urlencode({"login": login, "decision": decision}), allow_redirects=False, timeout=10
    )
    if box.status_code != 302:
        raise RuntimeError(f"Box did not redirect back (HTTP {box.status_code})")
    callback_url = box.headers["Location"]
    page = requests.get(callback_url, timeout=30)
    title = re.search(r"<h1[^>]*>(.*?)</h1>", page.text, re.S)
    message = re.search(r"<p>(.*?)</p>", page.text, re.S)
    return CallbackPage(
        callback_url=callback_url,
        status=page.status_code,
        html=page.text,
        title=title.group(1).strip() if title else "",
        message=message.group(1).strip() if message else "",
    )


def consent_when_linked(watcher: LinkWatcher, login: str, decision: str = "allow") -> threading.Thread:
    """Start a thread that waits for the CLI's link, consents, and reports the page on the same output."""

    def run() -> None:
        if not watcher.seen.wait(timeout=30) or watcher.link is None:
            watcher.write("[browser] no link appeared within 30 s\n")
            return
        page = consent(watcher.link, login, decision)
        watcher.write(
            f"\n[browser] signed in to Box as {login}, clicked {decision.title()}; "
            f"the callback answered {page.status}:\n[browser]   {page.title}: {page.message}\n"
        )

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread
